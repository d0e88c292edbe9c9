import numpy as np
import pytest
import torch

from daekit.baselines import BASELINES, available_methods, tune
from daekit.errors import DaekitError
from daekit.metrics import psnr
from daekit.noise import make_generator, parse_noise


def smooth_images(n=6, size=24):
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    imgs = [0.5 + 0.4 * torch.sin(6 * xx * (k + 1) / n + 3 * yy) for k in range(n)]
    return torch.stack(imgs)[:, None]


@pytest.mark.parametrize("name", [m for m in available_methods()])
def test_every_method_beats_the_noisy_input_after_tuning(name):
    clean = smooth_images()
    noisy = parse_noise("gaussian:40")(clean, make_generator(0))
    method, val_psnr = tune(name, noisy[:3], clean[:3])
    out = method.denoise_tensor(noisy[3:])
    assert out.shape == clean[3:].shape and out.min() >= 0 and out.max() <= 1
    assert psnr(out, clean[3:]).mean() > psnr(noisy[3:].clamp(0, 1), clean[3:]).mean() + 1
    assert method.describe().startswith(name.split("-")[0])


def test_median_suits_salt_and_pepper_better_than_blur():
    clean = smooth_images()
    noisy = parse_noise("salt-and-pepper:0.2")(clean, make_generator(1))
    med, p_med = tune("median", noisy, clean)
    _, p_blur = tune("gaussian-blur", noisy, clean)
    assert p_med > p_blur


def test_rgb_is_denoised_per_channel():
    x = torch.rand(2, 3, 16, 16)
    out = BASELINES.get("gaussian-blur")(sigma=1.0).denoise_tensor(x)
    single = BASELINES.get("gaussian-blur")(sigma=1.0).denoise_tensor(x[:, 1:2])
    torch.testing.assert_close(out[:, 1:2], single)


def test_unknown_method():
    with pytest.raises(DaekitError, match="unknown classical method 'bilateral'"):
        BASELINES.get("bilateral")


def test_models_and_classical_methods_answer_the_same_calls():
    from daekit.api import Denoiser
    from daekit.baselines import BASELINES
    from daekit.contracts import ImageDenoiser

    img = np.random.default_rng(0).random((24, 20, 3)).astype(np.float32)
    for den in (Denoiser.load("photo-gray-fast"), BASELINES.get("median")(size=3)):
        assert isinstance(den, ImageDenoiser)
        out = den.denoise_image(img)
        assert out.shape == img.shape and out.dtype == np.float32
        batch = den.denoise_tensor(torch.from_numpy(img).permute(2, 0, 1)[None])
        assert batch.shape == (1, 3, 24, 20)
