"""The noise's neighbour correlation read from an image alone, and the default model it picks for gray photos."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from daekit import noise_estimate
from daekit.noise_estimate import neighbour_correlation
from daekit.pretrained import CAMERA_NOISE, default_for_image

from test_cli import run
from test_wide import _camera_scale, _noisy_with


def _gray(a):
    return np.ascontiguousarray(a.mean(axis=2, keepdims=True), dtype=np.float32)


def test_white_noise_reads_near_zero_and_a_cameras_noise_high():
    from scipy.ndimage import gaussian_filter

    clean = _camera_scale()
    rng = np.random.default_rng(0)
    white = rng.normal(0, 5 / 255, clean.shape).astype(np.float32)
    assert -0.1 < neighbour_correlation(clean + white) < 0.1  # the plane fit takes about 0.05, the photo adds a little
    assert neighbour_correlation(clean + gaussian_filter(white, (1, 1, 0)) * 3) > 0.5
    for iso in (800, 3200, 25600):  # demosaicked: correlated at every level, in colour or made gray
        noisy = _noisy_with(clean, f"camera:iso={iso}", seed=1)
        assert neighbour_correlation(noisy) > CAMERA_NOISE and neighbour_correlation(_gray(noisy)) > CAMERA_NOISE
    assert neighbour_correlation(clean + white) == neighbour_correlation(clean + white)  # deterministic


def test_nothing_to_read_gives_zero_and_large_images_are_sampled(monkeypatch):
    assert neighbour_correlation(np.zeros((7, 500), np.float32)) == 0.0  # under one 8 x 8 block
    assert neighbour_correlation(np.full((64, 64, 3), 0.5, np.float32)) == 0.0  # nothing but rounding
    rng = np.random.default_rng(1)
    big = rng.normal(0.5, 0.02, (1000, 1200)).astype(np.float32)
    whole = neighbour_correlation(big)
    monkeypatch.setattr(noise_estimate, "MAX_BLOCKS", 1000)  # every 5th block row and column
    sampled = neighbour_correlation(big)
    assert sampled != whole and abs(sampled - whole) < 0.02


def test_clipped_highlights_and_blacks_are_left_out():
    noisy = _gray(_noisy_with(_camera_scale(), "camera:iso=3200", seed=1))
    seen = neighbour_correlation(noisy)
    blown = noisy.copy()
    blown[:, :96] = 1.0  # half the photo a blown sky: the flattest blocks, with nothing to read in them
    blown[:40, 96:] = 0.0  # and a clipped black
    assert seen > CAMERA_NOISE and abs(neighbour_correlation(blown) - seen) < 0.1  # was 0.0 (3 of PolyU's 100)


def test_the_default_for_a_gray_photo_follows_its_noise():
    clean = _camera_scale()
    camera = _noisy_with(clean, "camera:iso=3200", seed=1)
    gauss = np.clip(_gray(clean) + np.random.default_rng(2).normal(0, 15 / 255, (*clean.shape[:2], 1)), 0, 1)
    assert default_for_image(gauss.astype(np.float32)) == "photo-gray"  # white noise: the gray model
    assert default_for_image(np.repeat(gauss, 3, axis=2).astype(np.float32)) == "photo-gray"  # saved as RGB
    assert default_for_image(_gray(camera)) == "photo-real"  # a camera's noise, made gray
    assert default_for_image(np.repeat(_gray(camera), 3, axis=2)) == "photo-real"
    assert default_for_image(camera) == "photo-real"  # colour


def test_denoise_sends_a_gray_camera_photo_to_photo_real(tmp_path, capsys):
    clean = _gray(_camera_scale())
    noisy = _gray(_noisy_with(_camera_scale(), "camera:iso=12800", seed=1))
    Image.fromarray((noisy[..., 0] * 255 + 0.5).astype(np.uint8)).save(tmp_path / "bw.png")

    def psnr(name):
        out = np.asarray(Image.open(tmp_path / name), dtype=np.float64)[..., None] / 255
        return 10 * np.log10(1 / np.mean((out - clean) ** 2))

    rc, out, err = run(capsys, "denoise", tmp_path / "bw.png", "-o", tmp_path / "d.png")
    assert rc == 0 and "model photo-real (camera and phone photos" in out, err
    rc, out, err = run(capsys, "denoise", tmp_path / "bw.png", "-o", tmp_path / "g.png", "--model", "photo-gray")
    assert rc == 0, err
    assert psnr("d.png") > psnr("g.png") + 2 > psnr("bw.png") + 2  # photo-gray, trained on white noise, hardly moves it
    assert np.asarray(Image.open(tmp_path / "d.png")).ndim == 2  # written as it came: one channel
    rc, out, err = run(capsys, "denoise", tmp_path / "bw.png", "-o", tmp_path / "c.png", "--model", "photo-color")
    assert rc == 0 and "note:" not in err  # the black-and-white note is for white noise, which colour models leave


@pytest.mark.parametrize("side", [8, 9, 15])
def test_small_images_read_one_block_or_none(side):
    x = np.random.default_rng(side).random((side, side), dtype=np.float32)
    assert -0.3 < neighbour_correlation(x) < 0.3
