"""Tiled inference for images of any size, in bounded memory.

The image is cut into *cores*. Each core is run through the model together with a *halo* of context
around it (at least the model's receptive-field radius), and only the core is kept: every kept pixel
therefore saw exactly the context it would see in a whole-image run, so the tiled result equals the
whole-image result up to float rounding. For such exact models the cores abut and every crop has the
same shape (``_even_spans``). Models without an exact receptive field (U-Nets) get square cores on a
grid with `overlap` pixels shared between neighbours, blended with a raised-cosine window across the
overlap (weights normalised per pixel), so they show no seams either.

Rows of tiles are processed top to bottom and finished rows are handed on as *bands*: memory is a
few tile rows, not the image, when the consumer writes bands to disk (``write_tiff_bands``).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .errors import DaekitError

Run = Callable[[np.ndarray], np.ndarray]  # (h, w, C) float32 -> (h, w, C) float32


def _up(n: int, multiple: int) -> int:
    """`n` rounded up to a multiple of `multiple`."""
    return -(-n // multiple) * multiple


UNDECLARED_HALO = 64  # context for models without an exact receptive field (U-Nets): blended tiles


def model_geometry(model: nn.Module) -> tuple[int, int]:
    """(halo, multiple): context each tile needs and the grid its origin must sit on, from the model's
    declared ``geometry`` (models/blocks.py). An exact receptive field gives exact tiles; without one
    (U-Nets) tiles get a generous halo and rely on blending.
    """
    g = model.geometry
    rf = g.receptive_field
    halo = (int(rf) - 1) // 2 if rf else UNDECLARED_HALO
    return _up(halo, g.multiple), g.multiple


def smallest_tile(model: nn.Module) -> int:
    """The smallest tile side worth running: twice the halo (a tile then computes at most 4x its own
    pixels), at least 32 and on the model's grid. Smaller tiles would take hours on a large image."""
    halo, multiple = model_geometry(model)
    return _up(max(32, 2 * halo), multiple)


def untiled_bytes(model: nn.Module, height: int, width: int, itemsize: int = 4) -> int:
    """Rough activation memory of one whole-image run (3 live tensors of the widest layer)."""
    return int(height * width * _activation_bytes_per_pixel(model, itemsize) * 3)


def available_memory(device: torch.device) -> int:
    """Bytes free for activations: free GPU memory on CUDA, else available RAM (Linux), else 2 GiB."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    from .system import available_ram

    return available_ram()


# glibc hands every allocation of 32 MiB or more (its largest mmap threshold) fresh pages from the
# kernel, so on the CPU a convolution whose output is that big pays page faults on every call. Measured
# on the 2-core AMX CPU, photo-gray (17x64, full resolution) on a 1024 x 1024 image: whole 2.75 s in
# bf16 (6.59 fp32); with the threshold lifted (MALLOC_MMAP_THRESHOLD_) 1.49 s (4.41): 1.5-1.8x lost to
# the faults. Tiles whose activations stay under it avoid them; they also keep the heap's peak low where
# the CLI has raised that threshold (`allocator.keep_large_buffers`: 8192^2 in 110 s and 1.20 GB peak
# RSS, vs 126 s and 3.30 GB with 1024-pixel tiles).
CPU_ACTIVATION_BYTES = int(0.9 * (32 << 20))

# fp32 on the CPU (a CPU without bf16 units, or --precision fp32) is bound by arithmetic instead: there the halo
# each small tile computes again costs more than large buffers do, and fp32's 4 bytes shrink the side the rule
# above allows by sqrt(2) (256 pixels for the full-resolution models). Measured on a 2-core AMD EPYC Zen 3 (no
# AVX-512, so fp32 is the default) through `daekit denoise`, 256-pixel tiles against 768: photo-real on a
# 4000 x 3000 photo 110.5 -> 86.9 s (peak RSS 2.63 -> 1.88 GB; 640: 89.5 s, 1024: 84.4 s and 2.77 GB); photo-gray
# on 8192 x 8192 598 -> 555 s (1.04 -> 1.36 GB; 1024: 487 s but 2.22 GB). So an fp32 activation may be as large as a
# 768-pixel core with the full-resolution models' 17-pixel halo, at 64 channels. (Those peaks were the edge tiles'
# odd shapes fragmenting the heap: with crops of one shape, ``_even_spans``, bench/tiling.py's 8192 x 8192 went
# from 1.69 to 1.19 GB at 768 pixels, the same 451 s.) The bf16 rule was measured on the AMX CPU; fp32 tiles there
# were not timed.
CPU_FP32_ACTIVATION_BYTES = (768 + 2 * 17) ** 2 * 64 * 4


def _activation_bytes_per_pixel(model: nn.Module, itemsize: int) -> float:
    """Bytes per input pixel of the largest activation: as the model's geometry declares it (U-Nets), else the
    widest convolution's channels over the unshuffle factor squared."""
    if model.geometry.activation_channels:
        return model.geometry.activation_channels * itemsize
    widest = max((m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d)), default=64)
    return widest * itemsize / max(1, getattr(model, "unshuffle", 1)) ** 2


