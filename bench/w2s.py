"""Microscopy without clean images: blind-spot (or Neighbor2Neighbor) training on W2S's noisy widefield
frames alone, scored on fields held out from training against their 400-frame means, beside BM3D given the
best sigma per image.

    python bench/w2s.py                 # 54 fields (162 frames) for training, 6 held out (18 frames)
    python bench/w2s.py --quick         # 10 fields, 1 short epoch, 2 held-out frames cropped to 256: the code path
    python bench/w2s.py --init photo-gray --epochs 8   # the shipped gray photo model, fine-tuned on the noisy frames
    python bench/w2s.py --run runs/w2s --holdout 4     # score a kept run (--out) again, without training
    python bench/w2s.py --target neighbor2neighbor     # Neighbor2Neighbor (sub-images of one frame) instead of blind-spot

W2S (Zhou et al. 2020): 60 fields of view x 3 channels, 8-bit 512x512; noisy/ is one frame (real shot and
read noise), clean/ the mean of 400 frames. Training reads noisy/ of the training fields only, and picks
its checkpoint by the self-supervised validation score (no clean image is seen); the U-Net is plain
Noise2Void's (--n2v2 for N2V2's fixes: blur pooling, no top skip, median fill). BM3D's sigma is searched per
image against the reference (an upper bound for BM3D that no user gets): a coarse-to-fine grid on the
256x256 centre, then the best and its neighbours, and a coarse grid, on the whole frame.

Target (issue "Denoising without clean images"): beat BM3D with the best sigma per image, on average PSNR.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from common import machine, parser, result

GRID = (4, 8, 12, 16, 20, 24, 32, 40, 52, 64, 80, 100, 128, 160)  # BM3D sigmas (0-255 scale) tried on each frame's centre


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / max(float(np.mean((np.asarray(a, np.float64) - b) ** 2)), 1e-12)))


def bm3d_best(noisy: np.ndarray, clean: np.ndarray, quick: bool) -> tuple[float, int, float]:
    """(PSNR, sigma, seconds of one call at that sigma) of BM3D with the best sigma for this frame."""
    import bm3d

    def run(x: np.ndarray, s: float) -> tuple[np.ndarray, float]:
        t0 = time.perf_counter()
        return np.asarray(bm3d.bm3d(x, s / 255.0)), time.perf_counter() - t0

    h, w = noisy.shape
    c = (slice(max(0, h // 2 - 128), h // 2 + 128), slice(max(0, w // 2 - 128), w // 2 + 128))
    tried: dict[int, float] = {}

    def on_crop(i: int) -> float:
        if i not in tried:
            tried[i] = psnr(run(noisy[c], GRID[i])[0], clean[c])
        return tried[i]

    i = max(range(1, len(GRID), 3), key=on_crop)  # coarse, then the grid's neighbours of the best
    if not quick:
        i = max(range(max(0, i - 2), min(len(GRID), i + 3)), key=on_crop)
    best = GRID[i]
    # on the whole frame: the centre's best and its neighbours, and a coarse grid (a frame's centre can want
    # another sigma than the whole: measured on W2S 060_0, sigma 128 on the centre, 40 on the frame)
    near = {best} if quick else {GRID[max(0, i - 1)], best, GRID[min(len(GRID) - 1, i + 1)], *GRID[3::3]}
    scored = []
    for s in sorted(near):
        out, sec = run(noisy, s)
        scored.append((psnr(out, clean), s, sec))
    return max(scored)


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--holdout", type=int, default=6, help="fields of view held out from training (the last N)")
    p.add_argument("--patches", type=int, default=4096, help="training patches per epoch")
    p.add_argument("--model", default="unet")
    p.add_argument("--target", default="blind-spot", choices=("blind-spot", "neighbor2neighbor"),
                   help="the no-clean training (default blind-spot; neighbor2neighbor trains on 128-pixel patches, whose "
                   "half-size sub-images are the 64-pixel inputs blind-spot trains on)")
    p.add_argument("--init", metavar="MODEL", help="fine-tune a shipped gray model (e.g. photo-gray) without references "
                   "instead of training a U-Net from scratch")
    p.add_argument("--lr", type=float, default=None, help="default 4e-4 from scratch, 5e-5 with --init")
    p.add_argument("--no-bm3d", action="store_true")
    p.add_argument("--refine", type=int, default=8, metavar="N", help="passes of `daekit denoise --refine` scored beside "
                   "one pass and --ensemble 8 (default 8; blind-spot only: it is refinement for blind-spot models)")
    p.add_argument("--run", metavar="DIR", help="score this run folder (trained on the same training fields) instead "
                   "of training one")
    p.add_argument("--out", metavar="DIR", help="keep the trained run here (default: a temporary folder)")
    p.add_argument("--n2v2", action="store_true", help="blind-spot with N2V2's fixes (blur pooling, no top skip, median fill), "
                   "not plain Noise2Void (at CPU length N2V2 scored lower on BSD68: docs/benchmarks.md)")
    a = p.parse_args()
    if a.target != "blind-spot":
        a.refine = 0
    tag = a.target.replace("-", "")  # the RESULT names: blindspot, neighbor2neighbor
    import daekit
    from daekit.images import read_image

    root = Path(a.data_dir) / "w2s"
    if not (root / "noisy").is_dir() or not (root / "clean").is_dir():
        raise SystemExit(f"bench/w2s.py: needs w2s/noisy and w2s/clean under {a.data_dir}")
    frames = sorted((root / "noisy").glob("*.png"))
    fields = sorted({f.name.split("_")[0] for f in frames})
    test_fields = set(fields[-(1 if a.quick else a.holdout):])
    train_fields = [f for f in fields if f not in test_fields][: 10 if a.quick else None]
    tests = [f for f in frames if f.name.split("_")[0] in test_fields][: 2 if a.quick else None]
    epochs = 1 if a.quick else a.epochs
    print(f"machine: {machine(a.device)}")
    print(f"W2S: training on the noisy frames of {len(train_fields)} fields; testing on {len(tests)} frames of "
          f"{len(test_fields)} held-out field(s)")
    if a.run:
        den, t_train = daekit.load(a.run), float("nan")
    else:
        den, t_train = train(a, frames, train_fields, settings(a, epochs))
    rows = []
    for f in tests:
        noisy, clean = read_image(f)[0][..., 0], read_image(root / "clean" / f.name)[0][..., 0]
        if a.quick:
            noisy, clean = noisy[128:384, 128:384], clean[128:384, 128:384]
        row = {"noisy": psnr(noisy, clean)}
        # one pass, `daekit denoise --ensemble 8` (flips and rotations averaged), `--refine N` (random replacing)
        for key, ensemble, refine in (("ens1", 1, 0), ("ens8", 8, 0), ("ref", 1, a.refine))[: 3 if a.refine else 2]:
            den.ensemble, den.refine = ensemble, refine
            t0 = time.perf_counter()
            ours = den.denoise_image(noisy[..., None].astype(np.float32), tile=None)[..., 0]
            row[key], row[f"{key}_s"] = psnr(ours, clean), time.perf_counter() - t0
        if not a.no_bm3d:
            row["bm3d"], row["sigma"], row["bm3d_s"] = bm3d_best(noisy, clean, a.quick)
        rows.append(row)
        extra = f"  BM3D {row['bm3d']:6.2f} (sigma {row['sigma']}, {row['bm3d_s']:.1f} s)" if not a.no_bm3d else ""
        refined = f", refine {row['ref']:6.2f} ({row['ref_s']:.2f} s)" if a.refine else ""
        print(f"  {f.name}: noisy {row['noisy']:6.2f}  {a.target} {row['ens1']:6.2f} ({row['ens1_s']:.2f} s), "
              f"x8 {row['ens8']:6.2f} ({row['ens8_s']:.2f} s){refined}{extra}", flush=True)
    m = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    print(f"\nW2S held-out frames (PSNR dB against the 400-frame mean), {len(rows)} frames; "
          + (f"the run {a.run}" if a.run else f"trained {epochs} epochs ({t_train:.0f} s on {a.device})")
          + " on noisy frames only:")
    print(f"  noisy input                        {m['noisy']:6.2f}")
    print(f"  daekit {a.target} ({a.init or ('run' if a.run else a.model)})".ljust(37) + f"{m['ens1']:6.2f}   {m['ens1_s']:.2f} s per frame")
    print(f"  the same, --ensemble 8             {m['ens8']:6.2f}   {m['ens8_s']:.2f} s per frame")
    if a.refine:
        print(f"  the same, --refine {a.refine:<2}              {m['ref']:6.2f}   {m['ref_s']:.2f} s per frame")
    if not a.no_bm3d:
        print(f"  BM3D, best sigma per frame         {m['bm3d']:6.2f}   {m['bm3d_s']:.2f} s per frame (one call)")
        result(f"w2s_{tag}_minus_bm3d_best", m["ens1"] - m["bm3d"], ">=", 0.0, a.quick)
        result(f"w2s_{tag}_ensemble8_minus_bm3d_best", m["ens8"] - m["bm3d"], ">=", 0.0, a.quick)
        result("w2s_ensemble8_speedup_vs_bm3d", m["bm3d_s"] / m["ens8_s"], ">=", 1.0, a.quick)
        if a.refine:
            result(f"w2s_{tag}_refine_minus_bm3d_best", m["ref"] - m["bm3d"], ">=", 0.0, a.quick)
            result("w2s_refine_speedup_vs_bm3d", m["bm3d_s"] / m["ref_s"], ">=", 1.0, a.quick)
    result(f"w2s_{tag}_minus_noisy", m["ens1"] - m["noisy"], ">", 0.0, a.quick)


def settings(a, epochs: int) -> list[str]:
    """The run's config overrides: a U-Net from scratch, or the shipped `--init` model's own architecture."""
    lr = a.lr or (5e-5 if a.init else 4e-4)
    blind = a.target == "blind-spot"
    sets = ["data.name=images", "noise=none", f"train.target={a.target}", f"train.epochs={epochs}",
            *(["train.mask_fill=median"] if a.n2v2 and blind else []),
            f"train.device={a.device}", "train.batch_size=64", f"train.lr={lr}", f"data.patch_size={64 if blind else 128}",
            f"data.patches_per_epoch={1024 if a.quick else a.patches}", "data.val_fraction=0.05", "train.cpu_bf16=true"]
    if a.init:  # the shipped model's own architecture (read from its checkpoint), started from its weights
        from daekit.api import Denoiser

        spec = Denoiser.load(a.init).model.spec
        args = {k: v for k, v in spec.items() if k not in ("name", "in_channels", "image_size")}
        args = "{" + ", ".join(f"{k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in args.items()) + "}"
        sets += [f"model.name={spec['name']}", f"model.args={args}", f"train.init={a.init}"]
    else:
        sets.append(f"model.name={a.model}")
        if a.model == "unet" and blind:  # a blind-spot net predicts the pixel, not the noise; plain Noise2Void unless --n2v2
            sets.append("model.args={residual: false, pool: blur, top_skip: false}" if a.n2v2 else "model.args={residual: false}")
    return sets


def train(a, frames: list[Path], train_fields: list[str], sets: list[str]):
    """A no-clean run on the noisy frames of `train_fields` (linked into a temporary folder): (Denoiser, seconds)."""
    import daekit

    with tempfile.TemporaryDirectory() as tmp:
        train_dir = Path(tmp) / "noisy"
        train_dir.mkdir()
        for f in frames:  # links, not copies: the data set stays where it is
            if f.name.split("_")[0] in train_fields:
                os.symlink(f.resolve(), train_dir / f.name)
        t0 = time.perf_counter()
        den = daekit.train(sets=sets + [f"data.dir={train_dir}", f"out={a.out or tmp + '/run'}"], progress=not a.quick)
        return den, time.perf_counter() - t0


if __name__ == "__main__":
    main()
