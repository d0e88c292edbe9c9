"""The model registry (its own module so architectures can import it without cycles).

The contract a model keeps: an ``nn.Module`` whose constructor takes ``in_channels`` and
``image_size`` (plus its own arguments, JSON values) and which declares ``geometry: Geometry``
(blocks.py): fixed or any size, receptive field, tile multiple; and ``unit_output: bool``: whether its
output is confined to [0, 1] (a sigmoid), which makes binary cross-entropy its default loss. Tiling,
export, training and the CLI read those declarations; a class without them is refused when it registers.
"""
from typing import Any

from ..registry import Registry


def _keeps_the_contract(name: str, cls: Any) -> None:
    declared = getattr(cls, "__annotations__", {})
    if "geometry" not in declared:
        raise TypeError(f"model {name!r} ({cls.__name__}) must declare `geometry: Geometry` (see daekit.models.blocks)")
    if "unit_output" not in declared:
        raise TypeError(f"model {name!r} ({cls.__name__}) must declare `unit_output: bool` (is its output in [0, 1]?)")


MODELS: Registry = Registry("model", _keeps_the_contract)
