"""Figures of a run: image grids (clean / corrupted / denoised) and learning curves, written atomically."""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from .io import atomic_write_bytes, atomic_write_text  # noqa: E402


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _save(fig: Any, path: str | Path) -> Path:
    atomic_write_bytes(path, _png(fig))
    return Path(path)


def grid_figure(rows: dict[str, torch.Tensor], title: str = "", columns: int = 10, cell: float = 1.1) -> Any:
    """A figure with one labelled row per entry of `rows`, each a (N, C, H, W) tensor in [0, 1].

    `cell` is the size of one image in inches (photographs want more than digits).
    """
    n = min(columns, *(len(v) for v in rows.values()))
    fig, axes = plt.subplots(len(rows), n, figsize=(cell * n + 1.6, (cell + 0.1) * len(rows) + 0.5), squeeze=False)
    for r, (label, imgs) in enumerate(rows.items()):
        for c in range(n):
            ax = axes[r][c]
            img = imgs[c].detach().float().clamp(0, 1).cpu()
            if img.shape[0] == 1:
                ax.imshow(img[0].numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            else:
                ax.imshow(img.permute(1, 2, 0).numpy(), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r][0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def save_grid(rows: dict[str, torch.Tensor], path: str | Path, title: str = "", columns: int = 10) -> Path:
    """Writes ``grid_figure`` as a PNG, e.g. rows {"clean": ..., "corrupted": ..., "denoised": ...}."""
    return _save(grid_figure(rows, title, columns), path)


def save_learning_curves(histories: dict[str, list[dict[str, Any]]], path: str | Path) -> Path | None:
    """Training loss and validation PSNR per epoch of one or more runs (``learning_curves_png``) as a PNG."""
    png = learning_curves_png(histories)
    if png is None:
        return None
    atomic_write_bytes(path, png)
    return Path(path)


# -- the comparison report ------------------------------------------------------------------------------

def _read_history(run: str | Path) -> list[dict[str, Any]]:
    path = Path(run) / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def psnr_curves(results: dict[str, Any]) -> bytes:
    """PSNR against noise level, one panel per noise family, one line per method."""
    families = list(dict.fromkeys(r["family"] for r in results["levels"]))
    fig, axes = plt.subplots(1, len(families), figsize=(5.2 * len(families), 4.4), squeeze=False)
    for ax, fam in zip(axes[0], families):
        rows = [r for r in results["levels"] if r["family"] == fam]
        percent = fam in PERCENT_FAMILIES
        xs = [100 * r["level"] if percent else r["level"] for r in rows]
        others = iter(CLASSICAL_COLORS * 2)  # not the AE's orange nor the DAE's blue
        for name in rows[0]["methods"]:
            style = {"input": dict(ls=":", color="gray"), "ae": dict(lw=2.2, color="tab:orange"),
                     "dae": dict(lw=2.6, color="tab:blue")}.get(name) or dict(lw=1, alpha=0.8, color=next(others))
            ax.plot(xs, [r["methods"][name]["psnr"] for r in rows], marker="o", ms=4 if len(xs) > 1 else 7,
                    label=_label(name), **style)
        if len(xs) == 1:  # one level: points over that level, not a line over a hair-thin axis
            ax.set_xticks(xs)
            ax.set_xlim(xs[0] - 1, xs[0] + 1)
        ax.set_xlabel(f"{fam} level" + (" (sigma, 0-255)" if fam == "gaussian" else " (% of the pixels)" if percent else ""))
        ax.set_ylabel("PSNR (dB)")
        ax.set_title(f"denoising {fam} noise")
        ax.grid(alpha=0.3)
        # below the axes: inside, the legend covered the DAE's curve
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, frameon=False)
    fig.tight_layout()
    return _png(fig)


CLASSICAL_COLORS = ["tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan"]
PERCENT_FAMILIES = ("masking", "salt-and-pepper")  # levels that are a fraction of the pixels, shown as %


def _label(name: str) -> str:
    return {"input": "corrupted input", "ae": "compression AE", "dae": "denoising AE"}.get(name, name)


def collapse_warning(results: dict[str, Any]) -> str | None:
    """One sentence naming the collapsed models, or None."""
    names = results.get("collapsed") or []
    if not names:
        return None
    which = " and the ".join(_label(n) for n in names)
    return (f"warning: the {which} did not learn: {'their' if len(names) > 1 else 'its'} output is hardly better than a blank "
            f"image of the average grey ({results['constant_psnr']:.1f} dB) whatever the input; train longer, or change "
            "train.loss (auto picks bce for sigmoid outputs) or train.lr")


def noise_levels_png(digit: torch.Tensor, specs: list[str], seed: int = 0) -> bytes:
    """One image (1, C, H, W) corrupted at each of `specs`, side by side, labelled (percentages as written)."""
    from .noise import make_generator, parse_noise

    fig, axes = plt.subplots(1, len(specs) + 1, figsize=(1.45 * (len(specs) + 1), 1.9))
    panels = [("clean", digit)] + [(spec.replace(":", "\n"), parse_noise(spec)(digit, make_generator(seed)).clamp(0, 1)) for spec in specs]
    for ax, (label, x) in zip(axes, panels):
        ax.imshow(x[0, 0].numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(label, fontsize=8)
        ax.axis("off")
    return _png(fig)


def comparison_grid(results: dict[str, Any], samples: dict[str, torch.Tensor], level_index: int) -> bytes:
    row = results["levels"][level_index]
    rows = {"clean": samples["clean"], f"corrupted\n{row['noise']}": samples[f"{level_index}/input"],
            "compression AE": samples[f"{level_index}/ae"], "denoising AE": samples[f"{level_index}/dae"]}
    if f"{level_index}/classical" in samples:
        rows[f"best classical\n{row['best_classical']}"] = samples[f"{level_index}/classical"]
    title = f"{row['noise']}: DAE {row['methods']['dae']['psnr']:.1f} dB, AE {row['methods']['ae']['psnr']:.1f} dB"
    return _png(grid_figure(rows, title, columns=8))


def learning_curves_png(histories: dict[str, list[dict[str, Any]]]) -> bytes | None:
    histories = {k: v for k, v in histories.items() if v}
    if not histories:
        return None
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    for name, h in histories.items():
        e = [r["epoch"] for r in h]
        a.plot(e, [r["train_loss"] for r in h], marker="o", ms=2, label=name)
        b.plot(e, [r["val_psnr"] for r in h], marker="o", ms=2, label=name)
    a.set_yscale("log")
    a.set(xlabel="epoch", ylabel="training loss")
    b.set(xlabel="epoch", ylabel="validation PSNR (dB)")
    for ax in (a, b):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if len(histories) > 1:
        b.set_title("(a compression AE is validated on clean inputs, a DAE on corrupted ones)", fontsize=8)
    return _png(fig)


def filters_png(runs: dict[str, str | Path], count: int = 64) -> bytes | None:
    """First-layer weights as images, one panel per run: a dense model's filters span the whole image
    (Vincent et al.'s); a convolutional model's are its small kernels (3x3)."""
    from .checkpoint import find_checkpoint, load_checkpoint
    from .errors import DaekitError

    panels = {}
    for name, run in runs.items():
        try:
            ck = load_checkpoint(find_checkpoint(run))
        except DaekitError:  # a run that is gone just has no panel
            continue
        w = ck.state_dict.get("enc.weight")
        if w is None:
            w = ck.state_dict.get("encoder.0.weight")
        if w is not None and w.dim() == 4:  # conv kernels (out, in, kh, kw)
            panels[name] = _filter_canvas(w.flatten(1), tuple(w.shape[1:]), count)
            continue
        if w is None or w.dim() != 2:
            continue
        c, (h, wd) = ck.model_spec["in_channels"], ck.model_spec["image_size"]
        panels[name] = _filter_canvas(w, (c, h, wd), count)
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.4), squeeze=False)
    for ax, (name, canvas) in zip(axes[0], panels.items()):
        ax.imshow(canvas, cmap="gray", interpolation="nearest")
        ax.set_title(f"{_label(name)}: first-layer filters", fontsize=9)
        ax.axis("off")
    return _png(fig)


