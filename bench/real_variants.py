"""What the default colour model can and cannot do without retraining: inference-time variants on real camera
noise (PolyU), and what it does to near-clean photos.

    python bench/real_variants.py [--quick] [--polyu-limit 10] [--clean-limit 8] [--model photo-real]

* PolyU (every (100/N)-th photo, as bench/real.py picks them): the default (`photo-real`) one pass, beside
  variants that remove more of the correlated noise it leaves: its removed noise scaled by 1.5 (a blend
  beyond `--strength 1`); the model on the 4 pixel-shuffled half-resolution sub-images (the "PD" of Zhou et
  al. 2019, which makes correlated noise whiter); those then one full-resolution pass; the low band of the
  one-pass result replaced by a half-resolution pass's; white Gaussian noise (sigma 5) added before the
  model, the mean of two draws (so that a blind model sees a level it acts on); and the per-photo best of
  all of them (an oracle). The anchor, CBM3D with its best sigma, is bench/real.py's (40.18 dB on the same
  10 photos, eighth session).
* Photos with little noise (CBSD68): Gaussian sigma 1 on the 8-bit image (the same seeds as
  bench/photo.py), and the `camera` noise at ISO 100 and 400 (a camera in daylight): the default and
  photo-color against the input. A photo with little noise should not come out worse. CBSD68's references
  are film scans with their own grain, which any denoiser takes for noise, so the same check also runs on
  clean digital photos: PolyU's references (each the mean of hundreds of shots; other scenes than the
  noisy photos above), given to the model as they are.

* The strength curve: the one-pass result blended with the input (`--strength`, 0.5..1.5), PolyU, Gaussian
  sigma 1 and the PolyU references side by side. A model that removes more gains on PolyU and loses on clean
  photos along this curve; a candidate (`--model runs/...`) is better than the shipped default only where its
  curve lies above the default's, not merely further along it.

Targets (ours, for issue "Real photos"): the default does not make a near-clean photo worse (output minus
input >= 0 dB), with Gaussian sigma 1 and with ISO-100 camera noise. `--model` scores another model (a run
folder, a checkpoint or a shipped name) in the default's place.
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, parser, result  # noqa: E402
from photo import noisy_image, noisy_photo  # noqa: E402
from real import crop, psnr  # noqa: E402

from daekit.api import Denoiser  # noqa: E402
from daekit.errors import DaekitError  # noqa: E402
from daekit.images import find_images, read_image  # noqa: E402
from daekit.pretrained import default_for  # noqa: E402
from daekit.wide import shuffled  # noqa: E402

STRENGTHS = (0.5, 0.75, 1.0, 1.25, 1.5)  # the strength curve's points (noisy + s * (one pass - noisy))


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
    draws = [run(noisy + np.random.default_rng(k).normal(0.0, 5 / 255, noisy.shape).astype(np.float32)) for k in range(2)]
    return {"one pass": one, "removed x1.5": noisy + 1.5 * (one - noisy), "sub-images": pd, "sub-images + pass": run(pd),
            "low band swap": one - low_band(one) + cv2.resize(half, (w, h), interpolation=cv2.INTER_LINEAR),
            "noise added (s5, x2)": np.mean(draws, axis=0)}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--polyu-limit", type=int, default=10)
    p.add_argument("--clean-limit", type=int, default=8, help="CBSD68 photos for the near-clean check")
    p.add_argument("--model", default=default_for(3), help="the model scored as the default (default: the shipped one)")
    a = p.parse_args()
    try:
        default = Denoiser.load(a.model, device=a.device)
    except DaekitError as e:
        p.error(f"--model: {e}")
    print(f"machine: {machine(a.device)}")
    label = str(default.info.get("name") or a.model)
    blends: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {
        "PolyU": [], "Gaussian sigma 1": [], "PolyU references": []}

    def run(x: np.ndarray) -> np.ndarray:
        return default.denoise_image(np.ascontiguousarray(x, dtype=np.float32), tile=None)

    pairs = sorted((Path(a.data_dir) / "polyu").glob("*_real.*"))
    n = 2 if a.quick else a.polyu_limit
    step = max(1, len(pairs) // n)
    pick = pairs[::step][:n]
    rows, removed, noise = [], [], []
    for f in pick:
        noisy = crop(read_image(f)[0], a.quick)
        clean = crop(read_image(f.with_name(f.name.replace("_real", "_mean")))[0], a.quick)
        outs = variants(run, noisy)
        blends["PolyU"].append((noisy, outs["one pass"], clean))
        noise.append(255 * float(np.std(noisy - clean)))  # the noise (noisy - reference), 0-255
        removed.append(255 * float(np.std(noisy - outs["one pass"])))  # what the model takes away, 0-255
        row = {"noisy": psnr(noisy, clean), **{k: psnr(v, clean) for k, v in outs.items()}}
        row["best of them"] = max(v for k, v in row.items() if k != "noisy")
        rows.append(row)
    if rows:
        print(f"\nPolyU, {len(rows)} photos, {label} (blind): mean PSNR (dB)")
        for k in rows[0]:
            print(f"  {k:<20} {np.mean([r[k] for r in rows]):6.2f}")
        print(f"  std of the noise (noisy - reference) {min(noise):.1f}..{max(noise):.1f}, of what one pass removes "
              f"{min(removed):.1f}..{max(removed):.1f} (0-255)")

    models = {label: default, "photo-color": Denoiser.load("photo-color", device=a.device)}
    refs = [f.with_name(f.name.replace("_real", "_mean")) for f in pairs[step // 2:: step][:n]]  # other scenes
    if refs:
        ref_scores = {k: [] for k in models}
        for f in refs:
            clean = crop(read_image(f)[0], a.quick).astype(np.float32)
            for k, den in models.items():
                out = den.denoise_image(clean, tile=None)
                ref_scores[k].append(psnr(out, clean))
                if den is default:
                    blends["PolyU references"].append((clean, out, clean))
        print(f"\nClean digital photos: {len(refs)} PolyU references as input, PSNR of the output against them (dB): "
              + ", ".join(f"{k} {np.mean(v):.2f}" for k, v in ref_scores.items()))

    files = find_images([Path(a.data_dir) / "cbsd68"])[: 2 if a.quick else a.clean_limit]
    conditions = {"Gaussian sigma 1": lambda c, i: noisy_image(c, 1, i),
                  "camera ISO 100": lambda c, i: noisy_photo(c, "camera:iso=100", i),
                  "camera ISO 400": lambda c, i: noisy_photo(c, "camera:iso=400", i)}
    scores = {cond: {"input": [], **{k: [] for k in models}} for cond in conditions}
    from_clean = []
    for i, f in enumerate(files):
        clean = crop(read_image(f)[0], a.quick)
        from_clean.append(255 * float(np.std(clean - default.denoise_image(clean, tile=None))))
        for cond, make in conditions.items():
            noisy = make(clean, i)
            scores[cond]["input"].append(psnr(noisy, clean))
            for k, den in models.items():
                out = den.denoise_image(noisy, tile=None)
                scores[cond][k].append(psnr(out, clean))
                if den is default and cond in blends:
                    blends[cond].append((noisy, out, clean))
    print(f"\nPhotos with little noise: {len(files)} CBSD68 photos, mean PSNR (dB)")
    print(f"  {'':<20}" + "".join(f"{k:>14}" for k in scores[next(iter(conditions))]))
    for cond, row in scores.items():
        print(f"  {cond:<20}" + "".join(f"{np.mean(v):>14.2f}" for v in row.values()))
    print(f"  std of what the default removes from the clean photos themselves: {min(from_clean):.1f}..{max(from_clean):.1f}")
    print(f"\nStrength curve of {label}: mean PSNR (dB) of noisy + s * (one pass - noisy)")
    print(f"  {'s':<20}" + "".join(f"{s:>7.2f}" for s in STRENGTHS))
    for cond, items in blends.items():
        if items:
            print(f"  {cond:<20}" + "".join(f"{np.mean([psnr(n + s * (o - n), c) for n, o, c in items]):>7.2f}" for s in STRENGTHS))
    for cond, target in (("Gaussian sigma 1", "real_default_near_clean_minus_input"), ("camera ISO 100", "real_default_iso100_minus_input")):
        result(target, np.mean(scores[cond][label]) - np.mean(scores[cond]["input"]), ">=", 0.0, a.quick)


if __name__ == "__main__":
    main()
