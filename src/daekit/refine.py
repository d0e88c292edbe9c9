"""Random-replacing refinement (the "R3" of Lee et al. 2022, AP-BSN), for models trained blind-spot.

A blind-spot model learns to predict each pixel from its neighbours, never from the pixel itself, so
what the pixel's own noisy value says is lost. Refinement gives some of it back: the model's output,
with a random 16% of its pixels replaced by the noisy input's, is denoised again; this is repeated
with `passes` independent draws and the results are averaged. Each pass sees a far cleaner image than
the first, with a sparse sprinkle of real measurements in it. It is meant for blind-spot runs (measured
on W2S microscopy in docs/benchmarks.md), not for models trained on clean targets.

Every pass runs on the whole image (tiled as usual), so the result does not depend on the tiling; the
draws come from a fixed seed, so the same image gives the same output.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import checks

FRACTION = 0.16  # share of pixels put back from the noisy input in each pass (AP-BSN's value)
SEED = 0
MAX_PASSES = 16


def check_passes(n: Any) -> int:
    """Validates a number of refinement passes (0 = off)."""
    return checks.whole(n, "refine passes", 0, MAX_PASSES)


def refined(run: Callable[[Any], Any], noisy: Any, first: Any, passes: int, seed: int = SEED) -> Any:
    """The mean of `passes` runs of `run` on `first` with a random ``FRACTION`` of its pixels put back from `noisy`.

    Args:
        run: The denoiser (unclamped output), on what `noisy` is: an (H, W, C) float32 array (a whole
            image) or an (N, C, H, W) tensor (a batch).
        noisy: The input.
        first: `run(noisy)`, the one-pass result.
        passes: How many draws to average (>= 1).
        seed: Seed of the draws (fixed by default: the same input, the same output).
    """
    rng = np.random.default_rng(seed)
    batch = not isinstance(noisy, np.ndarray)
    shape = (noisy.shape[0], 1, *noisy.shape[2:]) if batch else (*noisy.shape[:2], 1)  # a pixel keeps all its channels
    total = None
    for _ in range(passes):
        keep = rng.random(shape) < FRACTION
        if batch:
            import torch

            mixed = torch.where(torch.from_numpy(keep).to(noisy.device), noisy, first.to(noisy.dtype))
        else:
            mixed = np.where(keep, noisy, first).astype(np.float32)
        out = run(mixed)
        total = out if total is None else total + out
    return total / passes
