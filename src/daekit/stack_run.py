"""The `daekit stack` run: settings from the config, pretraining, fine-tuning, evaluation, and the run
folder (config, metrics, figures, weights). The algorithm is stack.py; the cleaning experiment is
stack_cleaning.py.
"""
from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any, Callable

import torch

from .errors import DaekitError
from .noise import make_generator, parse_noise, parse_sweep
from .stack import (StackSettings, confusion_matrix, finetune_classifier, finetune_denoiser, layer_filters,
                    predict_proba, pretrain)
from .stack_cleaning import cleaning_before_classifying


def stack_settings(cfg: Any) -> "StackSettings":
    """The algorithm's settings from a config's ``stack`` section (config.StackConfig) and seed."""
    st = cfg.stack
    noise = parse_sweep(st.noise) if "," in st.noise else [st.noise]
    return StackSettings(layers=list(st.layers), noise=noise, pretrain_epochs=st.pretrain_epochs,
                         finetune_epochs=st.finetune_epochs, batch_size=st.batch_size, pretrain_lr=st.pretrain_lr,
                         finetune_lr=st.finetune_lr, seed=cfg.seed)



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
