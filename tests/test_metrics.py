import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from daekit.metrics import psnr, ssim


def test_psnr_known_value_per_image():
    x = torch.zeros(2, 1, 4, 4)
    y = x.clone()
    y[0] += 0.1  # mse 0.01 -> 20 dB
    y[1] += 0.01  # mse 1e-4 -> 40 dB
    torch.testing.assert_close(psnr(y, x), torch.tensor([20.0, 40.0]))
    assert math.isinf(psnr(x, x)[0].item())


@pytest.mark.parametrize("shape", [(3, 1, 28, 28), (2, 3, 40, 33), (2, 1, 64, 48)])
def test_ssim_matches_scikit_image(shape):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(shape, generator=g)
    y = (x + 0.1 * torch.randn(shape, generator=g)).clamp(0, 1)
    ours = ssim(x, y)
    for i in range(shape[0]):
        ref = structural_similarity(
            x[i].permute(1, 2, 0).numpy(), y[i].permute(1, 2, 0).numpy(), gaussian_weights=True,
            sigma=1.5, use_sample_covariance=False, data_range=1.0, channel_axis=2,
        )
        assert abs(ours[i].item() - float(ref)) < 1e-4


def test_ssim_identical_is_one_and_small_images_work():
    x = torch.rand(4, 1, 8, 8)
    torch.testing.assert_close(ssim(x, x), torch.ones(4))
    assert ssim(x, torch.rand(4, 1, 8, 8)).lt(0.5).all()


def test_metrics_are_pure():
    x, y = torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16)
    xc, yc = x.clone(), y.clone()
    a, b = psnr(x, y), ssim(x, y)
    assert torch.equal(x, xc) and torch.equal(y, yc)
    assert torch.equal(a, psnr(x, y)) and torch.equal(b, ssim(x, y))
    assert np.isfinite(a.numpy()).all()
