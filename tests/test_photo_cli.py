"""Shipped photo models from the command line: the default model, every odd kind of photo file, bad files."""
from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from daekit.api import Denoiser
from daekit.pretrained import list_pretrained

from test_cli import assert_one_line_error, run
from conftest import assert_usage_error


def _clean(side=96, rgb=False):
    from skimage import data

    img = data.astronaut()[100 : 100 + side, 150 : 150 + side] if rgb else data.camera()[80 : 80 + side, 200 : 200 + side]
    return img.astype(np.float32) / 255


def _noisy(clean, sigma=25, seed=0):
    return np.clip(clean + np.random.default_rng(seed).normal(0, sigma / 255, clean.shape), 0, 1)


def _psnr(a, b):
    return 10 * np.log10(1 / np.mean((a.astype(np.float64) - b) ** 2))


def test_shipped_models_are_listed_small_and_load_offline(capsys):
    rc, out, _ = run(capsys, "models")
    assert rc == 0
    for p in list_pretrained():
        assert p.name in out and p.weights.stat().st_size <= 5e6
        info = p.describe()
        assert info["data"] and info["noise"] and info["psnr"], f"{p.name}: training data, noise range and PSNR"
        assert all(f"{v:.2f}" in out for v in info["psnr"].values())
        assert Denoiser.load(p.name, device="cpu").model is not None
    assert {"photo-gray", "photo-rgb", "mnist"} <= {p.name for p in list_pretrained()}


def test_default_model_cleans_a_16_bit_gray_png(tmp_path, capsys):
    clean = _clean()
    noisy16 = (_noisy(clean) * 65535 + 0.5).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "n.png"), noisy16)
    rc, _, err = run(capsys, "denoise", tmp_path / "n.png", "-o", tmp_path / "c.png")
    assert rc == 0, err
    out = cv2.imread(str(tmp_path / "c.png"), cv2.IMREAD_UNCHANGED)
    assert out.dtype == np.uint16 and out.shape == clean.shape
    assert _psnr(out / 65535, clean) > _psnr(noisy16 / 65535, clean) + 4


@pytest.mark.parametrize("bits", [8, 12, 14])
def test_camera_data_of_fewer_bits_in_a_16_bit_file_are_read_at_their_depth(tmp_path, capsys, bits):
    # a microscope's or a camera's 12-bit data in a 16-bit TIFF: scaled by 65535, the model saw a near-black image
    # and returned a gray haze (a 12-bit W2S frame: 17.8 -> 10.9 dB); scaled by 4095 it gets what the 8-bit file gets
    import tifffile

    clean, top = _clean(), (1 << bits) - 1
    noisy = np.round(_noisy(clean, 25) * top).astype(np.uint16)
    tifffile.imwrite(tmp_path / "n.tif", noisy, photometric="minisblack")
    rc, _, err = run(capsys, "denoise", tmp_path / "n.tif", "-o", tmp_path / "c.tif")
    assert rc == 0, err
    out = tifffile.imread(tmp_path / "c.tif")
    assert out.dtype == np.uint16 and out.max() <= top  # written back at its depth
    assert _psnr(out / top, clean) > _psnr(noisy / top, clean) + 4
    api = Denoiser.load("photo-gray", device="cpu").denoise(noisy)  # the Python API reads them alike
    assert api.dtype == np.uint16 and np.abs(api.astype(int) - out).max() <= 1


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_a_gray_photo_saved_as_rgb_is_cleaned_by_the_gray_model(tmp_path, capsys, ext):
    # a black-and-white photo exported in colour: three equal channels, whose noise the colour models leave
    clean = _clean()
    noisy = (_noisy(clean, 15) * 255 + 0.5).astype(np.uint8)
    Image.fromarray(np.dstack([noisy] * 3)).save(tmp_path / f"n{ext}", **({"quality": 98} if ext == ".jpg" else {}))
    Image.fromarray(np.asarray(Image.open(tmp_path / f"n{ext}"))[..., 0]).save(tmp_path / "g.png")  # as decoded
    rc, out_text, err = run(capsys, "denoise", tmp_path / f"n{ext}", "-o", tmp_path / "c.png")
    assert rc == 0, err
    assert "model photo-gray" in out_text and "note:" not in err
    out = np.asarray(Image.open(tmp_path / "c.png")).astype(np.float32) / 255
    assert out.shape == (*clean.shape, 3)  # written as it came, in three channels
    rc, _, err = run(capsys, "denoise", tmp_path / "g.png", "-o", tmp_path / "g_out.png")
    one = np.asarray(Image.open(tmp_path / "g_out.png")).astype(np.float32) / 255
    assert np.abs(out - one[..., None]).max() <= 1.5 / 255  # what the one-channel file gets
    assert _psnr(out[..., 0], clean) > _psnr(noisy / 255, clean) + 4
    # a colour model named for it says it is the wrong one (it leaves this noise: measured, docs/guide.md)
    rc, _, err = run(capsys, "denoise", tmp_path / f"n{ext}", "-o", tmp_path / "r.png", "--model", "photo-real")
    assert rc == 0 and "note:" in err and "black-and-white image" in err and "photo-gray" in err


