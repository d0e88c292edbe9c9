"""Saving and loading checkpoints: weights + config + training state in one safetensors file.

The only module that reads weight files. Nothing is ever unpickled: tensors go through safetensors,
everything else (config, model spec, optimizer/scheduler structure, epoch) is JSON in the file's
metadata. A JSON copy of the config sits next to each checkpoint for people and other tools.
Every write goes to a temporary file in the same folder and is renamed into place, so a kill at
any moment leaves the previous checkpoint intact.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from torch import nn

from .errors import DaekitError
from . import io
from .io import json_text, load_tensors, save_tensors

FORMAT = "daekit-checkpoint"
FORMAT_VERSION = 1


def daekit_version() -> str:
    """The installed daekit's version (from the package metadata: no import of the package itself)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("daekit")
    except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
        return "unknown"


# -- training state <-> (JSON skeleton, tensors) ----------------------------------------------------

def _flatten(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        key = f"state.{len(tensors)}"
        tensors[key] = obj.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        return {"__dict__": [[k, _flatten(v, tensors)] for k, v in obj.items()]}  # keeps int keys int
    if isinstance(obj, tuple):
        return {"__tuple__": [_flatten(v, tensors) for v in obj]}
    if isinstance(obj, list):
        return [_flatten(v, tensors) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a checkpoint")


def _unflatten(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__dict__" in obj:
            return {k: _unflatten(v, tensors) for k, v in obj["__dict__"]}
        if "__tuple__" in obj:
            return tuple(_unflatten(v, tensors) for v in obj["__tuple__"])
    if isinstance(obj, list):
        return [_unflatten(v, tensors) for v in obj]
    return obj


@dataclass
class Checkpoint:
    """What a checkpoint file holds."""

    model_spec: dict[str, Any]
    config: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    train_state: dict[str, Any] | None = None
    info: dict[str, Any] = field(default_factory=dict)  # epoch, metrics, ...


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    config: dict[str, Any],
    *,
    train_state: dict[str, Any] | None = None,
    info: dict[str, Any] | None = None,
) -> Path:
    """Writes `path` (``.safetensors``) and its JSON sidecar (``.json``), each atomically.

    Args:
        path: Destination file.
        model: A model built by ``create_model`` (its ``spec`` is stored); DDP wrappers are unwrapped.
        config: The resolved run config as a dict.
        train_state: Optimizer/scheduler/RNG state etc. for exact resumption (tensors allowed).
        info: Small JSON-able facts (epoch, metrics).
    """
    path = Path(path)
    model = getattr(model, "module", model)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    skeleton = _flatten(train_state, tensors) if train_state is not None else None
    meta = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "daekit_version": daekit_version(),
        "model_spec": json.dumps(model.spec),
        "config": json.dumps(config),
        "info": json_text(info or {}),
        "train_state": json.dumps(skeleton),
    }
    sidecar = {"model": model.spec, "config": config, "info": info or {}, "weights": path.name}
    # weights first: a kill between the two leaves a sidecar one save behind, never one ahead of the weights
    save_tensors(path, tensors, meta)
    io.atomic_write_text(path.with_suffix(".json"), json_text(sidecar, indent=2) + "\n")
    return path


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Reads a checkpoint written by ``save_checkpoint``.

    Raises:
        DaekitError: missing file, not a safetensors file, or not a daekit checkpoint.
    """
    path = Path(path)
    if path.is_dir():
        raise DaekitError(f"expected a checkpoint file, got a folder: {path}")
    if not path.exists():
        raise DaekitError(f"checkpoint not found: {path}")
    try:
        tensors, meta = load_tensors(path)
    except (SafetensorError, ValueError, OSError):
        raise DaekitError(f"not a daekit checkpoint (unreadable as safetensors): {path}") from None
    if meta.get("format") != FORMAT:
        raise DaekitError(f"not a daekit checkpoint (safetensors file without daekit metadata): {path}")
    version = meta.get("format_version", "0")
    if not version.isdigit():
        raise DaekitError(f"damaged daekit checkpoint {path}: format_version {version[:40]!r} is not a number")
    if int(version) > FORMAT_VERSION:
        raise DaekitError(f"checkpoint {path} was written by a newer daekit ({meta.get('daekit_version')}); upgrade daekit")
    try:
        skeleton = json.loads(meta["train_state"])
        ck = Checkpoint(
            model_spec=json.loads(meta["model_spec"]),
            config=json.loads(meta["config"]),
            state_dict={k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")},
            train_state=_unflatten(skeleton, tensors) if skeleton is not None else None,
            info=json.loads(meta.get("info", "{}")),
        )
    except (KeyError, TypeError, ValueError, RecursionError) as e:  # JSONDecodeError is a ValueError
        raise DaekitError(f"damaged daekit checkpoint {path}: missing or bad metadata ({type(e).__name__}: {e})") from None
    for name, value in (("model_spec", ck.model_spec), ("config", ck.config), ("info", ck.info)):
        if not isinstance(value, dict):
            raise DaekitError(f"damaged daekit checkpoint {path}: {name} is a {type(value).__name__}, not a mapping")
    if not isinstance(ck.model_spec.get("name"), str):
        raise DaekitError(f"damaged daekit checkpoint {path}: the model spec names no model")
    if ck.train_state is not None and not isinstance(ck.train_state, dict):
        raise DaekitError(f"damaged daekit checkpoint {path}: train_state is not a mapping")
    return ck


def build_model(ckpt: Checkpoint, expect: str | None = None) -> nn.Module:
    """Rebuilds the model stored in `ckpt` and loads its weights.

    Args:
        ckpt: A loaded checkpoint.
        expect: If given, the model name the caller needs; another model raises DaekitError.
    """
    from .models import create_model

    spec = dict(ckpt.model_spec)
    name = spec.pop("name", None)
    if expect is not None and name != expect:
        raise DaekitError(f"checkpoint holds a {name!r} model, not {expect!r}")
    if not all(isinstance(k, str) and k.isidentifier() for k in spec):
        raise DaekitError(f"checkpoint's model spec has a key that is not an argument name: {sorted(map(str, spec))}")
    with torch.device("meta"):  # the shapes the spec implies, checked against the file's before allocating
        want = {k: tuple(v.shape) for k, v in create_model(name, **spec).state_dict().items()}
    have = {k: tuple(v.shape) for k, v in ckpt.state_dict.items()}
    if want != have:
        bad = sorted(set(want) ^ set(have)) or [k for k in want if want[k] != have[k]]
        k = bad[0]
        raise DaekitError(f"checkpoint weights do not fit the {name!r} model they claim: {k} is "
                          f"{have.get(k, 'missing')} in the file, {want.get(k, 'unknown')} in the model")
    model = create_model(name, **spec)
    try:
        model.load_state_dict(ckpt.state_dict, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise DaekitError(f"checkpoint weights do not fit the {name!r} model they claim: {first}") from None
    return model


def find_checkpoint(path: str | Path, which: str = "best") -> Path:
    """A checkpoint file from a run folder (``checkpoints/<which>.safetensors``, else ``last``) or a file."""
    path = Path(path)
    if path.is_dir():
        for name in (which, "last", "best"):
            cand = path / "checkpoints" / f"{name}.safetensors"
            if cand.exists():
                return cand
        raise DaekitError(f"no checkpoint in run folder {path} (looked for checkpoints/{which}.safetensors)")
    if not path.exists():
        raise DaekitError(f"model not found: {path} (give a run folder or a .safetensors checkpoint)")
    return path
