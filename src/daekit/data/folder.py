"""Folders of photographs as training data: random patches with flips and 90-degree rotations.

Training draws `patches_per_epoch` patches per epoch. Each batch is planned from a generator keyed by
(seed, epoch, batch index) -- which images, where, which of the 8 flips/rotations -- so the patches do
not depend on how many loader workers (or, later, ranks) produce them. A batch takes
``patches_per_image`` patches from each image it reads, so a lazy reader decodes B / patches_per_image
files per batch, not B.

Two ways to serve the same patches:
* in memory, when all training images fit in ``cache_mb``: one flat tensor on the training device and
  a vectorised gather per batch (no Python per patch, no loader processes);
* lazily, for data sets larger than memory: a ``DataLoader`` whose workers each decode the images a
  batch needs through a bounded LRU cache, so memory stays bounded however large the folder.

Validation uses whole held-out images (centre-cropped to at most ``VAL_CROP`` pixels a side).

Bursts (``data.bursts``, for Noise2Noise on real shots): each subfolder holding two or more images is one
scene, its shots registered (same size, same framing). An item is then its first ``frames`` shots stacked
along the channels, (H, W, frames * C), so that a patch cuts every shot at the same place; the training
step picks two of them (``targets``). ``data.noisy_copies`` stacks independent noisy copies the same way.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from ..color import LUMA as ITU_601_LUMA
from ..errors import DaekitError
from ..images import decode_image, find_images, image_dimensions, to_float, white_of
from ..seeding import PATCHES, derive_rng

VAL_CROP = 512
LUMA = np.array(ITU_601_LUMA, dtype=np.float32)


def conform(img: np.ndarray, channels: int) -> np.ndarray:
    """(H, W, C) image in its own dtype -> `channels` channels (RGB -> gray by ITU-R 601 luma, gray -> RGB repeated)."""
    c = img.shape[2]
    if c == channels:
        return img
    if channels == 1:
        y = img[..., :3].astype(np.float32) @ LUMA
        return np.clip(np.round(y), 0, np.iinfo(img.dtype).max if img.dtype.kind == "u" else 1).astype(img.dtype)[..., None]
    return np.repeat(img, channels, axis=2)


def full_depth(shots: list[np.ndarray]) -> list[np.ndarray]:
    """16-bit images whose values use fewer bits (12-bit camera data) stretched to the full 16-bit range, all
    shots of a burst by one factor: the scale ``images.read_image`` reads them at, so that a model trained on
    them sees at `daekit denoise` what it saw in training (``images.white_of``)."""
    if not shots or any(s.dtype != np.uint16 for s in shots):
        return shots
    white = white_of(np.array([max(int(s.max(initial=0)) for s in shots)], np.uint16))
    if white is None:
        return shots
    return [((s.astype(np.uint32) * 65535 + white // 2) // white).astype(np.uint16) for s in shots]


Item = Path | tuple[Path, ...]  # one image, or the shots of one scene (a burst)


class ImageFolder:
    """Image files read on demand, with a least-recently-used cache bounded in bytes.

    Args:
        paths: The image files; a tuple of files is one burst, its shots stacked along the channels.
        channels: 1 or 3; images are converted to it (the channels of one shot).
        cache_bytes: Most bytes of decoded images kept (0 = none); oldest evicted first.
        min_size: Images smaller than this a side are reflect-padded up to it (so a patch fits).
        corrupt: ``data.noisy_once``: (path, image) -> the image corrupted once (or its noisy copies
            stacked along the channels), as float32.
    """

    def __init__(self, paths: list[Item], channels: int, cache_bytes: int, min_size: int = 1,
                 corrupt: Callable[[Path, np.ndarray], np.ndarray] | None = None) -> None:
        self.paths, self.channels, self.cache_bytes, self.min_size = list(paths), int(channels), int(cache_bytes), int(min_size)
        self.corrupt = corrupt
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._held = 0

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def cached_bytes(self) -> int:
        return self._held

    def get(self, i: int) -> np.ndarray:
        """Image `i` as (H, W, C) in its own dtype (uint8 or uint16; float files as float32)."""
        if i in self._cache:
            self._cache.move_to_end(i)
            return self._cache[i]
        item = self.paths[i]
        files = item if isinstance(item, tuple) else (item,)
        shots = full_depth([conform(decode_image(f)[0], self.channels) for f in files])
        if len({s.shape[:2] for s in shots}) > 1:
            sizes = ", ".join(f"{f.name} {s.shape[1]}x{s.shape[0]}" for f, s in zip(files, shots))
            raise DaekitError(f"burst {files[0].parent}: its shots differ in size ({sizes}); a burst's shots must be registered")
        if len({s.dtype for s in shots}) > 1:
            shots = [to_float(s) for s in shots]
        img = shots[0] if len(shots) == 1 else np.concatenate(shots, axis=2)
        h, w = img.shape[:2]
        if h < self.min_size or w < self.min_size:
            ph, pw = max(0, self.min_size - h), max(0, self.min_size - w)
            img = np.pad(img, ((0, ph), (0, pw), (0, 0)), mode="reflect" if min(h, w) > 1 else "edge")
        if self.corrupt is not None:
            img = self.corrupt(files[0], img)
        if img.nbytes <= self.cache_bytes:
            self._cache[i] = img
            self._held += img.nbytes
            while self._held > self.cache_bytes:
                _, old = self._cache.popitem(last=False)
                self._held -= old.nbytes
        return img


@dataclass
class BatchPlan:
    """Which images a batch reads and, per patch, which of them, where (fractions) and which transform."""

    images: np.ndarray  # (K,) indices into the training images
    slot: np.ndarray  # (B,) index into `images` for each patch
    where: np.ndarray  # (B, 2) fractions in [0, 1): top/left offset = floor(f * (size - patch + 1))
    transform: np.ndarray  # (B,) 0..7: bit 0 flip rows, bit 1 flip columns, bit 2 transpose
    zoom: np.ndarray | None = None  # (B,) enlargement of each patch (>= 1), None: none
    zoom_at: np.ndarray | None = None  # (B, 2) fractions: where in the patch the enlarged window lies

    def rows(self, sl: slice | None) -> "BatchPlan":
        """The plan of rows `sl` only, reading only the images those rows need."""
        if sl is None:
            return self
        used, slot = np.unique(self.slot[sl], return_inverse=True)
        zoom, zoom_at = (None, None) if self.zoom is None else (self.zoom[sl], self.zoom_at[sl])
        return BatchPlan(self.images[used], slot.reshape(-1), self.where[sl], self.transform[sl], zoom, zoom_at)


def place_shard(part: torch.Tensor, total: int, shard: slice | None) -> torch.Tensor:
    """A (total, ...) batch holding `part` at rows `shard` and zeros elsewhere (`part` itself without a shard).

    Distributed training corrupts the whole global batch on every rank, so that each sample's noise
    depends on its position in the global batch only; the rows of other ranks are never read.
    """
    if shard is None:
        return part
    out = part.new_zeros((total, *part.shape[1:]))
    out[shard] = part
    return out


def plan_batch(seed: int, epoch: int, index: int, n_images: int, batch_size: int, patches_per_image: int,
               zoom: float = 1.0, zoom_share: float = 1.0) -> BatchPlan:
    """The patches of batch `index` of `epoch`: a pure function of its arguments. With `zoom` above 1, each patch
    is enlarged by a factor drawn log-uniformly from [1, zoom], or, with a `zoom_share` below 1, that share of them
    (drawn per patch; the others keep zoom 1)."""
    rng = derive_rng(seed, epoch, PATCHES, index)
    k = max(1, math.ceil(batch_size / patches_per_image))
    images = rng.integers(0, n_images, size=k)
    slot = np.arange(batch_size) // patches_per_image
    plan = BatchPlan(images, slot, rng.random((batch_size, 2)), rng.integers(0, 8, size=batch_size))
    if zoom > 1.0:  # drawn after the rest, so that the patches themselves are those of zoom 1
        plan.zoom = np.exp(rng.random(batch_size) * math.log(zoom))
        plan.zoom_at = rng.random((batch_size, 2))
        if zoom_share < 1.0:  # drawn last: a share of 1 plans the same batches as before the option existed
            plan.zoom = np.where(rng.random(batch_size) < zoom_share, plan.zoom, 1.0)
    return plan


def zoom_patches(x: torch.Tensor, zoom: np.ndarray, at: np.ndarray) -> torch.Tensor:
    """Each patch of `x` (B, C, P, P) replaced by a window of it, P / zoom pixels a side at fractions `at` of the
    room left, enlarged back to P x P (bicubic, clipped to [0, 1]).

    A camera's or a phone's photo at full resolution is smoother per pixel than the scanned photos denoisers
    train on: the lens, the anti-aliasing filter and demosaicking blur it, its pixels are small. Training on
    enlarged patches (noise added afterwards, at the new pixels) shows a model that content, so that it learns
    to tell fine noise from the little fine detail such photos have. Zoom 1 is the patch itself, exactly.
    """
    b, _, p, _ = x.shape
    moved = np.flatnonzero(np.asarray(zoom) != 1.0)
    if len(moved) < b:  # patches at zoom 1 (``data.zoom_share``) stay exactly as they are
        out = x.clone()
        if len(moved):
            index = torch.as_tensor(moved, device=x.device)
            out[index] = zoom_patches(x[index], np.asarray(zoom)[moved], np.asarray(at)[moved])
        return out
    z = torch.as_tensor(zoom, dtype=torch.float64)
    side = p / z  # the window, in pixels
    lead = torch.as_tensor(at, dtype=torch.float64) * (p - side).unsqueeze(1)  # its top-left corner (y, x)
    centre = -1.0 + (2.0 * lead + side.unsqueeze(1)) / p  # in grid_sample's [-1, 1] (align_corners=False)
    theta = torch.zeros(b, 2, 3, dtype=torch.float64)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0 / z
    theta[:, 0, 2], theta[:, 1, 2] = centre[:, 1], centre[:, 0]  # grid x is the column, y the row
    grid = torch.nn.functional.affine_grid(theta.to(x.device, torch.float32), [b, 1, p, p], align_corners=False)
    out = torch.nn.functional.grid_sample(x, grid, mode="bicubic", padding_mode="border", align_corners=False)
    return out.clamp_(0.0, 1.0)


def gather_patches(flat: torch.Tensor, base: torch.Tensor, heights: torch.Tensor, widths: torch.Tensor,
                   plan: BatchPlan, patch: int, scale: float) -> torch.Tensor:
    """Cuts the planned patches out of images stored back to back in `flat` (total pixels, C).

    Args:
        flat: All images' pixels, row-major, concatenated; on any device.
        base, heights, widths: (N,) int64 start offset, height and width of each image in `flat`.
        plan: The batch plan; ``plan.images`` index `base`/`heights`/`widths`.
        patch: Patch side.
        scale: Multiplier to [0, 1] (1/255 for uint8 storage).

    Returns:
        (B, C, patch, patch) float32 on `flat`'s device.
    """
    dev = flat.device
    img = torch.as_tensor(plan.images[plan.slot], device=dev)
    h, w, b0 = heights[img], widths[img], base[img]
    frac = torch.as_tensor(plan.where, device=dev, dtype=torch.float64)
    y0 = (frac[:, 0] * (h - patch + 1).double()).long()
    x0 = (frac[:, 1] * (w - patch + 1).double()).long()
    t = torch.as_tensor(plan.transform, device=dev)
    ar = torch.arange(patch, device=dev)
    ii, jj = ar.view(1, -1, 1).expand(len(img), patch, patch), ar.view(1, 1, -1).expand(len(img), patch, patch)
    tt = t.view(-1, 1, 1)
    ii = torch.where(tt & 1 > 0, patch - 1 - ii, ii)
    jj = torch.where(tt & 2 > 0, patch - 1 - jj, jj)
    swap = tt & 4 > 0  # transposing after the flips gives the rotations by 90 and 270 degrees
    ii, jj = torch.where(swap, jj, ii), torch.where(swap, ii, jj)
    idx = b0.view(-1, 1, 1) + (y0.view(-1, 1, 1) + ii) * w.view(-1, 1, 1) + x0.view(-1, 1, 1) + jj
    out = flat[idx.reshape(-1)].reshape(len(img), patch, patch, flat.shape[1])
    out = out.permute(0, 3, 1, 2).float().mul_(scale).contiguous()
    return out if plan.zoom is None else zoom_patches(out, plan.zoom, plan.zoom_at)


def pack(images: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """Images (H, W, C) -> (flat, base, heights, widths, scale); 8-bit stays 8-bit unless mixed with 16-bit."""
    kinds = {im.dtype for im in images}
    if kinds <= {np.dtype(np.uint8)}:
        dtype, scale = np.uint8, 1 / 255
    elif kinds <= {np.dtype(np.uint8), np.dtype(np.uint16)}:
        dtype, scale = np.uint16, 1 / 65535
    else:
        dtype, scale = np.float32, 1.0
    parts = []
    for im in images:
        a = to_float(im) if dtype == np.float32 else (im.astype(np.uint16) * 257 if im.dtype != dtype else im)
        parts.append(a.reshape(-1, a.shape[2]))
    sizes = np.array([im.shape[:2] for im in images], dtype=np.int64)
    base = np.concatenate([[0], np.cumsum(sizes[:, 0] * sizes[:, 1])[:-1]])
    flat = torch.from_numpy(np.ascontiguousarray(np.concatenate(parts)))
    if flat.dtype == torch.uint16:  # few ops support uint16: keep it as int32
        flat = flat.to(torch.int32)
    return flat, torch.from_numpy(base), torch.from_numpy(sizes[:, 0].copy()), torch.from_numpy(sizes[:, 1].copy()), scale


class _LazyBatches(torch.utils.data.Dataset):
    """Item b = batch b of the current epoch, decoded through this worker's own bounded cache."""

    def __init__(self, folder: ImageFolder, seed: int, epoch: int, batches: int, batch_size: int, ppi: int, patch: int,
                 shard: slice | None = None, start: int = 0, zoom: float = 1.0, zoom_share: float = 1.0) -> None:
        self.folder, self.seed, self.epoch, self.batches, self.start = folder, seed, epoch, batches, start
        self.batch_size, self.ppi, self.patch, self.shard, self.zoom = batch_size, ppi, patch, shard, zoom
        self.zoom_share = zoom_share

    def __len__(self) -> int:
        return self.batches - self.start

    def __getitem__(self, item: int) -> torch.Tensor:
        b = self.start + item
        plan = plan_batch(self.seed, self.epoch, b, len(self.folder), self.batch_size, self.ppi, self.zoom,
                          self.zoom_share).rows(self.shard)
        uniq, inverse = np.unique(plan.images, return_inverse=True)  # this rank's rows' images, each decoded once
        flat, base, hs, ws, scale = pack([self.folder.get(int(i)) for i in uniq])
        local = replace(plan, images=inverse.reshape(-1))  # the same patches, indexed into this batch's images
        return place_shard(gather_patches(flat, base, hs, ws, local, self.patch, scale), self.batch_size, self.shard)


