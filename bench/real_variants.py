"""What the default colour model can and cannot do without retraining: inference-time variants on real camera
noise (PolyU), and what it does to near-clean photos.

    python bench/real_variants.py [--quick] [--polyu-limit 10] [--clean-limit 8]

* PolyU (every (100/N)-th photo, as bench/real.py picks them): the default (`photo-real`) one pass, beside
  variants that remove more of the correlated noise it leaves: its removed noise scaled by 1.5 (a blend
  beyond `--strength 1`); the model on the 4 pixel-shuffled half-resolution sub-images (the "PD" of Zhou et
  al. 2019, which makes correlated noise whiter); those then one full-resolution pass; the low band of the
  one-pass result replaced by a half-resolution pass's; and the per-photo best of all of them (an oracle).
  The anchor, CBM3D with its best sigma, is bench/real.py's (40.18 dB on the same 10 photos, eighth session).
* Near-clean photos (CBSD68, Gaussian sigma 1 on the 8-bit image, the same seeds as bench/photo.py): the
  default and photo-color against the input. A photo with almost no noise should not come out worse.

Target (ours, for issue "Real photos"): the default does not make a near-clean photo worse (output minus
input >= 0 dB).
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, parser, result  # noqa: E402
from photo import noisy_image  # noqa: E402
from real import crop, psnr  # noqa: E402

from daekit.api import Denoiser  # noqa: E402
from daekit.images import find_images, read_image  # noqa: E402
from daekit.pretrained import default_for  # noqa: E402


def shuffled(run, x: np.ndarray) -> np.ndarray:
    """`run` on the 2 x 2 pixel-shuffled sub-images of `x`, put back in place."""
    out = np.empty_like(x)
    for i in range(2):
        for j in range(2):
            out[i::2, j::2] = run(np.ascontiguousarray(x[i::2, j::2]))
    return out


def low_band(x: np.ndarray) -> np.ndarray:
    """`x` averaged over 2 x 2 blocks and scaled back up (bilinear): its low frequencies."""
    h, w = x.shape[:2]
    half = cv2.resize(x, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    return cv2.resize(half, (w, h), interpolation=cv2.INTER_LINEAR)


def variants(run, noisy: np.ndarray) -> dict[str, np.ndarray]:
    one = run(noisy)
    pd = shuffled(run, noisy)
    h, w = noisy.shape[:2]
    half = run(cv2.resize(noisy, (w // 2, h // 2), interpolation=cv2.INTER_AREA))
    return {"one pass": one, "removed x1.5": noisy + 1.5 * (one - noisy), "sub-images": pd, "sub-images + pass": run(pd),
            "low band swap": one - low_band(one) + cv2.resize(half, (w, h), interpolation=cv2.INTER_LINEAR)}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--polyu-limit", type=int, default=10)
    p.add_argument("--clean-limit", type=int, default=8, help="CBSD68 photos for the near-clean check")
    a = p.parse_args()
    print(f"machine: {machine(a.device)}")
    default = Denoiser.load(default_for(3), device=a.device)

    def run(x: np.ndarray) -> np.ndarray:
        return default.denoise_image(np.ascontiguousarray(x, dtype=np.float32), tile=None)

    pairs = sorted((Path(a.data_dir) / "polyu").glob("*_real.*"))
    n = 2 if a.quick else a.polyu_limit
    pick = pairs[:: max(1, len(pairs) // n)][:n]
    rows, removed = [], []
    for f in pick:
        noisy = crop(read_image(f)[0], a.quick)
        clean = crop(read_image(f.with_name(f.name.replace("_real", "_mean")))[0], a.quick)
        outs = variants(run, noisy)
        removed.append(255 * float(np.std(noisy - outs["one pass"])))  # what the model takes away, 0-255
        row = {"noisy": psnr(noisy, clean), **{k: psnr(v, clean) for k, v in outs.items()}}
        row["best of them"] = max(v for k, v in row.items() if k != "noisy")
        rows.append(row)
    if rows:
        print(f"\nPolyU, {len(rows)} photos, {default.info.get('name')} (blind): mean PSNR (dB)")
        for k in rows[0]:
            print(f"  {k:<20} {np.mean([r[k] for r in rows]):6.2f}")
        noise = [255 * float(np.std(crop(read_image(f)[0], a.quick) - crop(read_image(f.with_name(f.name.replace("_real", "_mean")))[0], a.quick)))
                 for f in pick]
        print(f"  std of the noise (noisy - reference) {min(noise):.1f}..{max(noise):.1f}, of what one pass removes "
              f"{min(removed):.1f}..{max(removed):.1f} (0-255)")

    files = find_images([Path(a.data_dir) / "cbsd68"])[: 2 if a.quick else a.clean_limit]
    models = {default.info.get("name"): default, "photo-color": Denoiser.load("photo-color", device=a.device)}
    scores: dict[str, list[float]] = {"input": [], **{k: [] for k in models}}
    from_clean = []
    for i, f in enumerate(files):
        clean = crop(read_image(f)[0], a.quick)
        noisy = noisy_image(clean, 1, i)
        scores["input"].append(psnr(noisy, clean))
        from_clean.append(255 * float(np.std(clean - default.denoise_image(clean, tile=None))))
        for k, den in models.items():
            scores[k].append(psnr(den.denoise_image(noisy, tile=None), clean))
    print(f"\nNear-clean photos: {len(files)} CBSD68 photos with Gaussian sigma 1: mean PSNR (dB)")
    for k, v in scores.items():
        print(f"  {k:<20} {np.mean(v):6.2f}")
    print(f"  std of what the default removes from the clean photos themselves: {min(from_clean):.1f}..{max(from_clean):.1f}")
    result("real_default_near_clean_minus_input", np.mean(scores[default.info.get("name")]) - np.mean(scores["input"]),
           ">=", 0.0, a.quick)


if __name__ == "__main__":
    main()
