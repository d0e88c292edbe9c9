"""Random-replacing refinement (`--refine`): what it computes, the same whole or tiled, seeded, refused values."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from daekit import refine
from daekit.errors import DaekitError

from conftest import assert_usage_error
from test_cli import run
from test_ensemble import _denoiser


def test_refined_is_the_mean_of_runs_on_the_output_with_noisy_pixels_put_back():
    noisy = np.random.default_rng(1).random((40, 30, 3), dtype=np.float32)
    first = np.full_like(noisy, 0.5)
    seen = []
    out = refine.refined(lambda z: (seen.append(z.copy()), z * 2)[1], noisy, first, passes=4)
    assert len(seen) == 4
    for z in seen:
        put_back = np.all(z == noisy, axis=2)  # a pixel comes back with all its channels, or not at all
        assert np.all(put_back | np.all(z == first, axis=2))
        assert 0.10 < put_back.mean() < 0.22  # about FRACTION of them
    assert not np.array_equal(seen[0], seen[1])  # a fresh draw each pass
    np.testing.assert_allclose(out, np.mean([z * 2 for z in seen], axis=0), atol=1e-6)


def test_same_input_same_output_and_tensors_too():
    x = torch.rand(2, 1, 24, 24)
    y = torch.zeros_like(x)
    a = refine.refined(lambda z: z, x, y, passes=3)
    assert torch.equal(a, refine.refined(lambda z: z, x, y, passes=3))
    # run = identity, first = 0: each pixel is its value times the share of passes that put it back
    assert a.shape == x.shape and torch.all(a <= x + 1e-6)
    assert 0.2 < float((a > 0).float().mean()) < 0.6  # 1 - 0.84^3 = 0.41 of the pixels came back at least once


def test_denoiser_refines_tiled_as_whole_and_changes_the_output():
    den = _denoiser(2, 1)
    img = np.random.default_rng(3).random((150, 170, 1), dtype=np.float32)
    plain = den.denoise_image(img, tile=0)
    den.refine = 2
    whole = den.denoise_image(img, tile=0)
    assert np.abs(den.denoise_image(img, tile=64) - whole).max() <= 1e-4  # each pass whole: tiling does not matter
    assert np.abs(whole - plain).max() > 1e-3
    assert np.array_equal(whole, den.denoise_image(img, tile=0))


def test_denoise_tensor_refines_batches():
    den = _denoiser(1, 1)
    x = torch.rand(3, 1, 28, 28)
    plain = den.denoise_tensor(x)
    den.refine = 3
    assert (den.denoise_tensor(x) - plain).abs().max() > 1e-4


@pytest.mark.parametrize("bad", [-1, 17, 1.5, True, "x"])
def test_bad_pass_counts_are_refused(bad):
    den = _denoiser(1, 1)
    with pytest.raises(DaekitError, match="refine passes"):
        den.refine = bad
    assert den.refine == 0


def test_cli_refine_writes_and_refuses_in_one_line(tmp_path, capsys):
    from PIL import Image

    from test_photo_cli import _clean, _noisy

    Image.fromarray((_noisy(_clean(side=96)) * 255 + 0.5).astype(np.uint8)).save(tmp_path / "n.png")
    rc, out, err = run(capsys, "denoise", tmp_path / "n.png", "-o", tmp_path / "c.png", "--refine", "2")
    assert rc == 0, err
    assert Image.open(tmp_path / "c.png").size == (96, 96)
    assert_usage_error(capsys, ["denoise", tmp_path / "n.png", "-o", tmp_path / "d.png", "--refine", "40"], "--refine")
    assert not (tmp_path / "d.png").exists()
