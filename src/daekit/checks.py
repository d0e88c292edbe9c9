"""Plain values checked once, the same way for every entry point (CLI, API, estimators, server).

Each check takes the value and the name the user knows it by (``--batch-size``, ``batch_size``) and
returns the value or raises DaekitError in one line naming both. The CLI uses them as argparse types
through ``arg``, so a bad option is refused before anything runs; library functions call them on
their own arguments, so Python callers get the same line.
"""
from __future__ import annotations

import argparse
import math
import re
from typing import Any, Callable

import numpy as np

from .errors import DaekitError

SEED_LIMIT = 2**63  # torch and numpy generators take non-negative 63-bit seeds


def _number(value: Any, name: str, kind: type) -> Any:
    if isinstance(value, bool):
        raise DaekitError(f"{name} must be a number, got {value!r}")
    if kind is int:
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
            return int(value)
        try:
            if isinstance(value, str):
                return int(value.strip())
            if not isinstance(value, int) and not hasattr(value, "__index__"):
                raise TypeError
            return int(value)
        except (TypeError, ValueError):
            raise DaekitError(f"{name} must be a whole number, got {value!r}") from None
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise DaekitError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(out):
        raise DaekitError(f"{name} must be a finite number, got {value!r}")
    return out


def whole(value: Any, name: str, low: int | None = None, high: int | None = None) -> int:
    """A whole number with low <= value <= high (either bound optional)."""
    v = _number(value, name, int)
    if low is not None and v < low or high is not None and v > high:
        raise DaekitError(f"{name} must be {_bounds(low, high)}, got {v}")
    return v


def real(value: Any, name: str, low: float | None = None, high: float | None = None, low_open: bool = False) -> float:
    """A finite number with low <= value <= high (low < value with `low_open`)."""
    v = _number(value, name, float)
    if low is not None and (v < low or low_open and v == low) or high is not None and v > high:
        raise DaekitError(f"{name} must be {_bounds(low, high, low_open)}, got {value}")
    return v


def switch(value: Any, name: str) -> bool | str:
    """True, False or "auto" (numpy's bools too); anything else, a string "false" above all, is refused."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str) and value == "auto":
        return "auto"
    raise DaekitError(f"{name} must be True, False or 'auto', got {value!r}")


def positive(value: Any, name: str) -> int:
    return whole(value, name, 1)


def count(value: Any, name: str) -> int:
    """A whole number >= 0."""
    return whole(value, name, 0)


def rate(value: Any, name: str) -> float:
    """A finite number > 0 (learning rates, sizes in MB)."""
    return real(value, name, 0.0, low_open=True)


def seed(value: Any, name: str = "seed") -> int:
    return whole(value, name, 0, SEED_LIMIT - 1)


def port(value: Any, name: str = "--port") -> int:
    return whole(value, name, 1, 65535)


def fraction(value: Any, name: str, high_open: bool = True) -> float:
    """0 <= value < 1 (or <= 1 without `high_open`)."""
    v = real(value, name, 0.0, 1.0)
    if high_open and v == 1.0:
        raise DaekitError(f"{name} must be at least 0 and below 1, got {value}")
    return v


_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}


def pixels(value: Any, name: str = "--max-pixels") -> int:
    """A pixel count: 268435456, 2.5e8, 50M, 1G or 16384x16384."""
    if isinstance(value, str):
        text = value.strip().lower()
        if m := re.fullmatch(r"(\d+)\s*x\s*(\d+)", text):
            return whole(int(m[1]) * int(m[2]), name, 1)
        if m := re.fullmatch(r"([0-9.]+(?:e[0-9]+)?)\s*([kmg]?)", text):
            try:
                v = float(m[1]) * _UNITS[m[2]]
            except ValueError:
                v = math.nan
            if math.isfinite(v) and v.is_integer():
                return whole(int(v), name, 1)
        raise DaekitError(f"{name} must be a number of pixels (e.g. 268435456, 50M or 16384x16384), got {value!r}")
    return whole(value, name, 1)


def sizes(value: Any, name: str = "--layers") -> list[int]:
    """Comma-separated whole numbers >= 1, e.g. layer sizes ``1000,1000,1000``."""
    parts = [p.strip() for p in str(value).split(",")] if isinstance(value, str) else list(value)
    try:
        if not parts or any(p == "" for p in parts):
            raise DaekitError("empty")
        return [whole(p, name, 1) for p in parts]
    except DaekitError:
        raise DaekitError(f"{name} expects sizes like 1000,1000,1000, got {value!r}") from None


def _bounds(low: float | None, high: float | None, low_open: bool = False) -> str:
    lo, hi = (f"{b}" if isinstance(b, int) or b is None else f"{b:g}" for b in (low, high))
    if low is not None and high is not None:
        return f"{'above' if low_open else 'at least'} {lo} and at most {hi}"
    if low is not None:
        return f"> {lo}" if low_open else f">= {lo}"
    return f"<= {hi}"


def arg(check: Callable[..., Any], *bounds: Any) -> Callable[[str], Any]:
    """An argparse type from a check: the option's text is checked, and refused as argparse refuses."""

    def convert(text: str) -> Any:
        try:
            return check(text, "value", *bounds)
        except DaekitError as e:
            raise argparse.ArgumentTypeError(str(e).removeprefix("value ")) from None

    convert.__name__ = check.__name__  # argparse names the type in its message
    return convert
