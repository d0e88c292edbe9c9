"""The wide pass (`--wide`): what it computes, arrays and tensors alike, tiled as whole, odd and tiny sizes, refusals;
and the automatic choice (the default): its features, where it looks, what it decides with the shipped photo-real."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from daekit import wide
from daekit.api import Denoiser
from daekit.config import Config
from daekit.errors import DaekitError
from daekit.models import create_model

from test_cli import run
from test_ensemble import _denoiser


def test_wide_pass_runs_each_subimage_then_the_whole_image_once_more():
    x = np.random.default_rng(1).random((7, 9, 3), dtype=np.float32)  # odd sizes: sub-images 4x5, 4x4, 3x5, 3x4
    seen = []

    def run(z):
        seen.append(z.shape)
        return z * 2

    out = wide.wide_pass(run, x)
    assert seen == [(4, 5, 3), (4, 4, 3), (3, 5, 3), (3, 4, 3), (7, 9, 3)]
    np.testing.assert_allclose(out, np.clip(x * 2, 0, 1) * 2, atol=1e-6)  # the second pass sees an image in [0, 1]
    half = wide.shuffled(lambda z: z + np.float32(z.shape[0] * 10 + z.shape[1]), x)  # each pixel from its own sub-image
    assert half[0, 0, 0] == x[0, 0, 0] + 45 and half[1, 1, 0] == x[1, 1, 0] + 34 and half[6, 8, 0] == x[6, 8, 0] + 45


def test_arrays_and_tensors_give_the_same_and_tiny_images_get_one_pass():
    x = np.random.default_rng(2).random((10, 12, 1), dtype=np.float32)

    def run(z):
        return z ** 2 - 0.1

    t = torch.from_numpy(x).permute(2, 0, 1)[None]
    a = wide.wide_pass(run, x)
    b = wide.wide_pass(run, t)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(a, b, atol=1e-6)
    for tiny in (np.ones((1, 5, 3), np.float32), np.ones((4, 1, 3), np.float32)):
        np.testing.assert_array_equal(wide.wide_pass(run, tiny), run(tiny))


def test_denoiser_wide_changes_the_output_is_tiled_as_whole_and_is_deterministic():
    den = _denoiser(2, 1)
    img = np.random.default_rng(3).random((150, 170, 1), dtype=np.float32)
    plain = den.denoise_image(img, tile=0)
    den.wide = True
    whole = den.denoise_image(img, tile=0)
    assert np.abs(whole - plain).max() > 1e-3
    assert np.abs(den.denoise_image(img, tile=64) - whole).max() <= 1e-4  # each pass whole: tiling does not matter
    assert np.array_equal(whole, den.denoise_image(img, tile=0))
    x = torch.from_numpy(img).permute(2, 0, 1)[None]
    np.testing.assert_allclose(den.denoise_tensor(x)[0].permute(1, 2, 0).numpy(), whole, atol=1e-5)


@pytest.mark.parametrize("bad", [1, "false", None, 0.0, "Auto"])
def test_wide_must_be_true_false_or_auto(bad):
    den = _denoiser(1, 1)
    assert den.wide == "auto"  # the default
    with pytest.raises(DaekitError, match="wide must be True, False or 'auto'"):
        den.wide = bad
    assert den.wide == "auto"
    den.wide = np.bool_(False)
    assert den.wide is False


def _smooth(side=128):
    yy, xx = np.mgrid[0:side, 0:side] / side
    return np.stack([0.3 + 0.4 * yy, 0.5 + 0.2 * np.sin(3 * xx), 0.4 + 0.3 * xx * yy], axis=2).astype(np.float32)


def _camera_scale(side=192):
    """A photo as smooth per pixel as a camera's at full resolution: a crop of scikit-image's coffee enlarged 3x."""
    from skimage import data, transform

    a = data.coffee()[100 : 100 + side // 3, 200 : 200 + side // 3].astype(np.float32) / 255
    return np.clip(transform.resize(a, (side, side, 3), order=3), 0, 1).astype(np.float32)


def _noisy_with(clean, spec, seed=0):
    from daekit.noise import make_generator, parse_noise

    t = torch.from_numpy(clean).permute(2, 0, 1)[None]
    return parse_noise(spec)(t, make_generator(seed))[0].permute(1, 2, 0).numpy()


def test_features_measure_level_neighbour_correlation_and_pixel_scale_detail():
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(0)
    one = _smooth(200)
    white = rng.normal(0, 4 / 255, (200, 200, 1)).astype(np.float32)
    f = wide.features([(one + white, one)])  # gray noise: luma only
    assert f["level"] == pytest.approx(4, rel=0.03) and abs(f["lag"]) < 0.03 and f["fine"] == pytest.approx(0.25, abs=0.01)
    colour = rng.normal(0, 4 / 255, (200, 200, 3)).astype(np.float32)
    f = wide.features([(one + colour, one)])  # luma std 4/sqrt(3), each channel's rest 4 * sqrt(2/3): level 4 in all
    assert f["level"] == pytest.approx(4, rel=0.03)
    blurred = gaussian_filter(white, (1, 1, 0)) * 4
    assert wide.features([(one + blurred, one)])["lag"] > 0.6
    grain = rng.random((200, 200, 3)).astype(np.float32)  # every pixel its own: about 0.4
    assert wide.features([(grain, grain)])["fine"] == pytest.approx(0.4, abs=0.03)
    steps = np.kron(rng.random((13, 13, 3)), np.ones((16, 16, 1)))[:200, :200].astype(np.float32)  # one-pixel edges
    assert wide.features([(steps, steps)])["fine"] == pytest.approx(0.5, abs=0.01)
    soft = gaussian_filter(steps, (1.5, 1.5, 0))  # edges spread over a few pixels, as a camera's at full resolution
    assert wide.features([(soft, soft)])["fine"] == pytest.approx(0.26, abs=0.01)
    left = np.clip(soft + rng.normal(0, 4 / 255, soft.shape).astype(np.float32), 0, 1)  # noise one pass left
    assert wide.features([(left, left)])["fine"] < 0.27  # hardly moved (over all pixels: 0.26 -> 0.32)
    halves = wide.features([(one[:100] + white[:100], one[:100]), (one[100:] + white[100:], one[100:])])
    assert halves["level"] == pytest.approx(wide.features([(one + white, one)])["level"], rel=0.01)  # pooled


def test_windows_whole_photo_up_to_a_megapixel_else_a_grid_inside_it():
    assert wide.windows(1000, 1000) == [(slice(0, 1000), slice(0, 1000))]
    spots = wide.windows(3000, 4000)
    assert len(spots) == 9
    for ys, xs in spots:
        assert 0 <= ys.start < ys.stop <= 3000 and 0 <= xs.start < xs.stop <= 4000
        assert ys.stop - ys.start == xs.stop - xs.start == 256
    thin = wide.windows(100, 20000)
    assert all(ys == slice(0, 100) and xs.stop - xs.start == 256 for ys, xs in thin)


def test_auto_rule_comes_from_the_model_info_and_needs_every_feature():
    assert wide.AutoRule.of({}) is None
    rule = wide.AutoRule.of({"auto_wide": {"level": 3, "lag": 0.3, "fine": 0.36}})
    assert rule.wants({"level": 4, "lag": 0.4, "fine": 0.3})
    assert not rule.wants({"level": 2, "lag": 0.4, "fine": 0.3})  # light noise
    assert not rule.wants({"level": 4, "lag": 0.1, "fine": 0.3})  # white noise
    assert not rule.wants({"level": 4, "lag": 0.4, "fine": 0.45})  # a scan, detail to the pixel
    assert _denoiser(1, 1)._auto_rule(3, "auto") is None  # a model without a rule never widens by itself


def test_shipped_default_widens_strong_camera_noise_by_itself_and_leaves_light_or_white_noise_alone():
    clean = _camera_scale()
    auto = Denoiser.load("photo-real", device="cpu")
    on = Denoiser.load("photo-real", device="cpu", wide=True)
    off = Denoiser.load("photo-real", device="cpu", wide=False)
    strong = _noisy_with(clean, "camera:iso=12800", seed=2)  # level 3.7, lag 0.41, fine 0.27: one pass 32.7, wide 35.6 dB
    y = auto.denoise_image(strong)
    assert auto.widened is True
    np.testing.assert_array_equal(y, on.denoise_image(strong))
    for spec in ("camera:iso=800", "gaussian:15"):
        x = _noisy_with(clean, spec)
        y = auto.denoise_image(x)
        assert auto.widened is False, spec
        np.testing.assert_array_equal(y, off.denoise_image(x))  # its one pass is the result: nothing run twice
    # a batch: each image decided apart
    batch = torch.from_numpy(np.stack([strong, _noisy_with(clean, "gaussian:15")])).permute(0, 3, 1, 2)
    yb = auto.denoise_tensor(batch)
    np.testing.assert_allclose(yb[:1], on.denoise_tensor(batch[:1]), atol=1e-6)
    np.testing.assert_allclose(yb[1:], off.denoise_tensor(batch[1:]), atol=1e-6)
    # gray (a camera's black-and-white photo): judged on its luma alone, so less readily (level 3.24 here: not)
    auto.denoise_image(strong.mean(axis=2, keepdims=True))
    assert auto.widened is False
    night = _noisy_with(clean, "camera:iso=25600", seed=1).mean(axis=2, keepdims=True)  # level 4.8, lag 0.21, fine 0.30
    np.testing.assert_array_equal(auto.denoise_image(night), on.denoise_image(night))
    assert auto.widened is True
    assert Denoiser.load("photo-gray", device="cpu")._auto_rule(1, "auto") is None  # a gray model has no rule


def test_a_call_chooses_its_own_wide_pass_and_hears_its_own_answer():
    """What the server's jobs rely on: one shared denoiser, each call with its own --wide and its own answer."""
    from daekit.api import wide_note
    from daekit.tiling import assemble_bands

    den = Denoiser.load("photo-real", device="cpu")  # "auto"
    strong = _noisy_with(_camera_scale(), "camera:iso=12800", seed=2)  # widened by "auto" (the test above)
    heard = []

    def call(wide):
        return assemble_bands(den.denoise_bands(strong, wide=wide, on_wide=heard.append), strong.shape)

    off, auto, on = call(False), call("auto"), call(True)
    assert heard == [False, True, True] and den.wide == "auto"  # the denoiser's own setting is untouched
    np.testing.assert_array_equal(auto, on)
    assert np.abs(off - on).max() > 1e-3
    np.testing.assert_array_equal(off, Denoiser.load("photo-real", device="cpu", wide=False).denoise_image(strong))
    with pytest.raises(DaekitError, match="wide must be True, False or 'auto'"):
        call("yes")
    assert wide_note([True]) == " with the wide pass" and wide_note([False, False]) == ""
    assert wide_note([True, False, True]) == " with the wide pass on 2 of 3 pages"  # a TIFF stack, page by page


