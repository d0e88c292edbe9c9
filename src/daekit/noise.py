"""Corruption models: seeded, composable noise applied to batches on any device, and the spec syntax.

A noise model is an ``nn.Module`` whose parameters live in buffers (so ``.to(device)`` moves them)
and whose ``forward(x, generator)`` draws every random number from the explicit ``torch.Generator``:
the same seed gives the same corruption. Data are assumed to lie in ``data_range`` (default [0, 1]).

Spec syntax (CLI and config files)::

    none                      no corruption (a plain compression autoencoder)
    masking:0.3               30% of the values set to 0 (masking noise, Vincent et al. 2008)
    salt-and-pepper:0.2       20% of the values set to the range's min or max (half each)
    gaussian:25               additive N(0, sigma), sigma on the 0-255 scale (25 -> 25/255 for [0, 1])
    poisson:30                shot noise with a peak of 30 photons at the maximum intensity
    speckle:0.2               multiplicative: x + x * N(0, 0.2)
    gaussian:0..55            a range: each image draws its own sigma uniformly in [0, 55] (blind training)
    gaussian-gray:25          the same noise in every channel (luma only: a gray photo saved as RGB)
    gaussian:25+masking:0.1   composition, applied left to right
    gaussian:102+clip         ``clip`` clamps to the data range at that point of the chain
    camera                    a camera's noise: shot + read noise on a Bayer mosaic at ISO 200..25600,
                              demosaicked, colour-processed, tone-mapped and smoothed as cameras do (camera.py)
    camera:iso=3200,jpeg=70..95   named parameters (one value or a range), comma-separated
    jpeg:75                   JPEG compression at quality 75 (jpeg:60..95: drawn per image)
    camera|gaussian:0..50     a choice: each image gets one of the alternatives, drawn with equal odds

The Keras denoising tutorial's ``noise_factor=0.4`` (std 0.4 on [0, 1] data, then clipped) is
``gaussian:102+clip`` (0.4 * 255 = 102).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .camera import CAMERA_PARAMS, Param, camera_noise, jpeg_compress
from .errors import DaekitError
from .registry import Registry

NOISE: Registry[type["Noise"]] = Registry("noise model")


@dataclass(frozen=True)
class NoiseInfo:
    """How a noise model's one parameter reads on the command line."""

    param: str | None  # name of its single numeric parameter, None if it takes none
    unit: str
    low: float  # inclusive lower bound of the parameter
    high: float  # inclusive upper bound (math.inf for none)
    help: str


class Noise(nn.Module):
    """Base class: ``forward(x, generator)`` returns a corrupted copy of ``x`` (never in place)."""

    name: str = ""
    info: NoiseInfo

    def __init__(
        self, value: float | tuple[float, float] | None = None, data_range: tuple[float, float] = (0.0, 1.0)
    ) -> None:
        super().__init__()
        info = self.info
        self.range: tuple[float, float] | None = None
        if info.param is None:
            if value is not None:
                raise DaekitError(f"noise {self.name!r} takes no parameter, got {value!r}")
        else:
            if value is None:
                raise DaekitError(f"noise {self.name!r} needs a {info.param} ({info.unit}), e.g. '{self.name}:{_example(info)}'")
            ends = _checked_ends(self.name, info.param, info.low, info.high, value)
            if len(ends) == 2:
                self.range = (ends[0], ends[1])
            value = ends[-1]  # the strongest level of a range
        self.value = value
        lo, hi = float(data_range[0]), float(data_range[1])
        if not hi > lo:
            raise DaekitError(f"noise data range must have low < high, got ({lo:g}, {hi:g})")
        self.register_buffer("low", torch.tensor(lo), persistent=False)
        self.register_buffer("high", torch.tensor(hi), persistent=False)

    @property
    def spec(self) -> str:
        """The spec string that rebuilds this model (``str(noise)`` gives the same)."""
        if self.range is not None:
            return f"{self.name}:{self.range[0]:g}..{self.range[1]:g}"
        return self.name if self.value is None else f"{self.name}:{self.value:g}"

    def level(self, x: torch.Tensor, generator: torch.Generator | None) -> float | torch.Tensor:
        """The parameter for batch `x`: the fixed value, or one uniform draw per image (B, 1, ..., 1) for a range."""
        if self.range is None:
            return self.value
        lo, hi = self.range
        u = torch.rand((x.shape[0],) + (1,) * (x.dim() - 1), generator=generator, device=x.device, dtype=x.dtype)
        return lo + (hi - lo) * u

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.spec

    def extra_repr(self) -> str:
        return self.spec

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError


