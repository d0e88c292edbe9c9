"""Averages the weights of models fine-tuned from one starting point into one model (a "model soup").

    python tools/soup.py runs/photo-real-stage4 runs/photo-real runs/photo-real-soup.safetensors

Two fine-tunes from the same weights stay in one basin of the loss, and the mean of their weights is often a
better model than either (Wortsman et al. 2022, "Model soups"): here photo-real's stage 4 (patches enlarged 1..4x)
and stage 5 (the same with half the patches at scale 1) average into a model that keeps stage 4's real-photo
figures and most of what stage 5 gives back on photos with little noise (docs/benchmarks.md, twenty-sixth session).
Every floating-point tensor is averaged, BatchNorm's running statistics too; counters (`num_batches_tracked`) come
from the first source. Each source is a shipped model name, a run folder (its last checkpoint: the end of its
recipe) or a checkpoint file; all must be the same network. The output keeps the last source's config, with what
was averaged (and the sources' epochs and validation scores) in its info, and works wherever a checkpoint does
(tools/ship_model.py, `--model`, `train.init`).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from daekit.checkpoint import build_model, load_checkpoint, save_checkpoint
from daekit.errors import DaekitError
from daekit.pretrained import weights_path


def soup(states: list[dict[str, torch.Tensor]], weights: list[float]) -> dict[str, torch.Tensor]:
    """The weighted mean of state dicts with the same keys and shapes (in float64, stored in each tensor's dtype)."""
    first = states[0]
    for i, s in enumerate(states[1:], 2):
        if s.keys() != first.keys() or any(s[k].shape != first[k].shape for k in first):
            raise DaekitError(f"source {i} is not the same network as source 1 (other layers or shapes)")
    total = sum(weights)
    return {k: (sum(w * s[k].double() for w, s in zip(weights, states)) / total).to(v.dtype)
            if v.is_floating_point() else v.clone() for k, v in first.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sources", nargs="+", help="two or more models, then the output checkpoint (.safetensors)")
    p.add_argument("--weights", default=None, help="comma-separated weight per source (default: equal)")
    a = p.parse_args(argv)
    *sources, out = a.sources
    try:
        if len(sources) < 2:
            raise DaekitError("give two or more models to average, then the output checkpoint")
        if not out.endswith(".safetensors"):
            raise DaekitError(f"the output must be a .safetensors file, got {out}")
        files = [weights_path(s, "last") for s in sources]
        if Path(out).exists() and any(Path(out).resolve() == f.resolve() for f in files):
            raise DaekitError(f"the output {out} is one of the sources")
        weights = [1.0] * len(sources)
        if a.weights is not None:
            try:
                weights = [float(w) for w in a.weights.split(",")]
            except ValueError:
                raise DaekitError(f"--weights must be numbers separated by commas, got {a.weights!r}") from None
            if len(weights) != len(sources) or not all(0 <= w < float("inf") for w in weights) or sum(weights) <= 0:
                raise DaekitError(f"--weights needs {len(sources)} non-negative finite numbers, not all 0, "
                                  f"got {a.weights!r}")
        cks = [load_checkpoint(f) for f in files]
        for i, ck in enumerate(cks[1:], 2):
            if ck.model_spec != cks[0].model_spec:
                raise DaekitError(f"{sources[i - 1]} is not the same network as {sources[0]}: {ck.model_spec} "
                                  f"against {cks[0].model_spec}")
        models = [build_model(ck) for ck in cks]
        model = models[-1]
        model.load_state_dict(soup([m.state_dict() for m in models], weights))
        # the sources' own epochs and validation scores, not the soup's: it was not validated as a run is
        own = [{k: ck.info[k] for k in ("epoch", "val_psnr") if k in ck.info} for ck in cks]
        info = {"soup": [{"source": str(s), "weight": w, **o} for s, w, o in zip(sources, weights, own)]}
        save_checkpoint(out, model, cks[-1].config, info=info)
    except (DaekitError, ValueError, OSError) as e:
        print(f"soup: {e}", file=sys.stderr)
        return 1
    print(f"wrote {out}: the weighted mean of {len(sources)} models ({', '.join(map(str, sources))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