def _table_rows(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    methods = list(results["levels"][0]["methods"]) if results["levels"] else []
    # the lesson's columns first (input, AE, DAE), the classical methods after: on a narrow window they scroll
    methods = [m for m in ("input", "ae", "dae") if m in methods] + [m for m in methods if m not in ("input", "ae", "dae")]
    header = ["noise"] + [_label(m) for m in methods]
    rows = [["clean (reconstruction)"] + [
        f"{results['clean'][m]['psnr']:.2f} / {results['clean'][m]['ssim']:.3f}" if m in results["clean"] else "–" for m in methods
    ]]
    for r in results["levels"]:
        cells = [r["noise"]]
        for m in methods:
            s = r["methods"][m]
            txt = f"{s['psnr']:.2f} / {s['ssim']:.3f}"
            cells.append(f"**{txt}**" if m == r["best"] else txt)
        rows.append(cells)
    return header, rows


def _residual_rows(results: dict[str, Any]) -> list[list[str]]:
    out = []
    for r in results["levels"]:
        for m, s in r["methods"].items():
            res = s.get("residual")
            if res and (m in ("ae", "dae") or m == r["best_classical"]):
                flag = "removed signal" if res["removed_signal"] else "ok"
                out.append([r["noise"], _label(m), f"{100 * res['missing_in']:.0f}%", f"{100 * res['missing_out']:.0f}%", flag])
    return out


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Markdown table lines."""
    return ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    """An HTML table; a cell written **like this** (Markdown bold, the best of a row) is shown bold."""
    import html

    def cell(t: str) -> str:
        return f"<b>{html.escape(t[2:-2])}</b>" if t.startswith("**") else html.escape(t)

    head = "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"
    return ("<div class=\"scroll\"><table>" + head + "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in r) + "</tr>" for r in rows)
            + "</table></div>")


def _inline(text: str) -> str:
    """Escaped HTML of a sentence, its Markdown `code` spans as <code> (they printed as backticks) and
    **bold** as <strong>."""
    import html
    import re

    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)


RESIDUAL_HEADER = ["noise", "method", "image missing from the input", "from the output", "verdict"]
CLEANING_HEADER = ["corruption", "as is", "cleaned by conv DAE", "classifier trained on corruption", "conv DAE PSNR (dB)"]


def _cleaning_rows(m: dict[str, Any]) -> list[list[str]]:
    """Rows of the "cleaning before classifying" table (accuracies in %, best of each row in bold)."""
    rows = []
    for r in m.get("cleaning", []):
        acc = [r["as_is"], r["cleaned"], r["trained"]]
        best = max(acc)
        rows.append([r["noise"]] + [f"**{100 * a:.2f}%**" if a == best else f"{100 * a:.2f}%" for a in acc] + [f"{r['dae_psnr']:.2f}"])
    return rows


def _stack_section(stack_dir: Path | None) -> tuple[list[str], list[list[str]], list[tuple[str, str, bytes]]]:
    """Text lines, cleaning-table rows and figures of a `daekit stack` run for the lesson report (nothing if there is none)."""
    if stack_dir is None or not (stack_dir / "metrics.json").exists():
        return [], [], []
    m = json.loads((stack_dir / "metrics.json").read_text())
    lines = [f"Stacked denoising autoencoder ({stack_dir}): layers {m['layers']}, corruption {', '.join(m['noise'])}, "
             f"trained on {m.get('data', '?')}; pretraining {m['pretrain_seconds']:.0f} s, total {m['seconds']:.0f} s."]
    if "test_accuracy" in m:
        lines.append(f"Fine-tuned as a classifier: test accuracy {100 * m['test_accuracy']:.2f}% (error {100 * m['test_error']:.2f}%).")
    figs = []
    names = [("pretraining_curves.png", "Stacked DAE: greedy layer-wise pretraining"),
             ("filters_layer1.png", "Stacked DAE: first-layer units in input space"),
             ("confusion_matrix.png", "Stacked DAE classifier: confusion matrix on the test set"),
             ("cleaning.png", "Cleaning before classifying: corrupted test images and the conv DAE's output")]
    for name, cap in names:
        if (stack_dir / name).exists():
            figs.append((f"stack_{name}", cap, (stack_dir / name).read_bytes()))
    cleaning = _cleaning_rows(m)
    if cleaning:
        lines.append("Cleaning before classifying: the classifier's test accuracy on corrupted test images as they are, "
                     "after cleaning by a convolutional DAE trained on that corruption, and for the same stack fine-tuned "
                     "on corrupted training images instead.")
    return lines, cleaning, figs


def _markdown(blocks: list[tuple]) -> str:
    """The report's blocks as Markdown (figures referenced as figures/NAME), blank lines between blocks."""
    parts = []
    for kind, *b in blocks:
        if kind == "h":
            parts.append([f"{'#' * b[0]} {b[1]}"])
        elif kind == "p":
            parts.append([b[0]])
        elif kind == "lines":
            parts.append(list(b[0]))
        elif kind == "ul":
            parts.append([f"- {item}" for item in b[0]])
        elif kind == "table":
            parts.append(_md_table(b[0], b[1]))
        elif kind == "img":
            level, cap, name = b[0], b[1], b[2]
            parts += [[f"{'#' * level} {cap}"], [f"![{cap}](figures/{name})"]]
    return "\n\n".join("\n".join(p) for p in parts) + "\n"


def _html(blocks: list[tuple], title: str) -> str:
    """The same blocks as one self-contained HTML page (figures inlined)."""
    import base64
    import html

    body = []
    for kind, *b in blocks:
        if kind == "h":
            body.append(f"<h{b[0]}>{html.escape(b[1])}</h{b[0]}>")
        elif kind == "p":
            body.append(f"<p>{_inline(b[0])}</p>")
        elif kind == "lines":
            body.append("".join(f"<p>{_inline(t)}</p>" for t in b[0]))
        elif kind == "ul":
            body.append("<ul>" + "".join(f"<li>{_inline(t)}</li>" for t in b[0]) + "</ul>")
        elif kind == "table":
            body.append(_html_table(b[0], b[1]))
        elif kind == "img":
            level, cap, png = b[0], b[1], b[3]
            body.append(f"<h{level}>{html.escape(cap)}</h{level}><img alt=\"{html.escape(cap)}\" "
                        f"src=\"data:image/png;base64,{base64.b64encode(png).decode()}\">")
    # tables scroll sideways in their own box on a narrow window instead of wrapping numbers mid-cell
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.45}"
             ".scroll{overflow-x:auto}table{border-collapse:collapse;margin:0.5em 0}"
             "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;white-space:nowrap}"
             "th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}img{max-width:100%}"
             "code{background:#f2f2f2;padding:0 3px;border-radius:3px}")
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title><style>{style}</style>"
            f"</head><body>{''.join(body)}</body></html>\n")


