"""A small U-Net for any H x W (input padded to a multiple of 2**levels, output cropped back)."""
from __future__ import annotations

import torch
from torch import nn

from .blocks import check_input, crop, pad_to_multiple, positive_ints
from .registry import MODELS


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(inplace=True),
    )


@MODELS.register("unet")
class UNet(nn.Module):
    """Encoder of `levels` downsamplings (width doubling each), decoder with skip connections.

    Args:
        in_channels: Image channels.
        image_size: Unused (any size is accepted); kept for a uniform constructor.
        levels: Number of 2x downsamplings.
        width: Channels at full resolution.
        residual: Predict the noise and subtract it (True) or the clean image directly (False).
    """

    def __init__(
        self,
        in_channels: int = 1,
        image_size: tuple[int, int] = (28, 28),
        levels: int = 2,
        width: int = 16,
        residual: bool = True,
    ) -> None:
        super().__init__()
        (levels,) = positive_ints("unet", "levels", levels)
        (width,) = positive_ints("unet", "width", width)
        self.in_channels, self.levels, self.residual = in_channels, levels, bool(residual)
        widths = [width * 2**i for i in range(levels + 1)]
        self.inc = _double_conv(in_channels, widths[0])
        self.downs = nn.ModuleList(_double_conv(widths[i], widths[i + 1]) for i in range(levels))
        self.ups = nn.ModuleList(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in reversed(range(levels)))
        self.up_convs = nn.ModuleList(_double_conv(2 * widths[i], widths[i]) for i in reversed(range(levels)))
        self.pool = nn.MaxPool2d(2)
        self.out = nn.Conv2d(widths[0], in_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.in_channels, None, "unet")
        xp, size = pad_to_multiple(x, 2**self.levels)
        skips = [self.inc(xp)]  # (B, w, H, W)
        for down in self.downs:
            skips.append(down(self.pool(skips[-1])))  # (B, w * 2**i, H / 2**i, W / 2**i)
        h = skips.pop()
        for up, conv in zip(self.ups, self.up_convs):
            h = conv(torch.cat([up(h), skips.pop()], dim=1))
        y = crop(self.out(h), size)
        return x - y if self.residual else y
