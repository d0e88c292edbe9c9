"""The Python snippets of README.md and docs/guide.md, executed as written (fewer epochs).

A snippet uses names a reader has at hand (a noisy image, a tensor of digits): they are given here,
real and small; nothing else in the snippet is changed except its epoch counts.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def snippets(doc: str) -> list[str]:
    code = re.findall(r"```python\n(.*?)```", (ROOT / doc).read_text(), re.S)
    return [re.sub(r"(epochs\s*=\s*)\d+", r"\g<1>2", c) for c in code]  # small: 2 epochs wherever epochs are named


def at_hand() -> dict:
    """The names the snippets take from the reader's own session."""
    from daekit.data.strokes import digits28
    from daekit.noise import make_generator, parse_noise
    from skimage import data as skdata

    digits = torch.from_numpy(digits28()[2][:16].astype(np.float32) / 255)[:, None]  # (16, 1, 28, 28)
    x_noisy = parse_noise("masking:50%")(digits, make_generator(0))
    rgb = skdata.astronaut()[100:196, 160:256]
    rng = np.random.default_rng(0)
    noisy_rgb = np.clip(rgb + rng.normal(0, 25, rgb.shape), 0, 255).astype(np.uint8)
    return {"x": digits, "x_noisy": x_noisy, "clean_tensor": digits,
            "noisy_image": (x_noisy[0, 0].numpy() * 255).astype(np.uint8), "noisy": (x_noisy[1, 0].numpy() * 255).astype(np.uint8),
            "noisy_rgb": noisy_rgb, "rgb": rgb}


@pytest.fixture
def session(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return at_hand()


def test_readme_python(session):
    ns = dict(session)
    for code in snippets("README.md"):
        exec(compile(code, "README.md", "exec"), ns)  # noqa: S102 - our own documentation
    assert ns["clean"].shape == (28, 28) and ns["clean"].dtype == np.uint8
    assert Path("runs/dae/checkpoints/best.safetensors").exists()
    assert ns["clf"].score(ns["X"], ns["y"]) > 0.5  # 2 epochs; the warning about under-scaled X stays silent


def test_guide_python(session):
    import daekit

    daekit.train(sets=["noise=masking:50%", "train.epochs=2", "out=runs/dae"])  # the run the guide loads
    pytest.importorskip("onnxruntime")
    from daekit.cli import main

    assert main(["export", "photo-rgb", "-o", "photo-rgb.onnx"]) == 0
    ns = dict(session)
    for code in snippets("docs/guide.md"):
        exec(compile(code, "docs/guide.md", "exec"), ns)  # noqa: S102
    clean, rgb = ns["clean"], ns["rgb"].astype(np.float32) / 255
    assert clean.shape == rgb.shape and 0.05 < clean.mean() < 0.95  # not an all-white image (it was, without / 255)
    err_noisy = np.abs(ns["noisy_rgb"] / 255 - rgb).mean()
    assert np.abs(clean - rgb).mean() < 0.7 * err_noisy  # the exported model denoised it


def test_sklearn_warns_on_underscaled_x():
    from sklearn.datasets import load_digits

    from daekit.sklearn import DenoisingAutoencoder

    X = load_digits().data[:100] / 255.0  # values 0..16 divided by 255: at most 0.063
    with pytest.warns(UserWarning, match="far below 1"):
        DenoisingAutoencoder(hidden=8, epochs=1).fit(X)
