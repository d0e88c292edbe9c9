"""Trains a photo config for a wall-clock budget (e.g. on a lent GPU), then tests it on the matching test sets.

    python tools/train_budget.py configs/photo-gray.yaml --budget-s 420 --data-dir ../shared/data \
        --out runs/x [--set train.batch_size=64 ...] [--device cuda]

A cosine schedule needs its length up front, so the number of epochs is chosen from a short step-rate
probe of the real model, batch and precision (`train.epochs` in the config is replaced). The training
set is `--data-dir`/<the config's data.name>. After training, the best checkpoint is scored on the
test sets present under `--data-dir`: for a gray model set12 and bsd68, for a colour one cbsd68, with the
same noisy images as bench/photo.py (blind, sigma 15/25/50), and polyu (real camera noise, noisy vs
reference). On a device machine, carry a git-ignored copy of the data and the wheels of what the
machine lacks (DEVELOPERS.md, "Training on a lent GPU").
"""
from __future__ import annotations

import argparse
import sys
import time
from itertools import islice
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from photo import noisy_image, score  # noqa: E402

from daekit.api import Denoiser  # noqa: E402
from daekit.config import resolve_config  # noqa: E402
from daekit.data import load_dataset  # noqa: E402
from daekit.images import find_images, read_image  # noqa: E402
from daekit.models import create_model  # noqa: E402
from daekit.noise import make_generator, parse_noise  # noqa: E402
from daekit.runtime import Precision, select_device  # noqa: E402
from daekit.train import LOSSES, build_optimizer, fit, train_one_epoch  # noqa: E402

OVERHEAD = 1.10  # validation, checkpoints and the loader on top of the probe's bare steps


def step_rate(cfg, data, device: torch.device, steps: int = 60, warm: int = 10) -> float:
    """Training steps per second of a fresh copy of the model at the config's batch and precision, timed
    through `train_one_epoch` (fit's own step: optimizer, loss scaling, autocast)."""
    torch.manual_seed(0)
    model = create_model(cfg.model.name, in_channels=data.channels, image_size=data.image_size, **cfg.model.args).to(device)
    if cfg.train.channels_last:
        model.to(memory_format=torch.channels_last)
    net = torch.compile(model) if cfg.train.compile else model  # compiled in the warm-up steps, as fit will
    opt, noise, gen = build_optimizer(model, cfg), parse_noise(cfg.noise).to(device), make_generator(0, device)
    precision = Precision.for_device(device, cfg.train.amp, cfg.train.cpu_bf16)
    loader = data.loader(cfg.train.batch_size, 0, device)

    def endless():  # an epoch may hold fewer batches than the probe needs
        while True:
            yield from loader

    batches = endless()

    def run(n: int) -> None:  # ends with the loss's .item(): the device has finished when it returns
        train_one_epoch(net, islice(batches, n), noise, opt, LOSSES[cfg.train.loss], generator=gen, precision=precision)

    run(warm)
    t0 = time.perf_counter()
    run(steps - warm)
    return (steps - warm) / (time.perf_counter() - t0)


def test_sets(run: Path, data_dir: Path, device: str, channels: int) -> None:
    den = Denoiser.load(run, device=device, precision="fp32")
    for name in ("set12", "bsd68") if channels == 1 else ("cbsd68",):
        clean = [read_image(f)[0] for f in find_images([data_dir / name])] if (data_dir / name).is_dir() else []
        for sigma in (15, 25, 50) if clean else ():
            scores = [score(den.denoise_image(noisy_image(c, sigma, i), tile=0), c) for i, c in enumerate(clean)]
            print(f"test {name} sigma {sigma}: PSNR {np.mean([s[0] for s in scores]):.3f}  SSIM {np.mean([s[1] for s in scores]):.4f}", flush=True)
    polyu = sorted((data_dir / "polyu").glob("*_real.*")) if channels == 3 else []
    if polyu:  # real camera noise: each noisy shot against its reference (the mean of a burst)
        rows = []
        for f in polyu:
            noisy, clean = read_image(f)[0], read_image(f.with_name(f.name.replace("_real", "_mean")))[0]
            rows.append((score(noisy, clean)[0], score(den.denoise_image(noisy, tile=0), clean)[0]))
        a = np.mean(rows, axis=0)
        print(f"test polyu (real noise, {len(rows)} photos): noisy {a[0]:.3f} -> PSNR {a[1]:.3f}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("config")
    p.add_argument("--budget-s", type=float, required=True, help="seconds of training (probe included)")
    p.add_argument("--data-dir", default="../shared/data", help="folder holding the training set and the test sets")
    p.add_argument("--out", required=True, help="run folder (replaced if it exists)")
    p.add_argument("--device", default="auto")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config overrides")
    a = p.parse_args()
    t_start = time.perf_counter()
    data_dir = Path(a.data_dir)
    # --out is where the run must land (on a lent machine, under $OUT so that it comes back): it is applied
    # after the user's --set, so a stray `--set out=...` cannot send the run elsewhere.
    name = resolve_config(a.config, sets=a.set).data.name
    sets = [f"data.dir={data_dir / name}", f"train.device={a.device}", *a.set, f"out={a.out}"]
    cfg = resolve_config(a.config, sets=sets)
    device = select_device(cfg.train.device)
    d = cfg.data
    data = load_dataset(d.name, d.dir, val_fraction=d.val_fraction, seed=cfg.seed, patch_size=d.patch_size,
                        patches_per_epoch=d.patches_per_epoch, cache_mb=d.cache_mb, workers=d.workers)
    rate = step_rate(cfg, data, device) * cfg.train.batch_size
    left = a.budget_s - (time.perf_counter() - t_start)
    epochs = max(2, int(left * rate / (d.patches_per_epoch * OVERHEAD)))
    where = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    print(f"{where}: {rate:.0f} patches/s at batch {cfg.train.batch_size} -> {epochs} epochs x {d.patches_per_epoch} "
          f"= {epochs * d.patches_per_epoch / 1e6:.2f}M patches", flush=True)
    cfg = resolve_config(a.config, sets=sets + [f"train.epochs={epochs}"])
    t0 = time.perf_counter()
    r = fit(cfg, data=data, overwrite=True, progress=False)
    print(f"trained {time.perf_counter() - t0:.0f} s", flush=True)
    shown = r.history[:: max(1, len(r.history) // 15)]
    if shown[-1] is not r.history[-1]:  # the last epoch, once
        shown.append(r.history[-1])
    for h in shown:
        print(f"epoch {h['epoch']}: loss {h['train_loss']:.6f}  val PSNR {h['val_psnr']:.3f}  lr {h['lr']:.2e}  {h['seconds']:.1f} s", flush=True)
    test_sets(Path(a.out), data_dir, a.device, data.channels)
    print(f"total {time.perf_counter() - t_start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
