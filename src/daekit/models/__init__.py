"""Autoencoder architectures, each registered by name and rebuilt from a plain dict of arguments."""
from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from ..errors import DaekitError
from .registry import MODELS
from . import conv, dense, residual, unet  # noqa: F401  (registration side effects)


def create_model(name: str, in_channels: int = 1, image_size: tuple[int, int] = (28, 28), **kwargs: Any) -> nn.Module:
    """Builds the model registered as `name`.

    Args:
        name: A registered model name (see ``list_models()``).
        in_channels: 1 for grayscale, 3 for RGB.
        image_size: (H, W); fixed for dense models, only a default for convolutional ones.
        **kwargs: The architecture's own arguments (``daekit list`` shows them).

    Returns:
        The model; ``model.spec`` holds everything needed to rebuild it.
    """
    cls = MODELS.get(name)
    allowed = model_arguments(name)
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise DaekitError(f"model {name!r} has no argument {unknown[0]!r}; it takes: {', '.join(allowed)}")
    model = cls(in_channels=int(in_channels), image_size=tuple(int(s) for s in image_size), **kwargs)
    model.spec = {"name": name, "in_channels": int(in_channels), "image_size": list(image_size), **kwargs}
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
