"""Data sets served as in-memory tensors: the embedded digits and the MNIST family, with a seeded split."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DaekitError
from ..registry import Registry
from .folder import PatchData, load_image_folder
from .idx import IDX_SETS, download_idx_set, load_idx_set

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
DATASETS: Registry[Callable[[Path | None], Arrays]] = Registry("data set")
NEEDS_FILES: set[str] = set()  # data sets read from files (looked for under --data-dir or $DAEKIT_DATA/<name>)
DESCRIPTIONS: dict[str, str] = {}


@dataclass
class ImageData:
    """Train / validation / test images as float32 tensors (N, C, H, W) in [0, 1], labels as int64.

    ``frames`` > 1 (``data.noisy_copies``): each training and validation item holds that many noisy shots
    of one image, stacked along the channels (N, frames * C, H, W); the test images stay single and clean.
    """

    name: str
    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor
    train_labels: torch.Tensor
    val_labels: torch.Tensor
    test_labels: torch.Tensor
    frames: int = 1

    @property
    def channels(self) -> int:
        """Channels of one image (what a model sees), not of the stacked shots."""
        return int(self.train.shape[1]) // self.frames

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.train.shape[2]), int(self.train.shape[3])

    def summary(self) -> str:
        """One line for the user: the split and the image size."""
        h, w = self.image_size
        shots = f", {self.frames} noisy shots of each" if self.frames > 1 else ""
        return (f"data: {self.name}: {len(self.train):,} training and {len(self.val):,} validation images "
                f"({len(self.test):,} test), {h}x{w}, {'gray' if self.channels == 1 else f'{self.channels} channels'}{shots}")


@DATASETS.register("digits")
def _digits(_: Path | None) -> Arrays:
    # The embedded default: scikit-learn's 1,797 real 8x8 digits (values 0..16), no network needed.
    # They have no official test split: a fixed permutation (seed 0, independent of the run seed)
    # keeps 297 of them as the test set, so every run is tested on the same images.
    from sklearn.datasets import load_digits

    d = load_digits()
    x = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)  # (1797, 8, 8) on the usual 0..255 scale
    y = d.target.astype(np.int64)
    perm = np.random.default_rng(0).permutation(len(x))
    test, train = perm[:297], perm[297:]
    return x[train], y[train], x[test], y[test]


DESCRIPTIONS["digits"] = "scikit-learn's 1,797 handwritten digits, 8x8 gray (embedded, no download)"


@DATASETS.register("digits28")
def _digits28(_: Path | None) -> Arrays:
    # The lesson's MNIST-type digits, embedded: drawn from pen-stroke templates (data/strokes.py), since
    # MNIST itself may not be copied into the package; 6,000 training and 1,000 test digits, fixed
    from .strokes import digits28

    return digits28()


DESCRIPTIONS["digits28"] = ("7,000 handwriting-like digits drawn from pen strokes, 28x28 gray and centred as MNIST's "
                            "(embedded, no download; not MNIST)")


@DATASETS.register("photo-patches")
def _photo_patches(_: Path | None) -> Arrays:
    from .photos import load_photo_patches

    return load_photo_patches()


DESCRIPTIONS["photo-patches"] = "40x40 gray patches of scikit-image's sample photos; test: 'camera' (embedded)"

# folders of photographs (data/folder.py): any folder as "images", and the standard sets by name
FOLDER_SETS = {
    "images": "a folder of PNG/JPEG/TIFF/BMP images (searched recursively), trained on random patches",
    "bsd400": "BSD400 ('Train400'): 400 gray 180x180 photos, the usual photo-denoiser training set",
    "bsd68": "BSD68: 68 gray 481x321 test photos",
    "set12": "Set12: 12 gray test photos, 256x256 and 512x512",
    "cbsd432": "CBSD432: 432 colour 481x321 BSDS photos, the usual colour photo-denoiser training set",
    "cbsd68": "CBSD68: 68 colour 481x321 test photos (BSD68 in colour)",
}


def _folder_set(_: Path | None) -> Arrays:  # registered for the name only: load_dataset reads folders itself
    raise AssertionError("image folders are read by load_image_folder")


for _name, _text in FOLDER_SETS.items():
    DATASETS.register(_name)(_folder_set)
    NEEDS_FILES.add(_name)
    DESCRIPTIONS[_name] = _text

for _name in IDX_SETS:
    def _loader(root: Path | None, _n: str = _name) -> Arrays:
        assert root is not None
        return load_idx_set(_n, root)

    DATASETS.register(_name)(_loader)
    NEEDS_FILES.add(_name)
    DESCRIPTIONS[_name] = "IDX gzip files (train-images-idx3-ubyte.gz, ...), 28x28 gray"


def list_datasets() -> list[tuple[str, str]]:
    """(name, description) of every registered data set."""
    return [(n, DESCRIPTIONS.get(n, "")) for n in DATASETS]


def resolve_data_dir(name: str, data_dir: str | os.PathLike | None) -> Path | None:
    """Where file-based data set `name` lives: `data_dir` if given, else ``$DAEKIT_DATA/<name>``."""
    DATASETS.get(name)  # unknown names fail first, with the list of known ones
    if name not in NEEDS_FILES:
        return None
    if data_dir:
        return Path(data_dir).expanduser()
    env = os.environ.get("DAEKIT_DATA")
    if env:
        return Path(env).expanduser() / name
    raise DaekitError(f"data set {name!r} is read from files: pass --data-dir DIR or set DAEKIT_DATA to a folder holding {name}/")


def load_configured(d: Any, seed: int, device_type: str = "cpu") -> "ImageData | PatchData":
    """The data a config's ``data`` section describes (config.DataConfig), every setting passed on:
    the one place the section is spelled out as arguments (training, comparison and evaluation use it).
    `device_type` sizes an image folder's default patches per epoch (``folder.auto_patches``)."""
    return load_dataset(d.name, d.dir, val_fraction=d.val_fraction, seed=seed, limit=d.limit, resize=d.resize,
                        download=d.download, channels=d.channels, patch_size=d.patch_size,
                        patches_per_epoch=d.patches_per_epoch, cache_mb=d.cache_mb, workers=d.workers,
                        device_type=device_type, noisy_once=d.noisy_once, noisy_copies=d.noisy_copies, bursts=d.bursts, zoom=d.zoom,
                        zoom_share=d.zoom_share)


