"""The demo behind ``make demo``: the whole lesson on embedded data, offline, in a few minutes.

1. A compression AE and a DAE of one convolutional architecture, trained on the embedded 28x28
   MNIST-type digits (``digits28``), compared with classical denoisers over masking levels; report written.
2. The best model available, the shipped ``photo-gray`` (trained on BSD400, see ``daekit models``),
   cleans scikit-image's ``camera`` photograph beside the best-tuned non-local means.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .api import Denoiser
from .baselines import tune
from .compare import compare, format_comparison
from .config import Config, resolve_config
from .data import load_dataset
from .data.photos import TEST_PHOTO, gray_photo
from .images import write_image
from .metrics import psnr, ssim
from .report import build_report, grid_figure, save_grid
from .report import _save as save_figure
from .seeding import DEMO_PHOTO_OFFSET

DIGITS_NOISE = "masking:50%"
STACK_LAYERS = [256, 128]
CLEANING_NOISE = "masking:50%"
NOISE_ROW = ["masking:10%", "masking:30%", "masking:50%", "masking:70%", "salt-and-pepper:10%", "salt-and-pepper:30%"]
DEMO_EPOCHS = 12  # ~1.5 s an epoch per model on 2 cores: the whole demo (with stacking) stays under two minutes
PHOTO_NOISE = "gaussian:25"


def digits_config(out: Path, epochs: int) -> Config:
    # channels [32, 8]: the code (8 x 7 x 7 = 392 values for 784 pixels) is a real bottleneck,
    # so the "compression" autoencoder really compresses
    return resolve_config(options={
        "data": {"name": "digits28"},
        "model": {"name": "conv", "args": {"channels": [32, 8]}},
        "noise": DIGITS_NOISE,
        "train": {"epochs": epochs, "batch_size": 32, "lr": 3e-3},
        "out": str(out),
    })


def clean_camera(dae: Denoiser, out: Path, seed: int = 0) -> dict[str, float]:
    """Corrupts scikit-image's 'camera' with PHOTO_NOISE, cleans it with the DAE and tuned NLM, writes figures."""
    clean = torch.from_numpy(gray_photo(TEST_PHOTO).astype(np.float32) / 255.0)[None, None]  # (1, 1, 512, 512)
    noisy = Denoiser.corrupt(clean, PHOTO_NOISE, seed).clamp(0, 1)  # what a camera file would hold
    t0 = time.perf_counter()
    den = dae.denoise_tensor(noisy)
    t_dae = time.perf_counter() - t0
    # NLM gets its best h on a different photo corrupted the same way (fair: tuned, but not on the answer)
    ref = torch.from_numpy(gray_photo("coins").astype(np.float32) / 255.0)[None, None]
    nlm, _ = tune("nlm", Denoiser.corrupt(ref, PHOTO_NOISE, seed + DEMO_PHOTO_OFFSET).clamp(0, 1), ref)
    t0 = time.perf_counter()
    classical = nlm.denoise_tensor(noisy)
    t_nlm = time.perf_counter() - t0
    res = {
        "noisy": float(psnr(noisy, clean)), "dae": float(psnr(den, clean)), "nlm": float(psnr(classical, clean)),
        "noisy_ssim": float(ssim(noisy, clean)), "dae_ssim": float(ssim(den, clean)), "nlm_ssim": float(ssim(classical, clean)),
        "dae_seconds": t_dae, "nlm_seconds": t_nlm,
    }
    write_image(out / "camera_noisy.png", noisy[0].permute(1, 2, 0).numpy())
    write_image(out / "camera_denoised.png", den[0].permute(1, 2, 0).numpy())
    crop = (slice(None), slice(None), slice(60, 316), slice(150, 406))  # the cameraman, 256 x 256
    fig = grid_figure(
        {"": torch.cat([noisy[crop], den[crop], classical[crop], clean[crop]])}, columns=4, cell=3.2,
        title=f"camera + {PHOTO_NOISE}, left to right: noisy {res['noisy']:.2f} dB | photo-gray {res['dae']:.2f} dB | "
        f"{nlm.describe()} {res['nlm']:.2f} dB | clean",
    )
    save_figure(fig, out / "camera_before_after.png")
    return res


