"""daekit serve under load and misuse: a bounded queue, busy answers, cancellation, stalled bodies, leftovers."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("uvicorn")
from daekit.serve import TMP_PREFIX, App  # noqa: E402

from test_serve import _post, _wait, server  # noqa: E402,F401  (the module's server fixture)

PEAK_RSS_BOUND = 2 << 30  # the server process's peak resident memory under the load test


def _vm_hwm(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _start_server(*args: str) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "daekit", "serve", "--device", "cpu", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    assert line.startswith("daekit serve: open http://"), line + proc.stderr.read()
    url = line.split("open ")[1].split("/ ")[0].rstrip("/")
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5):  # bound and listening when the line appears
        pass
    return proc, url


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's peak memory from /proc")
def test_twenty_concurrent_uploads_complete_or_hear_busy_in_bounded_memory(tmp_path):
    rng = np.random.default_rng(0)
    photo = (np.clip(0.5 + 0.1 * rng.standard_normal((2048, 2048)), 0, 1) * 255).astype(np.uint8)
    ok, buf = cv2.imencode(".png", photo)
    data = buf.tobytes()
    proc, url = _start_server("--workers", "1", "--queue", "1")
    pid = proc.pid
    try:
        def one(i: int) -> tuple[int, str]:
            code, d = _post(url, f"p{i}.png", data, model="photo-gray-fast")
            if code != 200:
                return code, d.get("error", "")
            return code, _wait(url, d["id"])["state"]

        with ThreadPoolExecutor(20) as pool:
            results = list(pool.map(one, range(20)))
        peak = _vm_hwm(pid)
        print(f"server peak RSS {peak / 2**20:.0f} MiB, accepted {sum(c == 200 for c, _ in results)} of 20")
    finally:
        _stop(proc)
    codes = [c for c, _ in results]
    assert set(codes) <= {200, 503}, results
    assert all(state == "done" for c, state in results if c == 200), results
    assert all("busy" in msg for c, msg in results if c == 503), results
    assert 1 <= codes.count(200) <= 20 and codes.count(503) >= 1  # 1 worker + 1 waiting: most are told to retry
    assert peak < PEAK_RSS_BOUND, f"peak RSS {peak / 2**20:.0f} MiB"
    assert not list(Path(tempfile.gettempdir()).glob(f"{TMP_PREFIX}{pid}-*"))  # nothing left behind


def test_a_killed_servers_folder_is_removed_at_the_next_start():
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = Path(tempfile.gettempdir()) / f"{TMP_PREFIX}{dead.pid}-leftover"
    (orphan / "job").mkdir(parents=True, exist_ok=True)
    (orphan / "job" / "input.png").write_bytes(b"x")
    mine = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-"))  # a live server's (this process): kept
    state = App([], device="cpu")
    try:
        assert not orphan.exists() and mine.exists()
    finally:
        state.close()
        mine.rmdir()


def test_a_stalled_upload_is_dropped(server):
    url, state = server
    state.body_stall_s = 0.5
    host, port = url.removeprefix("http://").split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(b"POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                      b"Content-Length: 100000\r\n\r\n--b\r\n")  # ... and then nothing
            t0 = time.time()
            answer = s.recv(4096).decode()
        assert " 408 " in answer.splitlines()[0] and time.time() - t0 < 5, answer
    finally:
        state.body_stall_s = 30.0


def test_a_job_whose_page_went_away_is_cancelled(server, tmp_path):
    url, state = server
    photo = np.add.outer(np.arange(1024), np.arange(1024)).astype(np.uint8)  # compresses under the fixture's 0.5 MB
    ok, buf = cv2.imencode(".png", photo)
    state.stale_s = 0.0  # nobody asks about it: abandoned at its first tile
    try:
        code, d = _post(url, "a.png", buf.tobytes(), model="photo-gray")
    finally:
        state.stale_s = 30.0
    assert code == 200
    deadline = time.time() + 60
    while state.jobs[d["id"]].state not in ("cancelled", "done", "error") and time.time() < deadline:
        time.sleep(0.05)
    assert state.jobs[d["id"]].state == "cancelled" and not state.jobs[d["id"]].folder.exists()

    code, d = _post(url, "b.png", buf.tobytes(), model="photo-gray")  # the page says it is leaving
    req = urllib.request.Request(f"{url}/api/jobs/{d['id']}/cancel", data=b"", method="POST")
    assert json.loads(urllib.request.urlopen(req).read())["state"] == "cancelled"
    assert _wait_state(url, d["id"]) == "cancelled"


def _wait_state(url: str, job: str) -> str:
    for _ in range(600):
        with urllib.request.urlopen(f"{url}/api/jobs/{job}") as r:
            st = json.loads(r.read())["state"]
        if st in ("done", "error", "cancelled"):
            return st
        time.sleep(0.1)
    raise AssertionError("job did not end")


def test_a_port_in_use_is_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        res = subprocess.run([sys.executable, "-m", "daekit", "serve", "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and res.stderr.strip().count("\n") == 0 and f"cannot listen on 127.0.0.1:{port}" in res.stderr
    assert "open http" not in res.stdout
