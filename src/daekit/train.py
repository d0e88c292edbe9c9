"""Training as small functions: train_one_epoch, evaluate, and fit(config) -> FitResult.

The denoising objective (corrupt, then reconstruct the clean input) and the plain compression
objective (noise "none") are one code path: only the noise model differs.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from . import distributed, interrupts
from .checkpoint import build_model, load_checkpoint, save_checkpoint
from .config import Config, config_text, config_to_dict, merge, write_config
from .data import ImageData, InMemoryLoader, PatchData, load_configured
from .data.folder import place_shard
from .errors import DaekitError
from .io import atomic_write_text, json_text
from .metrics import psnr, ssim
from .models import MODELS, create_model, model_arguments
from .models.pd import core
from .noise import Noise, make_generator, parse_noise
from .runtime import Precision, denoise_batches, select_device
from .runfolder import RunFolder
from .seeding import CORRUPT, SHUFFLE, VALIDATION, derive_seed
from .targets import Step, keeps_last_epoch, make_step, masked_loss, self_supervised_scores

PSNR_LOSS_FLOOR = 1e-6  # per-patch MSE floor of the psnr loss (60 dB): a patch already clean cannot dominate


def psnr_loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Minus the mean per-patch PSNR (dB, peak 1): every patch counts alike, as benchmarks average PSNR over images.

    With MSE the noisiest patches dominate (an error 100 times larger weighs 100 times more), so a blind model
    trained over a wide range of noise levels is tuned for the strong noise and does least well where the noise is
    weak -- the level of most real photos. This is MSE with each patch weighted by the inverse of its own error.
    """
    return -psnr(out, target, mse_floor=PSNR_LOSS_FLOOR).mean()


LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "mse": F.mse_loss,
    "psnr": psnr_loss,
    "l1": F.l1_loss,
    # clamped so a saturated sigmoid cannot produce log(0); only meaningful for [0, 1] data
    "bce": lambda out, target: F.binary_cross_entropy(out.clamp(1e-6, 1 - 1e-6), target),
}


def build_optimizer(model: nn.Module, cfg: Config) -> torch.optim.Optimizer:
    t = cfg.train
    cls = torch.optim.AdamW if t.optimizer == "adamw" else torch.optim.Adam
    return cls(model.parameters(), lr=t.lr, weight_decay=t.weight_decay)


def build_scheduler(opt: torch.optim.Optimizer, cfg: Config, steps_per_epoch: int) -> Any:
    """Per-step LambdaLR (linear warmup, then cosine/step/constant) or per-epoch ReduceLROnPlateau."""
    t = cfg.train
    if t.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=2)
    total, warm = t.epochs * steps_per_epoch, t.warmup_epochs * steps_per_epoch

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        p = (step - warm) / max(1, total - warm)
        if t.schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * min(1.0, p)))
        if t.schedule == "step":  # x0.1 at 50% and 75% of training
            return 0.1 ** ((p >= 0.5) + (p >= 0.75))
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


@dataclass
class EpochProgress:
    """How far an epoch got: batches done, the sum of their losses (x samples) and the sample count."""

    step: int = 0
    loss_sum: torch.Tensor | float = 0.0
    samples: int = 0


COLLAPSE_MARGIN_DB = 1.0  # a model at most this much above a blank image of the average grey has learned nothing


def constant_psnr(images: torch.Tensor | list[torch.Tensor]) -> float:
    """Mean PSNR of a blank image of the average grey against `images`: what a model that ignores its input
    scores at best (a collapsed model, or one that has not learned yet)."""
    if isinstance(images, torch.Tensor):  # (N, C, H, W)
        x = images.float()
        return float(psnr(torch.full_like(x, float(x.mean())), x).mean())
    imgs = list(images)  # whole photos of different sizes
    mean = float(sum(float(x.float().mean()) for x in imgs) / max(len(imgs), 1))
    return float(sum(float(psnr(torch.full_like(x[None].float(), mean), x[None].float()).mean()) for x in imgs) / max(len(imgs), 1))


def loss_name(loss: str, model: nn.Module, name: str = "the model", target: str = "clean") -> str:
    """The loss a run trains with: "auto" is binary cross-entropy for a model whose output is in [0, 1]
    (its ``unit_output``), MSE otherwise. With MSE a sigmoid output can saturate at 0 on data that are mostly
    black (digits) and stay there: the conv DAE then outputs a constant, 9-10 dB (docs/benchmarks.md)."""
    if target != "clean":  # the targets are noisy images, outside [0, 1] and not probabilities
        if loss in ("bce", "psnr"):
            raise DaekitError(f"train.loss {loss} needs clean targets; train.target {target} learns from noisy "
                              "images: use mse (or auto)")
        return "mse" if loss == "auto" else loss
    if loss == "auto":
        return "bce" if model.unit_output else "mse"
    if loss == "bce" and not model.unit_output:
        raise DaekitError(f"train.loss bce needs an output in [0, 1] (a sigmoid), and {name!r} outputs any value; "
                          "use mse or l1 (or auto)")
    return loss


