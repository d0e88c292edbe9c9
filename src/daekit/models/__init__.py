"""Autoencoder architectures, each registered by name and rebuilt from a plain dict of arguments."""
from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from .. import checks
from ..errors import DaekitError
from .blocks import Geometry
from .pd import PixelShuffleDown
from .registry import MODELS
from . import conv, dense, residual, unet  # noqa: F401  (registration side effects)


MAX_PARAMETERS = 1 << 30  # 4 GiB of fp32 weights: far above any denoiser, far below a typo's tens of GB
MAX_CHANNELS = 64  # image channels (gray 1, RGB 3, a few more for multi-channel microscopy)
MAX_SIDE = 1 << 16  # image_size sides (what dense models are sized by)


def create_model(name: str, in_channels: int = 1, image_size: tuple[int, int] = (28, 28), **kwargs: Any) -> nn.Module:
    """Builds the model registered as `name`.

    Args:
        name: A registered model name (see ``list_models()``).
        in_channels: 1 for grayscale, 3 for RGB.
        image_size: (H, W); fixed for dense models, only a default for convolutional ones.
        **kwargs: The architecture's own arguments (``daekit list`` shows them), and ``pd`` (any
            convolutional model: run it on the pd x pd pixel-shuffled sub-images, see models/pd.py).

    Returns:
        The model; ``model.spec`` holds everything needed to rebuild it.
    """
    if not isinstance(name, str):
        raise DaekitError(f"a model name must be a string, got {name!r}")
    cls = MODELS.get(name)
    pd = kwargs.pop("pd", 1)  # any convolutional model: run on pixel-shuffled sub-images (models/pd.py)
    pd = checks.whole(pd, f"model {name!r}: pd", 1, 8)
    allowed = model_arguments(name)
    unknown = sorted(set(kwargs) - set(allowed), key=str)
    if unknown:
        raise DaekitError(f"model {name!r} has no argument {unknown[0]!r}; it takes: {', '.join(allowed)}")
    in_channels = checks.whole(in_channels, f"model {name!r}: in_channels", 1, MAX_CHANNELS)
    if isinstance(image_size, (str, bytes)) or not hasattr(image_size, "__len__") or len(image_size) != 2:
        raise DaekitError(f"model {name!r}: image_size must be [height, width], got {image_size!r}")
    size = tuple(checks.whole(v, f"model {name!r}: image_size", 1, MAX_SIDE) for v in image_size)

    def build() -> nn.Module:
        try:
            return cls(in_channels=in_channels, image_size=size, **kwargs)
        except DaekitError:
            raise
        except (TypeError, ValueError, RuntimeError, OverflowError) as e:  # an argument of the wrong type or size
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise DaekitError(f"model {name!r}: bad arguments {kwargs} ({first})") from None

    with torch.device("meta"):  # sized first without allocating: a typo cannot ask for tens of GB
        n = sum(p.numel() for p in build().parameters())
    if n > MAX_PARAMETERS:
        raise DaekitError(f"model {name!r} with {kwargs or 'its defaults'} (in_channels {in_channels}, image_size "
                          f"{list(size)}) would have {n:,} parameters; the limit is {MAX_PARAMETERS:,}")
    model = build()
    if not isinstance(getattr(model, "geometry", None), Geometry):
        raise DaekitError(f"model {name!r} did not set its geometry (see daekit.models.blocks.Geometry)")
    if pd > 1:
        if model.geometry.fixed_size is not None:
            raise DaekitError(f"model {name!r} is dense (a fixed image size): pd (sub-images) needs a convolutional model")
        model = PixelShuffleDown(model, pd)
    model.spec = {"name": name, "in_channels": in_channels, "image_size": list(size), **kwargs, **({"pd": pd} if pd > 1 else {})}
    return model


def model_arguments(name: str) -> dict[str, Any]:
    """The architecture's own arguments and their defaults (``in_channels``/``image_size`` left out)."""
    sig = inspect.signature(MODELS.get(name).__init__)
    skip = {"self", "in_channels", "image_size"}
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {k: p.default for k, p in sig.parameters.items() if k not in skip and p.kind in kinds}


def list_models() -> list[str]:
    """Names of all registered models."""
    return MODELS.names()


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = ["MODELS", "create_model", "model_arguments", "list_models", "count_parameters"]
