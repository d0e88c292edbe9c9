"""Copies a run's best checkpoint into the package as a shipped model (weights + JSON sidecar).

    python tools/ship_model.py runs/photo-gray photo-gray [--init runs/photo-gray-stage1]
The training folder is dropped from the stored config (it was a path on the training machine); so is
`train.init` (the run it started from), unless `--init` names it as the committed recipe does. The
index src/daekit/pretrained/models.json is edited by hand with the measured figures.
"""
import argparse
from pathlib import Path

from daekit.checkpoint import build_model, find_checkpoint, load_checkpoint, save_checkpoint

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("run", help="run folder (its best checkpoint is shipped) or a checkpoint file")
p.add_argument("name", help="shipped model name")
p.add_argument("--init", default=None, help="the recipe's train.init (a path on the training machine is not kept)")
a = p.parse_args()
ck = load_checkpoint(find_checkpoint(a.run, "best"))
cfg = dict(ck.config)
cfg["data"] = {**cfg["data"], "dir": None}
cfg["train"] = {**cfg["train"], "init": a.init}
cfg["out"] = f"runs/{a.name}"
dest = Path(__file__).resolve().parents[1] / "src" / "daekit" / "pretrained" / f"{a.name}.safetensors"
kept = ("epoch", "val_psnr", "val_ssim", "soup", "precise_bn")  # the run's, tools/soup.py's, tools/precise_bn.py's
save_checkpoint(dest, build_model(ck), cfg, info={k: ck.info[k] for k in kept if k in ck.info})
print(f"wrote {dest} ({dest.stat().st_size / 1e6:.2f} MB)")
