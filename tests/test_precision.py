"""Inference precision: fp32, bf16, and auto (bf16 only where the device has bf16 matrix units)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from daekit.api import Denoiser
from daekit.errors import DaekitError
from daekit.runtime import Precision, native_bf16

from test_cli import assert_one_line_error, run
from test_photo_cli import _clean, _noisy, _psnr


def test_names_resolve_to_a_compute_dtype(monkeypatch):
    cpu = torch.device("cpu")
    assert Precision.for_inference(cpu, "fp32").dtype is None
    assert Precision.for_inference(cpu, "bf16").dtype is torch.bfloat16
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    assert native_bf16(cpu) and Precision.for_inference(cpu, "auto").dtype is torch.bfloat16
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)  # AVX512-BF16 alone (AMD Zen 4)
    assert native_bf16(cpu) and Precision.for_inference(cpu, "auto").dtype is torch.bfloat16
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)  # neither: fp32
    assert not native_bf16(cpu) and Precision.for_inference(cpu, "auto").dtype is None
    assert not native_bf16(torch.device("meta"))
    with pytest.raises(DaekitError, match="unknown precision 'half'; use auto, fp32, bf16"):
        Precision.for_inference(cpu, "half")


@pytest.mark.parametrize("native", [True, False])
def test_training_takes_cpu_bf16_only_where_the_cpu_computes_it(tmp_path, capsys, monkeypatch, native):
    """Emulated bf16 made a photo model's training step 15x slower than fp32 (a CPU without AVX-512): there
    train.cpu_bf16 falls back to fp32 and says so."""
    cpu = torch.device("cpu")
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: native)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    assert Precision.for_device(cpu, True, cpu_bf16=True).dtype is (torch.bfloat16 if native else None)
    assert Precision.for_device(cpu, True, cpu_bf16=False).dtype is None
    assert (Precision.cpu_bf16_ignored(cpu, True) is None) == native
    assert Precision.cpu_bf16_ignored(cpu, False) is None
    rc, out, err = run(capsys, "train", "--data", "digits", "--epochs", "1", "--set", "train.cpu_bf16=true",
                       "--out", tmp_path / "run")
    assert rc == 0, err
    assert ("train.cpu_bf16 is set, but this CPU has no bf16 units" in out + err) != native


@pytest.mark.parametrize("native", [True, False])
def test_asking_for_bf16_on_a_cpu_that_emulates_it_gets_a_note(tmp_path, capsys, monkeypatch, native):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: native)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    Image.fromarray((_noisy(_clean(48)) * 255).astype(np.uint8)).save(tmp_path / "n.png")
    for precision in ("bf16", "auto"):
        rc, _, err = run(capsys, "denoise", tmp_path / "n.png", "-o", tmp_path / f"{precision}.png", "--device", "cpu",
                         "--precision", precision)
        assert rc == 0, err
        assert ("--precision bf16 ran emulated" in err) == (precision == "bf16" and not native)


def test_bf16_is_within_hundredths_of_a_db_of_fp32_and_tiles_exactly():
    clean = _clean(160)
    noisy = _noisy(clean)[..., None].astype(np.float32)
    fp32 = Denoiser.load("photo-gray", device="cpu", precision="fp32")
    bf16 = Denoiser.load("photo-gray", device="cpu", precision="bf16")
    a, b = fp32.denoise_image(noisy, tile=0), bf16.denoise_image(noisy, tile=0)
    assert 0 < np.abs(a - b).max() < 0.02  # really computed in bf16, and still close
    assert abs(_psnr(a[..., 0], clean) - _psnr(b[..., 0], clean)) < 0.05
    assert _psnr(b[..., 0], clean) > _psnr(noisy[..., 0], clean) + 6
    tiled = bf16.denoise_image(noisy, tile=64)  # the tiled-vs-whole bar holds in bf16 too
    assert np.abs(tiled - b).max() <= 1e-4
    assert np.array_equal(bf16.denoise_image(noisy, tile=0), b)  # same input, same output


def test_precision_is_checked_when_set_later():
    den = Denoiser.load("photo-gray", device="cpu", precision="fp32")
    with pytest.raises(DaekitError, match="unknown precision"):
        den.precision = "float16"
    assert den.precision == "fp32" and den.compute_dtype is torch.float32  # the bad value left nothing half-set
    den.precision = "bf16"
    assert den.compute_dtype is torch.bfloat16


def test_cli_denoise_takes_a_precision(tmp_path, capsys):
    src = tmp_path / "in.png"
    clean = _clean(96)
    Image.fromarray((_noisy(clean) * 255).round().astype(np.uint8)).save(src)
    outs = {}
    for p in ("fp32", "bf16"):
        rc, out, err = run(capsys, "denoise", str(src), "-o", str(tmp_path / f"{p}.png"), "--precision", p)
        assert rc == 0, err
        outs[p] = np.asarray(Image.open(tmp_path / f"{p}.png"), dtype=np.float32) / 255
    assert np.abs(outs["fp32"] - outs["bf16"]).max() <= 3 / 255  # a few 8-bit levels at most
    assert _psnr(outs["bf16"], clean) > _psnr(_noisy(clean), clean) + 6
    rc, _, err = run(capsys, "denoise", str(src), "-o", str(tmp_path / "x.png"), "--precision", "fp8")
    assert_one_line_error(rc, err, "unknown precision 'fp8'")
    assert not (tmp_path / "x.png").exists()
