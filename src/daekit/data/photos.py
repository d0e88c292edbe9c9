"""scikit-image's bundled sample photographs as an embedded patch data set (no network, no files).

Training and validation patches come from every bundled photograph except ``camera``; the test
set is patches of ``camera``, the photograph the demo cleans whole. Color photographs are converted
to gray (ITU-R 601 luma), so one grayscale model serves all.
"""
from __future__ import annotations

import numpy as np

PHOTOS = ["astronaut", "brick", "cell", "chelsea", "clock", "coffee", "coins", "grass", "gravel", "moon", "page", "rocket", "text"]
TEST_PHOTO = "camera"
PATCH, PER_PHOTO, TEST_PATCHES = 40, 240, 64


def gray_photo(name: str) -> np.ndarray:
    """A bundled photograph as uint8 gray (H, W)."""
    from skimage import data

    img = getattr(data, name)()
    if img.ndim == 3:
        img = img[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
        img = np.clip(np.round(img), 0, 255).astype(np.uint8)
    return img


def _patches(img: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape
    ys, xs = rng.integers(0, h - PATCH + 1, n), rng.integers(0, w - PATCH + 1, n)
    return np.stack([img[y : y + PATCH, x : x + PATCH] for y, x in zip(ys, xs)])


def load_photo_patches() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train patches, labels, test patches, labels) as uint8 (N, 40, 40); labels index the photograph."""
    rng = np.random.default_rng(0)  # fixed: the data set is the same in every run
    train = [_patches(gray_photo(name), PER_PHOTO, rng) for name in PHOTOS]
    x = np.concatenate(train)
    y = np.repeat(np.arange(len(PHOTOS)), PER_PHOTO)
    test = _patches(gray_photo(TEST_PHOTO), TEST_PATCHES, rng)
    return x, y, test, np.full(len(test), len(PHOTOS))
