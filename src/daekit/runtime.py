"""The inference runtime: which device, which precision, and running a model over batches.

A ground-floor module (it imports nothing of daekit but errors): training, `daekit denoise` and
`daekit serve` all choose their device and precision here.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from .errors import DaekitError


def select_device(name: str = "auto") -> torch.device:
    """'auto' picks cuda, then mps, then cpu; an explicit name that is not available is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise DaekitError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DaekitError(f"device {name!r} requested but CUDA is not available on this machine")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise DaekitError(f"device {name!r} requested but MPS is not available on this machine")
    return dev


INFERENCE_PRECISIONS = ("auto", "fp32", "bf16")


def check_precision(precision: str) -> str:
    """Validates an inference precision name."""
    if precision not in INFERENCE_PRECISIONS:
        raise DaekitError(f"unknown precision {precision!r}; use {', '.join(INFERENCE_PRECISIONS)}")
    return precision


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bf16 natively: a CUDA GPU that supports bf16, or a CPU with Intel AMX or
    AVX512-BF16 (oneDNN's bf16 convolutions). Measured: photo-gray 2.9x faster on an AMX Xeon; photo-real
    1.9x faster on a 2-core AMD EPYC with AVX512-BF16 and no AMX (1.15 vs 2.24 s for a 512x512 photo,
    -0.03 dB). Without either, CPU bf16 is emulated and not worth it."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        cpu = getattr(torch, "cpu", None)
        checks = [getattr(cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]  # torch >= 2.3
        return any(bool(check and check()) for check in checks)
    return False


@dataclass
class Precision:
    """Mixed-precision settings for one device: autocast dtype (None = fp32) and an fp16 loss scaler."""

    dtype: torch.dtype | None
    scaler: torch.amp.GradScaler | None

    @classmethod
    def for_device(cls, device: torch.device, enabled: bool, cpu_bf16: bool = False) -> "Precision":
        """Training precision. `cpu_bf16` is taken only on a CPU that computes bf16 natively (``native_bf16``;
        ``cpu_bf16_ignored`` says when it is not): emulated, a photo model's training step took 15x fp32's time
        (a 2-core AMD EPYC without AVX-512, thirtieth session: 230-270 s against 16 s)."""
        if device.type == "cpu" and cpu_bf16 and native_bf16(device):  # weights and optimizer stay fp32; convs in bf16
            return cls(torch.bfloat16, None)
        if not enabled or device.type != "cuda":
            return cls(None, None)
        if torch.cuda.is_bf16_supported():
            return cls(torch.bfloat16, None)
        return cls(torch.float16, torch.amp.GradScaler("cuda"))

    @staticmethod
    def cpu_bf16_ignored(device: torch.device, cpu_bf16: bool) -> str | None:
        """The warning for a training that asked for CPU bf16 on a CPU that would emulate it, else None."""
        if device.type != "cpu" or not cpu_bf16 or native_bf16(device):
            return None
        return ("warning: train.cpu_bf16 is set, but this CPU has no bf16 units (AMX or AVX512-BF16): training in fp32 "
                "(emulated bf16 took 15x fp32's time per step on such a CPU)")

    @classmethod
    def for_inference(cls, device: torch.device, precision: str) -> "Precision":
        """Inference precision: "fp32", "bf16", or "auto" = bf16 where the hardware computes it natively
        (``native_bf16``), else fp32. Measured on this project's AMX CPU: photo-gray 2.9x faster than
        fp32 for at most 0.01 dB less PSNR, photo-gray-fast 4.7x (docs/benchmarks.md)."""
        check_precision(precision)
        bf16 = precision == "bf16" or (precision == "auto" and native_bf16(device))
        return cls(torch.bfloat16 if bf16 else None, None)

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.dtype)


@torch.no_grad()
def denoise_batches(model: nn.Module, noisy: torch.Tensor, batch_size: int = 1024, precision: Precision | None = None) -> torch.Tensor:
    """Runs `model` over `noisy` (N, C, H, W) in batches on the model's device; returns a CPU tensor."""
    model.eval()
    device = next(model.parameters()).device
    precision = precision or Precision(None, None)
    outs = []
    for i in range(0, len(noisy), batch_size):
        with precision.autocast(device):
            outs.append(model(noisy[i : i + batch_size].to(device, non_blocking=True)).float().cpu())
    return torch.cat(outs) if outs else noisy.clone()


