"""Gray photos with a camera's noise: the default `daekit denoise` picks for them against photo-gray.

    python bench/gray_camera.py [--quick] [--polyu-limit 100] [--limit 6] [--gaussian-limit 20] [--model photo-real]

A black-and-white photo from a camera or phone (its monochrome mode, or a colour photo made gray) carries the
camera's noise: demosaicked, so correlated between neighbouring pixels. photo-gray was trained on white Gaussian
noise and hardly removes it; photo-real, given the gray image in its three channels, does. The default for a gray
image is therefore picked by its noise (``pretrained.default_for_image``: photo-real where the noise's neighbour
correlation, ``noise_estimate.neighbour_correlation``, is above ``pretrained.CAMERA_NOISE``, else photo-gray),
which must leave the gray Gaussian figures (BSD68, Set12) where photo-gray has them.

Rows, all made gray (the mean of the channels; PSNR against the clean photo made gray the same way):
PolyU's photos with real camera noise (their references the means of a burst); PolyU references (6, every 17th
from the 6th: bench/wide.py's) and CBSD68 film scans (first 6) with the registry's `camera` noise (bench/photo.py's
`noisy_photo`); BSD68 and Set12 with white Gaussian noise (bench/photo.py's `noisy_image`, its seeds); W2S
microscopy frames (real shot noise, white). Printed: noisy, photo-gray, photo-real (one pass), the default as
`daekit denoise` runs it (photo-real with its automatic wide pass, judged on the luma), the default minus
photo-gray, how many photos went to photo-real and how many of those got the wide pass.

Targets (ours, issue "Real photos"): on PolyU's real noise the default >= 1 dB above photo-gray; on BSD68 and
Set12 at sigma 15 / 25 / 50 no row below photo-gray by more than 0.05 dB.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, parser, result  # noqa: E402
from photo import noisy_image, noisy_photo  # noqa: E402
from real import crop, psnr  # noqa: E402

from daekit.api import Denoiser  # noqa: E402
from daekit.errors import DaekitError  # noqa: E402
from daekit.images import find_images, read_image  # noqa: E402
from daekit.pretrained import DEFAULT_GRAY, DEFAULT_RGB, default_for_image  # noqa: E402

CAMERA = ("camera:iso=800", "camera:iso=3200", "camera:iso=3200,jpeg=90", "camera:iso=12800", "camera:iso=25600")
SCANS = ("camera:iso=800", "camera:iso=12800")
SIGMAS = (5, 15, 25, 50)


def photo(path: Path, quick: bool) -> np.ndarray:
    img, _ = read_image(path)
    return crop(np.ascontiguousarray(img[..., :3], dtype=np.float32), quick)


def gray(a: np.ndarray) -> np.ndarray:
    """A photo made gray: the mean of its channels."""
    return np.ascontiguousarray(a.mean(axis=2, keepdims=True), dtype=np.float32)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--polyu-limit", type=int, default=100, help="PolyU photos with real noise (default all 100)")
    p.add_argument("--limit", type=int, default=6, help="clean camera photos and scans with camera noise")
    p.add_argument("--gaussian-limit", type=int, default=20, help="BSD68 photos with Gaussian noise (Set12: all)")
    p.add_argument("--model", default=DEFAULT_RGB, help="where gray photos with a camera's noise go (default: the "
                   "shipped photo-real; a run folder or checkpoint to check a candidate)")
    a = p.parse_args()
    data = Path(a.data_dir)
    try:
        dens = {DEFAULT_GRAY: Denoiser.load(DEFAULT_GRAY, device=a.device),
                DEFAULT_RGB: Denoiser.load(a.model, device=a.device, wide=False)}  # one pass
        auto = Denoiser.load(a.model, device=a.device)  # the default's: wide="auto"
    except DaekitError as e:
        p.error(f"--model: {e}")
    quick = a.quick
    n = 2 if quick else a.limit
    print(f"machine: {machine(a.device)}; gray camera photos go to {a.model}{' (quick: central 128 x 128 crops)' if quick else ''}")
    print(f"\n{'photos':<14}{'noise':<25}{'noisy':>7}{DEFAULT_GRAY:>12}{DEFAULT_RGB:>12}{'default':>9}{'default-gray':>14}"
          f"{'to photo-real':>15}{'widened':>9}")
    table: dict[tuple[str, str], float] = {}

    def row(kind: str, noise: str, pairs: list[tuple[np.ndarray, np.ndarray]]) -> None:
        scores, routed, widened = [], 0, 0
        for x, clean in pairs:
            pick = default_for_image(x)
            outs = {name: den.denoise_image(x) for name, den in dens.items()}
            if pick == DEFAULT_RGB:
                routed += 1
                out = auto.denoise_image(x)
                widened += bool(auto.widened)
            else:
                out = outs[pick]
            scores.append([psnr(x, clean), psnr(outs[DEFAULT_GRAY], clean), psnr(outs[DEFAULT_RGB], clean),
                           psnr(out, clean)])
        m = np.mean(scores, axis=0)
        table[kind, noise] = m[3] - m[1]
        print(f"{kind:<14}{noise:<25}{m[0]:7.2f}{m[1]:12.2f}{m[2]:12.2f}{m[3]:9.2f}{m[3] - m[1]:+14.2f}"
              f"{f'{routed}/{len(pairs)}':>15}{widened:>9}", flush=True)

    noisy = sorted((data / "polyu").glob("*_real.*"))[: 2 if quick else a.polyu_limit]
    if not noisy:
        sys.exit(f"no PolyU photos (*_real.*) under {data / 'polyu'}")
    row("PolyU", "real", [(gray(photo(f, quick)), gray(photo(f.with_name(f.name.replace("_real", "_mean")), quick)))
                          for f in noisy])
    refs = [photo(f, quick) for f in sorted((data / "polyu").glob("*_mean.*"))[5::17][:n]]
    for spec in CAMERA:  # the colour sensor's noise, then made gray (a monochrome mode, an editor's conversion)
        row("camera", spec, [(gray(noisy_photo(c, spec, i)), gray(c)) for i, c in enumerate(refs)])
    scans = [photo(f, quick) for f in find_images([data / "cbsd68"])[:n]]
    for spec in SCANS:
        row("scans", spec, [(gray(noisy_photo(c, spec, i)), gray(c)) for i, c in enumerate(scans)])
    for name, limit in (("bsd68", 2 if quick else a.gaussian_limit), ("set12", 2 if quick else None)):
        photos = [gray(photo(f, quick)) for f in find_images([data / name])[:limit]]
        for sigma in SIGMAS:  # clipped to [0, 1], as a file holds it
            row(name, f"gaussian:{sigma}", [(np.clip(noisy_image(c, sigma, i), 0, 1), c) for i, c in enumerate(photos)])
    w2s = find_images([data / "w2s" / "noisy"])[: 2 if quick else 10]
    row("W2S", "real (microscope)", [(gray(photo(f, quick)), gray(photo(data / "w2s" / "clean" / f.name, quick)))
                                     for f in w2s])

    result("gray_default_minus_photo_gray_polyu_real", table["PolyU", "real"], ">=", 1.0, quick)
    worst = min(v for (kind, noise), v in table.items() if kind in ("bsd68", "set12") and noise != "gaussian:5")
    result("gray_default_minus_photo_gray_gaussian_worst_row", worst, ">=", -0.05, quick)


if __name__ == "__main__":
    main()
