"""Training without clean images on gray photos, the published protocol: train on BSD400 corrupted with
Gaussian sigma 25 drawn once per image (`data.noisy_once`: the model never sees a clean image); test on
BSD68 at sigma 25 (the same noisy images as bench/photo.py), beside BM3D (known sigma) in the same run and
Noise2Void's published 27.71 dB (Krull et al. 2019, BSD68 sigma 25).

Four trainings of the same length, each scored the same way:
* blind-spot: one noisy copy of each photo (`data.noisy_once=gaussian:25`), its own hidden pixels as targets;
* neighbor2neighbor: the same one noisy copy, split into neighbouring half-size sub-images, one the target of
  the other (its 128-pixel patches give the 64-pixel inputs the others train on);
* noise2noise: two noisy copies of each photo, drawn once (`data.noisy_copies=2`), one the target of the other;
* supervised: clean photos with fresh sigma-25 noise at every step (what noise2noise is measured against).

    python bench/noclean.py --device cuda --epochs 60      # the real run, on a GPU
    python bench/noclean.py --epochs 40 --patches 4096 --out runs/noclean   # docs/benchmarks.md's CPU run (~1 h)
    python bench/noclean.py --epochs 40 --patches 4096 --out runs/noclean --reuse   # score those runs again
    python bench/noclean.py --quick                        # 40 photos, 1 short epoch each, 8 test photos: the code path

Targets (issue "Denoising without clean images"): training on one noisy copy of each photo >= Noise2Void's
27.71 dB on BSD68 sigma 25 (aim for BM3D), one RESULT line for each of blind-spot and neighbor2neighbor;
noise2noise within 0.3 dB of supervised trained the same way. Record the device and the
training time beside every figure.
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


MODES = {  # name -> the settings that make it (on top of the shared ones)
    "blind-spot": [f"data.noisy_once=gaussian:{SIGMA}", "noise=none", "train.target=blind-spot"],
    "noise2noise": [f"data.noisy_once=gaussian:{SIGMA}", "data.noisy_copies=2", "noise=none", "train.target=noise2noise"],
    # 128-pixel patches: its half-size sub-images are the 64-pixel inputs the other modes train on
    "neighbor2neighbor": [f"data.noisy_once=gaussian:{SIGMA}", "noise=none", "train.target=neighbor2neighbor", "data.patch_size=128"],
    "supervised": [f"noise=gaussian:{SIGMA}", "train.target=clean"],
}


def kept(run: Path, sets: list[str]):
    """A finished run kept by an earlier --out, if it was trained with `sets`: (its Denoiser, its training seconds)."""
    import json

    import daekit
    from daekit.config import config_to_dict, resolve_config

    want = config_to_dict(resolve_config(sets=sets + [f"out={run}"]))
    have = config_to_dict(resolve_config(run / "config.yaml"))
    differ = [k for k in want if not isinstance(want[k], dict) and want[k] != have.get(k)]
    differ += [f"{k}.{j}" for k in want if isinstance(want[k], dict) for j in want[k] if want[k][j] != have[k].get(j)]
    if differ:
        raise SystemExit(f"bench/noclean.py: --reuse: {run} was trained with other settings ({', '.join(differ)}); drop --reuse")
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    if len(rows) < want["train"]["epochs"]:
        raise SystemExit(f"bench/noclean.py: --reuse: {run} ran {len(rows)} of {want['train']['epochs']} epochs; resume it first")
    print(f"{run}: reused (trained earlier)")
    return daekit.load(run), sum(r["seconds"] for r in rows)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--patches", type=int, default=None, help="training patches per epoch (default: 256 per photo, capped by device)")
    p.add_argument("--modes", default="neighbor2neighbor,blind-spot,noise2noise,supervised", help=f"comma-separated: {', '.join(MODES)}")
    p.add_argument("--model", default="unet", help="a convolutional model (default unet)")
    p.add_argument("--bsd68-limit", type=int, default=None)
    p.add_argument("--no-bm3d", action="store_true")
    p.add_argument("--out", metavar="DIR", help="keep each mode's trained run in DIR/<mode> (default: temporary folders)")
    p.add_argument("--reuse", action="store_true", help="with --out: score a mode's run already kept there (its config "
                   "must match this command's) instead of training it again; its training time is read from its metrics")
    p.add_argument("--n2v2", action="store_true", help="blind-spot with N2V2's fixes (blur pooling, no top skip, median fill), "
                   "not plain Noise2Void (at CPU length N2V2 scored lower on BSD68: docs/benchmarks.md)")
    a = p.parse_args()
    import daekit
    from daekit.images import read_image

    if a.reuse and not a.out:
        raise SystemExit("bench/noclean.py: --reuse scores the runs kept in --out DIR; give --out")
    modes = [m.strip() for m in a.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise SystemExit(f"bench/noclean.py: unknown mode(s) {', '.join(unknown)}; use {', '.join(MODES)}")
    data = Path(a.data_dir)
    if not (data / "bsd400").is_dir() or not (data / "bsd68").is_dir():
        raise SystemExit(f"bench/noclean.py: needs bsd400/ and bsd68/ under {data}")
    epochs = 1 if a.quick else a.epochs
    shared = ["data.name=bsd400", f"data.dir={data / 'bsd400'}", f"model.name={a.model}", f"train.epochs={epochs}",
              f"train.device={a.device}", "train.batch_size=64", "train.lr=4e-4", "data.patch_size=64", "train.cpu_bf16=true"]
    if a.quick:
        shared += ["data.limit=40", "data.patches_per_epoch=2048"]
    elif a.patches:
        shared.append(f"data.patches_per_epoch={a.patches}")
    print(f"machine: {machine(a.device)}")
    photos = sorted((data / "bsd68").glob("*.png"))[: 8 if a.quick else a.bsd68_limit]
    tests = []
    for i, path in enumerate(photos):
        clean, _ = read_image(path)
        tests.append((clean, noisy_image(clean, SIGMA, i)))
    scores, seconds = {}, {}
    for mode in modes:
        sets = shared + MODES[mode]
        if a.model == "unet" and mode == "blind-spot":  # predicts the pixel, not the noise; plain Noise2Void unless --n2v2
            sets.append("model.args={residual: false, pool: blur, top_skip: false}" if a.n2v2 else "model.args={residual: false}")
            sets += ["train.mask_fill=median"] if a.n2v2 else []
        with tempfile.TemporaryDirectory() as tmp:
            run = Path(a.out) / mode if a.out else Path(tmp) / "run"
            if a.reuse and (run / "checkpoints" / "last.safetensors").exists():
                den, seconds[mode] = kept(run, sets)
            else:
                t0 = time.perf_counter()
                den = daekit.train(sets=sets + [f"out={run}"], progress=not a.quick)
                seconds[mode] = time.perf_counter() - t0
        scores[mode] = float(np.mean([score(den.denoise_image(n.astype(np.float32), tile=None), c)[0] for c, n in tests]))
        print(f"{mode}: {scores[mode]:.2f} dB after {seconds[mode]:.0f} s of training", flush=True)
    noisy = float(np.mean([score(n, c)[0] for c, n in tests]))
    bm3d = None if a.no_bm3d else float(np.mean([score(bm3d_method(n, SIGMA), c)[0] for c, n in tests]))
    print(f"\nBSD68 sigma {SIGMA}, {len(tests)} photos (PSNR dB); {a.model}, {epochs} epoch(s) each on {a.device}:")
    print("  noisy input".ljust(37) + f"{noisy:6.2f}")
    for mode in modes:
        print(f"  daekit {mode:<17} ({seconds[mode]:5.0f} s) {scores[mode]:6.2f}")
    if bm3d is not None:
        print("  BM3D (known sigma), this run".ljust(37) + f"{bm3d:6.2f}   (published {BM3D_PUBLISHED})")
    print("  Noise2Void, published".ljust(37) + f"{N2V_PUBLISHED:6.2f}")
    if "blind-spot" in scores:
        result("blindspot_bsd68_s25_minus_n2v_published", scores["blind-spot"] - N2V_PUBLISHED, ">=", 0.0, a.quick)
        if bm3d is not None:
            result("blindspot_bsd68_s25_minus_bm3d", scores["blind-spot"] - bm3d, ">=", 0.0, a.quick)
    if "neighbor2neighbor" in scores:  # the same protocol (one noisy copy of each photo), another way to learn from it
        result("neighbor2neighbor_bsd68_s25_minus_n2v_published", scores["neighbor2neighbor"] - N2V_PUBLISHED, ">=", 0.0, a.quick)
        if bm3d is not None:
            result("neighbor2neighbor_bsd68_s25_minus_bm3d", scores["neighbor2neighbor"] - bm3d, ">=", 0.0, a.quick)
    if "noise2noise" in scores and "supervised" in scores:
        result("noise2noise_minus_supervised_bsd68_s25", scores["noise2noise"] - scores["supervised"], ">=", -0.3, a.quick)


if __name__ == "__main__":
    main()