def test_a_large_photo_is_judged_on_windows_then_streamed(monkeypatch):
    monkeypatch.setattr(wide, "WHOLE_PIXELS", 64 * 64)
    monkeypatch.setattr(wide, "WINDOW", 40)
    torch.manual_seed(0)
    m = create_model("residual", 3, depth=3, width=8)
    torch.nn.init.normal_(m.body[-1].weight, std=0.05)  # not the identity map
    den = Denoiser(m, Config(), "cpu", info={"auto_wide": {"level": 0, "lag": -1, "fine": 2}})  # widens anything
    seen = []
    apply = den._apply
    monkeypatch.setattr(den, "_apply", lambda z, b: seen.append(tuple(z.shape)) or apply(z, b))
    img = np.random.default_rng(4).random((150, 170, 3), dtype=np.float32)
    out = den.denoise_image(img, tile=0)
    assert seen[0] == (9, 3, 40, 40) and den.widened is True  # the nine windows in one batch, then the wide pass
    assert len(seen) == 1 + 4 + 1
    den.info = {"auto_wide": {"level": 1e9, "lag": 0, "fine": 0}}  # widens nothing
    seen.clear()
    plain = den.denoise_image(img, tile=0)
    assert den.widened is False and seen == [(9, 3, 40, 40), (1, 3, 150, 170)]  # then one pass over the photo
    assert np.abs(out - plain).max() > 1e-3


