"""Helpers shared by the bench scripts: argument defaults, the RESULT line, the machine description."""
from __future__ import annotations

import argparse
import os
import platform
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
