"""The command line: parses arguments and calls the library; no logic of its own."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

from .allocator import keep_large_buffers
from .checks import arg, count, fraction, pixels, port, positive, rate, real, seed, sizes, whole
from .errors import DaekitError
from .interrupts import Interrupted
from .refine import MAX_PASSES

EPILOG = """\
noise specs:
  none                     no corruption: a plain compression autoencoder
  masking:0.3              30% of the input values set to 0 (Vincent et al.'s masking noise); masking:30% too
  salt-and-pepper:0.2      20% of the values set to black or white
  gaussian:25              additive Gaussian noise, sigma on the 0-255 scale
  poisson:30               shot noise, peak of 30 photons
  speckle:0.2              multiplicative Gaussian noise
  gaussian:25+masking:0.1  composition, left to right; add '+clip' to clamp to [0, 1]
  (the Keras tutorial's noise_factor=0.4 is gaussian:102+clip)

examples:
  daekit train --noise masking:0.5 --epochs 30 --out runs/digits
  daekit train --data mnist --data-dir ../shared/data/mnist --model conv --noise gaussian:50
  daekit train --config my.yaml --set train.lr=3e-4 --set model.args.channels=[64,64]
  daekit train --data images --data-dir ~/photos --model residual --noise gaussian:0..55 --lr 5e-5 \\
      --set "model.args={depth: 17, width: 64, unshuffle: 1, batch_norm: true}" --init photo-gray --out runs/mine
      (fine-tunes the shipped photo-gray model on your own photos)
  daekit denoise photo.jpg -o clean.jpg          (shipped photo model, any size, offline)
  daekit denoise --model runs/digits noisy.png -o clean.png
  daekit models
  daekit evaluate --model runs/digits --noise gaussian:25 --json
  daekit list
"""


def _train_parser(sub: Any) -> None:
    p = sub.add_parser(
        "train",
        help="train a (denoising) autoencoder",
        description="Train a model on a data set. Settings come from defaults, then --config, then these "
        "options, then --set overrides. The resolved config is saved as RUN_DIR/config.yaml and inside "
        "every checkpoint; metrics go to RUN_DIR/metrics.jsonl, checkpoints to RUN_DIR/checkpoints/.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _training_options(p)
    p.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR exactly where it stopped")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run in RUN_DIR")
    p.add_argument("--init", metavar="MODEL", help="fine-tune: start from these weights (a shipped model name, a run "
                   "folder or a checkpoint) instead of a random initialisation; same architecture as --model")


def _training_options(p: argparse.ArgumentParser) -> None:
    """Options shared by `train` and `compare` (they map onto config keys)."""
    p.add_argument("--config", metavar="FILE", help="YAML, TOML or JSON config file")
    p.add_argument("--data", metavar="NAME", help="data set: digits28 (embedded 28x28 digits, default), digits (8x8), mnist, fashion-mnist, images, ...")
    p.add_argument("--data-dir", metavar="DIR", help="folder of the data set's files (default: $DAEKIT_DATA/<name>)")
    p.add_argument("--download", action="store_true", default=None, help="download missing MNIST-family files (needs a network)")
    p.add_argument("--model", metavar="NAME", help="architecture: dense, deep-dense, conv (default), residual, unet")
    p.add_argument("--noise", metavar="SPEC", help="corruption, e.g. masking:0.3, gaussian:25, none (see below)")
    p.add_argument("--epochs", type=arg(positive), metavar="N", help="number of epochs")
    p.add_argument("--batch-size", type=arg(positive), metavar="N", help="images per batch")
    p.add_argument("--lr", type=arg(rate), metavar="LR", help="learning rate")
    p.add_argument("--loss", metavar="NAME", help="auto (default: bce for a sigmoid output, else mse), mse, bce, l1 or psnr (minus the mean per-patch PSNR)")
    p.add_argument("--target", metavar="NAME", help="what the model learns to output: clean (default), noise2noise, "
                   "neighbor2neighbor or blind-spot (these three need no clean images)")
    p.add_argument("--device", metavar="DEV", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--seed", type=arg(seed), metavar="N", help="random seed (same seed, same result)")
    p.add_argument("--out", metavar="RUN_DIR", help="run folder (default runs/run)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override any config key, e.g. train.lr=3e-4 (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _compare_parser(sub: Any) -> None:
    p = sub.add_parser(
        "compare",
        help="compression AE vs denoising AE vs classical denoisers, with a report",
        description="Train the same architecture twice on the same data - as a compression autoencoder "
        "(noise none) and as a DAE (--noise) - or reuse two runs (--runs AE DAE); evaluate both on clean "
        "inputs and over sweeps of noise levels beside classical denoisers tuned on validation images; "
        "write RUN_DIR/results.json, RUN_DIR/report.html and RUN_DIR/report.md.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _training_options(p)
    p.add_argument("--runs", nargs=2, metavar=("AE_RUN", "DAE_RUN"), help="reuse two trained runs instead of training")
    p.add_argument("--sweep", action="append", metavar="NAME:V1,V2,...", help="noise levels to evaluate, e.g. masking:0.1,0.3,0.5,0.7 (repeatable; default: the training noise's family)")
    p.add_argument("--methods", metavar="M1,M2", help="classical methods (default gaussian-blur,median,tv,wavelet,nlm; add bm3d (slow) if installed; 'none')")
    p.add_argument("--test-limit", type=arg(count), default=500, metavar="N", help="evaluate on the first N test images (default 500; 0 = all)")
    p.add_argument("--overwrite", action="store_true", help="replace AE/DAE runs already in RUN_DIR")


def _stack_parser(sub: Any) -> None:
    p = sub.add_parser(
        "stack",
        help="stacked DAE: greedy layer-wise pretraining, then fine-tuning",
        description="Pretrain a stack of dense denoising autoencoders layer by layer (each on the codes of the "
        "layers below, with its own corruption), then fine-tune: 'classify' adds a softmax layer trained on "
        "labels (test accuracy and confusion matrix), 'denoise' unrolls the stack into a deep autoencoder "
        "trained to denoise. Writes RUN_DIR/metrics.json, stack.safetensors and figures (pretraining curves, "
        "each layer's filters, confusion matrix).",
    )
    p.add_argument("--config", metavar="FILE", help="YAML, TOML or JSON config: its data, seed, out and stack sections")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override any config key, e.g. stack.finetune_lr=1e-3 (repeatable)")
    p.add_argument("--data", metavar="NAME", help="data set (default digits28)")
    p.add_argument("--data-dir", metavar="DIR", help="folder of the data set's files (default: $DAEKIT_DATA/<name>)")
    p.add_argument("--layers", metavar="N1,N2,...", help="hidden sizes, bottom to top (default 500,500)")
    p.add_argument("--noise", metavar="SPEC", help="one corruption for all layers, or one level per layer: masking:0.1,0.2,0.3 (default masking:0.2)")
    p.add_argument("--finetune", choices=["classify", "denoise", "none"], help="fine-tuning (default classify)")
    p.add_argument("--pretrain-epochs", type=arg(count), metavar="N", help="epochs per layer (default 10; 0 = no pretraining, a random start)")
    p.add_argument("--finetune-epochs", type=arg(count), metavar="N", help="fine-tuning epochs (default 20)")
    p.add_argument("--batch-size", type=arg(positive), metavar="N", help="(default 32)")
    p.add_argument("--pretrain-lr", type=arg(rate), metavar="LR", help="(default 1e-3)")
    p.add_argument("--finetune-lr", type=arg(rate), metavar="LR", help="(default 2e-3)")
    p.add_argument("--val-fraction", type=arg(fraction), metavar="F", help="held out for validation accuracy (default 0.1)")
    p.add_argument("--seed", type=arg(seed), help="(default 0)")
    p.add_argument("--device", help="auto (default), cpu, cuda, mps")
    p.add_argument("--cleaning", nargs="?", const="default", default=None, metavar="SPEC,SPEC",
                   help="with --finetune classify: 'cleaning before classifying' - the classifier's test accuracy on "
                   "images with each corruption as they are, after cleaning by a conv DAE (a U-Net trained on that "
                   "corruption, kept in RUN_DIR/cleaning/) and for a classifier fine-tuned on corrupted images; "
                   "alone, it uses masking:0.5,gaussian:50+clip,gaussian:100+clip")
    p.add_argument("--cleaning-epochs", type=arg(positive), metavar="N", help="epochs of each cleaning DAE (default 3)")
    p.add_argument("--out", metavar="RUN_DIR", help="run folder (default runs/stack); the resolved config is written to RUN_DIR/config.yaml")
    p.add_argument("--overwrite", action="store_true", help="replace an existing stack run in RUN_DIR")
    p.add_argument("--quiet", action="store_true", help="no progress lines")


ENSEMBLE_HELP = ("quality mode: average the model over N flips/rotations of the image (1 = off, 2, 4 or 8); "
                 "N times slower; on photos with photo-gray about +0.07 dB (8)")
REFINE_HELP = ("for a model trained blind-spot (no clean images): denoise the output again N times with a random 16%% "
               "of the noisy pixels put back, and average (random-replacing refinement; 0 = off, the default); "
               "N+1 times slower")
WIDE_HELP = ("the wide pass, for very noisy photos (night, low light) from cameras and phones at full resolution: the "
             "model also sees the image at half resolution (its four pixel-shuffled sub-images), then once more at "
             "full resolution; on our camera noise +1.2 dB at ISO 6400, +2.7 at 12800, +4.3 at 25600, but worse on "
             "light noise (-2.4 dB at ISO 800), white Gaussian noise and scanned or scaled-down photos; twice as slow. "
             "Default: auto, where the model's own rule says the photo is such a case (photo-real: a lot of noise, "
             "correlated between neighbours, on a photo with soft edges at the pixel scale); --wide always, --no-wide never")
PRECISION_HELP = ("auto (default): bf16 where the device computes it natively (CUDA GPUs; CPUs with AMX: ~3x "
                  "faster for 0.01-0.04 dB, or AVX512-BF16: ~1.9x), else fp32; or fp32, bf16")


MAX_PIXELS_HELP = ("refuse images of more pixels than this, read from the file's header before decoding "
                   "(default 268435456 = 16384x16384, or $DAEKIT_MAX_PIXELS; 50M and 8000x6000 are understood)")


def _denoise_parser(sub: Any) -> None:
    p = sub.add_parser(
        "denoise",
        help="denoise image files with a shipped or trained model",
        description="Denoise PNG, JPEG, TIFF or BMP files (gray or RGB, 8- or 16-bit; HEIC with daekit[heic], written as "
        "JPEG; WebP, written as PNG); the output keeps the "
        "input's bit depth (JPEG and BMP are 8-bit), alpha channel, EXIF (orientation included) and ICC colour profile. "
        "Folders are searched recursively. With one input "
        "file, -o may name the output file; otherwise -o is a folder mirroring the inputs' names. Without --model, "
        "color images get the shipped 'photo-real' model (camera and phone photos: real camera noise, JPEG) and gray "
        "images 'photo-gray' (see `daekit models`). --strength blends the result with the input (the same on every "
        "model); --color-strength weighs the colour part of the removed noise apart. "
        "Images of any size are processed in overlapping tiles chosen from the free memory; large TIFF outputs "
        "are written band by band. A TIFF stack (microscopy: several pages of one size) is cleaned page by page "
        "into a TIFF stack.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", default=None, metavar="MODEL",
                   help="a shipped model name (`daekit models`), a run folder or a .safetensors checkpoint "
                   "(default: photo-real for colour, photo-gray for gray images)")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    p.add_argument("--tile", type=arg(count), default=None, metavar="PIXELS",
                   help="tile side for large images (default: chosen from the free memory; 0 = never tile)")
    p.add_argument("--max-pixels", type=arg(pixels), default=None, metavar="N", help=MAX_PIXELS_HELP)
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output file (one input) or folder")
    p.add_argument("--ensemble", type=arg(positive), default=1, metavar="N", help=ENSEMBLE_HELP)
    p.add_argument("--precision", default="auto", metavar="P", help=PRECISION_HELP)
    p.add_argument("--refine", type=arg(whole, 0, MAX_PASSES), default=0, metavar="N", help=REFINE_HELP)
    p.add_argument("--wide", action=argparse.BooleanOptionalAction, default="auto", help=WIDE_HELP)
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, mps")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files (never an input)")
    p.add_argument("--strength", type=arg(real, 0, 1), default=1.0, metavar="S",
                   help="how much of the noise found is removed, 0..1 (default 1; 0.5 keeps half of it, a natural grain)")
    p.add_argument("--color-strength", type=arg(real, 0, 1), default=None, metavar="S",
                   help="the same for colour noise alone, 0..1 (default: as --strength); e.g. --strength 0.6 "
                   "--color-strength 1 keeps some grain and no colour blotches")


def _evaluate_parser(sub: Any) -> None:
    p = sub.add_parser(
        "evaluate",
        help="PSNR/SSIM of a trained model on a data set",
        description="Corrupt a data set's test split with a fixed seed and report PSNR/SSIM of the corrupted "
        "input and of the model's output. Defaults: the data set and noise the model was trained with.",
    )
    p.add_argument("--model", required=True, metavar="RUN_DIR", help="run folder or .safetensors checkpoint")
    p.add_argument("--data", metavar="NAME", help="data set (default: the one it was trained on)")
    p.add_argument("--data-dir", metavar="DIR", help="folder of the data set's files")
    p.add_argument("--noise", metavar="SPEC", help="corruption (default: the training noise)")
    p.add_argument("--split", default="test", choices=["test", "val"], help="which split (default test)")
    p.add_argument("--limit", type=arg(positive), metavar="N", help="only the first N images")
    p.add_argument("--seed", type=arg(seed), default=0, help="seed of the corruption (default 0)")
    p.add_argument("--ensemble", type=arg(positive), default=1, metavar="N", help=ENSEMBLE_HELP)
    p.add_argument("--precision", default="auto", metavar="P", help=PRECISION_HELP)
    p.add_argument("--refine", type=arg(whole, 0, MAX_PASSES), default=0, metavar="N", help=REFINE_HELP)
    p.add_argument("--wide", action=argparse.BooleanOptionalAction, default="auto", help=WIDE_HELP)
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, mps")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line (the usage itself is one --help away)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="daekit",
        description="daekit: denoising autoencoders in PyTorch. Train a model that reconstructs clean images "
        "from corrupted ones (or, with --noise none, a plain compression autoencoder), then use it to "
        "denoise files or evaluate it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"daekit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _train_parser(sub)
    _denoise_parser(sub)
    _evaluate_parser(sub)
    _compare_parser(sub)
    _stack_parser(sub)
    rp = sub.add_parser("report", help="(re)write the report of a comparison or a training run",
                        description="Write RUN_DIR/report.html and RUN_DIR/report.md. For a `daekit compare` folder: from "
                        "its results.json, with the stacked-DAE run of --stack (or RUN_DIR/stack) when there is one. For "
                        "a `daekit train` run: its validation images, input / output / what was removed, and the "
                        "residual's statistics; a run that learned without clean images is shown without PSNR, which "
                        "needs them.")
    rp.add_argument("run_dir", metavar="RUN_DIR", help="folder written by `daekit compare` or `daekit train`")
    rp.add_argument("--stack", metavar="STACK_DIR", default=None,
                    help="a `daekit stack` run to include (default: RUN_DIR/stack when it exists)")
    ex = sub.add_parser("export", help="export a model to ONNX, parity-checked",
                        description="Export a shipped model or a run to ONNX with dynamic height and width (fixed "
                        "size for dense models). The graph takes a (B, C, H, W) float32 batch in [0, 1] and returns it denoised "
                        "(photo-rgb's opponent color handling included). Before a file is moved into place its output "
                        "is compared with PyTorch's on real photos (or --image): more than 1e-4 apart, nothing is written.")
    ex.add_argument("model", metavar="MODEL", help="shipped model name, run folder or .safetensors checkpoint")
    ex.add_argument("-o", "--output", required=True, metavar="FILE.onnx", help="ONNX file to write")
    ex.add_argument("--image", metavar="FILE", help="image for the parity check (default: scikit-image sample photos)")
    ex.add_argument("--overwrite", action="store_true", help="replace existing output files")
    sv = sub.add_parser("serve", help="a local web page for cleaning photos",
                        description="Start a local web server with one page: drop or pick an image, choose a model "
                        "(the shipped photo models and any run folders given here) and a strength, follow the "
                        "progress, compare before/after with a slider and zoom, and download the result at full "
                        "resolution and bit depth. Uploads are size-limited and type-checked; files live in a "
                        "temporary folder removed when the server stops. Needs the serve extra.")
    sv.add_argument("runs", nargs="*", metavar="RUN_DIR", help="extra models to offer (run folders or checkpoints)")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this computer only)")
    sv.add_argument("--port", type=arg(port), default=None, help="port (default: a free one, printed)")
    sv.add_argument("--max-upload-mb", type=arg(rate), default=100.0, help="largest accepted upload in MB (default 100)")
    sv.add_argument("--max-pixels", type=arg(pixels), default=None, metavar="N", help=MAX_PIXELS_HELP)
    sv.add_argument("--workers", type=arg(positive), default=1, metavar="N",
                    help="photos cleaned at once (default 1: memory is about this many photos' worth)")
    sv.add_argument("--queue", type=arg(count), default=4, metavar="N",
                    help="uploads that wait for a worker (default 4); beyond that an upload is told 'busy, retry'")
    sv.add_argument("--device", default="auto", help="auto (default), cpu, cuda, mps")
    sv.add_argument("--tile", type=arg(count), default=None, help="tile side (default: chosen from the free memory)")
    sv.add_argument("--ensemble", type=arg(positive), default=1, metavar="N", help=ENSEMBLE_HELP + " (for every upload)")
    sv.add_argument("--precision", default="auto", metavar="P", help=PRECISION_HELP)
    sub.add_parser("models", help="list the shipped pretrained models", description="List the models shipped inside the package: what each was trained on, its noise range and measured PSNR. Use a name with `daekit denoise --model NAME`.")
    sub.add_parser("list", help="list models, noise models and data sets", description="List what daekit can build: models (with parameter counts for 1x28x28 input), noise models (with units) and data sets.")
    d = sub.add_parser("demo", help="the whole lesson in one command, on embedded data", description="Offline, on data installed with scikit-learn and scikit-image: train a compression AE and a DAE on the digits, compare them with classical denoisers (report written), then clean the 'camera' photograph with the shipped photo model.")
    d.add_argument("--out", default="runs/demo", metavar="RUN_DIR", help="where to write everything (default runs/demo)")
    d.add_argument("--epochs", type=arg(positive), help="epochs of the digit AE and DAE (default: a minute's worth on 2 cores)")
    d.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def _train_options(a: argparse.Namespace) -> dict[str, Any]:
    """The options given on the command line, as a nested config dict (absent ones left out)."""
    spec = {
        ("data", "name"): a.data, ("data", "dir"): a.data_dir, ("data", "download"): a.download,
        ("model", "name"): a.model, ("noise",): a.noise, ("train", "epochs"): a.epochs,
        ("train", "batch_size"): a.batch_size, ("train", "lr"): a.lr, ("train", "loss"): a.loss, ("train", "target"): a.target,
        ("train", "device"): a.device, ("seed",): a.seed, ("out",): a.out,
        ("train", "init"): getattr(a, "init", None),  # train only
    }
    return _nested(spec)


def _nested(spec: dict[tuple[str, ...], Any]) -> dict[str, Any]:
    """{("train", "lr"): 3e-4, ...} as a nested config dict; options not given (None) are left out."""
    out: dict[str, Any] = {}
    for path, value in spec.items():
        if value is not None:
            node = out
            for k in path[:-1]:
                node = node.setdefault(k, {})
            node[path[-1]] = value
    return out


def cmd_train(a: argparse.Namespace) -> int:
    from .config import resolve_config
    from .train import fit

    config_file = a.config
    if a.resume and not config_file:
        run = Path(a.out or "runs/run")
        config_file = run / "config.yaml"
        if not config_file.exists():
            raise DaekitError(f"nothing to resume: {config_file} does not exist")
    cfg = resolve_config(config_file, _train_options(a), a.set)
    result = fit(cfg, resume=a.resume, overwrite=a.overwrite, progress=not a.quiet)
    b = result.best
    from . import distributed

    if not distributed.context().is_main:  # under torchrun, rank 0 reports
        return 0
    if b.get("ssim") is None and b.get("psnr") is not None:  # no clean references: a self-supervised score
        from .targets import keeps_last_epoch

        if keeps_last_epoch(cfg.train.target, references=False):
            print(f"kept the last epoch ({b.get('epoch')}), as Neighbor2Neighbor does; its validation score {b['psnr']:.2f} dB "
                  "against neighbouring noisy pixels (no clean references: PSNR needs them; see `daekit evaluate`)")
        else:
            print(f"best validation score {b['psnr']:.2f} dB against noisy pixels at epoch {b.get('epoch')} "
                  "(no clean references: PSNR needs them; see `daekit evaluate`)")
        print(f"what it removed, image by image: daekit report {result.run_dir}")
    else:
        print(f"best val PSNR {b.get('psnr', float('nan')):.2f} dB, SSIM {b.get('ssim', float('nan')):.3f} at epoch {b.get('epoch')}")
    print(f"run folder: {result.run_dir}  (checkpoints/best.safetensors, metrics.jsonl, config.yaml)")
    return 0


def cmd_denoise(a: argparse.Namespace) -> int:
    from .api import denoise_files

    rep = denoise_files(a.inputs, a.output, a.model, overwrite=a.overwrite, tile=a.tile, max_pixels=a.max_pixels,
                        device=a.device, ensemble=a.ensemble, precision=a.precision, strength=a.strength,
                        color_strength=a.color_strength, refine=a.refine, wide=a.wide)
    print(f"wrote {len(rep['outputs'])} image(s) to {rep['target']}")
    for label, times in rep["models"].items():
        each = f", {sum(times) / len(times):.2f} s per image" if len(times) > 1 else ""
        print(f"model {label}: {len(times)} image(s) in {sum(times):.2f} s{each}")
    for note in rep["notes"]:
        print(f"note: {note}", file=sys.stderr)
    return 0


def cmd_evaluate(a: argparse.Namespace) -> int:
    from .api import Denoiser, evaluate_on
    from .io import json_text

    den = Denoiser.load(a.model, device=a.device, ensemble=a.ensemble, precision=a.precision, refine=a.refine,
                        wide=a.wide)
    res = evaluate_on(den, a.data, a.data_dir, a.noise, a.split, a.seed, a.limit)
    if a.json:
        print(json_text(res))
    else:
        print(f"{res['data']} {res['split']} ({res['images']} images), noise {res['noise']}")
        print(f"{'':<10}{'PSNR (dB)':>10}{'SSIM':>8}")
        print(f"{'corrupted':<10}{res['noisy_psnr']:>10.2f}{res['noisy_ssim']:>8.3f}")
        print(f"{'denoised':<10}{res['psnr']:>10.2f}{res['ssim']:>8.3f}")
    return 0


def cmd_list(_: argparse.Namespace) -> int:
    from .data import list_datasets
    from .models import count_parameters, create_model, list_models, model_arguments
    from .noise import describe_noise

    print("models (parameters for 1x28x28 input, default arguments):")
    for name in list_models():
        n = count_parameters(create_model(name))
        args = ", ".join(f"{k}={v}" for k, v in model_arguments(name).items())
        print(f"  {name:<12}{n:>10,}  {args}")
    print("\nnoise models (spec NAME:VALUE, combine with '+'):")
    for name, param, help_ in describe_noise():
        print(f"  {name:<17}{param:<44}{help_}")
    print("\ndata sets:")
    for name, desc in list_datasets():
        print(f"  {name:<18}{desc}")
    return 0


def cmd_export(a: argparse.Namespace) -> int:
    import logging
    import warnings

    from .api import Denoiser
    from .export import export_model
    from .images import read_image

    outs = [Path(a.output)]
    if Path(a.output).suffix.lower() != ".onnx":
        raise DaekitError(f"-o must name a .onnx file, got {a.output}")
    for o in outs:
        if o.exists() and not a.overwrite:
            raise DaekitError(f"output {o} exists; pass --overwrite to replace it")
    den = Denoiser.load(a.model, device="cpu")
    image = read_image(a.image)[0] if a.image else None
    logging.getLogger("torch").setLevel(logging.ERROR)  # the exporters' chatter (missing torchvision ops, ...)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = export_model(den, a.output, image)
    print(f"wrote {rep['onnx']}  (max abs difference to PyTorch {rep['onnx_max_abs_diff']:.1e}, "
          f"{'dynamic' if rep['dynamic_size'] else 'fixed'} height/width)")
    return 0


def cmd_serve(a: argparse.Namespace) -> int:
    from .serve import serve

    serve(a.runs, a.host, a.port, a.max_upload_mb, a.device, a.tile, a.ensemble, a.precision, a.max_pixels,
          a.workers, a.queue)
    return 0


def cmd_models(_: argparse.Namespace) -> int:
    from .pretrained import list_pretrained

    for p in list_pretrained():
        d = p.details
        print(f"{p.name}  ({p.weights.name}, {p.weights.stat().st_size / 1e6:.1f} MB)")
        if d.get("use"):
            print(f"  for:        {d['use']}")
        print(f"  {d.get('description', '')}")
        print(f"  trained on: {d.get('data', '-')}")
        print(f"  noise:      {d.get('noise', '-')}")
        print(f"  training:   {d.get('training', '-')}")
        scores = d.get("psnr") or {}
        if scores:
            print("  PSNR (dB):  " + ", ".join(f"{k} {v:.2f}" for k, v in scores.items()))
        if d.get("auto_wide"):
            r = d["auto_wide"]
            print(f"  wide pass:  by itself where one pass removes >= {r['level']:g} levels of noise, correlated between "
                  f"neighbours (> {r['lag']:g}), from a photo whose edges are soft at the pixel scale (fine < {r['fine']:g})")
        if d.get("measured"):
            print(f"  measured:   {d['measured']}")
        print()
    return 0


def cmd_demo(a: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(a.out, **({"epochs": a.epochs} if a.epochs else {}), progress=not a.quiet)
    return 0


def cmd_compare(a: argparse.Namespace) -> int:
    from .compare import DEFAULT_METHODS, compare, format_comparison, parse_sweep
    from .config import resolve_config

    sweeps = [lvl for spec in a.sweep or [] for lvl in parse_sweep(spec)] or None
    if a.methods is None:  # BM3D only when asked: tuned and run on every test image, it takes minutes, not seconds
        methods = DEFAULT_METHODS
    else:
        methods = [] if a.methods.strip() == "none" else [m.strip() for m in a.methods.split(",") if m.strip()]
    out = Path(a.out or "runs/compare")
    cfg = None if a.runs else resolve_config(a.config, {**_train_options(a), "out": str(out)}, a.set)
    results = compare(cfg, out, runs=tuple(a.runs) if a.runs else None, sweeps=sweeps, methods=methods,
                      test_limit=a.test_limit or None, progress=not a.quiet, overwrite=a.overwrite)
    print(format_comparison(results))
    print(f"report: {out / 'report.html'}  (and report.md)")
    return 0


def _stack_options(a: argparse.Namespace) -> dict[str, Any]:
    """`daekit stack`'s options as a nested config dict (absent ones left out)."""
    from .stack_cleaning import CLEANING_CORRUPTIONS

    cleaning = None
    if a.cleaning is not None:
        cleaning = list(CLEANING_CORRUPTIONS) if a.cleaning == "default" else [c.strip() for c in a.cleaning.split(",") if c.strip()]
    stack = {"layers": None if a.layers is None else sizes(a.layers), "noise": a.noise, "finetune": a.finetune,
             "pretrain_epochs": a.pretrain_epochs, "finetune_epochs": a.finetune_epochs, "batch_size": a.batch_size,
             "pretrain_lr": a.pretrain_lr, "finetune_lr": a.finetune_lr, "cleaning": cleaning,
             "cleaning_epochs": a.cleaning_epochs, "device": a.device}
    return _nested({**{("stack", k): v for k, v in stack.items()}, ("data", "name"): a.data, ("data", "dir"): a.data_dir,
                    ("data", "val_fraction"): a.val_fraction, ("seed",): a.seed, ("out",): a.out})


def cmd_stack(a: argparse.Namespace) -> int:
    import dataclasses

    from .config import Config, resolve_config
    from .data import ImageData, load_configured
    from .runtime import select_device
    from .stack_run import run_stack, stack_settings

    cfg = resolve_config(a.config, _stack_options(a), a.set)
    if a.out is None and cfg.out == Config().out:  # stack runs have a default folder of their own
        cfg = dataclasses.replace(cfg, out="runs/stack")
    s, st = stack_settings(cfg), cfg.stack
    out = Path(cfg.out)
    if (out / "metrics.json").exists() and not a.overwrite:
        raise DaekitError(f"{out} already holds a stack run; pass --overwrite to replace it")
    device = select_device(st.device)
    data = load_configured(cfg.data, cfg.seed)
    if not isinstance(data, ImageData):
        raise DaekitError(f"stack needs a data set of small images held in memory (digits, mnist, fashion-mnist, ...); "
                          f"{cfg.data.name!r} is not one")
    metrics = run_stack(data, s, out, st.finetune, device, None if a.quiet else print, st.cleaning, st.cleaning_epochs, cfg)
    if "test_accuracy" in metrics:
        print(f"test accuracy {metrics['test_accuracy']:.4f} (error {100 * metrics['test_error']:.2f}%)")
    for r in metrics.get("cleaning", []):
        print(f"{r['noise']}: accuracy as is {100 * r['as_is']:.2f}%, cleaned by conv DAE {100 * r['cleaned']:.2f}%, "
              f"classifier trained on corruption {100 * r['trained']:.2f}%")
    print(f"run folder: {out}  ({metrics['seconds']:.0f} s)")
    return 0


def cmd_report(a: argparse.Namespace) -> int:
    from .report import build_report
    from .run_report import build_run_report

    run = Path(a.run_dir)
    if not (run / "results.json").exists() and (run / "config.yaml").exists():  # a training run
        if a.stack:
            raise DaekitError(f"--stack goes with a comparison folder; {run} is a training run")
        html_path, md_path = build_run_report(run)
    else:
        html_path, md_path = build_report(a.run_dir, a.stack)
    print(f"wrote {html_path} and {md_path}")
    return 0


COMMANDS = {"train": cmd_train, "compare": cmd_compare, "stack": cmd_stack, "report": cmd_report, "denoise": cmd_denoise, "evaluate": cmd_evaluate, "list": cmd_list, "models": cmd_models, "export": cmd_export, "serve": cmd_serve, "demo": cmd_demo}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``daekit`` console script and ``python -m daekit``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    keep_large_buffers()  # CPU steps and tiles reuse their big buffers (see daekit.allocator)
    try:
        return COMMANDS[args.command](args)
    except DaekitError as e:
        print(f"daekit: error: {e}", file=sys.stderr)
        return 2
    except Interrupted as e:  # a job that saved its state before stopping says where
        print(f"daekit: {e}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("daekit: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # disk full, permission denied, ...: the system's own words, one line
        print(f"daekit: error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1
    finally:
        if "torch.distributed" in sys.modules:  # a torchrun job: leave the process group cleanly
            from . import distributed

            distributed.teardown()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