def load_dataset(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    val_fraction: float = 0.1,
    seed: int = 0,
    limit: int | None = None,
    resize: int | None = None,
    download: bool = False,
    channels: int | None = None,
    patch_size: int = 64,
    patches_per_epoch: int | None = None,
    cache_mb: int = 2048,
    workers: int = 0,
    device_type: str = "cpu",
    noisy_once: str | None = None,
    noisy_copies: int = 1,
    bursts: bool = False,
    zoom: float = 1.0,
    zoom_share: float = 1.0,
) -> "ImageData | PatchData":
    """Loads a registered data set into memory and holds out a validation split fixed by `seed`.

    Args:
        name: Registered data set name (``daekit list`` shows them).
        data_dir: Folder holding the files (else ``$DAEKIT_DATA/<name>``).
        val_fraction: Share of the training images held out for validation.
        seed: Fixes which images are held out (and which are kept by `limit`).
        limit: Keep at most this many training images (before the split), for quick runs.
        resize: Resize images to resize x resize (bilinear, antialiased) once, at load time.
        download: Fetch missing files first (needs a network; never used by tests).
        channels, patch_size, patches_per_epoch, cache_mb, workers: for image folders (see PatchData);
            patches_per_epoch None sizes it to the folder and `device_type` (``folder.auto_patches``).
        noisy_once: Corrupt every training and validation image once with this noise spec (a fixed draw
            per image; the test images stay clean): noisy-only data, for training without clean images.
        noisy_copies: With `noisy_once`, this many independent noisy copies of each image, stacked along
            the channels (``ImageData.frames``): Noise2Noise's pairs.
        bursts: Image folders only: each subfolder is one scene of registered noisy shots (see folder.py).
        zoom: Image folders only: each training patch enlarged by a factor drawn from [1, zoom] (``zoom_patches``).
        zoom_share: With `zoom`, the share of the patches enlarged (the others stay at scale 1).

    Returns:
        ImageData (everything in memory) or, for image folders, PatchData (patches drawn per epoch).
    """
    root = resolve_data_dir(name, data_dir)
    if noisy_copies > 1 and not noisy_once:
        raise DaekitError(f"data.noisy_copies {noisy_copies} needs data.noisy_once (the noise each copy is drawn with)")
    if bursts and name not in FOLDER_SETS:
        raise DaekitError(f"data.bursts needs a folder of images (data images, with --data-dir); {name!r} is not one")
    if zoom != 1.0 and name not in FOLDER_SETS:
        raise DaekitError(f"data.zoom enlarges patches of a folder of photos; {name!r} is not one (leave it at 1)")
    if zoom_share != 1.0 and zoom == 1.0:
        raise DaekitError(f"data.zoom_share {zoom_share} is the share of the patches data.zoom enlarges; set data.zoom above 1 "
                          "(or leave the share at 1)")
    if name in FOLDER_SETS:
        if not 0.0 <= val_fraction < 1.0:
            raise DaekitError(f"val_fraction must be in [0, 1), got {val_fraction}")
        return load_image_folder(
            name, root, val_fraction=val_fraction, seed=seed, limit=limit, channels=channels, patch_size=patch_size,
            patches_per_epoch=patches_per_epoch, cache_mb=cache_mb, workers=workers, device_type=device_type,
            noisy_once=noisy_once, noisy_copies=noisy_copies, bursts=bursts, zoom=zoom, zoom_share=zoom_share,
        )
    if download and root is not None:
        download_idx_set(name, root)
    xtr, ytr, xte, yte = DATASETS.get(name)(root)
    if not 0.0 <= val_fraction < 1.0:
        raise DaekitError(f"val_fraction must be in [0, 1), got {val_fraction}")
    g = torch.Generator().manual_seed(int(seed))
    perm = torch.randperm(len(xtr), generator=g)
    if limit is not None:
        perm = perm[: int(limit)]
    n_val = max(1, int(round(len(perm) * val_fraction))) if val_fraction > 0 else 0
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    if len(train_idx) == 0:
        raise DaekitError(f"data set {name!r}: no training images left after the validation split")
    train_all, test = to_tensor(xtr, resize), to_tensor(xte, resize)
    if noisy_once:  # fixed draws for the whole training file (train and validation); the test set stays clean
        from ..noise import make_generator, parse_noise
        from ..seeding import NOISY_ONCE, copy_seeds

        noise = parse_noise(noisy_once)
        train_all = torch.cat([noise(train_all, make_generator(s)) for s in copy_seeds(noisy_copies, seed, NOISY_ONCE)], dim=1)
    ytr_t, yte_t = torch.as_tensor(np.asarray(ytr, dtype=np.int64)), torch.as_tensor(np.asarray(yte, dtype=np.int64))
    return ImageData(
        name=name,
        train=train_all[train_idx].contiguous(),
        val=train_all[val_idx].contiguous() if n_val else test[:0],
        test=test,
        train_labels=ytr_t[train_idx],
        val_labels=ytr_t[val_idx],
        test_labels=yte_t,
        frames=noisy_copies if noisy_once else 1,
    )