@dataclass
class PatchData:
    """An image-folder data set: training patches drawn per epoch, whole validation/test images.

    ``val`` and ``test`` are lists of (1, C, H, W) float tensors (the images differ in size).
    """

    name: str
    folder: ImageFolder
    val: list[torch.Tensor]
    test: list[torch.Tensor]
    patch_size: int
    patches_per_epoch: int
    patches_per_image: int = 8
    workers: int = 0
    in_memory: bool = True
    frames: int = 1  # noisy shots per item (bursts, data.noisy_copies), stacked along the channels
    bursts: bool = False  # the shots are real (a folder per scene), not drawn copies
    zoom: float = 1.0  # training patches enlarged by up to this factor (``zoom_patches``)
    zoom_share: float = 1.0  # the share of them enlarged (``plan_batch``)
    asked_patch: int | None = None  # data.patch_size where it was larger than every image (patch_size is then theirs)

    @property
    def channels(self) -> int:
        """Channels of one shot (what a model sees)."""
        return self.folder.channels

    @property
    def image_size(self) -> tuple[int, int]:
        return self.patch_size, self.patch_size

    @property
    def n_train(self) -> int:
        return self.patches_per_epoch

    def summary(self) -> str:
        """One line for the user: what was found, what is held out, what an epoch is."""
        ps = self.patch_size
        what = "image(s)" if self.frames == 1 else (f"scene(s) of {self.frames} noisy shots" if self.bursts
                                                    else f"image(s), {self.frames} noisy copies of each")
        smaller = (f", the images' size: data.patch_size {self.asked_patch} is larger than every image"
                   if self.asked_patch else "")
        return (f"data: {self.name}: {len(self.folder)} {what} for training, {len(self.val)} held out for validation; "
                f"{self.patches_per_epoch:,} random {ps}x{ps} patches per epoch "
                f"({'held in memory' if self.in_memory else 'read from disk as needed'}{smaller})")

    def loader(self, batch_size: int, seed: int, device: torch.device, shard: slice | None = None) -> "PatchLoader":
        return PatchLoader(self, batch_size, seed, device, shard)


