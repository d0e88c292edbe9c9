"""The wide pass (``daekit denoise --wide``): for very noisy photos from cameras and phones at full resolution.

The model is run on the four 2 x 2 pixel-shuffled half-resolution sub-images of the photo (each pixel of a
sub-image is every other pixel of the photo: the "PD" of Zhou et al. 2019), the results are put back in place,
and the model is run once more on that at full resolution. At half resolution the network sees twice as far
(photo-real's 35 pixels become 70) and the camera's correlated noise (demosaicking, in-camera noise
reduction) is whiter; the full-resolution pass then removes what the shuffle left. Measured with photo-real
(bench/wide.py; docs/benchmarks.md, twenty-seventh session) on clean camera photos (PolyU's references) with
synthetic camera noise: +1.2 dB over one pass at ISO 6400, +2.7 at ISO 12800, +4.3 at ISO 25600; but -0.1 at ISO
3200, -2.4 at ISO 800, -1.4 with white Gaussian noise (sigma 15), and on film scans -0.2 at ISO 12800 and -2.4 with
Gaussian noise, where the shuffle splits fine detail. About twice the time of one pass.

So by default (``wide="auto"``) it runs only where the photo looks like that case, judged from what one pass of
the model does to it (``features``, pooled over the whole photo or, for a large one, a grid of windows): a lot is
removed (``level``), the removed luma is correlated between neighbours (``lag``: a camera's demosaicked noise, not
white noise) and the output's edges are soft at the pixel scale (``fine``: a full-resolution photo, not a scan or a
scaled-down one). The thresholds belong to the model they were measured with (``AutoRule``, from the model's
entry in models.json); a model without them never widens on its own.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .color import channel_mean


AUTO = "auto"
WHOLE_PIXELS = 1 << 20  # up to this many pixels the decision sees the whole photo (its one pass is then the result)
WINDOW, GRID = 256, 3  # above it, a 3 x 3 grid of 256-pixel windows (~5% of a 12 MP photo)


@dataclass(frozen=True)
class AutoRule:
    """When ``wide="auto"`` widens: every feature past its threshold (``features``)."""

    level: float  # RMS of what one pass removes (luma and colour), 8-bit levels: at least this
    lag: float  # correlation of neighbouring pixels of the removed luma: above this
    fine: float  # pixel-scale share of the output's changes at its edges: below this

    @classmethod
    def of(cls, info: dict[str, Any]) -> "AutoRule | None":
        """The rule a model's info (its models.json entry) carries under "auto_wide", or None."""
        rule = info.get("auto_wide")
        return cls(float(rule["level"]), float(rule["lag"]), float(rule["fine"])) if rule else None

    def wants(self, f: dict[str, float]) -> bool:
        return f["level"] >= self.level and f["lag"] > self.lag and f["fine"] < self.fine


