"""A fully convolutional residual denoiser (DnCNN-style): the network predicts the noise, output = x - noise."""
from __future__ import annotations

import torch
from torch import nn

from .blocks import check_input, positive_ints
from .registry import MODELS


@MODELS.register("residual")
class ResidualDenoiser(nn.Module):
    """`depth` 3x3 conv layers of `width` channels with ReLU; works on any H x W (zero padding).

    Args:
        in_channels: Image channels.
        image_size: Unused (any size is accepted); kept for a uniform constructor.
        depth: Number of conv layers (>= 2); the receptive field is 2 * depth + 1 pixels.
        width: Channels of the hidden layers.
        batch_norm: BatchNorm after the hidden convs, as in DnCNN (off by default: small batches).
    """

    def __init__(
        self,
        in_channels: int = 1,
        image_size: tuple[int, int] = (28, 28),
        depth: int = 10,
        width: int = 48,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        (depth,) = positive_ints("residual", "depth", depth)
        (width,) = positive_ints("residual", "width", width)
        depth = max(depth, 2)
        self.in_channels = in_channels
        self.receptive_field = 2 * depth + 1
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1, bias=not batch_norm)]
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU(inplace=True))
        layers.append(nn.Conv2d(width, in_channels, 3, padding=1))
        self.body = nn.Sequential(*layers)
        nn.init.zeros_(self.body[-1].weight)  # start as the identity map: predicted noise = 0
        nn.init.zeros_(self.body[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.in_channels, None, "residual")
        return x - self.body(x)
