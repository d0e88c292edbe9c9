"""Classical denoisers behind the same call as a model, and their fair tuning on validation images.

Each method is a registered class whose ``denoise_tensor(x)`` takes and returns (B, C, H, W) tensors
in [0, 1], like ``Denoiser.denoise_tensor``. ``tune`` picks a method's parameters as the best of a
small grid by mean PSNR on validation images corrupted at the same noise level (the same protocol
for every method, so no method is favoured by hand-picked settings).

BM3D comes from the optional ``bm3d`` package (``pip install bm3d``); its licence (Tampere
University) allows non-commercial use only, so daekit does not depend on it.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy import ndimage
from skimage import restoration

from .errors import DaekitError
from .metrics import psnr
from .registry import Registry

BASELINES: Registry[type["Classical"]] = Registry("classical method")


class Classical:
    """A classical denoiser with keyword parameters and a grid to tune them over."""

    name = ""
    grid: list[dict[str, Any]] = [{}]

    def __init__(self, **params: Any) -> None:
        self.params = params

    def denoise_plane(self, img: np.ndarray) -> np.ndarray:
        """One (H, W) plane in [0, 1] (float64) -> denoised (H, W): what each method implements."""
        raise NotImplementedError

    def denoise_image(self, image: np.ndarray) -> np.ndarray:
        """One (H, W, C) float32 image in [0, 1] -> denoised (H, W, C) float32 (``contracts.ImageDenoiser``)."""
        a = np.clip(np.asarray(image, dtype=np.float64), 0, 1)
        out = np.stack([self.denoise_plane(a[..., c]) for c in range(a.shape[2])], axis=2)
        return np.clip(out, 0, 1).astype(np.float32)

    def denoise_tensor(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [0, 1] (values outside are clipped first: these methods expect images)."""
        a = x.detach().float().clamp(0, 1).cpu().numpy().astype(np.float64)
        out = np.empty_like(a)
        for b in range(a.shape[0]):
            for c in range(a.shape[1]):  # channel by channel: the same for gray and RGB
                out[b, c] = self.denoise_plane(a[b, c])
        return torch.from_numpy(out).float().clamp_(0, 1)

    def describe(self) -> str:
        return f"{self.name}({', '.join(f'{k}={v:g}' if isinstance(v, float) else f'{k}={v}' for k, v in self.params.items())})"


@BASELINES.register("gaussian-blur")
class GaussianBlur(Classical):
    name = "gaussian-blur"
    grid = [{"sigma": s} for s in (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)]

    def denoise_plane(self, img: np.ndarray) -> np.ndarray:
        return ndimage.gaussian_filter(img, sigma=self.params.get("sigma", 1.0), mode="reflect")


@BASELINES.register("median")
class Median(Classical):
    name = "median"
    grid = [{"size": s} for s in (2, 3, 5, 7)]

    def denoise_plane(self, img: np.ndarray) -> np.ndarray:
        return ndimage.median_filter(img, size=int(self.params.get("size", 3)), mode="reflect")


@BASELINES.register("tv")
class TotalVariation(Classical):
    name = "tv"
    grid = [{"weight": w} for w in (0.02, 0.05, 0.1, 0.2, 0.4, 0.8)]

    def denoise_plane(self, img: np.ndarray) -> np.ndarray:
        return restoration.denoise_tv_chambolle(img, weight=self.params.get("weight", 0.1))


@BASELINES.register("wavelet")
class Wavelet(Classical):
    name = "wavelet"
    # sigma None: estimated from the image (BayesShrink); the rest cover weak to strong noise
    grid = [{"sigma": s} for s in (None, 0.05, 0.1, 0.2, 0.3, 0.4)]

    def denoise_plane(self, img: np.ndarray) -> np.ndarray:
        return restoration.denoise_wavelet(img, sigma=self.params.get("sigma"), method="BayesShrink", mode="soft", rescale_sigma=True)

    def describe(self) -> str:
        s = self.params.get("sigma")
        return f"wavelet(sigma={'estimated' if s is None else f'{s:g}'})"


@BASELINES.register("nlm")
class NonLocalMeans(Classical):
    name = "nlm"
    grid = [{"h": h} for h in (0.04, 0.08, 0.15, 0.25, 0.4, 0.6)]

    def denoise_plane(self, img: np.ndarray) -> np.ndarray:
        small = min(img.shape) < 64  # digits: small patches and search windows
        return restoration.denoise_nl_means(
            img, h=self.params.get("h", 0.1), patch_size=3 if small else 7, patch_distance=4 if small else 11, fast_mode=True
        )


@BASELINES.register("bm3d")
class BM3D(Classical):
    name = "bm3d"
    grid = [{"sigma": s} for s in (0.05, 0.1, 0.2, 0.3, 0.4, 0.6)]

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        try:
            import bm3d  # noqa: F401
        except ImportError:
            raise DaekitError("method 'bm3d' needs the optional bm3d package: pip install bm3d (non-commercial licence)") from None

    def denoise_plane(self, img: np.ndarray) -> np.ndarray:
        import bm3d

        return np.asarray(bm3d.bm3d(img, sigma_psd=self.params.get("sigma", 0.1)), dtype=np.float64)


def available_methods() -> list[str]:
    """Registered methods whose dependencies are installed."""
    out = []
    for name in BASELINES:
        try:
            BASELINES.get(name)()
            out.append(name)
        except DaekitError:
            pass
    return out


def tune(name: str, noisy: torch.Tensor, clean: torch.Tensor) -> tuple[Classical, float]:
    """Best parameters of method `name` on (`noisy`, `clean`) validation images, by mean PSNR.

    Returns:
        The configured method and its validation PSNR.
    """
    cls = BASELINES.get(name)
    best: tuple[Classical, float] | None = None
    for params in cls.grid:
        method = cls(**params)
        score = float(psnr(method.denoise_tensor(noisy), clean).mean())
        if best is None or score > best[1]:
            best = (method, score)
    assert best is not None
    return best
