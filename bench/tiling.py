"""Images of any size: peak memory of `daekit denoise` on an 8192 x 8192 gray photo, and tiled vs whole output.

An 8192 x 8192 noisy gray image (the 'camera' photograph tiled 16 x 16, Gaussian sigma 25) is written
to a temporary folder and denoised by the CLI in a child process (`python -m daekit denoise big.png -o
clean.tif`, shipped photo-gray model, automatic tile size, TIFF written band by band); its peak
resident memory is the child's own high-water mark (VmHWM, ``common.run_daekit``). The anchor is the size of the image
itself: a float32 copy of the input alone is 256 MiB. Then a 1024 x 1024 image is denoised whole and
in 256-pixel tiles, and the largest absolute difference is printed.

    python bench/tiling.py [--quick]          (--quick: 2048 x 2048)

Targets: peak RSS <= 1.5 GB for 8192 x 8192; tiled vs whole max abs difference <= 1e-4.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, parser, result, run_daekit  # noqa: E402

from daekit.api import Denoiser  # noqa: E402


def noisy_camera(side: int) -> np.ndarray:
    from skimage import data

    cam = data.camera().astype(np.float32)  # 512 x 512
    reps = -(-side // cam.shape[0])
    big = np.tile(cam, (reps, reps))[:side, :side]
    rng = np.random.default_rng(0)
    for y in range(0, side, 1024):  # in bands: a float64 noise field of 8192^2 would be 512 MiB by itself
        big[y : y + 1024] += rng.normal(0, 25, big[y : y + 1024].shape).astype(np.float32)
    return np.clip(big, 0, 255).astype(np.uint8)


def main() -> None:
    a = parser(__doc__.splitlines()[0]).parse_args()
    side = 2048 if a.quick else 8192
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "big.png", Path(tmp) / "clean.tif"
        cv2.imwrite(str(src), noisy_camera(side))
        proc, seconds, peak_gb = run_daekit(["denoise", str(src), "-o", str(dst), "--device", a.device])
        if proc.returncode != 0:
            sys.exit(f"denoise failed: {proc.stderr.strip().splitlines()[-1]}")
        out = cv2.imread(str(dst), cv2.IMREAD_UNCHANGED)
        assert out is not None and out.shape == (side, side), "output missing or of the wrong size"
    print(f"{side} x {side} gray: peak RSS {peak_gb:.2f} GB (float32 copy of the image: {side * side * 4 / 2**30:.2f} GiB), "
          f"{seconds:.0f} s ({side * side / seconds / 1e6:.2f} Mpx/s)")

    den = Denoiser.load("photo-gray", device=a.device)
    img = noisy_camera(1024)[..., None].astype(np.float32) / 255
    whole = den.denoise_image(img, tile=0)
    tiled = den.denoise_image(img, tile=256)
    diff = float(np.abs(whole - tiled).max())
    print(f"1024 x 1024, 256-pixel tiles vs whole image: max abs difference {diff:.2e}")
    result("tiling_peak_rss_gb" + ("" if side == 8192 else f"_{side}"), peak_gb, "<=", 1.5, a.quick)
    result("tiling_tiled_vs_whole_maxabs", diff, "<=", 1e-4, a.quick)


if __name__ == "__main__":
    main()
