"""Training without clean images on gray photos, the published protocol: train on BSD400 corrupted once
with Gaussian sigma 25 (`data.noisy_once`: the model never sees a clean image), blind-spot target; test on
BSD68 at sigma 25 (the same noisy images as bench/photo.py), beside BM3D (known sigma) in the same run and
Noise2Void's published 27.71 dB (Krull et al. 2019, BSD68 sigma 25).

    python bench/noclean.py --device cuda --epochs 60      # the real run, on a GPU
    python bench/noclean.py --quick                        # 40 photos, 3 short epochs, 8 test photos: the code path

Targets (issue "Denoising without clean images"): blind-spot >= Noise2Void's 27.71 dB on BSD68 sigma 25;
aim for BM3D. The CPU cannot train this to convergence in a session: record the device and time beside
every figure.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from common import machine, parser, result
from photo import bm3d_method, noisy_image, score

N2V_PUBLISHED = 27.71  # Krull et al. 2019, BSD68, sigma 25
BM3D_PUBLISHED = 28.57  # Zhang et al. 2017, Table II
SIGMA = 25


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--model", default="unet", help="a convolutional model (default unet, residual=false)")
    p.add_argument("--bsd68-limit", type=int, default=None)
    p.add_argument("--no-bm3d", action="store_true")
    a = p.parse_args()
    import daekit
    from daekit.images import read_image

    data = Path(a.data_dir)
    if not (data / "bsd400").is_dir() or not (data / "bsd68").is_dir():
        raise SystemExit(f"bench/noclean.py: needs bsd400/ and bsd68/ under {data}")
    epochs = 3 if a.quick else a.epochs
    sets = ["data.name=bsd400", f"data.dir={data / 'bsd400'}", f"data.noisy_once=gaussian:{SIGMA}", "noise=none",
            "train.target=blind-spot", f"model.name={a.model}", f"train.epochs={epochs}", f"train.device={a.device}",
            "train.batch_size=64", "train.lr=4e-4", "data.patch_size=64"]
    if a.model == "unet":
        sets.append("model.args={residual: false}")  # a blind-spot net predicts the pixel, not the noise
    if a.quick:
        sets += ["data.limit=40", "data.patches_per_epoch=3072"]
    print(f"machine: {machine(a.device)}")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        den = daekit.train(sets=sets + [f"out={tmp}/run"], progress=not a.quick)
        t_train = time.perf_counter() - t0
    photos = sorted((data / "bsd68").glob("*.png"))[: 8 if a.quick else a.bsd68_limit]
    rows = []
    for i, path in enumerate(photos):
        clean, _ = read_image(path)
        noisy = noisy_image(clean, SIGMA, i)
        ours = den.denoise_image(noisy.astype(np.float32), tile=None)
        row = [score(noisy, clean)[0], score(ours, clean)[0]]
        if not a.no_bm3d:
            row.append(score(bm3d_method(noisy, SIGMA), clean)[0])
        rows.append(row)
    m = np.mean(rows, axis=0)
    print(f"\nBSD68 sigma {SIGMA}, {len(photos)} photos (PSNR dB); trained {epochs} epochs in {t_train:.0f} s on {a.device}, "
          "never on a clean image:")
    print(f"  noisy input                 {m[0]:6.2f}")
    print(f"  daekit blind-spot ({a.model})   {m[1]:6.2f}")
    if not a.no_bm3d:
        print(f"  BM3D (known sigma), this run {m[2]:6.2f}   (published {BM3D_PUBLISHED})")
    print(f"  Noise2Void, published       {N2V_PUBLISHED:6.2f}")
    result("blindspot_bsd68_s25_minus_n2v_published", float(m[1] - N2V_PUBLISHED), ">=", 0.0, a.quick)
    if not a.no_bm3d:
        result("blindspot_bsd68_s25_minus_bm3d", float(m[1] - m[2]), ">=", 0.0, a.quick)


if __name__ == "__main__":
    main()