def auto_tile_size(model: nn.Module, device: torch.device, budget_fraction: float = 0.1, cap: int = 1024,
                   itemsize: int = 4, image_shape: tuple[int, int] | None = None) -> int:
    """A tile side (a multiple of 64) whose activations fit in `budget_fraction` of the free memory.

    Activation memory per pixel ~ widest layer x 4 bytes x 3 live tensors / unshuffle^2. On the CPU the
    side is also kept small enough that one activation (at `itemsize` bytes, the compute dtype's) stays
    under ``CPU_ACTIVATION_BYTES`` in bf16, ``CPU_FP32_ACTIVATION_BYTES`` in fp32; for an `image_shape` whose
    whole activation fits, the image's longer side is returned (no tiling).
    """
    per_pixel = _activation_bytes_per_pixel(model, 4) * 3
    side = int(math.sqrt(available_memory(device) * budget_fraction / per_pixel))
    side = min(cap, max(128, side // 64 * 64))
    if device.type != "cpu":
        return int(side)
    per_pixel = _activation_bytes_per_pixel(model, itemsize)
    limit = CPU_FP32_ACTIVATION_BYTES if itemsize >= 4 else CPU_ACTIVATION_BYTES
    if image_shape is not None and image_shape[0] * image_shape[1] * per_pixel <= limit:
        return int(max(image_shape))
    halo, _ = model_geometry(model)
    core = int(math.sqrt(limit / per_pixel)) - 2 * halo
    return int(min(side, max(128, core // 64 * 64)))


def _window(length: int, ramp_before: int, ramp_after: int) -> np.ndarray:
    """1-D blending weights: raised-cosine ramps over the overlaps, 1 elsewhere (never 0)."""
    w = np.ones(length, dtype=np.float64)
    for n, sl, rev in ((ramp_before, slice(0, ramp_before), False), (ramp_after, slice(length - ramp_after, length), True)):
        if n > 0:
            r = np.sin(0.5 * math.pi * (np.arange(n) + 0.5) / n) ** 2
            w[sl] = r[::-1] if rev else r
    return w


def _origins(size: int, tile: int, stride: int) -> list[int]:
    starts = list(range(0, max(1, size - tile) + stride, stride))
    starts = [s for s in starts if s < size]
    while len(starts) > 1 and starts[-2] + tile >= size:  # the previous core already reaches the edge
        starts.pop()
    return starts


Span = tuple[int, int, int, int]  # along one axis: (core start, core end, crop start, crop end)


def _halo_span(start: int, end: int, halo: int, size: int) -> Span:
    """The core [start, end) with up to `halo` pixels of context a side, within [0, size)."""
    return start, end, max(0, start - halo), min(size, end + halo)


def _even_spans(size: int, tile: int, halo: int, multiple: int) -> list[Span]:
    """Abutting cores covering [0, size) whose crops all have the same length (at most tile + 2 * halo).

    Equal crops give every tile's activations the same shape, so each tile reuses the buffers the one before
    freed: crops of four shapes (the image's edges) left the heap with holes too small for the next shape (glibc
    keeps freed buffers where the CLI raised its thresholds, ``allocator``): with 768-pixel fp32 tiles a 2048 x 2048
    photo peaked at 1.61 GB and an 8192 x 8192 one at 1.69; with equal crops 0.84 and 1.19 GB, as fast and the same
    pixels computed (edge cores are longer by the halo they do not need). The last crop ends at the image's edge
    and starts on the `multiple` grid, so after the model pads it to the grid it too has the common length.
    """
    padded = _up(size, multiple)
    if padded <= tile + 2 * halo:
        return [(0, size, 0, size)]
    count = -(-(size - 2 * halo) // tile)  # fewest crops of up to tile + 2 * halo that cover the size
    length = _up(-(-(size + 2 * (count - 1) * halo) // count), multiple)  # their common length, on the grid
    spans, core = [], 0
    while core < size:
        start = min(max(0, core - halo), padded - length)
        end = size if start + length >= padded else start + length - halo
        spans.append((core, end, start, min(size, start + length)))
        core = end
    return spans


def _core(run: Run, image: np.ndarray, ys: Span, xs: Span) -> np.ndarray:
    """The model's output on the core of `image` that the spans `ys` and `xs` name, run on their crop."""
    (y0, y1, cy0, cy1), (x0, x1, cx0, cx1) = ys, xs
    out = run(np.ascontiguousarray(image[cy0:cy1, cx0:cx1]))
    return out[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0]


def tiled_bands(run: Run, image: np.ndarray, tile: int, overlap: int, halo: int, multiple: int = 1,
                progress: bool = False) -> Iterator[tuple[int, np.ndarray]]:
    """Yields (top row, finished rows (h, W, C) float32) of the denoised `image`, top to bottom.

    Args:
        run: Denoises one (h, w, C) float32 crop.
        image: (H, W, C) float32 array (may be a memory map).
        tile: Core side (rounded down to `multiple`).
        overlap: Rows/columns shared by neighbouring cores (blended).
        halo: Context added around each core (>= the receptive-field radius for exact tiles).
        multiple: Tile origins and halos sit on this grid (pixel-unshuffle / pooling alignment).
    """
    h, w, c = image.shape
    tile = max(multiple, tile // multiple * multiple)
    overlap = min(tile // 2, _up(overlap, multiple))
    halo = _up(halo, multiple)
    stride = tile - overlap
    if stride <= 0:
        raise DaekitError(f"tile size {tile} must be larger than the overlap {overlap}")
    if overlap == 0:  # abutting cores (exact tiles): each written once, no float64 sums (150 MB a row at 8192 wide)
        rows, cols = _even_spans(h, tile, halo, multiple), _even_spans(w, tile, halo, multiple)
        bar = tqdm(total=len(rows) * len(cols), desc="tiles", unit="tile", disable=not progress, dynamic_ncols=True)
        for ys in rows:
            band = np.empty((ys[1] - ys[0], w, c), dtype=np.float32)
            for xs in cols:
                band[:, xs[0] : xs[1]] = _core(run, image, ys, xs)
                bar.update(1)
            yield ys[0], band
        bar.close()
        return
    ys, xs = _origins(h, tile, stride), _origins(w, tile, stride)
    bar = tqdm(total=len(ys) * len(xs), desc="tiles", unit="tile", disable=not progress, dynamic_ncols=True)
    carry_num = carry_den = None  # accumulated overlap rows from the previous tile row
    for r, y0 in enumerate(ys):
        y1 = min(h, y0 + tile)
        num = np.zeros((y1 - y0, w, c), dtype=np.float64)
        den = np.zeros((y1 - y0, w, 1), dtype=np.float64)
        if carry_num is not None:
            k = carry_num.shape[0]
            num[:k] += carry_num
            den[:k] += carry_den
        wy = _window(y1 - y0, overlap if r > 0 else 0, overlap if r < len(ys) - 1 and y1 < h else 0)
        for q, x0 in enumerate(xs):
            x1 = min(w, x0 + tile)
            core = _core(run, image, _halo_span(y0, y1, halo, h), _halo_span(x0, x1, halo, w))
            wx = _window(x1 - x0, overlap if q > 0 else 0, overlap if q < len(xs) - 1 and x1 < w else 0)
            wgt = (wy[:, None] * wx[None, :])[..., None]
            num[:, x0:x1] += core * wgt
            den[:, x0:x1] += wgt
            bar.update(1)
        last = r == len(ys) - 1
        done = (y1 - y0) if last else ys[r + 1] - y0
        yield y0, (num[:done] / den[:done]).astype(np.float32)
        carry_num, carry_den = num[done:], den[done:]
    bar.close()


def denoise_tiled(run: Run, image: np.ndarray, tile: int, overlap: int, halo: int, multiple: int = 1,
                  progress: bool = False) -> np.ndarray:
    """The whole denoised image from ``tiled_bands`` (for outputs that fit in memory)."""
    return assemble_bands(tiled_bands(run, image, tile, overlap, halo, multiple, progress), image.shape)


def assemble_bands(bands: Iterator[tuple[int, np.ndarray]], shape: tuple[int, ...]) -> np.ndarray:
    """One float32 array of `shape` from (top row, rows) bands."""
    out = np.empty(shape, dtype=np.float32)
    for y0, band in bands:
        out[y0 : y0 + band.shape[0]] = band
    return out


def write_tiff_bands(path: str | Path, bands: Iterator[tuple[int, np.ndarray]], shape: tuple[int, int, int],
                     dtype: np.dtype, block: int = 256) -> None:
    """Writes bands as a tiled TIFF, block by block, to a temp file renamed into place at the end."""
    import tifffile

    from .images import from_float

    from .io import atomic_path

    h, w, c = shape

    def blocks() -> Iterator[np.ndarray]:
        pending = np.empty((0, w, c), dtype=np.float32)
        for _, band in bands:
            pending = np.concatenate([pending, band])
            while pending.shape[0] >= block:
                yield from _row_blocks(pending[:block])
                pending = pending[block:]
        if pending.shape[0]:
            full = np.zeros((block, w, c), dtype=np.float32)
            full[: pending.shape[0]] = pending
            yield from _row_blocks(full)

    def _row_blocks(rows: np.ndarray) -> Iterator[np.ndarray]:
        for x0 in range(0, w, block):
            t = np.zeros((block, block, c), dtype=np.float32)
            part = rows[:, x0 : x0 + block]
            t[:, : part.shape[1]] = part
            t = from_float(t, dtype)
            yield t[..., 0] if c == 1 else t

    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, data=blocks(), shape=(h, w) if c == 1 else (h, w, c), dtype=np.dtype(dtype),
                         tile=(block, block), photometric="minisblack" if c == 1 else "rgb", compression="zlib")
