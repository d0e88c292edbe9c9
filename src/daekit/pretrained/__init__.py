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
# a gray image whose noise is correlated between neighbours above this (``noise_estimate.neighbour_correlation``)
# has a camera's noise and goes to photo-real: PolyU's real photos made gray 39.39 dB against photo-gray's 37.63
# (99 of 100 above it); white noise reads about -0.05 (BSD68 and Set12 with Gaussian sigma 15-50: none above it);
# chosen on other photos than these (docs/benchmarks.md, twenty-ninth session; bench/gray_camera.py)
CAMERA_NOISE = 0.25


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
    """The shipped model for images of `channels` when nothing else is known: photo-gray for gray, photo-real for
    colour (camera photos). `daekit denoise` picks by the image itself (``default_for_image``)."""
    return DEFAULT_GRAY if channels == 1 else DEFAULT_RGB


def default_for_image(img: Any) -> str:
    """The shipped model `daekit denoise` and the server use without --model for an (H, W, C) float image:
    photo-real for a colour photo; for a gray one (one channel, or RGB whose channels are one gray image, as they
    are or toned: ``images.looks_gray``) photo-gray, or photo-real where its noise is a camera's (correlated
    between neighbours: ``CAMERA_NOISE``), which photo-gray, trained on white noise, hardly removes."""
    from ..images import looks_gray
    from ..noise_estimate import neighbour_correlation

    if not looks_gray(img):
        return default_for(img.shape[2])
    return DEFAULT_RGB if neighbour_correlation(img) > CAMERA_NOISE else DEFAULT_GRAY
