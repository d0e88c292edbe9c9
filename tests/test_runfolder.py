"""What survives: run folders that hold a run, --overwrite, kills and Ctrl-C during training."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from daekit import interrupts
from daekit.config import resolve_config
from daekit.errors import DaekitError
from daekit.interrupts import Interrupted
from daekit.runfolder import RunFolder
from daekit.train import fit

from conftest import tiny_sets


def tree(folder):
    """Every file under `folder` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def model_weights(run):
    return {k: v for k, v in load_file(run / "checkpoints" / "last.safetensors").items() if k.startswith("model.")}


def metrics_epochs(run):
    return [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_a_users_config_in_the_run_folder_is_not_overwritten(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    (run / "config.yaml").write_text("# my notes\ntrain: {epochs: 99}\n")
    (run / "metrics.jsonl").write_text('{"mine": 1}\n')
    before = tree(run)
    with pytest.raises(DaekitError, match=r"already holds a run \(config.yaml, metrics.jsonl\).*--overwrite"):
        fit(resolve_config(sets=tiny_sets(run, "train.epochs=1")), progress=False)
    assert tree(run) == before


def test_a_run_killed_before_its_first_checkpoint_starts_again(tmp_path):
    cfg = resolve_config(sets=tiny_sets(tmp_path / "r", "train.epochs=1"))
    run = RunFolder(cfg.out)
    run.out.mkdir()
    from daekit.config import write_config

    write_config(cfg, run.config)  # what a kill in epoch 1 leaves: its own config, nothing else
    fit(cfg, progress=False)  # the same command again: nothing of value is there, it simply starts
    assert metrics_epochs(run.out) == [1]
    other = resolve_config(sets=tiny_sets(tmp_path / "s", "train.epochs=1"))
    (tmp_path / "s").mkdir()
    write_config(other, tmp_path / "s" / "config.yaml")
    fit(other, progress=False, resume=True)  # --resume too
    assert metrics_epochs(tmp_path / "s") == [1]


def test_overwrite_keeps_the_old_run_until_the_new_one_has_a_checkpoint(tmp_path, monkeypatch):
    run = tmp_path / "r"
    fit(resolve_config(sets=tiny_sets(run, "train.epochs=2")), progress=False)
    before = tree(run)

    # the new run dies in its first epoch (here: diverges): the old run is back, byte for byte
    with pytest.raises(DaekitError, match="diverged"):
        fit(resolve_config(sets=tiny_sets(run, "train.lr=1e30", "train.schedule=none", "model.args.out_act=none")),
            progress=False, overwrite=True)
    assert tree(run) == before

    # a kill while set aside (simulated: the folder as the kill leaves it) is mended when the folder is next opened
    folder = RunFolder(run)
    folder.set_aside()
    (run / "config.yaml").write_text("half-started replacement\n")
    assert not (run / "checkpoints").exists()
    assert "put back the earlier run" in folder.recover()
    assert tree(run) == before

    # a replacement that gets its first checkpoint deletes the old run
    fit(resolve_config(sets=tiny_sets(run, "train.epochs=1", "seed=5")), progress=False, overwrite=True)
    assert not (run / ".replaced").exists() and metrics_epochs(run) == [1]


def test_resume_truncates_metrics_and_removes_temp_files(tmp_path):
    run = tmp_path / "r"
    fit(resolve_config(sets=tiny_sets(run, "train.epochs=4")), progress=False, stop_after=2)
    with open(run / "metrics.jsonl", "a") as f:  # rows of an epoch that was run but never checkpointed
        f.write('{"epoch": 3, "train_loss": 1.0}\n')
    stale = [run / "checkpoints" / ".last.safetensors.x1y2.tmp", run / ".config.yaml.abc.tmp"]
    for p in stale:
        p.write_bytes(b"half")
    fit(resolve_config(sets=tiny_sets(run, "train.epochs=4")), progress=False, resume=True)
    assert metrics_epochs(run) == [1, 2, 3, 4]
    assert not any(p.exists() for p in stale)


def test_the_sidecar_never_names_a_later_epoch_than_the_weights(tmp_path, monkeypatch):
    from daekit import io as daekit_io

    run = tmp_path / "r"
    fit(resolve_config(sets=tiny_sets(run, "train.epochs=1")), progress=False)
    real = daekit_io.atomic_write_text

    def killed_on_sidecar(path, text):  # the kill lands between the weights and the sidecar
        if str(path).endswith("last.json"):
            raise KeyboardInterrupt
        real(path, text)

    monkeypatch.setattr(daekit_io, "atomic_write_text", killed_on_sidecar)
    with pytest.raises(KeyboardInterrupt):
        fit(resolve_config(sets=tiny_sets(run, "train.epochs=3")), progress=False, resume=True)
    side = json.loads((run / "checkpoints" / "last.json").read_text())["info"]["epoch"]
    with safe_open(str(run / "checkpoints" / "last.safetensors"), "pt") as f:
        held = json.loads(f.metadata()["info"])["epoch"]
    assert side < held == 2


@pytest.mark.parametrize("minutes", ["0", "1e-9"])
def test_a_stop_request_mid_epoch_saves_and_the_resume_is_exact(tmp_path, monkeypatch, minutes):
    # minutes 1e-9: a checkpoint after every batch as well (the in-epoch schedule); 0: only on the request
    sets = ["train.epochs=3", "data.limit=640", "train.batch_size=32", f"train.checkpoint_minutes={minutes}"]
    full = fit(resolve_config(sets=tiny_sets(tmp_path / "full", *sets)), progress=False)

    calls = {"n": 0}
    real = interrupts.requested

    def stop_at_batch_30():  # 18 batches an epoch: a request in the middle of epoch 2
        calls["n"] += 1
        return calls["n"] >= 30 or real()

    monkeypatch.setattr(interrupts, "requested", stop_at_batch_30)
    split = tmp_path / "split"
    with pytest.raises(Interrupted, match=r"at epoch 2, batch 12 of 18.*--resume"):
        fit(resolve_config(sets=tiny_sets(split, *sets)), progress=False)
    info = json.loads((split / "checkpoints" / "last.json").read_text())["info"]
    assert info == {"epoch": 1, "step": 12, "steps": 18}
    assert metrics_epochs(split) == [1]
    monkeypatch.setattr(interrupts, "requested", real)
    resumed = fit(resolve_config(sets=tiny_sets(split, *sets)), progress=False, resume=True)
    assert all(torch.equal(a, b) for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values()))
    assert [h["train_loss"] for h in full.history] == [h["train_loss"] for h in resumed.history]
    assert metrics_epochs(split) == [1, 2, 3]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_saves_a_resumable_checkpoint(tmp_path, sig):
    run = tmp_path / "r"
    cmd = [sys.executable, "-m", "daekit", "train", "--quiet", "--noise", "gaussian:50", "--epochs", "400",
           "--batch-size", "32", "--set", "model.args={channels: [8, 8]}", "--set", "train.checkpoint_minutes=0", "--out", str(run)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.time() + 120
        while not (run / "metrics.jsonl").exists() or not (run / "metrics.jsonl").read_text():
            assert time.time() < deadline and proc.poll() is None, "training did not start"
            time.sleep(0.1)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert f"stopped by {sig.name}" in err and "--resume" in err
    ck = json.loads((run / "checkpoints" / "last.json").read_text())["info"]
    assert ck["epoch"] >= 1
    res = subprocess.run([sys.executable, "-m", "daekit", "train", "--quiet", "--resume", "--epochs", str(ck["epoch"] + 2),
                          "--out", str(run)], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    assert metrics_epochs(run) == list(range(1, ck["epoch"] + 3))