def test_looks_gray_tells_gray_in_three_channels_from_colour():
    from daekit.images import looks_gray

    rng = np.random.default_rng(0)
    g = rng.random((300, 40, 1), dtype=np.float32)
    assert looks_gray(g) and looks_gray(np.repeat(g, 3, axis=2))
    rounded = np.repeat(g, 3, axis=2) + rng.choice([-1, 0, 1], (300, 40, 3)) / 255  # a decoder's rounding
    assert looks_gray(rounded.astype(np.float32))
    tinted = np.repeat(g, 3, axis=2)
    tinted[299, 39, 2] += 4 / 255  # one pixel of colour, in the last band scanned
    assert not looks_gray(tinted)
    assert not looks_gray(_clean(64, rgb=True))


def test_a_toned_black_and_white_photo_is_cleaned_as_gray_and_keeps_its_tone(tmp_path, capsys):
    from daekit.images import gray_tone

    clean = _clean()
    gains, offsets = np.array([1.0, 0.85, 0.65]), np.array([0.0, 0.03, 0.06])  # sepia
    sepia = clean[..., None] * gains + offsets
    noisy = (np.clip(_noisy(clean, 15), 0, 1)[..., None] * gains + offsets) * 255 + 0.5
    Image.fromarray(noisy.astype(np.uint8)).save(tmp_path / "sepia.png")
    tone = gray_tone(np.asarray(Image.open(tmp_path / "sepia.png")).astype(np.float32) / 255)
    assert tone is not None and np.allclose(tone[0], gains / gains.mean(), atol=0.01)
    rc, out_text, err = run(capsys, "denoise", tmp_path / "sepia.png", "-o", tmp_path / "c.png")
    assert rc == 0 and "model photo-gray" in out_text, err
    out = np.asarray(Image.open(tmp_path / "c.png")).astype(np.float32) / 255
    assert _psnr(out, sepia) > _psnr(noisy / 255, sepia) + 4  # photo-real: +0.6 dB on toned gray noise
    assert np.abs((out - offsets)[..., 2] / 0.65 - (out - offsets)[..., 0]).max() < 3 / 255  # still sepia, not gray


def test_the_gray_model_keeps_the_tiny_offsets_of_a_gray_rgb_image():
    # nothing the user had is lost: each channel's offset from the mean (a decoder's rounding) comes back
    den = Denoiser.load("photo-gray", device="cpu")
    g = _noisy(_clean(64), 15).astype(np.float32)[..., None]
    rgb = np.concatenate([g, g + 1 / 255, g - 1 / 255], axis=2).clip(0, 1).astype(np.float32)
    out = den.denoise_image(rgb, tile=0)
    inner = (g[..., 0] > 2 / 255) & (g[..., 0] < 253 / 255)  # away from the clip
    assert np.allclose((out[..., 1] - out[..., 0])[inner], 1 / 255, atol=1e-4)
    assert np.allclose(out.mean(axis=2), den.denoise_image(rgb.mean(axis=2, keepdims=True), tile=0)[..., 0], atol=1e-5)


