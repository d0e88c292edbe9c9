"""Cleaning before classifying: the lesson's reference application of a DAE, measured on a stacked classifier.

For each corruption, the classifier's test accuracy on corrupted images as they are, after cleaning by
a convolutional DAE trained on that corruption, and for a classifier fine-tuned on corrupted images.
"""
from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any, Callable

import torch

from .errors import DaekitError
from .noise import make_generator, parse_noise
from .seeding import CLEAN, CLEAN_TRAIN, derive_seed
from .stack import SdAClassifierNet, StackedEncoder, StackSettings, accuracy, finetune_classifier

CLEANING_CORRUPTIONS = ("masking:0.5", "gaussian:50+clip", "gaussian:100+clip")


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
