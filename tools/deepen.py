"""Deepens a trained residual denoiser without changing what it computes, so that fine-tuning starts where it ended.

    python tools/deepen.py photo-real runs/deep-init.safetensors --after 9 --dilations 2,3,5,7 \
        --data-dir ../shared/data/cbsd432

New conv layers (Net2Net's "net2deeper", Chen et al. 2016), each with its own dilation, are inserted after the
`--after`-th conv layer, each one starting as the identity: its centre tap the identity matrix, the rest zero,
and its BatchNorm set to give back what it is given -- scale and shift equal to the standard deviation and mean
of the activations there, measured on noisy patches of `--data-dir`'s photos with the source's own training
noise (exact in eval mode; near it in training, where BatchNorm uses each batch's statistics). After a ReLU every
activation is >= 0, so the new layer's ReLU passes it unchanged. With dilations the new layers widen what an
output pixel sees (the receptive field) by 2 x their sum; fine-tuning teaches them what to do with it.
Dilating the existing layers instead (`model.args.dilation` on the same depth) throws away what they learned:
tried from photo-real, one epoch took it below the noisy input (docs/benchmarks.md).

The output is a checkpoint for `train.init` (its model spec is the deeper network's); train with that spec
(`--set "model.args={...}"`, printed here).
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch
from torch import nn

from daekit.checkpoint import build_model, load_checkpoint, save_checkpoint
from daekit.errors import DaekitError
from daekit.images import find_images, read_image
from daekit.models import create_model
from daekit.noise import make_generator, parse_noise
from daekit.pretrained import weights_path


def convs_and_norms(body: nn.Sequential) -> list[tuple[nn.Conv2d, nn.BatchNorm2d | None]]:
    """Each conv of a residual body with the BatchNorm that follows it (None where there is none)."""
    mods = list(body)
    return [(m, mods[i + 1] if i + 1 < len(mods) and isinstance(mods[i + 1], nn.BatchNorm2d) else None)
            for i, m in enumerate(mods) if isinstance(m, nn.Conv2d)]


def calibration_batch(data_dir: str, noise_spec: str, channels: int, n: int, size: int, seed: int) -> torch.Tensor:
    """`n` noisy `size`-pixel patches of the photos in `data_dir`, with the source's training noise."""
    files = find_images([data_dir])
    if not files:
        raise DaekitError(f"no images found in {data_dir}")
    rng = np.random.default_rng(seed)
    patches = []
    for _ in range(n):
        img = read_image(files[int(rng.integers(len(files)))])[0]
        if img.shape[2] != channels:
            raise DaekitError(f"{data_dir}: the model takes {channels} channel(s), the photos have {img.shape[2]}")
        if min(img.shape[:2]) < size:
            continue
        y, x = (int(rng.integers(s - size + 1)) for s in img.shape[:2])
        patches.append(img[y : y + size, x : x + size])
    if not patches:
        raise DaekitError(f"{data_dir}: no photo is {size} x {size} pixels or larger")
    clean = torch.from_numpy(np.stack(patches)).permute(0, 3, 1, 2).float()
    return parse_noise(noise_spec)(clean, make_generator(seed))


def deepen(model: nn.Module, spec: dict, after: int, dilations: list[int], batch: torch.Tensor) -> nn.Module:
    """A residual model with identity layers of the given dilations inserted after conv layer `after` (1-based)."""
    old_layers = convs_and_norms(model.body)
    depth = len(old_layers)
    if not 1 <= after <= depth - 1:
        raise DaekitError(f"--after must lie in 1..{depth - 1} (a conv layer followed by a ReLU), got {after}")
    old_dil = [conv.dilation[0] for conv, _ in old_layers]
    args = {k: v for k, v in spec.items() if k != "name"}
    new = create_model("residual", **{**args, "depth": depth + len(dilations),
                                      "dilation": old_dil[:after] + dilations + old_dil[after:]})
    new_layers = convs_and_norms(new.body)
    kept = list(range(after)) + list(range(after + len(dilations), len(new_layers)))
    for (oc, on), j in zip(old_layers, kept):
        nc, nn_ = new_layers[j]
        nc.load_state_dict(oc.state_dict())
        if on is not None:
            nn_.load_state_dict(on.state_dict())

    # the activations after conv `after`'s ReLU, per channel, on the calibration batch (eval mode: running stats)
    seen: list[torch.Tensor] = []
    relu_after = [m for m in model.body if isinstance(m, nn.ReLU)][after - 1]
    hook = relu_after.register_forward_hook(lambda _m, _i, out: seen.append(out.detach().double()))
    model.eval()
    with torch.no_grad():
        model(batch)
    hook.remove()
    act = seen[0]
    mean, var = act.mean(dim=(0, 2, 3)), act.var(dim=(0, 2, 3), unbiased=False)
    with torch.no_grad():
        for conv, norm in new_layers[after : after + len(dilations)]:
            conv.weight.zero_()
            conv.weight[:, :, 1, 1] = torch.eye(conv.weight.shape[0], conv.weight.shape[1])
            if conv.bias is not None:
                conv.bias.zero_()
            if norm is not None:
                norm.running_mean.copy_(mean)
                norm.running_var.copy_(var)
                norm.weight.copy_(torch.sqrt(var + norm.eps))
                norm.bias.copy_(mean)
    return new


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("source", help="a shipped model name, a run folder or a checkpoint (a residual model)")
    p.add_argument("out", help="the deeper model's checkpoint (.safetensors), for train.init")
    p.add_argument("--after", type=int, required=True, help="insert after this conv layer (1-based)")
    p.add_argument("--dilations", required=True, help="one dilation per new layer, comma-separated (e.g. 2,3,5,7)")
    p.add_argument("--data-dir", required=True, help="photos for the activation statistics (the training photos)")
    p.add_argument("--patches", type=int, default=64, help="calibration patches (default 64)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    try:
        dil = [int(d) for d in a.dilations.split(",")]
        ck = load_checkpoint(weights_path(a.source))
        if ck.model_spec.get("name") != "residual":
            raise DaekitError(f"{a.source} holds a {ck.model_spec.get('name')!r} model; only 'residual' is deepened")
        model = build_model(ck)
        batch = calibration_batch(a.data_dir, ck.config.get("noise") or "gaussian:0..50", model.in_channels,
                                  a.patches, 80, a.seed)
        new = deepen(model, ck.model_spec, a.after, dil, batch)
        new.eval()
        with torch.no_grad():
            gap = float((new(batch) - model(batch)).abs().max())
        if gap > 1e-4:
            raise DaekitError(f"the deeper model differs from the source by {gap:.2g} (expected none)")
        cfg = dict(ck.config)
        cfg["model"] = {"name": "residual", "args": {k: v for k, v in new.spec.items() if k not in ("name", "in_channels", "image_size")}}
        save_checkpoint(a.out, new, cfg, info={"deepened_from": str(a.source), "after": a.after, "dilations": dil})
    except (DaekitError, ValueError) as e:
        sys.exit(f"deepen: {e}")
    print(f"wrote {a.out}: {sum(1 for _ in convs_and_norms(new.body))} conv layers, receptive field "
          f"{new.geometry.receptive_field} (was {model.geometry.receptive_field}); outputs equal to the source's "
          f"within {gap:.1e} on {len(batch)} patches")
    print("train with: --set \"model.args=" + json.dumps(cfg["model"]["args"]).replace('"', "") + "\"")


if __name__ == "__main__":
    main()
