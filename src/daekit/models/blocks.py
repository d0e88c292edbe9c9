"""Pieces shared by the architectures: input checks, padding to a multiple and cropping back."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DaekitError

@dataclass(frozen=True)
class Geometry:
    """What a model promises about image sizes; tiling, export and the CLI read this, nothing else.

    Attributes:
        fixed_size: (H, W) the input must have exactly (dense models), or None for any size.
        receptive_field: Width in input pixels of the region one output pixel depends on, when exact;
            None where it is not declared (tiles then get a generous halo and are blended).
        multiple: Tile origins and halos must sit on this grid (pooling, pixel-unshuffle) for tiled
            output to equal whole-image output.
        activation_channels: The largest tensor a forward pass makes, in values per input pixel, where the
            widest convolution's channels (over the unshuffle factor squared) would misstate it: a U-Net's widest
            layers run at a fraction of the resolution. Tiling sizes its tiles by it (``tiling.auto_tile_size``).
    """

    fixed_size: tuple[int, int] | None = None
    receptive_field: int | None = None
    multiple: int = 1
    activation_channels: float | None = None

    @property
    def tileable(self) -> bool:
        """Whether the model may run on crops of an image (any model that takes any size)."""
        return self.fixed_size is None


ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "gelu": nn.GELU, "none": nn.Identity}


def activation(name: str) -> nn.Module:
    """String-keyed activation factory so configs stay plain."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise DaekitError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}") from None


def check_input(x: torch.Tensor, channels: int, size: tuple[int, int] | None, model: str) -> None:
    """Refuses tensors a model cannot take, with a message naming the expected shape."""
    if x.dim() != 4:
        raise DaekitError(f"model {model!r} expects a (B, C, H, W) batch, got shape {tuple(x.shape)}")
    if x.shape[1] != channels:
        raise DaekitError(f"model {model!r} expects {channels} channel(s), got {x.shape[1]}")
    if size is not None and tuple(x.shape[-2:]) != tuple(size):
        raise DaekitError(
            f"model {model!r} expects {size[0]}x{size[1]} images, got {x.shape[-2]}x{x.shape[-1]} "
            "(dense models are fixed-size; use a convolutional model for other sizes)"
        )


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pads H and W at the bottom/right (edge-replicated) to a multiple; returns the original size."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    # padded unconditionally (by 0 when already a multiple): a branch on the size would be frozen
    # into an exported graph (ONNX, torch.export) at the example's size
    x = F.pad(x, (0, pw, 0, ph), mode="replicate")
    return x, (h, w)


def crop(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Crops H and W back to `size` (undoes ``pad_to_multiple``)."""
    return x[..., : size[0], : size[1]]


def on_unshuffled(body: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, factor: int, multiple: int) -> torch.Tensor:
    """`body` run on `x` padded to `multiple` and pixel-unshuffled by `factor` (FFDNet-style
    sub-images, (B, C * f * f, H / f, W / f)); its output is shuffled back and cropped to x's size."""
    xp, size = pad_to_multiple(x, multiple)
    if factor > 1:
        xp = F.pixel_unshuffle(xp, factor)
    y = body(xp)
    if factor > 1:
        y = F.pixel_shuffle(y, factor)
    return crop(y, size)


def positive_ints(model: str, arg: str, value: object) -> list[int]:
    """Validates an int or a list of ints (all >= 1) given as an architecture argument."""
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values):
        raise DaekitError(f"model {model!r}: {arg} must be a positive integer or a list of them, got {value!r}")
    return [int(v) for v in values]


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """For inference: every BatchNorm2d that follows a Conv2d in an nn.Sequential folded into that convolution's
    weights and bias (BatchNorm in eval mode is an affine map per channel), in place, the BatchNorm replaced by
    nn.Identity so indices stay, each weight kept in its memory layout; the model is put in eval mode. The same
    output up to float rounding (photo-real: 4e-6 at most in fp32) and 1.23x faster in fp32 on a 2-core CPU without
    AVX-512 (512 x 512 photo: 1.95 s against 2.42 s; thirtieth session). Only for a model not trained further."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    model.eval()
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        for i in range(len(seq) - 1):
            conv, bn = seq[i], seq[i + 1]
            if (isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats
                    and bn.running_mean is not None and conv.out_channels == bn.num_features):
                fused = fuse_conv_bn_eval(conv, bn)
                if conv.weight.is_contiguous(memory_format=torch.channels_last):  # the layout it had (a new tensor)
                    fused.weight.data = fused.weight.data.contiguous(memory_format=torch.channels_last)
                seq[i], seq[i + 1] = fused, nn.Identity()
    return model
