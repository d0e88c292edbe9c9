"""Tiled inference: equal to whole-image inference, streaming TIFF output, automatic tile size."""
from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch

from daekit.api import Denoiser
from daekit.color import from_opponent, to_opponent
from daekit.config import Config
from daekit.models import create_model
from daekit.tiling import auto_tile_size, denoise_tiled, model_geometry, tiled_bands, write_tiff_bands


def _denoiser(unshuffle: int, channels: int = 1, dilation: list[int] | None = None) -> Denoiser:
    torch.manual_seed(0)
    m = create_model("residual", channels, depth=5, width=8, unshuffle=unshuffle, dilation=dilation)
    torch.nn.init.normal_(m.body[-1].weight, std=0.05)  # not the identity map
    return Denoiser(m, Config(), "cpu")


@pytest.mark.parametrize("unshuffle, shape, dilation", [(1, (203, 157, 1), None), (2, (181, 250, 1), None),
                                                         (2, (97, 131, 3), None), (1, (150, 141, 3), [1, 2, 4, 3, 1])])
def test_tiled_equals_whole_image(unshuffle, shape, dilation):
    den = _denoiser(unshuffle, shape[2], dilation)
    img = np.random.default_rng(0).random(shape, dtype=np.float32)
    whole = den._run_crop(img)
    halo, multiple = model_geometry(den.model)
    assert halo >= (den.model.geometry.receptive_field - 1) // 2
    for tile, overlap in [(64, 16), (48, 8), (100, 32), (64, 0), (50, 0)]:  # 0: abutting tiles, as Denoiser runs exact ones
        tiled = denoise_tiled(den._run_crop, img, tile, overlap, halo, multiple)
        assert np.abs(tiled - whole).max() <= 1e-4, (tile, overlap)


def test_bands_cover_every_row_once_in_order():
    img = np.random.default_rng(1).random((150, 70, 1), dtype=np.float32)
    for overlap in (10, 0):  # 0: abutting cores, written straight into the band
        bands = list(tiled_bands(lambda x: x, img, 40, overlap, 4))
        rows = [(y0, b.shape[0]) for y0, b in bands]
        assert rows[0][0] == 0 and sum(n for _, n in rows) == 150
        assert all(a + n == b for (a, n), (b, _) in zip(rows, rows[1:]))
        assert np.array_equal(np.concatenate([b for _, b in bands]), img)  # the identity, every pixel once


@pytest.mark.parametrize("shape, tile, halo, multiple", [((150, 70, 1), 40, 4, 1), ((181, 250, 1), 64, 8, 2),
                                                         ((1000, 333, 3), 96, 12, 4), ((2048, 2048, 1), 768, 17, 1)])
