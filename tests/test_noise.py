import math
import re

import pytest
import torch

from daekit.errors import DaekitError
from daekit.noise import NOISE, Compose, make_generator, parse_noise


def test_masking_fraction_within_1_percent():
    x = torch.ones(1_000_000)
    for f in (0.1, 0.3, 0.5, 0.9):
        y = parse_noise(f"masking:{f}")(x, make_generator(0))
        assert abs((y == 0).float().mean().item() - f) < 0.01 * f


def test_gaussian_residual_std_within_2_percent():
    x = torch.full((1_000_000,), 0.5)
    for sigma in (10, 25, 50, 102):
        y = parse_noise(f"gaussian:{sigma}")(x, make_generator(1))
        assert abs((y - x).std().item() - sigma / 255) < 0.02 * sigma / 255
        assert abs((y - x).mean().item()) < 1e-3


def test_gaussian_gray_is_one_draw_for_every_channel_at_its_sigma():
    x = torch.full((4, 3, 256, 256), 0.5)
    y = parse_noise("gaussian-gray:25")(x, make_generator(1))
    d = y - x
    assert torch.equal(d[:, 0], d[:, 1]) and torch.equal(d[:, 0], d[:, 2])  # luma only: no colour noise
    assert abs(d.std().item() - 25 / 255) < 0.02 * 25 / 255
    levels = (parse_noise("gaussian-gray:0..50")(x, make_generator(2)) - x).std(dim=(1, 2, 3))
    assert len(set(levels.tolist())) == 4 and levels.max() < 51 / 255  # each image draws its own sigma


def test_salt_and_pepper_fraction_and_values():
    x = torch.full((1_000_000,), 0.5)
    y = parse_noise("salt-and-pepper:0.2")(x, make_generator(2))
    assert abs((y == 0).float().mean().item() - 0.1) < 0.002
    assert abs((y == 1).float().mean().item() - 0.1) < 0.002
    assert set(torch.unique(y).tolist()) == {0.0, 0.5, 1.0}


def test_poisson_is_unbiased_and_noisier_at_low_peak():
    x = torch.full((200_000,), 0.4)
    lo = parse_noise("poisson:5")(x, make_generator(3))
    hi = parse_noise("poisson:100")(x, make_generator(3))
    assert abs(lo.mean().item() - 0.4) < 0.01
    assert math.isclose(lo.var().item(), 0.4 / 5, rel_tol=0.05)
    assert hi.std() < lo.std()


def test_speckle_scales_with_intensity():
    x = torch.cat([torch.full((100_000,), 0.2), torch.full((100_000,), 0.8)])
    y = parse_noise("speckle:0.3")(x, make_generator(4))
    assert math.isclose((y[:100_000] - 0.2).std().item(), 0.06, rel_tol=0.03)
    assert math.isclose((y[100_000:] - 0.8).std().item(), 0.24, rel_tol=0.03)


@pytest.mark.parametrize("spec", ["masking:0.3", "salt-and-pepper:0.2", "gaussian:25", "poisson:30", "speckle:0.2", "gaussian:25+masking:0.1",
                                  "gaussian-gray:25"])
