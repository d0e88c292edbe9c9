"""Image quality metrics as pure functions returning one value per image: PSNR and SSIM."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, per image.

    Args:
        x: (B, C, H, W) estimate.
        y: (B, C, H, W) reference.
        data_range: max - min of the data (1 for [0, 1] images).

    Returns:
        (B,) tensor; identical images give +inf.
    """
    mse = (x.float() - y.float()).pow(2).flatten(1).mean(1)
    return 10.0 * torch.log10(data_range**2 / mse)


def _gaussian_window(size: int, sigma: float, device: torch.device) -> torch.Tensor:
    r = torch.arange(size, device=device, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, win_size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Structural similarity (Wang et al. 2004, Gaussian window), per image, averaged over channels.

    Matches ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False)`` (checked in the tests). Written in torch rather than calling
    scikit-image because validation runs every epoch on whole batches, on the training device:
    skimage works one NumPy image at a time on the CPU.
    For images smaller than the window, the window shrinks to the largest odd size that fits.

    Args:
        x: (B, C, H, W) estimate.
        y: (B, C, H, W) reference.
        data_range: max - min of the data.
        win_size: Odd Gaussian window size.
        sigma: Gaussian window standard deviation.

    Returns:
        (B,) tensor in [-1, 1].
    """
    x, y = x.float(), y.float()
    c = x.shape[1]
    win = min(win_size, x.shape[-2], x.shape[-1])
    win -= 1 - win % 2  # odd
    g = _gaussian_window(win, sigma, x.device)

    def blur(t: torch.Tensor) -> torch.Tensor:  # separable Gaussian filter, 'valid' region only
        t = F.conv2d(t, g.view(1, 1, 1, -1).expand(c, 1, 1, win), groups=c)
        return F.conv2d(t, g.view(1, 1, -1, 1).expand(c, 1, win, 1), groups=c)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cov = blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.flatten(1).mean(1)