def _checked_ends(noise: str, param: str, low: float, high: float, value: float | tuple[float, float] | list[float]) -> tuple[float, ...]:
    """`value` (one number or a range LOW..HIGH) as a tuple of floats, each finite and in [low, high], a range
    running from low to high; else DaekitError naming the noise and the parameter."""
    ends = tuple(float(v) for v in value) if isinstance(value, (tuple, list)) else (float(value),)
    for v in ends:
        if not math.isfinite(v) or not (low <= v <= high):
            bound = f"a finite number >= {low:g}" if math.isinf(high) else f"in [{low:g}, {high:g}]"
            raise DaekitError(f"noise {noise!r}: {param} must be {bound}, got {v:g}")
    if len(ends) == 2 and ends[0] > ends[1]:
        raise DaekitError(f"noise {noise!r}: range {ends[0]:g}..{ends[1]:g} must run from low to high")
    return ends


def _example(info: NoiseInfo) -> str:
    return "0.3" if info.high == 1.0 else "25"


def _rand(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)


def _randn(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


@NOISE.register("none")
class Identity(Noise):
    name = "none"
    info = NoiseInfo(None, "", 0, 0, "no corruption: trains a plain compression autoencoder")

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return x.clone()


@NOISE.register("masking")
class Masking(Noise):
    name = "masking"
    info = NoiseInfo("fraction", "fraction of values set to 0", 0.0, 1.0, "masking noise (Vincent et al.)")

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        f = self.level(x, generator)
        keep = _rand(x, generator) >= f
        return x * keep


@NOISE.register("salt-and-pepper")
class SaltAndPepper(Noise):
    name = "salt-and-pepper"
    info = NoiseInfo("fraction", "fraction of values set to min/max", 0.0, 1.0, "impulse noise, half salt, half pepper")

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        f = self.level(x, generator)
        u = _rand(x, generator)  # one draw decides both whether and which way: u < f/2 pepper, f/2 <= u < f salt
        out = torch.where(u < f / 2, self.low.to(x.dtype), x)
        return torch.where((u >= f / 2) & (u < f), self.high.to(x.dtype), out)


@NOISE.register("gaussian")
class Gaussian(Noise):
    name = "gaussian"
    info = NoiseInfo("sigma", "std on the 0-255 scale", 0.0, math.inf, "additive white Gaussian noise")

    def __init__(self, value: float | tuple[float, float] | None = None, data_range: tuple[float, float] = (0.0, 1.0)) -> None:
        super().__init__(value, data_range)
        if 0 < float(self.value) < 1:  # under one grey level: a fraction of the range was meant
            raise DaekitError(f"noise {self.name!r}: sigma is on the 0-255 scale, so {self.value:g} is invisible; "
                              f"for {self.value:g} of the range write {self.name}:{255 * float(self.value):g}")

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        std = self.level(x, generator) / 255.0 * (self.high - self.low).to(x.dtype)
        return x + self._unit(x, generator) * std

    def _unit(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """The unit-variance noise added (scaled by sigma): one draw per value."""
        return _randn(x, generator)


@NOISE.register("gaussian-gray")
class GaussianGray(Gaussian):
    """White Gaussian noise drawn once per pixel and added to every channel alike: noise in the luma alone.

    What a black-and-white photo saved as RGB carries, and nearly what a camera leaves after strong colour
    noise reduction (PolyU's real noise is 74% luma). A colour model trained only on noise that differs
    between channels takes it for detail (docs/benchmarks.md: photo-color gains +0.6 dB on it where white
    noise of the same std gains +7.8), so a colour recipe mixes it in. On gray images it is ``gaussian``."""

    name = "gaussian-gray"
    info = NoiseInfo("sigma", "std on the 0-255 scale", 0.0, math.inf,
                     "additive white Gaussian noise, the same in every channel (luma only; as gaussian on gray images)")

    def _unit(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """One draw per pixel, broadcast over the channels."""
        return torch.randn((x.shape[0], 1, *x.shape[2:]), generator=generator, device=x.device, dtype=x.dtype)


@NOISE.register("poisson")
class Poisson(Noise):
    name = "poisson"
    info = NoiseInfo("peak", "photons at the maximum intensity", 1e-6, math.inf, "shot noise; lower peak = noisier")

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        span = self.high - self.low
        peak = self.level(x, generator)
        rate = ((x - self.low) / span).clamp_min(0) * peak
        counts = torch.poisson(rate.float(), generator=generator).to(x.dtype)
        return counts / peak * span + self.low


@NOISE.register("speckle")
class Speckle(Noise):
    name = "speckle"
    info = NoiseInfo("sigma", "std of the multiplicative factor", 0.0, math.inf, "multiplicative: x + x * N(0, sigma)")

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return x + x * _randn(x, generator) * self.level(x, generator)


@NOISE.register("clip")
class Clip(Noise):
    name = "clip"
    info = NoiseInfo(None, "", 0, 0, "clamp to the data range (put it after the noise it clips)")

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.minimum(torch.maximum(x, self.low.to(x.dtype)), self.high.to(x.dtype))


@NOISE.register("jpeg")
class JPEG(Noise):
    name = "jpeg"
    info = NoiseInfo("quality", "JPEG quality, 1-100", 1.0, 100.0, "JPEG compression artefacts (4:2:0 chroma, IJG tables)")

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        q = self.level(x, generator)
        q = torch.round(q.reshape(-1)) if isinstance(q, torch.Tensor) else q
        span = self.high - self.low
        if x.shape[1] not in (1, 3):
            raise DaekitError(f"noise 'jpeg' needs gray or RGB images, got {x.shape[1]} channels")
        return jpeg_compress(((x - self.low) / span).clamp(0, 1), q) * span + self.low


@NOISE.register("camera")
class Camera(Noise):
    """A camera's sRGB noise from a clean image (camera.py); named parameters ``iso``, ``nr``, ``chroma``, ``flat``, ``jpeg``."""

    name = "camera"
    info = NoiseInfo(None, "", 0, 0, "a camera's noise: shot+read noise on a Bayer mosaic, demosaicked, "
                     "colour-processed, optional JPEG (camera:iso=200..25600,nr=0..0.8,chroma=0..6,flat=0,jpeg=0)")
    params_info: dict[str, Param] = CAMERA_PARAMS

    def __init__(self, value: float | tuple[float, float] | None = None, data_range: tuple[float, float] = (0.0, 1.0),
                 **params: float | tuple[float, float]) -> None:
        super().__init__(value, data_range)
        self.given = {}
        for key, v in params.items():
            if key not in self.params_info:
                raise DaekitError(f"noise 'camera': unknown parameter {key!r}; known: {', '.join(self.params_info)}")
            p = self.params_info[key]
            ends = _checked_ends(self.name, key, p.low, p.high, v)
            ends = (ends[0], ends[-1])  # one value is the range value..value
            if key == "jpeg" and ends[0] < 1 <= ends[1]:
                raise DaekitError("noise 'camera': jpeg is a quality 1..100, or 0 for none; a range cannot span both")
            self.given[key] = ends
        self.params = {k: self.given.get(k, p.default) for k, p in self.params_info.items()}

    @property
    def spec(self) -> str:
        def fmt(ends: tuple[float, float]) -> str:
            return f"{ends[0]:g}" if ends[0] == ends[1] else f"{ends[0]:g}..{ends[1]:g}"

        return self.name + ("" if not self.given else ":" + ",".join(f"{k}={fmt(v)}" for k, v in self.given.items()))

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        span = self.high - self.low
        return camera_noise(((x - self.low) / span).clamp(0, 1), self.params, generator) * span + self.low


class _Combination(Noise):
    """Several noise models joined by `sep` in the spec (their parts in ``self.parts``), one generator for all."""

    sep = ""

    def __init__(self, parts: list[Noise]) -> None:
        nn.Module.__init__(self)
        self.value, self.range = None, None
        self.parts = nn.ModuleList(parts)

    @property
    def spec(self) -> str:
        return self.sep.join(p.spec for p in self.parts)


class Compose(_Combination):
    """Applies several noise models left to right, all drawing from the same generator."""

    name, sep = "compose", "+"
    info = NoiseInfo(None, "", 0, 0, "composition")

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        for part in self.parts:
            x = part(x, generator)
        return x


class Choice(_Combination):
    """Each image of a batch gets one of several noise models (equal odds), all drawing from one generator.

    Every alternative corrupts the whole batch and each image keeps its draw's row: the result for an
    image depends only on the generator, never on which other images share its batch's alternative.
    """

    name, sep = "choice", "|"
    info = NoiseInfo(None, "", 0, 0, "choice")

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        pick = torch.randint(0, len(self.parts), (x.shape[0],), generator=generator, device=x.device)
        out = x.clone()
        for i, option in enumerate(self.parts):
            y = option(x, generator)
            out = torch.where((pick == i).view(-1, *([1] * (x.dim() - 1))), y, out)
        return out


def _number(term: str, raw: str, info: NoiseInfo | None = None) -> float | tuple[float, float]:
    """A value or a range LOW..HIGH; for a fraction (bounds 0 and 1) also a percentage: 30%, 10%..70%."""
    ends = raw.split("..") if ".." in raw else [raw]
    percent = [e.endswith("%") for e in ends]
    if any(percent):
        if info is None or (info.low, info.high) != (0.0, 1.0):
            what = f"{info.param} ({info.unit})" if info is not None and info.param else "value"
            raise DaekitError(f"bad noise spec {term!r}: a percentage is a share of the values, for fractions such as "
                              f"masking:30%; this {what} is not one")
        if not all(percent):
            raise DaekitError(f"bad noise spec {term!r}: give both ends of the range as percentages, e.g. 10%..70%")
    try:
        values = [float(e.removesuffix("%")) / (100.0 if p else 1.0) for e, p in zip(ends, percent)]
    except ValueError:
        raise DaekitError(f"bad noise spec {term!r}: {raw!r} is not a number or a range LOW..HIGH") from None
    if len(values) > 2:
        raise DaekitError(f"bad noise spec {term!r}: {raw!r} is not a number or a range LOW..HIGH")
    return (values[0], values[1]) if len(values) == 2 else values[0]


def _parse_term(term: str, data_range: tuple[float, float]) -> Noise:
    name, sep, raw = term.partition(":")
    cls = NOISE.get(name.lower())
    if sep and "=" in raw:  # named parameters: camera:iso=3200,jpeg=70..95
        if not hasattr(cls, "params_info"):
            raise DaekitError(f"bad noise spec {term!r}: {name!r} takes one value (e.g. '{name}:{_example(cls.info)}'), not key=value")
        named = {}
        for item in raw.split(","):
            key, eq, val = item.partition("=")
            if not eq or not key:
                raise DaekitError(f"bad noise spec {term!r}: {item!r} is not key=value")
            named[key.lower()] = _number(term, val)
        return cls(None, data_range=data_range, **named)
    if sep and hasattr(cls, "params_info"):
        raise DaekitError(f"bad noise spec {term!r}: {name!r} takes named parameters key=value "
                          f"({', '.join(cls.params_info)}), e.g. '{name}:iso=3200,jpeg=70..95'")
    return cls(_number(term, raw, cls.info) if sep else None, data_range=data_range)


def parse_noise(spec: str, data_range: tuple[float, float] = (0.0, 1.0)) -> Noise:
    """Builds a noise model from a spec such as ``"gaussian:25+masking:0.1"``.

    Args:
        spec: The spec string (see the module docstring).
        data_range: (min, max) of the clean data.

    Raises:
        DaekitError: unknown name, missing or malformed value, value out of range.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise DaekitError(f"empty noise spec {spec!r}; use e.g. 'gaussian:25', 'masking:0.3' or 'none'")
    options: list[Noise] = []
    for option in spec.replace(" ", "").split("|"):
        if not option:
            raise DaekitError(f"bad noise spec {spec!r}: empty alternative around '|'")
        parts: list[Noise] = []
        for term in option.split("+"):
            if not term:
                raise DaekitError(f"bad noise spec {spec!r}: empty term around '+'")
            parts.append(_parse_term(term, data_range))
        if len(parts) > 1 and any(isinstance(p, Identity) for p in parts):
            raise DaekitError(f"bad noise spec {spec!r}: 'none' cannot be combined with other noise")
        options.append(parts[0] if len(parts) == 1 else Compose(parts))
    return options[0] if len(options) == 1 else Choice(options)


def parse_sweep(spec: str) -> list[str]:
    """``"masking:0.1,0.3"`` -> ``["masking:0.1", "masking:0.3"]``, each checked against its noise model's range."""
    name, sep, values = spec.partition(":")
    if not sep or not values:
        raise DaekitError(f"bad sweep {spec!r}: use NAME:V1,V2,... e.g. masking:0.1,0.3,0.5")
    levels = [f"{name}:{v.strip()}" for v in values.split(",") if v.strip()]
    for level in levels:
        try:
            parse_noise(level)
        except DaekitError as e:
            raise DaekitError(f"sweep {spec!r} is outside the noise model's range: {e}") from None
    return levels


def make_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A generator on `device` seeded with `seed` (corruption must draw on the tensor's device)."""
    g = torch.Generator(device=torch.device(device))
    g.manual_seed(int(seed))
    return g


def describe_noise() -> list[tuple[str, str, str]]:
    """(name, parameter and unit, description) for every registered noise model, for ``daekit list``."""
    rows = []
    for name in NOISE:
        info = NOISE.get(name).info
        param = f"{info.param}: {info.unit}" if info.param else "-"
        rows.append((name, param, info.help))
    return rows
