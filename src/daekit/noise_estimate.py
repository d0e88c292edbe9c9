"""Blind estimates of an image's noise from the image alone (no clean reference): how correlated it is between
neighbouring pixels, which tells a camera's noise (demosaicked, then often noise-reduced and JPEG-compressed) from
white noise (synthetic Gaussian noise, a microscope's or a scanner's shot noise)."""
from __future__ import annotations

import math

import numpy as np

from .color import channel_mean

BLOCK = 8  # the noise is read in 8 x 8 blocks, each less its best-fitting plane (the photo's slow shading)
FLAT_SHARE = 0.2  # the flattest fifth of the blocks: there the noise, not the photo, is what is left
MAX_BLOCKS = 1 << 16  # at most this many blocks (4 MP of pixels), on a regular grid: bounded time on any size
QUIET = (0.05 / 255) ** 2  # blocks with less power than this (a fifth of 8-bit rounding's: clipped highlights and
# blacks) hold no noise to read and are left out; 3 of PolyU's 100 photos read 0 when they were not


def _plane_residual() -> np.ndarray:
    """(BLOCK^2, BLOCK^2) matrix taking a flattened block to what is left of it after its least-squares plane."""
    yy, xx = np.mgrid[0:BLOCK, 0:BLOCK]
    a = np.stack([np.ones(BLOCK * BLOCK), yy.ravel(), xx.ravel()], axis=1)
    return np.eye(BLOCK * BLOCK) - a @ np.linalg.pinv(a)


_RESIDUAL = _plane_residual()


def neighbour_correlation(image: np.ndarray) -> float:
    """The correlation of horizontally and vertically neighbouring pixels of the noise in the flattest blocks of
    an (H, W) or (H, W, C) float image (channels averaged: the luma's noise).

    White noise gives about -0.05 (the plane fit's own share); a camera's demosaicked noise 0.3-0.7 (measured on
    photos with the ``camera`` noise at ISO 800-25600, also JPEG-compressed, and on PolyU's real photos: 99 of 100
    above 0.25); a clean photo's own texture or a film scan's grain also reads high (0.2-1), since then it is all
    there is. Blocks with next to nothing in them (``QUIET``: clipped highlights and blacks) are left out; 0.0 for
    an image too small for one block or with no other block.
    """
    h, w = image.shape[0] // BLOCK, image.shape[1] // BLOCK
    if h == 0 or w == 0:
        return 0.0
    step = max(1, math.ceil(math.sqrt(h * w / MAX_BLOCKS)))  # every step-th block row and column
    rows = image[: h * BLOCK].reshape(h, BLOCK, *image.shape[1:])[::step]  # only the rows read are copied below
    gray = channel_mean(rows)[..., 0] if rows.ndim == 4 else rows  # (h', BLOCK, W)
    gray = gray[:, :, : w * BLOCK].reshape(len(gray), BLOCK, w, BLOCK)[:, :, ::step]  # (h', BLOCK, w', BLOCK)
    blocks = gray.transpose(0, 2, 1, 3).reshape(-1, BLOCK * BLOCK).astype(np.float64) @ _RESIDUAL
    power = np.square(blocks).mean(axis=1)
    blocks, power = blocks[power >= QUIET], power[power >= QUIET]
    if len(power) == 0:
        return 0.0
    k = max(1, int(len(power) * FLAT_SHARE))
    flat = blocks[np.argpartition(power, k - 1)[:k]].reshape(-1, BLOCK, BLOCK)
    across = (flat[:, :, 1:] * flat[:, :, :-1]).sum() + (flat[:, 1:] * flat[:, :-1]).sum()
    energy = (np.square(flat[:, :, 1:]).sum() + np.square(flat[:, :, :-1]).sum() + np.square(flat[:, 1:]).sum()
              + np.square(flat[:, :-1]).sum()) / 2
    return float(across / energy)


__all__ = ["neighbour_correlation"]