def train_one_epoch(
    model: nn.Module,
    loader: Any,
    noise: Noise,
    opt: torch.optim.Optimizer,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    generator: torch.Generator,
    scheduler: Any = None,
    precision: Precision | None = None,
    bar: tqdm | None = None,
    shard: slice | None = None,
    begin: EpochProgress | None = None,
    after_step: Callable[[EpochProgress], None] | None = None,
    step: Step | None = None,
) -> float:
    """One pass over `loader`: corrupt each clean batch, reconstruct it, step. Returns the mean loss.

    `scheduler` is stepped after every batch (pass None for per-epoch or constant schedules).
    `shard`: the rows of each (global) batch this process trains on, after the whole batch is
    corrupted (distributed training: see distributed.py); None trains on all of it.
    `begin`: continue an epoch saved part-way (the loader must start at batch ``begin.step``).
    `after_step`: called after every batch with the progress so far (checkpoints within the epoch).
    `step`: what the model learns to output (``targets.make_step``: another noisy copy, hidden pixels);
    None: the clean batch.
    """
    model.train()
    precision = precision or Precision(None, None)
    device = next(model.parameters()).device
    begin = begin or EpochProgress()
    total = torch.zeros((), device=device) + float(begin.loss_sum)
    n = begin.samples
    masked = masked_loss(loss_fn)
    for i, clean in enumerate(loader, start=begin.step):  # clean: (B, C, H, W), already on the device
        noisy = noise(clean, generator)
        mask, count = None, None
        if step is not None:  # drawn for the whole (global) batch, like the noise, before sharding
            noisy, clean, mask = step(clean, noisy, generator)
        if shard is not None:
            rows = len(clean)
            clean, noisy = clean[shard], noisy[shard]
            if mask is not None:  # this rank's share of the whole batch's hidden elements (see masked_loss)
                count = mask.sum() * clean.shape[1] * len(clean) / rows
                mask = mask[shard]
        with precision.autocast(device):
            out = model(noisy)
        loss = loss_fn(out.float(), clean) if mask is None else masked(out.float(), clean, mask, count)
        opt.zero_grad(set_to_none=True)
        if precision.scaler is not None:
            precision.scaler.scale(loss).backward()
            precision.scaler.step(opt)
            precision.scaler.update()
        else:
            loss.backward()
            opt.step()
        if scheduler is not None:
            scheduler.step()
        total += loss.detach() * len(clean)
        n += len(clean)
        if bar is not None:
            bar.update(1)
            if i % 20 == 0:  # .item() syncs the device: not every step
                bar.set_postfix_str(f"loss {loss.item():.4g}", refresh=False)
        if after_step is not None:
            after_step(EpochProgress(i + 1, total, n))
    if n == 0:
        raise DaekitError("no training batches: the training set is empty")
    mean = float(total.item() / n)
    if not math.isfinite(mean):
        raise DaekitError("training diverged (loss is NaN or infinite); lower train.lr or check the data")
    return mean


