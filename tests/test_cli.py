"""The command line end to end, and every bad input of the core issue: one line, non-zero exit, no traceback."""
import gzip
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from daekit.cli import main

from conftest import tiny_sets
from test_data import fake_mnist


def run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc, err, words):
    assert rc != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("daekit: error:") and words in lines[0], err
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def conv_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "conv"
    sets = [f"--set={s}" for s in tiny_sets(out, "data.resize=16", "train.epochs=15", "noise=gaussian:50+clip")]
    assert main(["train", "--quiet", *sets]) == 0
    return out


@pytest.fixture(scope="module")
def dense_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "dense"
    assert main(["train", "--quiet", "--data", "digits", "--model", "dense", "--noise", "masking:0.3", "--epochs", "1", "--out", str(out)]) == 0
    return out


def test_train_writes_a_complete_run(conv_run):
    assert (conv_run / "config.yaml").exists() and (conv_run / "metrics.jsonl").exists()
    for name in ("best", "last"):
        assert (conv_run / "checkpoints" / f"{name}.safetensors").exists()
        assert json.loads((conv_run / "checkpoints" / f"{name}.json").read_text())["model"]["name"] == "conv"


def test_cli_resume_reads_the_run_config(tmp_path, capsys):
    out = tmp_path / "r"
    rc, *_ = run(capsys, "train", "--quiet", "--epochs", "1", "--out", out, "--set", "model.args={channels: [4, 4]}")
    assert rc == 0
    rc, o, e = run(capsys, "train", "--quiet", "--resume", "--epochs", "2", "--out", out)
    assert rc == 0, e
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2


def test_evaluate_json(conv_run, capsys):
    rc, out, err = run(capsys, "evaluate", "--model", conv_run, "--json")
    assert rc == 0, err
    res = json.loads(out)
    assert res["images"] == 297 and res["psnr"] > res["noisy_psnr"] + 3
    rc, out, _ = run(capsys, "evaluate", "--model", conv_run, "--noise", "masking:0.5", "--limit", "50")
    assert rc == 0 and "denoised" in out and "(50 images)" in out
    rc, out4, err = run(capsys, "evaluate", "--model", conv_run, "--json", "--limit", "50", "--ensemble", "4")
    rc1, out1, _ = run(capsys, "evaluate", "--model", conv_run, "--json", "--limit", "50")
    assert rc == rc1 == 0, err
    assert json.loads(out4)["noisy_psnr"] == json.loads(out1)["noisy_psnr"]  # same inputs,
    assert json.loads(out4)["psnr"] != json.loads(out1)["psnr"]  # another estimate


