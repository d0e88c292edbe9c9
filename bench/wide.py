"""The wide pass (`daekit denoise --wide`) against one pass of the default colour model, by noise level.

    python bench/wide.py [--quick] [--limit 6] [--model photo-real]

Clean photos: PolyU's references (each the mean of a burst from a camera, full resolution: as smooth per pixel
as the photos people take; 6 scenes, every 17th from the 6th, none of bench/real.py's) and, for what the option
is not for, CBSD68's first 6 (film scans). Noise: the registry's `camera` noise at ISO 800 to 25600 and white
Gaussian noise, drawn from fixed seeds (bench/photo.py's `noisy_photo`). Printed per noise: the noisy input, one
pass, `--wide`, their difference, and the seconds per photo of each (the anchor is one pass: a ratio).

Targets (ours, for issue "Real photos": an option for night and low-light shots must pay for its time there):
`--wide` at least 1 dB above one pass on camera photos at ISO 12800 and at ISO 25600, in at most 2.5x its time.
Where it is worse (light noise, Gaussian noise, scans) is printed beside them, not hidden.
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

CAMERA = ("camera:iso=800", "camera:iso=3200", "camera:iso=6400", "camera:iso=12800", "camera:iso=25600", "gaussian:15")
SCANS = ("camera:iso=12800", "gaussian:15")


def timed(den: Denoiser, x: np.ndarray) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    out = den.denoise_image(x, tile=None)
    return out, time.perf_counter() - t0


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--limit", type=int, default=6, help="photos of each kind (default 6)")
    p.add_argument("--model", default=default_for(3), help="the model (default: the shipped default for colour photos)")
    a = p.parse_args()
    try:
        one = Denoiser.load(a.model, device=a.device)
        wide = Denoiser.load(a.model, device=a.device, wide=True)
    except DaekitError as e:
        p.error(f"--model: {e}")
    data = Path(a.data_dir)
    n = 2 if a.quick else a.limit
    refs = sorted((data / "polyu").glob("*_mean.*"))[5::17][:n]
    scans = find_images([data / "cbsd68"])[:n] if (data / "cbsd68").is_dir() else []
    if not refs:
        sys.exit(f"no PolyU references (*_mean.*) under {data / 'polyu'}")
    print(f"machine: {machine(a.device)}; model {a.model}; {len(refs)} camera photos, {len(scans)} scans"
          f"{' (quick: central 128 x 128 crops)' if a.quick else ''}")
    print(f"\n{'photos':<8}{'noise':<19}{'noisy':>7}{'one pass':>10}{'--wide':>8}{'wide-one':>10}{'s/photo one':>13}{'wide':>7}")
    gains: dict[str, float] = {}
    times = [0.0, 0.0]
    for kind, files, specs in (("camera", refs, CAMERA), ("scans", scans, SCANS)):
        clean = [crop(read_image(f)[0], a.quick) for f in files]
        for spec in specs if clean else ():
            rows, secs = [], [0.0, 0.0]
            for i, c in enumerate(clean):
                x = noisy_photo(c, spec, i)
                (y1, t1), (y2, t2) = timed(one, x), timed(wide, x)
                rows.append((psnr(x, c), psnr(y1, c), psnr(y2, c)))
                secs[0] += t1 / len(clean)
                secs[1] += t2 / len(clean)
            m = np.mean(rows, axis=0)
            print(f"{kind:<8}{spec:<19}{m[0]:7.2f}{m[1]:10.2f}{m[2]:8.2f}{m[2] - m[1]:+10.2f}{secs[0]:13.2f}{secs[1]:7.2f}",
                  flush=True)
            if kind == "camera":
                gains[spec] = float(m[2] - m[1])
                times = [times[0] + secs[0], times[1] + secs[1]]
    result("wide_minus_one_pass_camera_iso12800", gains["camera:iso=12800"], ">=", 1.0, a.quick)
    result("wide_minus_one_pass_camera_iso25600", gains["camera:iso=25600"], ">=", 1.0, a.quick)
    result("wide_time_over_one_pass", times[1] / times[0], "<=", 2.5, a.quick)


if __name__ == "__main__":
    main()
