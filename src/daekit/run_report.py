"""The report of one training run (``daekit report RUN``): what the model does to its validation images.

With clean references (a run that learned from clean images) it shows clean / corrupted / denoised and
their PSNR. A run that learned from noisy images alone (``train.target`` noise2noise, neighbor2neighbor or blind-spot on
noisy data) has no clean reference, and PSNR needs one; the report says so and shows what can be shown
without it: the noisy input, the output, the residual (what was removed) and the residual's statistics
(``metrics.residual_stats``) beside the input's estimated noise level, and the self-supervised
validation score per epoch.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import DaekitError
from .metrics import psnr, residual_stats, ssim
from .report import _png, _read_history, plt, write_blocks
from .targets import keeps_last_epoch, shots

SHOWN = 4  # validation images shown
CROP = 256  # each shown as its centre, at most this many pixels a side
EDGE_CORR_REMOVED = 0.15  # metrics.residual_stats: above this, the residual follows the edges (detail removed)

NO_REFERENCE_TEXT = (
    "**No clean reference.** This model learned from noisy images alone, and its validation images are noisy "
    "too. PSNR and SSIM compare an output with the clean image, so they cannot be measured here: to measure "
    "them, run `daekit evaluate --model RUN --data images --data-dir CLEAN_FOLDER --noise SPEC` on clean "
    "images with a noise like yours. Shown instead: the self-supervised validation score (the error at hidden "
    "pixels, or against a second shot, in dB; it ranks checkpoints as the true error does, but is not a "
    "PSNR; for Neighbor2Neighbor, the error of one sub-image's output against its neighbour, which leans to "
    "smoothing, so such a run keeps its last epoch), and what the model removed from each image.")
RESIDUAL_TEXT = (
    "The residual is the input minus the output: what the model removed. If it removed noise only, the residual "
    "looks like noise: its spread (sigma, 0-255 scale) near the input's estimated noise level (scikit-image's "
    "wavelet estimate, fooled by correlated noise), little correlation between neighbouring pixels (lag-1; "
    "camera noise is correlated by itself), and no more energy on the image's edges than elsewhere once "
    "brightness is accounted for (edge correlation near or below 0; shot noise is stronger where the image "
    "is brighter). A residual that follows the edges (edge correlation above "
    f"{EDGE_CORR_REMOVED}) means detail was removed along with the noise; a residual sigma far above the noise level (1.5x) "
    "means the output departs from the image itself, one far below it (0.5x) that much noise is left.")


def _estimated_sigma(img: np.ndarray) -> float:
    """The noise level of an (H, W, C) image in [0, 1], 0-255 scale (wavelet median estimate, mean over channels)."""
    from skimage.restoration import estimate_sigma

    return float(np.mean(estimate_sigma(img, channel_axis=-1, average_sigmas=False))) * 255.0


def _verdict(stats: dict[str, float], sigma: float) -> str:
    if stats["edge_corr"] > EDGE_CORR_REMOVED:
        return "detail removed (residual follows the edges)"
    if sigma > 1 and stats["std"] * 255 > 1.5 * sigma:
        return "removed more than the noise (residual far above its level)"
    if sigma > 1 and stats["std"] * 255 < 0.5 * sigma:
        return "much noise left"
    return "looks like noise"


def _center(x: torch.Tensor) -> torch.Tensor:
    h, w = x.shape[-2:]
    y0, x0 = max(0, (h - CROP) // 2), max(0, (w - CROP) // 2)
    return x[..., y0 : y0 + CROP, x0 : x0 + CROP]


def _validation_images(cfg: Any, shown: int) -> tuple[list[torch.Tensor], list[torch.Tensor] | None, bool]:
    """(inputs, clean references or None, has references): the run's first `shown` validation images as
    training saw them; with references, corrupted with the run's noise by the validation seed."""
    from .data import load_configured
    from .noise import parse_noise
    from .seeding import VALIDATION, derive_seed
    from .train import corrupt_fixed, has_references

    data = load_configured(dataclasses.replace(cfg.data, download=False), cfg.seed)
    frames = data.frames
    val = data.val if isinstance(data.val, list) else [data.val[i : i + 1] for i in range(len(data.val))]
    val = [shots(v, frames)[:, 0] for v in val[:shown]]  # of stacked shots, the first
    if not val:
        raise DaekitError("the run's data have no validation images to show (data.val_fraction is 0)")
    refs = has_references(cfg, frames)
    if not refs:
        return val, None, False
    noisy = corrupt_fixed(parse_noise(cfg.noise), val, derive_seed(cfg.seed, VALIDATION))
    return list(noisy), val, True


