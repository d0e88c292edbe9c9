"""ONNX export: parity with PyTorch on real images at two sizes, fixed-size dense models, bad input."""
from __future__ import annotations

import numpy as np
import pytest

from daekit.api import Denoiser
from daekit.cli import main
from daekit.export import export_model, parity_images

from test_cli import assert_one_line_error, dense_run, run  # noqa: F401  (fixture)

ort = pytest.importorskip("onnxruntime")


def test_photo_rgb_exports_with_dynamic_size_and_matches_pytorch(tmp_path):
    den = Denoiser.load("photo-rgb", device="cpu", precision="fp32")  # the exported graph is fp32
    rep = export_model(den, tmp_path / "rgb.onnx")
    assert rep["onnx_max_abs_diff"] <= 1e-4 and rep["dynamic_size"]
    sess = ort.InferenceSession(str(tmp_path / "rgb.onnx"), providers=["CPUExecutionProvider"])
    img = parity_images(3, None)[1][:77, :129]  # a size the export never saw
    got = sess.run(None, {"x": img.transpose(2, 0, 1)[None]})[0][0].transpose(1, 2, 0)
    assert np.abs(got - den.denoise_image(img, tile=0)).max() <= 1e-4  # the opponent color step is in the graph


def test_dense_model_exports_at_its_fixed_size(dense_run, tmp_path, capsys):  # noqa: F811
    rc, out, err = run(capsys, "export", dense_run, "-o", tmp_path / "dense.onnx")
    assert rc == 0, err
    assert "fixed height/width" in out and (tmp_path / "dense.onnx").exists()


def test_export_bad_input(tmp_path, capsys):
    (tmp_path / "x.onnx").write_bytes(b"keep")
    rc, _, err = run(capsys, "export", "mnist", "-o", tmp_path / "x.onnx")
    assert_one_line_error(rc, err, "exists")
    assert (tmp_path / "x.onnx").read_bytes() == b"keep"
    rc, _, err = run(capsys, "export", "mnist", "-o", tmp_path / "x.txt")
    assert_one_line_error(rc, err, "must name a .onnx file")
    rc, _, err = run(capsys, "export", "no-such-model", "-o", tmp_path / "y.onnx")
    assert_one_line_error(rc, err, "model not found")


def test_dilated_residual_exports_and_matches_pytorch(tmp_path):
    import torch

    from daekit.config import Config
    from daekit.models import create_model

    torch.manual_seed(0)
    m = create_model("residual", 3, depth=5, width=8, dilation=[1, 2, 5, 3, 1])
    torch.nn.init.normal_(m.body[-1].weight, std=0.05)  # not the identity map
    rep = export_model(Denoiser(m, Config(), "cpu", precision="fp32"), tmp_path / "dil.onnx")
    assert rep["onnx_max_abs_diff"] <= 1e-4 and rep["dynamic_size"]