def test_default_colour_model_is_photo_real_and_a_gaussian_jpeg_is_cleaned_by_photo_rgb(tmp_path, capsys):
    clean = _clean(rgb=True)
    Image.fromarray((_noisy(clean) * 255 + 0.5).astype(np.uint8)).save(tmp_path / "n.jpg", quality=98)
    rc, out_text, err = run(capsys, "denoise", tmp_path / "n.jpg", "-o", tmp_path / "c.png")
    assert rc == 0, err
    assert "model photo-real (camera and phone photos" in out_text and " s" in out_text  # which model, how long
    # white Gaussian noise (here with JPEG's 4:2:0 chroma) is what photo-real does worst (docs/guide.md):
    # photo-rgb, the gray model per opponent channel, is the model for it
    rc, _, err = run(capsys, "denoise", tmp_path / "n.jpg", "-o", tmp_path / "r.png", "--model", "photo-rgb")
    assert rc == 0, err
    out = np.asarray(Image.open(tmp_path / "r.png")).astype(np.float32) / 255
    noisy = np.asarray(Image.open(tmp_path / "n.jpg")).astype(np.float32) / 255
    assert out.shape == clean.shape and _psnr(out, clean) > _psnr(noisy, clean) + 3


@pytest.mark.parametrize("mode", ["CMYK", "P", "RGBA", "LA"])
def test_unusual_color_modes_are_handled(tmp_path, capsys, mode):
    rgb = Image.fromarray((_noisy(_clean(64, rgb=True)) * 255).astype(np.uint8))
    img = rgb.convert(mode)
    name = "in.jpg" if mode == "CMYK" else "in.png"
    img.save(tmp_path / name)
    rc, _, err = run(capsys, "denoise", tmp_path / name, "-o", tmp_path / "out.png")
    assert rc == 0, err
    out = Image.open(tmp_path / "out.png")
    assert out.size == (64, 64)
    if mode in ("RGBA", "LA"):  # alpha carried over unchanged
        assert out.mode in ("RGBA", "LA") and np.array_equal(np.asarray(out)[..., -1], np.asarray(img)[..., -1])
    # into a JPEG, which holds no alpha: said, not done without a word
    rc, _, err = run(capsys, "denoise", tmp_path / name, "-o", tmp_path / "out.jpg")
    assert rc == 0, err
    assert ("has transparency, which .jpg files cannot hold" in err) == (mode in ("RGBA", "LA"))


def test_transparency_written_to_jpeg_is_flattened_onto_white(tmp_path, capsys):
    """JPEG holds no alpha: transparent pixels come out white (as a photo editor exports them), not as the black or
    leftover colours stored under them; opaque ones as denoised; half-transparent ones in between."""
    rgb = (_noisy(_clean(64, rgb=True)) * 255).astype(np.uint8)
    rgb[:, :20] = 0  # hidden under full transparency
    alpha = np.full((64, 64), 255, np.uint8)
    alpha[:, :20], alpha[:, 20:30] = 0, 128
    Image.fromarray(np.dstack([rgb, alpha])).save(tmp_path / "in.png")
    rc, _, err = run(capsys, "denoise", tmp_path / "in.png", "-o", tmp_path / "out.jpg", "--model", "photo-color")
    assert rc == 0 and "is flattened onto white" in err, err
    rc, _, err = run(capsys, "denoise", tmp_path / "in.png", "-o", tmp_path / "out.png", "--model", "photo-color")
    assert rc == 0, err
    jpg = np.asarray(Image.open(tmp_path / "out.jpg"), dtype=np.float64)
    png = np.asarray(Image.open(tmp_path / "out.png"), dtype=np.float64)
    assert jpg.shape == (64, 64, 3) and png.shape == (64, 64, 4)
    assert jpg[:, :18].min() >= 245  # white (JPEG's ringing at the edge aside)
    half = (png[:, 22:28, :3] * 128 / 255 + 255 * (1 - 128 / 255))
    assert np.abs(jpg[:, 22:28] - half).mean() < 4
    assert np.abs(jpg[:, 32:] - png[:, 32:, :3]).mean() < 4  # opaque: the denoised photo
    import tifffile  # a float alpha that is NaN or past 1 counts as opaque (not NaN pixels, not past white)

    rgba = np.dstack([np.full((32, 32, 3), 0.4, np.float32), np.ones((32, 32, 1), np.float32)])
    rgba[:8, :8, 3], rgba[8:16, :8, 3] = np.nan, 5.0
    tifffile.imwrite(tmp_path / "f.tif", rgba, photometric="rgb", extrasamples=[2])
    rc, _, err = run(capsys, "denoise", tmp_path / "f.tif", "-o", tmp_path / "f.jpg", "--model", "photo-color")
    assert rc == 0, err
    assert np.abs(np.asarray(Image.open(tmp_path / "f.jpg"), dtype=np.float64) - 0.4 * 255).max() < 8


