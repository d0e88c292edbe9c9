"""Export a trained or shipped model for use without daekit: ONNX with dynamic height/width, checked
against PyTorch on real images.

TorchScript is not offered: it is deprecated upstream, and ``torch.export`` programs of the
pixel-unshuffled models specialise on the example's even/odd size (the ONNX exporter does not).

The exported graph takes a (B, C, H, W) float32 batch in [0, 1] and returns the denoised batch clamped
to [0, 1]. For ``photo-rgb`` the opponent-color wrapping is part of the graph, so the ONNX file cleans
RGB photos by itself. Files are written to a temporary name and moved into place only after the
parity check passes: a failed export leaves nothing behind.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .api import Denoiser
from .color import OPP, OPP_INV, OPP_OFFSET
from .errors import DaekitError
from .io import atomic_path

PARITY_TOLERANCE = 1e-4


class Exportable(nn.Module):
    """The network plus what daekit does around it: channel handling, opponent color, clamping."""

    def __init__(self, den: Denoiser) -> None:
        super().__init__()
        self.net = den.model
        self.opponent = den.color == "opponent" and den.in_channels == 1
        self.channels = 3 if self.opponent else den.in_channels
        self.register_buffer("opp", torch.tensor(OPP, dtype=torch.float32))
        self.register_buffer("opp_inv", torch.tensor(OPP_INV, dtype=torch.float32))
        self.register_buffer("offset", torch.tensor(OPP_OFFSET, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.opponent:
            return self.net(x).clamp(0, 1)
        b, _, h, w = x.shape
        y = torch.einsum("ij,bjhw->bihw", self.opp, x) + self.offset  # (B, 3, H, W) opponent channels
        y = self.net(y.reshape(b * 3, 1, h, w)).reshape(b, 3, h, w)
        return torch.einsum("ij,bjhw->bihw", self.opp_inv, y - self.offset).clamp(0, 1)


def parity_images(channels: int, size: tuple[int, int] | None) -> list[np.ndarray]:
    """Real test images (scikit-image's camera / astronaut with sigma-25 noise): an even and an odd size."""
    from skimage import data

    rng = np.random.default_rng(0)
    base = (data.astronaut() if channels == 3 else data.camera()[..., None]).astype(np.float32) / 255
    crops = [size] if size else [(256, 256), (191, 255)]
    out = []
    for h, w in crops:
        img = base[100 : 100 + h, 100 : 100 + w]
        out.append(np.clip(img + rng.normal(0, 25 / 255, img.shape), 0, 1).astype(np.float32))
    return out


def _batch(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).unsqueeze(0)


def export_model(den: Denoiser, onnx_path: str | Path, image: np.ndarray | None = None, opset: int = 18) -> dict[str, Any]:
    """Exports `den` and checks parity; returns the max abs differences and timings.

    Args:
        den: The model (``Denoiser.load(...)``).
        onnx_path: Where to write the ONNX file.
        image: An (H, W, C) float32 image in [0, 1] for the parity check (default: real sample photos).
        opset: ONNX opset.

    Raises:
        DaekitError: a missing exporter package, or outputs that differ from PyTorch by more than 1e-4.
    """
    module = Exportable(den).cpu().eval()
    name = den.model.spec["name"]
    size = den.model.geometry.fixed_size  # the model's own declaration (models/blocks.py)
    fixed = size is not None
    if image is not None:
        if image.shape[2] != module.channels:
            raise DaekitError(f"parity image has {image.shape[2]} channel(s); the exported model takes {module.channels}")
        images = [image]
    else:
        images = parity_images(module.channels, size)
    example = _batch(images[0])
    with torch.no_grad():
        refs = [module(_batch(im)).numpy() for im in images]
    # Dim.DYNAMIC, not named Dims with bounds: the exporter then derives the sizes' relations itself (pd
    # sub-images reshape H / s into the batch, which named bounded Dims fail to solve); parity below checks it
    dims = None if fixed else {"x": {2: torch.export.Dim.DYNAMIC, 3: torch.export.Dim.DYNAMIC}}
    report: dict[str, Any] = {"model": name, "dynamic_size": not fixed}
    try:
        import onnxruntime as ort
    except ImportError:
        raise DaekitError("ONNX export needs the onnx extra: pip install 'daekit[onnx]'") from None
    path = Path(onnx_path)
    t0 = time.perf_counter()
    with atomic_path(path) as tmp:  # renamed into place only if the parity check passes
        try:
            prog = torch.onnx.export(module, (example,), dynamo=True, input_names=["x"], output_names=["y"],
                                     dynamic_shapes=dims, opset_version=opset, verbose=False)
        except ImportError as e:  # the missing module named, so that a broken install is told from a missing one
            raise DaekitError(f"ONNX export needs the onnx extra ({e}): pip install 'daekit[onnx]'") from None
        prog.save(str(tmp))
        sess = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        diffs = [float(np.abs(sess.run(None, {"x": _batch(im).numpy()})[0] - ref).max()) for im, ref in zip(images, refs)]
        report["onnx_max_abs_diff"] = max(diffs)
        if max(diffs) > PARITY_TOLERANCE:
            raise DaekitError(f"ONNX output differs from PyTorch by {max(diffs):.2e} (> {PARITY_TOLERANCE:g}); not written")
    report["onnx"] = str(path)
    report["onnx_seconds"] = time.perf_counter() - t0
    report["parity_images"] = [list(im.shape) for im in images]
    return report
