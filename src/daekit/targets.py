"""What a training step learns to output (``train.target``): the clean image, another noisy copy of it
(Noise2Noise), or its own hidden pixels (blind-spot, Noise2Void-style): the last two never show the
model a clean image.

Each target turns a batch the loader gives and its corrupted copy into (model input, loss target, loss
mask), drawing any randomness from the step's generator, so a run stays reproducible and resumable.

* ``clean``: input = corrupted, target = clean (the denoising autoencoder of the lesson).
* ``noise2noise``: input = one corrupted copy, target = a second, independent one (Lehtinen et al.
  2018): with zero-mean noise the expected target is the clean image, so an MSE model learns it.
* ``blind-spot``: input = the corrupted image with a fraction of its pixels hidden, target = the
  corrupted image itself, loss on the hidden pixels only (Krull et al. 2019, Noise2Void; Batson & Royer
  2019, Noise2Self). Noise that is independent from pixel to pixel cannot be predicted from the
  neighbours, so the network learns the signal. A hidden pixel is replaced by a random pixel of its 5x5
  neighbourhood, never itself (Noise2Void's "uniform without centre"): replacing by 0 would teach the
  network to spot the holes. Spatially correlated noise (camera noise after demosaicking) breaks the
  assumption: the neighbours then predict part of the noise too.

With ``data: images`` and ``noise: none`` the loader's images are the user's noisy photos themselves:
blind-spot training then needs nothing else.
"""
from __future__ import annotations

from typing import Callable

import torch

from .errors import DaekitError
from .noise import Noise

TARGETS = ("clean", "noise2noise", "blind-spot")
RADIUS = 2  # the neighbourhood a hidden pixel's stand-in is drawn from: 5x5 without its centre

# (clean batch, corrupted batch, generator) -> (model input, loss target, loss mask or None)
Step = Callable[[torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]


def hide_pixels(x: torch.Tensor, fraction: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """`x` (B, C, H, W) with about `fraction` of its pixel positions (all channels) replaced by a random
    other pixel of their 5x5 neighbourhood (the offset turned around at the borders); returns (x hidden,
    mask (B, 1, H, W))."""
    b, c, h, w = x.shape
    if h < 2 * RADIUS + 1 or w < 2 * RADIUS + 1:
        raise DaekitError(f"blind-spot training needs images of at least {2 * RADIUS + 1}x{2 * RADIUS + 1} pixels, got {h}x{w}")
    kw = {"device": x.device, "generator": generator}
    mask = torch.rand((b, 1, h, w), **kw) < fraction
    # an offset in the 5x5 window other than (0, 0): draw one of its 24 other cells
    cell = torch.randint(0, (2 * RADIUS + 1) ** 2 - 1, (b, 1, h, w), **kw)
    cell = cell + (cell >= ((2 * RADIUS + 1) ** 2) // 2).long()  # skip the centre
    dy, dx = cell // (2 * RADIUS + 1) - RADIUS, cell % (2 * RADIUS + 1) - RADIUS
    y0, x0 = torch.arange(h, device=x.device).view(1, 1, h, 1), torch.arange(w, device=x.device).view(1, 1, 1, w)
    # an offset that leaves the image is turned around (a mirror of the position could land on the pixel itself)
    ys = torch.where((y0 + dy < 0) | (y0 + dy > h - 1), y0 - dy, y0 + dy)
    xs = torch.where((x0 + dx < 0) | (x0 + dx > w - 1), x0 - dx, x0 + dx)
    index = (ys * w + xs).view(b, 1, h * w).expand(b, c, h * w)
    stand_in = x.reshape(b, c, h * w).gather(2, index).view(b, c, h, w)
    return torch.where(mask, stand_in, x), mask


def make_step(target: str, noise: Noise, fraction: float) -> Step:
    """The training step's (input, target, mask) for ``train.target`` (see the module docstring)."""
    if target == "clean":
        return lambda clean, noisy, g: (noisy, clean, None)
    if target == "noise2noise":
        return lambda clean, noisy, g: (noisy, noise(clean, g), None)
    if target == "blind-spot":
        def blind(clean: torch.Tensor, noisy: torch.Tensor, g: torch.Generator):
            hidden, mask = hide_pixels(noisy, fraction, g)
            return hidden, noisy, mask

        return blind
    raise DaekitError(f"unknown train.target {target!r}; use {', '.join(TARGETS)}")


def masked_loss(loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Callable[..., torch.Tensor]:
    """`loss_fn` (mean over elements) taken over the masked pixels only: the mean of the per-element loss
    where mask is set (every channel of a masked position)."""

    def loss(out: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if mask is None:
            return loss_fn(out, target)
        m = mask.expand_as(out)
        n = m.sum().clamp_min(1)
        return loss_fn(out * m, target * m) * (out.numel() / n)  # mean over the masked elements

    return loss
