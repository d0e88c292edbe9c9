"""The Python API: train from a config, load a run, denoise arrays and files, evaluate on a data set."""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from . import checks
from .checkpoint import build_model, find_checkpoint, load_checkpoint
from .color import LUMA, channel_mean, from_opponent, to_opponent
from .config import Config, config_from_dict, config_to_dict, resolve_config
from .data import ImageData, load_configured
from .ensemble import SelfEnsemble, check_size
from .refine import check_passes, refined
from .errors import DaekitError
from .images import ImageInfo, from_float, gray_tone, read_image, to_float, white_of, write_image
from .metrics import psnr, ssim
from .models.blocks import fold_batchnorm
from .noise import parse_noise
from .runtime import Precision, denoise_batches, select_device
from .seeding import TEST, derive_seed
from .train import FitResult, corrupt_fixed, fit
from .wide import AUTO, AutoRule, features, wide_pass, windows

STREAM_PIXELS = 1 << 24  # TIFF outputs above 16 Mpx are written band by band
COLOR_MODES = ("per-channel", "opponent")

def check_strength(value: float, what: str = "strength") -> float:
    """`value` as a float in [0, 1], or DaekitError naming `what` (``checks.real``, as the CLI checks it)."""
    return checks.real(value, what, 0.0, 1.0)


def blend(noisy: np.ndarray, denoised: np.ndarray, strength: float = 1.0, color_strength: float | None = None) -> np.ndarray:
    """How much of the removed noise is removed: ``noisy + strength * (denoised - noisy)``, per pixel.

    This is what `--strength` means for every model (a blend of output and input, as photo editors'
    "amount" sliders do): 1 is the model's output, 0 the input, 0.5 keeps half the noise (a natural grain).
    With `color_strength` (RGB images) the removed noise is split into its luma part (the gray residual
    with the same ITU-R 601 luma) and the rest, its colour part, and each is weighted apart: most noise
    a person dislikes is colour noise, so e.g. ``strength=0.5, color_strength=1`` keeps some grain and no
    colour blotches.

    Args:
        noisy, denoised: (H, W, C) float arrays of the same shape.
        strength: Weight of the luma (and, without `color_strength`, all) of the removed noise, 0..1.
        color_strength: Weight of its colour part, 0..1 (None: the same as `strength`).
    """
    s = check_strength(strength)
    sc = s if color_strength is None else check_strength(color_strength, "color strength")
    if s == 1.0 and sc == 1.0:
        return denoised
    removed = denoised - noisy
    if sc == s or noisy.shape[-1] != 3:
        return noisy + s * removed
    luma = removed @ np.array(LUMA, dtype=removed.dtype)  # (H, W)
    gray = np.repeat(luma[..., None], 3, axis=-1)
    return noisy + s * gray + sc * (removed - gray)


def _reporting(bands: Any, height: int, on_band: Callable[[float], None]) -> Any:
    for y0, band in bands:
        yield y0, band
        on_band((y0 + band.shape[0]) / height)


