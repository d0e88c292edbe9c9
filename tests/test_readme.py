"""The README's quick start, run as written (fewer epochs): every command works and the DAE learns."""
from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from daekit.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"
SMALL = {"--epochs": "3", "--pretrain-epochs": "1", "--finetune-epochs": "2"}  # the only changes made


def quick_start() -> list[list[str]]:
    """The `daekit ...` lines of the README's quick start block, comments removed, made small."""
    text = README.read_text()
    section = text[text.index("## Quick start"):]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    commands = []
    for line in block.splitlines():
        words = shlex.split(line, comments=True)
        if not words or words[0] != "daekit":
            continue
        commands.append([SMALL.get(prev, w) if prev in SMALL else w for prev, w in zip([""] + words, words)][1:])
    return commands


def test_the_quick_start_has_the_lesson():
    firsts = [c[0] for c in quick_start()]
    assert firsts == ["train", "train", "compare", "evaluate", "stack"]


def test_quick_start_runs_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for argv in quick_start():
        assert main(argv + (["--quiet"] if argv[0] in ("train", "stack") else [])) == 0, argv
    rows = [json.loads(x) for x in Path("runs/dae/metrics.jsonl").read_text().splitlines()]
    best = max(r["val_psnr"] for r in rows)
    assert best > rows[-1]["val_noisy_psnr"] + 3, rows[-1]  # 3 epochs: ~17.5 dB from 12.2 at masking 50%
    results = json.loads(Path("runs/lesson/results.json").read_text())
    at_50 = next(r for r in results["levels"] if r["noise"] == "masking:50%")["methods"]
    assert at_50["dae"]["psnr"] > at_50["ae"]["psnr"] + 1 and Path("runs/lesson/report.html").exists()
    out = capsys.readouterr().out
    assert "masking:30%" in out
    stack = json.loads(Path("runs/sda/metrics.json").read_text())
    assert stack["test_accuracy"] > 0.7


@pytest.mark.parametrize("noise", ["masking:50%", "gaussian:50", "salt-and-pepper:20%"])
def test_default_model_and_loss_learn(tmp_path, noise):
    """The defaults (conv, loss auto -> BCE for its sigmoid output) learn on the default digits; with MSE the
    sigmoid output used to saturate at 0 and stay there (a constant image, ~9 dB, below the input)."""
    from daekit.config import resolve_config
    from daekit.train import fit

    cfg = resolve_config(options={"noise": noise, "out": str(tmp_path / "r"), "train": {"epochs": 2}})
    r = fit(cfg, progress=False)
    assert r.best["psnr"] > r.history[-1]["val_noisy_psnr"] + 1.5, r.history
