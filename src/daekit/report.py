"""Figures of a run: image grids (clean / corrupted / denoised) and learning curves, written atomically."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from .checkpoint import atomic_write_bytes  # noqa: E402


def _save(fig: Any, path: str | Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


def save_grid(rows: dict[str, torch.Tensor], path: str | Path, title: str = "", columns: int = 10) -> Path:
    """One labelled row per entry of `rows`, each a (N, C, H, W) tensor in [0, 1]; first `columns` images.

    Args:
        rows: Row label -> images, e.g. {"clean": ..., "corrupted (gaussian:50)": ..., "denoised": ...}.
        path: PNG to write.
        title: Figure title.
        columns: Images per row.
    """
    n = min(columns, *(len(v) for v in rows.values()))
    fig, axes = plt.subplots(len(rows), n, figsize=(1.1 * n + 1.6, 1.2 * len(rows) + 0.5), squeeze=False)
    for r, (label, imgs) in enumerate(rows.items()):
        for c in range(n):
            ax = axes[r][c]
            img = imgs[c].detach().float().clamp(0, 1).cpu()
            if img.shape[0] == 1:
                ax.imshow(img[0].numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            else:
                ax.imshow(img.permute(1, 2, 0).numpy(), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r][0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def save_learning_curves(history: list[dict[str, Any]], path: str | Path, title: str = "") -> Path:
    """Training loss and validation PSNR per epoch, side by side."""
    epochs = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    a.plot(epochs, [h["train_loss"] for h in history], marker="o", ms=3)
    a.set_xlabel("epoch")
    a.set_ylabel("training loss")
    a.set_yscale("log")
    b.plot(epochs, [h["val_psnr"] for h in history], marker="o", ms=3, label="denoised")
    b.plot(epochs, [h["val_noisy_psnr"] for h in history], ls="--", label="corrupted input")
    b.set_xlabel("epoch")
    b.set_ylabel("validation PSNR (dB)")
    b.legend()
    for ax in (a, b):
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)
