"""Shared fixtures: the ../shared/data location, single-threaded torch per test worker, tiny configs."""
from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)  # tests run in parallel workers on 2 cores

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DAEKIT_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED / "mnist").is_dir():
        pytest.skip(f"shared data not found at {SHARED}")
    return SHARED


def tiny_sets(out: Path, *extra: str, model: str = "model.args={channels: [8, 8]}") -> list[str]:
    """A config that trains in well under a second on the embedded 8x8 digits (not the default 28x28 set)."""
    return [
        f"out={out}", "data.name=digits", model, "train.epochs=3", "train.batch_size=64",
        "train.lr=3e-3", "noise=gaussian:50", *extra,
    ]


def assert_usage_error(capsys, argv, words):
    """`daekit ARGV` is refused by the option parser: exit 2, one line naming the problem, no traceback."""
    from daekit.cli import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert e.value.code == 2, err
    assert len(err.strip().splitlines()) == 1 and words in err and "Traceback" not in err, err


def import_tool(name: str):
    """Import tools/NAME.py and leave sys.path as it was: the tools put bench/ on it when they load, and a
    folder of scripts left on the path of a test worker hides real packages from every later test in it."""
    saved = list(sys.path)
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path[:] = saved
