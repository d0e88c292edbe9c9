"""Nothing lost, nothing crashes: the bad-input suite, the server under load and a huge image, in one run.

* The bad-input suite (tests/test_bad_input.py: every subcommand and the API, each case asserting one
  line, a non-zero exit, no traceback and the user's files unchanged): how many cases, how many fail.
* `daekit serve` under 20 simultaneous uploads of 2048 x 2048 photos (tests/test_serve_load.py): every
  upload finishes or hears "busy"; the server process's peak resident memory (VmHWM) against a bound.
* A 16000 x 16000 PNG through `daekit denoise` with the default `conv` model (a tiny run trained here),
  which used to end in a traceback allocating 32.8 GB: wall time and peak memory of the child process.
  Skipped with --quick.

    python bench/robustness.py [--quick]

Targets (issue "Nothing lost, nothing crashes"): >= 200 bad-input cases, 0 failing (0 tracebacks,
0 data lost); the server's peak under the load test below 2 GiB (the bound the test states); the
16000^2 image finishes in bounded memory (below 8 GB on this 24 GB machine, no traceback).
"""
from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, parser, result  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def pytest_counts(*args: str) -> tuple[int, int, str]:
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=ROOT,
                         capture_output=True, text=True)
    passed = int(m[1]) if (m := re.search(r"(\d+) passed", res.stdout)) else 0
    failed = int(m[1]) if (m := re.search(r"(\d+) failed", res.stdout)) else 0
    errors = int(m[1]) if (m := re.search(r"(\d+) error", res.stdout)) else 0
    return passed, failed + errors, res.stdout


def huge_image(tmp: Path) -> tuple[float, float, str]:
    import cv2

    side = 16000
    img = (np.random.default_rng(0).random((side, side)) * 255).astype(np.uint8)
    cv2.imwrite(str(tmp / "big.png"), img, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    del img
    daekit = [sys.executable, "-m", "daekit"]
    subprocess.run([*daekit, "train", "--quiet", "--out", str(tmp / "run"), "--epochs", "1", "--set", "data.resize=16",
                    "--set", "model.args={channels: [8, 8]}"], check=True, capture_output=True)
    t0 = time.perf_counter()
    res = subprocess.run(["/usr/bin/time", "-f", "%M", *daekit, "denoise", "--model", str(tmp / "run"), str(tmp / "big.png"),
                          "-o", str(tmp / "out.png")], capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    peak_kb = int(res.stderr.strip().splitlines()[-1]) if res.stderr.strip() else 0
    return seconds, peak_kb / 2**20, res.stderr


def main() -> None:
    a = parser(__doc__.splitlines()[0]).parse_args()
    print(f"machine: {machine()}")
    passed, failed, _ = pytest_counts("tests/test_bad_input.py")
    print(f"bad-input suite: {passed + failed} cases, {failed} failing")
    lp, lf, out = pytest_counts("-s", "tests/test_serve_load.py", "-k", "twenty")
    peak = float(m[1]) if (m := re.search(r"server peak RSS (\d+) MiB", out)) else float("nan")
    accepted = m[0] if (m := re.search(r"accepted \d+ of 20", out)) else "?"
    print(f"serve load test: {'passed' if lp and not lf else 'FAILED'}; server peak RSS {peak:.0f} MiB ({accepted})")
    result("bad_input_cases", passed + failed, ">=", 200, a.quick)
    result("bad_input_failures", failed, "<=", 0, a.quick)
    result("serve_load_peak_rss_mib", peak if lp and not lf else float("inf"), "<", 2048, a.quick)
    if not a.quick:
        with tempfile.TemporaryDirectory() as tmp:
            seconds, peak_gb, err = huge_image(Path(tmp))
        ok = "Traceback" not in err
        print(f"16000 x 16000 PNG, conv model: {seconds:.1f} s, peak RSS {peak_gb:.2f} GB, {'no traceback' if ok else 'TRACEBACK'}")
        result("huge_image_peak_rss_gb", peak_gb if ok else float("inf"), "<", 8, a.quick)


if __name__ == "__main__":
    main()
