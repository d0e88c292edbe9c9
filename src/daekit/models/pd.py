"""Pixel-shuffle downsampling (``model.args.pd``): a model run on the stride x stride sub-images of its input.

Camera noise is correlated between neighbouring pixels (demosaicking, in-camera noise reduction), which
breaks the blind-spot assumption: the neighbours of a hidden pixel then predict part of its noise, and
a blind-spot network learns to keep it. Sub-images taken `stride` pixels apart (pixel-unshuffle, the
"PD" of Zhou et al. 2019 and AP-BSN, Lee et al. 2022) hold neighbours that far apart, whose noise is far
less correlated. The wrapped model sees each sub-image as an image of its own (stacked along the batch,
not the channels as FFDNet-style ``unshuffle`` does), so no output pixel depends on another sub-image,
in training as at inference. Blind-spot training hides pixels within each sub-image (``targets``).
The price: each sub-image has 1/stride of the resolution, so fine detail suffers (AP-BSN trains at
stride 5 and infers at 2; here the stride is one, kept in the checkpoint).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import Geometry, crop, pad_to_multiple


class PixelShuffleDown(nn.Module):
    """`inner` applied to the `stride` x `stride` sub-images of the input (see the module docstring)."""

    def __init__(self, inner: nn.Module, stride: int) -> None:
        super().__init__()
        self.inner, self.stride = inner, int(stride)
        g = inner.geometry
        rf = None if g.receptive_field is None else g.receptive_field * self.stride
        # the sub-images hold the input's pixels, along the batch: per input pixel the inner model's activations
        self.geometry = Geometry(fixed_size=None, receptive_field=rf, multiple=g.multiple * self.stride,
                                 activation_channels=g.activation_channels)
        self.unit_output = inner.unit_output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stride
        xp, size = pad_to_multiple(x, s)
        b, c = x.shape[:2]
        u = F.pixel_unshuffle(xp, s)  # (B, C * s * s, H / s, W / s), channel index c * s * s + sub-image
        h, w = u.shape[-2:]  # sizes read from the tensor, not divided: an exported graph keeps them symbolic
        sub = u.reshape(b, c, s * s, h, w).transpose(1, 2).reshape(-1, c, h, w)  # sub-images along the batch
        y = self.inner(sub)
        y = y.reshape(b, s * s, c, h, w).transpose(1, 2).reshape(b, c * s * s, h, w)
        return crop(F.pixel_shuffle(y, s), size)


def core(model: nn.Module) -> nn.Module:
    """The network itself, without a PixelShuffleDown around it (the weights a shipped model holds)."""
    return model.inner if isinstance(model, PixelShuffleDown) else model
