"""A tiny name -> factory registry shared by models, noise models and data sets."""
from __future__ import annotations

import difflib
from typing import Any, Callable, Generic, Iterator, TypeVar

from .errors import DaekitError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to factories; refuses duplicates; unknown names get a one-line error with suggestions.

    Args:
        kind: What is registered ("model", "noise model", ...), used in error messages.
        contract: Called with (name, obj) at registration; raises TypeError for an object that does not
            keep the registry's contract (e.g. a model that declares no geometry).
    """

    def __init__(self, kind: str, contract: Callable[[str, Any], None] | None = None) -> None:
        self.kind, self.contract = kind, contract
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering `obj` under `name`."""

        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            if self.contract is not None:
                self.contract(name, obj)
            self._items[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        """Returns the factory registered as `name`, or raises DaekitError naming the known ones."""
        try:
            return self._items[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._items, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise DaekitError(
                f"unknown {self.kind} {name!r}{hint}; known: {', '.join(sorted(self._items))}"
            ) from None

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
