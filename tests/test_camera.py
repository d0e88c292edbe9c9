"""The camera noise model, JPEG simulation, named noise parameters and the '|' choice."""
import io

import numpy as np
import pytest
import torch
from PIL import Image

from daekit.camera import jpeg_compress
from daekit.errors import DaekitError
from daekit.noise import Camera, Choice, make_generator, parse_noise


def _photo(seed: int = 0, size: int = 64) -> torch.Tensor:
    """A smooth colour test image (1, 3, size, size) in [0, 1] with edges (no data files needed)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, 8, 8, generator=g)
    img = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    img[..., size // 2 :, : size // 3] *= 0.3  # a dark block: an edge
    return img.clamp(0, 1)


def _lag1_corr(r: torch.Tensor) -> float:
    return float(torch.corrcoef(torch.stack([r[..., :-1].flatten(), r[..., 1:].flatten()]))[0, 1])


def test_camera_noise_grows_with_intensity_from_shadows_to_midtones():
    n = parse_noise("camera:iso=1600,nr=0,chroma=0")
    stds = []
    for level in (0.05, 0.2, 0.5):
        x = torch.full((8, 3, 48, 48), level)
        stds.append(float((n(x, make_generator(0)) - x).std()))
    assert stds[0] < 0.8 * stds[1] < 0.8 * stds[2], stds  # shot noise: variance proportional to the light
    hi = parse_noise("camera:iso=6400,nr=0,chroma=0")
    x = torch.full((8, 3, 48, 48), 0.3)
    assert float((hi(x, make_generator(0)) - x).std()) > 1.5 * float((n(x, make_generator(0)) - x).std())  # ISO


def test_camera_noise_is_correlated_between_neighbours_and_channels():
    x = torch.full((8, 3, 48, 48), 0.4)
    r = parse_noise("camera:iso=1600,nr=0,chroma=0")(x, make_generator(1)) - x
    assert _lag1_corr(r) > 0.3  # demosaicking spreads each sample over its neighbours
    g = parse_noise("gaussian:10")(x, make_generator(1)) - x
    assert abs(_lag1_corr(g)) < 0.05  # white noise is not
    # in-camera colour noise reduction leaves mostly luma noise: channels move together
    smooth = parse_noise("camera:iso=1600,nr=0,chroma=4")(x, make_generator(1)) - x
    rb = float(torch.corrcoef(torch.stack([smooth[:, 0].flatten(), smooth[:, 2].flatten()]))[0, 1])
    assert rb > 0.3


def test_edge_aware_noise_reduction_leaves_the_noise_at_edges_and_keeps_other_draws():
    # a flat half and a striped half (texture): edge-aware NR (`flat`) smooths the flat half's noise only
    x = torch.full((4, 3, 64, 64), 0.45)
    x[..., 32:, :] = 0.45 + 0.3 * (torch.arange(64) % 8 < 4).float()
    plain = parse_noise("camera:iso=3200")(x, make_generator(3)) - x
    aware = parse_noise("camera:iso=3200,flat=0.8")(x, make_generator(3)) - x

    def ratio(r):  # the noise's power in the texture over that in the flat half (8 pixels off the border)
        return float(r[..., 40:56, 8:-8].pow(2).mean() / r[..., 8:24, 8:-8].pow(2).mean())

    assert ratio(aware) > 4 * ratio(plain)  # PolyU's photos: ~6x from their flattest half to their steepest 3%
    assert float(aware[..., 8:24, 8:-8].std()) < 0.4 * float(plain[..., 8:24, 8:-8].std())
    assert float(aware[..., 40:56, 8:-8].std()) > 0.6 * float(plain[..., 40:56, 8:-8].std())  # most of the texture's stays
    # its draw comes after the others: asking for it (or for none) leaves every other setting's noise as it was
    assert torch.equal(parse_noise("camera:iso=3200,flat=0")(x, make_generator(3)) - x, plain)


def test_camera_noise_keeps_clean_regions_and_range():
    x = _photo()
    y = parse_noise("camera")(x, make_generator(0))
    assert y.shape == x.shape and y.dtype == x.dtype and float(y.min()) >= 0 and float(y.max()) <= 1
    diff = (y - x).abs().mean()
    assert 0 < diff < 0.1
    gray = parse_noise("camera:iso=800")(x[:, :1], make_generator(0))  # gray images go through it too
    assert gray.shape == (1, 1, 64, 64)


def test_camera_noise_is_seeded():
    x = _photo().repeat(2, 1, 1, 1)
    n = parse_noise("camera:jpeg=70..95")
    a, b = n(x, make_generator(5)), n(x, make_generator(5))
    assert torch.equal(a, b)
    assert not torch.equal(a, n(x, make_generator(6)))
    assert not torch.equal(a[0], a[1])  # each image draws its own ISO, colour matrix, Bayer phase, quality


def test_jpeg_applied_when_asked():
    x = _photo()
    plain = parse_noise("camera:iso=800")(x, make_generator(2))
    jpeg = parse_noise("camera:iso=800,jpeg=50")(x, make_generator(2))
    assert torch.allclose(jpeg * 255, torch.round(jpeg * 255), atol=1e-4)  # decoded 8-bit values
    assert float((jpeg - plain).abs().mean()) > 1e-3


@pytest.mark.parametrize("quality", [30, 75, 90])
def test_jpeg_simulation_matches_pillow(quality):
    x = _photo(3, 96)
    img = (x[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    pil = np.asarray(Image.open(buf), dtype=np.float64) / 255
    ours = jpeg_compress(x, quality)[0].permute(1, 2, 0).double().numpy()
    orig = img / 255.0
    psnr = lambda a, b: 10 * np.log10(1 / np.mean((a - b) ** 2))  # noqa: E731
    assert psnr(ours, pil) > 40  # libjpeg's integer DCT and rounding differ slightly
    assert psnr(ours, pil) > psnr(orig, pil) + 8  # far closer to Pillow's result than the input is


def test_named_parameters_round_trip_and_errors():
    n = parse_noise("camera:iso=3200,jpeg=70..95")
    assert isinstance(n, Camera) and n.spec == "camera:iso=3200,jpeg=70..95"
    assert parse_noise(n.spec).spec == n.spec
    assert parse_noise("camera").spec == "camera"
    for bad, msg in [
        ("camera:foo=1", "unknown parameter 'foo'"),
        ("camera:iso=10", "iso must be in"),
        ("camera:jpeg=0..90", "cannot span both"),
        ("camera:iso=800..100", "low to high"),
        ("camera:iso", "takes named parameters"),
        ("camera:iso=1,", "not key=value"),
        ("gaussian:sigma=3", "takes one value"),
        ("camera:iso=abc", "not a number"),
        ("jpeg:0", "quality must be in"),
    ]:
        with pytest.raises(DaekitError, match=msg):
            parse_noise(bad)


def test_choice_gives_each_image_one_alternative():
    n = parse_noise("masking:1|none")
    assert isinstance(n, Choice) and n.spec == "masking:1|none"
    x = torch.ones(64, 1, 4, 4)
    y = n(x, make_generator(0))
    zeros = int((y.flatten(1).sum(1) == 0).sum())
    assert 16 < zeros < 48 and int((y.flatten(1).sum(1) == 16).sum()) == 64 - zeros  # whole images, about half each
    assert torch.equal(y, n(x, make_generator(0)))
    assert parse_noise("camera|camera:jpeg=70..98|gaussian:0..50").spec == "camera|camera:jpeg=70..98|gaussian:0..50"
    with pytest.raises(DaekitError, match="empty alternative"):
        parse_noise("gaussian:5|")
