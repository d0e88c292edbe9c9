"""Run configuration: plain dataclasses validated on construction, round-tripped to YAML/TOML/JSON.

Precedence: defaults < config file < command-line options < ``--set key=value`` overrides.
"""
from __future__ import annotations

import dataclasses
import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import yaml
from pydantic import AfterValidator, ConfigDict, Field, ValidationError
from pydantic.dataclasses import dataclass

from .errors import DaekitError
from .noise import parse_noise, parse_sweep

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)  # NaN and inf are never a setting


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``3e-4`` as a float (YAML 1.1 wants ``3.0e-4``; people write both)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def _yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def _valid(check: Any) -> Any:
    """A pydantic check from a daekit parser: its DaekitError becomes the field's one-line message."""

    def run(value: Any) -> Any:
        try:
            check(value)
        except DaekitError as e:
            raise ValueError(str(e)) from None
        return value

    return AfterValidator(run)


# A noise spec is checked once, where it enters (here); the layers below build it without re-checking
NoiseSpec = Annotated[str, _valid(parse_noise)]
# one spec for every layer, or one level per layer: masking:0.1,0.2,0.3
LayerNoiseSpec = Annotated[str, _valid(lambda v: parse_sweep(v) if "," in v else parse_noise(v))]


@dataclass(config=_STRICT)
class DataConfig:
    name: str = "digits28"  # a registered data set (`daekit list`); digits28: embedded 28x28 MNIST-type digits
    dir: Optional[str] = None  # folder of its files; default $DAEKIT_DATA/<name>
    val_fraction: float = Field(0.1, ge=0.0, lt=1.0)  # held out from train, fixed by the seed
    limit: Optional[int] = Field(None, ge=2)  # keep at most this many training images
    resize: Optional[int] = Field(None, ge=4)  # resize to resize x resize at load time
    download: bool = False  # fetch missing IDX files (needs a network)
    # image folders (data "images", "bsd400", ...): random patches per epoch, whole validation images
    channels: Optional[int] = Field(None, ge=1, le=3)  # 1 gray, 3 RGB; default: the first image's
    patch_size: int = Field(64, ge=8)
    patches_per_epoch: Optional[int] = Field(None, ge=1)  # null: 256 per image, 2,048..12,800 (51,200 on a GPU)
    cache_mb: int = Field(2048, ge=0)  # decoded images kept in memory; a folder that fits is held whole
    workers: int = Field(0, ge=0)  # loader processes for folders that do not fit in memory
    # corrupt every training and validation image once, at load time, with this noise (a fixed draw per
    # image): the data set then holds noisy images only, as a folder of someone's noisy photos does. For
    # measuring training without clean images (train.target) on data that has references; test sets stay clean.
    noisy_once: Optional[NoiseSpec] = None
    # with noisy_once: this many independent noisy copies of each image (2: the Noise2Noise protocol's pairs)
    noisy_copies: int = Field(1, ge=1, le=8)
    # image folders: each subfolder is one scene holding two or more registered noisy shots of it (a burst,
    # e.g. frames of a microscope time series of a still sample): train.target noise2noise learns one from another
    bursts: bool = False
    # image folders: each training patch enlarged by a factor drawn log-uniformly from [1, zoom] (bicubic) before
    # the noise; 1 = as they are. Photos from cameras and phones, at full resolution, are much smoother per pixel
    # than the BSDS scans (PolyU's references have the spectrum of CBSD432 enlarged ~3x): a model that never saw
    # such content takes their fine noise for detail (folder.zoom_patches)
    zoom: float = Field(1.0, ge=1.0, le=8.0)
    # with data.zoom: the share of the training patches that are enlarged; the others stay as they are (scale 1),
    # so that a model for camera-scale photos still sees scans' fine detail and grain (1 = every patch)
    zoom_share: float = Field(1.0, gt=0.0, le=1.0)


@dataclass(config=_STRICT)
class ModelConfig:
    name: str = "conv"  # a registered model (`daekit list`)
    args: dict[str, Any] = dataclasses.field(default_factory=dict)  # the architecture's own arguments


