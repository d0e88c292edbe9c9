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
* ``neighbor2neighbor``: one noisy image is split into two half-size sub-images by taking, in every 2x2
  cell, one pixel for the first and a random adjacent one for the second (Huang et al. 2021,
  Neighbor2Neighbor); the first is the input, the second the target, as in Noise2Noise. The two are one
  pixel apart, so their signals differ a little; the published regulariser corrects for it: the model's
  own output on the whole noisy image (no gradient) is split the same way, and the loss
  ``|f(g1) - g2|^2 + gamma |f(g1) - g2 - (g1(f(y)) - g2(f(y)))|^2`` is, for the same gradient, the MSE
  against the single target ``g2 + gamma / (1 + gamma) (g1(f(y)) - g2(f(y)))`` (times 1 + gamma, which
  Adam does not see). gamma ramps from 0 to ``train.neighbour_gamma`` over the epochs, as published. Every
  pixel of the sub-image is in the loss, where blind-spot learns from the few hidden ones: at the same
  training length it learns far faster (docs/benchmarks.md). Like blind-spot it assumes noise that is
  independent from pixel to pixel. Without clean references a run keeps its last epoch (``train.fit``):
  the self-supervised score below leans to smoothing.

With ``data: images`` and ``noise: none`` the loader's images are the user's noisy photos themselves:
blind-spot training then needs nothing else. Noise2Noise needs two noisy shots of each scene: real ones
(``data.bursts``: a folder per scene) or drawn ones (``data.noisy_copies: 2`` with ``data.noisy_once``);
a batch then stacks each item's shots along the channels (``frames``) and the step picks two of them.

