"""The lesson's comparison: a compression AE and a DAE of one architecture, and classical denoisers,
on clean inputs and over sweeps of noise levels. Writes results.json and samples for the report.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable

import torch

from .api import Denoiser
from .baselines import BASELINES, tune
from .config import Config, config_to_dict
from .data import ImageData, load_configured
from .errors import DaekitError
from .io import atomic_write_text, json_text, save_tensors
from .metrics import psnr, ssim
from .noise import Compose, parse_noise, parse_sweep  # noqa: F401 - parse_sweep is compare's API too
from .seeding import COMPARE_VALIDATION_OFFSET
from .train import COLLAPSE_MARGIN_DB, constant_psnr, fit

DEFAULT_METHODS = ["gaussian-blur", "median", "tv", "wavelet", "nlm"]
DEFAULT_SWEEPS = {
    "masking": "masking:10%,30%,50%,70%",  # the lesson's way: a percentage of the pixels
    "salt-and-pepper": "salt-and-pepper:10%,20%,30%,50%",
    "gaussian": "gaussian:10,25,50,75,100",
    "poisson": "poisson:100,30,10,3",
    "speckle": "speckle:0.1,0.2,0.4,0.6",
}
GRID_SAMPLES = 8


def default_sweeps(noise: str) -> list[str]:
    """The sweeps that go with a training noise: its own family (the first non-clip part), or masking for none."""
    n = parse_noise(noise)
    parts = list(n.parts) if isinstance(n, Compose) else [n]
    families = [p.name for p in parts if p.name in DEFAULT_SWEEPS] or ["masking"]
    return [lvl for fam in dict.fromkeys(families) for lvl in parse_sweep(DEFAULT_SWEEPS[fam])]


def level_of(spec: str) -> tuple[str, float]:
    """(family, value) of a single-noise spec, for plotting."""
    noise = parse_noise(spec)  # "masking:30%" is 0.3
    return noise.name, float(noise.value) if noise.value is not None else 0.0


# The lesson's figures compare methods at fine margins on tiny images: computed in fp32 on every machine
# (bf16 inference, `auto` on AMX CPUs, pays off only on photos)
EXACT = "fp32"


def train_pair(cfg: Config, out: Path, progress: bool = True, overwrite: bool = False) -> tuple[Denoiser, Denoiser]:
    """Trains `cfg` twice into out/ae (noise none) and out/dae (cfg.noise): the same architecture, data and seed."""
    if parse_noise(cfg.noise).spec == "none":
        raise DaekitError("compare needs a corruption for the DAE (--noise), not 'none'")
    pair = []
    for name, noise in (("ae", "none"), ("dae", cfg.noise)):
        c = dataclasses.replace(cfg, noise=noise, out=str(out / name))
        if progress:
            print(f"training the {'compression AE' if name == 'ae' else 'DAE'} ({c.model.name}, noise {noise}) -> {c.out}")
        r = fit(c, overwrite=overwrite, progress=progress)
        pair.append(Denoiser.from_fit(r, precision=EXACT))
    return pair[0], pair[1]


def load_pair(ae_dir: str | Path, dae_dir: str | Path) -> tuple[Denoiser, Denoiser]:
    """Reuses two existing runs; they must have been trained on the same data."""
    ae, dae = Denoiser.load(ae_dir, precision=EXACT), Denoiser.load(dae_dir, precision=EXACT)
    a, d = ae.config.data, dae.config.data
    if (a.name, a.resize) != (d.name, d.resize):
        raise DaekitError(
            f"runs were trained on different data: {ae_dir} on {a.name}{f' ({a.resize}px)' if a.resize else ''}, "
            f"{dae_dir} on {d.name}{f' ({d.resize}px)' if d.resize else ''}"
        )
    return ae, dae


def _scores(out: torch.Tensor, clean: torch.Tensor) -> dict[str, float]:
    return {"psnr": float(psnr(out, clean).mean()), "ssim": float(ssim(out, clean).mean())}


REMOVED_SIGNAL_MARGIN = 0.05  # 5% more of the image missing from the output than from the input


def missing_image(x: torch.Tensor, clean: torch.Tensor) -> float:
    """Mean over images of the share of the clean image missing from `x`: the coefficient of the
    (centred) clean image in ``clean - x``. 0 when x holds the image whole (plus anything independent of it,
    like white noise), 1 when x is blank, 0.5 when half the pixels are masked, > 0 for a blurred image."""
    e, c = (clean - x).flatten(1).double(), clean.flatten(1).double()
    c = c - c.mean(1, keepdim=True)
    return float(((e * c).sum(1) / (c * c).sum(1).clamp_min(1e-12)).mean())


def residual_check(noisy: torch.Tensor, out: torch.Tensor, clean: torch.Tensor) -> dict[str, float]:
    """Whether a method removed image along with the noise: the share of the image missing from its output
    against the share missing from its input (``missing_image``). Masking takes image away (30% masking:
    ~0.3 missing), additive noise does not (~0); a method that fills the holes lowers the share, a blur
    raises it. "removed signal" when the output lacks REMOVED_SIGNAL_MARGIN more of the image than the
    input did. (An earlier check compared correlations with the image, and called doing nothing at all to
    a masked image "removed signal".)"""
    before, after = missing_image(noisy.clamp(0, 1), clean), missing_image(out, clean)
    return {"missing_in": before, "missing_out": after, "removed_signal": bool(after > before + REMOVED_SIGNAL_MARGIN)}


def run_comparison(
    ae: Denoiser,
    dae: Denoiser,
    data: ImageData,
    sweeps: list[str],
    methods: list[str],
    *,
    test_limit: int | None = 500,
    val_limit: int = 100,
    seed: int = 0,
    progress: Callable[[str], None] | None = print,
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Evaluates AE, DAE and the classical methods; returns (results, image samples for the report)."""
    for m in methods:
        BASELINES.get(m)()  # unknown names and missing optional packages fail before any work
    test = data.test[:test_limit] if test_limit else data.test
    val = data.val[:val_limit]
    log = progress or (lambda _: None)
    results: dict[str, Any] = {
        "data": data.name, "image_size": list(data.image_size), "test_images": len(test), "val_images": len(val),
        "ae_run": ae.config.out, "dae_run": dae.config.out, "train_noise": dae.config.noise,
        "model": dae.model.spec, "methods": methods, "clean": {}, "levels": [], "seconds": {},
    }
    samples: dict[str, torch.Tensor] = {"clean": test[:GRID_SAMPLES]}
    for name, den in (("ae", ae), ("dae", dae)):
        results["clean"][name] = _scores(den.denoise_tensor(test), test)
    t_all = time.perf_counter()
    for i, spec in enumerate(sweeps):
        noisy = Denoiser.corrupt(test, spec, seed)
        noisy_val = Denoiser.corrupt(val, spec, seed + COMPARE_VALIDATION_OFFSET)
        row: dict[str, Any] = {"noise": spec, "family": level_of(spec)[0], "level": level_of(spec)[1], "methods": {}}
        outs = {"input": noisy.clamp(0, 1), "ae": ae.denoise_tensor(noisy), "dae": dae.denoise_tensor(noisy)}
        for m in methods:
            t0 = time.perf_counter()
            method, val_psnr = tune(m, noisy_val, val)
            outs[m] = method.denoise_tensor(noisy)
            row["methods"][m] = {"params": method.describe(), "val_psnr": val_psnr, "seconds": time.perf_counter() - t0}
        for name, out in outs.items():
            row["methods"].setdefault(name, {}).update(_scores(out, test))
            if name != "input":
                row["methods"][name]["residual"] = residual_check(noisy, out, test)
        best_classical = max(methods, key=lambda m: row["methods"][m]["psnr"]) if methods else None
        row["best_classical"] = best_classical
        row["best"] = max(row["methods"], key=lambda m: row["methods"][m]["psnr"])
        results["levels"].append(row)
        for name in ("ae", "dae"):
            samples[f"{i}/{name}"] = outs[name][:GRID_SAMPLES]
        samples[f"{i}/input"] = outs["input"][:GRID_SAMPLES]
        if best_classical:
            samples[f"{i}/classical"] = outs[best_classical][:GRID_SAMPLES]
        m = row["methods"]
        log(f"  {spec:<22} input {m['input']['psnr']:6.2f}  AE {m['ae']['psnr']:6.2f}  DAE {m['dae']['psnr']:6.2f}"
            + (f"  best classical {best_classical} {m[best_classical]['psnr']:6.2f}" if best_classical else "") + " dB")
    results["seconds"]["evaluation"] = time.perf_counter() - t_all
    results["constant_psnr"] = constant_psnr(test)
    results["collapsed"] = collapsed_models(results)
    return results, samples


