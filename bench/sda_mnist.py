"""Stacked denoising autoencoders on MNIST / Fashion-MNIST: test error and the ablation of pretraining.

The classic configuration (Theano SdA tutorial: 3 x 1000 sigmoid units, masking 0.1/0.2/0.3, 15
pretraining epochs per layer; 1.3% MNIST test error after about 17 hours single-threaded) trained
by daekit (Adam, cosine decay), and the same network (i) from random initialisation, (ii) pretrained
as plain stacked AEs (no corruption), (iii) pretrained as stacked DAEs - same fine-tuning for all.

    python bench/sda_mnist.py [--quick] [--data-dir ../shared/data] [--device cpu|cuda] [--data mnist,fashion-mnist]

Targets: MNIST test error of (iii) <= 1.3%; its pretraining + fine-tuning <= 20 minutes (1200 s).

Then "cleaning before classifying": the (iii) classifier on corrupted test images (masking 50%,
Gaussian sigma 50 and 100, clipped) three ways -- as they are, after cleaning by a convolutional DAE
(a 2-level U-Net trained on that corruption), and a classifier fine-tuned from the same pretrained
stack on corrupted training images (daekit.stack_cleaning.cleaning_before_classifying, the same code as
`daekit stack --cleaning`, whose report shows the table). Reported, no target.
"""
from __future__ import annotations

import copy
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, parser, result  # noqa: E402

from daekit.data import load_dataset  # noqa: E402
from daekit.stack import StackSettings, accuracy, finetune_classifier, pretrain  # noqa: E402
from daekit.stack_cleaning import CLEANING_CORRUPTIONS, cleaning_before_classifying  # noqa: E402

PUBLISHED_ERROR = 1.3  # %, Theano SdA tutorial


def run(data, s: StackSettings, device: str):
    """(test error %, seconds, classifier, a copy of the pretrained encoder) of pretraining + fine-tuning."""
    t0 = time.perf_counter()
    enc, _, _ = pretrain(data.train, s, device)
    pretrained = copy.deepcopy(enc)
    net, _ = finetune_classifier(enc, data.train, data.train_labels, 10, s)
    return 100 * (1 - accuracy(net, data.test, data.test_labels)), time.perf_counter() - t0, net, pretrained


def clean_then_classify(name: str, data_dir: Path, net, pretrained, s: StackSettings, device: str, quick: bool):
    """Rows (corruption, as is, cleaned, trained) in %: daekit.stack_cleaning.cleaning_before_classifying, as `daekit stack --cleaning`."""
    # the DAEs need a validation split: the same data set loaded with one (the classifiers are tested on the same test set)
    data = load_dataset(name, data_dir / name, seed=0, limit=5000 if quick else None)
    rows, _ = cleaning_before_classifying(net, pretrained, data, s, CLEANING_CORRUPTIONS, 1 if quick else 3, device=device)
    for r in rows:
        print(f"{name:<14}{r['noise']:<20} accuracy: as is {100 * r['as_is']:6.2f}%   cleaned by conv DAE {100 * r['cleaned']:6.2f}%   "
              f"classifier trained on corruption {100 * r['trained']:6.2f}%   (DAE PSNR {r['dae_psnr']:.2f} dB)", flush=True)
    return [(r["noise"], 100 * r["as_is"], 100 * r["cleaned"], 100 * r["trained"]) for r in rows]


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--data", default="mnist,fashion-mnist", help="comma-separated data sets")
    p.add_argument("--only-dae", action="store_true", help="train only (iii), the stacked DAEs (skips the ablation)")
    a = p.parse_args()
    device = "cuda" if a.device in ("cuda", "auto") and torch.cuda.is_available() else "cpu"
    if a.quick:
        layers, pre, fine, limit = [256, 256, 256], 1, 2, 5000
    else:
        layers, pre, fine, limit = [1000, 1000, 1000], 15, 30, None
    noise = ["masking:0.1", "masking:0.2", "masking:0.3"]
    print(f"machine: {machine(device)}")
    print(f"{len(layers)} x {layers[0]} units, {pre} pretraining epochs per layer, {fine} fine-tuning epochs, batch 64\n")
    results, cleaning = {}, {}
    for name in a.data.split(","):
        data = load_dataset(name, Path(a.data_dir) / name, seed=0, limit=limit, val_fraction=0.0)
        rows = []
        nets = (("(i) random init", 0, noise), ("(ii) stacked AEs", pre, ["none"] * 3), ("(iii) stacked DAEs", pre, noise))
        for label, p_epochs, n in nets[2:] if a.only_dae else nets:
            s = StackSettings(layers=layers, noise=n, pretrain_epochs=p_epochs, finetune_epochs=fine, batch_size=64,
                              pretrain_lr=1e-3, finetune_lr=1e-3)
            err, sec, net, pretrained = run(data, s, device)
            rows.append((label, err, sec))
            print(f"{name:<14}{label:<22} test error {err:5.2f}%   {sec:6.0f} s", flush=True)
        results[name] = rows
        cleaning[name] = clean_then_classify(name, Path(a.data_dir), net, pretrained, s, device, a.quick)
    print(f"\n{'data':<14}{'network':<22}{'test error %':>13}{'seconds':>9}")
    for name, rows in results.items():
        for label, err, sec in rows:
            print(f"{name:<14}{label:<22}{err:>13.2f}{sec:>9.0f}")
    print(f"published (Theano SdA tutorial, MNIST, ~17 h): {PUBLISHED_ERROR}%")
    print(f"\n{'data':<14}{'corruption':<20}{'as is':>8}{'cleaned':>9}{'trained':>9}   (accuracy %, (iii) classifier)")
    for name, rows in cleaning.items():
        for spec, as_is, cleaned, trained in rows:
            print(f"{name:<14}{spec:<20}{as_is:>8.2f}{cleaned:>9.2f}{trained:>9.2f}")
    if "mnist" in results:
        _, err, sec = results["mnist"][-1]
        result("sda_mnist_test_error_pct", err, "<=", PUBLISHED_ERROR, a.quick)
        result("sda_mnist_seconds", sec, "<=", 1200, a.quick)


if __name__ == "__main__":
    main()
