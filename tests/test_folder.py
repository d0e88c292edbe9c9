"""Image-folder data: patches, augmentation, in-memory vs lazy equality, bounded cache, training."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from daekit.config import resolve_config
from daekit.data import load_dataset
from daekit.data.folder import ImageFolder, gather_patches, pack, plan_batch
from daekit.errors import DaekitError
from daekit.train import fit


def _write_folder(root: Path, n: int = 6, size: tuple[int, int] = (48, 60), seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    (root / "sub").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = rng.integers(0, 256, size=size, dtype=np.uint8)
        where = root / "sub" if i % 2 else root  # searched recursively
        cv2.imwrite(str(where / f"img{i}.png"), img)
    return root


def _batches(data, n=3, seed=0, bs=16):
    loader = data.loader(bs, seed, torch.device("cpu"))
    loader.epoch = 1
    return [b for _, b in zip(range(n), loader)]


def test_patches_shape_range_and_split(tmp_path):
    root = _write_folder(tmp_path / "imgs", n=10)
    data = load_dataset("images", root, val_fraction=0.2, patch_size=24, patches_per_epoch=64)
    assert len(data.folder) == 8 and len(data.val) == 2
    assert data.channels == 1 and data.image_size == (24, 24)
    (b, *_) = _batches(data, 1)
    assert b.shape == (16, 1, 24, 24) and b.dtype == torch.float32
    assert 0.0 <= b.min() and b.max() <= 1.0
    assert data.val[0].shape == (1, 1, 48, 60)


def test_images_smaller_than_the_patch_are_trained_on_at_their_own_size(tmp_path):
    """A folder of small images (a digit set saved as files) gets patches of the images' size, not reflect-padded
    64 x 64 tiles of them (16x the work for a 16 x 16 digit); one image that holds a patch keeps the patch size."""
    small = _write_folder(tmp_path / "small", n=10, size=(16, 18))
    data = load_dataset("images", small, val_fraction=0.2, patch_size=64, patches_per_epoch=64)
    assert data.image_size == (16, 16) and "16x16 patches" in data.summary()
    assert "data.patch_size 64 is larger than every image" in data.summary()
    (b, *_) = _batches(data, 1)
    assert b.shape == (16, 1, 16, 16)
    _write_folder(small / "big", n=1, size=(70, 80))
    data = load_dataset("images", small, val_fraction=0.0, patch_size=64, patches_per_epoch=64)
    assert data.image_size == (64, 64) and "larger than every image" not in data.summary()
    tiny = _write_folder(tmp_path / "tiny", n=4, size=(5, 6))  # below the smallest patch: padded up to 8, as before
    assert load_dataset("images", tiny, val_fraction=0.0, patch_size=64, patches_per_epoch=64).image_size == (8, 8)


def test_each_patch_is_a_flipped_or_rotated_crop_of_its_image():
    rng = np.random.default_rng(1)
    imgs = [rng.integers(0, 256, size=(30, 41, 1), dtype=np.uint8), rng.integers(0, 256, size=(50, 33, 1), dtype=np.uint8)]
    flat, base, hs, ws, scale = pack(imgs)
    plan = plan_batch(0, 0, 0, 2, 64, 8)
    patches = (gather_patches(flat, base, hs, ws, plan, 12, scale) * 255).round().to(torch.uint8).numpy()
    seen = set()
    for k in range(64):
        img = imgs[plan.images[plan.slot[k]]][..., 0]
        p, t = patches[k, 0], int(plan.transform[k])
        row_flip, col_flip = t & 1, t & 2
        if t & 4:  # patch[i, j] = crop[fc(j), fr(i)]: transpose back, then the flips act on swapped axes
            p, row_flip, col_flip = p.T, col_flip, row_flip
        if row_flip:
            p = p[::-1, :]
        if col_flip:
            p = p[:, ::-1]
        hits = [(y, x) for y in range(img.shape[0] - 11) for x in range(img.shape[1] - 11) if np.array_equal(img[y : y + 12, x : x + 12], p)]
        assert hits, f"patch {k} is not a crop of its image"
        seen.add(t)
    assert seen == set(range(8))  # all 8 flips/rotations occur


def test_lazy_reading_with_workers_gives_the_same_patches_as_in_memory(tmp_path):
    root = _write_folder(tmp_path / "imgs", n=8)
    kw = dict(val_fraction=0.25, patch_size=16, patches_per_epoch=48)
    mem = load_dataset("images", root, **kw)
    lazy = load_dataset("images", root, cache_mb=0, workers=2, **kw)
    assert mem.in_memory and not lazy.in_memory
    for a, b in zip(_batches(mem), _batches(lazy)):
        assert torch.equal(a, b)
    assert not torch.equal(_batches(mem, 1)[0], _batches(mem, 1, seed=1)[0])


def test_cache_stays_bounded_as_the_data_set_grows(tmp_path):
    budget = 3 * 48 * 60  # three decoded images
    for n in (4, 16, 48):
        root = _write_folder(tmp_path / f"d{n}", n=n)
        folder = ImageFolder(sorted(root.rglob("*.png")), 1, budget)
        peak = 0
        for i in list(range(n)) * 2:
            folder.get(i)
            peak = max(peak, folder.cached_bytes)
        assert peak <= budget


def test_rgb_and_16_bit_images_are_converted_to_the_requested_channels(tmp_path):
    root = tmp_path / "mixed"
    root.mkdir()
    rgb = np.random.default_rng(0).integers(0, 256, size=(40, 40, 3), dtype=np.uint8)
    cv2.imwrite(str(root / "a.png"), rgb)
    cv2.imwrite(str(root / "b.tif"), (np.random.default_rng(1).random((40, 40)) * 65535).astype(np.uint16))
    gray = load_dataset("images", root, val_fraction=0.0, patch_size=16, patches_per_epoch=32, channels=1)
    color = load_dataset("images", root, val_fraction=0.0, patch_size=16, patches_per_epoch=32, channels=3)
    assert _batches(gray, 1)[0].shape[1] == 1 and _batches(color, 1)[0].shape[1] == 3


def test_bad_folders(tmp_path):
    with pytest.raises(DaekitError, match="image folder not found"):
        load_dataset("images", tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DaekitError, match="no images found"):
        load_dataset("images", tmp_path / "empty")


def test_training_on_a_folder_with_a_noise_range(tmp_path):
    root = _write_folder(tmp_path / "imgs", n=6, size=(40, 40))
    cfg = resolve_config(sets=[
        "data.name=images", f"data.dir={root}", "data.patch_size=16", "data.patches_per_epoch=64", "data.val_fraction=0.34",
        "model.name=residual", "model.args={depth: 3, width: 8, unshuffle: 2}", "noise=gaussian:0..55",
        "train.epochs=2", "train.batch_size=16", "train.val_batch_size=1", f"out={tmp_path / 'run'}",
    ])
    r = fit(cfg, progress=False)
    r2 = fit(cfg, progress=False, overwrite=True)
    assert len(r.history) == 2 and all(np.isfinite(h["val_psnr"]) for h in r.history)
    assert [h["train_loss"] for h in r.history] == [h["train_loss"] for h in r2.history]  # same seed, same run


@pytest.mark.parametrize("cache_mb", [2048, 0])  # in memory, and read lazily
def test_rank_shards_fill_only_their_rows_of_the_same_global_batch(tmp_path, cache_mb):
    root = _write_folder(tmp_path / "imgs", n=8)
    data = load_dataset("images", root, val_fraction=0.25, patch_size=16, patches_per_epoch=64, cache_mb=cache_mb)
    full = data.loader(16, 0, torch.device("cpu"))
    shards = [data.loader(16, 0, torch.device("cpu"), shard=slice(r * 8, (r + 1) * 8)) for r in range(2)]
    for whole, *parts in zip(full, *shards):
        assert torch.equal(parts[0][:8], whole[:8]) and torch.equal(parts[1][8:], whole[8:])
        assert not parts[0][8:].any() and not parts[1][:8].any()  # other ranks' rows are never cut


def test_an_epoch_is_sized_to_the_folder_and_the_machine(tmp_path):
    from daekit.data import load_dataset
    from daekit.data.folder import auto_patches

    assert auto_patches(3, "cpu") == 2048 and auto_patches(20, "cpu") == 5120
    assert auto_patches(400, "cpu") == 12800 and auto_patches(400, "cuda") == 51200
    import cv2
    import numpy as np

    for i in range(10):
        cv2.imwrite(str(tmp_path / f"{i}.png"), (np.random.default_rng(i).random((80, 80)) * 255).astype(np.uint8))
    data = load_dataset("images", tmp_path, val_fraction=0.2)
    assert data.patches_per_epoch == 2048
    assert data.summary().startswith("data: images: 8 image(s) for training, 2 held out for validation; 2,048 random 64x64")
    assert load_dataset("images", tmp_path, patches_per_epoch=640).patches_per_epoch == 640


def test_12_bit_data_in_16_bit_files_train_at_the_scale_denoise_reads_them(tmp_path):
    """A camera's 12-bit data are read by `daekit denoise` with 4095 as white (images.white_of); training reads
    them alike, so a model sees in use what it saw in training. A burst's shots share one scale."""
    from daekit.images import read_image, to_float

    rng = np.random.default_rng(0)
    for name, top in (("a.png", 4095), ("b.png", 3000)):
        cv2.imwrite(str(tmp_path / name), (rng.random((20, 24)) * top).astype(np.uint16))
    folder = ImageFolder(sorted(tmp_path.glob("*.png")), 1, 0)
    for i, path in enumerate(folder.paths):
        assert np.allclose(to_float(folder.get(i)), read_image(path)[0], atol=1e-4)
    (tmp_path / "burst").mkdir()
    cv2.imwrite(str(tmp_path / "burst" / "1.png"), np.full((8, 8), 4000, np.uint16))
    cv2.imwrite(str(tmp_path / "burst" / "2.png"), np.full((8, 8), 2000, np.uint16))  # alone, 11 bits
    shots = ImageFolder([(tmp_path / "burst" / "1.png", tmp_path / "burst" / "2.png")], 1, 0).get(0)
    assert np.allclose(to_float(shots)[0, 0], [4000 / 4095, 2000 / 4095], atol=1e-4)


