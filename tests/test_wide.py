"""The wide pass (`--wide`): what it computes, arrays and tensors alike, tiled as whole, odd and tiny sizes, refusals."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from daekit import wide
from daekit.api import Denoiser
from daekit.errors import DaekitError

from test_cli import run
from test_ensemble import _denoiser


def test_wide_pass_runs_each_subimage_then_the_whole_image_once_more():
    x = np.random.default_rng(1).random((7, 9, 3), dtype=np.float32)  # odd sizes: sub-images 4x5, 4x4, 3x5, 3x4
    seen = []

    def run(z):
        seen.append(z.shape)
        return z * 2

    out = wide.wide_pass(run, x)
    assert seen == [(4, 5, 3), (4, 4, 3), (3, 5, 3), (3, 4, 3), (7, 9, 3)]
    np.testing.assert_allclose(out, np.clip(x * 2, 0, 1) * 2, atol=1e-6)  # the second pass sees an image in [0, 1]
    half = wide.shuffled(lambda z: z + np.float32(z.shape[0] * 10 + z.shape[1]), x)  # each pixel from its own sub-image
    assert half[0, 0, 0] == x[0, 0, 0] + 45 and half[1, 1, 0] == x[1, 1, 0] + 34 and half[6, 8, 0] == x[6, 8, 0] + 45


def test_arrays_and_tensors_give_the_same_and_tiny_images_get_one_pass():
    x = np.random.default_rng(2).random((10, 12, 1), dtype=np.float32)

    def run(z):
        return z ** 2 - 0.1

    t = torch.from_numpy(x).permute(2, 0, 1)[None]
    a = wide.wide_pass(run, x)
    b = wide.wide_pass(run, t)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(a, b, atol=1e-6)
    for tiny in (np.ones((1, 5, 3), np.float32), np.ones((4, 1, 3), np.float32)):
        np.testing.assert_array_equal(wide.wide_pass(run, tiny), run(tiny))


def test_denoiser_wide_changes_the_output_is_tiled_as_whole_and_is_deterministic():
    den = _denoiser(2, 1)
    img = np.random.default_rng(3).random((150, 170, 1), dtype=np.float32)
    plain = den.denoise_image(img, tile=0)
    den.wide = True
    whole = den.denoise_image(img, tile=0)
    assert np.abs(whole - plain).max() > 1e-3
    assert np.abs(den.denoise_image(img, tile=64) - whole).max() <= 1e-4  # each pass whole: tiling does not matter
    assert np.array_equal(whole, den.denoise_image(img, tile=0))
    x = torch.from_numpy(img).permute(2, 0, 1)[None]
    np.testing.assert_allclose(den.denoise_tensor(x)[0].permute(1, 2, 0).numpy(), whole, atol=1e-5)


@pytest.mark.parametrize("bad", [1, "false", None, 0.0])
def test_wide_must_be_true_or_false(bad):
    den = _denoiser(1, 1)
    with pytest.raises(DaekitError, match="wide must be True or False"):
        den.wide = bad
    assert den.wide is False


def test_shipped_default_gains_on_strong_camera_noise_at_camera_scale():
    """The option's reason to exist, at small size: photo-real with --wide on a smooth photo with ISO-12800 noise."""
    from daekit.noise import make_generator, parse_noise

    yy, xx = np.mgrid[0:128, 0:128] / 128.0
    clean = np.stack([0.3 + 0.4 * yy, 0.5 + 0.2 * np.sin(3 * xx), 0.4 + 0.3 * xx * yy], axis=2).astype(np.float32)
    t = torch.from_numpy(clean).permute(2, 0, 1)[None]
    noisy = parse_noise("camera:iso=12800")(t, make_generator(0))[0].permute(1, 2, 0).numpy()
    one = Denoiser.load("photo-real", device="cpu").denoise_image(noisy)
    two = Denoiser.load("photo-real", device="cpu", wide=True).denoise_image(noisy)

    def err(y):
        return float(np.mean((y - clean) ** 2))

    assert err(two) < 0.8 * err(one) < err(noisy)


def test_cli_wide_writes(tmp_path, capsys):
    from PIL import Image

    from test_photo_cli import _clean, _noisy

    Image.fromarray((_noisy(_clean(side=96)) * 255 + 0.5).astype(np.uint8)).save(tmp_path / "n.png")
    rc, out, err = run(capsys, "denoise", tmp_path / "n.png", "-o", tmp_path / "c.png", "--wide")
    assert rc == 0, err
    assert Image.open(tmp_path / "c.png").size == (96, 96)
    rc, out, err = run(capsys, "denoise", tmp_path / "n.png", "-o", tmp_path / "d.png")
    assert rc == 0, err
    a, b = (np.asarray(Image.open(tmp_path / f), dtype=np.int16) for f in ("c.png", "d.png"))
    assert np.abs(a - b).max() > 0  # the option reached the model


def test_bad_wide_values_are_refused_in_one_line_before_anything_is_written(tmp_path, capsys):
    from PIL import Image

    from conftest import assert_usage_error
    from daekit.api import denoise_files

    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(tmp_path / "n.png")
    assert_usage_error(capsys, ["denoise", tmp_path / "n.png", "-o", tmp_path / "c.png", "--wide=yes"], "--wide")
    with pytest.raises(DaekitError, match="wide must be True or False"):
        denoise_files(tmp_path / "n.png", tmp_path / "c.png", "photo-real", wide="yes", progress=False)
    assert not (tmp_path / "c.png").exists()