def test_denoise_files_and_folders_keep_bit_depth(conv_run, tmp_path, capsys):
    rng = np.random.default_rng(0)
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    from daekit.data import load_dataset

    digits = load_dataset("digits", resize=16).test[:6, 0].numpy()  # (6, 16, 16) held-out digits
    clean = np.zeros((45, 35), np.float32)
    for i, d in enumerate(digits):  # a mosaic the model has never seen, at a size it was not trained on
        y, x = 2 + 13 * (i // 2), 2 + 16 * (i % 2)
        clean[y : y + 16, x : x + 16] = np.maximum(clean[y : y + 16, x : x + 16], d)
    noisy = np.clip(clean + rng.normal(0, 50 / 255, clean.shape), 0, 1)
    cv2.imwrite(str(src / "a.png"), (noisy * 255).round().astype(np.uint8))
    cv2.imwrite(str(src / "sub" / "b16.png"), (noisy * 65535).round().astype(np.uint16))
    rgb = np.stack([noisy] * 3, -1)
    cv2.imwrite(str(src / "c.tif"), (rgb * 65535).round().astype(np.uint16))
    rc, out, err = run(capsys, "denoise", "--model", conv_run, src, "-o", tmp_path / "out")
    assert rc == 0, err
    a = cv2.imread(str(tmp_path / "out" / "a.png"), cv2.IMREAD_UNCHANGED)
    b = cv2.imread(str(tmp_path / "out" / "sub" / "b16.png"), cv2.IMREAD_UNCHANGED)
    c = cv2.imread(str(tmp_path / "out" / "c.tif"), cv2.IMREAD_UNCHANGED)
    assert a.dtype == np.uint8 and a.shape == (45, 35)
    assert b.dtype == np.uint16 and b.shape == (45, 35)
    assert c.dtype == np.uint16 and c.shape == (45, 35, 3)
    mse_in = ((noisy - clean) ** 2).mean()
    assert ((a / 255 - clean) ** 2).mean() < 0.8 * mse_in  # less noisy than the input
    assert ((b / 65535 - clean) ** 2).mean() < 0.8 * mse_in
    # a single file to a named file
    rc, *_ = run(capsys, "denoise", "--model", conv_run, src / "a.png", "-o", tmp_path / "one.jpg")
    assert rc == 0 and cv2.imread(str(tmp_path / "one.jpg")).shape[:2] == (45, 35)


def test_list_and_help(capsys):
    rc, out, _ = run(capsys, "list")
    assert rc == 0
    assert "28,353" in out and "sigma: std on the 0-255 scale" in out and "fashion-mnist" in out
    for cmd in (["--help"], ["train", "--help"], ["denoise", "--help"], ["evaluate", "--help"]):
        with pytest.raises(SystemExit) as e:
            main(cmd)
        assert e.value.code == 0
    assert "noise_factor=0.4 is gaussian:102+clip" in capsys.readouterr().out


def test_python_m_daekit_is_the_cli():
    r = subprocess.run([sys.executable, "-m", "daekit", "train", "--noise", "gaussian:-5"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip() == "daekit: error: noise 'gaussian': sigma must be a finite number >= 0, got -5"


# ---- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "argv, words",
    [
        (["train", "--data", "mnist", "--data-dir", "/nonexistent/mnist"], "data directory for 'mnist' not found: /nonexistent/mnist"),
        (["train", "--model", "resnet"], "unknown model 'resnet'"),
        (["train", "--noise", "blur:3"], "unknown noise model 'blur'"),
        (["train", "--data", "cifar"], "unknown data set 'cifar'"),
        (["train", "--noise", "gaussian:-1"], "sigma must be a finite number >= 0, got -1"),
        (["train", "--noise", "masking:1.2"], "fraction must be in [0, 1], got 1.2"),
        (["train", "--noise", "salt-and-pepper:-0.5"], "fraction must be in [0, 1], got -0.5"),
        (["train", "--set", "train.lr=abc"], "train.lr: Input should be a valid number"),
        (["train", "--config", "/nonexistent.yaml"], "config file not found"),
        (["evaluate", "--model", "/nonexistent/run"], "model not found"),
        (["evaluate", "--model", "mnist", "--ensemble", "5"], "ensemble size must be one of 1, 2, 4, 8, got 5"),
        (["evaluate", "--model", "mnist", "--precision", "fp16"], "unknown precision 'fp16'; use auto, fp32, bf16"),
    ],
)
def test_bad_arguments(argv, words, capsys, tmp_path):
    rc, _, err = run(capsys, *argv, *(["--out", tmp_path / "r", "--quiet"] if argv[0] == "train" else []))
    assert_one_line_error(rc, err, words)
    assert not (tmp_path / "r" / "checkpoints").exists()


def test_corrupt_idx_file(tmp_path, capsys):
    root = fake_mnist(tmp_path / "mnist")
    f = root / "train-images-idx3-ubyte.gz"
    f.write_bytes(gzip.compress(gzip.decompress(f.read_bytes())[:-100]))
    rc, _, err = run(capsys, "train", "--data", "mnist", "--data-dir", root, "--out", tmp_path / "r", "--quiet")
    assert_one_line_error(rc, err, "corrupt or truncated IDX file")


def test_wrong_size_for_dense_model(dense_run, tmp_path, capsys):
    cv2.imwrite(str(tmp_path / "big.png"), np.zeros((28, 28), np.uint8))
    rc, _, err = run(capsys, "denoise", "--model", dense_run, tmp_path / "big.png", "-o", tmp_path / "o.png")
    assert_one_line_error(rc, err, "expects 8x8 images, got 28x28")
    assert not (tmp_path / "o.png").exists()


def test_checkpoint_of_another_model_or_no_checkpoint(conv_run, tmp_path, capsys):
    rc, _, err = run(capsys, "train", "--resume", "--out", conv_run, "--model", "dense", "--quiet", "--epochs", "9")
    assert_one_line_error(rc, err, "model.name is 'dense' but the checkpoint was trained with 'conv'")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not weights at all")
    cv2.imwrite(str(tmp_path / "x.png"), np.zeros((8, 8), np.uint8))
    rc, _, err = run(capsys, "denoise", "--model", junk, tmp_path / "x.png", "-o", tmp_path / "y.png")
    assert_one_line_error(rc, err, "not a daekit checkpoint")


def test_nan_input(conv_run, tmp_path, capsys):
    a = np.full((16, 16), 0.5, np.float32)
    a[3, 3] = np.nan
    cv2.imwrite(str(tmp_path / "nan.tif"), a)
    rc, _, err = run(capsys, "denoise", "--model", conv_run, tmp_path / "nan.tif", "-o", tmp_path / "o.tif")
    assert_one_line_error(rc, err, "contains NaN")


def test_output_that_would_overwrite_an_input(conv_run, tmp_path, capsys):
    img = tmp_path / "x.png"
    cv2.imwrite(str(img), np.full((16, 16), 99, np.uint8))
    before = img.read_bytes()
    rc, _, err = run(capsys, "denoise", "--model", conv_run, img, "-o", img)
    assert_one_line_error(rc, err, "would overwrite an input")
    rc, _, err = run(capsys, "denoise", "--model", conv_run, tmp_path, "-o", tmp_path)
    assert_one_line_error(rc, err, "would overwrite an input")
    assert img.read_bytes() == before
    (tmp_path / "out.png").write_bytes(b"keep me")
    rc, _, err = run(capsys, "denoise", "--model", conv_run, img, "-o", tmp_path / "out.png")
    assert_one_line_error(rc, err, "exists; pass --overwrite")
    assert (tmp_path / "out.png").read_bytes() == b"keep me"


@pytest.mark.parametrize("argv", [["train", "--seed", "-1"], ["train", "--seed", "1e23"],
                                  ["evaluate", "--model", "photo-gray", "--seed", "-1"]])
def test_bad_seeds_are_usage_errors_not_tracebacks(capsys, argv):
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and "--seed: must be" in err.strip().splitlines()[-1] and "Traceback" not in err


def test_a_negative_seed_in_the_config_is_refused_in_one_line(capsys, tmp_path):
    rc, _, err = run(capsys, "train", "--set", "seed=-5", "--out", tmp_path / "r")
    assert_one_line_error(rc, err, "seed")
    assert not (tmp_path / "r").exists()


def test_evaluate_on_a_folder_of_photos(tmp_path, capsys):
    from skimage import data

    (tmp_path / "photos").mkdir()
    for i in range(3):  # three crops of different sizes of a real photo
        cv2.imwrite(str(tmp_path / "photos" / f"{i}.png"), data.camera()[100 + 40 * i : 180 + 48 * i, 150:230])
    rc, out, err = run(capsys, "evaluate", "--model", "photo-gray-fast", "--data", "images", "--data-dir", tmp_path / "photos",
                       "--noise", "gaussian:25", "--json")
    assert rc == 0, err
    res = json.loads(out)
    assert res["images"] == 3 and res["psnr"] > res["noisy_psnr"]  # every photo, whole, denoised
