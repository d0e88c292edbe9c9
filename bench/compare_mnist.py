"""The lesson's comparison on MNIST and Fashion-MNIST: compression AE vs DAE vs the best classical denoiser.

For each data set: one compression AE (noise none) and one DAE per noise (masking 50%, Gaussian
sigma 50), all the same architecture and recipe (the keras.io conv net, BCE, Adam 1e-3, batch 128),
seed and epochs; the classical methods (Gaussian blur, median,
TV, wavelet, NLM; BM3D with --methods) are tuned per noise level on validation images. Evaluated on the
first N test images with a fixed corruption.

    python bench/compare_mnist.py [--quick] [--data-dir ../shared/data] [--device cpu|cuda]

Targets (each data set, each noise): DAE - AE >= 3 dB PSNR on corrupted inputs; DAE - best classical > 0 dB.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, parser, result  # noqa: E402

from daekit.api import Denoiser  # noqa: E402
from daekit.compare import DEFAULT_METHODS, run_comparison  # noqa: E402
from daekit.config import resolve_config  # noqa: E402
from daekit.data import load_dataset  # noqa: E402
from daekit.train import fit  # noqa: E402

NOISES = ["masking:0.5", "gaussian:50"]


RECIPES = {
    # the keras.io network and recipe (BCE, Adam 1e-3, batch 128)
    "conv": {"model": {"name": "conv"}, "train": {"batch_size": 128, "lr": 1e-3, "loss": "bce"}},
    # a U-Net: its skip connections let a compression AE copy its input, noise included
    "unet": {"model": {"name": "unet", "args": {"levels": 2, "width": 16}}, "train": {"batch_size": 128, "lr": 2e-3, "loss": "mse"}},
}


def train(noise: str, data, epochs: int, device: str, out: Path, model: str = "conv") -> tuple[Denoiser, float]:
    recipe = RECIPES[model]
    cfg = resolve_config(options={**recipe, "noise": noise, "out": str(out), "train": {**recipe["train"], "epochs": epochs, "device": device}})
    t0 = time.perf_counter()
    r = fit(cfg, data=data, overwrite=True, progress=False)
    return Denoiser.from_fit(r), time.perf_counter() - t0


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--model", default="conv", choices=sorted(RECIPES), help="architecture of the AE and the DAEs (default conv)")
    p.add_argument("--methods", help="classical methods, comma-separated (default: all but BM3D, which takes 0.3-0.6 s per 28x28 "
                   "image on 2 cores: ~25 minutes per noise level here; add bm3d to include it)")
    p.add_argument("--epochs", type=int, default=20, help="epochs of each AE/DAE (default 20; --quick: 1)")
    a = p.parse_args()
    device = "cuda" if a.device in ("cuda", "auto") and torch.cuda.is_available() else "cpu"
    epochs, limit, test_limit = (1, 5000, 300) if a.quick else (a.epochs, None, 2000)
    methods = a.methods.split(",") if a.methods else DEFAULT_METHODS
    print(f"machine: {machine(device)}")
    print(f"{a.model} models, {epochs} epochs each, {test_limit} test images, classical methods: {', '.join(methods)}\n")
    t_all = time.perf_counter()
    lines, table = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("mnist", "fashion-mnist"):
            data = load_dataset(name, Path(a.data_dir) / name, seed=0, limit=limit)
            t0 = time.perf_counter()
            ae, t_ae = train("none", data, epochs, device, Path(tmp) / f"{name}-ae", a.model)
            clean_ae = None
            for noise in NOISES:
                dae, t_dae = train(noise, data, epochs, device, Path(tmp) / f"{name}-{noise}", a.model)
                res, _ = run_comparison(ae, dae, data, [noise], methods, test_limit=test_limit, progress=None)
                clean_ae = res["clean"]["ae"]
                row = res["levels"][0]["methods"]
                best = res["levels"][0]["best_classical"]
                table.append((name, noise, row["input"]["psnr"], row["ae"]["psnr"], row["dae"]["psnr"], best, row[best]["psnr"],
                              res["clean"]["dae"]["psnr"], row[best]["params"]))
                lines.append((f"{name}_{noise.split(':')[0]}_dae_minus_ae_db", row["dae"]["psnr"] - row["ae"]["psnr"], ">=", 3.0))
                lines.append((f"{name}_{noise.split(':')[0]}_dae_minus_best_classical_db", row["dae"]["psnr"] - row[best]["psnr"], ">", 0.0))
                print(f"{name} {noise}: input {row['input']['psnr']:.2f}  AE {row['ae']['psnr']:.2f}  DAE {row['dae']['psnr']:.2f}  "
                      f"{best} {row[best]['psnr']:.2f} dB   (DAE trained in {t_dae:.0f} s)", flush=True)
            print(f"{name}: compression AE on clean inputs {clean_ae['psnr']:.2f} dB / SSIM {clean_ae['ssim']:.3f} "
                  f"(trained in {t_ae:.0f} s); data set done in {time.perf_counter() - t0:.0f} s\n", flush=True)
    print(f"{'data':<14}{'noise':<13}{'input':>7}{'AE':>7}{'DAE':>7}  {'best classical':<24}{'DAE clean':>10}")
    for name, noise, inp, ae_p, dae_p, best, best_p, dae_clean, params in table:
        print(f"{name:<14}{noise:<13}{inp:>7.2f}{ae_p:>7.2f}{dae_p:>7.2f}  {best + f' {best_p:.2f}':<24}{dae_clean:>10.2f}   [{params}]")
    print(f"\n(PSNR dB on {test_limit} test images; 'DAE clean' = the DAE reconstructing clean inputs)")
    print(f"wall time of the whole comparison: {time.perf_counter() - t_all:.0f} s")
    for target in lines:
        result(*target, a.quick)


if __name__ == "__main__":
    main()