def test_shipped_default_gains_on_strong_camera_noise_at_camera_scale():
    """The option's reason to exist, at small size: photo-real with --wide on a smooth photo with ISO-12800 noise."""
    clean = _smooth()
    noisy = _noisy_with(clean, "camera:iso=12800")
    one = Denoiser.load("photo-real", device="cpu", wide=False).denoise_image(noisy)
    two = Denoiser.load("photo-real", device="cpu", wide=True).denoise_image(noisy)

    def err(y):
        return float(np.mean((y - clean) ** 2))

    assert err(two) < 0.8 * err(one) < err(noisy)


def test_cli_wide_writes(tmp_path, capsys):
    from PIL import Image

    from test_photo_cli import _clean, _noisy

    Image.fromarray((_noisy(_clean(side=96)) * 255 + 0.5).astype(np.uint8)).save(tmp_path / "n.png")
    rc, out, err = run(capsys, "denoise", tmp_path / "n.png", "-o", tmp_path / "c.png", "--wide")
    assert rc == 0, err
    assert Image.open(tmp_path / "c.png").size == (96, 96)
    rc, out, err = run(capsys, "denoise", tmp_path / "n.png", "-o", tmp_path / "d.png")
    assert rc == 0, err
    a, b = (np.asarray(Image.open(tmp_path / f), dtype=np.int16) for f in ("c.png", "d.png"))
    assert np.abs(a - b).max() > 0  # the option reached the model
    rc, out, err = run(capsys, "denoise", tmp_path / "n.png", "-o", tmp_path / "e.png", "--no-wide")
    assert rc == 0, err
    assert np.array_equal(np.asarray(Image.open(tmp_path / "e.png")), np.asarray(Image.open(tmp_path / "d.png")))


