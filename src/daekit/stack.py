"""Stacked denoising autoencoders: greedy layer-wise pretraining, then supervised or unsupervised fine-tuning.

Layer k is a one-hidden-layer dense DAE (the ``dense`` model, tied weights, sigmoid units) trained
on the codes of layers 1..k-1, with its own corruption; earlier layers are frozen while it trains
(their codes are computed once, without gradients). Fine-tuning then trains the whole stack end to
end: with a softmax head on labels (classification), or unrolled into a deep autoencoder that
denoises (its decoder starts as the transposed encoder weights).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from . import checks
from .config import StackConfig
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


MAX_LAYER = 1 << 16  # units in one layer: larger sizes are typos that would allocate tens of GB


_DEFAULTS = StackConfig()  # one set of defaults: `daekit stack`, this API and the scikit-learn estimators


@dataclass
class StackSettings:
    """Hyperparameters of pretraining and fine-tuning (plain values, stored with the model); the
    defaults are config.StackConfig's."""

    layers: list[int] = field(default_factory=lambda: list(_DEFAULTS.layers))
    noise: list[str] = field(default_factory=lambda: [_DEFAULTS.noise])
    pretrain_epochs: int = _DEFAULTS.pretrain_epochs
    finetune_epochs: int = _DEFAULTS.finetune_epochs
    batch_size: int = _DEFAULTS.batch_size
    pretrain_lr: float = _DEFAULTS.pretrain_lr
    finetune_lr: float = _DEFAULTS.finetune_lr
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
