"""The model registry (its own module so architectures can import it without cycles).

The contract a model keeps: an ``nn.Module`` whose constructor takes ``in_channels`` and
``image_size`` (plus its own arguments, JSON values) and which declares ``geometry: Geometry``
(blocks.py): fixed or any size, receptive field, tile multiple. Tiling, export and the CLI read that
declaration; a class without it is refused when it registers.
"""
from typing import Any

from ..registry import Registry


def _keeps_the_contract(name: str, cls: Any) -> None:
    if "geometry" not in getattr(cls, "__annotations__", {}):
        raise TypeError(f"model {name!r} ({cls.__name__}) must declare `geometry: Geometry` (see daekit.models.blocks)")


MODELS: Registry = Registry("model", _keeps_the_contract)
