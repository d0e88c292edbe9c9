"""DDP with torchrun on CPU (gloo, 2 processes): identical replicas, rank-count independence, resume, a dying rank."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

TORCHRUN = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
pytestmark = pytest.mark.skipif(TORCHRUN is None or not torch.distributed.is_available(), reason="torchrun / torch.distributed not available")

# 704 digits, 64 held out: 640 training images = 20 global batches of 32 (no partial batch)
DATA = ["--quiet", "--noise", "gaussian:50", "--set", "data.limit=704", "--set", "data.val_fraction=0.0909", "--set", "train.lr=3e-3"]
COMMON = [*DATA, "--set", "model.args={channels: [8, 8]}"]


@pytest.fixture(autouse=True)
def _own_tmpdir(tmp_path_factory, monkeypatch):
    # torchrun leaves a torchelastic_* folder in the temp dir per run: under pytest's, which prunes old runs
    monkeypatch.setenv("TMPDIR", str(tmp_path_factory.mktemp("tmpdir")))


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


def _torchrun(nproc: int, *args: str, timeout: float = 240, common: list[str] = COMMON) -> subprocess.CompletedProcess:
    cmd = [TORCHRUN, "--standalone", f"--nproc_per_node={nproc}", "-m", "daekit", "train", *common, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env())


def _single(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "daekit", "train", *COMMON, *args], capture_output=True, text=True, timeout=240, env=_env())


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return {k: v for k, v in load_file(run / "checkpoints" / "last.safetensors").items() if k.startswith("model.")}


def _assert_close(a: dict, b: dict, atol: float = 2e-5) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=atol, rtol=1e-4), k


def test_two_ranks_match_one_rank_with_twice_the_batch_and_resume_on_one_rank(tmp_path):
    two = _torchrun(2, "--epochs", "2", "--batch-size", "16", "--out", str(tmp_path / "two"))
    assert two.returncode == 0, two.stderr[-2000:]
    info = json.loads((tmp_path / "two" / "distributed.json").read_text())
    assert info["world_size"] == 2 and len(set(info["replica_checksums"])) == 1  # identical weights on every rank
    one = _single("--epochs", "2", "--batch-size", "32", "--out", str(tmp_path / "one"))
    assert one.returncode == 0, one.stderr[-2000:]
    _assert_close(_weights(tmp_path / "two"), _weights(tmp_path / "one"))
    assert two.stdout.count("best val PSNR") == 1  # rank 0 reports, once

    # the 2-rank checkpoint continues on 1 rank (batch 32 = the same global batch) as the 1-rank run continues
    for run in ("two", "one"):
        res = _single("--resume", "--epochs", "3", "--batch-size", "32", "--out", str(tmp_path / run))
        assert res.returncode == 0, res.stderr[-2000:]
    _assert_close(_weights(tmp_path / "two"), _weights(tmp_path / "one"))
    bad = _single("--resume", "--epochs", "4", "--batch-size", "16", "--out", str(tmp_path / "two"))
    assert bad.returncode == 2 and "global batch of 32" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize("target,epochs", [("blind-spot", "1"), ("neighbor2neighbor", "2")])  # 2: its regulariser on
def test_training_without_references_is_rank_count_independent(tmp_path, target, epochs):
    # the hidden pixels and sub-images are drawn for the whole global batch before sharding, like the noise;
    # neighbor2neighbor's regulariser runs its forward pass on each rank's own rows
    extra = ["--noise", "none", "--target", target, "--set", "data.noisy_once=gaussian:50", "--epochs", epochs]
    common = [a for a in COMMON if a not in ("--noise", "gaussian:50")]
    two = _torchrun(2, *extra, "--batch-size", "16", "--out", str(tmp_path / "two"), common=common)
    assert two.returncode == 0, two.stderr[-2000:]
    one = subprocess.run([sys.executable, "-m", "daekit", "train", *common, *extra, "--batch-size", "32", "--out", str(tmp_path / "one")],
                         capture_output=True, text=True, timeout=240, env=_env())
    assert one.returncode == 0, one.stderr[-2000:]
    _assert_close(_weights(tmp_path / "two"), _weights(tmp_path / "one"))
    assert two.stdout.count("best validation score" if target == "blind-spot" else "kept the last epoch") == 1


def test_batchnorm_replicas_agree(tmp_path):
    # BatchNorm's running statistics are buffers that each rank updates from its own shard; the replicas
    # must still end identical (and checkpoint what rank 0 holds)
    two = _torchrun(2, "--model", "residual", "--set", "model.args={depth: 3, width: 8, batch_norm: true}", "--epochs", "1",
                    "--batch-size", "16", "--out", str(tmp_path / "two"), common=DATA)
    assert two.returncode == 0, two.stderr[-2000:]
    info = json.loads((tmp_path / "two" / "distributed.json").read_text())
    assert info["world_size"] == 2 and len(set(info["replica_checksums"])) == 1
    w = _weights(tmp_path / "two")
    assert any("running_mean" in k for k in w) and all(torch.isfinite(v.float()).all() for v in w.values())


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to find the rank processes")
def test_a_dying_rank_ends_the_job_with_a_clear_message(tmp_path):
    cmd = [TORCHRUN, "--standalone", "--nproc_per_node=2", "-m", "daekit", "train", *COMMON,
           "--epochs", "500", "--batch-size", "16", "--out", str(tmp_path / "run")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env())
    try:
        deadline = time.time() + 120
        metrics = tmp_path / "run" / "metrics.jsonl"
        while not (metrics.exists() and metrics.read_text().strip()) and time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
        ranks = _children(proc.pid)
        assert len(ranks) == 2, "rank processes not found"
        os.kill(ranks[1], signal.SIGKILL)
        t0 = time.time()
        out, _ = proc.communicate(timeout=90)
        assert time.time() - t0 < 90
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert "SIGKILL" in out or "lost contact with another rank" in out, out[-3000:]
    assert (tmp_path / "run" / "checkpoints" / "last.safetensors").exists()  # the last good checkpoint is intact


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


RESTART_RUN = ["--epochs", "6", "--batch-size", "16", "--set", "train.checkpoint_minutes=0"]


def _kill_a_rank_after_epoch_1(agents: list[subprocess.Popen], run: Path) -> None:
    """SIGKILLs the rank process of the last agent once epoch 1 is logged (mid-job)."""
    deadline = time.time() + 120
    while not (run / "metrics.jsonl").exists() or not (run / "metrics.jsonl").read_text().strip():
        assert time.time() < deadline and all(a.poll() is None for a in agents), "the job did not start"
        time.sleep(0.05)
    ranks = _children(agents[-1].pid)
    assert ranks, "rank process not found"
    os.kill(ranks[-1], signal.SIGKILL)


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to find the rank processes")
@pytest.mark.parametrize("layout", ["one-node", "two-nodes"])
def test_a_killed_rank_is_restarted_and_the_job_ends_as_if_never_killed(tmp_path, layout):
    # torchrun --max-restarts restarts every rank; they resume from the last checkpoint by themselves
    ref = _torchrun(2, *RESTART_RUN, "--out", str(tmp_path / "ref"))
    assert ref.returncode == 0, ref.stderr[-2000:]
    run = tmp_path / "run"
    train = ["-m", "daekit", "train", *COMMON, *RESTART_RUN, "--out", str(run)]
    if layout == "one-node":
        cmds = [[TORCHRUN, "--standalone", "--nproc_per_node=2", "--max-restarts=3", *train]]
    else:  # two agents, one rank each, meeting at a c10d rendezvous on this machine
        rdzv = ["--nnodes=2", "--nproc_per_node=1", "--max-restarts=3", "--rdzv-backend=c10d",
                f"--rdzv-endpoint=127.0.0.1:{_free_port()}", f"--rdzv-id=daekit-{os.getpid()}"]
        cmds = [[TORCHRUN, *rdzv, *train] for _ in range(2)]
    logs = [tmp_path / f"agent{i}.log" for i in range(len(cmds))]  # files, not pipes: no agent blocks on a full pipe
    agents = [subprocess.Popen(c, stdout=open(log, "w"), stderr=subprocess.STDOUT, text=True, env=_env()) for c, log in zip(cmds, logs)]
    try:
        _kill_a_rank_after_epoch_1(agents, run)
        for a in agents:
            a.wait(timeout=180)
    finally:
        for a in agents:
            if a.poll() is None:
                a.kill()
    outs = [log.read_text() for log in logs]
    assert all(a.returncode == 0 for a in agents), outs[-1][-3000:]
    assert any("restart" in o.lower() for o in outs), outs[-1][-3000:]  # torchrun did restart the workers
    rows = [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows == [1, 2, 3, 4, 5, 6], outs[-1][-3000:]  # each epoch logged once
    a, b = _weights(tmp_path / "ref"), _weights(run)
    assert all(torch.equal(a[k], b[k]) for k in a)