def test_zoom_enlarges_a_window_of_each_patch_and_zoom_1_is_the_patch_itself():
    from daekit.data.folder import zoom_patches

    yy, xx = np.mgrid[0:32, 0:32].astype(np.float32)
    ramp = torch.from_numpy(np.stack([yy / 31, xx / 31]))[None].repeat(3, 1, 1, 1)  # channel 0: row, 1: column
    out = zoom_patches(ramp, np.array([1.0, 2.0, 4.0]), np.array([[0.5, 0.5], [0.0, 1.0], [1.0, 0.0]]))
    assert torch.allclose(out[0], ramp[0], atol=1e-5)  # zoom 1: the patch itself
    # zoom 2 at the top right: rows 0..16, columns 16..32 of the ramp, spread over the whole patch
    assert out[1, 0].max() <= 16.5 / 31 and out[1, 1].min() >= 15.5 / 31
    assert abs(float(out[1, 0, 20, 5] - out[1, 0, 8, 5]) / 12 - 0.5 / 31) < 1e-4  # each row half a source row
    # zoom 4 at the bottom left: rows 24..32, columns 0..8
    assert out[2, 0].min() >= 23.5 / 31 and out[2, 1].max() <= 8.5 / 31
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_zoomed_training_patches_are_planned_like_the_others_and_drawn_the_same_way_every_time(tmp_path):
    root = _write_folder(tmp_path / "imgs", n=8, size=(40, 40))
    kw = dict(val_fraction=0.25, patch_size=16, patches_per_epoch=48)
    plain, zoomed = load_dataset("images", root, **kw), load_dataset("images", root, zoom=3.0, **kw)
    plan, zplan = plan_batch(0, 1, 0, 6, 16, 8), plan_batch(0, 1, 0, 6, 16, 8, zoom=3.0)
    assert np.array_equal(plan.where, zplan.where) and np.array_equal(plan.transform, zplan.transform)
    assert plan.zoom is None and 1.0 <= zplan.zoom.min() and zplan.zoom.max() <= 3.0
    a, z1, z2 = _batches(plain, 1)[0], _batches(zoomed, 1)[0], _batches(zoomed, 1)[0]
    assert torch.equal(z1, z2) and not torch.equal(a, z1)
    # enlarged random pixels are smoother: neighbours differ less than in the patches themselves
    step = lambda b: float((b[..., 1:] - b[..., :-1]).abs().mean())  # noqa: E731
    assert step(z1) < 0.8 * step(a)
    lazy = load_dataset("images", root, zoom=3.0, cache_mb=0, **kw)
    assert torch.equal(_batches(lazy, 1)[0], z1)
    with pytest.raises(DaekitError, match="data.zoom"):
        load_dataset("digits28", zoom=2.0)


