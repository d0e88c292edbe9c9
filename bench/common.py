"""Helpers shared by the bench scripts: argument defaults, the RESULT line, the machine description."""
from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="a run of under a minute on the real code path")
    p.add_argument("--data-dir", default=os.environ.get("DAEKIT_DATA", str(DEFAULT_DATA)), help="folder holding mnist/, fashion-mnist/, ...")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, auto")
    return p


def machine(device: str = "cpu") -> str:
    cpu = f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads"
    if device != "cpu" and torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} ({cpu})"
    return cpu


def result(name: str, value: float, op: str, target: float, quick: bool) -> str:
    ok = {">=": value >= target, "<=": value <= target, ">": value > target, "<": value < target}[op]
    line = f"RESULT {name} value={value:.4g} target={op}{target:g} {'PASS' if ok else 'FAIL'}{' quick' if quick else ''}"
    print(line, flush=True)
    return line


# The child reports its own peak, VmHWM: the high-water mark of the memory it runs in after exec. ru_maxrss (of the
# child, or RUSAGE_CHILDREN) is not used: Linux carries a forked child's maximum over from its parent's resident size
# at the fork, so it read the bench's own memory wherever that was larger (bench/real.py's 12 MP photo: 2.78 GB where
# the command itself peaked at 1.9).
_PEAK_CHILD = """import atexit, runpy, sys
def _peak():
    try:
        with open('/proc/self/status') as f:
            kb = next(int(line.split()[1]) for line in f if line.startswith('VmHWM:'))
    except (OSError, StopIteration):
        return
    sys.stderr.write(f'\\nBENCH_PEAK_KB {kb}\\n')
atexit.register(_peak)
sys.argv = ['daekit', *sys.argv[1:]]
runpy.run_module('daekit', run_name='__main__', alter_sys=True)
"""


def run_daekit(args: list[str]) -> tuple[subprocess.CompletedProcess, float, float]:
    """Runs `python -m daekit ARGS` in a child process: (the finished process, wall seconds, its peak resident
    memory in GB: VmHWM where /proc has it, else ru_maxrss of the children)."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _PEAK_CHILD, *args], capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    marks = [line for line in proc.stderr.splitlines() if line.startswith("BENCH_PEAK_KB ")]
    kb = int(marks[-1].split()[1]) if marks else resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc.stderr = "\n".join(line for line in proc.stderr.splitlines() if not line.startswith("BENCH_PEAK_KB ")).strip()
    return proc, seconds, kb * 1024 / 1e9
