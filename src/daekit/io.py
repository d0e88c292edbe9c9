"""Writing files so that a kill at any moment leaves the last complete version, and tensor files.

The ground floor for every module that writes: images, TIFF bands, checkpoints, configs, metrics,
reports, ONNX models, downloads. Every write goes to a temporary file in the destination's folder
(``.NAME.*.tmp``), is flushed to disk and renamed into place; a leftover temporary file is only ever
a dot-file beside its destination (run folders remove theirs when opened). Tensor files are
safetensors (never a pickle), read and written only here. JSON for people and other tools is strict.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside `path` for a writer that needs a file name (tifffile, ONNX, downloads);
    renamed onto `path` when the block ends without an exception, removed otherwise."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Writes `data` to `path` through a temp file + fsync + rename (never a half-written file)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Text version of ``atomic_write_bytes``."""
    atomic_write_bytes(path, text.encode())


def _finite_or_none(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_none(v) for v in obj]
    return obj


def json_text(obj: Any, indent: int | None = None) -> str:
    """Strict JSON for files people and other tools read: NaN and +-inf (e.g. the PSNR of an input
    that has no noise) become null, since ``Infinity`` is not JSON outside Python."""
    return json.dumps(_finite_or_none(obj), indent=indent, allow_nan=False)


def save_tensors(path: str | Path, tensors: dict[str, Any], metadata: dict[str, str] | None = None) -> None:
    """Writes named tensors (and string metadata) as a safetensors file, atomically."""
    from safetensors.torch import save

    atomic_write_bytes(path, save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, metadata=metadata))


def load_tensors(path: str | Path) -> tuple[dict[str, Any], dict[str, str]]:
    """(tensors, metadata) of a safetensors file. Raises safetensors' own errors for a file that is not one."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})
