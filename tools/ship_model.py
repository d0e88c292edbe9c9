"""Copies a run's best checkpoint into the package as a shipped model (weights + JSON sidecar).

    python tools/ship_model.py runs/photo-gray photo-gray
The training folder is dropped from the stored config (it was a path on the training machine);
the index src/daekit/pretrained/models.json is edited by hand with the measured figures.
"""
import sys
from pathlib import Path

from daekit.checkpoint import build_model, find_checkpoint, load_checkpoint, save_checkpoint

run, name = sys.argv[1], sys.argv[2]
ck = load_checkpoint(find_checkpoint(run, "best"))
cfg = dict(ck.config)
cfg["data"] = {**cfg["data"], "dir": None}
cfg["out"] = f"runs/{name}"
dest = Path(__file__).resolve().parents[1] / "src" / "daekit" / "pretrained" / f"{name}.safetensors"
save_checkpoint(dest, build_model(ck), cfg, info={k: ck.info[k] for k in ("epoch", "val_psnr", "val_ssim") if k in ck.info})
print(f"wrote {dest} ({dest.stat().st_size / 1e6:.2f} MB)")
