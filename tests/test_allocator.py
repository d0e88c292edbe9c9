"""daekit.allocator: the CLI's glibc setting (big CPU buffers reused instead of page-faulted every call)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = "from daekit.allocator import keep_large_buffers as k; print(k(), k())"


def _probe(**env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k not in ("DAEKIT_NO_MALLOPT", "MALLOC_MMAP_THRESHOLD_")}
    r = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env={**base, **env}, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def _glibc() -> bool:
    import ctypes

    return sys.platform.startswith("linux") and hasattr(ctypes.CDLL(None), "gnu_get_libc_version")


@pytest.mark.skipif(not _glibc(), reason="glibc only")
def test_applies_on_glibc_and_is_idempotent():
    assert _probe() == "True True"


def test_opt_outs_leave_the_allocator_alone():
    assert _probe(DAEKIT_NO_MALLOPT="1") == "False False"
    assert _probe(MALLOC_MMAP_THRESHOLD_="65536") == "False False"  # the user's own setting wins