@torch.no_grad()
def precise_batchnorm(model: nn.Module, loader: Any, noise: Noise, generator: torch.Generator) -> int:
    """Replaces every BatchNorm's running statistics by their exact mean over `loader`'s batches, corrupted by
    `noise` as in training ("precise BN", Wu & Johnson 2021). Returns the number of patches seen.

    Training keeps an exponential average of the batch statistics, which trails the weights while they move;
    a run stopped part-way down its schedule (photo-color's was) ships statistics of weights it no longer has.
    The forward passes run in fp32, in training mode (each batch normalised by its own statistics, as the
    weights were trained), and change nothing but the running statistics; the model is left in eval mode.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        raise DaekitError("the model has no BatchNorm layers: there are no statistics to measure")
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average: every batch counts the same
    model.train()
    n = 0
    try:
        for clean in loader:
            model(noise(clean, generator))
            n += len(clean)
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        model.eval()
    if n == 0:
        raise DaekitError("no batches to measure the BatchNorm statistics on")
    return n


Images = torch.Tensor | list[torch.Tensor]  # one (N, C, H, W) batch, or images of different sizes (1, C, H, W)


def corrupt_fixed(noise: Noise, clean: Images, seed: int) -> Images:
    """Corrupts `clean` once with CPU generators seeded from `seed` (fixed validation/test inputs)."""
    if isinstance(clean, list):
        return [noise(c, make_generator(derive_seed(seed, i), "cpu")) for i, c in enumerate(clean)]
    return noise(clean, make_generator(seed, "cpu"))


@torch.no_grad()
def evaluate(model: nn.Module, clean: Images, noisy: Images, batch_size: int = 1024) -> dict[str, float]:
    """Mean PSNR/SSIM of the model's output on `noisy` against `clean`, and of `noisy` itself."""
    if isinstance(clean, list):  # whole images of different sizes: one at a time, mean over images
        rows = [evaluate(model, c, n, batch_size) for c, n in zip(clean, noisy)]
        return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]} if rows else {}
    out = denoise_batches(model, noisy, batch_size).clamp(0, 1)
    return {
        "psnr": float(psnr(out, clean).mean()),
        "ssim": float(ssim(out, clean).mean()),
        "noisy_psnr": float(psnr(noisy.clamp(0, 1), clean).mean()),
        "noisy_ssim": float(ssim(noisy.clamp(0, 1), clean).mean()),
    }


class _TensorBatches:
    """Training batches of an in-memory ImageData: slices of one tensor on the device, reshuffled per epoch."""

    def __init__(self, images: torch.Tensor, batch_size: int, seed: int, drop_last: bool = False, shard: slice | None = None) -> None:
        self.images, self.batch_size, self.shard = images, batch_size, shard
        self.loader = InMemoryLoader(images, batch_size, shuffle=True, drop_last=drop_last)
        self.seed, self.epoch, self.start = seed, 0, 0

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        # keyed by (seed, epoch): resuming needs no generator state
        g = torch.Generator().manual_seed(derive_seed(self.seed, self.epoch, SHUFFLE))
        if self.shard is None:
            self.loader.generator, self.loader.start = g, self.start
            yield from self.loader
            return
        order = torch.randperm(len(self.images), generator=g)  # the same order on every rank
        for i in range(self.start, len(self)):
            rows = order[i * self.batch_size : (i + 1) * self.batch_size][self.shard]  # only this rank's samples
            yield place_shard(self.images[rows], self.batch_size, self.shard)


def training_batches(data: "ImageData | PatchData", batch_size: int, seed: int, device: torch.device,
                     drop_last: bool = False, shard: slice | None = None):
    """An iterable of clean training batches on `device` with ``len`` and a settable ``epoch``.

    `shard` (distributed training): only those rows of each global batch are filled (see place_shard).
    """
    if isinstance(data, PatchData):
        return data.loader(batch_size, seed, device, shard)
    return _TensorBatches(data.train.to(device), batch_size, seed, drop_last, shard)


@dataclass
class FitResult:
    """What ``fit`` returns: the trained model (best weights), its config, history and run folder."""

    model: nn.Module
    config: Config
    history: list[dict[str, Any]] = field(default_factory=list)
    run_dir: Path | None = None
    best: dict[str, Any] = field(default_factory=dict)


def _check_resumable(saved: dict[str, Any], cfg: Config, saved_world: int = 1, world: int = 1) -> None:
    """Refuses to resume with a config that changes what was being trained.

    The number of ranks may change if the global batch (per-rank batch x ranks) stays the same.
    """
    now = config_to_dict(cfg)
    saved = merge(config_to_dict(Config()), saved)  # a setting added since the checkpoint was saved: its default
    b_saved, b_now = saved.get("train", {}).get("batch_size"), now["train"]["batch_size"]
    if b_saved is not None and b_saved * saved_world != b_now * world:
        need = b_saved * saved_world / world
        hint = f"pass --batch-size {int(need)}" if need == int(need) else f"use a number of ranks that divides {b_saved * saved_world}"
        raise DaekitError(
            f"cannot resume: the checkpoint was trained with a global batch of {b_saved * saved_world} "
            f"({b_saved} per rank x {saved_world} rank(s)); with {world} rank(s) {hint}"
        )
    free = {("train", "batch_size"), ("train", "epochs"), ("train", "patience"), ("train", "device"), ("train", "amp"),
            ("train", "channels_last"), ("train", "compile"), ("train", "cpu_bf16"), ("train", "init"),
            ("train", "checkpoint_minutes"), ("stack",), ("out",), ("data", "dir"), ("data", "download")}

    def walk(a: Any, b: Any, path: tuple[str, ...]) -> None:
        if path in free:
            return
        if isinstance(a, dict) and isinstance(b, dict) and path != ("model", "args"):
            for k in [*a, *(k for k in b if k not in a)]:  # config order: model.name before model.args
                walk(a.get(k), b.get(k), path + (k,))
        elif a != b:
            raise DaekitError(
                f"cannot resume: {'.'.join(path)} is {b!r} but the checkpoint was trained with {a!r}"
            )

    walk(saved, now, ())