def test_same_seed_same_corruption(spec):
    x = torch.rand(4, 1, 16, 16)
    n = parse_noise(spec)
    a, b = n(x, make_generator(7)), n(x, make_generator(7))
    c = n(x, make_generator(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert not torch.equal(a, x)  # something was corrupted ...
    assert torch.equal(x, x.clone())  # ... and the input was not modified in place


def test_clip_holds_and_composition_order():
    x = torch.rand(10_000)
    y = parse_noise("gaussian:100+clip")(x, make_generator(0))
    assert y.min() >= 0 and y.max() <= 1
    assert parse_noise("gaussian:100")(x, make_generator(0)).max() > 1  # unclipped leaves the range
    comp = parse_noise("gaussian:25+masking:0.5")
    assert isinstance(comp, Compose)
    z = comp(x, make_generator(0))
    assert ((z == 0).float().mean() - 0.5).abs() < 0.03  # masking applied last: exact zeros survive


def test_none_is_identity_copy():
    x = torch.rand(3, 3)
    y = parse_noise("none")(x, make_generator(0))
    assert torch.equal(x, y) and y.data_ptr() != x.data_ptr()


@pytest.mark.parametrize("spec", ["masking:0.3", "gaussian:25+masking:0.1", "none", "poisson:30", "gaussian:102+clip", "gaussian:0..55"])
def test_spec_round_trip(spec):
    assert parse_noise(spec).spec == spec
    assert parse_noise(parse_noise(spec).spec).spec == spec


@pytest.mark.parametrize(
    "spec, words",
    [
        ("foo:1", "unknown noise model 'foo'"),
        ("gaussian:-5", "sigma must be a finite number >= 0, got -5"),
        ("masking:1.5", "fraction must be in [0, 1], got 1.5"),
        ("salt-and-pepper:-0.1", "fraction must be in [0, 1]"),
        ("masking", "needs a fraction"),
        ("gaussian:abc", "'abc' is not a number"),
        ("gaussian:25+", "empty term"),
        ("", "empty noise spec"),
        ("gaussian:nan", "sigma must be a finite number >= 0"),
        ("none+masking:0.1", "cannot be combined"),
        ("clip:3", "takes no parameter"),
        ("gausian:25", "did you mean 'gaussian'"),
        ("gaussian:55..5", "must run from low to high"),
        ("gaussian:-1..5", "sigma must be a finite number >= 0"),
        ("masking:0.1..2", "fraction must be in [0, 1], got 2"),
        ("gaussian:1..x", "not a number or a range"),
        ("gaussian-gray:-3", "sigma must be a finite number >= 0"),
        ("gaussian-gray:0.5", "write gaussian-gray:127.5"),
    ],
)
def test_bad_specs(spec, words):
    with pytest.raises(DaekitError, match=None) as e:
        parse_noise(spec)
    assert words in str(e.value)
    assert "\n" not in str(e.value)


def test_every_registered_noise_has_units():
    for name in NOISE:
        info = NOISE.get(name).info
        assert info.help
        assert info.param is None or info.unit


def test_range_draws_one_level_per_image_within_the_range():
    x = torch.full((400, 1, 32, 32), 0.5)
    noisy = parse_noise("gaussian:10..40")(x, make_generator(3))
    std = (noisy - x).flatten(1).std(dim=1) * 255
    assert 9.0 < std.min() < 12.0 and 38.0 < std.max() < 41.5  # spread over the whole range
    assert abs(std.mean().item() - 25.0) < 1.5
    again = parse_noise("gaussian:10..40")(x, make_generator(3))
    assert torch.equal(noisy, again)
    frac = (parse_noise("masking:0.2..0.6")(torch.ones(300, 1, 40, 40), make_generator(0)) == 0).flatten(1).float().mean(1)
    assert 0.18 < frac.min() < 0.25 and 0.55 < frac.max() < 0.62


def test_fractions_as_percentages_as_the_lesson_says_them():
    x = torch.rand(2, 1, 8, 8)
    for pct, frac in (("masking:30%", "masking:0.3"), ("salt-and-pepper:20%", "salt-and-pepper:0.2"),
                      ("masking:10%..70%", "masking:0.1..0.7")):
        assert parse_noise(pct).spec == frac
        assert torch.equal(parse_noise(pct)(x, make_generator(0)), parse_noise(frac)(x, make_generator(0)))
    for bad, words in (("gaussian:25%", "percentage is a share"), ("masking:10%..0.5", "both ends"),
                       ("masking:150%", "fraction must be in [0, 1]")):
        with pytest.raises(DaekitError, match=re.escape(words)):
            parse_noise(bad)