def collapsed_models(results: dict[str, Any]) -> list[str]:
    """The models ("ae", "dae") whose best PSNR, on clean inputs and at every level, is within
    COLLAPSE_MARGIN_DB of a constant image's: their output hardly depends on their input (a sigmoid output
    stuck at 0, say). Training longer, another loss (train.loss auto/bce) or learning rate is the remedy."""
    floor = results["constant_psnr"] + COLLAPSE_MARGIN_DB
    return [name for name in ("ae", "dae")
            if max([results["clean"][name]["psnr"]] + [r["methods"][name]["psnr"] for r in results["levels"]]) <= floor]


def save_comparison(out: Path, results: dict[str, Any], samples: dict[str, torch.Tensor]) -> None:
    """Writes out/results.json and out/samples.safetensors (atomically)."""
    out.mkdir(parents=True, exist_ok=True)
    save_tensors(out / "samples.safetensors", {k: v.float() for k, v in samples.items()})
    atomic_write_text(out / "results.json", json_text(results, indent=2) + "\n")


def compare(
    cfg: Config | None,
    out: str | Path,
    *,
    runs: tuple[str, str] | None = None,
    sweeps: list[str] | None = None,
    methods: list[str] | None = None,
    test_limit: int | None = 500,
    progress: bool = True,
    overwrite: bool = False,
    report: bool = True,
) -> dict[str, Any]:
    """Trains (or reuses) the AE/DAE pair, compares everything, writes results and the report.

    Args:
        cfg: Training config of the DAE (its noise is the DAE's corruption); ignored with `runs`.
        out: Folder of the comparison (holds ae/ and dae/ when they are trained here).
        runs: (ae_run, dae_run) to reuse instead of training.
        sweeps: Noise levels (specs) to evaluate; default: the training noise's family.
        methods: Classical methods; default: all but the optional BM3D.
        test_limit: Evaluate on the first N test images (None: all).
        progress: Print progress.
        overwrite: Replace AE/DAE runs already in `out` (otherwise refused).
        report: Write report.html / report.md (the demo writes its lesson report itself, once).
    """
    from .report import build_report

    out = Path(out)
    methods = DEFAULT_METHODS if methods is None else methods
    for m in methods:
        BASELINES.get(m)()
    t0 = time.perf_counter()
    if runs:
        ae, dae = load_pair(*runs)
    else:
        assert cfg is not None  # its noise was checked when the config was built
        ae, dae = train_pair(cfg, out, progress, overwrite)
    t_train = time.perf_counter() - t0
    sweeps = sweeps or default_sweeps(dae.config.noise)
    d = dae.config.data
    data = load_configured(dataclasses.replace(d, download=False), dae.config.seed)
    if progress:
        print(f"comparing on {d.name} ({min(len(data.test), test_limit or len(data.test))} test images): clean inputs and {len(sweeps)} noise levels")
    results, samples = run_comparison(ae, dae, data, sweeps, methods, test_limit=test_limit, progress=print if progress else None)
    results["seconds"]["training"] = t_train
    results["seconds"]["total"] = time.perf_counter() - t0
    results["config"] = config_to_dict(dae.config)
    save_comparison(out, results, samples)
    if report:
        build_report(out)
    return results


def format_comparison(results: dict[str, Any]) -> str:
    """A short PSNR table: clean reconstruction, then each noise level (best of the row marked *)."""
    c = results["clean"]
    lines = [f"\nclean inputs (reconstruction PSNR): compression AE {c['ae']['psnr']:.2f} dB, DAE {c['dae']['psnr']:.2f} dB",
             f"{'noise':<22}{'input':>8}{'AE':>8}{'DAE':>8}  best classical (PSNR dB)"]
    from .report import collapse_warning

    warning = collapse_warning(results)
    for r in results["levels"]:
        m = r["methods"]
        mark = {k: "*" if k == r["best"] else " " for k in m}
        bc = r["best_classical"]
        classical = f"{bc} {m[bc]['psnr']:.2f}{mark[bc]}" if bc else "-"
        lines.append(f"{r['noise']:<22}{m['input']['psnr']:>7.2f}{mark['input']}{m['ae']['psnr']:>7.2f}{mark['ae']}"
                     f"{m['dae']['psnr']:>7.2f}{mark['dae']}  {classical}")
    return "\n".join(lines + ([warning] if warning else []))
