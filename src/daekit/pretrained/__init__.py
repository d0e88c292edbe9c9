"""Pretrained models shipped inside the package: weights (safetensors + JSON) and an index.

``models.json`` lists each model: its weights file, how it treats color, what it was trained on, the
noise range, and the PSNR measured by the bench scripts. Loading is offline and never unpickles.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DaekitError

HERE = Path(__file__).resolve().parent
INDEX = HERE / "models.json"
DEFAULT_GRAY, DEFAULT_RGB = "photo-gray", "photo-real"


@dataclass
class Pretrained:
    """One shipped model (an entry of ``models.json``)."""

    name: str
    weights: Path
    color: str = "per-channel"
    details: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "weights": self.weights.name, "color": self.color, **self.details}


def list_pretrained() -> list[Pretrained]:
    """Every shipped model, in index order."""
    index = json.loads(INDEX.read_text())
    out = []
    for name, entry in index.items():
        entry = dict(entry)
        out.append(Pretrained(name, HERE / entry.pop("weights"), entry.pop("color", "per-channel"), entry))
    return out


def find_pretrained(name: str | Path) -> Pretrained | None:
    """The shipped model called `name`, or None when `name` is a path (an existing file or folder)."""
    if isinstance(name, Path) or Path(name).exists() or "/" in str(name) or str(name).endswith(".safetensors"):
        return None
    for p in list_pretrained():
        if p.name == name:
            return p
    known = ", ".join(p.name for p in list_pretrained())
    raise DaekitError(f"model not found: {name!r} is neither a shipped model ({known}) nor a run folder or checkpoint file")


def weights_path(source: str | Path, which: str = "best") -> Path:
    """The checkpoint file `source` names: a shipped model's weights, a run folder's `which` checkpoint ("best" or
    "last") or the file."""
    from ..checkpoint import find_checkpoint

    shipped = find_pretrained(source)
    return shipped.weights if shipped is not None else find_checkpoint(source, which)


def default_for(channels: int) -> str:
    """The shipped model `daekit denoise` uses without --model: photo-gray for gray, photo-real for colour (camera photos)."""
    return DEFAULT_GRAY if channels == 1 else DEFAULT_RGB


def default_for_image(img: Any) -> str:
    """``default_for`` an (H, W, C) float image: the gray model also for RGB whose channels are one gray
    image, as they are or toned (``images.looks_gray``), as `daekit denoise` and the server pick it."""
    from ..images import looks_gray

    return DEFAULT_GRAY if looks_gray(img) else default_for(img.shape[2])
