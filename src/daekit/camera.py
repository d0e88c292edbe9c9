"""A camera's noise and JPEG, synthesised from clean sRGB images on any device (the `camera` and `jpeg` noises).

Real photo noise is not white Gaussian noise: it is added to the sensor's *linear raw* values (shot
noise, whose variance grows with the light, plus read noise), one colour per pixel (Bayer mosaic);
demosaicking then spreads it over neighbouring pixels and channels, white balance and the colour matrix
amplify and mix it, the tone curve shapes it, in-camera noise reduction smooths it, and JPEG
compression turns it into blocky, blotchy colour noise. ``camera`` runs that pipeline backwards and
forwards (after Brooks et al. 2019, "Unprocessing images for learned raw denoising", and Guo et al.
2019, CBDNet's noise model; our own code):

1. sRGB -> linear camera raw: inverse tone curve (smoothstep), inverse gamma (2.2), inverse colour
   matrix (a random rgb->camera matrix with realistic cross-talk), inverse white balance (random red and
   blue gains);
2. noise on a Bayer mosaic (random phase) with variance ``shot * raw + read``, the shot level set by the
   ISO drawn per image (times a per-image sensor factor) and the read level tied to it as Brooks et
   al. measured across real sensors;
3. bilinear demosaicking of the noise;
4. white balance, colour matrix, gamma and tone curve again; then in-camera noise reduction, as cameras
   do it: the noise's luma and chroma blurred apart, each with its own drawn width (colour noise much
   more: what is left is low-frequency colour blotches), and optionally (``flat``) reduced where the
   image is flat but not at edges and in texture, as edge-aware noise reduction leaves it; clipped to [0, 1];
5. optionally JPEG at a drawn quality (``jpeg_compress``: JFIF colour conversion, 4:2:0 chroma,
   8x8 DCT quantised with the IJG tables at that quality).

The clean image is the target: the noisy image is ``x + P(raw + n) - P(raw)``, so where there is no
noise the two agree exactly (no demosaicking or clipping artefacts are asked of the network).

The JPEG step is a torch re-implementation rather than a call to Pillow: training corrupts every batch
on the training device (GPU), and a round trip through Pillow per patch would cost a host copy and
~0.3 ms of Python per patch. Its output matches Pillow's decoder closely (tested: PSNR against
Pillow's result above 40 dB at quality 75; the remaining difference is libjpeg's integer DCT and
its rounding).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .color import LUMA, RGB2YCC, YCC2RGB, apply_matrix
from .errors import DaekitError


# IJG (libjpeg) standard quantisation tables, Annex K of the JPEG standard, in row-major order
_Q_LUMA = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
]
_Q_CHROMA = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99, *([99] * 32),
]


@dataclass(frozen=True)
class Param:
    """One named parameter of a multi-parameter noise (``camera:iso=3200,jpeg=70..95``)."""

    low: float  # inclusive bounds of a value
    high: float
    default: tuple[float, float]  # drawn per image from this range when not given
    log: bool  # draw log-uniformly (scale parameters such as ISO)
    help: str


CAMERA_PARAMS: dict[str, Param] = {
    "iso": Param(50, 102400, (200, 25600), True,
                 "sensor sensitivity (ISO): the shot noise grows in proportion; each image draws one (log-uniform)"),
    "jpeg": Param(0, 100, (0, 0), False,
                  "JPEG quality the noisy image is saved at, 1-100; 0 = not compressed (the default)"),
    "nr": Param(0, 3, (0, 0.8), False,
                "in-camera luminance noise reduction: width in pixels of a Gaussian blur of the noise's luma (0 = none)"),
    "chroma": Param(0, 8, (0, 6), False,
                    "in-camera colour noise reduction: width in pixels of a Gaussian blur of the noise's chroma (0 = none); "
                    "cameras smooth colour noise much more than luma noise, leaving low-frequency colour blotches"),
    "flat": Param(0, 1, (0, 0), False,
                  "in-camera edge-aware noise reduction: the share of the noise removed where the image is flat "
                  "(0 = none); none is removed at edges and in texture, where cameras keep the detail and the noise with it"),
}


def _draw(p: Param, value: tuple[float, float], n: int, g: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """(n,) float64 draws from `value` (one value, or a range lo..hi, uniform or log-uniform)."""
    lo, hi = value
    u = torch.rand(n, generator=g, device=device, dtype=torch.float64)
    if p.log and lo > 0:
        return torch.exp(math.log(lo) + (math.log(hi) - math.log(lo)) * u)
    return lo + (hi - lo) * u


def _smoothstep_inverse(y: torch.Tensor) -> torch.Tensor:
    y = y.clamp(0.0, 1.0)
    return 0.5 - torch.sin(torch.asin(1.0 - 2.0 * y) / 3.0)


def _smoothstep(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(0.0, 1.0)
    return 3.0 * x * x - 2.0 * x * x * x


def _rgb2cam(b: int, g: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """(B, 3, 3) random rgb->camera matrices: identity plus 5-35% cross-talk, rows summing to 1 (white stays white).

    Their inverses (camera->rgb, what the camera applies) have the negative off-diagonals of real colour
    matrices, which amplify and mix the channels' noise.
    """
    off = 0.05 + 0.30 * torch.rand(b, 3, 3, generator=g, device=device, dtype=torch.float64)
    m = torch.eye(3, device=device, dtype=torch.float64) + off * (1 - torch.eye(3, device=device, dtype=torch.float64))
    return m / m.sum(dim=2, keepdim=True)


def _bayer_masks(b: int, h: int, w: int, g: torch.Generator | None, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(B, 3, H, W) 0/1 masks of an RGGB Bayer pattern shifted by a random phase per image."""
    phase = torch.randint(0, 4, (b,), generator=g, device=device)
    ys = (torch.arange(h, device=device).view(1, h, 1) + (phase // 2).view(b, 1, 1)) % 2  # (B, H, 1)
    xs = (torch.arange(w, device=device).view(1, 1, w) + (phase % 2).view(b, 1, 1)) % 2  # (B, 1, W)
    red = (ys == 0) & (xs == 0)
    blue = (ys == 1) & (xs == 1)
    green = ~(red | blue)
    return torch.stack([red, green, blue], dim=1).to(dtype)


def _demosaic(plane: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Bilinear demosaicking of a mosaic `plane` (B, 1, H, W) by normalised convolution -> (B, 3, H, W)."""
    k_rb = plane.new_tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]])
    k_g = plane.new_tensor([[0.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 0.0]])
    k = torch.stack([k_rb, k_g, k_rb]).unsqueeze(1)  # (3, 1, 3, 3)
    num = F.conv2d(plane * masks, k, padding=1, groups=3)
    den = F.conv2d(masks, k, padding=1, groups=3)
    return num / den.clamp_min(1e-6)


def _blur_per_image(x: torch.Tensor, sigma: torch.Tensor, widest: float) -> torch.Tensor:
    """Gaussian blur of each image of `x` (B, C, H, W) with its own width `sigma` (B,) in pixels (0 = none).

    Separable (two 1-D passes); the kernel reaches 3 `widest` (the largest width that can be drawn, known
    on the host: reading `sigma.max()` would stall the GPU every batch); edges are mirrored.
    """
    b, c, h, w = x.shape
    r = max(1, int(math.ceil(3 * widest)))
    t = torch.arange(-r, r + 1, device=x.device, dtype=x.dtype)
    s = sigma.to(x.dtype).clamp_min(1e-3).view(b, 1)
    k1 = torch.exp(-0.5 * (t.view(1, -1) / s) ** 2)
    k1 = (k1 / k1.sum(dim=1, keepdim=True)).repeat_interleave(c, dim=0)  # (B*C, 2r+1); sigma ~0 -> a delta
    mode = "reflect" if min(h, w) > r else "replicate"
    y = F.conv2d(F.pad(x.reshape(1, b * c, h, w), (r, r, 0, 0), mode=mode), k1.view(b * c, 1, 1, -1), groups=b * c)
    y = F.conv2d(F.pad(y, (0, 0, r, r), mode=mode), k1.view(b * c, 1, -1, 1), groups=b * c)
    return y.view(b, c, h, w)


# local gradient (luma per pixel, 0-1 scale) at which an edge-aware NR does half what it does in flat areas;
# 0.04 (with `flat=0.8`) gives PolyU's profile on its scenes (tools/noise_spectrum.py, docs/benchmarks.md)
EDGE_SCALE = 0.04


def _edge_aware(rgb: torch.Tensor, flat: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) factor on the noise of an edge-aware noise reduction that removes the share `flat` (B,)
    of it where `rgb` (B, 3, H, W) is flat and none at edges and in texture.

    Cameras smooth flat areas and spare detail, so a real photo's noise is strongest along edges and in
    texture (PolyU: 0.6x its mean power in the flattest half of a photo, 3.8x at its steepest 3%), where a
    denoiser trained on noise spread evenly takes it for texture.
    """
    b = rgb.shape[0]
    y = (rgb * rgb.new_tensor(LUMA).view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
    y = _blur_per_image(y, y.new_full((b,), 1.0), 1.0)
    gx = F.pad(y[..., :, 2:] - y[..., :, :-2], (1, 1, 0, 0), mode="replicate") / 2
    gy = F.pad(y[..., 2:, :] - y[..., :-2, :], (0, 0, 1, 1), mode="replicate") / 2
    energy = _blur_per_image(gx * gx + gy * gy, y.new_full((b,), 2.0), 2.0).clamp_min(0).sqrt()
    detail = energy / (energy + EDGE_SCALE)
    return 1.0 - flat.to(rgb.dtype).view(b, 1, 1, 1) * (1.0 - detail)


def _quant_tables(quality: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 8, 8) luma and chroma quantisation tables at IJG `quality` (B,) in 1..100."""
    q = quality.to(torch.float64).clamp(1, 100)
    scale = torch.where(q < 50, 5000.0 / q, 200.0 - 2.0 * q).view(-1, 1, 1)
    out = []
    for base in (_Q_LUMA, _Q_CHROMA):
        t = torch.tensor(base, dtype=torch.float64, device=quality.device).view(1, 8, 8)
        out.append(torch.floor((t * scale + 50.0) / 100.0).clamp(1, 255).to(dtype))
    return out[0], out[1]


def _dct_matrix(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    n = torch.arange(8, dtype=torch.float64)
    d = torch.cos((2 * n.view(1, 8) + 1) * n.view(8, 1) * math.pi / 16) * math.sqrt(2 / 8)
    d[0] /= math.sqrt(2)
    return d.to(device=device, dtype=dtype)  # orthonormal DCT-II: JPEG's FDCT is D @ block @ D.T


def _blockwise(planes: torch.Tensor, table: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """Quantises planes (B, C, H, W) (H, W multiples of 8) in the 8x8 DCT domain with tables (B, 8, 8)."""
    b, c, h, w = planes.shape
    blocks = planes.view(b, c, h // 8, 8, w // 8, 8).permute(0, 1, 2, 4, 3, 5)  # (B, C, h, w, 8, 8)
    coef = d @ blocks @ d.T
    t = table.view(b, 1, 1, 1, 8, 8)
    coef = torch.round(coef / t) * t
    blocks = d.T @ coef @ d
    return blocks.permute(0, 1, 2, 4, 3, 5).reshape(b, c, h, w)


def jpeg_compress(x: torch.Tensor, quality: torch.Tensor | float) -> torch.Tensor:
    """What saving `x` (B, C, H, W) in [0, 1] as a baseline JPEG at `quality` and decoding it gives.

    Args:
        x: Gray (C = 1) or RGB (C = 3) images in [0, 1].
        quality: IJG quality 1..100, one value or one per image (B,).

    Returns:
        The decoded images, 8-bit values in [0, 1], same shape and dtype as `x`. Colour uses JFIF's
        YCbCr with 4:2:0 chroma (Pillow's default below quality 95 too, here at every quality).
    """
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise DaekitError(f"jpeg: expected (B, 1 or 3, H, W) images, got shape {tuple(x.shape)}")
    dtype = x.dtype
    b, c, h, w = x.shape
    quality = torch.as_tensor(quality, device=x.device).reshape(-1).expand(b)
    work = torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype
    v = torch.round(x.to(work).clamp(0, 1) * 255.0)
    ph, pw = (-h) % 16, (-w) % 16
    if ph or pw:  # the encoder pads partial blocks by repeating the edge
        v = F.pad(v, (0, pw, 0, ph), mode="replicate")
    d = _dct_matrix(x.device, work)
    q_luma, q_chroma = _quant_tables(quality, work)
    if c == 1:
        out = _blockwise(v - 128.0, q_luma, d) + 128.0
    else:
        ycc = apply_matrix(v, RGB2YCC)  # chroma centred on 0: JFIF adds 128 and the DCT's level shift takes it off again
        y = torch.round(ycc[:, :1])
        chroma = F.avg_pool2d(ycc[:, 1:], 2)  # 4:2:0
        y = _blockwise(y - 128.0, q_luma, d) + 128.0
        chroma = _blockwise(chroma, q_chroma, d)
        chroma = F.interpolate(chroma, scale_factor=2, mode="bilinear", align_corners=False)  # libjpeg's "fancy" upsampling
        out = apply_matrix(torch.cat([y, chroma], dim=1), YCC2RGB)
    out = torch.round(out.clamp(0, 255))[:, :, :h, :w] / 255.0
    return out.to(dtype)


def camera_noise(x: torch.Tensor, params: dict[str, tuple[float, float]], g: torch.Generator | None) -> torch.Tensor:
    """`x` (B, C, H, W) in [0, 1] (C = 1 or 3) through the camera pipeline above; returns the noisy image in [0, 1].

    Args:
        x: Clean sRGB (or gray) images in [0, 1].
        params: ``CAMERA_PARAMS`` name -> (low, high) range (equal ends: a fixed value).
        g: The generator every draw comes from.
    """
    b, c, h, w = x.shape
    if c not in (1, 3):
        raise DaekitError(f"noise 'camera' needs gray or RGB images, got {c} channels")
    dev = x.device
    work = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
    rgb = x.to(work).clamp(0, 1)
    if c == 1:
        rgb = rgb.expand(b, 3, h, w)
    iso = _draw(CAMERA_PARAMS["iso"], params["iso"], b, g, dev)
    sensor = torch.exp(0.3 * torch.randn(b, generator=g, device=dev, dtype=torch.float64))  # sensors differ at one ISO
    # variance per unit of linear signal: ISO 400 -> 1e-4, the low end of Brooks et al.'s measured range (ISO is
    # nominal, for a full-frame-like sensor; a phone's small pixels at one ISO behave like a higher one here)
    shot = 2.5e-5 * iso / 100.0 * sensor
    log_read = 2.18 * torch.log(shot) + 1.20 + 0.26 * torch.randn(b, generator=g, device=dev, dtype=torch.float64)
    read = torch.exp(log_read)
    red_gain = 1.9 + 0.5 * torch.rand(b, generator=g, device=dev, dtype=torch.float64)
    blue_gain = 1.5 + 0.4 * torch.rand(b, generator=g, device=dev, dtype=torch.float64)
    gains = torch.stack([red_gain, torch.ones_like(red_gain), blue_gain], dim=1)  # (B, 3)
    rgb2cam = _rgb2cam(b, g, dev)
    cam2rgb = torch.linalg.inv_ex(rgb2cam)[0]  # never singular (diagonally dominant); inv_ex does not sync to check
    nr = _draw(CAMERA_PARAMS["nr"], params["nr"], b, g, dev)
    chroma = _draw(CAMERA_PARAMS["chroma"], params["chroma"], b, g, dev)
    quality = torch.round(_draw(CAMERA_PARAMS["jpeg"], params["jpeg"], b, g, dev))  # IJG qualities are integers
    masks = _bayer_masks(b, h, w, g, dev, work)
    z = torch.randn(b, 1, h, w, generator=g, device=dev, dtype=work)

    # 1. sRGB -> linear raw (B, 3, H, W)
    lin = _smoothstep_inverse(rgb).clamp_min(1e-8) ** 2.2
    cam = torch.einsum("bij,bjhw->bihw", rgb2cam.to(work), lin) / gains.to(work).view(b, 3, 1, 1)
    cam = cam.clamp(0, 1)
    # 2. noise on the mosaic, variance shot * signal + read
    mosaic = (cam * masks).sum(dim=1, keepdim=True)
    std = torch.sqrt(shot.to(work).view(b, 1, 1, 1) * mosaic + read.to(work).view(b, 1, 1, 1))
    # 3. demosaicked noise
    noise = _demosaic(z * std, masks)

    # 4. back to sRGB, with and without the noise: the difference is what the camera adds to x
    def process(raw: torch.Tensor) -> torch.Tensor:
        wb = (raw * gains.to(work).view(b, 3, 1, 1)).clamp(0, 1)
        out = torch.einsum("bij,bjhw->bihw", cam2rgb.to(work), wb).clamp(0, 1)
        return _smoothstep(out.clamp_min(1e-8) ** (1 / 2.2))

    added = process(cam + noise) - process(cam)  # (B, 3, H, W) the noise as the sRGB image carries it
    # in-camera noise reduction, luma and chroma apart (JFIF's YCbCr, an orthogonal enough split here)
    ycc = apply_matrix(added, RGB2YCC)
    # (whether to blur and to compress is read from the parameters' ranges, not the draws: no GPU stall)
    if params["nr"][1] > 0:
        ycc = torch.cat([_blur_per_image(ycc[:, :1], nr, params["nr"][1]), ycc[:, 1:]], dim=1)
    if params["chroma"][1] > 0:
        ycc = torch.cat([ycc[:, :1], _blur_per_image(ycc[:, 1:], chroma, params["chroma"][1])], dim=1)
    added = apply_matrix(ycc, YCC2RGB)
    if params["flat"][1] > 0:  # drawn last, and only when asked: the other settings' draws stay as they were
        added = added * _edge_aware(rgb, _draw(CAMERA_PARAMS["flat"], params["flat"], b, g, dev))
    noisy = (rgb + added).clamp(0, 1)
    if c == 1:
        noisy = (noisy * noisy.new_tensor(LUMA).view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
    # 5. JPEG at the drawn quality (a jpeg range is either 0, none, or within 1..100)
    if params["jpeg"][1] >= 1:
        noisy = jpeg_compress(noisy, quality)
    return noisy.to(x.dtype)