def _train_state(opt: torch.optim.Optimizer, scheduler: Any, precision: Precision, epoch: int,
                 history: list[dict[str, Any]], best: dict[str, Any], stale: int) -> dict[str, Any]:
    """Everything beyond the weights that an exact resume needs (the per-epoch generators are derived)."""
    return {
        "optimizer": opt.state_dict(), "scheduler": scheduler.state_dict(),
        "scaler": precision.scaler.state_dict() if precision.scaler is not None else None,
        "torch_rng": torch.get_rng_state(), "epoch": epoch, "history": history, "best": best, "stale": stale,
        "world_size": distributed.context().world,
    }


def _restore(ck: Any, cfg: Config, model: nn.Module, opt: torch.optim.Optimizer, scheduler: Any,
             precision: Precision) -> tuple[int, list[dict[str, Any]], dict[str, Any], int, dict[str, Any] | None]:
    """Loads a `last` checkpoint's weights and training state; returns (epoch, history, best, stale,
    partial): `partial` describes the part of the next epoch already trained (None at an epoch's end)."""
    model.load_state_dict(build_model(ck, expect=cfg.model.name).state_dict())
    st = ck.train_state or {}
    try:
        opt.load_state_dict(st["optimizer"])
        scheduler.load_state_dict(st["scheduler"])
        if precision.scaler is not None and st.get("scaler"):
            precision.scaler.load_state_dict(st["scaler"])
        torch.set_rng_state(st["torch_rng"])
        return st["epoch"], st["history"], st["best"], st["stale"], st.get("partial")
    except (KeyError, ValueError, RuntimeError) as e:
        raise DaekitError(f"cannot resume: the checkpoint's training state is incomplete or does not fit ({e})") from None


