"""ONNX Runtime vs PyTorch on the same CPU: the shipped photo-gray model on a 1024 x 1024 gray photo.

The model is exported with ``daekit export`` (parity-checked), then both run the same noisy image
(scikit-image's 'camera' upsampled to 1024 x 1024, Gaussian sigma 25) whole, on the same number of
threads; best of 3 runs each after a warm-up.

    python bench/onnx_runtime.py [--quick]

Reported: the time ratio PyTorch / ONNX Runtime (> 1: ONNX Runtime is faster) and their max abs difference.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, parser, result  # noqa: E402

from daekit.api import Denoiser  # noqa: E402
from daekit.export import export_model  # noqa: E402


def best_of(fn, n: int) -> float:
    fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    a = parser(__doc__.splitlines()[0]).parse_args()
    import onnxruntime as ort
    from skimage import data, transform

    side = 512 if a.quick else 1024
    print(f"machine: {machine()}, onnxruntime {ort.__version__}")
    cam = transform.resize(data.camera().astype(np.float32) / 255, (side, side), anti_aliasing=True).astype(np.float32)
    noisy = (cam + np.random.default_rng(0).normal(0, 25 / 255, cam.shape)).astype(np.float32)
    x = noisy[None, None]
    den = Denoiser.load("photo-gray", device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo-gray.onnx"
        export_model(den, path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = torch.get_num_threads()
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        y_ort = sess.run(None, {"x": x})[0]
        with torch.no_grad():
            y_pt = den.model(torch.from_numpy(x)).clamp(0, 1).numpy()
        n = 1 if a.quick else 3
        t_ort = best_of(lambda: sess.run(None, {"x": x}), n)
        with torch.no_grad():
            t_pt = best_of(lambda: den.model(torch.from_numpy(x)), n)
    diff = float(np.abs(y_ort - y_pt).max())
    print(f"{side} x {side} gray, {torch.get_num_threads()} threads:  PyTorch {t_pt:.3f} s   ONNX Runtime {t_ort:.3f} s   "
          f"ratio {t_pt / t_ort:.2f}   max abs difference {diff:.1e}")
    result("onnx_speed_ratio_torch_over_ort", t_pt / t_ort, ">=", 1.0, a.quick)
    result("onnx_parity_maxabs", diff, "<=", 1e-4, a.quick)


if __name__ == "__main__":
    main()
