"""The Python API: train from a config, load a run, denoise arrays and files, evaluate on a data set."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .checkpoint import build_model, find_checkpoint, load_checkpoint
from .config import Config, config_from_dict, config_to_dict, resolve_config
from .data import ImageData, load_dataset
from .errors import DaekitError
from .images import from_float, read_image, to_float, write_image
from .metrics import psnr, ssim
from .noise import parse_noise
from .train import FitResult, corrupt_fixed, denoise_batches, derive_seed, fit, select_device

TEST_STREAM = 4  # generator stream for the fixed corruption of test sets


class Denoiser:
    """A trained model ready to use: ``Denoiser.load("runs/x").denoise(noisy_array)``.

    Args:
        model: The network (any registered architecture).
        config: The config it was trained with.
        device: Where to run it ("auto", "cpu", "cuda", ...).
    """

    def __init__(self, model: nn.Module, config: Config, device: str | torch.device = "auto", history: list | None = None) -> None:
        self.device = select_device(device) if isinstance(device, str) else device
        self.model = model.to(self.device).eval()
        self.config = config
        self.history = history or []

    @classmethod
    def load(cls, path: str | Path, device: str = "auto", which: str = "best") -> "Denoiser":
        """Loads a run folder (its best checkpoint) or a ``.safetensors`` checkpoint file."""
        ckpt = load_checkpoint(find_checkpoint(path, which))
        return cls(build_model(ckpt), config_from_dict(ckpt.config, f"checkpoint {path}"), device)

    @classmethod
    def from_fit(cls, result: FitResult) -> "Denoiser":
        """The best model of a ``fit`` run, on the device it was trained on, with its history."""
        return cls(result.model, result.config, next(result.model.parameters()).device, history=result.history)

    @property
    def in_channels(self) -> int:
        return int(self.model.spec["in_channels"])

    def denoise_tensor(self, x: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
        """(B, C, H, W) float tensor in [0, 1] -> denoised tensor of the same shape, clamped to [0, 1].

        A grayscale model cleans each channel of a color image separately; a color model given a
        grayscale image sees it replicated to three channels and returns their mean.
        """
        if x.dim() != 4:
            raise DaekitError(f"expected a (B, C, H, W) tensor, got shape {tuple(x.shape)}")
        if not torch.isfinite(x).all():
            raise DaekitError("input contains NaN or infinite values")
        b, c, h, w = x.shape
        m = self.in_channels
        if c == m:
            y = denoise_batches(self.model, x, batch_size)
        elif m == 1:
            y = denoise_batches(self.model, x.reshape(b * c, 1, h, w), batch_size).reshape(b, c, h, w)
        elif c == 1:
            y = denoise_batches(self.model, x.expand(b, m, h, w), batch_size).mean(1, keepdim=True)
        else:
            raise DaekitError(f"model takes {m} channel(s); cannot denoise an image with {c}")
        return y.clamp(0, 1)

    def denoise(self, image: np.ndarray) -> np.ndarray:
        """Denoises one image (H, W) or (H, W, C), or a stack (N, H, W, C); uint8, uint16 or float in [0, 1].

        Returns:
            An array of the same shape and dtype.
        """
        a = np.asarray(image)
        if a.ndim not in (2, 3, 4):
            raise DaekitError(f"expected an image (H, W), (H, W, C) or a stack (N, H, W, C); got shape {a.shape}")
        if a.ndim == 3 and a.shape[-1] not in (1, 3):
            raise DaekitError(f"expected 1 or 3 channels last, got shape {a.shape}")
        x = to_float(a)
        if not np.isfinite(x).all():
            raise DaekitError("input contains NaN or infinite values")
        stack = x[None, ..., None] if a.ndim == 2 else (x[None] if a.ndim == 3 else x)
        t = torch.from_numpy(np.ascontiguousarray(stack)).permute(0, 3, 1, 2)  # (N, C, H, W)
        y = self.denoise_tensor(t).permute(0, 2, 3, 1).numpy()  # (N, H, W, C)
        y = y[0, ..., 0] if a.ndim == 2 else (y[0] if a.ndim == 3 else y)
        return from_float(y, a.dtype) if a.dtype in (np.uint8, np.uint16) else y.astype(a.dtype if a.dtype.kind == "f" else np.float32)

    def denoise_file(self, src: str | Path, dst: str | Path) -> None:
        """Reads `src`, denoises it and writes `dst` with the same bit depth (and alpha channel)."""
        img, info = read_image(src)
        out = self.denoise(img)
        write_image(dst, out, info)

    @staticmethod
    def corrupt(clean: torch.Tensor, noise: str, seed: int = 0) -> torch.Tensor:
        """The fixed corruption used for evaluation: a CPU generator seeded by (`seed`, test stream)."""
        return corrupt_fixed(parse_noise(noise), clean, derive_seed(seed, TEST_STREAM))

    def evaluate(self, clean: torch.Tensor, noise: str, seed: int = 0) -> dict[str, Any]:
        """PSNR/SSIM of the noisy input and of the denoised output, mean over `clean` (N, C, H, W).

        The corruption is ``Denoiser.corrupt(clean, noise, seed)``: fixed for a seed.
        """
        noisy = self.corrupt(clean, noise, seed)
        out = self.denoise_tensor(noisy)  # the model sees what it saw in training (unclipped unless the spec clips)
        nz = noisy.clamp(0, 1)
        return {
            "images": int(len(clean)),
            "noise": noise,
            "noisy_psnr": float(psnr(nz, clean).mean()),
            "noisy_ssim": float(ssim(nz, clean).mean()),
            "psnr": float(psnr(out, clean).mean()),
            "ssim": float(ssim(out, clean).mean()),
        }


def train(
    config: Config | dict[str, Any] | str | Path | None = None,
    *,
    sets: list[str] | None = None,
    data: ImageData | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> Denoiser:
    """Trains a model and returns it as a Denoiser (best validation weights).

    Args:
        config: A Config, a nested dict, or the path of a YAML/TOML/JSON file (None: defaults).
        sets: ``key=value`` overrides, e.g. ``["noise=masking:0.5", "train.epochs=20"]``.
        data: Pre-loaded data instead of ``config.data``.
        resume: Continue the run in ``config.out``.
        overwrite: Replace an existing run in ``config.out``.
        progress: Show progress bars.

    Example:
        >>> import daekit
        >>> dae = daekit.train(sets=["noise=gaussian:50", "train.epochs=30", "out=runs/digits"])
        >>> clean = dae.denoise(noisy_uint8_image)
    """
    if isinstance(config, Config):
        cfg = resolve_config(options=config_to_dict(config), sets=sets)
    elif isinstance(config, dict):
        cfg = resolve_config(options=config, sets=sets)
    else:
        cfg = resolve_config(file=config, sets=sets)
    result = fit(cfg, data=data, resume=resume, overwrite=overwrite, progress=progress)
    return Denoiser.from_fit(result)


def load(path: str | Path, device: str = "auto") -> Denoiser:
    """Loads a trained model from a run folder or a checkpoint file (offline; nothing is unpickled)."""
    return Denoiser.load(path, device)


def evaluate_on(
    denoiser: Denoiser,
    data: str | None = None,
    data_dir: str | None = None,
    noise: str | None = None,
    split: str = "test",
    seed: int = 0,
    limit: int | None = None,
) -> dict[str, Any]:
    """Evaluates `denoiser` on a data set split (default: the data and noise it was trained with)."""
    cfg = denoiser.config
    name = data or cfg.data.name
    ds = load_dataset(name, data_dir if data_dir else (cfg.data.dir if name == cfg.data.name else None),
                      val_fraction=cfg.data.val_fraction, seed=cfg.seed, resize=cfg.data.resize)
    if split not in ("test", "val"):
        raise DaekitError(f"unknown split {split!r}; use test or val")
    clean = ds.test if split == "test" else ds.val
    if limit:
        clean = clean[:limit]
    res = denoiser.evaluate(clean, noise or cfg.noise, seed)
    return {"data": name, "split": split, **res}
