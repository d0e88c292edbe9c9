"""The calls every denoiser in daekit answers, written down once (a Protocol, not a convention).

A trained model (``api.Denoiser``) and a classical method (``baselines.Classical``) both take one image
as an (H, W, C) float32 array in [0, 1] and a batch as a (B, C, H, W) tensor in [0, 1], and return the
same shapes. The comparison, the report and the bench scripts call them alike.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import torch


@runtime_checkable
class ImageDenoiser(Protocol):
    def denoise_image(self, image: np.ndarray) -> np.ndarray:
        """One (H, W, C) float32 image in [0, 1] -> the denoised (H, W, C) float32 image."""
        ...

    def denoise_tensor(self, x: torch.Tensor) -> torch.Tensor:
        """A (B, C, H, W) batch in [0, 1] -> the denoised batch, on the CPU."""
        ...
