"""Developer tools under tools/: they run on lent GPUs between sessions, so they are kept working here."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from test_folder import _write_folder

ROOT = Path(__file__).resolve().parents[1]


def test_train_budget_trains_to_its_budget_and_scores_the_test_sets(tmp_path):
    data = tmp_path / "data"
    _write_folder(data / "bsd400", n=8)
    _write_folder(data / "set12", n=2, size=(40, 36), seed=1)
    _write_folder(data / "bsd68", n=1, size=(33, 41), seed=2)
    small = ["model.args.depth=3", "model.args.width=8", "data.patch_size=16", "data.patches_per_epoch=64",
             "train.batch_size=16", "data.val_fraction=0.25",
             f"out={tmp_path / 'elsewhere'}"]  # --out wins: on a lent GPU only what lands under $OUT comes back
    cmd = [sys.executable, str(ROOT / "tools" / "train_budget.py"), str(ROOT / "configs" / "photo-gray.yaml"),
           "--budget-s", "4", "--data-dir", str(data), "--out", str(tmp_path / "run"), "--device", "cpu"]
    for s in small:
        cmd += ["--set", s]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    epochs = int(r.stdout.split(" epochs x 64")[0].rsplit("-> ", 1)[1])
    assert epochs >= 2  # the number the probe chose (the config says 45) is the number trained
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == epochs
    assert (tmp_path / "run" / "checkpoints" / "best.safetensors").exists()
    assert not (tmp_path / "elsewhere").exists()
    for name in ("set12", "bsd68"):
        for sigma in (15, 25, 50):
            assert f"test {name} sigma {sigma}: PSNR" in r.stdout