RESIDUAL_TEXT = ("Did a method remove part of the image along with the noise? The share of the clean image missing from "
                 "the corrupted input (masking 30% hides about 30% of it; additive noise hides none) beside the share "
                 "missing from the output. A method that fills the holes lowers it; one that blurs raises it. "
                 "'removed signal' when the output lacks 5 points more of the image than its input did.")
METRICS_TEXT = ("PSNR (peak signal-to-noise ratio, in dB) compares the output with the clean image pixel by pixel: "
                "10 log10(1 / mean squared error) for images in [0, 1]. Every 3 dB more halves the squared error; "
                "an output within 20 dB of a digit is visibly rough, 25 dB and up looks clean. SSIM (structural "
                "similarity, 0 to 1) compares local brightness, contrast and structure in small windows, closer to "
                "what an eye notices: a blurred stroke loses SSIM even where its PSNR looks fine.")
SCALING_TEXT = ("The same commands scale up. On MNIST itself: `daekit train --data mnist --data-dir DIR` (the IDX "
                "files; `--download` when online). On your own photos: `daekit train --data images --data-dir "
                "photos/`, random patches per epoch. On a GPU, `--device cuda` (bf16 mixed precision by default). On "
                "several GPUs or machines: `torchrun --nproc_per_node=N -m daekit train ...` (DDP, exact resume after "
                "a lost node). docs/scaling.md has the recipes and measured speeds; docs/guide.md the rest.")