Validation without references. When the data hold no clean image (``noise: none``, ``data.noisy_once``,
shots), PSNR against a clean reference cannot be measured; ``self_supervised_scores`` measures what can
be: the blind-spot loss on fixed hidden pixels of the validation images, or for Noise2Noise the error
against a second shot, both as dB. With noise independent of the signal, each is the true error plus a
constant (the noise's variance), so the best checkpoint by it is the best by the true error too
(Noise2Self's argument); its value is not a PSNR against the clean image and is named so.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from .errors import DaekitError
from .metrics import psnr
from .noise import Noise, make_generator
from .runtime import Precision, denoise_batches
from .seeding import derive_seed

TARGETS = ("clean", "noise2noise", "blind-spot", "neighbor2neighbor")
RADIUS = 2  # the neighbourhood a hidden pixel's stand-in is drawn from: 5x5 without its centre

# (clean batch, corrupted batch, generator) -> (model input, loss target, loss mask or None)
Step = Callable[[torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]]


FILLS = ("neighbour", "median")


def _window_median(x: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """Per pixel and channel, the median of its 5x5 neighbourhood (of pixels `stride` apart) without itself
    (reflected at the borders)."""
    b, c, h, w = x.shape
    k = 2 * RADIUS + 1
    cols = F.unfold(F.pad(x, (RADIUS * stride,) * 4, mode="reflect"), k, dilation=stride).view(b, c, k * k, h * w)
    ring = torch.cat([cols[:, :, : k * k // 2], cols[:, :, k * k // 2 + 1 :]], dim=2)  # the centre left out
    return ring.median(dim=2).values.view(b, c, h, w)


def hide_pixels(x: torch.Tensor, fraction: float, generator: torch.Generator, fill: str = "neighbour",
                stride: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """`x` (B, C, H, W) with about `fraction` of its pixel positions (all channels) hidden; returns (x
    hidden, mask (B, 1, H, W)). `fill`: ``neighbour`` replaces each by a random other pixel of its 5x5
    neighbourhood (the offset turned around at the borders; Noise2Void), ``median`` by the median of that
    neighbourhood without itself, per channel (N2V2: no stand-in copies one noisy neighbour exactly).
    `stride`: the neighbourhood's pixels are that far apart, i.e. in the pixel's own pd sub-image."""
    b, c, h, w = x.shape
    span = 2 * RADIUS * stride + 1
    if h < span or w < span:
        raise DaekitError(f"blind-spot training needs images of at least {span}x{span} pixels, got {h}x{w}")
    kw = {"device": x.device, "generator": generator}
    mask = torch.rand((b, 1, h, w), **kw) < fraction
    if fill == "median":
        return torch.where(mask, _window_median(x, stride), x), mask
    if fill != "neighbour":
        raise DaekitError(f"unknown train.mask_fill {fill!r}; use {', '.join(FILLS)}")
    # an offset in the 5x5 window other than (0, 0): draw one of its 24 other cells
    cell = torch.randint(0, (2 * RADIUS + 1) ** 2 - 1, (b, 1, h, w), **kw)
    cell = cell + (cell >= ((2 * RADIUS + 1) ** 2) // 2).long()  # skip the centre
    dy, dx = (cell // (2 * RADIUS + 1) - RADIUS) * stride, (cell % (2 * RADIUS + 1) - RADIUS) * stride
    y0, x0 = torch.arange(h, device=x.device).view(1, 1, h, 1), torch.arange(w, device=x.device).view(1, 1, 1, w)
    # an offset that leaves the image is turned around (a mirror of the position could land on the pixel itself)
    ys = torch.where((y0 + dy < 0) | (y0 + dy > h - 1), y0 - dy, y0 + dy)
    xs = torch.where((x0 + dx < 0) | (x0 + dx > w - 1), x0 - dx, x0 + dx)
    index = (ys * w + xs).view(b, 1, h * w).expand(b, c, h * w)
    stand_in = x.reshape(b, c, h * w).gather(2, index).view(b, c, h, w)
    return torch.where(mask, stand_in, x), mask


def shots(x: torch.Tensor, frames: int) -> torch.Tensor:
    """A batch of stacked shots (B, frames * C, H, W) as (B, frames, C, H, W) (a view)."""
    return x.view(x.shape[0], frames, x.shape[1] // frames, *x.shape[2:])


def two_shots(noisy: torch.Tensor, raw: torch.Tensor, frames: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Per item, a random shot of `noisy` and a different random shot of `raw` (both (B, frames * C, H, W))."""
    b = noisy.shape[0]
    kw = {"device": noisy.device, "generator": generator}
    i = torch.randint(0, frames, (b,), **kw)
    j = (i + torch.randint(1, frames, (b,), **kw)) % frames  # never the same shot
    rows = torch.arange(b, device=noisy.device)
    return shots(noisy, frames)[rows, i], shots(raw, frames)[rows, j]


PAIRS = torch.tensor([[0, 1], [1, 0], [0, 2], [2, 0], [1, 3], [3, 1], [2, 3], [3, 2]])  # adjacent cells of a 2x2 block


def neighbour_choice(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """For each 2x2 cell of `x` (B, C, H, W), one of the 8 ordered pairs of adjacent pixels (B, H//2, W//2)."""
    b, _, h, w = x.shape
    if h < 2 or w < 2:
        raise DaekitError(f"neighbor2neighbor training needs images of at least 2x2 pixels, got {h}x{w}")
    return torch.randint(0, len(PAIRS), (b, h // 2, w // 2), device=x.device, generator=generator)


def sub_images(x: torch.Tensor, choice: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The two half-size sub-images of `x` (B, C, H, W) that `choice` (``neighbour_choice``) picks: in each
    2x2 cell (an odd last row or column left out) the pair's first pixel goes to the first, its second to
    the second."""
    b, c = x.shape[:2]
    h, w = choice.shape[1:]
    cells = x[:, :, : 2 * h, : 2 * w].reshape(b, c, h, 2, w, 2).permute(0, 1, 2, 4, 3, 5).reshape(b, c, h, w, 4)
    pair = PAIRS.to(x.device)[choice]  # (B, h, w, 2)
    pick = [pair[..., k].unsqueeze(1).expand(b, c, h, w).unsqueeze(-1) for k in (0, 1)]
    return cells.gather(4, pick[0]).squeeze(-1), cells.gather(4, pick[1]).squeeze(-1)


class NeighbourStep:
    """The ``neighbor2neighbor`` step (module docstring). `forward`: the model on a batch without gradient
    (the regulariser's f(y)); `gamma`: the regulariser's final weight; ``progress`` (the share of the
    training done, set by the trainer each epoch) ramps it up from 0. `shard` (distributed training): the
    rows of the global batch this process trains on; the regulariser's forward pass runs on those alone
    (the other rows' targets go uncorrected: the trainer drops them)."""

    def __init__(self, forward: Callable[[torch.Tensor], torch.Tensor], gamma: float, frames: int = 1,
                 shard: slice | None = None) -> None:
        self.forward, self.gamma, self.frames, self.shard, self.progress = forward, gamma, frames, shard, 0.0

    def __call__(self, clean: torch.Tensor, noisy: torch.Tensor, g: torch.Generator):
        if self.frames > 1:  # one shot of each item
            noisy, _ = two_shots(noisy, noisy, self.frames, g)
        choice = neighbour_choice(noisy, g)
        first, second = sub_images(noisy, choice)
        weight = self.gamma * self.progress
        if weight == 0:
            return first, second, None
        rows = slice(None) if self.shard is None else self.shard
        with torch.no_grad():
            f1, f2 = sub_images(self.forward(noisy[rows]).float(), choice[rows])
        target = second.clone()
        target[rows] += (weight / (1 + weight)) * (f1 - f2)
        return first, target, None


def keeps_last_epoch(target: str, references: bool) -> bool:
    """Whether a run keeps its last epoch rather than its best-scoring one: neighbor2neighbor without clean
    references, whose self-supervised score leans to smoothing (``self_supervised_scores``) and ranks the
    regularised late epochs too low (BSD68: best by the score 28.06 dB, the last 28.17; docs/benchmarks.md).
    The paper keeps the last epoch too."""
    return target == "neighbor2neighbor" and not references


def make_step(target: str, noise: Noise, fraction: float, frames: int = 1, fill: str = "neighbour", stride: int = 1,
              forward: Callable[[torch.Tensor], torch.Tensor] | None = None, gamma: float = 2.0,
              shard: slice | None = None) -> Step:
    """The training step's (input, target, mask) for ``train.target`` (see the module docstring).
    `frames` > 1: each item of a batch stacks that many noisy shots along the channels; `fill` and
    `stride`: how a blind-spot's hidden pixels are filled (``hide_pixels``); `forward`, `gamma` and `shard`:
    the model without gradient, the regulariser's weight and this process's rows, for neighbor2neighbor
    (``NeighbourStep``)."""
    if target == "clean":
        return lambda clean, noisy, g: (noisy, clean, None)
    if target == "noise2noise":
        if frames > 1:  # real (or drawn-once) shots: one is the input (with any extra noise), another the target
            return lambda raw, noisy, g: two_shots(noisy, raw, frames, g) + (None,)
        return lambda clean, noisy, g: (noisy, noise(clean, g), None)
    if target == "blind-spot":
        def blind(clean: torch.Tensor, noisy: torch.Tensor, g: torch.Generator):
            if frames > 1:  # one shot of each item
                noisy, _ = two_shots(noisy, noisy, frames, g)
            hidden, mask = hide_pixels(noisy, fraction, g, fill, stride)
            return hidden, noisy, mask

        return blind
    if target == "neighbor2neighbor":
        if forward is None:
            raise DaekitError("neighbor2neighbor training needs the model's forward pass")
        return NeighbourStep(forward, gamma, frames, shard)
    raise DaekitError(f"unknown train.target {target!r}; use {', '.join(TARGETS)}")


def _masked_psnr(out: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Per-image PSNR (dB, data range 1) over the masked positions (``metrics.psnr`` without a mask)."""
    if mask is None:
        return psnr(out, target)
    err = (out.float() - target.float()) ** 2
    m = mask.expand_as(err).float()
    mse = (err * m).flatten(1).sum(1) / m.flatten(1).sum(1).clamp_min(1)
    return 10 * torch.log10(1 / mse.clamp_min(1e-10))


@torch.no_grad()
def self_supervised_scores(model: torch.nn.Module, val: torch.Tensor | list[torch.Tensor], target: str, fraction: float,
                           frames: int, seed: int, batch_size: int = 1024, precision: Precision | None = None,
                           fill: str = "neighbour", stride: int = 1) -> dict[str, float]:
    """Validation without clean references (see the module docstring), mean over images:

    * ``psnr``: blind-spot: the output at fixed hidden pixels (the stand-ins in place, as in training)
      against their own noisy values; noise2noise: the output for shot 0 against shot 1;
      neighbor2neighbor: the output for the first sub-image against the second (without the regulariser):
      the model measured at half size, against pixels one off, so it leans a little to smoothing.
    * ``noisy_psnr``: the same for doing nothing (the stand-in pixel; shot 0 itself; the first
      sub-image): the bar to clear.

    The hidden pixels and sub-images are drawn from `seed`, the same in every epoch.
    """
    items = val if isinstance(val, list) else [val[i : i + batch_size] for i in range(0, len(val), batch_size)]
    scores, bars = [], []
    for k, x in enumerate(items):
        x = shots(x, frames)  # (B, frames, C, H, W), frames 1 too
        if target == "noise2noise":
            if frames < 2:
                raise DaekitError("noise2noise validation without references needs two shots of each validation image")
            inp, ref, mask = x[:, 0], x[:, 1], None
        elif target == "blind-spot":
            ref = x[:, 0]
            inp, mask = hide_pixels(ref, fraction, make_generator(derive_seed(seed, k), "cpu"), fill, stride)
        elif target == "neighbor2neighbor":
            inp, ref = sub_images(x[:, 0], neighbour_choice(x[:, 0], make_generator(derive_seed(seed, k), "cpu")))
            mask = None
        else:
            raise DaekitError(f"train.target {target} has no self-supervised validation")
        out = denoise_batches(model, inp, batch_size, precision).clamp(0, 1)
        scores.append(_masked_psnr(out, ref, mask))
        bars.append(_masked_psnr(inp, ref, mask))
    return {"psnr": float(torch.cat(scores).mean()), "ssim": None, "noisy_psnr": float(torch.cat(bars).mean())}


def masked_loss(loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Callable[..., torch.Tensor]:
    """`loss_fn` (mean over elements) taken over the masked pixels only: the mean of the per-element loss
    where mask is set (every channel of a masked position).

    `count`: the number of masked elements to divide by, when not this shard's own: under DDP each rank
    divides by its share of the whole batch's count, so that the ranks' averaged gradients are those of
    the mean over the whole batch (shards hold different numbers of hidden pixels)."""

    def loss(out: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None, count: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None:
            return loss_fn(out, target)
        m = mask.expand_as(out)
        n = (m.sum() if count is None else count).clamp_min(1)
        return loss_fn(out * m, target * m) * (out.numel() / n)  # mean over the masked elements

    return loss
