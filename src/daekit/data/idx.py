"""Reading (and optionally downloading) the MNIST family's IDX files: MNIST, Fashion-MNIST, KMNIST, EMNIST."""
from __future__ import annotations

import gzip
import struct
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from ..errors import DaekitError
from ..io import atomic_path

# name -> (file prefix, transpose images, download base URL)
IDX_SETS: dict[str, tuple[str, bool, str | None]] = {
    "mnist": ("", False, "https://ossci-datasets.s3.amazonaws.com/mnist/"),
    "fashion-mnist": ("", False, "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
    "kmnist": ("", False, "http://codh.rois.ac.jp/kmnist/dataset/kmnist/"),
    # EMNIST ships its images transposed; no single-file download exists (one zip of all splits).
    **{f"emnist-{s}": (f"emnist-{s}-", True, None) for s in ("balanced", "byclass", "bymerge", "digits", "letters", "mnist")},
}
PARTS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


MAX_IDX_BYTES = 1 << 31  # 2 GiB of values; the largest real set (EMNIST byclass, train) holds 547 MB


def read_idx(path: str | Path, max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Reads one IDX file (gzip-compressed or not) into an array.

    The header is read first and the values it announces are checked against `max_bytes` before
    anything else is inflated or allocated; then exactly that many bytes are read, so neither a
    header that lies nor a gzip bomb can take more memory than the header admitted.

    Raises:
        DaekitError: the file is missing, truncated, not gzip/IDX, too large, or its size disagrees
            with its header.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            gz = f.read(2) == b"\x1f\x8b"
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as f:
            magic = f.read(4)
            if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _DTYPES:
                raise DaekitError(f"not an IDX file (bad magic number): {path}")
            ndim = magic[3]
            dims = f.read(4 * ndim)
            if ndim == 0 or len(dims) < 4 * ndim:
                raise DaekitError(f"corrupt or truncated IDX file {path}: header cut short")
            shape = struct.unpack(f">{ndim}I", dims)
            dtype = np.dtype(_DTYPES[magic[2]])
            expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if expected > max_bytes:
                raise DaekitError(f"IDX file {path} claims {expected:,} bytes of values (shape {shape}), over the "
                                  f"limit of {max_bytes:,}: not an MNIST-family file, or a damaged one")
            data = f.read(expected + 1)
    except FileNotFoundError:
        raise DaekitError(f"missing IDX file: {path}") from None
    except (EOFError, OSError, zlib.error) as e:
        raise DaekitError(f"corrupt or truncated IDX file {path}: {e}") from None
    if len(data) != expected:
        more = "more" if len(data) > expected else f"{len(data)}"
        raise DaekitError(
            f"corrupt or truncated IDX file {path}: header says {expected} bytes of values for shape {shape}, file has {more}"
        )
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def idx_files(name: str, root: Path) -> dict[str, Path]:
    """The four files of data set `name` under `root` (prefers ``.gz``, accepts uncompressed copies)."""
    prefix = IDX_SETS[name][0]
    out = {}
    for part, stem in PARTS.items():
        gz, plain = root / f"{prefix}{stem}.gz", root / f"{prefix}{stem}"
        out[part] = plain if (not gz.exists() and plain.exists()) else gz
    return out


def load_idx_set(name: str, root: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train images, train labels, test images, test labels) as uint8 arrays, images (N, H, W)."""
    if not root.is_dir():
        raise DaekitError(f"data directory for {name!r} not found: {root}")
    files = idx_files(name, root)
    for part, path in files.items():
        if not path.exists():
            raise DaekitError(f"missing {name} file {path.name} (looked in {root}); pass --download to fetch it when online")
    arrays = {part: read_idx(path) for part, path in files.items()}
    for split in ("train", "test"):
        imgs, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if imgs.ndim != 3 or labels.ndim != 1 or len(imgs) != len(labels):
            raise DaekitError(
                f"{name} {split} files disagree: images {imgs.shape}, labels {labels.shape} (in {root})"
            )
    if IDX_SETS[name][1]:
        for split in ("train", "test"):
            arrays[f"{split}_images"] = arrays[f"{split}_images"].transpose(0, 2, 1)
    return arrays["train_images"], arrays["train_labels"], arrays["test_images"], arrays["test_labels"]


def download_idx_set(name: str, root: Path, base_url: str | None = None) -> None:
    """Fetches the four files of `name` into `root` (atomic per file; existing files are kept).

    Args:
        name: A data set of ``IDX_SETS``.
        root: Destination folder (created).
        base_url: Overrides the default mirror (``file://`` URLs work, which is how it is tested).
    """
    base = base_url or IDX_SETS[name][2]
    if base is None:
        raise DaekitError(f"no download source is known for {name!r}; put its IDX files in a folder and pass --data-dir")
    root.mkdir(parents=True, exist_ok=True)
    for path in idx_files(name, root).values():
        if path.exists():
            continue
        url = base.rstrip("/") + "/" + path.name
        try:
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as f, urllib.request.urlopen(url, timeout=60) as r:
                    while chunk := r.read(1 << 20):
                        f.write(chunk)
                read_idx(tmp)  # refuse to install a broken download
        except OSError as e:
            raise DaekitError(f"could not download {url}: {e}") from None
