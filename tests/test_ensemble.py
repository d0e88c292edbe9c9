"""Self-ensemble (quality mode): the average over flips/rotations, exact under tiling, refused sizes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from daekit.api import Denoiser
from daekit.config import Config
from daekit.ensemble import SelfEnsemble
from daekit.errors import DaekitError
from daekit.models import create_model

from test_cli import assert_one_line_error, run
from test_photo_cli import _clean, _noisy, _psnr


def _denoiser(unshuffle: int, ensemble: int) -> Denoiser:
    torch.manual_seed(0)
    m = create_model("residual", 1, depth=5, width=8, unshuffle=unshuffle)
    torch.nn.init.normal_(m.body[-1].weight, std=0.05)  # not the identity map
    return Denoiser(m, Config(), "cpu", ensemble=ensemble)


def _numpy_views(img: np.ndarray) -> list[tuple]:
    """The eight flips/rotations as (forward, inverse) pairs on (H, W, C) arrays, written independently."""
    views = []
    for k in range(4):
        views.append((lambda a, k=k: np.rot90(a, k), lambda a, k=k: np.rot90(a, -k)))
        views.append((lambda a, k=k: np.rot90(a, k)[:, ::-1], lambda a, k=k: np.rot90(a[:, ::-1], -k)))
    return views


def test_eight_copies_average_every_flip_and_rotation():
    den1, den8 = _denoiser(1, 1), _denoiser(1, 8)
    img = np.random.default_rng(0).random((37, 52, 1), dtype=np.float32)
    want = np.mean([inv(den1._run_crop(np.ascontiguousarray(fwd(img)))) for fwd, inv in _numpy_views(img)], axis=0)
    assert np.abs(den8._run_crop(img) - want).max() <= 1e-5
    assert np.abs(den1._run_crop(img) - want).max() > 1e-3  # the copies really differ


def test_one_copy_is_the_plain_model():
    den = _denoiser(2, 1)
    x = torch.rand(2, 1, 31, 40)
    with torch.no_grad():
        assert torch.equal(SelfEnsemble(den.model, 1)(x), den.model(x))


@pytest.mark.parametrize("n", [2, 4, 8])
def test_tiled_equals_whole_with_unshuffle_on_odd_sizes(n):
    den = _denoiser(2, n)
    img = np.random.default_rng(n).random((181, 227, 1), dtype=np.float32)
    whole = den.denoise_image(img, tile=0)
    assert np.abs(den.denoise_image(img, tile=64) - whole).max() <= 1e-4
    assert np.abs(whole - _denoiser(2, 1).denoise_image(img, tile=0)).max() > 1e-3


@pytest.mark.parametrize("bad", [0, 3, 16, True, "8"])
def test_bad_sizes_are_refused(bad):
    with pytest.raises(DaekitError, match="ensemble size must be one of 1, 2, 4, 8"):
        _denoiser(1, bad)
    den = _denoiser(1, 2)
    with pytest.raises(DaekitError, match="ensemble size must be one of 1, 2, 4, 8"):
        den.ensemble = bad  # set later: checked as well
    assert den.ensemble == 2


def test_cli_quality_mode_is_cleaner_and_bad_sizes_give_one_line(tmp_path, capsys):
    clean = _clean(side=128)
    from PIL import Image

    Image.fromarray((_noisy(clean) * 255 + 0.5).astype(np.uint8)).save(tmp_path / "n.png")
    outs = {}
    for n in (1, 8):
        rc, _, err = run(capsys, "denoise", tmp_path / "n.png", "-o", tmp_path / f"c{n}.png", "--ensemble", str(n))
        assert rc == 0, err
        outs[n] = np.asarray(Image.open(tmp_path / f"c{n}.png")).astype(np.float32) / 255
    assert _psnr(outs[8], clean) > _psnr(outs[1], clean) + 0.05
    rc, _, err = run(capsys, "denoise", tmp_path / "n.png", "-o", tmp_path / "c3.png", "--ensemble", "3")
    assert_one_line_error(rc, err, "ensemble size")
    assert not (tmp_path / "c3.png").exists()
