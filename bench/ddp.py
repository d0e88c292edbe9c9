"""Distributed data parallel on this CPU: samples/s with 1 and 2 ranks (torchrun, gloo), and the share of
step time spent in gradient communication.

Each rank trains the keras.io MNIST conv DAE with daekit's ``train_one_epoch`` on in-memory batches
(128 per rank), one thread per rank (2 ranks fill the 2 cores); the 1-rank run is given 1 thread too
and, separately, both cores, so the scaling can be read either way. Communication share: the same
steps timed with DDP's gradient all-reduce switched off (``no_sync``) vs on.

    python bench/ddp.py [--quick]
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, parser, result  # noqa: E402

STEPS_FULL, STEPS_QUICK, BATCH = 60, 12, 128


def worker(steps: int, out: str) -> None:
    from daekit import distributed
    from daekit.data import InMemoryLoader
    from daekit.models import create_model
    from daekit.noise import make_generator, parse_noise
    from daekit.train import LOSSES, train_one_epoch

    ctx, dev = distributed.setup(torch.device("cpu"))
    torch.manual_seed(0)
    model = create_model("conv", 1, (28, 28))
    ddp = distributed.wrap(model, ctx, dev)
    x = torch.rand(BATCH * ctx.world * steps, 1, 28, 28)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    noise, loss = parse_noise("gaussian:50"), LOSSES["mse"]
    shard = ctx.shard(BATCH * ctx.world) if ctx.active else None

    def epoch() -> float:
        loader = InMemoryLoader(x, BATCH * ctx.world, shuffle=False)
        ctx.barrier()
        t0 = time.perf_counter()
        train_one_epoch(ddp, loader, noise, opt, loss, generator=make_generator(0), shard=shard)
        ctx.barrier()
        return time.perf_counter() - t0

    epoch()  # warm-up
    synced = epoch()
    nosync = None
    if ctx.active:
        with ddp.no_sync():  # gradients stay local: the same steps without communication
            nosync = epoch()
    if ctx.is_main:
        Path(out).write_text(json.dumps({"world": ctx.world, "seconds": synced, "nosync": nosync,
                                         "samples_per_s": BATCH * ctx.world * steps / synced}))
    distributed.teardown()


def launch(nproc: int, threads: int, steps: int, tmp: Path) -> dict:
    out = tmp / f"ddp{nproc}_{threads}.json"
    # TMPDIR: torchrun's torchelastic_* folder lands in the bench's own temp dir, removed with it
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONWARNINGS": "ignore", "TMPDIR": str(tmp)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           __file__, "--worker", "--steps", str(steps), "--json", str(out)]
    subprocess.run(cmd, check=True, env=env, capture_output=True, text=True)
    return json.loads(out.read_text())


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--worker", action="store_true", help=argparse_hidden())
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--json", default=None)
    a = p.parse_args()
    steps = a.steps or (STEPS_QUICK if a.quick else STEPS_FULL)
    if a.worker:
        worker(steps, a.json)
        return
    import tempfile

    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        one_1 = launch(1, 1, steps, Path(tmp))
        one_2 = launch(1, 2, steps, Path(tmp))
        two = launch(2, 1, steps, Path(tmp))
    comm = 1 - two["nosync"] / two["seconds"]
    print(f"{'run':<28}{'samples/s':>12}")
    print(f"{'1 rank, 1 thread':<28}{one_1['samples_per_s']:>12,.0f}")
    print(f"{'1 rank, 2 threads':<28}{one_2['samples_per_s']:>12,.0f}")
    print(f"{'2 ranks, 1 thread each':<28}{two['samples_per_s']:>12,.0f}   communication {100 * comm:.1f}% of step time")
    result("ddp_2rank_vs_1rank_1thread", two["samples_per_s"] / one_1["samples_per_s"], ">=", 1.0, a.quick)
    result("ddp_2rank_vs_1rank_2threads", two["samples_per_s"] / one_2["samples_per_s"], ">=", 0.8, a.quick)
    result("ddp_comm_share", comm, "<=", 0.5, a.quick)


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
