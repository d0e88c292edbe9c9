import numpy as np
import pytest
import torch

import daekit
from daekit.errors import DaekitError

from conftest import tiny_sets


@pytest.fixture(scope="module")
def dae(tmp_path_factory):
    out = tmp_path_factory.mktemp("api") / "run"
    return daekit.train(sets=tiny_sets(out, "data.resize=16", "train.epochs=15"), progress=False)


def test_train_load_round_trip(dae):
    loaded = daekit.load(dae.config.out)
    x = torch.rand(4, 1, 16, 16)
    torch.testing.assert_close(loaded.denoise_tensor(x), dae.denoise_tensor(x))
    assert loaded.config == dae.config


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_denoise_array_keeps_shape_and_dtype(dae, dtype):
    rng = np.random.default_rng(0)
    for shape in [(20, 24), (20, 24, 1), (20, 24, 3), (2, 20, 24, 3)]:
        a = rng.random(shape)
        a = (a * np.iinfo(dtype).max).astype(dtype) if dtype != np.float32 else a.astype(dtype)
        out = dae.denoise(a)
        assert out.shape == a.shape and out.dtype == a.dtype


def test_denoise_reduces_noise(dae):
    data = daekit.data.load_dataset("digits", resize=16)
    res = dae.evaluate(data.test, "gaussian:50")
    assert res["psnr"] > res["noisy_psnr"] + 3 and res["ssim"] > res["noisy_ssim"]


def test_bad_arrays(dae):
    with pytest.raises(DaekitError, match="NaN"):
        dae.denoise(np.full((8, 8), np.nan, np.float32))
    with pytest.raises(DaekitError, match="1 or 3 channels"):
        dae.denoise(np.zeros((8, 8, 5), np.float32))


def test_evaluate_on_defaults_to_training_setup(dae):
    res = daekit.evaluate_on(dae, limit=40)
    assert res["data"] == "digits" and res["noise"] == "gaussian:50" and res["images"] == 40


def test_blend_strength_and_colour_strength():
    from daekit.api import blend

    rng = np.random.default_rng(0)
    noisy, out = rng.random((8, 9, 3)).astype(np.float32), rng.random((8, 9, 3)).astype(np.float32)
    assert blend(noisy, out) is out
    np.testing.assert_allclose(blend(noisy, out, 0.0), noisy)
    np.testing.assert_allclose(blend(noisy, out, 0.25), noisy + 0.25 * (out - noisy), rtol=1e-6)
    luma = np.array([0.299, 0.587, 0.114])
    kept = blend(noisy, out, 0.0, 1.0)  # the luma of the input, the colour of the output
    np.testing.assert_allclose(kept @ luma, noisy @ luma, atol=1e-6)
    chroma = lambda a: a - (a @ luma)[..., None]  # noqa: E731
    np.testing.assert_allclose(chroma(kept), chroma(out), atol=1e-6)
    gray = blend(noisy[..., :1], out[..., :1], 0.5, 0.0)  # gray images have no colour part
    np.testing.assert_allclose(gray, (noisy[..., :1] + out[..., :1]) / 2, rtol=1e-6)
    for bad in (-0.1, 1.01, float("nan"), "x"):
        with pytest.raises(DaekitError, match="at least 0 and at most 1|finite number|must be a number"):
            blend(noisy, out, bad)