def _read_lesson(run_dir: Path) -> dict[str, Any] | None:
    """The demo's lesson.json (what makes the report the whole lesson), or None."""
    path = run_dir / "lesson.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # a damaged lesson.json: the comparison report alone


def _lesson_blocks(run_dir: Path, lesson: dict[str, Any], results: dict[str, Any], intro: str, warn: list[tuple],
                   table: tuple[list[str], list[list[str]]], params: tuple, residual: list[tuple],
                   figures: list[tuple[str, str, bytes]], stack: list[tuple], stack_dir: Path) -> list[tuple]:
    """The comparison, the stacking runs and the photo in the lesson's order, each section saying what it shows."""
    fig = {name: (cap, png) for name, cap, png in figures}

    def img(name: str, level: int = 3) -> list[tuple]:
        return [("img", level, fig[name][0], name, fig[name][1])] if name in fig else []

    def file_img(path: Path, name: str, cap: str) -> list[tuple]:
        return [("img", 3, cap, name, path.read_bytes())] if path.exists() else []

    code, size = lesson.get("code_size", 0), lesson.get("input_size", 0)
    shape = "x".join(str(v) for v in lesson.get("code_shape", []))
    n_levels = len(results["levels"])
    blocks: list[tuple] = [
        ("h", 1, "Denoising autoencoders: the lesson, run on this machine"),
        ("p", "A denoising autoencoder (DAE) is fed a corrupted input, noise applied to a percentage of it, and is "
              "trained to reconstruct the clean input. Trained without corruption, the same network is a plain "
              "compression autoencoder. Everything below was computed by `make demo` on this machine."),
        ("h", 2, "1. Noise as a percentage"),
        ("p", "Masking noise sets a given percentage of the pixels to 0 (black); salt-and-pepper sets them to 0 or 1 at "
              "random. The same held-out digit at each level:"),
        *file_img(run_dir / "lesson_noise.png", "lesson_noise.png", "One digit, corrupted at 10% to 70%"),
        ("h", 2, "2. Compression autoencoder vs denoising autoencoder"),
        ("p", intro),
        ("p", f"The network squeezes each {size}-pixel digit into a code of {code} numbers ({shape}), "
              f"{size / max(code, 1):.1f} times fewer, and rebuilds the digit from it: the compression autoencoder "
              "learns that on clean digits, the DAE on corrupted ones with the clean digit as its target."),
        *warn,
        ("table", *table),
        *img("psnr_curves.png"),
        *[b for i in range(n_levels) for b in img(f"grid_{i}.png")],
        ("p", "Parameters chosen for the classical methods:"), params,
        ("h", 2, "3. What PSNR and SSIM mean"),
        ("p", METRICS_TEXT),
        ("h", 2, "4. What the networks learned"),
        ("p", "Each tile is one first-layer 3x3 kernel of the two convolutional networks (white: positive weights). "
              "Filters that span a whole digit, and look like pen strokes, are learned by the dense stacked DAE of "
              "section 6. The learning curves show the training loss and the validation PSNR per epoch: the "
              "compression AE is validated on clean digits, the DAE on corrupted ones."),
        *img("filters.png"), *img("learning_curves.png"),
        ("h", 2, "5. Did a method remove part of the image?"),
        *residual,
    ]
    random = _stack_accuracy(stack_dir.parent / "stack-random")
    blocks += [("h", 2, "6. Stacking denoising autoencoders"),
               ("p", "Greedy layer-wise pretraining: a one-layer DAE learns a code of the digits, a second DAE learns a "
                     "code of those codes, and so on; the stack is then fine-tuned end to end, here as a classifier."
                     + (f" The same network fine-tuned from a random start, with no pretraining, reached "
                        f"{100 * random:.2f}%: on these clean, easy digits pretraining changes little; on MNIST "
                        "(bench/sda_mnist.py) it is what lets a deep stack train well." if random is not None else "")),
               *stack]
    cam = lesson.get("camera")
    if cam:
        blocks += [("h", 2, "7. A deep convolutional DAE cleans a photo"),
                   ("p", f"photo-gray, a 17-layer convolutional DAE shipped with daekit (trained on 400 photos with Gaussian "
                         f"noise of every strength), cleans the '{lesson.get('photo')}' photograph with {lesson.get('photo_noise')}: "
                         f"{cam['noisy']:.2f} dB noisy, {cam['dae']:.2f} dB cleaned in {cam['dae_seconds']:.1f} s, against "
                         f"{cam['nlm']:.2f} dB for non-local means tuned on another photo. `daekit denoise photo.jpg -o clean.jpg` "
                         "does the same to your own photos, of any size."),
                   *file_img(run_dir / "camera_before_after.png", "camera_before_after.png", "Before and after (a 256x256 crop)")]
    blocks += [("h", 2, "8. Larger data, GPUs and clusters"), ("p", SCALING_TEXT)]
    return blocks