def test_a_zoom_share_enlarges_that_share_of_the_patches_and_leaves_the_rest_as_they_are(tmp_path):
    full = plan_batch(0, 1, 0, 6, 400, 8, zoom=3.0)
    assert np.array_equal(full.zoom, plan_batch(0, 1, 0, 6, 400, 8, zoom=3.0, zoom_share=1.0).zoom)  # a share of 1: the batches of runs made before the option
    half = plan_batch(0, 1, 0, 6, 400, 8, zoom=3.0, zoom_share=0.5)
    kept = half.zoom == 1.0
    assert 0.4 < kept.mean() < 0.6  # about half at scale 1, drawn per patch
    assert np.array_equal(half.zoom[~kept], full.zoom[~kept])  # the others enlarged as with every patch enlarged
    assert np.array_equal(half.where, full.where) and np.array_equal(half.zoom_at, full.zoom_at)
    assert np.array_equal(half.zoom, plan_batch(0, 1, 0, 6, 400, 8, zoom=3.0, zoom_share=0.5).zoom)  # deterministic
    root = _write_folder(tmp_path / "imgs", n=8, size=(40, 40))
    kw = dict(val_fraction=0.25, patch_size=16, patches_per_epoch=48)
    plain, mixed = load_dataset("images", root, **kw), load_dataset("images", root, zoom=3.0, zoom_share=0.5, **kw)
    a, m = _batches(plain, 1)[0], _batches(mixed, 1)[0]
    same = [bool(torch.equal(x, y)) for x, y in zip(a, m)]
    plan = plan_batch(0, 1, 0, len(mixed.folder), 16, mixed.patches_per_image, zoom=3.0, zoom_share=0.5)
    assert same == list(plan.zoom == 1.0) and 0 < sum(same) < len(same)  # the patches at scale 1 are the plain ones
    with pytest.raises(DaekitError, match="data.zoom_share"):
        load_dataset("images", root, zoom_share=0.5, **kw)  # a share of no enlargement
