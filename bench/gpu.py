"""Throughput on a GPU vs the CPU of the same machine: training (samples/s) and inference (megapixels/s).

Training: daekit's own ``train_one_epoch`` on in-memory batches, for (1) the photo-gray network
(17 x 64 residual, half resolution) on 80 x 80 patches, batch 128, and (2) the keras.io MNIST conv
net, batch 128 -- on the GPU with bf16 autocast and channels-last, on the CPU in fp32. Inference:
``Denoiser.denoise_image`` on a 2048 x 2048 gray image (tiles chosen from free memory). The numbers
on this project's 2-core CPU come from the same script with ``--device cpu`` (docs/benchmarks.md).

    python bench/gpu.py [--quick] [--device cuda]
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, parser, result  # noqa: E402

from daekit.api import Denoiser  # noqa: E402
from daekit.data import InMemoryLoader  # noqa: E402
from daekit.models import create_model  # noqa: E402
from daekit.noise import make_generator, parse_noise  # noqa: E402
from daekit.runtime import Precision  # noqa: E402
from daekit.train import LOSSES, train_one_epoch  # noqa: E402

NETS = {
    "photo-gray 80x80": (dict(name="residual", depth=17, width=64, unshuffle=2), 80),
    "keras conv 28x28": (dict(name="conv"), 28),
}


def train_rate(device: torch.device, net: dict, side: int, batches: int) -> float:
    torch.manual_seed(0)
    args = dict(net)
    model = create_model(args.pop("name"), 1, (side, side), **args).to(device)
    amp = device.type == "cuda"
    if amp:
        model.to(memory_format=torch.channels_last)
    x = torch.rand(128 * batches, 1, side, side, device=device)
    loader = InMemoryLoader(x, 128, shuffle=True, generator=torch.Generator().manual_seed(0))
    opt = torch.optim.Adam(model.parameters(), 1e-4)
    noise = parse_noise("gaussian:25").to(device)
    prec = Precision.for_device(device, amp)
    kw = dict(generator=make_generator(0, device), precision=prec)
    train_one_epoch(model, InMemoryLoader(x[:256], 128, shuffle=False), noise, opt, LOSSES["mse"], **kw)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    train_one_epoch(model, loader, noise, opt, LOSSES["mse"], **kw)  # ends with .item(): synchronised
    return len(x) / (time.perf_counter() - t0)


def infer_rate(device: torch.device, side: int) -> float:
    den = Denoiser.load("photo-gray", device=str(device))
    img = np.random.default_rng(0).random((side, side, 1), dtype=np.float32)
    den.denoise_image(img[:256, :256])  # warm-up
    t0 = time.perf_counter()
    den.denoise_image(img)
    return side * side / (time.perf_counter() - t0) / 1e6


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    a = p.parse_args()
    dev = torch.device("cuda" if a.device in ("auto", "cuda") and torch.cuda.is_available() else a.device)
    print(f"machine: {machine(str(dev))}")
    devices = [dev] + ([torch.device("cpu")] if dev.type != "cpu" else [])
    batches = 2 if a.quick else 20
    rates: dict[tuple[str, str], float] = {}
    for d in devices:
        for name, (net, side) in NETS.items():
            n = batches if d.type != "cpu" else max(2, batches // 10)
            rates[(d.type, name)] = train_rate(d, net, side, n)
            print(f"train  {d.type:<5} {name:<18} {rates[(d.type, name)]:>10,.0f} samples/s", flush=True)
        rates[(d.type, "infer")] = infer_rate(d, 1024 if a.quick or d.type == "cpu" else 2048)
        print(f"denoise {d.type:<5} photo-gray          {rates[(d.type, 'infer')]:>10.2f} Mpx/s", flush=True)
    if dev.type != "cpu":
        for name in NETS:
            result(f"gpu_train_speedup_{name.split()[0]}", rates[(dev.type, name)] / rates[("cpu", name)], ">=", 1.0, a.quick)
        result("gpu_denoise_speedup", rates[(dev.type, "infer")] / rates[("cpu", "infer")], ">=", 1.0, a.quick)
    else:
        print("(CPU only: run with --device cuda on a GPU machine for the speed-ups)")


if __name__ == "__main__":
    main()
