"""Gray photos saved as RGB: what `daekit denoise` makes of a black-and-white photo exported in colour.

    python bench/gray_rgb.py [--quick] [--limit 8]

BSD68's gray photos with Gaussian noise (sigma 15 and 25, 8-bit, the seeds of bench/photo.py), each written
twice: as a one-channel PNG and as an RGB PNG of three equal channels (what a photo editor's "export as
colour", a camera's monochrome mode or a scanner set to colour give). Both go through `daekit denoise`'s
own path (``api.denoise_files``, no --model, so the default is picked per file) beside the colour models
named explicitly on the RGB file, which is what the default did before it looked at the channels; and the same
photos toned sepia (each channel a gain and offset of the gray: a toned black-and-white print).

Targets (ours): the RGB file gets what the one-channel file gets (mean PSNR difference >= -0.01 dB); the default
gains >= 4 dB on the sepia file (mean over the sigmas; photo-real, the colour default, gains about 0.6).
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
SEPIA = (np.array([1.0, 0.85, 0.65], np.float32), np.array([0.0, 0.03, 0.06], np.float32))  # per-channel gain, offset


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--limit", type=int, default=8, help="BSD68 photos")
    a = p.parse_args()
    print(f"machine: {machine(a.device)}")
    files = find_images([Path(a.data_dir) / "bsd68"])[: 2 if a.quick else a.limit]
    if not files:
        p.error(f"no photos under {a.data_dir}/bsd68")
    forms = {"gray": lambda g: g, "rgb": lambda g: np.repeat(g, 3, axis=2), "sepia": lambda g: g * SEPIA[0] + SEPIA[1]}
    ways = {"gray file, default": (None, "gray"), "RGB file, default": (None, "rgb"),
            "RGB file, photo-real": ("photo-real", "rgb"), "RGB file, photo-color": ("photo-color", "rgb"),
            "sepia file, default": (None, "sepia"), "sepia file, photo-real": ("photo-real", "sepia")}
    scores = {(s, w): [] for s in SIGMAS for w in ways}
    noisy_scores = {(s, form): [] for s in SIGMAS for form in forms}
    picked: dict[str, set[str]] = {w: set() for w in ways}
    with tempfile.TemporaryDirectory() as tmp:
        for i, f in enumerate(files):
            clean = crop(read_image(f)[0][..., :1], a.quick)
            for s in SIGMAS:
                noisy = np.clip(noisy_image(clean, s, i), 0, 1)  # as a photo holds it, before any toning
                for form, make in forms.items():
                    noisy_scores[(s, form)].append(psnr(np.round(make(noisy) * 255) / 255, make(clean)))
                for w, (model, form) in ways.items():
                    src, dst = Path(tmp) / f"in_{form}.png", Path(tmp) / "out.png"
                    write_image(src, forms[form](noisy).astype(np.float32))  # 8-bit, as a photo file holds it
                    rep = denoise_files(src, dst, model, overwrite=True, device=a.device, progress=False)
                    picked[w].update(k.split(" ")[0] for k in rep["models"])
                    scores[(s, w)].append(psnr(read_image(dst)[0], forms[form](clean)))
    print(f"\nBSD68, {len(files)} photos, mean PSNR (dB) of `daekit denoise`'s output against the clean photo in the file's form")
    print(f"  {'':<24}" + "".join(f"{'sigma ' + str(s):>10}" for s in SIGMAS) + "   model")
    for form in forms:
        print(f"  {'noisy, ' + form:<24}" + "".join(f"{np.mean(noisy_scores[(s, form)]):>10.2f}" for s in SIGMAS))
    for w in ways:
        print(f"  {w:<24}" + "".join(f"{np.mean(scores[(s, w)]):>10.2f}" for s in SIGMAS) + "   " + ", ".join(sorted(picked[w])))
    gap = np.mean([np.mean(scores[(s, "RGB file, default")]) - np.mean(scores[(s, "gray file, default")]) for s in SIGMAS])
    toned = np.mean([np.mean(scores[(s, "sepia file, default")]) - np.mean(noisy_scores[(s, "sepia")]) for s in SIGMAS])
    result("gray_rgb_default_minus_gray_file", gap, ">=", -0.01, a.quick)
    result("gray_sepia_default_gain", toned, ">=", 4.0, a.quick)


if __name__ == "__main__":
    main()
