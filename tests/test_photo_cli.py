"""Shipped photo models from the command line: the default model, every odd kind of photo file, bad files."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from daekit.api import Denoiser
from daekit.pretrained import list_pretrained

from test_cli import assert_one_line_error, run


def _clean(side=96, rgb=False):
    from skimage import data

    img = data.astronaut()[100 : 100 + side, 150 : 150 + side] if rgb else data.camera()[80 : 80 + side, 200 : 200 + side]
    return img.astype(np.float32) / 255


def _noisy(clean, sigma=25, seed=0):
    return np.clip(clean + np.random.default_rng(seed).normal(0, sigma / 255, clean.shape), 0, 1)


def _psnr(a, b):
    return 10 * np.log10(1 / np.mean((a.astype(np.float64) - b) ** 2))


def test_shipped_models_are_listed_small_and_load_offline(capsys):
    rc, out, _ = run(capsys, "models")
    assert rc == 0
    for p in list_pretrained():
        assert p.name in out and p.weights.stat().st_size <= 5e6
        info = p.describe()
        assert info["data"] and info["noise"] and info["psnr"], f"{p.name}: training data, noise range and PSNR"
        assert all(f"{v:.2f}" in out for v in info["psnr"].values())
        assert Denoiser.load(p.name, device="cpu").model is not None
    assert {"photo-gray", "photo-rgb", "mnist"} <= {p.name for p in list_pretrained()}


def test_default_model_cleans_a_16_bit_gray_png(tmp_path, capsys):
    clean = _clean()
    noisy16 = (_noisy(clean) * 65535 + 0.5).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "n.png"), noisy16)
    rc, _, err = run(capsys, "denoise", tmp_path / "n.png", "-o", tmp_path / "c.png")
    assert rc == 0, err
    out = cv2.imread(str(tmp_path / "c.png"), cv2.IMREAD_UNCHANGED)
    assert out.dtype == np.uint16 and out.shape == clean.shape
    assert _psnr(out / 65535, clean) > _psnr(noisy16 / 65535, clean) + 4


def test_default_model_cleans_an_rgb_jpeg_in_opponent_color(tmp_path, capsys):
    clean = _clean(rgb=True)
    Image.fromarray((_noisy(clean) * 255 + 0.5).astype(np.uint8)).save(tmp_path / "n.jpg", quality=98)
    rc, _, err = run(capsys, "denoise", tmp_path / "n.jpg", "-o", tmp_path / "c.png")
    assert rc == 0, err
    out = np.asarray(Image.open(tmp_path / "c.png")).astype(np.float32) / 255
    noisy = np.asarray(Image.open(tmp_path / "n.jpg")).astype(np.float32) / 255
    assert out.shape == clean.shape and _psnr(out, clean) > _psnr(noisy, clean) + 3


@pytest.mark.parametrize("mode", ["CMYK", "P", "RGBA", "LA"])
def test_unusual_color_modes_are_handled(tmp_path, capsys, mode):
    rgb = Image.fromarray((_noisy(_clean(64, rgb=True)) * 255).astype(np.uint8))
    img = rgb.convert(mode)
    name = "in.jpg" if mode == "CMYK" else "in.png"
    img.save(tmp_path / name)
    rc, _, err = run(capsys, "denoise", tmp_path / name, "-o", tmp_path / "out.png")
    assert rc == 0, err
    out = Image.open(tmp_path / "out.png")
    assert out.size == (64, 64)
    if mode in ("RGBA", "LA"):  # alpha carried over unchanged
        assert out.mode in ("RGBA", "LA") and np.array_equal(np.asarray(out)[..., -1], np.asarray(img)[..., -1])


def test_bad_photo_files_give_one_line_and_touch_nothing(tmp_path, capsys):
    (tmp_path / "empty.png").write_bytes(b"")
    ok, buf = cv2.imencode(".png", (np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8))
    (tmp_path / "cut.png").write_bytes(buf.tobytes()[: len(buf) // 2])
    bomb = bytearray(buf.tobytes())
    bomb[16:24] = (100_000).to_bytes(4, "big") + (100_000).to_bytes(4, "big")  # IHDR claims 10^10 pixels
    (tmp_path / "bomb.png").write_bytes(bytes(bomb))
    (tmp_path / "keep.png").write_bytes(b"precious")
    for name, words in [("empty.png", "empty file"), ("cut.png", "cannot decode"), ("bomb.png", "decompression bomb")]:
        rc, _, err = run(capsys, "denoise", tmp_path / name, "-o", tmp_path / "keep.png", "--overwrite")
        assert_one_line_error(rc, err, words)
        assert (tmp_path / "keep.png").read_bytes() == b"precious"
    rc, _, err = run(capsys, "denoise", "--model", "photo-grey", tmp_path / "cut.png", "-o", tmp_path / "x.png")
    assert_one_line_error(rc, err, "neither a shipped model")
    rc, _, err = run(capsys, "denoise", tmp_path / "empty.png", "-o", tmp_path / "x.png", "--tile", "-3")
    assert_one_line_error(rc, err, "--tile must be >= 0")