def test_bad_photo_files_give_one_line_and_touch_nothing(tmp_path, capsys):
    (tmp_path / "empty.png").write_bytes(b"")
    ok, buf = cv2.imencode(".png", (np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8))
    (tmp_path / "cut.png").write_bytes(buf.tobytes()[: len(buf) // 2])
    bomb = bytearray(buf.tobytes())
    bomb[16:24] = (100_000).to_bytes(4, "big") + (100_000).to_bytes(4, "big")  # IHDR claims 10^10 pixels
    (tmp_path / "bomb.png").write_bytes(bytes(bomb))
    (tmp_path / "keep.png").write_bytes(b"precious")
    for name, words in [("empty.png", "empty file"), ("cut.png", "cannot decode"), ("bomb.png", "100000x100000 pixels, over the limit")]:
        rc, _, err = run(capsys, "denoise", tmp_path / name, "-o", tmp_path / "keep.png", "--overwrite")
        assert_one_line_error(rc, err, words)
        assert (tmp_path / "keep.png").read_bytes() == b"precious"
    rc, _, err = run(capsys, "denoise", "--model", "photo-grey", tmp_path / "cut.png", "-o", tmp_path / "x.png")
    assert_one_line_error(rc, err, "neither a shipped model")
    assert_usage_error(capsys, ["denoise", tmp_path / "empty.png", "-o", tmp_path / "x.png", "--tile", "-3"], "--tile: must be >= 0")


def test_a_tiff_stack_is_cleaned_page_by_page_and_a_gif_animation_refused(tmp_path, capsys):
    import tifffile

    rng = np.random.default_rng(0)
    clean = _clean(64)
    pages = np.stack([_noisy(clean, 25, seed=k) for k in range(3)])  # a time series of one scene
    tifffile.imwrite(tmp_path / "stack.tif", (pages * 65535 + 0.5).astype(np.uint16), photometric="minisblack")
    tifffile.imwrite(tmp_path / "counts.tif", (pages * 4000).astype(np.float32), photometric="minisblack")
    rc, out_text, err = run(capsys, "denoise", tmp_path / "stack.tif", "-o", tmp_path / "clean.tif")
    assert rc == 0, err
    out = tifffile.imread(tmp_path / "clean.tif")
    assert out.shape == pages.shape and out.dtype == np.uint16  # every page, at its bit depth
    for k in range(3):
        assert _psnr(out[k] / 65535, clean) > _psnr(pages[k], clean) + 4
    # each page is what the same image alone in a file gets
    Image.fromarray((pages[1] * 65535 + 0.5).astype(np.uint16)).save(tmp_path / "one.png")
    assert run(capsys, "denoise", tmp_path / "one.png", "-o", tmp_path / "one_out.png")[0] == 0
    assert np.array_equal(cv2.imread(str(tmp_path / "one_out.png"), cv2.IMREAD_UNCHANGED), out[1])
    # float pages (microscope counts) come back in their own units
    assert run(capsys, "denoise", tmp_path / "counts.tif", "-o", tmp_path / "counts_out.tif")[0] == 0
    counts = tifffile.imread(tmp_path / "counts_out.tif")
    assert counts.dtype == np.float32 and counts.shape == pages.shape and _psnr(counts[0] / 4000, clean) > _psnr(pages[0], clean) + 4
    # a stack into a one-image format, and an animated GIF: one line each, nothing written
    (tmp_path / "keep.png").write_bytes(b"precious")
    rc, _, err = run(capsys, "denoise", tmp_path / "stack.tif", "-o", tmp_path / "keep.png", "--overwrite")
    assert_one_line_error(rc, err, "holds 3 images (TIFF pages); name a .tif output")
    frames = [Image.fromarray((rng.random((40, 48, 3)) * 255).astype(np.uint8)) for _ in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    rc, _, err = run(capsys, "denoise", tmp_path / "anim.gif", "-o", tmp_path / "keep.png", "--overwrite")
    assert_one_line_error(rc, err, "holds 3 images")
    assert (tmp_path / "keep.png").read_bytes() == b"precious"
    # a full-size page with a small preview page is one image
    with tifffile.TiffWriter(tmp_path / "preview.tif") as t:
        t.write((rng.random((40, 48)) * 255).astype(np.uint8), photometric="minisblack")
        t.write((rng.random((10, 12)) * 255).astype(np.uint8), photometric="minisblack", subfiletype=1)
    rc, _, err = run(capsys, "denoise", tmp_path / "preview.tif", "-o", tmp_path / "p.tif")
    assert rc == 0, err
    assert tifffile.imread(tmp_path / "p.tif").shape == (40, 48) and "note" not in err
    # pages of another size not marked as previews: only the first is cleaned, and the command says so
    with tifffile.TiffWriter(tmp_path / "pages.tif") as t:
        t.write((rng.random((40, 48)) * 255).astype(np.uint8), photometric="minisblack")
        t.write((rng.random((30, 20)) * 255).astype(np.uint8), photometric="minisblack")
    rc, _, err = run(capsys, "denoise", tmp_path / "pages.tif", "-o", tmp_path / "pages_out.tif")
    assert rc == 0, err
    assert tifffile.imread(tmp_path / "pages_out.tif").shape == (40, 48)
    assert "also holds 1 page(s) of another size than its first" in err and "only its first page is cleaned" in err


def test_an_iphone_heic_photo_is_cleaned_into_an_upright_jpeg(tmp_path, capsys, monkeypatch):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    clean = _clean(96, rgb=True)[:, :80]  # 96 rows x 80 columns
    ex = Image.Exif()
    ex[274], ex[271] = 6, "Apple"  # shown turned a quarter clockwise, as a phone held upright shoots
    (tmp_path / "in").mkdir()
    Image.fromarray((_noisy(clean, 20) * 255 + 0.5).astype(np.uint8)).save(tmp_path / "in" / "IMG_0001.HEIC", quality=100,
                                                                          exif=ex.tobytes())
    rc, _, err = run(capsys, "denoise", tmp_path / "in" / "IMG_0001.HEIC", "-o", tmp_path / "clean.jpg")
    assert rc == 0, err
    noisy, out = Image.open(tmp_path / "in" / "IMG_0001.HEIC"), Image.open(tmp_path / "clean.jpg")
    upright = np.rot90(clean, -1)  # what a viewer shows
    assert noisy.size == out.size == (96, 80) and out.getexif().get(274, 1) == 1 and out.getexif().get(271) == "Apple"
    assert _psnr(np.asarray(out) / 255, upright) > _psnr(np.asarray(noisy.convert("RGB")) / 255, upright) + 2
    # a folder of phone photos: each written as JPEG under its own name
    rc, _, err = run(capsys, "denoise", tmp_path / "in", "-o", tmp_path / "out")
    assert rc == 0, err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["IMG_0001.jpg"]
    rc, _, err = run(capsys, "denoise", tmp_path / "in" / "IMG_0001.HEIC", "-o", tmp_path / "x.heic")
    assert_one_line_error(rc, err, "cannot write .heic")
    # without pillow-heif installed: one line that says how to get it
    monkeypatch.setitem(sys.modules, "pillow_heif", None)
    rc, _, err = run(capsys, "denoise", tmp_path / "in" / "IMG_0001.HEIC", "-o", tmp_path / "again.jpg")
    assert_one_line_error(rc, err, "pip install 'daekit[heic]'")


def test_a_webp_image_is_cleaned_into_a_png_with_its_alpha_and_exif(tmp_path, capsys):
    clean = _clean(96, rgb=True)[:, :80]
    alpha = np.full(clean.shape[:2], 255, np.uint8)
    alpha[:10] = 0  # a transparent band
    ex = Image.Exif()
    ex[274] = 6
    noisy = (_noisy(clean, 20) * 255 + 0.5).astype(np.uint8)
    (tmp_path / "in").mkdir()
    Image.fromarray(np.dstack([noisy, alpha])).save(tmp_path / "in" / "web.webp", lossless=True, exif=ex.tobytes())
    Image.fromarray(noisy).save(tmp_path / "in" / "anim.gif")  # a type daekit passes over in a folder
    rc, _, err = run(capsys, "denoise", tmp_path / "in", "-o", tmp_path / "out")
    assert rc == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["web.png"]
    out = Image.open(tmp_path / "out" / "web.png")
    assert out.mode == "RGBA" and out.getexif().get(274) == 6
    o = np.asarray(out)
    assert np.array_equal(o[..., 3], alpha)
    # (a WebP encoder may zero the colour under full transparency: scored where the photo shows)
    assert _psnr(o[10:, :, :3] / 255, clean[10:]) > _psnr(noisy[10:] / 255, clean[10:]) + 2
    rc, _, err = run(capsys, "denoise", tmp_path / "in" / "web.webp", "-o", tmp_path / "x.webp")
    assert_one_line_error(rc, err, "cannot write .webp")
    # a folder of only types daekit does not read: the error says what it passed over
    (tmp_path / "in" / "web.webp").unlink()
    rc, _, err = run(capsys, "denoise", tmp_path / "in", "-o", tmp_path / "out2")
    assert_one_line_error(rc, err, "passed over: 1 .gif")
    # an animated WebP: refused like an animated GIF, not cleaned as its first frame without a word
    frames = [Image.fromarray(noisy), Image.fromarray(255 - noisy)]
    frames[0].save(tmp_path / "anim.webp", save_all=True, append_images=frames[1:], lossless=True)
    rc, _, err = run(capsys, "denoise", tmp_path / "anim.webp", "-o", tmp_path / "a.png")
    assert_one_line_error(rc, err, "holds 2 images")
    assert not (tmp_path / "a.png").exists()


def test_files_of_other_types_named_on_the_command_line_are_written_as_png(tmp_path, capsys):
    # a .ppm or a file without a suffix (OpenCV decodes them by content) used to be cleaned and then refused at
    # writing, after the images before it had been written; now each output is of a type daekit writes
    clean = _clean(64, rgb=True)
    noisy = (_noisy(clean, 20) * 255 + 0.5).astype(np.uint8)
    Image.fromarray(noisy).save(tmp_path / "scan.ppm")
    Image.fromarray(noisy[..., 0]).save(tmp_path / "gray.pgm")
    Image.fromarray(noisy).save(tmp_path / "IMG_0001", format="JPEG", quality=95)
    Image.fromarray(noisy).save(tmp_path / "photo.jpg.bak", format="JPEG", quality=95)
    names = ["scan.ppm", "gray.pgm", "IMG_0001", "photo.jpg.bak"]
    rc, _, err = run(capsys, "denoise", *(tmp_path / n for n in names), "-o", tmp_path / "out")
    assert rc == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["IMG_0001.png", "gray.png", "photo.jpg.bak.png",
                                                                     "scan.png"]
    o = np.asarray(Image.open(tmp_path / "out" / "scan.png"))
    assert o.shape == noisy.shape and _psnr(o / 255, clean) > _psnr(noisy / 255, clean) + 2
    assert np.asarray(Image.open(tmp_path / "out" / "gray.png")).ndim == 2
    # one output file named for one of them is still refused before any work when daekit does not write its type
    rc, _, err = run(capsys, "denoise", tmp_path / "scan.ppm", "-o", tmp_path / "clean.ppm")
    assert_one_line_error(rc, err, "cannot write .ppm")
    assert not (tmp_path / "clean.ppm").exists()


def test_a_broken_page_leaves_no_stack_behind(tmp_path, capsys):
    import tifffile

    pages = (np.random.default_rng(0).random((3, 32, 32)) * 255).astype(np.uint8)
    with tifffile.TiffWriter(tmp_path / "s.tif") as t:
        for page in pages:
            t.write(page, photometric="minisblack", compression="zlib")
    with tifffile.TiffFile(tmp_path / "s.tif") as t:
        at, size = t.pages[2].dataoffsets[0], t.pages[2].databytecounts[0]
    data = bytearray((tmp_path / "s.tif").read_bytes())
    data[at : at + size] = b"\x00" * size  # the last page's compressed pixels wiped
    (tmp_path / "cut.tif").write_bytes(bytes(data))
    (tmp_path / "out.tif").write_bytes(b"precious")
    rc, _, err = run(capsys, "denoise", tmp_path / "cut.tif", "-o", tmp_path / "out.tif", "--overwrite")
    last = err.strip().splitlines()[-1]  # after the pages' progress bar
    assert rc != 0 and "Traceback" not in err and last.startswith("daekit: error:") and "cannot decode page 3" in last, err
    assert (tmp_path / "out.tif").read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.tif", "out.tif", "s.tif"]  # no temp file left


def test_camera_noise_photos_are_cleaned_by_the_default(tmp_path, capsys):
    import torch

    from daekit.noise import make_generator, parse_noise

    clean = _clean(128, rgb=True)
    x = torch.from_numpy(clean).permute(2, 0, 1)[None]
    (tmp_path / "in").mkdir()
    for seed in range(4):  # four draws of the camera: ISO factor, colour matrix, noise reduction
        noisy = parse_noise("camera:iso=6400")(x, make_generator(seed))[0].permute(1, 2, 0).numpy()
        Image.fromarray((noisy * 255 + 0.5).astype(np.uint8)).save(tmp_path / "in" / f"{seed}.png")
    scores = {}
    for model in ("default", "photo-rgb"):
        flags = [] if model == "default" else ["--model", model]
        rc, _, err = run(capsys, "denoise", tmp_path / "in", "-o", tmp_path / model, *flags)
        assert rc == 0, err
        scores[model] = np.mean([_psnr(np.asarray(Image.open(tmp_path / model / f"{k}.png")).astype(np.float32) / 255, clean)
                                 for k in range(4)])
    noisy = np.mean([_psnr(np.asarray(Image.open(tmp_path / "in" / f"{k}.png")).astype(np.float32) / 255, clean) for k in range(4)])
    assert scores["default"] > noisy + 1.5 and scores["default"] > scores["photo-rgb"] + 1  # what photo-real is for


def test_strength_blends_and_color_strength_weighs_colour_noise(tmp_path, capsys):
    clean = _clean(64, rgb=True)
    noisy = (_noisy(clean, 20) * 255 + 0.5).astype(np.uint8)
    Image.fromarray(noisy).save(tmp_path / "n.png")
    outs = {}
    for tag, flags in [("full", []), ("none", ["--strength", "0"]), ("half", ["--strength", "0.5"]),
                       ("grain", ["--strength", "0", "--color-strength", "1"])]:
        rc, _, err = run(capsys, "denoise", tmp_path / "n.png", "-o", tmp_path / f"{tag}.png", "--model", "photo-color", *flags)
        assert rc == 0, err
        outs[tag] = np.asarray(Image.open(tmp_path / f"{tag}.png")).astype(np.float64)
    n = noisy.astype(np.float64)
    assert np.abs(outs["none"] - n).max() <= 1  # strength 0: the input back
    assert np.abs(outs["half"] - (n + outs["full"]) / 2).max() <= 1.5  # a blend, the same for every model
    luma = np.array([0.299, 0.587, 0.114])
    inside = ((outs["grain"] > 0) & (outs["grain"] < 255) & (outs["full"] > 0) & (outs["full"] < 255)).all(-1)  # not clipped
    assert inside.mean() > 0.5
    assert np.abs(outs["grain"] @ luma - n @ luma)[inside].max() <= 1.5  # luma noise (grain) kept ...
    chroma = lambda a: a - (a @ luma)[..., None]  # noqa: E731
    assert np.abs(chroma(outs["grain"]) - chroma(outs["full"]))[inside].max() <= 1.5  # ... colour noise removed
    for bad in ("1.5", "-0.1", "nan"):
        assert_usage_error(capsys, ["denoise", tmp_path / "n.png", "-o", tmp_path / "x.png", "--strength", bad], "--strength: must be")
    assert_usage_error(capsys, ["denoise", tmp_path / "n.png", "-o", tmp_path / "x.png", "--color-strength", "2"],
                       "--color-strength: must be at least 0 and at most 1")
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("ext", ["jpg", "png", "tif"])
def test_exif_orientation_and_icc_profile_survive_denoise(tmp_path, capsys, ext):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[274], exif[271] = 6, "TestCam"  # rotate 90 degrees clockwise to view
    img = Image.fromarray((_noisy(_clean(48, rgb=True)) * 255 + 0.5).astype(np.uint8)[:, :40])
    img.save(tmp_path / f"in.{ext}", exif=exif.tobytes(), icc_profile=icc)
    for out_ext in ("jpg", "png", "tif"):
        rc, _, err = run(capsys, "denoise", tmp_path / f"in.{ext}", "-o", tmp_path / f"out.{out_ext}", "--model", "photo-color")
        assert rc == 0, err
        out = Image.open(tmp_path / f"out.{out_ext}")
        assert out.info.get("icc_profile") == icc, (ext, out_ext)
        # JPEG/PNG pixels stay as stored with their orientation tag; a TIFF input is decoded upright already
        upright = ext == "tif"
        if out_ext == "tif":
            import tifffile

            page = tifffile.TiffFile(tmp_path / f"out.{out_ext}").pages[0]
            orient = page.tags["Orientation"].value if "Orientation" in page.tags else 1
            shape = page.shape[:2]
        else:
            orient, shape = out.getexif().get(274, 1), (out.size[1], out.size[0])
        assert orient == (1 if upright else 6), (ext, out_ext)
        assert shape == ((40, 48) if upright else (48, 40)), (ext, out_ext)
        if out_ext != "tif" and not upright:
            assert out.getexif().get(271) == "TestCam"


@pytest.mark.parametrize("ext", ["jpg", "tif"])
def test_cmyk_photo_comes_out_rgb_without_an_alpha_or_its_cmyk_profile(tmp_path, capsys, ext):
    """A print-ready CMYK file is decoded to RGB; OpenCV gives a CMYK TIFF an opaque alpha channel, which is not
    the photo's, and the CMYK profile does not describe the RGB result (PNG forbids it): neither is written."""
    profile = bytearray(132)
    profile[16:20], profile[36:40] = b"CMYK", b"acsp"  # an ICC header: data colour space CMYK
    rgb = (_clean(48, rgb=True) * 255 + 0.5).astype(np.uint8)
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / f"in.{ext}", icc_profile=bytes(profile), quality=95)
    for out_ext in ("png", "tif", "jpg"):
        rc, _, err = run(capsys, "denoise", tmp_path / f"in.{ext}", "-o", tmp_path / f"out.{out_ext}", "--model", "photo-color")
        assert rc == 0, err
        out = Image.open(tmp_path / f"out.{out_ext}")
        assert out.mode == "RGB" and out.size == (48, 48) and "icc_profile" not in out.info, (ext, out_ext, out.mode)
        assert np.abs(np.asarray(out, dtype=np.float64) - rgb).mean() < 12, (ext, out_ext)  # the photo's colours
    if ext == "tif":  # 16-bit CMYK, which the decoder does not read: said in one line
        import tifffile

        tifffile.imwrite(tmp_path / "in16.tif", np.zeros((8, 8, 4), np.uint16), photometric="separated")
        rc, _, err = run(capsys, "denoise", tmp_path / "in16.tif", "-o", tmp_path / "out16.png")
        assert_one_line_error(rc, err, "this CMYK (print) image is not read; save it as RGB first")
        assert not (tmp_path / "out16.png").exists()


def test_two_inputs_of_one_name_are_refused_not_overwritten(tmp_path, capsys):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        cv2.imwrite(str(tmp_path / sub / "x.png"), (_noisy(_clean(32)) * 255).astype(np.uint8))
    rc, _, err = run(capsys, "denoise", tmp_path / "a" / "x.png", tmp_path / "b" / "x.png", "-o", tmp_path / "out")
    assert_one_line_error(rc, err, "would both be written to")
    assert not (tmp_path / "out").exists()
