"""Bounded memory and time from small inputs: pixel limits, tiles, crafted checkpoints, IDX headers."""
from __future__ import annotations

import gzip
import json
import struct

import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from daekit import images
from daekit.api import Denoiser
from daekit.checkpoint import FORMAT, load_checkpoint, build_model
from daekit.config import Config
from daekit.data.idx import read_idx
from daekit.errors import DaekitError
from daekit.models import create_model

from conftest import assert_usage_error
from test_cli import assert_one_line_error, run


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".bmp"])
def test_the_pixel_limit_is_read_from_every_formats_header(tmp_path, monkeypatch, capsys, suffix):
    path = tmp_path / f"in{suffix}"
    cv2.imwrite(str(path), np.zeros((60, 50), np.uint8))
    decoded = []
    monkeypatch.setattr(images.cv2, "imdecode", lambda *a: decoded.append(1))  # must not be reached
    with pytest.raises(DaekitError, match=r"50x60 pixels, over the limit of 2,999 pixels"):
        images.read_image(path, max_pixels=2999)
    monkeypatch.setenv("DAEKIT_MAX_PIXELS", "2999")
    rc, _, err = run(capsys, "denoise", path, "-o", tmp_path / f"out{suffix}")
    assert_one_line_error(rc, err, "over the limit of 2,999 pixels")
    assert not decoded and not (tmp_path / f"out{suffix}").exists()
    monkeypatch.delenv("DAEKIT_MAX_PIXELS")
    rc, _, err = run(capsys, "denoise", path, "-o", tmp_path / f"out{suffix}", "--max-pixels", "50x59")
    assert_one_line_error(rc, err, "over the limit of 2,950 pixels")


def test_pixel_limit_values(monkeypatch):
    from daekit.checks import pixels

    assert pixels("50M") == 50_000_000 and pixels("16384x16384") == 1 << 28 and pixels("2.5e8") == 250_000_000
    for bad in ("0", "-5", "lots", "1.5", "nan"):
        with pytest.raises(DaekitError, match="--max-pixels must be"):
            pixels(bad)
    monkeypatch.setenv("DAEKIT_MAX_PIXELS", "many")
    with pytest.raises(DaekitError, match="DAEKIT_MAX_PIXELS"):
        images.max_pixels()


def test_a_float_tiff_outside_0_1_keeps_its_range(tmp_path):
    import tifffile

    rng = np.random.default_rng(0)
    counts = (rng.random((40, 30)) * 4000 + 100).astype(np.float32)  # raw microscope counts
    tifffile.imwrite(tmp_path / "in.tif", counts)
    arr, info = images.read_image(tmp_path / "in.tif")
    assert 0 <= arr.min() and arr.max() <= 1 and info.value_range is not None
    images.write_image(tmp_path / "out.tif", arr, info)
    back = tifffile.imread(tmp_path / "out.tif")
    assert back.dtype == np.float32 and np.allclose(back, counts, rtol=1e-5, atol=1e-2)


def _conv_denoiser():
    torch.manual_seed(0)
    return Denoiser(create_model("conv", 1, channels=[8, 8], out_act="none"), Config(), "cpu", precision="fp32")


def test_the_conv_model_is_tiled_and_tiles_equal_the_whole_image():
    den = _conv_denoiser()
    img = np.random.default_rng(0).random((203, 157, 1), dtype=np.float32)
    whole = den.denoise_image(img, tile=0)
    for tile in (64, 96):
        assert np.abs(den.denoise_image(img, tile=tile) - whole).max() <= 1e-5


def test_tiles_too_small_for_the_models_context_are_refused(tmp_path, capsys):
    den = _conv_denoiser()
    img = np.zeros((100, 100, 1), np.float32)
    for tile in (1, 7, 31):
        with pytest.raises(DaekitError, match=r"tile \d+ is too small for this model.*use at least 32"):
            den.denoise_image(img, tile=tile)
    path = tmp_path / "in.png"
    cv2.imwrite(str(path), np.zeros((256, 256), np.uint8))
    rc, _, err = run(capsys, "denoise", "--tile", "7", path, "-o", tmp_path / "out.png")
    assert_one_line_error(rc, err, "tile 7 is too small for this model")


def test_an_untiled_run_that_would_not_fit_is_refused_before_allocating(monkeypatch):
    from daekit import tiling

    den = _conv_denoiser()
    monkeypatch.setattr(tiling, "available_memory", lambda device: 1 << 20)  # 1 MiB free
    with pytest.raises(DaekitError, match=r"needs about .* GiB untiled"):
        den.denoise_image(np.zeros((512, 512, 1), np.float32), tile=0)


