"""Convolutional encoder/decoder with a spatial bottleneck (the keras.io denoising example is its default)."""
from __future__ import annotations

import torch
from torch import nn

from .blocks import Geometry, activation, check_input, crop, pad_to_multiple, positive_ints
from .registry import MODELS


@MODELS.register("conv")
class ConvAE(nn.Module):
    """Conv(3x3)+ReLU+MaxPool(2) per level, then as many stride-2 transposed convs, then a 3x3 conv.

    With the defaults this is the keras.io "Convolutional autoencoder for image denoising" network:
    28,353 parameters for 1-channel input. Inputs of any H x W are padded (edge-replicated) to a
    multiple of 2**levels and the output is cropped back.

    Args:
        in_channels: Image channels.
        image_size: Unused except as the default size in summaries (any size is accepted).
        channels: Width of each encoder level; the decoder mirrors it.
        out_act: Output activation: "sigmoid" for [0, 1] data, "none" for unbounded.
    """

    geometry: Geometry
    unit_output: bool  # with the sigmoid output (the default)

    def __init__(
        self,
        in_channels: int = 1,
        image_size: tuple[int, int] = (28, 28),
        channels: tuple[int, ...] = (32, 32),
        out_act: str = "sigmoid",
    ) -> None:
        super().__init__()
        widths = positive_ints("conv", "channels", channels)
        self.in_channels, self.multiple = in_channels, 2 ** len(widths)
        enc: list[nn.Module] = []
        c = in_channels
        for w in widths:
            enc += [nn.Conv2d(c, w, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            c = w
        dec: list[nn.Module] = []
        for w in widths[::-1]:
            dec += [nn.ConvTranspose2d(c, w, 3, stride=2, padding=1, output_padding=1), nn.ReLU(inplace=True)]
            c = w
        dec += [nn.Conv2d(c, in_channels, 3, padding=1), activation(out_act)]
        self.encoder, self.decoder = nn.Sequential(*enc), nn.Sequential(*dec)
        # per level l: conv3 (2 * 2**l) + pool (2**l) on the way down, transposed conv3 (2 * 2**(l+1)) on the
        # way up, + the last conv3: 7 * 2**levels - 4 pixels wide, an upper bound (tiled == whole is tested)
        self.geometry = Geometry(receptive_field=7 * self.multiple - 4, multiple=self.multiple)
        self.unit_output = out_act == "sigmoid"

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.in_channels, None, "conv")
        x, _ = pad_to_multiple(x, self.multiple)
        return self.encoder(x)  # (B, channels[-1], H / 2**levels, W / 2**levels)

    def decode(self, z: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
        y = self.decoder(z)  # (B, C, H_padded, W_padded)
        return y if size is None else crop(y, size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x), tuple(x.shape[-2:]))