def test_cli_says_when_the_default_widened(tmp_path, capsys):
    from PIL import Image

    noisy = _noisy_with(_camera_scale(), "camera:iso=12800", seed=2)
    Image.fromarray((noisy * 255 + 0.5).astype(np.uint8)).save(tmp_path / "night.png")
    rc, out, err = run(capsys, "denoise", tmp_path / "night.png", "-o", tmp_path / "c.png")
    assert rc == 0, err
    assert "model photo-real (camera and phone photos" in out and "with the wide pass: 1 image(s)" in out
    rc, out, err = run(capsys, "denoise", tmp_path / "night.png", "-o", tmp_path / "d.png", "--no-wide")
    assert rc == 0 and "wide pass" not in out
    rc, out, err = run(capsys, "models")
    assert "wide pass:  by itself where one pass removes >= 3.25 levels" in out


def test_bad_wide_values_are_refused_in_one_line_before_anything_is_written(tmp_path, capsys):
    from PIL import Image

    from conftest import assert_usage_error
    from daekit.api import denoise_files

    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(tmp_path / "n.png")
    assert_usage_error(capsys, ["denoise", tmp_path / "n.png", "-o", tmp_path / "c.png", "--wide=yes"], "--wide")
    with pytest.raises(DaekitError, match="wide must be True, False or 'auto'"):
        denoise_files(tmp_path / "n.png", tmp_path / "c.png", "photo-real", wide="yes", progress=False)
    assert not (tmp_path / "c.png").exists()
