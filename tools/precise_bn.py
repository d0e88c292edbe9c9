"""Measures a trained model's BatchNorm statistics exactly, on its own training data and noise ("precise BN").

    python tools/precise_bn.py runs/photo-color runs/photo-color-pbn.safetensors --data-dir ../shared/data/cbsd432

During training each BatchNorm keeps an exponential average of its batches' statistics, which trails the weights
while they still move. Here they are replaced by the plain mean over `--patches` training patches (the model's
stored config says which data, patch size, zoom and noise; the validation images stay out, split by the config's
seed), drawn from a stream of their own (`seeding.PRECISE_BN`): the same command gives the same file. Only the
running statistics change; the output is a checkpoint like the source's (for tools/ship_model.py, `--model`,
`train.init`), with what was done in its info.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys

import torch

from daekit.checkpoint import build_model, load_checkpoint, save_checkpoint
from daekit.config import config_from_dict
from daekit.data import PatchData, load_configured
from daekit.errors import DaekitError
from daekit.noise import make_generator, parse_noise
from daekit.pretrained import weights_path
from daekit.seeding import PRECISE_BN, derive_seed
from daekit.train import precise_batchnorm, training_batches


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("source", help="a shipped model name, a run folder or a checkpoint")
    p.add_argument("out", help="the new checkpoint (.safetensors)")
    p.add_argument("--data-dir", required=True, help="the model's training photos (its config's data set)")
    p.add_argument("--patches", type=int, default=4096, help="training patches to measure on (default 4096)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    try:
        if a.patches < 1:
            raise DaekitError(f"--patches must be at least 1, got {a.patches}")
        ck = load_checkpoint(weights_path(a.source))
        cfg = config_from_dict(ck.config, str(a.source))
        cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, dir=a.data_dir, patches_per_epoch=a.patches))
        model = build_model(ck)
        data = load_configured(cfg.data, cfg.seed)
        if not isinstance(data, PatchData):
            raise DaekitError(f"{cfg.data.name} is not a folder of photos: precise BN here measures on training patches")
        key = derive_seed(a.seed, PRECISE_BN)
        loader = training_batches(data, cfg.train.batch_size, key, torch.device("cpu"))
        n = precise_batchnorm(model, loader, parse_noise(cfg.noise), make_generator(key))
        info = {**ck.info, "precise_bn": {"patches": n, "seed": a.seed, "batch_size": cfg.train.batch_size}}
        save_checkpoint(a.out, model, ck.config, info=info)
    except (DaekitError, ValueError, OSError) as e:
        print(f"precise_bn: {e}", file=sys.stderr)
        return 1
    print(f"wrote {a.out}: BatchNorm statistics of {n:,} {cfg.data.patch_size}-pixel patches of {cfg.data.name} "
          f"with its training noise ({cfg.noise})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
