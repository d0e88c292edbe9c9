"""Gray photos saved as RGB: what `daekit denoise` makes of a black-and-white photo exported in colour.

    python bench/gray_rgb.py [--quick] [--limit 8]

BSD68's gray photos with Gaussian noise (sigma 15 and 25, 8-bit, the seeds of bench/photo.py), each written
twice: as a one-channel PNG and as an RGB PNG of three equal channels (what a photo editor's "export as
colour", a camera's monochrome mode or a scanner set to colour give). Both go through `daekit denoise`'s
own path (``api.denoise_files``, no --model, so the default is picked per file) beside the colour models
named explicitly on the RGB file, which is what the default did before it looked at the channels.

Target (ours): the RGB file gets what the one-channel file gets (mean PSNR difference >= -0.01 dB).
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, parser, result  # noqa: E402
from photo import noisy_image  # noqa: E402
from real import crop, psnr  # noqa: E402

from daekit.api import denoise_files  # noqa: E402
from daekit.images import find_images, read_image, write_image  # noqa: E402

SIGMAS = (15, 25)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--limit", type=int, default=8, help="BSD68 photos")
    a = p.parse_args()
    print(f"machine: {machine(a.device)}")
    files = find_images([Path(a.data_dir) / "bsd68"])[: 2 if a.quick else a.limit]
    if not files:
        p.error(f"no photos under {a.data_dir}/bsd68")
    ways = {"gray file, default": (None, 1), "RGB file, default": (None, 3),
            "RGB file, photo-real": ("photo-real", 3), "RGB file, photo-color": ("photo-color", 3)}
    scores = {(s, w): [] for s in SIGMAS for w in ways}
    noisy_scores = {s: [] for s in SIGMAS}
    picked: dict[str, set[str]] = {w: set() for w in ways}
    with tempfile.TemporaryDirectory() as tmp:
        for i, f in enumerate(files):
            clean = crop(read_image(f)[0][..., :1], a.quick)
            for s in SIGMAS:
                noisy = np.round(noisy_image(clean, s, i) * 255) / 255
                noisy_scores[s].append(psnr(noisy, clean))
                for w, (model, channels) in ways.items():
                    src, dst = Path(tmp) / f"in{channels}.png", Path(tmp) / "out.png"
                    write_image(src, np.repeat(noisy, channels, axis=2).astype(np.float32))
                    rep = denoise_files(src, dst, model, overwrite=True, device=a.device, progress=False)
                    picked[w].update(k.split(" ")[0] for k in rep["models"])
                    out = read_image(dst)[0]
                    scores[(s, w)].append(psnr(out.mean(axis=2, keepdims=True), clean))
    print(f"\nBSD68, {len(files)} photos, mean PSNR (dB) of `daekit denoise`'s output")
    print(f"  {'':<24}" + "".join(f"{'sigma ' + str(s):>10}" for s in SIGMAS) + "   model")
    print(f"  {'noisy':<24}" + "".join(f"{np.mean(noisy_scores[s]):>10.2f}" for s in SIGMAS))
    for w in ways:
        print(f"  {w:<24}" + "".join(f"{np.mean(scores[(s, w)]):>10.2f}" for s in SIGMAS) + "   " + ", ".join(sorted(picked[w])))
    gap = np.mean([np.mean(scores[(s, "RGB file, default")]) - np.mean(scores[(s, "gray file, default")]) for s in SIGMAS])
    result("gray_rgb_default_minus_gray_file", gap, ">=", -0.01, a.quick)


if __name__ == "__main__":
    main()
