"""A fully convolutional residual denoiser (DnCNN-style): the network predicts the noise, output = x - noise.

With ``unshuffle=2`` (FFDNet-style) the image is first rearranged into 4 half-resolution sub-images
(``pixel_unshuffle``), the convolutions run at half resolution, and the result is shuffled back:
4x fewer pixels per layer, so the same depth and width cost a quarter of the time and see twice as far.

With ``dilation`` (IRCNN-style, Zhang et al. 2017) each conv layer looks `d` pixels apart: the same weights and
cost see further (a mix such as 1, 2, 3, 4, ... with no common factor, as in Wang et al. 2018's hybrid dilated
convolution, leaves no pixel unseen). Dilation holds no weights, so a model starts from another of the same
depth and width whatever their dilations (``train.init``).
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import DaekitError
from .blocks import Geometry, check_input, on_unshuffled, positive_ints
from .registry import MODELS


@MODELS.register("residual")
class ResidualDenoiser(nn.Module):
    """`depth` 3x3 conv layers of `width` channels with ReLU; works on any H x W (zero padding).

    Args:
        in_channels: Image channels.
        image_size: Unused (any size is accepted); kept for a uniform constructor.
        depth: Number of conv layers (>= 2).
        width: Channels of the hidden layers.
        batch_norm: BatchNorm after the hidden convs, as in DnCNN (off by default: small batches).
        unshuffle: Work on `unshuffle` x `unshuffle` pixel-unshuffled sub-images (1 = full resolution).
        dilation: One dilation per conv layer (`depth` of them, first to last), or None: all 1.

    Attributes:
        geometry: Any size; exact receptive field ``2 * unshuffle * (sum of dilations + 1) - 1`` (with no
            dilation ``2 * (depth * unshuffle + unshuffle - 1) + 1``); tiles on multiples of `unshuffle`.
    """

    geometry: Geometry
    unit_output: bool = False  # a residual (x minus the predicted noise) or linear output, unbounded

    def __init__(
        self,
        in_channels: int = 1,
        image_size: tuple[int, int] = (28, 28),
        depth: int = 10,
        width: int = 48,
        batch_norm: bool = False,
        unshuffle: int = 1,
        dilation: list[int] | None = None,
    ) -> None:
        super().__init__()
        (depth,) = positive_ints("residual", "depth", depth)
        (width,) = positive_ints("residual", "width", width)
        (unshuffle,) = positive_ints("residual", "unshuffle", unshuffle)
        depth = max(depth, 2)
        dil = [1] * depth if dilation is None else positive_ints("residual", "dilation", dilation)
        if len(dil) != depth:
            raise DaekitError(f"model 'residual': dilation needs one entry per conv layer ({depth}), got {len(dil)}")
        if max(dil) > 64:
            raise DaekitError(f"model 'residual': dilation {max(dil)} is out of range (1..64)")
        self.in_channels, self.unshuffle = in_channels, unshuffle
        self.geometry = Geometry(receptive_field=2 * unshuffle * (sum(dil) + 1) - 1, multiple=unshuffle)
        c = in_channels * unshuffle * unshuffle

        def conv(cin: int, cout: int, d: int, bias: bool = True) -> nn.Conv2d:  # "same" size at any dilation
            return nn.Conv2d(cin, cout, 3, padding=d, dilation=d, bias=bias)

        layers: list[nn.Module] = [conv(c, width, dil[0]), nn.ReLU(inplace=True)]
        for d in dil[1:-1]:
            layers += [conv(width, width, d, bias=not batch_norm)]
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU(inplace=True))
        layers.append(conv(width, c, dil[-1]))
        self.body = nn.Sequential(*layers)
        for m in self.body:  # He init: PyTorch's default shrinks activations ~1.7x per layer, starving deep stacks
            if isinstance(m, nn.Conv2d) and not m.weight.is_meta:  # (on meta, sizing only: normal_ there imports
                # torch._dynamo, 1.1 s of every `daekit denoise`)
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        nn.init.zeros_(self.body[-1].weight)  # start as the identity map: predicted noise = 0
        nn.init.zeros_(self.body[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.in_channels, None, "residual")
        if self.unshuffle == 1:
            return x - self.body(x)
        return x - on_unshuffled(self.body, x, self.unshuffle, self.unshuffle)