def features(pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """What one pass did, pooled over (input, clamped one-pass output) pairs of (H, W, 3) float images in [0, 1],
    each at least 3 x 3 ((H, W, 1): gray, the luma alone).

    level: RMS of the removed noise in 8-bit levels, luma (per-window mean taken off) and colour (each channel
    minus the luma) together; lag: mean correlation of horizontally and vertically neighbouring pixels of the
    removed luma; fine: at the output's edges (the tenth of its places, down and across, where pixels two apart
    differ most), the mean squared step between neighbours over that between pixels two apart: 0.25 for an edge
    spread over several pixels, 0.5 for a one-pixel step, about 0.4 for independent pixels. Camera photos at full
    resolution give 0.27-0.31, film scans 0.33-0.43 (the scored photos of the twenty-ninth session, docs/
    benchmarks.md); it looks at the edges because there what one pass leaves of strong noise counts least (over
    all pixels, the same photos with ISO-25600 noise moved from 0.29 to 0.36-0.41, like a scan).
    """
    s = dict(rr=0.0, n=0, cc=0.0, nc=0, lag=0.0, d1=0.0, d2=0.0)
    for x, one in pairs:  # float32 work, float64 sums (1.3x faster than float64 throughout; 28-33 ms a 512 x 512 photo here)
        d = (x - one) * np.float32(255)
        r = channel_mean(d)[..., 0]
        c = d - r[..., None]
        r -= r.mean(dtype=np.float64)
        g = channel_mean(one)[..., 0]
        n = r.size
        s["rr"] += float(np.square(r).sum(dtype=np.float64))
        s["n"] += n
        s["cc"] += float(np.square(c).sum(dtype=np.float64))
        s["nc"] += c.size
        s["lag"] += float((r[:, 1:] * r[:, :-1]).mean(dtype=np.float64) + (r[1:] * r[:-1]).mean(dtype=np.float64)) / 2 * n
        for a in (g, g.T):
            d1, d2 = _edge_steps(a)
            s["d1"] += d1
            s["d2"] += d2
    rr = s["rr"] / max(s["n"], 1)
    return {"level": float(np.sqrt(rr + s["cc"] / max(s["nc"], 1))),
            "lag": s["lag"] / max(s["n"], 1) / rr if rr > 0 else 0.0,
            "fine": s["d1"] / s["d2"] if s["d2"] > 0 else 1.0}


EDGES = 0.1  # the share of places ``features`` takes as the output's edges


def _edge_steps(g: np.ndarray) -> tuple[float, float]:
    """Down the columns of `g`, at the ``EDGES`` share of places where pixels two apart differ most: the sums of
    the squared steps between neighbours (the mean of the two) and of the squared two-pixel differences."""
    two = g[2:] - g[:-2]
    if two.size == 0:
        return 0.0, 0.0
    size = np.abs(two)
    k = min(size.size - 1, int(size.size * (1 - EDGES)))
    at = size >= np.partition(size.ravel(), k)[k]
    steps = (np.square(g[1:-1] - g[:-2]) + np.square(g[2:] - g[1:-1]))[at]
    return float(steps.sum(dtype=np.float64)) / 2, float(np.square(two[at]).sum(dtype=np.float64))


def windows(h: int, w: int) -> list[tuple[slice, slice]]:
    """Where the decision looks in an h x w photo: the whole of it up to ``WHOLE_PIXELS``, else a ``GRID`` x
    ``GRID`` grid of ``WINDOW``-pixel squares, each centred in its cell."""
    if h * w <= WHOLE_PIXELS:
        return [(slice(0, h), slice(0, w))]
    side_y, side_x = min(WINDOW, h), min(WINDOW, w)
    ys = [min(max(int((i + 0.5) * h / GRID) - side_y // 2, 0), h - side_y) for i in range(GRID)]
    xs = [min(max(int((j + 0.5) * w / GRID) - side_x // 2, 0), w - side_x) for j in range(GRID)]
    return [(slice(y, y + side_y), slice(x, x + side_x)) for y in ys for x in xs]


def wide_pass(run: Callable[[Any], Any], x: Any) -> Any:
    """`run` on the 2 x 2 pixel-shuffled sub-images of `x`, put back in place, then on the result.

    `x` is an (H, W, C) float32 array (a whole image) or an (N, C, H, W) tensor (a batch); `run` maps one such to
    the model's unclamped output of the same shape (the second pass gets the first's clamped to [0, 1]). An image with fewer than 2 rows or columns has no
    sub-images: it gets the plain pass.
    """
    h, w = _spatial(x)
    if h < 2 or w < 2:
        return run(x)
    half = shuffled(run, x)
    return run(half.clamp(0, 1) if not isinstance(half, np.ndarray) else np.clip(half, 0, 1))  # an image, as trained


def shuffled(run: Callable[[Any], Any], x: Any) -> Any:
    """`run` on each of the 2 x 2 pixel-shuffled sub-images of `x` (as ``wide_pass`` takes it), put back in place
    (the first half of ``wide_pass``; odd sizes give sub-images one row or column apart in size)."""
    batch = not isinstance(x, np.ndarray)
    out = x.new_empty(x.shape) if batch else np.empty(x.shape, dtype=np.float32)
    for i in range(2):
        for j in range(2):
            at = (Ellipsis, slice(i, None, 2), slice(j, None, 2)) if batch else (slice(i, None, 2), slice(j, None, 2))
            sub = x[at].contiguous() if batch else np.ascontiguousarray(x[at], dtype=np.float32)
            out[at] = run(sub)
    return out


def _spatial(x: Any) -> tuple[int, int]:
    return (int(x.shape[-2]), int(x.shape[-1])) if not isinstance(x, np.ndarray) else (x.shape[0], x.shape[1])
