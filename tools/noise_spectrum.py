"""Where a noise's power lies, real against synthetic: for tuning the `camera` recipe to real cameras.

    python tools/noise_spectrum.py [--data-dir ../shared/data] [--every 5] [SPEC ...]

Real noise is PolyU's (each noisy shot minus its reference, the mean of a burst: every `--every`-th photo);
each SPEC (default: a few `camera` settings and white Gaussian noise) is drawn on the first 10 CBSD68
photos, quantised to 8 bits as a camera's file is. For each: the noise's std (0-255), the share of its
RGB variance that a gray noise equal to its luma (ITU-R 601) carries and, for luma and for the red channel's chroma (R minus luma), the share of its
power in bands of radial frequency (cycles per pixel; 0.5 is the finest a row can hold), and where in the
photo the noise lies: its (high-passed luma) power in the flattest half of the photo and in its steeper
quarters, tenths, ... (by the reference's local gradient; 1 = the photo's mean). A recipe whose bands or
places differ from the real noise's trains a model on noise of another texture than it will meet (PolyU's
real noise sits in edges and texture, where cameras' edge-aware noise reduction leaves it: `camera:flat`).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from daekit.images import find_images, read_image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from photo import noisy_photo  # noqa: E402  (a spec drawn on an (H, W, C) image, as the bench scripts draw it)

LUMA = np.array([0.299, 0.587, 0.114])
BANDS = (0, 0.0625, 0.125, 0.25, 0.375, 0.5, 0.75)
SPECS = ("camera:iso=1600", "camera:iso=6400", "camera:iso=3200,jpeg=90", "camera:iso=3200,nr=0,chroma=0",
         "camera:iso=6400,flat=0.8", "gaussian:5")


def band_power(plane: np.ndarray) -> np.ndarray:
    """The (mean-free) power of one (H, W) plane in each band of ``BANDS`` (they cover every frequency)."""
    power = np.abs(np.fft.fft2(plane - plane.mean())) ** 2
    r = np.hypot(*np.meshgrid(np.fft.fftfreq(plane.shape[0]), np.fft.fftfreq(plane.shape[1]), indexing="ij"))
    return np.array([power[(r >= lo) & (r < hi)].sum() for lo, hi in zip(BANDS[:-1], BANDS[1:])])


def band_shares(plane: np.ndarray) -> np.ndarray:
    """Share of the (mean-free) power of one (H, W) plane in each band of ``BANDS``."""
    power = band_power(plane)
    return power / power.sum()


DETAIL = (0, 0.5, 0.75, 0.9, 0.97, 1)  # quantiles of the reference's gradient: where the noise is measured


def by_detail(noise: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """The high-passed luma power of `noise` in each gradient quantile band of `clean` (``DETAIL``), over its mean."""
    y = (clean @ LUMA).astype(np.float32)
    z = (noise @ LUMA).astype(np.float32)
    z = z - cv2.GaussianBlur(z, (0, 0), 2.0)  # without the lowest band (a burst mean's own drift)
    ys = cv2.GaussianBlur(y, (0, 0), 1.0)
    grad = np.hypot(cv2.Sobel(ys, cv2.CV_32F, 1, 0), cv2.Sobel(ys, cv2.CV_32F, 0, 1))
    edges = np.quantile(grad, DETAIL)
    power = z * z
    return np.array([power[(grad >= lo) & (grad <= hi)].mean() for lo, hi in zip(edges[:-1], edges[1:])]) / power.mean()


def describe(name: str, noises: list[np.ndarray], cleans: list[np.ndarray]) -> None:
    luma = [n @ LUMA for n in noises]
    chroma = [n[..., 0] - y for n, y in zip(noises, luma)]
    share = np.mean([3 * y.var() / n.var(axis=(0, 1)).sum() for n, y in zip(noises, luma)])  # a gray noise's part
    print(f"{name:<32} std {np.mean([n.std() for n in noises]) * 255:4.1f}  luma share {share:.2f}  "
          f"luma {np.round(np.mean([band_shares(y) for y in luma], 0), 3)}  "
          f"chroma {np.round(np.mean([band_shares(c) for c in chroma], 0), 3)}  "
          f"by detail {np.round(np.mean([by_detail(n, c) for n, c in zip(noises, cleans)], 0), 2)}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("specs", nargs="*", default=list(SPECS), metavar="SPEC")
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--every", type=int, default=5, help="PolyU: every N-th photo (default 5: 20 photos)")
    a = p.parse_args()
    root = Path(a.data_dir)
    print("bands (cycles/pixel): " + "  ".join(f"{lo}-{hi}" for lo, hi in zip(BANDS[:-1], BANDS[1:]))
          + "; by detail: the flattest 50% of pixels, then 50-75, 75-90, 90-97, 97-100%")
    shots = sorted((root / "polyu").glob("*_real.*"))[:: max(1, a.every)]
    if shots:
        refs = [read_image(f.with_name(f.name.replace("_real", "_mean")))[0] for f in shots]
        describe("PolyU (real)", [read_image(f)[0].astype(np.float64) - r for f, r in zip(shots, refs)], refs)
    clean = [read_image(f)[0] for f in find_images([root / "cbsd68"])[:10]]
    for spec in a.specs:
        noisy = [noisy_photo(c, spec, i) for i, c in enumerate(clean)]
        describe(spec, [np.round(n * 255) / 255 - c.astype(np.float64) for n, c in zip(noisy, clean)], clean)


if __name__ == "__main__":
    main()
