"""The learner's path (issue "The learner's path"): the demo's wall time, and the README's first training
commands as written, each beside its anchor (the corrupted input's PSNR; a blank image's PSNR for the
compression AE, which has no corrupted input).

    python bench/learner.py            # the demo and the quick start's two trainings, as written
    python bench/learner.py --quick    # 3 epochs each, and the demo at 2 epochs

Targets: the demo under 120 s on 2 cores; the quick start's DAE at least 6 dB above its masked input
(masking 50%); the compression AE at least 6 dB above a blank image (neither has collapsed).
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import machine, parser, result

DAEKIT = [sys.executable, "-m", "daekit"]


def run(argv: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(DAEKIT + argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def best(run_dir: Path) -> dict:
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return max(rows, key=lambda r: r["val_psnr"]) | {"noisy": rows[-1]["val_noisy_psnr"]}


def main() -> None:
    a = parser(__doc__.splitlines()[0]).parse_args()
    epochs = "3" if a.quick else "15"  # the README's --epochs 15
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        t_dae = run(["train", "--noise", "masking:50%", "--epochs", epochs, "--out", "runs/dae", "--quiet"], cwd)
        t_ae = run(["train", "--noise", "none", "--epochs", epochs, "--out", "runs/ae", "--quiet"], cwd)
        dae, ae = best(cwd / "runs/dae"), best(cwd / "runs/ae")
        from daekit.data import load_dataset
        from daekit.train import constant_psnr

        blank = constant_psnr(load_dataset("digits28", seed=0).val)
        demo_argv = ["demo", "--out", "runs/demo", "--quiet"] + (["--epochs", "2"] if a.quick else [])
        t_demo = run(demo_argv, cwd)
    print(f"quick start DAE (masking 50%, {epochs} epochs): {dae['val_psnr']:.2f} dB vs the masked input's "
          f"{dae['noisy']:.2f} dB  ({t_dae:.0f} s)")
    print(f"quick start compression AE ({epochs} epochs):   {ae['val_psnr']:.2f} dB on clean digits vs a blank image's "
          f"{blank:.2f} dB  ({t_ae:.0f} s)")
    print(f"make demo (daekit demo): {t_demo:.0f} s vs the 120 s target")
    result("demo-seconds", t_demo, "<", 120, a.quick)
    result("quickstart-dae-gain-db", dae["val_psnr"] - dae["noisy"], ">=", 6, a.quick)
    result("quickstart-ae-above-blank-db", ae["val_psnr"] - blank, ">=", 6, a.quick)


if __name__ == "__main__":
    main()