class PatchLoader:
    """Iterates one epoch of training patches as (B, C, P, P) batches on `device` (set ``epoch`` first).

    With a `shard` (distributed training) only those rows are cut (and, lazily, only their images
    read); the batch keeps its global size with zeros in the other ranks' rows.
    """

    def __init__(self, data: PatchData, batch_size: int, seed: int, device: torch.device, shard: slice | None = None) -> None:
        self.data, self.batch_size, self.seed, self.device, self.shard = data, int(batch_size), int(seed), device, shard
        self.epoch = 0
        self.start = 0  # first batch of the next pass (resuming within an epoch)
        self._packed: tuple | None = None
        if data.in_memory:  # every training image decoded once, stored back to back on the device
            flat, base, hs, ws, scale = pack([data.folder.get(i) for i in range(len(data.folder))])
            self._packed = (flat.to(device), base.to(device), hs.to(device), ws.to(device), scale)

    def __len__(self) -> int:
        return max(1, self.data.patches_per_epoch // self.batch_size)

    def __iter__(self) -> Iterator[torch.Tensor]:
        d = self.data
        if self._packed is not None:
            flat, base, hs, ws, scale = self._packed
            for b in range(self.start, len(self)):
                plan = plan_batch(self.seed, self.epoch, b, len(d.folder), self.batch_size, d.patches_per_image,
                                  d.zoom, d.zoom_share).rows(self.shard)
                yield place_shard(gather_patches(flat, base, hs, ws, plan, d.patch_size, scale), self.batch_size, self.shard)
            return
        ds = _LazyBatches(d.folder, self.seed, self.epoch, len(self), self.batch_size, d.patches_per_image, d.patch_size,
                          self.shard, self.start, d.zoom, d.zoom_share)
        pin = self.device.type == "cuda"
        dl = torch.utils.data.DataLoader(ds, batch_size=None, shuffle=False, num_workers=d.workers, pin_memory=pin,
                                         persistent_workers=False, prefetch_factor=2 if d.workers else None)
        for batch in dl:
            yield batch.to(self.device, non_blocking=True)


def _center_crop(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    y, x = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return img[y : y + size, x : x + size]


def whole_images(folder: ImageFolder, indices: list[int], crop: int | None = VAL_CROP) -> list[torch.Tensor]:
    """Decoded images as (1, C, H, W) float tensors in [0, 1], centre-cropped to `crop` a side."""
    out = []
    for i in indices:
        img = folder.get(i)
        if crop:
            img = _center_crop(img, crop)
        out.append(torch.from_numpy(to_float(img)).permute(2, 0, 1).unsqueeze(0).contiguous())
    return out


def corrupt_once(spec: str, seed: int, copies: int = 1) -> Callable[[Path, np.ndarray], np.ndarray]:
    """``data.noisy_once``: an image corrupted by `spec` with a draw fixed by (seed, its file name), so the
    same file is the same noisy image in every epoch, every worker and every run with that seed; with
    `copies` > 1, that many independent noisy copies stacked along the channels (copy 0 as with one)."""
    import zlib

    from ..noise import make_generator, parse_noise
    from ..seeding import NOISY_ONCE, copy_seeds

    noise = parse_noise(spec)

    def apply(path: Path, img: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(to_float(img)).permute(2, 0, 1)[None]  # (1, C, H, W)
        seeds = copy_seeds(copies, seed, NOISY_ONCE, zlib.crc32(Path(path).name.encode()))
        out = torch.cat([noise(x, make_generator(s)) for s in seeds], dim=1)
        return np.ascontiguousarray(out[0].permute(1, 2, 0).numpy(), dtype=np.float32)

    return apply


MAX_SHOTS = 8  # shots of a burst used per scene (each is held in memory with the scene)


def find_bursts(root: Path) -> tuple[list[tuple[Path, ...]], int]:
    """``data.bursts``: the scenes under `root` (each folder holding two or more images, not searched
    deeper) and the number of shots used per scene: the fewest any scene has, at most MAX_SHOTS."""
    by_folder: dict[Path, list[Path]] = {}
    for p in find_images([root]):
        by_folder.setdefault(p.parent, []).append(p)
    scenes = [tuple(sorted(shots)) for _, shots in sorted(by_folder.items()) if len(shots) >= 2]
    if not scenes:
        raise DaekitError(f"data.bursts: no folder under {root} holds two or more images; put the shots of each scene "
                          "(two or more noisy images of the same still view) in a subfolder of their own")
    frames = min(MAX_SHOTS, min(len(s) for s in scenes))
    return [s[:frames] for s in scenes], frames


def auto_patches(n_images: int, device_type: str = "cpu") -> int:
    """The default patches per epoch (``data.patches_per_epoch: null``): PATCHES_PER_IMAGE per training
    image, at least MIN_PATCHES, at most 51,200 on a GPU and CPU_PATCHES elsewhere, so that a first run on a
    folder of photos gives a validation figure every half minute or so on a laptop, not every ten minutes."""
    cap = 51200 if device_type == "cuda" else CPU_PATCHES
    return int(min(max(PATCHES_PER_IMAGE * n_images, MIN_PATCHES), cap))


PATCHES_PER_IMAGE, MIN_PATCHES, CPU_PATCHES = 256, 2048, 12800
MIN_PATCH = 8  # the smallest patch side (config's data.patch_size floor)


def load_image_folder(
    name: str, root: Path, *, val_fraction: float, seed: int, limit: int | None, channels: int | None,
    patch_size: int, patches_per_epoch: int | None, cache_mb: int, workers: int, test_dir: Path | None = None,
    device_type: str = "cpu", noisy_once: str | None = None, noisy_copies: int = 1, bursts: bool = False,
    zoom: float = 1.0, zoom_share: float = 1.0,
) -> PatchData:
    """A folder of images (searched recursively) as a PatchData, with a validation split fixed by `seed`;
    `patches_per_epoch` None is ``auto_patches`` for the folder and `device_type`. With `bursts`, each
    subfolder of two or more images is one scene (``find_bursts``)."""
    if not root.is_dir():
        raise DaekitError(f"image folder not found: {root}")
    frames = noisy_copies if noisy_once else 1
    if bursts:
        if noisy_once:
            raise DaekitError("data.bursts are noisy shots already: leave data.noisy_once unset")
        paths, frames = find_bursts(root)
    else:
        paths = find_images([root])
    perm = np.random.default_rng(np.random.SeedSequence([int(seed), 17])).permutation(len(paths))
    if limit is not None:
        perm = perm[: int(limit)]
    n_val = max(1, int(round(len(perm) * val_fraction))) if val_fraction > 0 else 0
    if len(perm) - n_val < 1:
        raise DaekitError(f"image folder {root}: {len(perm)} image(s) leave none for training after the validation split")
    train_paths = [paths[i] for i in sorted(perm[n_val:])]
    val_paths = [paths[i] for i in sorted(perm[:n_val])]
    if channels is None:  # the first image decides; others are converted to it
        first = train_paths[0]
        channels = decode_image(first[0] if isinstance(first, tuple) else first)[0].shape[2]
    if channels not in (1, 3):
        raise DaekitError(f"data.channels must be 1 (gray) or 3 (RGB), got {channels}")
    asked, fit = None, _largest_side_below(train_paths, patch_size)
    if fit is not None:  # small images (icons, a digit set as files): patches of their size, not reflect-padded
        asked, patch_size = patch_size, max(fit, MIN_PATCH)  # tiles of them (16x the work for 16 x 16 digits)
    budget = int(cache_mb) << 20
    corrupt = corrupt_once(noisy_once, seed, noisy_copies) if noisy_once else None
    train = ImageFolder(train_paths, channels, budget, min_size=patch_size, corrupt=corrupt)
    files = [f for p in train_paths for f in (p if isinstance(p, tuple) else (p,))]
    total = sum(f.stat().st_size for f in files)
    # compressed size is a lower bound of the decoded size; decode-check only when it may fit
    grow = 4 * noisy_copies if noisy_once else 1  # corrupted once, an image is held as float32: 4x its 8-bit size a copy
    in_memory = total <= budget and grow * _decoded_bytes(files, channels) <= budget
    val_folder = ImageFolder(val_paths, channels, 0, corrupt=corrupt)
    test = []
    if test_dir is not None and test_dir.is_dir():
        tf = ImageFolder(find_images([test_dir]), channels, 0)
        test = whole_images(tf, list(range(len(tf))), crop=None)
    return PatchData(
        name=name, folder=train, val=whole_images(val_folder, list(range(len(val_folder)))), test=test,
        patch_size=int(patch_size), workers=int(workers), in_memory=in_memory, frames=frames, bursts=bursts, zoom=float(zoom),
        zoom_share=float(zoom_share), asked_patch=asked,
        patches_per_epoch=int(patches_per_epoch or auto_patches(len(train_paths), device_type)),
    )


def _largest_side_below(paths: list[Item], patch: int) -> int | None:
    """Where no training image (the first shot of a burst) holds a `patch` x `patch` square, the largest square any
    of them holds (the largest of their shorter sides), from headers; else None, found at the first image that
    holds one (a folder of photos: one header read), or at an unreadable header (the patch size then stays)."""
    best = 0
    for p in paths:
        size = image_dimensions(p[0] if isinstance(p, tuple) else p)
        if size is None or min(size) >= patch:
            return None
        best = max(best, min(size))
    return best or None


def _decoded_bytes(paths: list[Path], channels: int) -> int:
    """Decoded size of the images from their headers alone (Pillow reads the header without decoding)."""
    from PIL import Image

    total = 0
    for p in paths:
        try:
            with Image.open(p) as im:
                w, h = im.size
                depth = 2 if im.mode in ("I;16", "I;16B", "I;16L", "I") else 1
        except Exception:  # a format Pillow cannot parse: assume 16-bit to err on the lazy side
            return 1 << 62
        total += w * h * channels * depth
    return total
