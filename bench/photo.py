"""Photo denoising: the shipped photo-gray model vs BM3D vs non-local means, on BSD68 and Set12.

Gaussian noise at sigma 15, 25 and 50 (0-255 scale), unclipped, one fixed seed per (image, sigma); the
three methods see the same noisy images on the same CPU. BM3D (the `bm3d` package, non-commercial
licence) and NLM (scikit-image, h = 0.8 sigma, the usual setting with a known sigma) are given the
true sigma; the shipped model is blind and is not told it. Seconds per image are wall times of the
whole call (the model: torch on all of this machine's threads; BM3D's own binary).

    python bench/photo.py [--quick] [--data-dir ../shared/data] [--sets bsd68,set12] [--ensemble 1,8]
                          [--precision auto|fp32|bf16]

`--ensemble 1,8` adds the model's quality mode (the average over 8 flips/rotations, 8 times slower) as
a second column with its own target lines (suffix `_x8`). `--precision` as in `daekit denoise`: auto
is bf16 on CPUs with AMX (this project's machine), else fp32.
The set `color` (not in the default run) is scikit-image's bundled color photos (astronaut, chelsea,
coffee, motorcycle, rocket): `--rgb-model` (photo-rgb) vs CBM3D (`bm3d.bm3d_rgb`) vs NLM; no target,
it measures the shipped color model for `daekit models`.

Targets (issue "photos of any size"): PSNR above BM3D at every sigma on both sets, at >= 10x BM3D's
speed (bar); BSD68 sigma=25 >= 29.23 dB, DnCNN-S's published figure (goal). Published figures are
printed beside ours.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, parser, result  # noqa: E402

from daekit.api import Denoiser  # noqa: E402
from daekit.ensemble import check_size  # noqa: E402
from daekit.errors import DaekitError  # noqa: E402
from daekit.images import find_images, read_image  # noqa: E402
from daekit.metrics import psnr, ssim  # noqa: E402
from daekit.noise import make_generator, parse_noise  # noqa: E402
from daekit.runtime import check_precision  # noqa: E402

SIGMAS = (15, 25, 50)
# Published PSNR (dB): BM3D and DnCNN-S as reported in Zhang et al. 2017 (DnCNN), Tables II and III
PUBLISHED = {
    ("bsd68", "BM3D"): {15: 31.07, 25: 28.57, 50: 25.62},
    ("bsd68", "DnCNN-S"): {15: 31.73, 25: 29.23, 50: 26.23},
    ("set12", "BM3D"): {15: 32.37, 25: 29.97, 50: 26.72},
    ("set12", "DnCNN-S"): {15: 32.86, 25: 30.44, 50: 27.18},
}


def noisy_image(clean: np.ndarray, sigma: int, index: int) -> np.ndarray:
    rng = np.random.default_rng([2024, sigma, index])
    return (clean + rng.normal(0.0, sigma / 255.0, clean.shape)).astype(np.float32)


def noisy_photo(clean: np.ndarray, spec: str, seed: int) -> np.ndarray:
    """An (H, W, C) photo in [0, 1] with the registry's noise `spec` (e.g. ``camera:iso=3200``) drawn from `seed`."""
    x = torch.from_numpy(np.ascontiguousarray(clean, dtype=np.float32)).permute(2, 0, 1)[None]
    return parse_noise(spec)(x, make_generator(seed))[0].permute(1, 2, 0).numpy()


COLOR_PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "rocket.jpg")


def color_photos() -> list[Path]:
    """scikit-image's bundled color photos (installed with it: no download)."""
    import skimage

    return [Path(skimage.__file__).parent / "data" / name for name in COLOR_PHOTOS]


def bm3d_method(noisy: np.ndarray, sigma: int) -> np.ndarray:
    import bm3d

    if noisy.shape[2] == 3:  # CBM3D: BM3D in an opponent color space
        return np.asarray(bm3d.bm3d_rgb(noisy, sigma / 255.0), dtype=np.float32)
    return np.asarray(bm3d.bm3d(noisy[..., 0], sigma / 255.0), dtype=np.float32)[..., None]


def nlm_method(noisy: np.ndarray, sigma: int) -> np.ndarray:
    from skimage.restoration import denoise_nl_means

    s = sigma / 255.0
    out = denoise_nl_means(noisy, h=0.8 * s, sigma=s, patch_size=5, patch_distance=6, fast_mode=True, channel_axis=-1)
    return out.reshape(noisy.shape).astype(np.float32)


def model_name(n: int) -> str:
    """The column of the model in self-ensemble mode x`n`."""
    return "daekit" if n == 1 else f"daekit x{n}"


def mode_tag(n: int) -> str:
    """Suffix of mode x`n`'s RESULT lines: none for the default mode (x1), so its names stay as they were."""
    return "" if n == 1 else f"_x{n}"


