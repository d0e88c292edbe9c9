"""Stacked denoising autoencoders: greedy layer-wise pretraining, then supervised or unsupervised fine-tuning.

Layer k is a one-hidden-layer dense DAE (the ``dense`` model, tied weights, sigmoid units) trained
on the codes of layers 1..k-1, with its own corruption; earlier layers are frozen while it trains
(their codes are computed once, without gradients). Fine-tuning then trains the whole stack end to
end: with a softmax head on labels (classification), or unrolled into a deep autoencoder that
denoises (its decoder starts as the transposed encoder weights).
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from . import checks
from .data import InMemoryLoader
from .errors import DaekitError
from .models import create_model
from .noise import make_generator, parse_noise
from .seeding import FINETUNE, PRETRAIN, derive_seed
from .train import LOSSES, train_one_epoch



class StackedEncoder(nn.Module):
    """Sigmoid dense layers applied in turn: (B, d) -> (B, layers[-1])."""

    def __init__(self, in_features: int, layers: list[int]) -> None:
        super().__init__()
        dims = [in_features, *layers]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, x: torch.Tensor, upto: int | None = None) -> torch.Tensor:
        h = x.flatten(1)
        for layer in self.layers[:upto]:
            h = torch.sigmoid(layer(h))
        return h


class SdAClassifierNet(nn.Module):
    """A stacked encoder with a linear head; ``forward`` returns logits (softmax in the loss)."""

    def __init__(self, encoder: StackedEncoder, n_classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.layers[-1].out_features, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


class UnrolledAE(nn.Module):
    """The stack unrolled into a deep autoencoder; the decoder starts as the transposed encoder."""

    def __init__(self, encoder: StackedEncoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = nn.ModuleList()
        for layer in reversed(encoder.layers):
            dec = nn.Linear(layer.out_features, layer.in_features)
            with torch.no_grad():
                dec.weight.copy_(layer.weight.t())
                dec.bias.zero_()
            self.decoder.append(dec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(x)
        for dec in self.decoder:
            h = torch.sigmoid(dec(h))
        return h.view_as(x)


def stack_settings(cfg: Any) -> "StackSettings":
    """The algorithm's settings from a config's ``stack`` section (config.StackConfig) and seed."""
    from .compare import parse_sweep

    st = cfg.stack
    noise = parse_sweep(st.noise) if "," in st.noise else [st.noise]
    return StackSettings(layers=list(st.layers), noise=noise, pretrain_epochs=st.pretrain_epochs,
                         finetune_epochs=st.finetune_epochs, batch_size=st.batch_size, pretrain_lr=st.pretrain_lr,
                         finetune_lr=st.finetune_lr, seed=cfg.seed)


MAX_LAYER = 1 << 16  # units in one layer: larger sizes are typos that would allocate tens of GB


@dataclass
class StackSettings:
    """Hyperparameters of pretraining and fine-tuning (plain values, stored with the model)."""

    layers: list[int] = field(default_factory=lambda: [500, 500])
    noise: list[str] = field(default_factory=lambda: ["masking:0.1", "masking:0.2"])
    pretrain_epochs: int = 10
    finetune_epochs: int = 20
    batch_size: int = 64
    pretrain_lr: float = 1e-3
    finetune_lr: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.layers, (str, bytes)) or not isinstance(self.layers, (list, tuple)) or not self.layers:
            raise DaekitError(f"layers must be a list of positive sizes, got {self.layers!r}")
        self.layers = [checks.whole(h, "layers", 1, MAX_LAYER) for h in self.layers]
        self.pretrain_epochs = checks.count(self.pretrain_epochs, "pretrain_epochs")  # 0: no pretraining
        self.finetune_epochs = checks.count(self.finetune_epochs, "finetune_epochs")
        self.batch_size = checks.positive(self.batch_size, "batch_size")
        self.pretrain_lr = checks.rate(self.pretrain_lr, "pretrain_lr")
        self.finetune_lr = checks.rate(self.finetune_lr, "finetune_lr")
        self.seed = checks.seed(self.seed)
        if isinstance(self.noise, str):
            self.noise = [self.noise]
        if len(self.noise) == 1:
            self.noise = list(self.noise) * len(self.layers)
        if len(self.noise) != len(self.layers):
            raise DaekitError(f"{len(self.layers)} layers but {len(self.noise)} noise levels; give one, or one per layer")
        for spec in self.noise:
            parse_noise(spec)


def _as_batches(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1)[:, None, None, :]  # (N, 1, 1, d): the dense model sees a 1 x d "image"


@torch.no_grad()
def encode_all(encoder: StackedEncoder, x: torch.Tensor, upto: int | None = None, batch: int = 4096) -> torch.Tensor:
    """Codes of all of `x` through the first `upto` layers, batched, without gradients."""
    encoder.eval()
    device = next(encoder.parameters()).device
    return torch.cat([encoder(x[i : i + batch].to(device), upto) for i in range(0, len(x), batch)]) if len(x) else x.flatten(1)


def pretrain(
    x: torch.Tensor,
    s: StackSettings,
    device: torch.device | str = "cpu",
    log: Callable[[str], None] | None = None,
) -> tuple[StackedEncoder, list[list[dict[str, Any]]], list[torch.Tensor]]:
    """Greedy layer-wise pretraining on `x` (N, ...) in [0, 1].

    Returns:
        The encoder, each layer's history, and each layer's decoder bias (with the tied weights,
        what reconstructs that layer's input from its code).
    """
    device = torch.device(device)
    encoder = StackedEncoder(x[0].numel(), [int(h) for h in s.layers]).to(device)
    histories: list[list[dict[str, Any]]] = []
    dec_biases: list[torch.Tensor] = []
    for k, (hidden, spec) in enumerate(zip(s.layers, s.noise)):
        codes = encode_all(encoder, x, upto=k) if k else x.flatten(1).to(device)  # frozen layers 1..k-1
        torch.manual_seed(derive_seed(s.seed, PRETRAIN, k))
        ae = create_model("dense", in_channels=1, image_size=(1, codes.shape[1]), hidden=int(hidden), tied=True).to(device)
        opt = torch.optim.Adam(ae.parameters(), lr=s.pretrain_lr)
        noise = parse_noise(spec).to(device)
        loader = InMemoryLoader(_as_batches(codes), s.batch_size)
        hist = []
        for epoch in range(s.pretrain_epochs):
            loader.generator = torch.Generator().manual_seed(derive_seed(s.seed, PRETRAIN, k, epoch, 0))
            gen = make_generator(derive_seed(s.seed, PRETRAIN, k, epoch, 1), device)
            loss = train_one_epoch(ae, loader, noise, opt, LOSSES["bce"], generator=gen)  # codes are in (0, 1)
            hist.append({"layer": k + 1, "epoch": epoch + 1, "loss": loss})
            if log:
                log(f"  layer {k + 1}/{len(s.layers)} ({hidden} units, {spec}) epoch {epoch + 1}: reconstruction loss {loss:.4f}")
        with torch.no_grad():
            encoder.layers[k].weight.copy_(ae.enc.weight)
            encoder.layers[k].bias.copy_(ae.enc.bias)
        histories.append(hist)
        dec_biases.append(ae.dec_bias.detach().clone())
    return encoder, histories, dec_biases


def finetune_classifier(
    encoder: StackedEncoder,
    x: torch.Tensor,
    y: torch.Tensor,
    n_classes: int,
    s: StackSettings,
    val: tuple[torch.Tensor, torch.Tensor] | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[SdAClassifierNet, list[dict[str, Any]]]:
    """Supervised fine-tuning of the whole stack plus a softmax layer (cross-entropy, Adam, cosine decay)."""
    device = next(encoder.parameters()).device
    torch.manual_seed(derive_seed(s.seed, FINETUNE, 0))
    net = SdAClassifierNet(encoder, n_classes).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=s.finetune_lr)
    steps = s.finetune_epochs * -(-len(x) // s.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))
    xd, yd = x.flatten(1).to(device), y.to(device)
    hist = []
    for epoch in range(s.finetune_epochs):
        net.train()
        order = torch.randperm(len(xd), generator=torch.Generator().manual_seed(derive_seed(s.seed, FINETUNE, epoch)))
        total = torch.zeros((), device=device)
        for i in range(0, len(xd), s.batch_size):
            idx = order[i : i + s.batch_size].to(device)
            loss = F.cross_entropy(net(xd[idx]), yd[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.detach() * len(idx)
        row = {"epoch": epoch + 1, "loss": float(total / len(xd))}
        if val is not None:
            row["val_accuracy"] = accuracy(net, *val)
        hist.append(row)
        if log:
            log(f"  fine-tune epoch {epoch + 1}: loss {row['loss']:.4f}" + (f", val accuracy {row['val_accuracy']:.4f}" if val else ""))
    return net.eval(), hist


def finetune_denoiser(
    encoder: StackedEncoder, x: torch.Tensor, noise: str, s: StackSettings, log: Callable[[str], None] | None = None
) -> tuple[UnrolledAE, list[dict[str, Any]]]:
    """Unsupervised fine-tuning: the unrolled deep autoencoder trained to reconstruct clean `x` from corrupted."""
    device = next(encoder.parameters()).device
    net = UnrolledAE(encoder).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=s.finetune_lr)
    loader = InMemoryLoader(x.to(device), s.batch_size)
    noise_m = parse_noise(noise).to(device)
    hist = []
    for epoch in range(s.finetune_epochs):
        loader.generator = torch.Generator().manual_seed(derive_seed(s.seed, FINETUNE, epoch, 0))
        gen = make_generator(derive_seed(s.seed, FINETUNE, epoch, 1), device)
        loss = train_one_epoch(net, loader, noise_m, opt, LOSSES["mse"], generator=gen)
        hist.append({"epoch": epoch + 1, "loss": loss})
        if log:
            log(f"  denoising fine-tune epoch {epoch + 1}: loss {loss:.5f}")
    return net.eval(), hist


@torch.no_grad()
def predict_proba(net: SdAClassifierNet, x: torch.Tensor, batch: int = 4096) -> torch.Tensor:
    """Class probabilities (N, n_classes), on the CPU."""
    net.eval()
    device = next(net.parameters()).device
    return torch.cat([F.softmax(net(x[i : i + batch].to(device)), 1).cpu() for i in range(0, len(x), batch)])


def accuracy(net: SdAClassifierNet, x: torch.Tensor, y: torch.Tensor) -> float:
    """Share of `x` classified as `y`."""
    return float((predict_proba(net, x).argmax(1) == y.cpu()).float().mean())


def confusion_matrix(pred: torch.Tensor, y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """(n_classes, n_classes) counts, rows = true class, columns = predicted."""
    return torch.bincount(y.cpu() * n_classes + pred.cpu(), minlength=n_classes * n_classes).view(n_classes, n_classes)


def layer_filters(encoder: StackedEncoder, k: int) -> torch.Tensor:
    """Layer k's units seen in input space: W_k ... W_1 (a linear view, as in Erhan et al.), (units, d)."""
    w = encoder.layers[0].weight.detach()
    for layer in encoder.layers[1 : k + 1]:
        w = layer.weight.detach() @ w
    return w


CLEANING_CORRUPTIONS = ("masking:0.5", "gaussian:50+clip", "gaussian:100+clip")
CLEAN, CLEAN_TRAIN = 8, 9  # generator streams: corrupted test images, corrupted training images


def cleaning_before_classifying(
    net: SdAClassifierNet,
    pretrained: StackedEncoder,
    data: Any,
    s: StackSettings,
    corruptions: list[str] | tuple[str, ...] = CLEANING_CORRUPTIONS,
    dae_epochs: int = 3,
    out: str | Path | None = None,
    device: torch.device | str = "cpu",
    log: Callable[[str], None] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, torch.Tensor]]:
    """The classifier `net` on corrupted test images, three ways, for each corruption.

    (1) the corrupted images as they are; (2) after cleaning by a convolutional DAE (a 2-level
    U-Net trained `dae_epochs` epochs by `fit` on that corruption of ``data.train``, validated on
    ``data.val``); (3) a classifier fine-tuned from `pretrained` (the stack before supervised
    fine-tuning; not modified) on corrupted training images for a third of ``s.finetune_epochs``.
    The test corruption is fixed by ``s.seed``; the DAE runs go to ``out/<corruption>`` (a temporary
    folder when `out` is None).

    Returns:
        One row per corruption ({"noise", "as_is", "cleaned", "trained"}: accuracies in [0, 1],
        "dae_psnr": the DAE's test PSNR), and sample images for a figure (the first 10 test images:
        "clean", then "<spec>" corrupted and "<spec> cleaned").
    """
    import contextlib
    import tempfile

    from .api import Denoiser
    from .config import resolve_config
    from .metrics import psnr
    from .train import fit

    if len(data.val) == 0:
        raise DaekitError("cleaning before classifying needs a validation split for the DAE; use a validation fraction > 0")
    rows: list[dict[str, Any]] = []
    samples = {"clean": data.test[:10]}
    for i, spec in enumerate(corruptions):
        noise = parse_noise(spec)
        noisy_test = noise(data.test, make_generator(derive_seed(s.seed, CLEAN, i)))
        keep = Path(out) / spec.replace(":", "-").replace("+", "_") if out is not None else None
        with contextlib.nullcontext(str(keep)) if keep else tempfile.TemporaryDirectory() as run_dir:
            cfg = resolve_config(options={"data": {"name": data.name}, "model": {"name": "unet", "args": {"levels": 2, "width": 16}},
                                          "noise": spec, "seed": s.seed, "out": run_dir,
                                          "train": {"epochs": dae_epochs, "batch_size": 64, "lr": 2e-3, "device": str(device)}})
            if log:
                log(f"  {spec}: training a conv DAE (U-Net, {dae_epochs} epochs) to clean the test images")
            dae = Denoiser.from_fit(fit(cfg, data=data, progress=False, overwrite=True))  # `out` belongs to this call
            cleaned_test = dae.denoise_tensor(noisy_test)
        if log:
            log(f"  {spec}: fine-tuning a classifier on corrupted training images")
        noisy_train = noise(data.train, make_generator(derive_seed(s.seed, CLEAN_TRAIN, i)))
        s_noisy = dataclasses.replace(s, finetune_epochs=max(1, s.finetune_epochs // 3))
        robust, _ = finetune_classifier(copy.deepcopy(pretrained), noisy_train, data.train_labels, net.head.out_features, s_noisy)
        row = {"noise": spec, "as_is": accuracy(net, noisy_test, data.test_labels),
               "cleaned": accuracy(net, cleaned_test, data.test_labels),
               "trained": accuracy(robust, noisy_test, data.test_labels),
               "dae_psnr": float(psnr(cleaned_test, data.test).mean())}
        rows.append(row)
        samples[spec] = noisy_test[:10]
        samples[f"{spec} cleaned"] = cleaned_test[:10]
        if log:
            log(f"  {spec}: accuracy as is {100 * row['as_is']:.2f}%, cleaned by the conv DAE {100 * row['cleaned']:.2f}%, "
                f"classifier trained on corruption {100 * row['trained']:.2f}%")
    return rows, samples


def run_stack(
    data: Any,
    s: StackSettings,
    out: str | Path,
    finetune: str = "classify",
    device: str = "cpu",
    log: Callable[[str], None] | None = print,
    cleaning: list[str] | tuple[str, ...] = (),
    cleaning_epochs: int = 3,
    config: Any = None,
) -> dict[str, Any]:
    """The `daekit stack` run: pretrain, fine-tune, evaluate; writes figures, metrics and weights into `out`.

    Args:
        data: An ImageData (train/val/test tensors and labels).
        s: Settings.
        out: Run folder.
        finetune: "classify" (softmax head, test accuracy and confusion matrix), "denoise" (unrolled
            deep autoencoder trained on the top layer's noise), or "none".
        device: Where to train.
        log: Progress lines (None: quiet).
        cleaning: Corruptions for "cleaning before classifying" (with "classify" only): see
            `cleaning_before_classifying`; its DAE runs go to ``out/cleaning/``.
        cleaning_epochs: Epochs of each of those DAEs.
        config: The resolved config (config.Config) the run came from: written to ``out/config.yaml``
            once the settings are checked, before any work.
    """
    import time


    from .io import atomic_write_bytes, atomic_write_text, json_text, save_tensors
    from .report import save_grid, stack_figures

    if finetune not in ("classify", "denoise", "none"):
        raise DaekitError(f"unknown fine-tuning {finetune!r}; use classify, denoise or none")
    if cleaning and finetune != "classify":
        raise DaekitError("cleaning before classifying needs a classifier: use it with fine-tuning 'classify'")
    for spec in cleaning:
        parse_noise(spec)
    out = Path(out)
    if config is not None:
        from .config import write_config

        write_config(config, out / "config.yaml")
    t0 = time.perf_counter()
    if log:
        log(f"pretraining {len(s.layers)} layers {s.layers} with {s.noise}, {s.pretrain_epochs} epochs each")
    encoder, histories, _ = pretrain(data.train, s, device, log)
    t_pre = time.perf_counter() - t0
    metrics: dict[str, Any] = {"layers": s.layers, "noise": s.noise, "pretrain_seconds": t_pre, "pretrain": histories,
                               "settings": dataclasses.asdict(s), "data": data.name}
    tensors = {f"encoder.{k}": v.detach().cpu().contiguous() for k, v in encoder.state_dict().items()}
    if finetune == "classify":
        n_classes = int(data.train_labels.max()) + 1
        val = (data.val, data.val_labels) if len(data.val) else None
        pretrained = copy.deepcopy(encoder) if cleaning else None
        net, hist = finetune_classifier(encoder, data.train, data.train_labels, n_classes, s, val, log)
        pred = predict_proba(net, data.test).argmax(1)
        cm = confusion_matrix(pred, data.test_labels, n_classes)
        metrics.update(finetune=hist, test_accuracy=float(cm.trace() / cm.sum()), test_error=float(1 - cm.trace() / cm.sum()),
                       confusion_matrix=cm.tolist())
        tensors.update({f"head.{k}": v.detach().cpu().contiguous() for k, v in net.head.state_dict().items()})
        if log:
            log(f"test accuracy {metrics['test_accuracy']:.4f} (error {100 * metrics['test_error']:.2f}%)")
        if cleaning:
            if log:
                log(f"cleaning before classifying: {', '.join(cleaning)}")
            rows, samples = cleaning_before_classifying(net, pretrained, data, s, cleaning, cleaning_epochs, out / "cleaning", device, log)
            metrics["cleaning"] = rows
            save_grid(samples, out / "cleaning.png", title="cleaning before classifying: corrupted test images and the conv DAE's output")
    elif finetune == "denoise":
        net, hist = finetune_denoiser(encoder, data.train, s.noise[-1], s, log)
        noisy = parse_noise(s.noise[-1])(data.test[:10], make_generator(s.seed))
        with torch.no_grad():
            den = net(noisy.to(next(net.parameters()).device)).cpu()
        save_grid({"clean": data.test[:10], f"corrupted\n{s.noise[-1]}": noisy, "unrolled SdA": den}, out / "denoised.png")
        metrics.update(finetune=hist)
    metrics["seconds"] = time.perf_counter() - t0
    image_size = tuple(data.train.shape[1:])
    for name, png in stack_figures(metrics, [layer_filters(encoder, k).cpu() for k in range(len(s.layers))], image_size).items():
        atomic_write_bytes(out / name, png)
    save_tensors(out / "stack.safetensors", tensors)
    atomic_write_text(out / "metrics.json", json_text(metrics, indent=2) + "\n")
    return metrics