def _crafted(path, spec, tensors=None, version="1"):
    meta = {"format": FORMAT, "format_version": version, "daekit_version": "0", "model_spec": json.dumps(spec),
            "config": json.dumps({}), "info": "{}", "train_state": "null"}
    save_file(tensors or {"model.x": torch.zeros(1)}, str(path), metadata=meta)
    return path


CRAFTED = {
    "a billion channels": ({"name": "conv", "in_channels": 1, "image_size": [28, 28], "channels": [1_000_000_000]}, "parameters; the limit is|bad arguments .*overflow"),
    "12000 channels": ({"name": "conv", "in_channels": 1, "image_size": [28, 28], "channels": [12000, 12000]}, "parameters; the limit is"),
    "huge dense input": ({"name": "dense", "in_channels": 1, "image_size": [100000, 100000]}, "image_size must be"),
    "negative size": ({"name": "dense", "in_channels": 1, "image_size": [-28, 28]}, "image_size must be"),
    "fractional size": ({"name": "dense", "in_channels": 1, "image_size": [28.5, 28]}, "image_size must be a whole number"),
    "no name": ({"in_channels": 1}, "names no model"),
    "unknown model": ({"name": "resnet"}, "unknown model 'resnet'"),
    "spec is a list": ([1, 2, 3], "model_spec is a list"),
    "channels a string": ({"name": "conv", "channels": "many"}, "conv"),
    "in_channels huge": ({"name": "conv", "in_channels": 10**9}, "in_channels must be"),
    "bad argument": ({"name": "conv", "bogus": 1}, "has no argument 'bogus'"),
    "weights of another shape": ({"name": "conv", "in_channels": 1, "image_size": [28, 28], "channels": [8, 8]}, "do not fit"),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_checkpoints_are_refused_in_one_line_before_allocating(tmp_path, capsys, case):
    spec, words = CRAFTED[case]
    path = _crafted(tmp_path / "evil.safetensors", spec)
    with pytest.raises(DaekitError, match=words):
        build_model(load_checkpoint(path))
    for argv in (["denoise", "--model", path, tmp_path / "x.png", "-o", tmp_path / "y.png"], ["evaluate", "--model", path],
                 ["export", path, "-o", tmp_path / "m.onnx"]):
        cv2.imwrite(str(tmp_path / "x.png"), np.zeros((8, 8), np.uint8))
        rc, _, err = run(capsys, *argv)
        assert_one_line_error(rc, err, "")
        assert not (tmp_path / "y.png").exists() and not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("version", ["abc", "-1", "", "1e9"])
def test_a_bad_format_version_is_one_line(tmp_path, version):
    path = _crafted(tmp_path / "v.safetensors", {"name": "conv"}, version=version)
    with pytest.raises(DaekitError, match="format_version"):
        load_checkpoint(path)


def _idx_gz(path, shape, payload: bytes):
    header = bytes([0, 0, 0x08, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
    with gzip.open(path, "wb") as f:
        f.write(header + payload)
    return path


def test_idx_headers_are_checked_before_inflating(tmp_path):
    big = _idx_gz(tmp_path / "big.gz", (6000, 28000, 28), b"\0" * 1000)  # claims 4.7 GB
    with pytest.raises(DaekitError, match="claims 4,704,000,000 bytes .* over the limit"):
        read_idx(big)
    bomb = tmp_path / "bomb.gz"  # claims 10 images, inflates to 50 MB
    with gzip.open(bomb, "wb") as f:
        f.write(bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 10, 28, 28))
        for _ in range(50):
            f.write(b"\0" * (1 << 20))
    with pytest.raises(DaekitError, match="header says 7840 bytes of values .* file has more"):
        read_idx(bomb)
    ok = _idx_gz(tmp_path / "ok.gz", (2, 2, 2), bytes(range(8)))
    assert read_idx(ok).tolist() == [[[0, 1], [2, 3]], [[4, 5], [6, 7]]]


def test_stack_layer_sizes_are_bounded(capsys, tmp_path):
    rc, _, err = run(capsys, "stack", "--layers", "1000000000", "--out", tmp_path / "s")
    assert_one_line_error(rc, err, "stack.layers.0: Input should be less than or equal to 65536")
    assert_usage_error(capsys, ["stack", "--pretrain-epochs", "-1"], "--pretrain-epochs: must be >= 0")
