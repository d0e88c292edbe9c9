"""digits28: handwriting-like digits drawn from pen-stroke templates, 28x28 and normalised as MNIST's are.

The lesson's data are MNIST-type digits: 28x28 gray, white strokes on black, each digit scaled to fit
a 20x20 box and centred by its centre of mass. MNIST itself may not be copied into this package, and
the embedded scikit-learn digits are 8x8, so daekit draws its own: every digit is a template of pen
strokes (lines, arcs, Bezier curves; two or three styles per digit, e.g. a 4 open or closed, a 7 with
or without its bar), bent by a random affine map and a smooth random warp, drawn anti-aliased with a
random pen width at 4x resolution and reduced. The set is generated from a fixed seed in about a
second (no file, no licence), the same on every call; it is not MNIST, and no figure from it should
be quoted as an MNIST figure.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

Stroke = np.ndarray  # (n, 2) points (x, y) in the unit box, y pointing down
N_TRAIN, N_TEST = 6000, 1000
SEED = 20240528  # fixed: the set is data, not a run's randomness
SIDE, BOX, SCALE = 28, 20, 4  # MNIST's canvas, the box a digit is fitted to, the supersampling


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 40) -> Stroke:
    """An elliptic arc from angle a0 to a1 in degrees (0 = right, 90 = down)."""
    t = np.radians(np.linspace(a0, a1, n))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], 1)


def _bezier(*points: tuple[float, float], n: int = 30) -> Stroke:
    """A Bezier curve through its control points (quadratic or cubic)."""
    p = np.asarray(points, dtype=np.float64)
    t = np.linspace(0.0, 1.0, n)[:, None]
    k = len(p) - 1
    return sum(math.comb(k, i) * (1 - t) ** (k - i) * t**i * p[i] for i in range(k + 1))


def _line(*points: tuple[float, float]) -> Stroke:
    """A polyline, densified so the warp bends it."""
    p = np.asarray(points, dtype=np.float64)
    return np.concatenate([np.linspace(a, b, 12, endpoint=False) for a, b in zip(p[:-1], p[1:])] + [p[-1:]])


def _join(*parts: Stroke) -> Stroke:
    return np.concatenate(parts)


# Each digit: a list of styles; each style: a list of strokes (one pen movement each)
TEMPLATES: dict[int, list[list[Stroke]]] = {
    0: [[_arc(0.5, 0.5, 0.33, 0.46, -80, 285)], [_arc(0.5, 0.5, 0.28, 0.46, 250, 620)]],
    1: [[_line((0.5, 0.03), (0.5, 0.97))],
        [_line((0.28, 0.22), (0.52, 0.03), (0.52, 0.97))],
        [_line((0.3, 0.2), (0.5, 0.03), (0.5, 0.97)), _line((0.28, 0.97), (0.72, 0.97))]],
    2: [[_join(_arc(0.5, 0.3, 0.32, 0.27, 195, 385), _line((0.8, 0.39), (0.14, 0.96), (0.88, 0.96)))],
        [_join(_arc(0.48, 0.3, 0.3, 0.27, 200, 380), _bezier((0.77, 0.39), (0.6, 0.75), (0.12, 0.95)),
               _bezier((0.12, 0.95), (0.2, 0.8), (0.35, 0.9), (0.9, 0.93)))]],
    3: [[_join(_arc(0.48, 0.27, 0.3, 0.24, 200, 450), _arc(0.48, 0.73, 0.34, 0.24, 270, 515))],
        [_join(_line((0.18, 0.04), (0.8, 0.04), (0.42, 0.45)), _arc(0.47, 0.72, 0.35, 0.26, 260, 510))]],
    4: [[_line((0.62, 0.97), (0.62, 0.03), (0.08, 0.66), (0.92, 0.66))],
        [_line((0.22, 0.03), (0.14, 0.6), (0.88, 0.6)), _line((0.68, 0.25), (0.66, 0.97))]],
    5: [[_join(_line((0.82, 0.04), (0.26, 0.04), (0.22, 0.45)), _arc(0.5, 0.68, 0.32, 0.28, 215, 510))],
        [_line((0.26, 0.05), (0.22, 0.46)), _join(_arc(0.5, 0.69, 0.33, 0.27, 220, 505)),
         _line((0.26, 0.05), (0.85, 0.03))]],
    6: [[_join(_bezier((0.74, 0.03), (0.3, 0.2), (0.2, 0.6)), _arc(0.5, 0.7, 0.3, 0.27, 180, 540))],
        [_join(_bezier((0.7, 0.02), (0.38, 0.3), (0.23, 0.55), (0.22, 0.72)), _arc(0.5, 0.72, 0.28, 0.25, 180, 520))]],
    7: [[_line((0.12, 0.04), (0.88, 0.04), (0.38, 0.97))],
        [_line((0.12, 0.04), (0.88, 0.04), (0.42, 0.97)), _line((0.3, 0.5), (0.76, 0.5))],
        [_join(_line((0.14, 0.1), (0.86, 0.04)), _bezier((0.86, 0.04), (0.6, 0.4), (0.45, 0.97)))]],
    8: [[_arc(0.5, 0.27, 0.25, 0.23, 0, 360), _arc(0.5, 0.73, 0.31, 0.24, 0, 360)],
        [_join(_arc(0.5, 0.27, 0.24, 0.23, 100, 420), _bezier((0.7, 0.4), (0.2, 0.6), (0.2, 0.95), (0.5, 0.97)),
               _bezier((0.5, 0.97), (0.85, 0.97), (0.8, 0.6), (0.28, 0.4)))]],
    9: [[_arc(0.46, 0.3, 0.3, 0.27, 0, 360), _line((0.76, 0.3), (0.72, 0.97))],
        [_join(_arc(0.47, 0.3, 0.29, 0.27, 0, 360), _bezier((0.76, 0.3), (0.74, 0.75), (0.55, 0.97), (0.3, 0.92)))]],
}


def _warp(strokes: list[Stroke], rng: np.random.Generator) -> list[Stroke]:
    """The template bent as a hand bends it: an affine map (slant, rotation, aspect) and a smooth wobble."""
    angle = math.radians(rng.uniform(-10, 10))
    shear, sx, sy = rng.uniform(-0.35, 0.2), rng.uniform(0.7, 1.15), rng.uniform(0.9, 1.1)
    a = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]) @ np.array([[sx, shear], [0, sy]])
    fx, fy = rng.uniform(0.5, 1.5, 2)
    px, py = rng.uniform(0, 2 * math.pi, 2)
    amp = rng.uniform(0.01, 0.04, 2)
    out = []
    for s in strokes:
        p = (s - 0.5) @ a.T
        p[:, 0] += amp[0] * np.sin(2 * math.pi * fy * s[:, 1] + px)  # a wobble that varies along the stroke
        p[:, 1] += amp[1] * np.sin(2 * math.pi * fx * s[:, 0] + py)
        out.append(p)
    return out


def _render(strokes: list[Stroke], width: float) -> np.ndarray:
    """Anti-aliased strokes (pen `width` in output pixels) fitted into BOX x BOX and centred by mass in SIDE x SIDE."""
    import cv2

    pts = np.concatenate(strokes)
    lo, hi = pts.min(0), pts.max(0)
    big = BOX * SCALE
    fit = (big - width * SCALE) / max(float((hi - lo).max()), 1e-6)  # the pen's width stays inside the box
    canvas = np.zeros((big + 2 * SCALE * 4, big + 2 * SCALE * 4), np.uint8)
    origin = (canvas.shape[0] - (hi - lo) * fit) / 2
    for s in strokes:
        q = np.round(((s - lo) * fit + origin) * 16).astype(np.int32)  # 4 fractional bits (cv2's `shift`)
        cv2.polylines(canvas, [q[:, None, :]], False, 255, thickness=max(1, round(width * SCALE)), lineType=cv2.LINE_AA, shift=4)
    ys, xs = np.nonzero(canvas)
    crop = canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = crop.shape
    k = BOX / max(h, w)  # MNIST: the longer side fitted to 20 pixels, the aspect kept
    small = cv2.resize(crop, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)
    m = small.astype(np.float64)
    cy, cx = (np.arange(m.shape[0]) @ m.sum(1)) / m.sum(), (np.arange(m.shape[1]) @ m.sum(0)) / m.sum()
    out = np.zeros((SIDE, SIDE), np.uint8)
    y0 = int(np.clip(round(SIDE / 2 - cy - 0.5), 0, SIDE - small.shape[0]))
    x0 = int(np.clip(round(SIDE / 2 - cx - 0.5), 0, SIDE - small.shape[1]))
    out[y0 : y0 + small.shape[0], x0 : x0 + small.shape[1]] = small
    return out


def draw_digit(label: int, rng: np.random.Generator) -> np.ndarray:
    """One (28, 28) uint8 digit `label`, its style, warp and pen width drawn from `rng`."""
    styles = TEMPLATES[label]
    strokes = _warp(styles[int(rng.integers(len(styles)))], rng)
    return _render(strokes, width=float(rng.uniform(1.6, 3.2)))


def digits28() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train images (6000, 28, 28) uint8, labels, test images (1000, 28, 28), labels), always the same."""
    return tuple(a.copy() for a in _drawn())  # type: ignore[return-value]


@lru_cache(maxsize=1)
def _drawn() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    n = N_TRAIN + N_TEST
    labels = rng.permutation(np.arange(n) % 10).astype(np.int64)  # balanced classes, shuffled
    images = np.stack([draw_digit(int(y), rng) for y in labels])
    return images[:N_TRAIN], labels[:N_TRAIN], images[N_TRAIN:], labels[N_TRAIN:]