@dataclass(config=_STRICT)
class TrainConfig:
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(32, ge=1)  # small batches, many steps: the embedded digits train in a few epochs
    lr: float = Field(1e-3, gt=0.0)
    optimizer: Literal["adam", "adamw"] = "adam"
    weight_decay: float = Field(0.0, ge=0.0)
    # what the model learns to output: the clean image; another noisy copy (Noise2Noise); its own hidden
    # pixels (blind-spot, Noise2Void-style); a neighbouring sub-image of the same noisy image (neighbor2neighbor):
    # the last three never need a clean image (daekit.targets)
    target: Literal["clean", "noise2noise", "blind-spot", "neighbor2neighbor"] = "clean"
    mask_fraction: float = Field(0.03, gt=0.0, le=0.5)  # blind-spot: share of the pixels hidden in each image
    # blind-spot: a hidden pixel's stand-in, a random other pixel of its 5x5 neighbourhood (Noise2Void) or
    # the neighbourhood's median (N2V2; with a unet of pool: blur, top_skip: false, against checkerboards)
    mask_fill: Literal["neighbour", "median"] = "neighbour"
    # neighbor2neighbor: the final weight of its regulariser (ramped up from 0 over the epochs; 2 as published)
    neighbour_gamma: float = Field(2.0, ge=0.0, le=100.0)
    # auto: bce for a model with a [0, 1] (sigmoid) output, else mse; psnr: minus the mean per-patch PSNR (every
    # patch alike, where mse lets the noisiest dominate: train.psnr_loss)
    loss: Literal["auto", "mse", "bce", "l1", "psnr"] = "auto"
    schedule: Literal["none", "cosine", "step", "plateau"] = "cosine"
    warmup_epochs: int = Field(0, ge=0)
    patience: Optional[int] = Field(None, ge=1)  # early stopping: epochs without a better val PSNR
    device: str = "auto"  # auto, cpu, cuda, cuda:N, mps
    amp: bool = True  # mixed precision (CUDA only; bf16 where supported, else fp16 with loss scaling)
    cpu_bf16: bool = False  # bf16 autocast on the CPU too (~1.8x faster on CPUs with AMX / AVX-512-BF16; fp32, with a warning, on others)
    channels_last: bool = True  # NHWC memory layout for convolutions (CUDA and CPU: 1.2-1.3x faster training on oneDNN)
    compile: bool = False  # torch.compile the training model (pays a compile time once; best on GPUs)
    val_batch_size: int = Field(1024, ge=1)
    # a resumable checkpoint within an epoch every this many minutes (0: at the end of each epoch only),
    # so a kill loses minutes, not an epoch; Ctrl-C and SIGTERM also save one before stopping
    checkpoint_minutes: float = Field(10.0, ge=0.0)
    # start from trained weights (fine-tuning): a shipped model name, a run folder or a checkpoint file;
    # its architecture must be the one `model` describes. Ignored on --resume (the run's own weights win).
    init: Optional[str] = None


@dataclass(config=_STRICT)
class StackConfig:
    """`daekit stack`: a stacked DAE's layers, corruption and the two phases (its data, seed and run
    folder are the config's ``data``, ``seed`` and ``out``)."""

    layers: list[Annotated[int, Field(ge=1, le=1 << 16)]] = dataclasses.field(default_factory=lambda: [500, 500])  # bottom to top
    noise: LayerNoiseSpec = "masking:0.2"  # one corruption for every layer, or one level per layer: masking:0.1,0.2,0.3
    finetune: Literal["classify", "denoise", "none"] = "classify"
    pretrain_epochs: int = Field(10, ge=0)  # per layer; 0 = no pretraining (a random start)
    finetune_epochs: int = Field(20, ge=0)
    batch_size: int = Field(32, ge=1)
    pretrain_lr: float = Field(1e-3, gt=0.0)
    finetune_lr: float = Field(2e-3, gt=0.0)
    cleaning: list[NoiseSpec] = dataclasses.field(default_factory=list)  # corruptions for "cleaning before classifying"
    cleaning_epochs: int = Field(3, ge=1)  # epochs of each cleaning DAE
    device: str = "auto"


@dataclass(config=_STRICT)
class Config:
    """Everything a training run needs; written to ``config.yaml`` and into every checkpoint."""

    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    noise: NoiseSpec = "gaussian:50"  # corruption spec for training and validation; "none" = compression AE
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    stack: StackConfig = dataclasses.field(default_factory=StackConfig)  # read by `daekit stack` only
    seed: int = Field(0, ge=0, lt=2**63)  # torch and numpy generators take non-negative 63-bit seeds
    out: str = "runs/run"  # run folder


