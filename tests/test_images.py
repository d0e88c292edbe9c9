import cv2
import numpy as np
import pytest

from daekit.errors import DaekitError
from daekit.images import find_images, read_image, write_image


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 3])
def test_lossless_round_trip_keeps_bit_depth(tmp_path, suffix, dtype, channels):
    rng = np.random.default_rng(0)
    hi = np.iinfo(dtype).max
    a = rng.integers(0, hi + 1, (17, 23, channels)).astype(dtype)
    src = tmp_path / f"a{suffix}"
    cv2.imwrite(str(src), a[..., ::-1] if channels == 3 else a[..., 0])  # OpenCV writes BGR
    arr, info = read_image(src)
    assert info.dtype == dtype and arr.shape == (17, 23, channels) and arr.dtype == np.float32
    np.testing.assert_allclose(arr, a / hi, atol=1e-7)
    dst = tmp_path / f"b{suffix}"
    write_image(dst, arr, info)
    back, info2 = read_image(dst)
    assert info2.dtype == dtype
    np.testing.assert_array_equal(np.round(back * hi).astype(dtype), a)


def test_jpeg_is_8_bit_and_close(tmp_path):
    a = np.tile(np.linspace(0, 1, 32, dtype=np.float32), (32, 1))[..., None].repeat(3, 2)
    write_image(tmp_path / "x.jpg", a, None)
    b, info = read_image(tmp_path / "x.jpg")
    assert info.dtype == np.uint8 and b.shape == (32, 32, 3)
    assert np.abs(b - a).max() < 0.05


def test_alpha_is_carried_over(tmp_path):
    bgra = np.zeros((8, 8, 4), np.uint8)
    bgra[..., 2] = 200  # red
    bgra[..., 3] = np.arange(64, dtype=np.uint8).reshape(8, 8)
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    arr, info = read_image(tmp_path / "a.png")
    assert arr.shape == (8, 8, 3) and np.allclose(arr[..., 0], 200 / 255) and info.alpha is not None
    write_image(tmp_path / "b.png", arr, info)
    back = cv2.imread(str(tmp_path / "b.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(back[..., 3], bgra[..., 3])


def test_broken_files_give_one_line(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(DaekitError, match="empty file"):
        read_image(tmp_path / "empty.png")
    ok, buf = cv2.imencode(".png", np.zeros((64, 64), np.uint8) + 7)
    (tmp_path / "cut.png").write_bytes(buf.tobytes()[:40])
    with pytest.raises(DaekitError, match="cannot decode image"):
        read_image(tmp_path / "cut.png")
    (tmp_path / "text.png").write_text("hello")
    with pytest.raises(DaekitError, match="cannot decode image"):
        read_image(tmp_path / "text.png")
    with pytest.raises(DaekitError, match="not found"):
        read_image(tmp_path / "missing.png")


def test_nan_float_tiff_refused(tmp_path):
    a = np.full((4, 4), 0.5, np.float32)
    a[1, 2] = np.nan
    cv2.imwrite(str(tmp_path / "nan.tif"), a)
    with pytest.raises(DaekitError, match="NaN"):
        read_image(tmp_path / "nan.tif")


def test_find_images_recurses(tmp_path):
    (tmp_path / "sub").mkdir()
    for p in ("a.png", "sub/b.jpg", "notes.txt"):
        (tmp_path / p).write_bytes(b"x")
    assert [p.name for p in find_images([tmp_path])] == ["a.png", "b.jpg"]
    assert find_images(tmp_path) == find_images(str(tmp_path)) == find_images([tmp_path])  # one path alone
    (tmp_path / "empty").mkdir()
    with pytest.raises(DaekitError, match="no images found"):
        find_images([tmp_path / "empty"])
    with pytest.raises(DaekitError, match="input not found"):
        find_images([tmp_path / "nothing"])


def test_channel_mean_is_numpys_mean_to_the_bit():
    from daekit.color import channel_mean

    rng = np.random.default_rng(0)
    for shape in [(5, 7, 3), (5, 7, 1), (4, 2, 3, 3), (3, 4, 2), (300, 401, 3)]:
        for dtype in (np.float32, np.float64):
            x = rng.random(shape).astype(dtype)
            got = channel_mean(x)
            assert got.dtype == dtype and np.array_equal(got, x.mean(axis=-1, keepdims=True, dtype=dtype)), (shape, dtype)