def _stack_accuracy(stack_dir: Path) -> float | None:
    try:
        return float(json.loads((stack_dir / "metrics.json").read_text())["test_accuracy"])
    except (OSError, ValueError, KeyError):
        return None


def build_report(run_dir: str | Path, stack_dir: str | Path | None = None) -> tuple[Path, Path]:
    """Writes run_dir/report.html (self-contained) and run_dir/report.md (+ figures/) from results.json.

    A `daekit stack` run is shown too: `stack_dir`, else ``run_dir/stack`` when it exists.

    Raises:
        DaekitError: the folder holds no comparison results.
    """
    from .errors import DaekitError
    from .io import load_tensors

    run_dir = Path(run_dir)
    res_path = run_dir / "results.json"
    if not res_path.exists():
        raise DaekitError(f"no comparison in {run_dir}: results.json not found (run `daekit compare` first)")
    try:
        results = json.loads(res_path.read_text())
        samples = load_tensors(run_dir / "samples.safetensors")[0]
    except Exception as e:  # noqa: BLE001 - any damage is one message
        raise DaekitError(f"cannot read the comparison in {run_dir}: {e}") from None
    figures: list[tuple[str, str, bytes]] = []  # (file name, caption, png)
    if results["levels"]:
        figures.append(("psnr_curves.png", "PSNR against noise level (higher is better)", psnr_curves(results)))
        n = len(results["levels"])
        for i in sorted({0, n // 2, n - 1}):
            figures.append((f"grid_{i}.png", f"Test images at {results['levels'][i]['noise']}", comparison_grid(results, samples, i)))
    curves = learning_curves_png({"compression AE": _read_history(results["ae_run"]), "denoising AE": _read_history(results["dae_run"])})
    if curves:
        figures.append(("learning_curves.png", "Learning curves", curves))
    filt = filters_png({"ae": results["ae_run"], "dae": results["dae_run"]})
    if filt:
        figures.append(("filters.png", "First-layer filters of the compression AE and the DAE", filt))

    if stack_dir is not None and not (Path(stack_dir) / "metrics.json").exists():
        raise DaekitError(f"no stack run in {stack_dir}: metrics.json not found (run `daekit stack --out {stack_dir}` first)")
    stack_lines, stack_cleaning, stack_figs = _stack_section(Path(stack_dir) if stack_dir else run_dir / "stack")
    header, rows = _table_rows(results)
    resid = _residual_rows(results)
    title = f"daekit comparison: {results['data']}, DAE trained on {results['train_noise']}"
    intro = (f"Model `{results['model']['name']}` trained twice on {results['data']} with the same seed: as a compression "
             f"autoencoder (no corruption) and as a denoising autoencoder ({results['train_noise']}). "
             f"Evaluated on {results['test_images']} test images; classical methods tuned per noise level on "
             f"{results['val_images']} validation images (best of a small grid by PSNR). Cells: PSNR (dB) / SSIM; best in bold.")
    # one list of blocks, rendered twice: Markdown (figures as files beside it) and self-contained HTML
    warning = collapse_warning(results)
    warn = [("p", warning[0].upper() + warning[1:])] if warning else []
    params = ("ul", [f"{r['noise']}: " + "; ".join(r["methods"][m]["params"] for m in results["methods"]) for r in results["levels"]])
    residual = [("p", RESIDUAL_TEXT), ("table", RESIDUAL_HEADER, resid)]
    stack: list[tuple] = [("lines", stack_lines)] if stack_lines else []
    if stack_cleaning:
        stack.append(("table", CLEANING_HEADER, stack_cleaning))
    stack += [("img", 3, cap, name, png) for name, cap, png in stack_figs]
    lesson = _read_lesson(run_dir)
    if lesson is None:
        blocks: list[tuple] = [("h", 1, title), ("p", intro), *warn, ("table", header, rows),
                               ("p", "Parameters chosen for the classical methods:"), params, ("p", METRICS_TEXT),
                               ("h", 2, "Residual check"), *residual]
        blocks += [("img", 2, cap, name, png) for name, cap, png in figures]
        if stack:
            blocks += [("h", 2, "Stacked denoising autoencoder"), *stack]
    else:
        title = "Denoising autoencoders: the lesson, run on this machine"
        blocks = _lesson_blocks(run_dir, lesson, results, intro, warn, (header, rows), params, residual, figures, stack,
                                stack_dir=Path(stack_dir) if stack_dir else run_dir / "stack")
    blocks.append(("p", f"Wall time: {results['seconds'].get('total', 0):.0f} s (training {results['seconds'].get('training', 0):.0f} s)."))
    return write_blocks(run_dir, blocks, title)


def write_blocks(folder: Path, blocks: list[tuple], title: str) -> tuple[Path, Path]:
    """Writes a report's blocks as folder/report.html (self-contained) and folder/report.md with its
    figures in folder/figures/, each file atomically; returns (html, md)."""
    for block in blocks:
        if block[0] == "img":
            atomic_write_bytes(folder / "figures" / block[3], block[4])
    md_path, html_path = folder / "report.md", folder / "report.html"
    atomic_write_text(md_path, _markdown(blocks))
    atomic_write_text(html_path, _html(blocks, title))
    return html_path, md_path


def _filter_canvas(f: torch.Tensor, shape: tuple[int, ...], count: int = 100) -> np.ndarray:
    """Up to `count` rows of `f` (units, d) as a square mosaic of (H, W) tiles, each min-max scaled."""
    c, h, w = shape
    f = f[:count].reshape(-1, c, h, w)[:, 0]
    n = int(np.ceil(np.sqrt(len(f))))
    f = (f - f.amin(dim=(1, 2), keepdim=True)) / (f.amax(dim=(1, 2), keepdim=True) - f.amin(dim=(1, 2), keepdim=True)).clamp_min(1e-12)
    canvas = torch.ones(n * (h + 1), n * (w + 1))
    for i, img in enumerate(f):
        r, col = divmod(i, n)
        canvas[r * (h + 1) : r * (h + 1) + h, col * (w + 1) : col * (w + 1) + w] = img
    return canvas.numpy()


def stack_figures(metrics: dict[str, Any], filters: list[torch.Tensor], image_shape: tuple[int, ...]) -> dict[str, bytes]:
    """Figures of a `daekit stack` run: pretraining curves, each layer's filters, confusion matrix."""
    from matplotlib.ticker import MaxNLocator

    figs: dict[str, bytes] = {}
    if any(metrics["pretrain"]):  # none for a stack trained from a random start
        fig, ax = plt.subplots(figsize=(5.5, 3.4))
        for hist in metrics["pretrain"]:
            if hist:
                ax.plot([h["epoch"] for h in hist], [h["loss"] for h in hist], marker="o", ms=3, label=f"layer {hist[0]['layer']}")
        ax.set(xlabel="epoch", ylabel="reconstruction loss (BCE)", title="greedy layer-wise pretraining")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
        figs["pretraining_curves.png"] = _png(fig)
    for k, f in enumerate(filters):
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.imshow(_filter_canvas(f, image_shape), cmap="gray", interpolation="nearest")
        ax.set_title(f"layer {k + 1} units in input space ({metrics['noise'][k]})", fontsize=9)
        ax.axis("off")
        figs[f"filters_layer{k + 1}.png"] = _png(fig)
    if "confusion_matrix" in metrics:
        cm = np.asarray(metrics["confusion_matrix"])
        from matplotlib.colors import LogNorm

        fig, ax = plt.subplots(figsize=(6.4, 5.6))
        # a log scale: the few errors off the diagonal stay visible beside its hundreds of right answers
        im = ax.imshow(cm + 1, cmap="Blues", norm=LogNorm(vmin=1, vmax=cm.max() + 1))
        for (i, j), v in np.ndenumerate(cm):
            if v:  # zeros left blank: the errors stand out
                ax.text(j, i, str(v), ha="center", va="center", fontsize=9,
                        color="white" if v + 1 > (cm.max() + 1) ** 0.6 else "black")
        ax.set(xlabel="predicted class", ylabel="true class", title=f"test accuracy {metrics['test_accuracy']:.4f}")
        ax.set_xticks(range(len(cm)))
        ax.set_yticks(range(len(cm)))
        fig.colorbar(im, ax=ax, fraction=0.046)
        figs["confusion_matrix.png"] = _png(fig)
    return figs
