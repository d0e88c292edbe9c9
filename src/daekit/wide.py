"""The wide pass (``daekit denoise --wide``): for very noisy photos from cameras and phones at full resolution.

The model is run on the four 2 x 2 pixel-shuffled half-resolution sub-images of the photo (each pixel of a
sub-image is every other pixel of the photo: the "PD" of Zhou et al. 2019), the results are put back in place,
and the model is run once more on that at full resolution. At half resolution the network sees twice as far
(photo-real's 35 pixels become 70) and the camera's correlated noise (demosaicking, in-camera noise
reduction) is whiter; the full-resolution pass then removes what the shuffle left. Measured with photo-real
(bench/wide.py; docs/benchmarks.md, twenty-seventh session) on clean camera photos (PolyU's references) with
synthetic camera noise: +1.2 dB over one pass at ISO 6400, +2.7 at ISO 12800, +4.3 at ISO 25600; but -0.1 at ISO
3200, -2.4 at ISO 800, -1.4 with white Gaussian noise (sigma 15), and on film scans -0.2 at ISO 12800 and -2.4 with
Gaussian noise, where the shuffle splits fine detail: an option for night and low-light shots, not a default.
About twice the time of one pass.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def wide_pass(run: Callable[[Any], Any], x: Any) -> Any:
    """`run` on the 2 x 2 pixel-shuffled sub-images of `x`, put back in place, then on the result.

    `x` is an (H, W, C) float32 array (a whole image) or an (N, C, H, W) tensor (a batch); `run` maps one such to
    the model's unclamped output of the same shape (the second pass gets the first's clamped to [0, 1]). An image with fewer than 2 rows or columns has no
    sub-images: it gets the plain pass.
    """
    h, w = _spatial(x)
    if h < 2 or w < 2:
        return run(x)
    half = shuffled(run, x)
    return run(half.clamp(0, 1) if not isinstance(half, np.ndarray) else np.clip(half, 0, 1))  # an image, as trained


def shuffled(run: Callable[[Any], Any], x: Any) -> Any:
    """`run` on each of the 2 x 2 pixel-shuffled sub-images of `x` (as ``wide_pass`` takes it), put back in place
    (the first half of ``wide_pass``; odd sizes give sub-images one row or column apart in size)."""
    batch = not isinstance(x, np.ndarray)
    out = x.new_empty(x.shape) if batch else np.empty(x.shape, dtype=np.float32)
    for i in range(2):
        for j in range(2):
            at = (Ellipsis, slice(i, None, 2), slice(j, None, 2)) if batch else (slice(i, None, 2), slice(j, None, 2))
            sub = x[at].contiguous() if batch else np.ascontiguousarray(x[at], dtype=np.float32)
            out[at] = run(sub)
    return out


def _spatial(x: Any) -> tuple[int, int]:
    return (int(x.shape[-2]), int(x.shape[-1])) if not isinstance(x, np.ndarray) else (x.shape[0], x.shape[1])