class Denoiser:
    """A trained model ready to use: ``Denoiser.load("runs/x").denoise(noisy_array)``.

    Args:
        model: The network (any registered architecture).
        config: The config it was trained with.
        device: Where to run it ("auto", "cpu", "cuda", ...).
        ensemble: Average the model over this many flips/rotations of each input (1, 2, 4 or 8;
            ``ensemble.SelfEnsemble``): n times slower, about 0.1 dB cleaner on photos.
        precision: "auto" (bf16 where the device computes it natively: CUDA GPUs, CPUs with AMX or AVX512-BF16; else
            fp32), "fp32" or "bf16". ``Precision.for_inference``.
        strength: How much of the noise the model finds is removed, 0..1 (``blend``): 1 the model's
            output, 0.5 keeps half the noise. Applies to images (``denoise``, ``denoise_image``, files).
        color_strength: The same for the noise's colour part alone (None: as `strength`).
        refine: Random-replacing refinement passes, for a model trained blind-spot (0 = off;
            ``refine.refined``): the output, with some noisy pixels put back, denoised again `refine`
            times and averaged; refine + 1 times slower.
        wide: The wide pass (``wide.wide_pass``): the model on the photo's four half-resolution sub-images, then
            once more at full resolution; for very noisy (night, low-light) photos from cameras and phones at full
            resolution, worse on light noise and on scans; twice as slow. "auto" (the default): only on the photos
            that look like that case to the model's own rule (``wide.AutoRule``; a model without one never widens);
            True: always; False: never. ``widened`` says what the last image got; a call's own answer comes from
            its `on_wide` (``denoise_bands``, ``write_denoised``, ``denoise_path``), which concurrent callers of one
            denoiser (the server's jobs) use instead.
    """

    def __init__(self, model: nn.Module, config: Config, device: str | torch.device = "auto", history: list | None = None,
                 color: str = "per-channel", info: dict[str, Any] | None = None, ensemble: int = 1,
                 precision: str = "auto", strength: float = 1.0, color_strength: float | None = None,
                 refine: int = 0, wide: bool | str = AUTO) -> None:
        if color not in COLOR_MODES:
            raise DaekitError(f"unknown color mode {color!r}; use {' or '.join(COLOR_MODES)}")
        self.device = select_device(device) if isinstance(device, str) else device
        self.model = model.to(self.device).eval()
        if self.device.type in ("cpu", "cuda"):  # channels-last convolutions: 1.34x faster photo denoising on this CPU
            self.model.to(memory_format=torch.channels_last)
        self.config = config
        self.history = history or []
        self.color = color  # how a gray model cleans RGB: each channel, or in an opponent color space
        self.info = info or {}
        self.ensemble = ensemble
        self.precision = precision
        self.strength = check_strength(strength)
        self.color_strength = None if color_strength is None else check_strength(color_strength, "color strength")
        self.refine = refine
        self.wide = wide
        self.widened: bool | None = None  # whether the last image got the wide pass (this object's last call)

    @property
    def wide(self) -> bool | str:
        """Whether the wide pass runs (``wide.wide_pass``): True, False or "auto"; validated when set."""
        return self._wide

    @wide.setter
    def wide(self, on: bool | str) -> None:
        self._wide = checks.switch(on, "wide")

    @property
    def label(self) -> str:
        """The model's name and what it is for, as the CLI and the web page say which model they used."""
        name = self.info.get("name", "?")
        return f"{name} ({self.info['use']})" if self.info.get("use") else str(name)

    def _auto_rule(self, channels: int, wide: bool | str) -> AutoRule | None:
        """The rule `wide` = "auto" decides by, for an image of `channels` as the model sees it, or None. A colour
        model's only: a gray image given to one is judged on its luma alone (no colour noise adds to `level`), so it
        widens less readily (docs/benchmarks.md, twenty-ninth session: no row below one pass)."""
        if wide != AUTO or channels not in (1, 3) or self.in_channels != 3:
            return None
        return AutoRule.of(self.info)

    @property
    def refine(self) -> int:
        """Random-replacing refinement passes (0 = off); validated when set."""
        return self._refine

    @refine.setter
    def refine(self, n: int) -> None:
        self._refine = check_passes(n)

    @property
    def precision(self) -> str:
        """"auto", "fp32" or "bf16"; resolved for the device when set."""
        return self._precision

    @precision.setter
    def precision(self, name: str) -> None:
        self._compute = Precision.for_inference(self.device, name)
        self._precision = name

    @property
    def compute_dtype(self) -> torch.dtype:
        """What the precision resolved to on this device: torch.float32 or torch.bfloat16."""
        return self._compute.dtype or torch.float32

    @property
    def ensemble(self) -> int:
        """Copies averaged per input (1 = the plain model); validated when set, not on every tile."""
        return self._ensemble

    @ensemble.setter
    def ensemble(self, n: int) -> None:
        self._ensemble = check_size(n)

    @classmethod
    def load(cls, path: str | Path, device: str = "auto", which: str = "best", ensemble: int = 1,
             precision: str = "auto", strength: float = 1.0, color_strength: float | None = None,
             refine: int = 0, wide: bool | str = AUTO) -> "Denoiser":
        """Loads a shipped model by name (``daekit models``), a run folder (its best checkpoint) or a checkpoint file."""
        from .pretrained import find_pretrained

        shipped = find_pretrained(path)
        opts = dict(ensemble=ensemble, precision=precision, strength=strength, color_strength=color_strength, refine=refine,
                    wide=wide)
        if shipped is not None:
            ckpt = load_checkpoint(shipped.weights)
            den = cls(build_model(ckpt), config_from_dict(ckpt.config, f"model {shipped.name}"), device,
                      color=shipped.color, info=shipped.describe(), **opts)
        else:
            ckpt = load_checkpoint(find_checkpoint(path, which))
            den = cls(build_model(ckpt), config_from_dict(ckpt.config, f"checkpoint {path}"), device,
                      info={"name": str(path)}, **opts)
        if den.compute_dtype == torch.float32:  # its own copy, never trained further: BatchNorm folded (1.23x in fp32;
            fold_batchnorm(den.model)  # bf16 runs keep the layers, and the rounding, their figures were measured with)
        return den

    @classmethod
    def from_fit(cls, result: FitResult, precision: str = "auto") -> "Denoiser":
        """The best model of a ``fit`` run, on the device it was trained on, with its history."""
        return cls(result.model, result.config, next(result.model.parameters()).device, history=result.history,
                   precision=precision)

    @property
    def in_channels(self) -> int:
        return int(self.model.spec["in_channels"])

    def denoise_tensor(self, x: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
        """(B, C, H, W) float tensor in [0, 1] -> denoised tensor of the same shape, clamped to [0, 1].

        A grayscale model cleans each channel of a color image separately; a color model given a
        grayscale image sees it replicated to three channels and returns their mean.
        """
        if x.dim() != 4:
            raise DaekitError(f"expected a (B, C, H, W) tensor, got shape {tuple(x.shape)}")
        if not torch.isfinite(x).all():
            raise DaekitError("input contains NaN or infinite values")
        y = self._passes(lambda z: self._apply(z, batch_size), x)
        if self.refine:
            y = refined(lambda z: self._apply(z, batch_size).float(), x, y, self.refine)
        return y.clamp(0, 1)

    def _passes(self, run: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """One pass of `run` over the batch, or the wide pass: for all of it (wide=True), or, with "auto", for the
        images whose one pass the model's rule says need it."""
        if self.wide is True:
            self.widened = True
            return wide_pass(run, x)
        y = run(x)
        rule = self._auto_rule(x.shape[1], self.wide)
        if rule is None or min(x.shape[-2:]) < 3:
            self.widened = False
            return y

        def hwc(t: torch.Tensor) -> np.ndarray:
            return t.permute(1, 2, 0).float().numpy()

        on = [i for i in range(len(x)) if rule.wants(features([(hwc(x[i]), np.clip(hwc(y[i]), 0, 1))]))]
        if on:
            y = y.clone()
            y[on] = wide_pass(run, x[on]).to(y.dtype)
        self.widened = bool(on)
        return y

    def _apply(self, x: torch.Tensor, batch_size: int) -> torch.Tensor:
        """The model on a (B, C, H, W) batch, unclamped, matching channels: a grayscale model cleans each
        channel separately; a color model given gray sees it replicated and returns the mean."""
        from .tiling import model_geometry

        b, c, h, w = x.shape
        m = self.in_channels
        net = self.model if self.ensemble == 1 else SelfEnsemble(self.model, self.ensemble, model_geometry(self.model)[1])
        if c == m:
            return denoise_batches(net, x, batch_size, self._compute)
        if m == 1:
            return denoise_batches(net, x.reshape(b * c, 1, h, w), batch_size, self._compute).reshape(b, c, h, w)
        if c == 1:
            return denoise_batches(net, x.expand(b, m, h, w), batch_size, self._compute).mean(1, keepdim=True)
        raise DaekitError(f"model takes {m} channel(s); cannot denoise an image with {c}")

    def _run_crop(self, crop: np.ndarray) -> np.ndarray:
        """(h, w, C) float32 -> denoised (h, w, C) float32, unclamped (tiling blends raw outputs)."""
        t = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).unsqueeze(0)
        return self._apply(t, t.shape[1])[0].permute(1, 2, 0).numpy()

    def denoise_image(self, image: np.ndarray, tile: int | None = None, progress: bool = False) -> np.ndarray:
        """Denoises one float32 (H, W, C) image in [0, 1], tiled when it is larger than one tile.

        Args:
            image: The image (C = 1 or 3).
            tile: Tile side; None picks one from the free memory (``tiling.auto_tile_size``), 0 disables tiling.
            progress: Show a progress bar over tiles.
        """
        from .tiling import assemble_bands

        return assemble_bands(self.denoise_bands(image, tile, progress), image.shape)

    def denoise_bands(self, image: np.ndarray, tile: int | None = None, progress: bool = False,
                      strength: float | None = None, color_strength: float | None = None, *,
                      wide: bool | str | None = None, on_wide: Callable[[bool], None] | None = None):
        """Like ``denoise_image`` but yields (top row, rows) bands as they finish (for streaming writes).

        `strength` / `color_strength`: this call's blend (``blend``); None keeps the denoiser's own.
        `wide`: this call's wide pass (True, False or "auto"); None keeps the denoiser's own.
        `on_wide`: called once, before the first band, with whether the wide pass runs on this image.
        """
        from .tiling import assemble_bands

        if image.ndim != 3 or image.shape[2] not in (1, 3):
            raise DaekitError(f"expected an (H, W, 1) or (H, W, 3) image, got shape {image.shape}")
        # one gray image in three channels (``gray_tone``: each channel a gain and offset of their mean), for a gray
        # model: the mean cleaned once, each channel rebuilt from it, and what the fit leaves (a decoder's rounding)
        # put back, so nothing is lost
        tone = gray_tone(image) if image.shape[2] == 3 and self.in_channels == 1 else None
        gray = tone is not None
        mean = channel_mean(image.astype(np.float32, copy=False)) if gray else None
        opponent = self.color == "opponent" and image.shape[2] == 3 and self.in_channels == 1 and not gray
        x = mean if gray else to_opponent(image) if opponent else image
        if tile is not None:
            tile = checks.count(tile, "tile")
        wide = self.wide if wide is None else checks.switch(wide, "wide")

        def whole(z: np.ndarray) -> np.ndarray:
            return assemble_bands(self._raw_bands(z, tile, progress), z.shape)

        on, one = self._wide_for(x, whole, wide)
        self.widened = on
        if on_wide is not None:
            on_wide(on)
        if self.refine or on:  # every pass on the whole image: the result does not depend on the tiling
            first = wide_pass(whole, x) if on else one if one is not None else whole(x)
            bands = iter([(0, refined(whole, x, first, self.refine) if self.refine else first)])
        else:
            bands = iter([(0, one)]) if one is not None else self._raw_bands(x, tile, progress)
        for y0, band in bands:
            if gray:
                rows, m = image[y0 : y0 + band.shape[0]], mean[y0 : y0 + band.shape[0]]
                band = rows + tone[0] * (band - m)  # each channel moved by its gain times the change of the mean
            band = np.clip(from_opponent(band) if opponent else band, 0, 1)
            yield y0, blend(image[y0 : y0 + band.shape[0]], band, self.strength if strength is None else strength,
                            self.color_strength if strength is None and color_strength is None else color_strength)

    def _wide_for(self, x: np.ndarray, whole: Callable[[np.ndarray], np.ndarray],
                  wide: bool | str) -> tuple[bool, np.ndarray | None]:
        """Whether the wide pass (`wide`: True, False or "auto") runs on the image `x` (as the model sees it), and
        the one pass over all of it where "auto" needed that to decide (a photo of up to ``wide.WHOLE_PIXELS``:
        then it is the result when the answer is no); a larger photo is judged on a grid of windows
        (``wide.windows``)."""
        rule = self._auto_rule(x.shape[2], wide)
        h, w = x.shape[:2]
        if rule is None or min(h, w) < 3:
            return wide is True, None
        spots = windows(h, w)
        if len(spots) == 1:
            one = whole(x)
            return rule.wants(features([(x, np.clip(one, 0, 1))])), one
        crops = torch.from_numpy(np.stack([x[at] for at in spots])).permute(0, 3, 1, 2)  # equal squares: one batch
        outs = self._apply(crops, len(spots)).float().clamp(0, 1).permute(0, 2, 3, 1).numpy()
        return rule.wants(features([(x[at], o) for at, o in zip(spots, outs)])), None

    def _raw_bands(self, x: np.ndarray, tile: int | None, progress: bool):
        """(top row, rows) bands of the model's unclamped output on `x` (H, W, C), in tiles where it is large."""
        from .tiling import auto_tile_size, available_memory, model_geometry, smallest_tile, tiled_bands, untiled_bytes

        h, w = x.shape[:2]
        geometry = self.model.geometry
        if tile is None and geometry.tileable:
            tile = auto_tile_size(self.model, self.device, itemsize=self.compute_dtype.itemsize, image_shape=x.shape[:2])
        elif tile and geometry.tileable and tile < smallest_tile(self.model):
            raise DaekitError(f"tile {tile} is too small for this model: each tile also computes its context of "
                              f"{model_geometry(self.model)[0]} pixels a side; use at least {smallest_tile(self.model)} "
                              "(or leave the tile size to daekit)")
        if not tile or (h <= tile and w <= tile) or not geometry.tileable:
            need, free = untiled_bytes(self.model, h, w, self.compute_dtype.itemsize), available_memory(self.device)
            if need > 0.8 * free:
                raise DaekitError(f"a {w}x{h} image needs about {need / 2**30:.1f} GiB untiled and {free / 2**30:.1f} GiB "
                                  "are free; let daekit tile it (no --tile, or --tile 512)")
            return iter([(0, self._run_crop(x))])
        halo, multiple = model_geometry(self.model)
        # an exact receptive field makes exact tiles: they abut, with nothing to blend (an overlap of 16 only computed
        # those pixels twice: 3.5% of a 12 MP photo's time with 768-pixel tiles); U-Nets' tiles overlap and are blended
        overlap = 0 if geometry.receptive_field else max(16, halo // 2)
        return tiled_bands(self._run_crop, x, tile, overlap=overlap, halo=halo, multiple=multiple, progress=progress)

    def denoise(self, image: np.ndarray) -> np.ndarray:
        """Denoises one image (H, W) or (H, W, C), or a stack (N, H, W, C); uint8, uint16 or float in [0, 1].
        uint16 data of fewer bits (12-bit camera data) are scaled by their bit depth (``images.white_of``).

        Returns:
            An array of the same shape and dtype.
        """
        a = np.asarray(image)
        if a.ndim not in (2, 3, 4):
            raise DaekitError(f"expected an image (H, W), (H, W, C) or a stack (N, H, W, C); got shape {a.shape}")
        if a.ndim == 3 and a.shape[-1] not in (1, 3):
            raise DaekitError(f"expected 1 or 3 channels last, got shape {a.shape}")
        white = white_of(a)  # 12-bit data in uint16 are scaled by 4095, as `daekit denoise` reads them
        x = to_float(a) if white is None else a.astype(np.float32) / np.float32(white)
        if not np.isfinite(x).all():
            raise DaekitError("input contains NaN or infinite values")

        def back(y: np.ndarray) -> np.ndarray:  # the input's type (and bit depth, as a file's: ImageInfo)
            if a.dtype in (np.uint8, np.uint16):
                return from_float(ImageInfo(dtype=a.dtype, white=white).to_file_values(y), a.dtype)
            return y.astype(a.dtype if a.dtype.kind == "f" else np.float32)

        if a.ndim in (2, 3):  # one image: the tiled path (bounded memory, opponent color for photo-rgb)
            y = self.denoise_image(x[..., None] if a.ndim == 2 else x)
            y = y[..., 0] if a.ndim == 2 else y
            return back(y)
        stack = x[None, ..., None] if a.ndim == 2 else (x[None] if a.ndim == 3 else x)
        t = torch.from_numpy(np.ascontiguousarray(stack)).permute(0, 3, 1, 2)  # (N, C, H, W)
        y = self.denoise_tensor(t).permute(0, 2, 3, 1).numpy()  # (N, H, W, C)
        y = y[0, ..., 0] if a.ndim == 2 else (y[0] if a.ndim == 3 else y)
        return back(y)

    def denoise_file(self, src: str | Path, dst: str | Path, tile: int | None = None, progress: bool = False,
                     max_pixels: int | None = None) -> None:
        """Reads `src`, denoises it and writes `dst` with the same bit depth (and alpha channel).

        `max_pixels`: refuse larger images, from the header (``images.max_pixels``: default 268 Mpx).
        A large TIFF output without alpha is written band by band (``tiling.write_tiff_bands``).
        """
        img, info = read_image(src, max_pixels)
        self.write_denoised(img, info, dst, tile, progress)

    def write_denoised(self, img: np.ndarray, info: Any, dst: str | Path, tile: int | None = None, progress: bool = False,
                       *, strength: float | None = None, color_strength: float | None = None,
                       wide: bool | str | None = None, on_wide: Callable[[bool], None] | None = None,
                       on_band: Callable[[float], None] | None = None, stream: bool = True) -> np.ndarray | None:
        """Denoises an image read by ``images.read_image`` and writes it to `dst` like its input.

        Args:
            strength, color_strength: This call's blend; None keeps the denoiser's own.
            wide, on_wide: This call's wide pass, and who hears whether it ran (``denoise_bands``).
            on_band: Called with the fraction of rows done after each band (a progress bar, or a server
                job's progress; it may raise to stop the work).
            stream: Write a large TIFF without alpha band by band (bounded memory).

        Returns:
            The denoised image, or None when it was streamed to the file.
        """
        from .tiling import assemble_bands, write_tiff_bands

        bands = self.denoise_bands(img, tile, progress, strength, color_strength, wide=wide, on_wide=on_wide)
        if on_band is not None:
            bands = _reporting(bands, img.shape[0], on_band)
        if stream and Path(dst).suffix.lower() in (".tif", ".tiff") and info.alpha is None and img.shape[0] * img.shape[1] > STREAM_PIXELS:
            write_tiff_bands(dst, ((y0, info.to_file_values(b)) for y0, b in bands), img.shape, info.dtype)
            return None
        out = assemble_bands(bands, img.shape)
        write_image(dst, out, info)
        return out

    @staticmethod
    def corrupt(clean: torch.Tensor, noise: str, seed: int = 0) -> torch.Tensor:
        """The fixed corruption used for evaluation: a CPU generator seeded by (`seed`, test stream)."""
        return corrupt_fixed(parse_noise(noise), clean, derive_seed(seed, TEST))

    def evaluate(self, clean: torch.Tensor | list[torch.Tensor], noise: str, seed: int = 0) -> dict[str, Any]:
        """PSNR/SSIM of the noisy input and of the denoised output, mean over `clean`: one (N, C, H, W)
        batch, or a list of (1, C, H, W) images of different sizes (photo sets; each goes the tiled path).

        The corruption is ``Denoiser.corrupt(clean, noise, seed)``: fixed for a seed.
        """
        noisy = self.corrupt(clean, noise, seed)
        if isinstance(clean, list):  # whole photos: one at a time, in bounded memory
            pairs = [(c, n, torch.from_numpy(self.denoise_image(n[0].permute(1, 2, 0).numpy().astype(np.float32)))
                      .permute(2, 0, 1)[None]) for c, n in zip(clean, noisy)]
        else:  # the model sees what it saw in training (unclipped unless the spec clips)
            pairs = [(clean, noisy, self.denoise_tensor(noisy))]
        rows = [(psnr(n.clamp(0, 1), c), ssim(n.clamp(0, 1), c), psnr(o, c), ssim(o, c)) for c, n, o in pairs]
        mean = [float(torch.cat([r[k].reshape(-1) for r in rows]).mean()) for k in range(4)]
        return {"images": int(len(clean)), "noise": noise, "noisy_psnr": mean[0], "noisy_ssim": mean[1],
                "psnr": mean[2], "ssim": mean[3]}


def train(
    config: Config | dict[str, Any] | str | Path | None = None,
    *,
    sets: list[str] | None = None,
    data: ImageData | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> Denoiser:
    """Trains a model and returns it as a Denoiser (best validation weights).

    Args:
        config: A Config, a nested dict, or the path of a YAML/TOML/JSON file (None: defaults).
        sets: ``key=value`` overrides, e.g. ``["noise=masking:0.5", "train.epochs=20"]``.
        data: Pre-loaded data instead of ``config.data``.
        resume: Continue the run in ``config.out``.
        overwrite: Replace an existing run in ``config.out``.
        progress: Show progress bars.

    Example:
        >>> import daekit
        >>> dae = daekit.train(sets=["noise=gaussian:50", "train.epochs=30", "out=runs/digits"])
        >>> clean = dae.denoise(noisy_uint8_image)
    """
    if isinstance(config, Config):
        cfg = resolve_config(options=config_to_dict(config), sets=sets)
    elif isinstance(config, dict):
        cfg = resolve_config(options=config, sets=sets)
    else:
        cfg = resolve_config(file=config, sets=sets)
    result = fit(cfg, data=data, resume=resume, overwrite=overwrite, progress=progress)
    return Denoiser.from_fit(result)


def load(path: str | Path, device: str = "auto") -> Denoiser:
    """Loads a trained model from a run folder or a checkpoint file (offline; nothing is unpickled)."""
    return Denoiser.load(path, device)


def denoise_path(src: str | Path, dst: str | Path, pick: Callable[[np.ndarray], "Denoiser"], *, tile: int | None = None,
                 max_pixels: int | None = None, progress: bool = False, strength: float | None = None,
                 color_strength: float | None = None, wide: bool | str | None = None,
                 on_wide: Callable[[bool], None] | None = None, on_band: Callable[[float], None] | None = None,
                 stream: bool = True) -> tuple["Denoiser", np.ndarray, np.ndarray | None]:
    """One image file through a denoiser into `dst`: the path `daekit denoise` and `daekit serve` share.

    The image is read once (``images.read_image``: pixel limit from the header, bit depth, alpha,
    metadata); `pick` gets it and returns the denoiser (the shipped default for its channels, or the
    one named); the result is written like the input (``Denoiser.write_denoised``).

    Returns:
        (the denoiser used, the input image, the denoised image or None when streamed to `dst`).
    """
    img, info = read_image(src, max_pixels)
    den = pick(img)
    out = den.write_denoised(img, info, dst, tile, progress, strength=strength, color_strength=color_strength,
                             wide=wide, on_wide=on_wide, on_band=on_band, stream=stream)
    return den, img, out


def denoise_stack(src: str | Path, dst: str | Path, pick: Callable[[np.ndarray], "Denoiser"], *, tile: int | None = None,
                  max_pixels: int | None = None, progress: bool = False,
                  on_wide: Callable[[bool], None] | None = None) -> "Denoiser":
    """Every page of a TIFF stack (``images.image_count`` > 1: a microscope's time series or z-stack) through one
    denoiser, picked by `pick` from the first page, into the TIFF stack `dst`, page by page (memory: one page).

    Each page is cleaned on its own, as a file of that one image would be, and written back with its bit
    depth, value range and alpha; `dst` appears whole or not at all (``images.write_tiff_stack``). `on_wide` hears,
    page by page, whether the wide pass ran.

    Returns:
        The denoiser used.
    """
    from tqdm.auto import tqdm

    from .images import image_count, read_tiff_stack, write_tiff_stack
    from .tiling import assemble_bands

    n = image_count(src)
    if Path(dst).suffix.lower() not in (".tif", ".tiff"):
        raise DaekitError(f"{src} holds {n} images (TIFF pages); name a .tif output to keep them all (e.g. -o clean.tif)")
    used: list[Denoiser] = []

    def cleaned():
        for img, info in tqdm(read_tiff_stack(src, max_pixels), total=n, desc="pages", unit="page", disable=not progress):
            if not used:
                used.append(pick(img))
            yield assemble_bands(used[0].denoise_bands(img, tile, on_wide=on_wide), img.shape), info

    write_tiff_stack(dst, cleaned())
    return used[0]


def denoise_files(
    inputs: str | Path | list[str | Path],
    output: str | Path,
    model: str | None = None,
    *,
    overwrite: bool = False,
    tile: int | None = None,
    max_pixels: int | None = None,
    device: str = "auto",
    ensemble: int = 1,
    precision: str = "auto",
    strength: float = 1.0,
    color_strength: float | None = None,
    refine: int = 0,
    wide: bool | str = AUTO,
    progress: bool = True,
) -> dict[str, Any]:
    """``daekit denoise`` as a function: image files and folders into `output` (a file or a folder).

    Outputs are planned and checked first (``images.plan_outputs``), then each image is read once; with
    no `model`, the image picks the shipped default (``pretrained.default_for_image``, as the server does: the
    gray model for a gray image with white noise, also in an RGB file whose three channels are one gray image;
    photo-real for colour photos and for gray ones with a camera's noise).

    Returns:
        {"outputs": [paths written], "target": the file or folder named, "models": {label: [seconds per image]},
        "notes": [lines for the user, e.g. a colour model named for a gray image]}.
    """
    from tqdm.auto import tqdm

    from .images import WITHOUT_ALPHA, has_alpha, plan_outputs, tiff_pages
    from .pretrained import default_for, default_for_image, find_pretrained
    from .runtime import check_precision, native_bf16

    pairs, single = plan_outputs([inputs] if isinstance(inputs, (str, Path)) else list(inputs), output, overwrite)
    check_size(ensemble)
    check_passes(refine)
    checks.switch(wide, "wide")
    check_precision(precision)
    check_strength(strength)
    if color_strength is not None:
        check_strength(color_strength, "--color-strength")
    cache: dict[str, Denoiser] = {}
    notes: list[str] = []

    def model_for(name: str) -> Denoiser:
        if name not in cache:
            cache[name] = Denoiser.load(name, device=device, ensemble=ensemble, precision=precision,
                                        strength=strength, color_strength=color_strength, refine=refine, wide=wide)
            kind = cache[name].device.type
            if precision == "bf16" and len(cache) == 1 and not native_bf16(cache[name].device):
                what = "this CPU has no bf16 units (AMX or AVX512-BF16)" if kind == "cpu" else f"this {kind} device has no native bf16"
                notes.append(f"{what}: --precision bf16 ran emulated, several times slower than fp32 (which --precision "
                             "auto picks here)")
        return cache[name]

    if model is not None:
        model_for(model)  # a bad model fails before any work
    used: dict[str, list[float]] = {}
    shipped = model is not None and find_pretrained(model) is not None

    def pick(src: Path, img: np.ndarray) -> Denoiser:  # its channels pick the default model
        if model is None:
            return model_for(default_for_image(img))
        den = model_for(model)
        if shipped and den.in_channels == 3 and len(notes) < 3 and default_for_image(img) == default_for(1):
            # a gray image with white noise (measured on the shipped models; a camera's noise they do clean)
            notes.append(f"{src} is a black-and-white image (gray or toned) with white noise and {den.info.get('name', model)} "
                         f"a colour model, which leaves such noise in place; {default_for(1)} (the default for it) cleans it")
        return den

    for src, dst in tqdm(pairs, desc="denoising", unit="image", disable=not progress or len(pairs) < 2):
        t0, widened = time.perf_counter(), []
        if dst.suffix.lower() in WITHOUT_ALPHA and len(notes) < 3 and has_alpha(src):
            notes.append(f"{src} has transparency, which {dst.suffix} files cannot hold: {dst} is flattened onto white "
                         "(name a .png or .tif output to keep it)")
        pages, others = tiff_pages(src) if src.suffix.lower() in (".tif", ".tiff") else (1, 0)
        if others and len(notes) < 3:  # pages of other sizes are not read
            notes.append(f"{src} also holds {others} page(s) of another size than its first (previews, or other images): "
                         f"{'only its first page is' if pages == 1 else f'only the {pages} pages of its size are'} cleaned; "
                         "save the others as files of their own to clean them")
        if pages > 1:  # a stack: every page, into one TIFF
            den = denoise_stack(src, dst, lambda img, src=src: pick(src, img), tile=tile, max_pixels=max_pixels,
                                progress=progress and len(pairs) == 1, on_wide=widened.append)
        else:
            den, _, _ = denoise_path(src, dst, lambda img, src=src: pick(src, img), tile=tile, max_pixels=max_pixels,
                                     progress=progress and len(pairs) == 1, on_wide=widened.append)  # read once
        label = den.label + wide_note(widened)
        used.setdefault(label, []).append(time.perf_counter() - t0)
    return {"outputs": [str(d) for _, d in pairs], "target": str(pairs[0][1] if single else Path(output)), "models": used,
            "notes": notes}


def wide_note(widened: list[bool]) -> str:
    """What a label adds for an image that got the wide pass (`widened`: one answer per image or page)."""
    n = sum(widened)
    if not n:
        return ""
    return " with the wide pass" + ("" if n == len(widened) else f" on {n} of {len(widened)} pages")


def _folder_images(denoiser: Denoiser, root: Path, limit: int | None) -> list[torch.Tensor]:
    """Every image of a folder (the first `limit`), whole, with the channels the model takes."""
    from .data.folder import ImageFolder, whole_images
    from .images import decode_image, find_images

    if not root.is_dir():
        raise DaekitError(f"image folder not found: {root}")
    paths = find_images([root])[:limit]
    if denoiser.in_channels == 3:
        channels = 3
    elif denoiser.color == "opponent":  # photo-rgb: gray or colour, as the photos are
        channels = decode_image(paths[0])[0].shape[2]
    else:
        channels = 1
    return whole_images(ImageFolder(paths, channels, 0), list(range(len(paths))), crop=None)


def evaluate_on(
    denoiser: Denoiser,
    data: str | None = None,
    data_dir: str | None = None,
    noise: str | None = None,
    split: str = "test",
    seed: int = 0,
    limit: int | None = None,
) -> dict[str, Any]:
    """Evaluates `denoiser` on a data set split (default: the data and noise it was trained with).

    A folder of photos (``images``, ``set12``, ``bsd68``, ...) is a test set as a whole: its "test" split
    is every image in it, uncropped; "val" is the validation split training held out of it.
    """
    from .data import FOLDER_SETS, resolve_data_dir

    cfg = denoiser.config
    name = data or cfg.data.name
    if split not in ("test", "val"):
        raise DaekitError(f"unknown split {split!r}; use test or val")
    limit = None if limit is None else checks.positive(limit, "limit")
    seed = checks.seed(seed)
    # the noise the model learned to remove: with data.noisy_once, the data's own (the run's `noise` is then often none)
    noise = noise or (cfg.data.noisy_once if cfg.data.noisy_once and cfg.noise == "none" else cfg.noise)
    own = name == cfg.data.name
    if own and not data_dir and cfg.data.bursts:
        raise DaekitError("this run's bursts are noisy shots with no clean reference, and PSNR needs one: evaluate on a "
                          "folder of clean images with --data images --data-dir DIR --noise SPEC")
    if noise == "none" and (cfg.train.target != "clean" or cfg.data.bursts):
        raise DaekitError("this run learned from noisy images (noise none): say which noise to add to clean test images, "
                          "e.g. --noise gaussian:25, and where they are (--data images --data-dir DIR)")
    folder = data_dir if data_dir else (cfg.data.dir if own else None)
    if name in FOLDER_SETS and split == "test":
        clean = _folder_images(denoiser, resolve_data_dir(name, folder), limit)
    else:
        # the model's own data as it was split for training; another set at the size and channels it was trained on
        ds = load_configured(dataclasses.replace(cfg.data, name=name, dir=folder, download=False, noisy_once=None,
                                                 noisy_copies=1, bursts=False, limit=cfg.data.limit if own else None), cfg.seed)
        clean = ds.test if split == "test" else ds.val
    if limit:
        clean = clean[:limit]
    if len(clean) == 0:
        raise DaekitError(f"{name} has no {split} images to evaluate on")
    res = denoiser.evaluate(clean, noise, seed)
    return {"data": name, "split": split, **res}