def inflate_to_color(gray: dict[str, torch.Tensor], color: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A gray model's weights for the same architecture with 3 channels in and out.

    Where a tensor's shape differs in one dimension, 3x larger in the colour model (the image channels,
    times a pixel-unshuffle factor's r*r sub-images, channel-major as ``pixel_unshuffle`` orders them):
    on the input side (dim 1) each channel gets a third of the gray weight, so the first layer sees the
    channels' mean; on the output side (dim 0) each channel gets the gray output. A colour photo with
    equal channels is then denoised exactly as the gray model would denoise it.
    """
    out = {}
    for k, w in gray.items():
        want = color[k].shape
        if w.shape == want:
            out[k] = w
            continue
        diff = [d for d in range(w.dim()) if w.shape[d] != want[d]]
        if len(diff) != 1 or want[diff[0]] != 3 * w.shape[diff[0]] or diff[0] > 1:
            raise RuntimeError(f"cannot map {k} of shape {tuple(w.shape)} onto {tuple(want)}")
        d = diff[0]
        split = w.unsqueeze(d)  # (..., 1, n, ...): one colour channel of n sub-images
        full = split.expand(*w.shape[:d], 3, *w.shape[d:]).reshape(want)
        out[k] = full / 3 if d == 1 else full.clone()
    return out


def init_weights(model: nn.Module, source: str) -> dict[str, Any]:
    """Loads trained weights into `model` (fine-tuning); returns the source checkpoint's info.

    `source`: a shipped model name (``daekit models``), a run folder (its best checkpoint) or a
    checkpoint file. Refused with one line if it holds another architecture; a gray model may start
    the same architecture in colour (``inflate_to_color``).
    """
    from .pretrained import weights_path

    ck = load_checkpoint(weights_path(source))

    def arch(spec: dict[str, Any]) -> dict[str, Any]:  # defaults filled in; image_size is a default for conv models
        full = {**model_arguments(spec["name"]), **spec} if spec.get("name") in MODELS.names() else spec
        return json.loads(json.dumps({k: v for k, v in full.items() if k not in ("image_size", "pd", "dilation")}))  # pd, dilation: the same weights

    have, want = arch(ck.model_spec), arch(model.spec)
    gray_to_color = have.get("in_channels") == 1 and want.get("in_channels") == 3
    if gray_to_color:  # a gray model starts a colour one: the same architecture with 3 channels in and out
        have["in_channels"] = 3
    if have != want:
        diff = ", ".join(f"{k} {have.get(k)!r} vs {want.get(k)!r}" for k in sorted(set(have) | set(want), key=str) if have.get(k) != want.get(k))
        raise DaekitError(f"train.init: {source} holds another architecture than this run's model ({diff})")
    try:
        state = core(build_model(ck)).state_dict()  # with or without pd sub-images, the network's weights
        target = core(model)
        target.load_state_dict(inflate_to_color(state, target.state_dict()) if gray_to_color else state)
    except RuntimeError as e:  # e.g. a dense model of another image size
        raise DaekitError(f"train.init: the weights in {source} do not fit this run's model ({str(e).splitlines()[-1].strip()})") from None
    return ck.info


def fit(
    cfg: Config,
    *,
    data: ImageData | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    stop_after: int | None = None,
) -> FitResult:
    """Trains the model described by `cfg`, writing checkpoints and metrics into ``cfg.out``.

    A run folder that already holds a run is refused unless `resume` or `overwrite` (see runfolder.py
    for what survives a kill). Every ``train.checkpoint_minutes`` within an epoch, and when Ctrl-C or
    SIGTERM arrives, a resumable checkpoint is saved; a stop request then raises ``Interrupted``.
    Under ``torchrun --max-restarts`` a restarted job resumes from its last checkpoint by itself.

    Args:
        cfg: The resolved configuration.
        data: Pre-loaded data (else loaded from ``cfg.data``).
        resume: Continue from ``<out>/checkpoints/last.safetensors`` exactly where it stopped.
        overwrite: Replace an existing run in ``cfg.out`` (otherwise refused).
        progress: Show a progress bar.
        stop_after: Stop after this many epochs in total (simulates an interruption; used by tests).

    Returns:
        A FitResult holding the best model (by validation PSNR).
    """
    run = RunFolder(cfg.out)
    noise = parse_noise(cfg.noise)
    ctx, device = distributed.setup(select_device(cfg.train.device))
    progress = progress and ctx.is_main
    if ctx.is_main:
        note = run.recover()
        if note and progress:
            tqdm.write(note)
    ctx.barrier()  # no rank reads the folder before it is tidy
    if distributed.restarted() and run.last.exists():  # torchrun restarted the job: carry on from its last checkpoint
        resume, overwrite = True, False
    replace_old = run.claim(config_text(cfg), resume, overwrite)
    ck = load_checkpoint(run.last) if resume and run.last.exists() else None
    if ck is not None:  # before any work: a changed config is refused at once
        _check_resumable(ck.config, cfg, int((ck.train_state or {}).get("world_size", 1)), ctx.world)
    if data is None:
        data = load_configured(cfg.data, cfg.seed, device.type)
    elif data.name != cfg.data.name:  # the checkpoints must name the data the model really saw
        cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, name=data.name))
    if len(data.val) == 0:
        raise DaekitError("validation set is empty: set data.val_fraction > 0")
    if progress and ctx.is_main:
        tqdm.write(data.summary())
    torch.manual_seed(derive_seed(cfg.seed, 0, 0))
    model = create_model(cfg.model.name, in_channels=data.channels, image_size=data.image_size, **cfg.model.args)
    model.to(device)
    if cfg.train.init and ck is None:
        init_weights(model, cfg.train.init)
    if device.type in ("cuda", "cpu") and cfg.train.channels_last:
        model.to(memory_format=torch.channels_last)
    frames = data.frames
    references = has_references(cfg, frames)
    keep_last = keeps_last_epoch(cfg.train.target, references)
    check_target(cfg, frames, model)
    # validation: PSNR against the clean images where the data have them, else a self-supervised score
    val_seed = derive_seed(cfg.seed, VALIDATION)
    val_noisy = corrupt_fixed(noise, data.val, val_seed) if references else None  # (N, C, H, W), on the CPU
    noise.to(device)
    loss_fn = LOSSES[loss_name(cfg.train.loss, model, cfg.model.name, cfg.train.target)]
    stride = int(cfg.model.args.get("pd", 1))  # pd sub-images: a hidden pixel's stand-in comes from its own sub-image

    def validate() -> dict[str, Any]:
        if references:
            return evaluate(model, data.val, val_noisy, cfg.train.val_batch_size)
        return self_supervised_scores(model, data.val, cfg.train.target, cfg.train.mask_fraction, frames, val_seed,
                                      cfg.train.val_batch_size, fill=cfg.train.mask_fill, stride=stride)
    # train.batch_size is per rank: every rank draws the same global batch and trains on its shard
    global_batch = cfg.train.batch_size * ctx.world
    shard = ctx.shard(global_batch) if ctx.active else None
    loader = training_batches(data, global_batch, cfg.seed, device, drop_last=ctx.active, shard=shard)
    n_samples = len(data.train) if isinstance(data, ImageData) and not ctx.active else len(loader) * global_batch
    train_model = distributed.wrap(model, ctx, device)
    if cfg.train.compile:  # the compiled module shares `model`'s parameters; checkpoints save `model`
        train_model = torch.compile(train_model)
    opt = build_optimizer(model, cfg)
    scheduler = build_scheduler(opt, cfg, len(loader))
    precision = Precision.for_device(device, cfg.train.amp, cfg.train.cpu_bf16)
    if progress and ctx.is_main and (note := Precision.cpu_bf16_ignored(device, cfg.train.cpu_bf16)):
        tqdm.write(note)

    def forward(x: torch.Tensor) -> torch.Tensor:  # neighbor2neighbor's regulariser: the model on whole images, no gradient
        with precision.autocast(device):
            return model(x)

    step = None if cfg.train.target == "clean" else make_step(cfg.train.target, noise, cfg.train.mask_fraction, frames,
                                                              cfg.train.mask_fill, stride, forward, cfg.train.neighbour_gamma, shard)
    # stepped per batch unless constant (skipping a constant LambdaLR saves a call per step) or per-epoch
    constant = cfg.train.schedule == "none" and cfg.train.warmup_epochs == 0
    per_step = None if constant or cfg.train.schedule == "plateau" else scheduler

    start_epoch, history, best, epochs_wo_improvement, partial = 0, [], {"psnr": -math.inf}, 0, None
    if ck is not None:
        start_epoch, history, best, epochs_wo_improvement, partial = _restore(ck, cfg, model, opt, scheduler, precision)
    cfg_dict = config_to_dict(cfg)
    if ctx.is_main:  # rank 0 writes; the others only train
        if replace_old:  # only now that the new run is known to start: the old one is set aside, not lost to a typo
            run.set_aside()
        run.out.mkdir(parents=True, exist_ok=True)
        write_config(cfg, run.config)
        run.write_metrics(history)  # epochs run again after a kill are not logged twice
    saved = ck is not None

    def save_last(epoch: int, progress_now: EpochProgress | None, gen: torch.Generator | None, info: dict[str, Any]) -> None:
        nonlocal saved
        state = _train_state(opt, scheduler, precision, epoch, history, best, epochs_wo_improvement)
        if progress_now is not None:  # part of epoch `epoch + 1` is done
            state["partial"] = {"step": progress_now.step, "loss_sum": float(progress_now.loss_sum),
                                "samples": progress_now.samples, "corrupt_rng": gen.get_state()}
        save_checkpoint(run.last, model, cfg_dict, train_state=state, info=info)
        if not saved:  # the new run has its first checkpoint: an old run set aside by --overwrite goes
            run.drop_aside()
            saved = True

    every_s = cfg.train.checkpoint_minutes * 60
    sync_every = 16 if ctx.active else 1  # under DDP the ranks agree on stopping every 16 steps (one all-reduce)
    last_save = time.monotonic()
    epoch_bar = tqdm(total=cfg.train.epochs, initial=start_epoch, desc="training", unit="epoch", disable=not progress, dynamic_ncols=True)
    try:
        with interrupts.stop_requests():
            for epoch in range(start_epoch, cfg.train.epochs):
                if stop_after is not None and epoch >= stop_after:
                    break
                t0 = time.perf_counter()
                # Per-epoch generators keyed by (seed, epoch): resuming needs no generator state.
                loader.epoch = epoch
                if hasattr(step, "progress"):  # neighbor2neighbor's regulariser ramps up with the epochs
                    step.progress = epoch / cfg.train.epochs
                gen = make_generator(derive_seed(cfg.seed, epoch, CORRUPT), device)
                begin = None
                if partial is not None:  # the epoch a kill interrupted continues where its checkpoint left it
                    begin = EpochProgress(partial["step"], partial["loss_sum"], partial["samples"])
                    gen.set_state(partial["corrupt_rng"])
                    partial = None
                loader.start = begin.step if begin else 0
                lr = opt.param_groups[0]["lr"]

                def after_step(p: EpochProgress) -> None:
                    nonlocal last_save
                    if p.step % sync_every or p.step == len(loader):  # the epoch's end saves anyway
                        return
                    stop, due = ctx.any(interrupts.requested(), every_s > 0 and time.monotonic() - last_save >= every_s)
                    if not (stop or due):
                        return
                    if ctx.is_main:
                        save_last(epoch, p, gen, {"epoch": epoch, "step": p.step, "steps": len(loader)})
                    last_save = time.monotonic()
                    if stop:
                        raise interrupts.Interrupted(_stopped(run, f"epoch {epoch + 1}, batch {p.step} of {len(loader)}"))

                # the per-batch bar only on a terminal (disable=None); logs get the per-epoch bar alone
                with tqdm(total=len(loader), initial=loader.start, desc=f"epoch {epoch + 1}", disable=None if progress else True,
                          leave=False, dynamic_ncols=True) as bar, distributed.peers_lost() if ctx.active else contextlib.nullcontext():
                    train_loss = train_one_epoch(train_model, loader, noise, opt, loss_fn, generator=gen, scheduler=per_step,
                                                 precision=precision, bar=bar, shard=shard, begin=begin, after_step=after_step,
                                                 step=step)
                train_loss = float(ctx.mean(torch.tensor(train_loss)))
                seconds = time.perf_counter() - t0
                val = ctx.broadcast(validate() if ctx.is_main else None)
                if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                    scheduler.step(val["psnr"])
                row = {
                    "epoch": epoch + 1, "train_loss": train_loss, "val_psnr": val["psnr"], "val_ssim": val["ssim"],
                    "val_noisy_psnr": val["noisy_psnr"], "lr": lr, "seconds": seconds,
                    "samples_per_s": n_samples / seconds, "val_reference": "clean" if references else "noisy",
                }
                history.append(row)
                improved = val["psnr"] > best["psnr"] or keep_last
                if improved:
                    best = {"psnr": val["psnr"], "ssim": val["ssim"], "epoch": epoch + 1}
                epochs_wo_improvement = 0 if improved else epochs_wo_improvement + 1
                if ctx.is_main:  # checkpoints before the metrics row: a logged epoch always has its checkpoint
                    if improved:
                        save_checkpoint(run.best, model, cfg_dict, info={"epoch": epoch + 1, **row})
                    save_last(epoch + 1, None, None, {"epoch": epoch + 1, **row})
                    run.append_metrics(row)
                last_save = time.monotonic()
                epoch_bar.update(1)
                epoch_bar.set_postfix_str(f"loss {train_loss:.4g}  val PSNR {val['psnr']:.2f} dB (noisy {val['noisy_psnr']:.2f})"
                                          if references else
                                          f"loss {train_loss:.4g}  val self-supervised {val['psnr']:.2f} dB (doing nothing {val['noisy_psnr']:.2f})")
                if cfg.train.patience is not None and epochs_wo_improvement >= cfg.train.patience:
                    if progress:
                        tqdm.write(f"early stopping after epoch {epoch + 1}: no better val PSNR for {cfg.train.patience} epochs")
                    break
                if ctx.any(interrupts.requested())[0] and epoch + 1 < cfg.train.epochs:
                    raise interrupts.Interrupted(_stopped(run, f"the end of epoch {epoch + 1}"))
    except BaseException:
        if ctx.is_main and replace_old and not saved:  # the new run failed before its first checkpoint: the old one comes back
            run.restore_aside()
        raise
    finally:
        epoch_bar.close()
    if progress and history and ctx.is_main and not references:
        tqdm.write("validation had no clean references: its score is the error against noisy pixels (in dB), which ranks "
                   "checkpoints as the true error does but is not a PSNR; measure PSNR with `daekit evaluate` on clean images"
                   if not keep_last else
                   "validation had no clean references: its score is the error against neighbouring noisy pixels (in dB), not a "
                   "PSNR, and leans to smoothing, so the run keeps its last epoch; measure PSNR with `daekit evaluate` on clean images")
        if best["psnr"] < history[-1]["val_noisy_psnr"]:
            bar = ("the input shot itself" if cfg.train.target == "noise2noise" else
                   "the neighbouring sub-image itself" if cfg.train.target == "neighbor2neighbor" else
                   "the median of their neighbours (a 5x5 median filter)" if cfg.train.mask_fill == "median" else
                   "a random neighbour's value")
            tqdm.write(f"warning: the model predicts the validation pixels no better ({best['psnr']:.2f} dB) than {bar} "
                       f"({history[-1]['val_noisy_psnr']:.2f} dB): train longer, or lower train.lr{_saturation_hint(model, data.val)}")
    elif progress and history and ctx.is_main:
        blank = constant_psnr(data.val)
        if best["psnr"] <= blank + COLLAPSE_MARGIN_DB:  # also for a compression AE, which has no corrupted input
            tqdm.write(f"warning: the model did not learn: its best validation PSNR ({best['psnr']:.2f} dB) is hardly above a "
                       f"blank image of the average grey ({blank:.2f} dB); train longer, or change train.loss or train.lr"
                       f"{_saturation_hint(model, data.val if val_noisy is None else val_noisy)}")
        elif best["psnr"] < history[-1]["val_noisy_psnr"] < math.inf:  # inf: no noise
            tqdm.write(
                f"warning: the best validation PSNR ({best['psnr']:.2f} dB) is below the corrupted input's "
                f"({history[-1]['val_noisy_psnr']:.2f} dB): the model has not learned to denoise; train longer or lower train.lr"
            )

    if ctx.active:  # the replicas must agree bit for bit; rank 0 records what it checked
        sums = distributed.replica_checksums(model, ctx)
        if len(set(sums)) > 1:
            raise DaekitError(f"distributed replicas diverged (weight checksums {sums}); please report this")
        if ctx.is_main:
            atomic_write_text(run.out / "distributed.json", json_text({"world_size": ctx.world, "replica_checksums": sums}) + "\n")
        ctx.barrier()  # the best checkpoint is written before anyone reads it
    best_model = build_model(load_checkpoint(run.best)) if run.best.exists() else model
    return FitResult(model=best_model.to(device).eval(), config=cfg, history=history, run_dir=run.out, best=best)


def has_references(cfg: Config, frames: int = 1) -> bool:
    """Whether validation can compare with clean images: the target is the clean image, or the images are
    clean and `noise` corrupts them. Noisy data (``noise: none`` with a no-clean target, ``data.noisy_once``,
    shots) have none: validation is self-supervised (``targets.self_supervised_scores``)."""
    if cfg.train.target == "clean":
        return True
    return frames == 1 and not cfg.data.noisy_once and parse_noise(cfg.noise).name != "none"


def check_target(cfg: Config, frames: int, model: nn.Module) -> None:
    """Refuses, in one line, a training target that cannot work with this data and model."""
    t = cfg.train.target
    if t == "blind-spot" and model.geometry.fixed_size is not None:
        raise DaekitError(f"train.target blind-spot needs a convolutional model (any image size); {cfg.model.name!r} is "
                          "dense: it sees every pixel at once, the hidden one's stand-in too")
    if t == "neighbor2neighbor" and model.geometry.fixed_size is not None:
        raise DaekitError(f"train.target neighbor2neighbor needs a convolutional model (any image size): it learns on "
                          f"half-size sub-images and denoises whole ones; {cfg.model.name!r} is dense")
    if t == "clean" and frames > 1:
        raise DaekitError(f"the data hold {frames} noisy shots of each image and no clean one: train with "
                          "--target noise2noise (one shot learns another), --target neighbor2neighbor or --target blind-spot")
    if t == "noise2noise" and frames < 2 and (cfg.data.noisy_once or parse_noise(cfg.noise).name == "none"):
        raise DaekitError("train.target noise2noise needs two noisy shots of each image: real ones (data.bursts: a subfolder "
                          "per scene) or drawn ones (data.noisy_copies: 2 with data.noisy_once); with one noisy image each, "
                          "use --target neighbor2neighbor or --target blind-spot")


def _saturation_hint(model: nn.Module, val: torch.Tensor | list[torch.Tensor]) -> str:
    """For a training that did not learn: whether its sigmoid output saturated (most of it at 0 or 1, where
    the sigmoid's gradient vanishes), which training longer does not undo; seen with the conv model and
    neighbor2neighbor, whose output sticks at 0 on digits. `val`: the model's validation inputs."""
    net = core(model)
    if not getattr(net, "unit_output", False) or len(val) == 0:
        return ""
    first = val[0] if isinstance(val, list) else None  # whole photos: (1, C, H, W) each (or (C, H, W))
    x = (val[:4] if first is None else first if first.dim() == 4 else first[None])[:, : net.in_channels]
    with torch.no_grad():
        y = denoise_batches(net, x.float())
    saturated = float((y * (1 - y) < 0.01).float().mean())  # where the sigmoid's gradient is below 0.01 (of 0.25 at most)
    if saturated < 0.5:
        return ""
    return (f"; its sigmoid output is saturated ({saturated:.0%} of the pixels within 0.01 of 0 or 1, where it hardly learns): "
            "try --model unet or --set model.args.out_act=none")


def _stopped(run: RunFolder, where: str) -> str:
    return (f"stopped by {interrupts.signal_name() or 'request'} at {where}; the run is saved in {run.out}: "
            f"continue it with `daekit train --resume --out {run.out}`")
