"""A small U-Net for any H x W (input padded to a multiple of 2**levels, output cropped back)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DaekitError
from .blocks import Geometry, check_input, on_unshuffled, positive_ints
from .registry import MODELS


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(inplace=True),
    )


class MaxBlurPool(nn.Module):
    """Max over each 2x2 window at stride 1, then a [1, 2, 1] binomial blur at stride 2: downsampling that
    does not alias (Zhang 2019), N2V2's replacement for max-pooling against blind-spot checkerboards."""

    def __init__(self) -> None:
        super().__init__()
        k = torch.tensor([1.0, 2.0, 1.0])
        self.register_buffer("kernel", (k[:, None] * k[None, :] / 16).view(1, 1, 3, 3), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.pad(x, (0, 1, 0, 1), mode="replicate"), 2, stride=1)
        c = x.shape[1]
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), self.kernel.to(x.dtype).expand(c, 1, 3, 3), stride=2, groups=c)


@MODELS.register("unet")
class UNet(nn.Module):
    """Encoder of `levels` downsamplings (width doubling each), decoder with skip connections.

    Args:
        in_channels: Image channels.
        image_size: Unused (any size is accepted); kept for a uniform constructor.
        levels: Number of 2x downsamplings.
        width: Channels at full resolution.
        residual: Predict the noise and subtract it (True) or the clean image directly (False).
        unshuffle: Work on `unshuffle` x `unshuffle` pixel-unshuffled sub-images (1 = full resolution):
            the same compute buys `unshuffle` times the width and twice the reach (as FFDNet does).
        pool: ``max`` (2x2 max-pooling) or ``blur`` (max, then an anti-aliasing blur: ``MaxBlurPool``).
        top_skip: Keep the full-resolution skip connection. N2V2 (Hoeck et al. 2022) drops it and uses
            ``pool: blur`` against the checkerboard artefacts of blind-spot training: with it, the output
            leans on the input pixel's own (stand-in) value and its high-frequency pattern.

    Attributes:
        geometry: Any size; tiles on multiples of ``unshuffle * 2**levels``; no exact receptive field
            declared (its reach is large: tiles get a generous halo and are blended).
    """

    geometry: Geometry
    unit_output: bool = False  # a residual (x minus the predicted noise) or linear output, unbounded

    def __init__(
        self,
        in_channels: int = 1,
        image_size: tuple[int, int] = (28, 28),
        levels: int = 2,
        width: int = 16,
        residual: bool = True,
        unshuffle: int = 1,
        pool: str = "max",
        top_skip: bool = True,
    ) -> None:
        super().__init__()
        (levels,) = positive_ints("unet", "levels", levels)
        (width,) = positive_ints("unet", "width", width)
        (unshuffle,) = positive_ints("unet", "unshuffle", unshuffle)
        if pool not in ("max", "blur"):
            raise DaekitError(f"model 'unet': pool must be max or blur, got {pool!r}")
        self.in_channels, self.levels, self.residual, self.unshuffle = in_channels, levels, bool(residual), unshuffle
        self.top_skip = bool(top_skip)
        c = in_channels * unshuffle * unshuffle
        widths = [width * 2**i for i in range(levels + 1)]
        # the largest tensor is at full (unshuffled) resolution: the decoder's concatenation of the top skip and the
        # upsampled features (2 x width), or the input; level i's tensors, width * 2**i wide at 1/4**i the pixels,
        # are smaller. The widest convolution (width * 2**levels) would shrink the tiles by 2**(levels-1): a
        # 3-level U-Net of width 24 got 128-pixel tiles and took 26.8 s on a 12 MP photo; by this, 384: 10.6 s (bf16)
        top = max(c, (2 if self.top_skip else 1) * widths[0])
        self.geometry = Geometry(multiple=unshuffle * 2**levels, activation_channels=top / unshuffle**2)
        self.inc = _double_conv(c, widths[0])
        self.downs = nn.ModuleList(_double_conv(widths[i], widths[i + 1]) for i in range(levels))
        self.ups = nn.ModuleList(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in reversed(range(levels)))
        self.up_convs = nn.ModuleList(_double_conv((2 if i or self.top_skip else 1) * widths[i], widths[i])
                                      for i in reversed(range(levels)))
        self.pool = nn.MaxPool2d(2) if pool == "max" else MaxBlurPool()
        self.out = nn.Conv2d(widths[0], c, 1)

    def _unet(self, xp: torch.Tensor) -> torch.Tensor:
        skips = [self.inc(xp)]  # (B, w, H, W), H and W multiples of 2**levels
        for down in self.downs:
            skips.append(down(self.pool(skips[-1])))  # (B, w * 2**i, H / 2**i, W / 2**i)
        h = skips.pop()
        for i, (up, conv) in enumerate(zip(self.ups, self.up_convs)):
            skip = skips.pop()
            top = i == len(self.ups) - 1
            h = conv(up(h) if top and not self.top_skip else torch.cat([up(h), skip], dim=1))
        return self.out(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.in_channels, None, "unet")
        y = on_unshuffled(self._unet, x, self.unshuffle, self.geometry.multiple)
        return x - y if self.residual else y