def _format_error(e: ValidationError, where: str, section: str = "") -> str:
    err = e.errors()[0]
    loc = ".".join([section] * bool(section) + [str(p) for p in err["loc"]])
    got = err.get("input")
    got_txt = "" if isinstance(got, dict) else f" (got {got!r})"
    msg = err["msg"]
    if err["type"] == "value_error":  # a daekit parser's own line (see _valid): it names the value already
        return msg.removeprefix("Value error, ")
    if err["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
        msg = "unknown key"
    more = f" (+{len(e.errors()) - 1} more)" if len(e.errors()) > 1 else ""
    return f"{where}: {loc}: {msg}{got_txt}{more}"


def config_from_dict(d: dict[str, Any], where: str = "config") -> Config:
    """Validates a nested dict into a Config; unknown keys and wrong types raise DaekitError."""
    if not isinstance(d, dict):
        raise DaekitError(f"{where}: expected a mapping at the top level, got {type(d).__name__}")
    sections = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig, "stack": StackConfig}
    try:
        built = {}
        for k, v in d.items():
            if k in sections:
                if not isinstance(v, dict):
                    raise DaekitError(f"{where}: {k}: expected a mapping, got {v!r}")
                v = _section(sections[k], v, k, where)
            built[k] = v
        return Config(**built)
    except ValidationError as e:
        raise DaekitError(_format_error(e, where)) from None
    except TypeError as e:
        raise DaekitError(f"{where}: {e}") from None


def _section(cls: type, values: dict[str, Any], name: str, where: str) -> Any:
    try:
        return cls(**values)
    except ValidationError as e:
        raise DaekitError(_format_error(e, where, name)) from None


def config_to_dict(cfg: Config) -> dict[str, Any]:
    """The config as plain nested values (what goes into files and checkpoints)."""
    return dataclasses.asdict(cfg)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Reads a YAML, TOML or JSON config file into a dict (not yet validated)."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise DaekitError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DaekitError(f"cannot read config file {path}: {e}") from None
    try:
        if path.suffix == ".toml":
            d = tomllib.loads(text)
        elif path.suffix == ".json":
            d = json.loads(text)
        else:
            d = _yaml(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, yaml.YAMLError) as e:
        first = str(e).strip().splitlines()[0]
        raise DaekitError(f"config file {path} does not parse: {first}") from None
    if d is None:
        return {}
    if not isinstance(d, dict):
        raise DaekitError(f"config {path}: expected a mapping at the top level, got {type(d).__name__}")
    return d


def config_text(cfg: Config, json_format: bool = False) -> str:
    """The text ``write_config`` writes: YAML, or JSON with `json_format`."""
    d = config_to_dict(cfg)
    return json.dumps(d, indent=2) + "\n" if json_format else yaml.safe_dump(d, sort_keys=False)


def write_config(cfg: Config, path: str | Path) -> None:
    """Writes the config as YAML (or JSON for ``.json``), atomically."""
    from .io import atomic_write_text

    atomic_write_text(path, config_text(cfg, str(path).endswith(".json")))


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Recursively merges `override` into a copy of `base` (dicts merge, everything else replaces)."""
    out = dict(base)
    for k, v in override.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def parse_override(item: str) -> dict[str, Any]:
    """``"train.lr=3e-4"`` -> ``{"train": {"lr": 0.0003}}``; the value is read as YAML (numbers, lists, ...)."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise DaekitError(f"--set expects key=value (e.g. train.lr=3e-4), got {item!r}")
    try:
        value = _yaml(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    d: dict[str, Any] = {}
    node = d
    parts = key.strip().split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value
    return d


def resolve_config(
    file: str | Path | None = None, options: dict[str, Any] | None = None, sets: list[str] | None = None
) -> Config:
    """Defaults < `file` < `options` (nested dict from CLI flags) < `sets` (``key=value`` strings)."""
    d = config_to_dict(Config())
    where = "config"
    if file:
        d = merge(d, read_config_file(file))
        where = f"config {file}"
    if options:
        d = merge(d, options)
    for item in sets or []:
        d = merge(d, parse_override(item))
    return config_from_dict(d, where)
