"""Throughput of daekit's trainer against a minimal hand-written PyTorch loop (same model, data, noise).

Both train the keras.io conv DAE (28,353 parameters) on MNIST held in one in-memory tensor, batch 128,
Adam, MSE, Gaussian corruption drawn on the device. Runs alternate (A B A B ...) and the best of each
is kept, so drifts of the machine hit both alike.

    python bench/trainer_overhead.py [--quick] [--data-dir ../shared/data] [--device cpu|cuda]

Target: daekit samples/s / minimal-loop samples/s >= 0.95 (training steps; validation, which the
minimal loop does not do, is reported separately).
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, parser, result  # noqa: E402

from daekit.config import resolve_config  # noqa: E402
from daekit.data import load_dataset  # noqa: E402
from daekit.models import create_model  # noqa: E402
from daekit.train import fit  # noqa: E402

SIGMA = 50 / 255


def minimal_loop(x: torch.Tensor, epochs: int, batch: int, device: torch.device) -> float:
    """The hand-written baseline: samples/s over `epochs` passes."""
    torch.manual_seed(0)
    model = create_model("conv").to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    g = torch.Generator(device=device).manual_seed(0)
    x = x.to(device)
    n = len(x)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n)
        for i in range(0, n, batch):
            clean = x[perm[i : i + batch]]
            noisy = clean + torch.randn(clean.shape, generator=g, device=device) * SIGMA
            loss = F.mse_loss(model(noisy), clean)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n * epochs / (time.perf_counter() - t0)


def daekit_fit(data, epochs: int, batch: int, device: str, out: Path) -> tuple[float, float]:
    """daekit's fit: (training samples/s from its own per-epoch timing, whole-run samples/s incl. validation)."""
    cfg = resolve_config(options={
        "model": {"name": "conv"}, "noise": "gaussian:50", "out": str(out),
        "train": {"epochs": epochs, "batch_size": batch, "lr": 1e-3, "loss": "mse", "schedule": "none", "device": device, "amp": False,
                  "channels_last": False},  # the hand-written loop keeps PyTorch's default layout too
    })
    t0 = time.perf_counter()
    r = fit(cfg, data=data, overwrite=True, progress=False)
    total = time.perf_counter() - t0
    train_seconds = sum(h["seconds"] for h in r.history)
    n = len(data.train) * epochs
    return n / train_seconds, n / total


def main() -> None:
    a = parser(__doc__.splitlines()[0]).parse_args()
    device = torch.device("cuda" if a.device in ("cuda", "auto") and torch.cuda.is_available() else "cpu")
    data = load_dataset("mnist", Path(a.data_dir) / "mnist", limit=12_000 if a.quick else None, seed=0)
    epochs, repeats, batch = (1, 2, 128) if a.quick else (2, 3, 128)
    print(f"machine: {machine(device.type)}")
    print(f"data: MNIST, {len(data.train)} training images, batch {batch}, {epochs} epoch(s) per run, {repeats} alternating runs each")
    base, ours, whole = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            base.append(minimal_loop(data.train, epochs, batch, device))
            s_train, s_all = daekit_fit(data, epochs, batch, device.type, Path(tmp) / "run")
            ours.append(s_train)
            whole.append(s_all)
            print(f"  run {r + 1}: minimal loop {base[-1]:8.0f} samples/s   daekit {ours[-1]:8.0f} samples/s (training)   {whole[-1]:8.0f} (whole fit)")
    b, o, w = max(base), max(ours), max(whole)
    print(f"\n{'':<36}{'samples/s':>12}{'ratio':>8}")
    print(f"{'minimal hand-written loop':<36}{b:>12.0f}{1.0:>8.3f}")
    print(f"{'daekit fit, training steps':<36}{o:>12.0f}{o / b:>8.3f}")
    print(f"{'daekit fit, incl. validation+ckpt':<36}{w:>12.0f}{w / b:>8.3f}")
    result("trainer_overhead_ratio", o / b, ">=", 0.95, a.quick)


if __name__ == "__main__":
    main()