def test_abutting_tiles_run_on_crops_of_one_shape(shape, tile, halo, multiple):
    """Exact tiles are laid out so that every crop, padded to the model's grid, has the same shape (each tile
    then reuses the buffers of the one before: crops of the edges' shapes fragmented the heap), none larger than
    tile + 2 * halo, each core with its full halo inside the image, and the cores abutting."""
    img = np.random.default_rng(1).random(shape, dtype=np.float32)
    seen = []

    def run(crop):
        seen.append(tuple(-(-n // multiple) * multiple for n in crop.shape[:2]))
        return crop

    out = denoise_tiled(run, img, tile, 0, halo, multiple)
    assert np.array_equal(out, img)  # the identity: every pixel once, from its own place
    assert len(set(seen)) == 1 and len(seen) > 1, seen
    assert max(seen[0]) <= tile + 2 * halo
    from daekit.tiling import _even_spans

    for size in shape[:2]:
        spans = _even_spans(size, tile, halo, multiple)
        assert [s[1] for s in spans[:-1]] == [s[0] for s in spans[1:]] and spans[-1][1] == size
        for core0, core1, crop0, crop1 in spans:
            assert crop0 % multiple == 0 and (crop0 == 0 or core0 - crop0 >= halo) and (crop1 == size or crop1 - core1 >= halo)


def test_denoise_uses_tiles_and_matches_untiled():
    den = _denoiser(2)
    img = np.random.default_rng(2).random((300, 260, 1), dtype=np.float32)
    assert np.abs(den.denoise_image(img, tile=96) - den.denoise_image(img, tile=0)).max() <= 1e-4


def test_streamed_tiff_equals_in_memory_output(tmp_path):
    den = _denoiser(2)
    img = np.random.default_rng(3).random((300, 333, 1), dtype=np.float32)
    ref = den.denoise_image(img, tile=0)
    path = tmp_path / "out.tif"
    write_tiff_bands(path, den.denoise_bands(img, tile=128), img.shape, np.dtype(np.uint16))
    got = tifffile.imread(path)
    assert got.shape == (300, 333) and got.dtype == np.uint16
    assert np.abs(got.astype(np.float64) / 65535 - ref[..., 0]).max() <= 1 / 65535 + 1e-4
    assert [p.name for p in tmp_path.iterdir()] == ["out.tif"]  # no temp file left


def test_opponent_transform_round_trip_and_range():
    rgb = np.random.default_rng(4).random((20, 30, 3), dtype=np.float32)
    opp = to_opponent(rgb)
    assert opp.min() >= 0 and opp.max() <= 1
    assert np.abs(from_opponent(opp) - rgb).max() < 1e-5


def test_auto_tile_size_is_bounded_and_aligned():
    m = create_model("residual", 1, depth=17, width=64, unshuffle=2)
    t = auto_tile_size(m, torch.device("cpu"))
    assert 128 <= t <= 1024 and t % 64 == 0


def test_cpu_tiles_keep_each_activation_under_the_limit_of_its_precision(monkeypatch):
    from daekit import tiling
    from daekit.tiling import CPU_ACTIVATION_BYTES, CPU_FP32_ACTIVATION_BYTES

    monkeypatch.setattr(tiling, "available_memory", lambda device: 16 << 30)  # the sides below, on any test machine
    cpu = torch.device("cpu")
    limits = {2: CPU_ACTIVATION_BYTES, 4: CPU_FP32_ACTIVATION_BYTES}
    for unshuffle in (1, 2):
        m = create_model("residual", 1, depth=17, width=64, unshuffle=unshuffle)
        halo, _ = model_geometry(m)
        for itemsize, limit in limits.items():
            t = auto_tile_size(m, cpu, itemsize=itemsize, image_shape=(4000, 3000))
            assert 128 <= t <= 1024 and t % 64 == 0
            assert (t + 2 * halo) ** 2 * 64 * itemsize / unshuffle**2 <= limit
    full = create_model("residual", 1, depth=17, width=64, unshuffle=1)
    # bf16 (the AMX CPU's default): activations under glibc's mmap threshold, 448-pixel tiles; fp32 is bound by
    # arithmetic, where the halo small tiles compute again costs more: 768 (measured, tiling.CPU_FP32_ACTIVATION_BYTES)
    assert auto_tile_size(full, cpu, itemsize=2, image_shape=(3000, 4000)) == 448
    assert auto_tile_size(full, cpu, itemsize=4, image_shape=(3000, 4000)) == 768
    assert auto_tile_size(full, cpu, itemsize=2, image_shape=(321, 481)) == 481  # fits whole: no tiling
    assert auto_tile_size(full, cpu, itemsize=4, image_shape=(512, 512)) == 512  # a PolyU photo: whole in fp32
    assert auto_tile_size(full, cpu, itemsize=2, image_shape=(512, 512)) == 448  # ... in tiles in bf16
    assert auto_tile_size(full, cpu, itemsize=2, image_shape=(1024, 1024)) < 1024


@pytest.mark.parametrize("args", [dict(levels=2, width=16), dict(levels=3, width=24), dict(levels=2, width=32, unshuffle=2),
                                  dict(levels=3, width=8, top_skip=False, pool="blur"), dict(levels=1, width=2)])
def test_unet_declares_its_largest_activation(args):
    """The per-pixel size a U-Net declares for tiling is the largest tensor a forward pass really makes (every
    module's inputs and outputs, hooked), not its widest convolution's channels, which run at 1/4**levels the
    pixels (it had 3-level U-Nets tiled at 128 pixels: a 12 MP photo 26.8 s; 10.6 s at the 384 it gives now)."""
    from daekit.tiling import _activation_bytes_per_pixel

    m = create_model("unet", 3, **args).eval()
    largest = [0]

    def seen(mod, inputs, output):
        for t in (*inputs, output):
            if torch.is_tensor(t) and t.dim() == 4 and mod is not m:
                largest[0] = max(largest[0], t.numel())

    hooks = [mod.register_forward_hook(seen) for mod in m.modules()]
    with torch.no_grad():
        m(torch.rand(1, 3, 64, 96))
    for h in hooks:
        h.remove()
    assert _activation_bytes_per_pixel(m, 1) == largest[0] / (64 * 96)
    # run on pixel-shuffled sub-images (models/pd.py), the same pixels along the batch: the same per input pixel
    assert _activation_bytes_per_pixel(create_model("unet", 3, pd=2, **args), 1) == largest[0] / (64 * 96)


def test_unet_tiles_are_sized_by_its_full_resolution_layers(monkeypatch):
    from daekit import tiling

    monkeypatch.setattr(tiling, "available_memory", lambda device: 16 << 30)
    cpu = torch.device("cpu")
    m = create_model("unet", 3, levels=3, width=24)
    assert model_geometry(m) == (64, 8)
    # bf16: one activation (48 channels x 2 bytes a pixel) under the CPU limit: a 561-pixel crop, 433-pixel core
    assert auto_tile_size(m, cpu, itemsize=2, image_shape=(3000, 4000)) == 384
    assert auto_tile_size(m, cpu, itemsize=4, image_shape=(3000, 4000)) == 768