def run_stacks(data: Any, out: Path, epochs: int = DEMO_EPOCHS) -> dict[str, float]:
    """The lesson's stacking: one stacked DAE pretrained layer by layer and the same network from a random
    start, both fine-tuned as classifiers; the pretrained one also classifies masked digits as they are and
    after a conv DAE cleans them (``out/stack``, ``out/stack-random``; the report reads both)."""
    from .stack import StackSettings
    from .stack_run import run_stack

    # lr 3e-3 and 8 epochs: the first layer's filters turn from noise into stroke pieces (1e-3 or 3 epochs: noise)
    # (a demo run with fewer epochs, as the tests make, shortens these too)
    s = StackSettings(layers=STACK_LAYERS, noise=["masking:30%"], pretrain_epochs=min(8, epochs), finetune_epochs=min(5, epochs),
                      pretrain_lr=3e-3)
    pre = run_stack(data, s, out / "stack", cleaning=[CLEANING_NOISE], cleaning_epochs=min(3, epochs), log=None)
    rnd = run_stack(data, dataclasses.replace(s, pretrain_epochs=0), out / "stack-random", log=None)
    (row,) = pre["cleaning"]
    return {"pretrained": pre["test_accuracy"], "random": rnd["test_accuracy"], "as_is": row["as_is"], "cleaned": row["cleaned"]}


def write_lesson(out: Path, data: Any, ae: Denoiser, camera: dict[str, float]) -> None:
    """out/lesson.json and the figure of one digit at every noise level: what turns the comparison report
    into the whole lesson (``report.build_report`` reads them)."""
    from .io import atomic_write_bytes, atomic_write_text, json_text
    from .report import noise_levels_png

    digit = data.test[:1]  # (1, 1, 28, 28)
    with torch.no_grad():
        code = ae.model.encode(digit.to(ae.device))
    atomic_write_bytes(out / "lesson_noise.png", noise_levels_png(digit, NOISE_ROW))
    lesson = {"noise_levels": NOISE_ROW, "code_size": int(code[0].numel()), "input_size": int(digit[0].numel()),
              "code_shape": list(code.shape[1:]), "camera": camera, "photo": TEST_PHOTO, "photo_noise": PHOTO_NOISE,
              "stack_layers": STACK_LAYERS, "cleaning_noise": CLEANING_NOISE}
    atomic_write_text(out / "lesson.json", json_text(lesson, indent=2) + "\n")
    build_report(out)


def run_demo(out: str | Path = "runs/demo", epochs: int = DEMO_EPOCHS, progress: bool = True,
             test_limit: int | None = None) -> dict:
    """Runs the lesson; returns the comparison results and the photograph's figures (`test_limit`: compare on
    the first N test digits only, for a quick run)."""
    t0 = time.perf_counter()
    out = Path(out)
    print(f"1/3  the lesson on the embedded digits: compression AE vs DAE ({DIGITS_NOISE}) vs classical denoisers")
    results = compare(digits_config(out, epochs), out, test_limit=test_limit, progress=progress, overwrite=True,
                      report=False)  # write_lesson writes the report once everything is there
    data = load_dataset("digits28")
    dae = Denoiser.load(out / "dae")
    noisy = Denoiser.corrupt(data.test, DIGITS_NOISE)
    save_grid({"clean": data.test, f"corrupted\n({DIGITS_NOISE})": noisy, "denoised\n(conv DAE)": dae.denoise_tensor(noisy)},
              out / "demo_grid.png", title="held-out digits")
    print(f"\n2/3  stacked DAEs on the same digits: greedy layer-wise pretraining, then a classifier; "
          f"cleaning {CLEANING_NOISE} digits before classifying them")
    stacks = run_stacks(data, out, epochs)
    print(f"\n3/3  the shipped photo-gray model (a DAE trained on BSD400 photos) cleans '{TEST_PHOTO}' ({PHOTO_NOISE})")
    cam = clean_camera(Denoiser.load("photo-gray"), out)
    write_lesson(out, data, Denoiser.load(out / "ae"), cam)

    print(format_comparison(results))
    print(f"\nstacked DAE {STACK_LAYERS}: test accuracy {100 * stacks['pretrained']:.2f}% pretrained, "
          f"{100 * stacks['random']:.2f}% from a random start; digits with {CLEANING_NOISE} masked: "
          f"{100 * stacks['as_is']:.2f}% as they are, {100 * stacks['cleaned']:.2f}% cleaned by the conv DAE first")
    print(f"\ncamera photograph, {PHOTO_NOISE}:   PSNR (dB)   SSIM   seconds")
    print(f"  noisy                        {cam['noisy']:8.2f}  {cam['noisy_ssim']:.3f}")
    print(f"  photo-gray (shipped DAE)     {cam['dae']:8.2f}  {cam['dae_ssim']:.3f}  {cam['dae_seconds']:6.2f}")
    print(f"  non-local means (tuned)      {cam['nlm']:8.2f}  {cam['nlm_ssim']:.3f}  {cam['nlm_seconds']:6.2f}")
    print(f"\nreport:  {out / 'report.html'}  (and report.md)")
    print(f"figures: {out / 'demo_grid.png'}, {out / 'camera_before_after.png'}")
    print(f"done in {time.perf_counter() - t0:.0f} s")
    return {"comparison": results, "camera": cam}
