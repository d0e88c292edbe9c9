"""Fully connected autoencoders: the classic one-layer denoising autoencoder and a deep bottleneck one."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import Geometry, activation, check_input, positive_ints
from .registry import MODELS


@MODELS.register("dense")
class DenseAE(nn.Module):
    """One hidden layer of sigmoid units (the dA of Vincent et al. 2008), optionally with tied weights.

    Args:
        in_channels: Image channels.
        image_size: (H, W); the input must have exactly this size.
        hidden: Number of hidden units (the code size).
        tied: Decoder weight is the encoder weight transposed.
    """

    geometry: Geometry
    unit_output: bool = True  # a sigmoid output

    def __init__(self, in_channels: int = 1, image_size: tuple[int, int] = (28, 28), hidden: int = 256, tied: bool = True) -> None:
        super().__init__()
        (hidden,) = positive_ints("dense", "hidden", hidden)
        self.in_channels, self.image_size, self.tied = in_channels, tuple(image_size), bool(tied)
        self.geometry = Geometry(fixed_size=self.image_size)
        n = in_channels * self.image_size[0] * self.image_size[1]
        self.enc = nn.Linear(n, hidden)
        bound = 4 * math.sqrt(6.0 / (n + hidden))  # Glorot init scaled for sigmoid, as in the dA tutorial
        nn.init.uniform_(self.enc.weight, -bound, bound)
        nn.init.zeros_(self.enc.bias)
        self.dec_bias = nn.Parameter(torch.zeros(n))
        self.dec_weight = None if tied else nn.Parameter(self.enc.weight.detach().t().clone())

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.in_channels, self.image_size, "dense")
        return torch.sigmoid(self.enc(x.flatten(1)))  # (B, hidden)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        w = self.enc.weight.t() if self.dec_weight is None else self.dec_weight  # (n, hidden)
        y = torch.sigmoid(F.linear(z, w, self.dec_bias))  # (B, n)
        return y.view(z.shape[0], self.in_channels, *self.image_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


@MODELS.register("deep-dense")
class DeepDenseAE(nn.Module):
    """Several fully connected layers narrowing to a bottleneck, mirrored by the decoder.

    Args:
        in_channels: Image channels.
        image_size: (H, W); the input must have exactly this size.
        hidden: Widths of the encoder layers; the last one is the code size.
        act: Hidden activation ("relu", "gelu", "tanh", "sigmoid").
    """

    geometry: Geometry
    unit_output: bool = True  # a sigmoid output

    def __init__(
        self,
        in_channels: int = 1,
        image_size: tuple[int, int] = (28, 28),
        hidden: tuple[int, ...] = (256, 64),
        act: str = "relu",
    ) -> None:
        super().__init__()
        widths = positive_ints("deep-dense", "hidden", hidden)
        self.in_channels, self.image_size = in_channels, tuple(image_size)
        self.geometry = Geometry(fixed_size=self.image_size)
        n = in_channels * self.image_size[0] * self.image_size[1]
        dims = [n, *widths]
        enc: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            enc += [nn.Linear(a, b), activation(act)]
        dec: list[nn.Module] = []
        rdims = dims[::-1]
        for i, (a, b) in enumerate(zip(rdims[:-1], rdims[1:])):
            last = i == len(rdims) - 2
            dec += [nn.Linear(a, b), nn.Sigmoid() if last else activation(act)]
        self.encoder, self.decoder = nn.Sequential(*enc), nn.Sequential(*dec)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.in_channels, self.image_size, "deep-dense")
        return self.encoder(x.flatten(1))  # (B, code)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).view(z.shape[0], self.in_channels, *self.image_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