def _images_png(rows: list[dict[str, torch.Tensor]]) -> bytes:
    """One row per image: [clean], input, output, residual (mid-grey = nothing removed, stretched to +-3 sigma)."""
    cols = list(rows[0])
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(2.6 * len(cols), 2.7 * len(rows)), squeeze=False)
    for r, row in enumerate(rows):
        for c, name in enumerate(cols):
            img = row[name][0].float()
            if name == "residual":
                img = 0.5 + img / (6 * float(img.std()) + 1e-8)
            img = img.clamp(0, 1).permute(1, 2, 0).numpy()
            ax = axes[r][c]
            ax.imshow(img[..., 0] if img.shape[2] == 1 else img, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=10)
    fig.tight_layout()
    return _png(fig)


def _curves_png(history: list[dict[str, Any]], refs: bool) -> bytes | None:
    if not history:
        return None
    e = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    a.plot(e, [h["train_loss"] for h in history], marker="o", ms=2)
    a.set_yscale("log")
    a.set(xlabel="epoch", ylabel="training loss")
    b.plot(e, [h["val_psnr"] for h in history], marker="o", ms=2, label="model")
    bar = [h.get("val_noisy_psnr") for h in history]
    if all(v is not None for v in bar):
        b.plot(e, bar, ls="--", color="grey", label="input as it is" if refs else "doing nothing")
    b.set(xlabel="epoch", ylabel="validation PSNR (dB)" if refs else "self-supervised score (dB, not a PSNR)")
    from matplotlib.ticker import MaxNLocator

    for ax in (a, b):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs
    b.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return _png(fig)


def build_run_report(run_dir: str | Path, shown: int = SHOWN) -> tuple[Path, Path]:
    """Writes run_dir/report.html (self-contained) and run_dir/report.md (+ figures/) for a training run."""
    from .api import Denoiser

    run = Path(run_dir)
    den = Denoiser.load(run, device="cpu")
    cfg = den.config
    history = _read_history(run)
    inputs, clean, refs = _validation_images(cfg, shown)
    rows, table, figure_rows = [], [], []
    for i, x in enumerate(inputs):
        x = _center(x)
        out = torch.from_numpy(den.denoise_image(x[0].permute(1, 2, 0).numpy().astype(np.float32))).permute(2, 0, 1)[None]
        s = {k: float(v[0]) for k, v in residual_stats(x, out).items()}
        sigma = _estimated_sigma(x[0].permute(1, 2, 0).clamp(0, 1).numpy())
        row = [str(i + 1), f"{sigma:.1f}", f"{s['std'] * 255:.1f}", f"{s['lag1']:.2f}", f"{s['edge_corr']:.2f}", _verdict(s, sigma)]
        shown_row = {"input": x.clamp(0, 1), "output": out, "residual": x - out}
        if clean is not None:
            c = _center(clean[i])
            row[1:1] = [f"{float(psnr(x.clamp(0, 1), c)[0]):.2f}", f"{float(psnr(out, c)[0]):.2f}", f"{float(ssim(out, c)[0]):.3f}"]
            shown_row = {"clean": c, **shown_row}
        table.append(row)
        figure_rows.append(shown_row)
        rows.append(s)
    header = ["image", "input noise sigma (est.)", "residual sigma", "residual lag-1", "edge correlation", "reading"]
    if refs:
        header[1:1] = ["PSNR input", "PSNR output", "SSIM output"]
    last = keeps_last_epoch(cfg.train.target, refs)
    best = (history[-1] if last else max(history, key=lambda h: h["val_psnr"])) if history else None
    what = {"clean": "the clean images", "noise2noise": "a second noisy shot of each image (Noise2Noise)",
            "blind-spot": "its own hidden pixels (blind-spot)",
            "neighbor2neighbor": "a neighbouring sub-image of the same noisy image (Neighbor2Neighbor)"}[cfg.train.target]
    data = cfg.data.name + (f" ({cfg.data.dir})" if cfg.data.dir else "")
    noise = f"noisy once with {cfg.data.noisy_once}" if cfg.data.noisy_once else ("bursts of noisy shots" if cfg.data.bursts else "")
    intro = (f"Model `{cfg.model.name}` trained on {data}{', ' + noise if noise else ''}, noise `{cfg.noise}`, learning to "
             f"output {what}; {len(history)} epoch(s)"
             + ((f", keeping the last epoch ({best['epoch']})" if last else f", best at epoch {best['epoch']}") if best else "")
             + ". Shown: the centre of the first "
             f"{len(inputs)} validation image(s).")
    figures = [("images.png", "Validation images: " + ", ".join(figure_rows[0]), _images_png(figure_rows))]
    curves = _curves_png(history, refs)
    if curves:
        figures.append(("curves.png", "Learning curves", curves))
    title = f"daekit run: {run.name}"
    blocks: list[tuple] = [("h", 1, title), ("p", intro)]
    if not refs:
        blocks.append(("p", NO_REFERENCE_TEXT))
    blocks += [("table", header, table), ("p", RESIDUAL_TEXT)]
    blocks += [("img", 2, cap, name, png) for name, cap, png in figures]
    return write_blocks(run, blocks, title)
