"""Camera data of fewer bits in 16-bit files: what `daekit denoise` makes of a microscope's 12-bit frames.

    python bench/bit_depth.py [--quick] [--limit 6]

W2S fluorescence frames (noisy widefield shots; their references are 400-frame means), each as its 8-bit PNG
and written into 16-bit TIFFs at 8, 12, 14 and 16 bits (the same values times 2**bits - 1: what a 12-bit
sCMOS camera's software saves), through `daekit denoise`'s own path (``api.denoise_files``, the default
model); PSNR against the reference, each output read back at its file's depth. Before the sixteenth session a
16-bit file was always read as a fraction of 65535, so 12-bit data looked near-black to the model.

Target (ours): every 16-bit container scores within 0.05 dB of the 8-bit PNG (the worst of them minus it).
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, parser, result  # noqa: E402
from real import psnr  # noqa: E402

from daekit.api import Denoiser, denoise_files  # noqa: E402
from daekit.pretrained import default_for  # noqa: E402
from daekit.images import find_images, read_image  # noqa: E402

BITS = (8, 12, 14, 16)


def main() -> None:
    import tifffile

    p = parser(__doc__.splitlines()[0])
    p.add_argument("--limit", type=int, default=6, help="W2S frames (every 30th of the 180)")
    a = p.parse_args()
    print(f"machine: {machine(a.device)}")
    noisy_files = find_images([Path(a.data_dir) / "w2s" / "noisy"])
    pick = noisy_files[:: max(1, len(noisy_files) // (2 if a.quick else a.limit))][: 2 if a.quick else a.limit]
    if not pick:
        p.error(f"no frames under {a.data_dir}/w2s/noisy")
    rows = {"noisy": [], "8-bit PNG": [], **{f"{b}-bit in a 16-bit TIFF": [] for b in BITS},
            "12-bit read / 65535 (before)": []}
    gray = Denoiser.load(default_for(1), device=a.device)
    with tempfile.TemporaryDirectory() as tmp:
        for f in pick:
            noisy = read_image(f)[0]
            clean = read_image(f.parent.parent / "clean" / f.name)[0]
            rows["noisy"].append(psnr(noisy, clean))
            dst = Path(tmp) / "out.png"
            denoise_files(f, dst, overwrite=True, device=a.device, progress=False)
            rows["8-bit PNG"].append(psnr(read_image(dst)[0], clean))
            for b in BITS:
                top = (1 << b) - 1
                tif, out = Path(tmp) / f"in{b}.tif", Path(tmp) / f"out{b}.tif"
                tifffile.imwrite(tif, np.round(noisy[..., 0] * top).astype(np.uint16), photometric="minisblack")
                denoise_files(tif, out, overwrite=True, device=a.device, progress=False)
                rows[f"{b}-bit in a 16-bit TIFF"].append(psnr(tifffile.imread(out)[..., None] / top, clean))
            twelve = np.round(noisy * 4095) / 65535  # the old reading: near-black
            rows["12-bit read / 65535 (before)"].append(psnr(gray.denoise_image(twelve.astype(np.float32)) * 65535 / 4095, clean))
    print(f"\nW2S, {len(pick)} frames, mean PSNR (dB) against the 400-frame mean, default model")
    for k, v in rows.items():
        print(f"  {k:<30} {np.mean(v):6.2f}")
    worst = min(np.mean(rows[f"{b}-bit in a 16-bit TIFF"]) for b in BITS) - np.mean(rows["8-bit PNG"])
    result("bit_depth_worst_container_minus_png", worst, ">=", -0.05, a.quick)


if __name__ == "__main__":
    main()