def to_tensor(images: np.ndarray, resize: int | None = None) -> torch.Tensor:
    """uint8/uint16/float images (N, H, W) or (N, H, W, C) -> float32 (N, C, H, W) in [0, 1]."""
    a = np.asarray(images)
    if a.ndim == 3:
        a = a[..., None]
    if a.ndim != 4:
        raise DaekitError(f"expected images shaped (N, H, W) or (N, H, W, C), got {a.shape}")
    if a.dtype == np.uint8:
        t = torch.from_numpy(a.astype(np.float32) / 255.0)
    elif a.dtype == np.uint16:
        t = torch.from_numpy(a.astype(np.float32) / 65535.0)
    else:
        t = torch.from_numpy(a.astype(np.float32))
    if not torch.isfinite(t).all():
        raise DaekitError("images contain NaN or infinite values")
    t = t.permute(0, 3, 1, 2).contiguous()  # (N, C, H, W)
    if resize:
        need = t.shape[0] * t.shape[1] * int(resize) ** 2 * 4
        from ..system import available_ram

        free = available_ram()
        if need > free // 2:  # before allocating: a typo in data.resize must not ask for terabytes
            raise DaekitError(f"data.resize {resize}: {t.shape[0]} images of {resize}x{resize} need {need / 2**30:,.1f} GiB "
                              f"in memory ({free / 2**30:.1f} GiB available); choose a smaller size")
        t = F.interpolate(t, size=(int(resize), int(resize)), mode="bilinear", antialias=True, align_corners=False).clamp_(0, 1)
    return t


class InMemoryLoader:
    """Serves batches as slices of one tensor (one gather per batch, no per-item Python call).

    Args:
        images: (N, C, H, W) tensor.
        batch_size: Images per batch.
        shuffle: Draw a new order each pass from `generator`.
        generator: Fixes the order (re-seed it per epoch for resumable runs).
        drop_last: Skip a final short batch.
    """

    def __init__(
        self, images: torch.Tensor, batch_size: int, shuffle: bool = True,
        generator: torch.Generator | None = None, drop_last: bool = False,
    ) -> None:
        self.images, self.batch_size, self.shuffle = images, int(batch_size), shuffle
        self.generator, self.drop_last = generator, drop_last
        self.start = 0  # first batch of the next pass (resuming within an epoch)

    def __len__(self) -> int:
        n, b = len(self.images), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self) -> Iterator[torch.Tensor]:
        n = len(self.images)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else None
        for i in range(self.start, len(self)):
            sl = slice(i * self.batch_size, min(n, (i + 1) * self.batch_size))
            yield self.images[order[sl]] if order is not None else self.images[sl]


__all__ = ["ImageData", "PatchData", "FOLDER_SETS", "DATASETS", "InMemoryLoader", "list_datasets", "load_configured", "load_dataset", "resolve_data_dir", "to_tensor"]
