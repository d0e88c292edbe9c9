"""The adversarial user: over 200 bad inputs across every subcommand and the API.

Each case asserts what daekit promises for bad input: a non-zero exit, one line naming the problem, no
traceback, and every file the user had (a sandbox of runs, photos, configs) byte for byte unchanged,
with nothing new written. Numeric options are covered by kind (whole numbers, rates, fractions,
seeds, ports, pixel counts), so an option added later with a check is tested by adding one row.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import pickle
import struct

import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from daekit.checkpoint import FORMAT
from daekit.cli import main
from daekit.errors import DaekitError

from conftest import tiny_sets

# ---- the sandbox: what a user has on disk -------------------------------------------------------------


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    b = tmp_path_factory.mktemp("box")
    assert main(["train", "--quiet", *[f"--set={s}" for s in tiny_sets(b / "run", "data.resize=16", "train.epochs=1")]]) == 0
    (b / "photos").mkdir()
    rng = np.random.default_rng(0)
    cv2.imwrite(str(b / "photos" / "a.png"), (rng.random((40, 30)) * 255).astype(np.uint8))
    cv2.imwrite(str(b / "photos" / "c.jpg"), (rng.random((40, 30, 3)) * 255).astype(np.uint8))
    (b / "photos2").mkdir()
    cv2.imwrite(str(b / "photos2" / "a.png"), (rng.random((20, 20)) * 255).astype(np.uint8))
    (b / "mine").mkdir()
    (b / "mine" / "config.yaml").write_text("# my own notes\ntrain: {epochs: 3}\n")
    (b / "empty.png").write_bytes(b"")
    (b / "text.png").write_text("hello, not a picture")
    (b / "phone.heic").write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64))  # an iPhone photo's start
    ok, buf = cv2.imencode(".png", np.zeros((32, 32), np.uint8))
    (b / "cut.png").write_bytes(buf.tobytes()[:40])
    bomb = bytearray(buf.tobytes())
    bomb[16:24] = (60_000).to_bytes(4, "big") * 2
    (b / "bomb.png").write_bytes(bytes(bomb))
    nan = np.full((16, 16), 0.5, np.float32)
    nan[2, 2] = np.nan
    cv2.imwrite(str(b / "nan.tif"), nan)
    import tifffile

    tifffile.imwrite(b / "five.tif", np.zeros((16, 16, 5), np.uint8), planarconfig="contig", photometric="minisblack")
    (b / "stacks").mkdir()
    tifffile.imwrite(b / "stacks" / "stack.tif", (rng.random((3, 24, 24)) * 255).astype(np.uint8), photometric="minisblack")
    for name in ("a.png", "b.png"):  # enough images for a validation split: the stack is what is refused
        cv2.imwrite(str(b / "stacks" / name), (rng.random((24, 24)) * 255).astype(np.uint8))
    from PIL import Image

    frames = [Image.fromarray((rng.random((24, 24, 3)) * 255).astype(np.uint8)) for _ in range(3)]
    frames[0].save(b / "anim.gif", save_all=True, append_images=frames[1:])
    (b / "evil.pt").write_bytes(pickle.dumps({"x": 1}))  # never unpickled
    (b / "pickle.safetensors").write_bytes(pickle.dumps({"x": 1}))
    (b / "junk.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage")
    (b / "cut.safetensors").write_bytes((b / "run" / "checkpoints" / "best.safetensors").read_bytes()[:300])
    meta = {"format": FORMAT, "format_version": "1", "daekit_version": "0", "config": "{}", "info": "{}", "train_state": "null"}
    for name, spec in {"huge": {"name": "conv", "channels": [1_000_000_000]}, "noname": {"in_channels": 1},
                       "listspec": [1], "negsize": {"name": "dense", "image_size": [-5, 5]}}.items():
        save_file({"model.x": torch.zeros(1)}, str(b / f"{name}.safetensors"), metadata={**meta, "model_spec": json.dumps(spec)})
    save_file({"model.x": torch.zeros(1)}, str(b / "abc.safetensors"), metadata={**meta, "format_version": "abc", "model_spec": "{}"})
    (b / "bad.yaml").write_text("train: [unclosed\n")
    (b / "wrongtype.yaml").write_text("train:\n  epochs: many\n")
    (b / "list.yaml").write_text("- 1\n- 2\n")
    (b / "mnist").mkdir()
    for part in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (b / "mnist" / f"{part}.gz").write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">3I", 6000, 28000, 28)))
    (b / "results").mkdir()
    (b / "results" / "results.json").write_text("{not json")
    (b / "existing.png").write_bytes(b"precious")
    (b / "model.onnx").write_bytes(b"precious too")
    (b / "emptydir").mkdir()
    return b


def snapshot(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


def refused(capsys, argv):
    """Runs daekit in-process; returns (exit code, stderr). A traceback fails the test by itself."""
    capsys.readouterr()
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:  # the option parser's refusal
        rc = e.code
    return rc, capsys.readouterr().err


def check(box, capsys, argv, words=""):
    before = snapshot(box)
    rc, err = refused(capsys, [a.replace("{box}", str(box)) for a in argv])
    lines = err.strip().splitlines()
    assert rc not in (0, None), f"accepted: {argv}"
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("daekit") and "error" in lines[0], err
    assert words.lower() in lines[0].lower(), err
    assert snapshot(box) == before, f"files changed by {argv}"


# ---- numeric options, by kind ------------------------------------------------------------------------

BAD = {
    "positive": ["0", "-1", "1.5", "abc", "nan", "", "1e999"],
    "count": ["-1", "-0.5", "abc", "inf", ""],
    "rate": ["0", "-1", "nan", "inf", "-inf", "abc"],
    "fraction": ["1", "-0.1", "nan", "2", "x"],
    "unit": ["1.5", "-0.1", "nan", "inf"],
    "seed": ["-1", "1e23", "9223372036854775808", "x", "0.5"],
    "port": ["0", "-1", "70000", "http"],
    "pixels": ["0", "-5", "lots", "1.5", "10x"],
    "passes": ["-1", "17", "1.5", "x"],
}
OPTIONS = {  # subcommand -> (option, kind); the rest of each command line is valid
    "train": [("--epochs", "positive"), ("--batch-size", "positive"), ("--lr", "rate"), ("--seed", "seed")],
    "compare": [("--epochs", "positive"), ("--test-limit", "count"), ("--lr", "rate"), ("--seed", "seed")],
    "stack": [("--pretrain-epochs", "count"), ("--finetune-epochs", "count"), ("--batch-size", "positive"),
              ("--pretrain-lr", "rate"), ("--finetune-lr", "rate"), ("--val-fraction", "fraction"), ("--seed", "seed"),
              ("--cleaning-epochs", "positive")],
    "denoise": [("--tile", "count"), ("--ensemble", "positive"), ("--strength", "unit"), ("--color-strength", "unit"),
                ("--max-pixels", "pixels"), ("--refine", "passes")],
    "evaluate": [("--limit", "positive"), ("--seed", "seed"), ("--ensemble", "positive"), ("--refine", "passes")],
    "serve": [("--port", "port"), ("--max-upload-mb", "rate"), ("--tile", "count"), ("--ensemble", "positive"),
              ("--max-pixels", "pixels"), ("--workers", "positive"), ("--queue", "count")],
    "demo": [("--epochs", "positive")],
}
REST = {
    "train": ["--out", "{box}/new", "--quiet"], "compare": ["--out", "{box}/newcmp", "--quiet"],
    "stack": ["--out", "{box}/newstack", "--quiet"], "denoise": ["{box}/photos/a.png", "-o", "{box}/out.png"],
    "evaluate": ["--model", "{box}/run"], "serve": [], "demo": ["--out", "{box}/newdemo", "--quiet"],
}
NUMERIC = [(cmd, opt, value) for cmd, opts in OPTIONS.items() for opt, kind in opts for value in BAD[kind]]


@pytest.mark.parametrize("cmd, option, value", NUMERIC, ids=[f"{c} {o} {v!r}" for c, o, v in NUMERIC])
def test_numeric_options(box, capsys, cmd, option, value):
    check(box, capsys, [cmd, f"{option}={value}", *REST[cmd]], option)


# ---- files, specs and values -------------------------------------------------------------------------

CASES = [
    # denoise: inputs
    (["denoise", "{box}/missing.png", "-o", "{box}/o.png"], "input not found"),
    (["denoise", "{box}/empty.png", "-o", "{box}/o.png"], "empty file"),
    (["denoise", "{box}/text.png", "-o", "{box}/o.png"], "cannot decode"),
    (["denoise", "{box}/phone.heic", "-o", "{box}/o.jpg"], "truncated or corrupt HEIC/HEIF file"),
    (["denoise", "{box}/cut.png", "-o", "{box}/o.png"], "cannot decode"),
    (["denoise", "{box}/bomb.png", "-o", "{box}/o.png"], "over the limit"),
    (["denoise", "{box}/nan.tif", "-o", "{box}/o.tif"], "NaN"),
    (["denoise", "{box}/five.tif", "-o", "{box}/o.tif"], "cannot decode"),
    (["denoise", "{box}/emptydir", "-o", "{box}/o"], "no images found"),
    (["denoise", "{box}/stacks/stack.tif", "-o", "{box}/o.png"], "holds 3 images (TIFF pages); name a .tif output"),
    (["denoise", "{box}/anim.gif", "-o", "{box}/o.png"], "holds 3 images"),
    (["denoise", "{box}/photos/a.png", "-o", "{box}/photos/a.png"], "would overwrite an input"),
    (["denoise", "{box}/photos/a.png", "-o", "{box}/existing.png"], "exists; pass --overwrite"),
    (["denoise", "{box}/photos", "-o", "{box}/one.png"], "names one file"),
    (["denoise", "{box}/photos/a.png", "{box}/photos2/a.png", "-o", "{box}/both"], "would both be written"),
    (["denoise", "{box}/photos/a.png", "-o", "{box}/o.webp"], "cannot write .webp"),
    (["denoise", "{box}/photos/a.png", "-o", "{box}/o.gif"], "cannot write .gif"),
    (["denoise", "{box}/photos/a.png", "-o", "{box}/o.png", "--max-pixels", "100"], "over the limit of 100"),
    (["denoise", "{box}/photos/a.png", "-o", "{box}/o.png", "--tile", "5", "--model", "photo-gray"], "too small"),
    (["denoise", "{box}/photos/a.png", "-o", "{box}/o.png", "--ensemble", "3"], "ensemble size must be one of"),
    (["denoise", "{box}/photos/a.png", "-o", "{box}/o.png", "--precision", "fp16"], "unknown precision"),
    (["denoise", "{box}/photos/a.png", "-o", "{box}/o.png", "--device", "banana"], "unknown device"),
    (["denoise", "{box}/photos/a.png", "-o", "{box}/o.png", "--device", "cuda:7"], "CUDA"),
    # denoise: models
    (["denoise", "--model", "photo-grey", "{box}/photos/a.png", "-o", "{box}/o.png"], "neither a shipped model"),
    (["denoise", "--model", "{box}/evil.pt", "{box}/photos/a.png", "-o", "{box}/o.png"], ""),
    (["denoise", "--model", "{box}/pickle.safetensors", "{box}/photos/a.png", "-o", "{box}/o.png"], "not a daekit checkpoint"),
    (["denoise", "--model", "{box}/junk.safetensors", "{box}/photos/a.png", "-o", "{box}/o.png"], "not a daekit checkpoint"),
    (["denoise", "--model", "{box}/cut.safetensors", "{box}/photos/a.png", "-o", "{box}/o.png"], "not a daekit checkpoint"),
    (["denoise", "--model", "{box}/huge.safetensors", "{box}/photos/a.png", "-o", "{box}/o.png"], "conv"),
    (["denoise", "--model", "{box}/noname.safetensors", "{box}/photos/a.png", "-o", "{box}/o.png"], "names no model"),
    (["denoise", "--model", "{box}/listspec.safetensors", "{box}/photos/a.png", "-o", "{box}/o.png"], "not a mapping"),
    (["denoise", "--model", "{box}/negsize.safetensors", "{box}/photos/a.png", "-o", "{box}/o.png"], "image_size"),
    (["denoise", "--model", "{box}/abc.safetensors", "{box}/photos/a.png", "-o", "{box}/o.png"], "format_version"),
    (["denoise", "--model", "{box}/emptydir", "{box}/photos/a.png", "-o", "{box}/o.png"], "no checkpoint"),
    # train
    (["train", "--out", "{box}/mine", "--quiet"], "already holds a run"),
    (["train", "--out", "{box}/run", "--quiet"], "already holds a run"),
    (["train", "--out", "{box}/new", "--resume", "--quiet"], "nothing to resume"),
    (["train", "--out", "{box}/new", "--noise", "gaussian:0.1", "--quiet"], "write gaussian:25.5"),
    (["train", "--out", "{box}/new", "--noise", "gaussian:0..0.5", "--quiet"], "0-255 scale"),
    (["train", "--out", "{box}/new", "--data", "digits", "--model", "residual", "--loss", "bce", "--quiet"], "needs an output in [0, 1]"),
    (["train", "--out", "{box}/new", "--loss", "hinge", "--quiet"], "train.loss"),
    (["train", "--out", "{box}/new", "--target", "noise2void", "--quiet"], "train.target"),
    (["train", "--out", "{box}/new", "--data", "digits", "--target", "blind-spot", "--model", "dense", "--quiet"], "convolutional"),
    (["train", "--out", "{box}/new", "--data", "digits", "--target", "neighbor2neighbor", "--model", "dense", "--quiet"], "convolutional"),
    (["train", "--out", "{box}/new", "--data", "digits", "--set", "train.neighbour_gamma=nan", "--quiet"], "neighbour_gamma"),
    (["train", "--out", "{box}/new", "--data", "digits", "--target", "noise2noise", "--loss", "bce", "--quiet"], "clean targets"),
    (["train", "--out", "{box}/new", "--data", "digits", "--target", "blind-spot", "--loss", "psnr", "--quiet"], "clean targets"),
    (["train", "--out", "{box}/new", "--set", "data.zoom=0.5", "--quiet"], "data.zoom"),
    (["train", "--out", "{box}/new", "--set", "data.zoom=2", "--quiet"], "data.zoom"),
    (["train", "--out", "{box}/new", "--set", "data.zoom_share=1.5", "--quiet"], "data.zoom_share"),
    (["train", "--out", "{box}/new", "--set", "data.zoom_share=0", "--quiet"], "data.zoom_share"),
    (["train", "--out", "{box}/new", "--set", "data.zoom_share=0.5", "--quiet"], "set data.zoom above 1"),
    (["train", "--out", "{box}/new", "--set", "train.mask_fraction=2", "--quiet"], "mask_fraction"),
    (["train", "--out", "{box}/new", "--set", "data.noisy_once=blur:3", "--quiet"], "unknown noise model"),
    (["train", "--out", "{box}/new", "--set", "data.noisy_copies=0", "--quiet"], "noisy_copies"),
    (["train", "--out", "{box}/new", "--set", "data.noisy_copies=99", "--quiet"], "noisy_copies"),
    (["train", "--out", "{box}/new", "--data", "digits", "--set", "data.noisy_copies=2", "--quiet"], "needs data.noisy_once"),
    (["train", "--out", "{box}/new", "--data", "digits", "--set", "data.bursts=true", "--quiet"], "needs a folder of images"),
    (["train", "--out", "{box}/new", "--data", "images", "--data-dir", "{box}/photos2", "--set", "data.bursts=true", "--quiet"],
     "holds two or more images"),
    (["train", "--out", "{box}/new", "--set", "data.bursts=maybe", "--quiet"], "data.bursts"),
    (["train", "--out", "{box}/new", "--data", "digits", "--set", "data.noisy_once=gaussian:25", "--set", "data.noisy_copies=2",
      "--quiet"], "--target noise2noise"),
    (["train", "--out", "{box}/new", "--data", "digits", "--set", "data.noisy_once=gaussian:25", "--noise", "none",
      "--target", "noise2noise", "--quiet"], "two noisy shots"),
    (["train", "--out", "{box}/new", "--set", "train.mask_fill=zero", "--quiet"], "train.mask_fill"),
    (["train", "--out", "{box}/new", "--set", "model.args={pd: 0}", "--quiet"], "pd"),
    (["train", "--out", "{box}/new", "--set", "model.args={pd: 1000}", "--quiet"], "pd"),
    (["train", "--out", "{box}/new", "--set", "model.args={pd: two}", "--quiet"], "pd"),
    (["train", "--out", "{box}/new", "--model", "dense", "--set", "model.args={pd: 2}", "--quiet"], "dense"),
    (["train", "--out", "{box}/new", "--model", "unet", "--set", "model.args={pool: avg}", "--quiet"], "pool must be max or blur"),
    (["report", "{box}/run", "--stack", "{box}/run"], "training run"),
    (["train", "--out", "{box}/run", "--resume", "--model", "dense", "--quiet"], "cannot resume"),
    (["train", "--out", "{box}/run", "--resume", "--set", "train.lr=0.5", "--quiet"], "cannot resume"),
    (["train", "--out", "{box}/new", "--config", "{box}/missing.yaml"], "config file not found"),
    (["train", "--out", "{box}/new", "--config", "{box}/bad.yaml"], "bad.yaml"),
    (["train", "--out", "{box}/new", "--config", "{box}/wrongtype.yaml"], "train.epochs"),
    (["train", "--out", "{box}/new", "--config", "{box}/list.yaml"], "mapping"),
    (["train", "--out", "{box}/new", "--config", "{box}/photos/a.png"], "config"),
    (["train", "--out", "{box}/new", "--set", "train.nope=1"], "unknown key"),
    (["train", "--out", "{box}/new", "--set", "train.lr=nan"], "train.lr"),
    (["train", "--out", "{box}/new", "--set", "train.lr=inf"], "train.lr"),
    (["train", "--out", "{box}/new", "--set", "train.epochs=0"], "train.epochs"),
    (["train", "--out", "{box}/new", "--set", "train.checkpoint_minutes=-1"], "checkpoint_minutes"),
    (["train", "--out", "{box}/new", "--set", "data.val_fraction=1"], "val_fraction"),
    (["train", "--out", "{box}/new", "--set", "seed=1e30"], "seed"),
    (["train", "--out", "{box}/new", "--set", "noval"], "key=value"),
    (["train", "--out", "{box}/new", "--set", "model.args={channels: [1000000000]}"], "conv"),
    (["train", "--out", "{box}/new", "--set", "model.args={channels: [12000, 12000]}"], "parameters"),
    (["train", "--out", "{box}/new", "--set", "model.args={bogus: 1}"], "no argument 'bogus'"),
    (["train", "--out", "{box}/new", "--model", "dense", "--set", "data.resize=100000"], ""),
    (["train", "--out", "{box}/new", "--noise", "gaussian:-5"], "sigma"),
    (["train", "--out", "{box}/new", "--noise", "masking:2"], "fraction"),
    (["train", "--out", "{box}/new", "--noise", "blur:3"], "unknown noise model"),
    (["train", "--out", "{box}/new", "--noise", "gaussian:nan"], "gaussian"),
    (["train", "--out", "{box}/new", "--noise", "camera:iso=5"], "iso"),
    (["train", "--out", "{box}/new", "--noise", "camera:zoom=2"], "zoom"),
    (["train", "--out", "{box}/new", "--noise", "camera:flat=1.5"], "flat"),
    (["train", "--out", "{box}/new", "--noise", "jpeg:150"], "jpeg"),
    (["train", "--out", "{box}/new", "--noise", "gaussian:10..5"], "gaussian"),
    (["train", "--out", "{box}/new", "--noise", "|"], "noise"),
    (["train", "--out", "{box}/new", "--noise", "gaussian:25%"], "percentage"),
    (["train", "--out", "{box}/new", "--noise", "masking:10%..0.5"], "both ends"),
    (["train", "--out", "{box}/new", "--model", "resnet"], "unknown model"),
    (["train", "--out", "{box}/new", "--loss", "hinge"], "loss"),
    (["train", "--out", "{box}/new", "--device", "banana"], "unknown device"),
    (["train", "--out", "{box}/new", "--data", "cifar"], "unknown data set"),
    (["train", "--out", "{box}/new", "--data", "mnist", "--data-dir", "{box}/missing"], "not found"),
    (["train", "--out", "{box}/new", "--data", "mnist", "--data-dir", "{box}/mnist"], "over the limit"),
    (["train", "--out", "{box}/new", "--data", "images", "--data-dir", "{box}/emptydir"], "no images found"),
    (["train", "--out", "{box}/new", "--data", "images", "--data-dir", "{box}/stacks", "--quiet"], "reads one image per file"),
    (["train", "--out", "{box}/new", "--data", "images", "--data-dir", "{box}/missing"], "not found"),
    (["train", "--out", "{box}/new", "--init", "{box}/missing"], "not found"),
    (["train", "--out", "{box}/new", "--init", "{box}/evil.pt"], ""),
    (["train", "--out", "{box}/new", "--init", "photo-gray"], "another architecture"),
    (["train", "--out", "{box}/new", "--set", "model.name=residual", "--set", "model.args={depth: 4, dilation: [1, 2]}"],
     "one entry per conv layer"),
    # evaluate
    (["evaluate", "--model", "{box}/missing"], "model not found"),
    (["evaluate", "--model", "{box}/run", "--data", "cifar"], "unknown data set"),
    (["evaluate", "--model", "{box}/run", "--noise", "bogus:1"], "unknown noise model"),
    (["evaluate", "--model", "{box}/run", "--split", "train"], "--split"),
    (["evaluate", "--model", "{box}/run", "--precision", "half"], "unknown precision"),
    (["evaluate", "--model", "{box}/run", "--data", "images", "--data-dir", "{box}/missing"], "not found"),
    (["evaluate", "--model", "{box}/junk.safetensors"], "not a daekit checkpoint"),
    # compare
    (["compare", "--runs", "{box}/run", "{box}/missing", "--out", "{box}/newcmp"], "not found"),
    (["compare", "--sweep", "masking", "--out", "{box}/newcmp"], "sweep"),
    (["compare", "--sweep", "masking:abc", "--out", "{box}/newcmp"], "masking"),
    (["compare", "--methods", "magic", "--out", "{box}/newcmp"], "magic"),
    (["compare", "--noise", "blur:1", "--out", "{box}/newcmp"], "unknown noise model"),
    # stack
    (["stack", "--layers", "abc", "--out", "{box}/newstack"], "--layers"),
    (["stack", "--layers", "0", "--out", "{box}/newstack"], "layers"),
    (["stack", "--layers", "1000000000", "--out", "{box}/newstack"], "layers"),
    (["stack", "--layers", "", "--out", "{box}/newstack"], "layers"),
    (["stack", "--noise", "blur:1", "--out", "{box}/newstack"], "unknown noise model"),
    (["stack", "--noise", "masking:0.1,0.2,0.3", "--out", "{box}/newstack"], "noise levels"),
    (["stack", "--finetune", "dance", "--out", "{box}/newstack"], "--finetune"),
    (["stack", "--data", "cifar", "--out", "{box}/newstack"], "unknown data set"),
    (["stack", "--device", "banana", "--out", "{box}/newstack"], "unknown device"),
    (["stack", "--cleaning", "blur:1", "--out", "{box}/newstack"], "blur"),
    (["stack", "--data", "images", "--data-dir", "{box}/photos", "--out", "{box}/newstack"], "held in memory"),
    (["stack", "--config", "{box}/missing.yaml", "--out", "{box}/newstack"], "config file not found"),
    (["stack", "--config", "{box}/bad.yaml", "--out", "{box}/newstack"], "bad.yaml"),
    (["stack", "--set", "stack.nope=1", "--out", "{box}/newstack"], "unknown key"),
    (["stack", "--set", "stack.layers=[0]", "--out", "{box}/newstack"], "stack.layers"),
    (["stack", "--set", "stack.finetune_lr=nan", "--out", "{box}/newstack"], "stack.finetune_lr"),
    (["stack", "--set", "stack.finetune=dance", "--out", "{box}/newstack"], "stack.finetune"),
    # report, export, serve
    (["report", "{box}/missing"], "not found"),
    (["report", "{box}/emptydir"], "results.json"),
    (["report", "{box}/results"], "cannot read the comparison"),
    (["report", "{box}/results", "--stack", "{box}/missing"], ""),
    (["export", "{box}/run", "-o", "{box}/m.txt"], ".onnx"),
    (["export", "{box}/missing", "-o", "{box}/m.onnx"], "not found"),
    (["export", "{box}/run", "-o", "{box}/model.onnx"], "exists; pass --overwrite"),
    (["export", "{box}/run", "-o", "{box}/m.onnx", "--image", "{box}/text.png"], "cannot decode"),
    (["export", "{box}/evil.pt", "-o", "{box}/m.onnx"], ""),
    (["serve", "{box}/missing"], "not found"),
    (["serve", "--host", "256.1.1.1"], "cannot listen"),
    (["serve", "--precision", "fp8"], "unknown precision"),
    (["serve", "--ensemble", "3"], "ensemble size"),
    # the command line itself
    (["frobnicate"], "invalid choice"),
    (["train", "--no-such-flag"], "unrecognized arguments"),
    (["denoise", "{box}/photos/a.png"], "-o"),
    (["evaluate"], "--model"),
]


@pytest.mark.parametrize("argv, words", CASES, ids=[" ".join(a).replace("{box}/", "") for a, _ in CASES])
def test_bad_input(box, capsys, argv, words):
    check(box, capsys, argv, words)


# ---- the API: the same one line, as a DaekitError --------------------------------------------------

def _api_cases(box):
    from daekit import api, images
    from daekit.sklearn import SdAClassifier, StackedDenoisingAutoencoder

    den = api.Denoiser.load(str(box / "run"))
    nan = np.full((8, 8), np.nan, np.float32)
    X = np.random.default_rng(0).random((20, 16)).astype(np.float32)
    return [
        (lambda: api.Denoiser.load("nope"), "neither a shipped model"),
        (lambda: api.Denoiser.load(str(box / "evil.pt")), ""),
        (lambda: den.denoise(nan), "NaN"),
        (lambda: den.denoise(np.zeros((2, 3, 4, 5, 6))), "expected an image"),
        (lambda: den.denoise(np.zeros((8, 8, 5))), "channels"),
        (lambda: den.denoise_image(np.zeros((64, 64, 1), np.float32), tile=3), "too small"),
        (lambda: den.denoise_file(box / "bomb.png", box / "o.png"), "over the limit"),
        (lambda: den.denoise_file(box / "photos" / "a.png", box / "o.png", max_pixels=10), "over the limit"),
        (lambda: images.read_image(box / "text.png"), "cannot decode"),
        (lambda: images.read_image(box / "photos" / "a.png", max_pixels=-1), "pixel limit"),
        (lambda: api.Denoiser.load(str(box / "run"), ensemble=5), "ensemble"),
        (lambda: api.Denoiser.load(str(box / "run"), strength=2), "strength"),
        (lambda: api.evaluate_on(den, limit=-5), "limit"),
        (lambda: api.evaluate_on(den, seed=-1), "seed"),
        (lambda: api.evaluate_on(den, split="train"), "split"),
        (lambda: api.train(sets=[f"out={box / 'mine'}"], progress=False), "already holds a run"),
        (lambda: api.train(sets=[f"out={box / 'new'}", "train.lr=-1"], progress=False), "train.lr"),
        (lambda: StackedDenoisingAutoencoder(layers=(0,)).fit(X), "layers"),
        (lambda: StackedDenoisingAutoencoder(layers=(8,), lr=float("nan")).fit(X), "pretrain_lr"),
        (lambda: StackedDenoisingAutoencoder(layers=(8,), epochs=-1).fit(X), "pretrain_epochs"),
        (lambda: StackedDenoisingAutoencoder(layers=(8,), batch_size=0).fit(X), "batch_size"),
        (lambda: StackedDenoisingAutoencoder(layers=(8,), random_state=-3).fit(X), "seed"),
        (lambda: SdAClassifier(layers=(8,), finetune_lr=0).fit(X, np.arange(20) % 2), "finetune_lr"),
        (lambda: StackedDenoisingAutoencoder(layers=(8,)).fit(np.full((4, 16), np.nan)), ""),
    ]


API_CASES = 24


@pytest.mark.parametrize("i", range(API_CASES))
def test_bad_api_input(box, i):
    case, words = _api_cases(box)[i]
    before = snapshot(box)
    with pytest.raises(DaekitError) as e:
        case()
    assert "\n" not in str(e.value) and words.lower() in str(e.value).lower(), str(e.value)
    assert snapshot(box) == before


def test_the_suite_has_over_200_cases():
    assert len(NUMERIC) + len(CASES) + API_CASES >= 200