def score(out: np.ndarray, clean: np.ndarray) -> tuple[float, float]:
    import torch

    a = torch.from_numpy(np.clip(out, 0, 1)).permute(2, 0, 1)[None]
    b = torch.from_numpy(clean).permute(2, 0, 1)[None]
    return float(psnr(a, b)[0]), float(ssim(a, b)[0])


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--sets", default="bsd68,set12", help="comma-separated folders under --data-dir")
    p.add_argument("--model", default="photo-gray", help="shipped model name or run folder (default photo-gray)")
    p.add_argument("--rgb-model", default="photo-rgb", help="model for the color set (default photo-rgb)")
    p.add_argument("--no-bm3d", action="store_true", help="skip BM3D (if the bm3d package is not installed)")
    p.add_argument("--ensemble", default="1", metavar="N[,N]",
                   help="the model's self-ensemble sizes, one column each: 1 (default), 2, 4, 8; e.g. 1,8")
    p.add_argument("--precision", default="auto", help="the model's precision: auto (default), fp32, bf16")
    a = p.parse_args()
    try:
        sizes = [check_size(int(n)) for n in a.ensemble.split(",")]
        check_precision(a.precision)
    except (ValueError, DaekitError) as e:
        p.error(f"--ensemble/--precision: {e}")
    gray = {n: Denoiser.load(a.model, device=a.device, ensemble=n, precision=a.precision) for n in sizes}
    set_names = [s.strip() for s in a.sets.split(",") if s.strip()]
    color = {n: Denoiser.load(a.rgb_model, device=a.device, ensemble=n, precision=a.precision) for n in sizes} if "color" in set_names else {}

    def ours(n: int):  # as `daekit denoise` runs it: the automatic tile size (tiled output equals whole, tested)
        return lambda x, s: (color[n] if x.shape[2] == 3 else gray[n]).denoise_image(x)

    methods = {model_name(n): ours(n) for n in sizes}
    if not a.no_bm3d:
        methods["BM3D"] = bm3d_method
    methods["NLM"] = nlm_method
    print(f"machine: {machine(a.device)}; models {a.model} (gray), {a.rgb_model} (color); precision {a.precision} "
          f"({str(gray[sizes[0]].compute_dtype).replace('torch.', '')}); self-ensemble {', '.join(f'x{n}' for n in sizes)}")
    table: dict[tuple[str, str, int], list[tuple[float, float, float]]] = {}
    for set_name in set_names:
        files = color_photos() if set_name == "color" else find_images([Path(a.data_dir) / set_name])
        if a.quick:
            files = files[:2]
        for i, f in enumerate(files):
            clean = read_image(f)[0]
            for sigma in SIGMAS:
                noisy = noisy_image(clean, sigma, i)
                for name, fn in methods.items():
                    t0 = time.perf_counter()
                    out = fn(noisy, sigma)
                    sec = time.perf_counter() - t0
                    table.setdefault((set_name, name, sigma), []).append((*score(out, clean), sec))
        print(f"\n{set_name} ({len(files)} images{', quick' if a.quick else ''}): PSNR dB / SSIM / s per image")
        head = f"{'sigma':>6}" + "".join(f"{m:>24}" for m in methods) + "".join(f"{'pub. ' + k[1]:>16}" for k in PUBLISHED if k[0] == set_name)
        print(head)
        for sigma in SIGMAS:
            row = f"{sigma:>6}"
            for m in methods:
                v = np.array(table[(set_name, m, sigma)])
                row += f"{v[:, 0].mean():>10.2f} {v[:, 1].mean():.4f} {v[:, 2].mean():>6.2f}s"
            row += "".join(f"{PUBLISHED[k][sigma]:>16.2f}" for k in PUBLISHED if k[0] == set_name)
            print(row, flush=True)

    def mean(set_name: str, m: str, sigma: int, col: int) -> float:
        return float(np.mean([r[col] for r in table[(set_name, m, sigma)]]))

    sets = sorted({k[0] for k in table} - {"color"})  # the targets are on the gray sets
    if "BM3D" in methods and sets:
        bsecs = [r[2] for k, v in table.items() if k[1] == "BM3D" and k[0] in sets for r in v]
        for n in sizes:  # one set of target lines per mode
            m, tag = model_name(n), mode_tag(n)
            for s in sets:
                for sigma in SIGMAS:
                    gap = mean(s, m, sigma, 0) - mean(s, "BM3D", sigma, 0)
                    result(f"photo_psnr_minus_bm3d_{s}_s{sigma}{tag}", gap, ">", 0.0, a.quick)
            secs = [r[2] for k, v in table.items() if k[1] == m and k[0] in sets for r in v]
            result(f"photo_speedup_vs_bm3d{tag}", float(np.sum(bsecs) / np.sum(secs)), ">=", 10.0, a.quick)
    if "bsd68" in sets:
        for n in sizes:
            result(f"photo_bsd68_s25_psnr_goal{mode_tag(n)}", mean("bsd68", model_name(n), 25, 0), ">=", 29.23, a.quick)


if __name__ == "__main__":
    main()
