"""What in real camera noise a model fails on: the model on PolyU's scenes with their real noise, with that noise
reshuffled, and with synthetic noise -- for choosing the next training recipe.

    python tools/noise_probe.py [--model photo-real] [--data-dir ../shared/data] [--limit 10] [--align] [SPEC ...]

The clean scene is PolyU's reference (the mean of a burst) of the bench's photos (every tenth); each row adds
a noise to it and prints the noise's std (0-255), the model's gain (output minus input PSNR, dB) and the
share of the noise's luma power left in each band of radial frequency (cycles per pixel, as
tools/noise_spectrum.py). Rows:

* real: the photo's own noise (the noisy shot minus the reference), i.e. the photo as shot;
* real, rotated 180: the same noise turned half a turn, so that it no longer lines up with its scene;
* real, phase randomised: the same power spectrum and the same mix of channels, its spatial structure
  (where in the photo it lies, its shapes) drawn anew;
* real, luma only / colour only: the noise's mean over the channels, the same in each, and what is left;
* each SPEC (default: `camera` at ISO 3200, and with edge-aware noise reduction at the same std; white
  Gaussian noise at about the real noise's std, independent per channel and the same in every channel).

PolyU's noisy shots sit up to half a pixel off their references (a burst drifts): along every edge the
difference is then part of the "noise", lined up with the scene, which no denoiser can remove. `--align`
first shifts each reference onto its shot (the sub-pixel translation that fits best; 8 border pixels left out).

A recipe is close to the real noise where the model's gain and left-over shares on it come near the real
row's; what the rotated and phase-randomised rows gain over the real one is what the real noise's placement
and structure cost the model. Measured (fifteenth session, docs/benchmarks.md): photo-real gains +1.59 on
the real noise, +2.21 rotated, +2.69 phase randomised and +4.72 on `camera:iso=3200` at about the same std
(+1.79 / +2.47 / +2.84 / +4.75 with `--align`). Sixteenth session (aligned): its luma alone +1.77, its colour
part alone +0.00 (what photo-real misses is luma noise); white noise of the same std +8.60, the same in every
channel (`gaussian-gray`) +5.32: noise without colour noise beside it is what the colour models take for detail.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from skimage.metrics import peak_signal_noise_ratio as psnr

from daekit.api import Denoiser
from daekit.images import read_image
from noise_spectrum import BANDS, LUMA, band_power

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from photo import noisy_photo  # noqa: E402

SPECS = ("camera:iso=3200", "camera:iso=25600,flat=0.8", "gaussian:3.5", "gaussian-gray:3.5")


def phase_randomised(noise: np.ndarray, seed: int) -> np.ndarray:
    """`noise` (H, W, C) with one random phase added to every channel's spectrum: same spectra and cross-spectra."""
    white = np.random.default_rng(seed).normal(size=noise.shape[:2])
    phase = np.exp(1j * np.angle(np.fft.fft2(white)))[..., None]  # Hermitian: the result stays real
    return np.real(np.fft.ifft2(np.fft.fft2(noise, axes=(0, 1)) * phase, axes=(0, 1)))


def _shift(x: np.ndarray, dx: float, dy: float) -> np.ndarray:
    return cv2.warpAffine(x, np.float32([[1, 0, dx], [0, 1, dy]]), x.shape[1::-1], flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REFLECT)


def aligned(noisy: np.ndarray, clean: np.ndarray, border: int = 8, reach: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """`clean` shifted onto `noisy` (the sub-pixel translation, within `reach` pixels in steps of 1/8, that brings
    the two closest once both are smoothed against the noise), both without `border` pixels. A search, not
    OpenCV's phase correlation, whose sub-pixel estimate is off by half or more on smooth photos."""
    luma = LUMA.astype(np.float32)
    crop = (slice(border, -border), slice(border, -border))
    ref = cv2.GaussianBlur(clean.astype(np.float32) @ luma, (0, 0), 1.0)
    shot = cv2.GaussianBlur(noisy.astype(np.float32) @ luma, (0, 0), 1.0)[crop]
    steps = np.arange(-reach, reach + 1e-9, 0.125)
    _, dx, dy = min((float(np.mean((_shift(ref, dx, dy)[crop] - shot) ** 2)), dx, dy) for dx in steps for dy in steps)
    return noisy[crop], _shift(clean.astype(np.float32), dx, dy)[crop].astype(np.float64)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("specs", nargs="*", default=list(SPECS), metavar="SPEC")
    p.add_argument("--model", default="photo-real")
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--limit", type=int, default=10, help="PolyU photos (every tenth, as bench/real.py picks them)")
    p.add_argument("--align", action="store_true", help="shift each reference onto its noisy shot first")
    a = p.parse_args()
    shots = sorted((Path(a.data_dir) / "polyu").glob("*_real.*"))
    shots = shots[:: max(1, len(shots) // a.limit)][: a.limit]
    if not shots:
        p.error(f"no PolyU photos under {a.data_dir}/polyu")
    pairs = [(read_image(f)[0].astype(np.float64), read_image(f.with_name(f.name.replace("_real", "_mean")))[0].astype(np.float64))
             for f in shots]
    if a.align:
        pairs = [aligned(n, c) for n, c in pairs]
    den = Denoiser.load(a.model)

    def luma_only(i: int, z: np.ndarray, c: np.ndarray) -> np.ndarray:  # the same in every channel
        return np.repeat(z.mean(axis=2, keepdims=True), z.shape[2], axis=2)

    def synthetic(spec: str):
        return lambda i, z, c: noisy_photo(c, spec, i).astype(np.float64) - c

    rows = {"real": lambda i, z, c: z, "real, rotated 180": lambda i, z, c: z[::-1, ::-1],
            "real, phase randomised": lambda i, z, c: phase_randomised(z, i), "real, luma only": luma_only,
            "real, colour only": lambda i, z, c: z - luma_only(i, z, c), **{s: synthetic(s) for s in a.specs}}
    print(f"{a.model} on {len(pairs)} PolyU scenes (their references{', aligned' if a.align else ''}); share of the noise's luma power left per band "
          + " ".join(f"{lo}-{hi}" for lo, hi in zip(BANDS[:-1], BANDS[1:])))
    for name, make in rows.items():
        gains, stds, noise_p, left_p = [], [], 0, 0
        for i, (noisy, clean) in enumerate(pairs):
            x = np.clip(clean + make(i, noisy - clean, clean), 0, 1).astype(np.float32)
            out = den.denoise_image(x, tile=None)
            gains.append(psnr(clean, out.astype(np.float64), data_range=1) - psnr(clean, x.astype(np.float64), data_range=1))
            stds.append(255 * float(np.std(x - clean)))
            noise_p = noise_p + band_power((x - clean) @ LUMA)
            left_p = left_p + band_power((out - clean) @ LUMA)
        print(f"  {name:<32} std {np.mean(stds):4.1f}  gain {np.mean(gains):+5.2f}  left {np.round(left_p / noise_p, 2)}")


if __name__ == "__main__":
    main()
