"""The wide pass (`daekit denoise --wide`) and its automatic choice (the default) against one pass, by noise level.

    python bench/wide.py [--quick] [--limit 6] [--model photo-real]

Clean photos: PolyU's references (each the mean of a burst from a camera, full resolution: as smooth per pixel
as the photos people take; 6 scenes, every 17th from the 6th, none of bench/real.py's) and, for what the option
is not for, CBSD68's first 6 (film scans), also scaled down 2x after the noise (a photo sent on, made smaller).
Noise: the registry's `camera` noise at ISO 800 to 25600 (some with JPEG) and white Gaussian noise, drawn from
fixed seeds (bench/photo.py's `noisy_photo`); and PolyU's real noise (bench/real.py's 10 photos). Printed per
row: the noisy input, one pass, `--wide`, the default (`auto`: the wide pass where the model's rule asks for it),
the differences to one pass, how many photos auto widened, and the seconds per photo (the anchor is one pass).

Targets (ours, for issue "Real photos"): `--wide` at least 1 dB above one pass on camera photos at ISO 12800 and
25600, in at most 2.5x its time; the default (auto) at least 1 dB above one pass at ISO 12800, and on no row more
than 0.1 dB below one pass on average (light noise, Gaussian noise, scans, scaled-down photos, PolyU).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, parser, result  # noqa: E402
from photo import noisy_photo  # noqa: E402
from real import crop, psnr  # noqa: E402

from daekit.api import Denoiser  # noqa: E402
from daekit.errors import DaekitError  # noqa: E402
from daekit.images import find_images, read_image  # noqa: E402
from daekit.pretrained import default_for  # noqa: E402

CAMERA = ("camera:iso=800", "camera:iso=1600", "camera:iso=3200", "camera:iso=3200,jpeg=90", "camera:iso=6400",
          "camera:iso=12800", "camera:iso=25600", "camera:iso=25600,jpeg=80", "gaussian:5", "gaussian:15", "gaussian:30",
          "half:camera:iso=25600")
SCANS = ("camera:iso=1600", "camera:iso=12800", "camera:iso=25600", "gaussian:15")


def timed(den: Denoiser, x: np.ndarray) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    out = den.denoise_image(x, tile=None)
    return out, time.perf_counter() - t0


def half(a: np.ndarray) -> np.ndarray:
    """`a` scaled down 2x (the mean of each 2 x 2 block)."""
    a = a[: a.shape[0] // 2 * 2, : a.shape[1] // 2 * 2]
    return np.ascontiguousarray((a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2]) / 4, dtype=np.float32)


def pairs_for(kind: str, spec: str, clean: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(noisy, clean) photos of a row; "half:SPEC": the noise at full size, then both scaled down 2x."""
    if spec.startswith("half:"):
        return [(half(noisy_photo(c, spec[5:], i)), half(c)) for i, c in enumerate(clean)]
    return [(noisy_photo(c, spec, i), c) for i, c in enumerate(clean)]


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--limit", type=int, default=6, help="photos of each kind (default 6)")
    p.add_argument("--model", default=default_for(3), help="the model (default: the shipped default for colour photos)")
    a = p.parse_args()
    try:
        dens = [Denoiser.load(a.model, device=a.device, wide=w) for w in (False, True, "auto")]
    except DaekitError as e:
        p.error(f"--model: {e}")
    data = Path(a.data_dir)
    n = 2 if a.quick else a.limit
    refs = sorted((data / "polyu").glob("*_mean.*"))[5::17][:n]
    scans = find_images([data / "cbsd68"])[:n] if (data / "cbsd68").is_dir() else []
    noisy = sorted((data / "polyu").glob("*_real.*"))
    k = 2 if a.quick else 10  # bench/real.py's photos
    real = noisy[:: max(1, len(noisy) // k)][:k]
    if not refs:
        sys.exit(f"no PolyU references (*_mean.*) under {data / 'polyu'}")
    print(f"machine: {machine(a.device)}; model {a.model}; {len(refs)} camera photos, {len(scans)} scans, {len(real)} "
          f"PolyU photos with real noise{' (quick: central 128 x 128 crops)' if a.quick else ''}")
    print(f"\n{'photos':<8}{'noise':<25}{'noisy':>7}{'one pass':>10}{'--wide':>8}{'auto':>7}{'wide-one':>10}{'auto-one':>10}"
          f"{'widened':>9}{'s/photo one':>13}{'wide':>6}{'auto':>6}")
    gains: dict[str, float] = {}
    auto_rows: list[float] = []
    times = [0.0, 0.0]
    rows: list[tuple[str, str, list[tuple[np.ndarray, np.ndarray]]]] = []
    for kind, files, specs in (("camera", refs, CAMERA), ("scans", scans, SCANS)):
        clean = [crop(read_image(f)[0], a.quick) for f in files]
        rows += [(kind, spec, pairs_for(kind, spec, clean)) for spec in (specs if clean else ())]
    if real:
        rows.append(("PolyU", "real", [(crop(read_image(f)[0], a.quick),
                                        crop(read_image(f.with_name(f.name.replace("_real", "_mean")))[0], a.quick))
                                       for f in real]))
    for kind, spec, pairs in rows:
        scores, secs, widened = [], np.zeros(3), 0
        for x, c in pairs:
            outs = []
            for k, den in enumerate(dens):
                y, t = timed(den, x)
                outs.append(psnr(y, c))
                secs[k] += t / len(pairs)
            widened += bool(dens[2].widened)
            scores.append((psnr(x, c), *outs))
        m = np.mean(scores, axis=0)
        print(f"{kind:<8}{spec:<25}{m[0]:7.2f}{m[1]:10.2f}{m[2]:8.2f}{m[3]:7.2f}{m[2] - m[1]:+10.2f}{m[3] - m[1]:+10.2f}"
              f"{f'{widened}/{len(pairs)}':>9}{secs[0]:13.2f}{secs[1]:6.2f}{secs[2]:6.2f}", flush=True)
        auto_rows.append(float(m[3] - m[1]))
        if kind == "camera":
            gains[spec] = float(m[2] - m[1])
            gains["auto " + spec] = float(m[3] - m[1])
            times = [times[0] + secs[0], times[1] + secs[1]]
    result("wide_minus_one_pass_camera_iso12800", gains["camera:iso=12800"], ">=", 1.0, a.quick)
    result("wide_minus_one_pass_camera_iso25600", gains["camera:iso=25600"], ">=", 1.0, a.quick)
    result("wide_time_over_one_pass", times[1] / times[0], "<=", 2.5, a.quick)
    result("auto_minus_one_pass_camera_iso12800", gains["auto camera:iso=12800"], ">=", 1.0, a.quick)
    result("auto_minus_one_pass_worst_row", min(auto_rows), ">=", -0.1, a.quick)


if __name__ == "__main__":
    main()
