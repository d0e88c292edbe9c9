"""Reading and writing image files (PNG, JPEG, TIFF, BMP; gray/RGB; 8/16-bit) as float arrays in [0, 1].

OpenCV does the decoding: unlike Pillow it reads 16-bit RGB PNG and TIFF without truncating to
8 bits, and it caps decoded pixels (a decompression-bomb guard). Writes are atomic. HEIC/HEIF photos
(a phone's) are read through pillow-heif where it is installed (the `heic` extra) and never written:
their results are JPEG; WebP images (the web's, some phones') are read by OpenCV and cleaned into PNG (lossless,
alpha kept). A file of several images of one size (a TIFF stack, an animated GIF or WebP) is refused
by ``read_image``, which would otherwise see its first only; ``read_tiff_stack`` / ``write_tiff_stack``
take a TIFF stack page by page.

Photo metadata survive a round trip: the EXIF block (orientation above all) and the ICC colour profile
are read with Pillow (headers only) and written back into JPEG (APP1/APP2 segments) and PNG (eXIf/iCCP
chunks) beside OpenCV's pixels, and into TIFF by tifffile (orientation and ICC tags). JPEG and PNG
pixels are kept as stored, with their orientation tag: a viewer that turned the input turns the output
alike. A TIFF is decoded upright already (OpenCV applies its orientation), so its tag is not carried.
"""
from __future__ import annotations

import io
import os
import struct
import threading
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, NamedTuple, TypeVar

import cv2
import numpy as np

from .color import channel_mean
from .io import atomic_path, atomic_write_bytes
from .errors import DaekitError

try:  # OpenCV warns on stderr about broken files; we report them ourselves, once
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
except AttributeError:  # pragma: no cover - older OpenCV builds
    pass

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}  # read and written
# read, not written: a phone's HEIC photo (decoded by pillow-heif, the `heic` extra) is cleaned into a JPEG, a WebP
# image (lossy or lossless, maybe with alpha) into a PNG
READ_ONLY_SUFFIXES = {".heic", ".heif", ".webp"}
WRITTEN_AS = {".heic": ".jpg", ".heif": ".jpg", ".webp": ".png"}
# The largest image read, in pixels: 268 Mpx, e.g. 16384 x 16384 (tiled inference takes it in ~1.2 GB).
# Checked from the file's header before anything is decoded, so a small file that claims a huge image
# (a decompression bomb) costs nothing. DAEKIT_MAX_PIXELS or a max_pixels argument sets another.
MAX_PIXELS = 1 << 28
_PIL_LOCK = threading.Lock()
T = TypeVar("T")


def max_pixels(limit: int | None = None) -> int:
    """The pixel limit in force: `limit` if given, else $DAEKIT_MAX_PIXELS, else ``MAX_PIXELS``."""
    from . import checks

    if limit is None:
        text = os.environ.get("DAEKIT_MAX_PIXELS", "").strip()
        return checks.pixels(text, "DAEKIT_MAX_PIXELS") if text else MAX_PIXELS
    return checks.pixels(limit, "the pixel limit")  # the same values --max-pixels takes


def _from_header(path: str | Path, read: Callable[[Any], T]) -> T:
    """`read` applied to the image opened by Pillow, which reads the header and never the pixels.

    Pillow refuses headers of more than 2x its own pixel limit (DecompressionBombError); daekit applies
    its own limit (``check_pixels``), so such a header is opened again without Pillow's. Pillow's other
    errors (an unknown format, a broken header) are raised to the caller.
    """
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's own bomb warning
        try:
            with Image.open(path) as im:
                return read(im)
        except Image.DecompressionBombError:
            with _PIL_LOCK:
                saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
                try:
                    with Image.open(path) as im:
                        return read(im)
                finally:
                    Image.MAX_IMAGE_PIXELS = saved


def image_dimensions(path: str | Path) -> tuple[int, int] | None:
    """(width, height) from an image file's header (Pillow; no pixels decoded), None if unreadable."""
    return _header(path, with_metadata=False).size


class Header(NamedTuple):
    """What an image file's header says (``_header``)."""

    size: tuple[int, int] | None  # (width, height); None where Pillow cannot read the header
    exif: bytes | None
    icc: bytes | None
    frames: int  # images of that size in the file
    mode: str | None = None  # Pillow's pixel mode ("RGB", "CMYK", ...)


def _header(path: str | Path, with_metadata: bool = True) -> Header:
    """The file's size, EXIF, ICC profile, image count and pixel mode from one opening of its header (see
    ``image_dimensions``, ``read_metadata``, ``_frames``)."""

    def read(im: Any) -> Header:
        size = (int(im.width), int(im.height))
        frames, mode = _frames(im, size), str(im.mode)
        if not with_metadata:
            return Header(size, None, None, frames, mode)
        im.seek(0)
        try:
            return Header(size, *_metadata(im), frames, mode)
        except Exception:  # metadata are a courtesy: an unreadable block never stops a denoise
            return Header(size, None, None, frames, mode)

    try:
        return _from_header(path, read)
    except Exception:  # unknown to Pillow (or a PNG whose header checksum is broken, as a crafted one's is)
        try:
            with open(path, "rb") as f:
                head = f.read(24)
        except OSError:  # unreadable: the decoder says so, in its own words
            return Header(None, None, None, 1)
        if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) == 24:
            return Header((int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")), None, None, 1)
        return Header(None, None, None, 1)  # OpenCV decides, with its own cap (2**30 pixels), and the decoded size is checked


MAX_FRAMES_COUNTED = 10_000  # a header walk of more pages than this stops there (bounded time)


def _frames(im: Any, size: tuple[int, int]) -> int:
    """How many images of the first one's `size` a file holds: pages of a TIFF stack, frames of a GIF or WebP.
    A TIFF's smaller pages (previews, thumbnails) are not counted, nor a JPEG's. Headers only; never fails (1)."""
    try:
        if im.format not in ("TIFF", "GIF", "WEBP"):  # a camera JPEG's MPF previews (Pillow's "MPO") are not images of its own
            return 1
        n = min(int(getattr(im, "n_frames", 1)), MAX_FRAMES_COUNTED)
        if n <= 1 or im.format != "TIFF":
            return max(n, 1)
        return _tiff_walk(im, size, n)[0]
    except Exception:
        return 1


def _tiff_walk(im: Any, size: tuple[int, int], n: int) -> tuple[int, int]:
    """(pages of `size`, pages of other sizes that the NewSubfileType tag does not mark as reduced-resolution
    versions: previews, thumbnails) among a TIFF's first `n`, from their headers."""
    same = others = 0
    for k in range(n):
        im.seek(k)
        if (int(im.width), int(im.height)) == size:
            same += 1
        else:
            others += not int(im.tag_v2.get(254, 0)) & 1
    return same, others


def check_pixels(path: str | Path, width: int, height: int, limit: int | None = None) -> None:
    """Refuses an image of more than the pixel limit, in one line."""
    cap = max_pixels(limit)
    if width * height > cap:
        raise DaekitError(f"image {path} is {width}x{height} pixels, over the limit of {cap:,} pixels "
                          "(raise it with --max-pixels or DAEKIT_MAX_PIXELS if this is intended)")


@dataclass
class ImageInfo:
    """What is needed to write a result like its input: bit depth, an alpha channel and the photo metadata to carry over."""

    dtype: np.dtype
    alpha: np.ndarray | None = None  # (H, W) in the file's own dtype
    exif: bytes | None = None  # the EXIF block, b"Exif\0\0" + TIFF-structured tags
    icc: bytes | None = None  # the ICC colour profile
    value_range: tuple[float, float] | None = None  # a float image's own (min, max) where it was outside [0, 1]
    white: int | None = None  # a 16-bit image's top value where it uses fewer bits (12-bit camera data: 4095)

    def to_file_values(self, arr: np.ndarray) -> np.ndarray:
        """[0, 1] values back to the file's own range (images that were rescaled on reading), still as floats
        that ``from_float`` turns into the file's type."""
        if self.white is not None and self.dtype == np.uint16:
            return arr * np.float32(self.white / 65535.0)
        if self.value_range is None or self.dtype != np.float32:
            return arr
        lo, hi = self.value_range
        return (arr.astype(np.float64) * (hi - lo) + lo).astype(np.float32)

    @property
    def orientation(self) -> int | None:
        """The EXIF orientation (1..8), if any."""
        if not self.exif:
            return None
        from PIL import Image

        ex = Image.Exif()
        ex.load(self.exif)
        value = ex.get(274)
        return int(value) if isinstance(value, int) and 1 <= value <= 8 else None


def has_alpha(path: str | Path) -> bool:
    """Whether an image file carries transparency (an alpha channel, or a palette's), from its header; False where
    the header is unreadable."""
    try:
        return bool(_from_header(path, lambda im: "A" in im.getbands() or "transparency" in im.info))
    except Exception:
        return False


WITHOUT_ALPHA = {".jpg", ".jpeg", ".bmp"}  # written without an alpha channel (8-bit colour or gray only)


def read_metadata(path: str | Path) -> tuple[bytes | None, bytes | None]:
    """(EXIF block, ICC profile) of an image file, from its header only; (None, None) where it has none."""
    header = _header(path)
    return header.exif, header.icc


def _metadata(im: Any) -> tuple[bytes | None, bytes | None]:
    """(EXIF, ICC) of an image Pillow has opened.

    A TIFF's tags describe its own layout (strips, sizes): only its camera, software and date tags are
    carried, rebuilt as a plain EXIF block, and not its orientation: OpenCV's TIFF decoder has already
    turned the pixels upright (it does not for JPEG and PNG, whose orientation is carried as it is).
    """
    from PIL import Image

    icc = im.info.get("icc_profile") or None
    exif = im.getexif()
    if im.format == "TIFF":
        keep = Image.Exif()
        for tag in (271, 272, 305, 306):  # make, model, software, date
            if tag in exif:
                keep[tag] = exif[tag]
        exif = keep
    return (exif.tobytes() if len(exif) else None), (bytes(icc) if icc else None)


def read_image(path: str | Path, max_pixels: int | None = None) -> tuple[np.ndarray, ImageInfo]:
    """Reads an image file into a float32 (H, W, C) array in [0, 1], C = 1 (gray) or 3 (RGB).

    Palette images are expanded to RGB; an alpha channel is returned in ``ImageInfo`` (kept, not
    denoised); CMYK JPEGs are converted to RGB by the decoder. A float image (32-bit TIFF) whose
    values leave [0, 1] (e.g. raw microscope counts) is scaled by its own min and max; ``ImageInfo``
    keeps them, and a float output is written back in the file's own range.

    Raises:
        DaekitError: missing, empty, truncated, unsupported or oversized file (see ``max_pixels``).
    """
    img, info = decode_image(path, max_pixels, metadata=True)
    return _as_unit(path, img, info)


def white_of(img: np.ndarray) -> int | None:
    """For 16-bit pixels that use fewer bits (10-, 12-, 14-bit data), the top value of their bit depth,
    2**bits - 1 (at least 255), that reads as 1.0; None for other images (see ``_as_unit``)."""
    if img.dtype != np.uint16:
        return None
    bits = max(8, int(img.max(initial=0)).bit_length())
    return (1 << bits) - 1 if bits < 16 else None


def _as_unit(path: str | Path, img: np.ndarray, info: ImageInfo) -> tuple[np.ndarray, ImageInfo]:
    """File pixels -> float32 in [0, 1] (``read_image``); NaN refused; a float image's own range kept in `info`.

    A 16-bit image whose values use fewer bits (a microscope's or a camera's 10-, 12- or 14-bit data in a
    16-bit file) is scaled by its bit depth, 2**bits - 1 (at least 8 bits), not by 65535: at 1/16 of the range
    a model trained on photos sees a near-black image and returns a gray haze (measured: a 12-bit W2S frame
    came out at 10.9 dB from 17.8). `info.white` keeps the scale, and the result is written back in it."""
    info.white = white_of(img)
    if info.white is not None:
        return img.astype(np.float32) / np.float32(info.white), info
    arr = to_float(img)
    if not np.isfinite(arr).all():
        raise DaekitError(f"image {path} contains NaN or infinite values")
    if img.dtype == np.float32:
        arr, info.value_range = unit_range(arr)
    return arr, info


GRAY_TOLERANCE = 2.5 / 255  # channels this close everywhere are one gray image (a decoder's rounding of +-1, not colour)


def gray_tone(img: np.ndarray, rows: int = 256) -> tuple[np.ndarray, np.ndarray] | None:
    """For an (H, W, 3) float image that is one gray image in three channels, each channel a gain and an offset
    of it (a black-and-white photo saved as RGB: gains 1, offsets 0; a toned one, sepia or cyanotype: others),
    the per-channel (gains, offsets) against the channels' mean, such that every channel lies within
    ``GRAY_TOLERANCE`` of ``gain * mean + offset`` at every pixel; None for a colour image.

    Such noise is the same in all three channels, up to the gains, and colour models take it for detail and
    leave it in place (measured, bench/gray_rgb.py: photo-real turns gray sigma-15 noise from 24.9 into 25.4 dB
    where photo-gray reaches 31.2), so the gray model cleans it. The fit is made and checked on every 16th band
    of `rows` first, so a colour photo costs a fraction of one pass.
    """
    if img.ndim != 3 or img.shape[2] != 3 or img.shape[0] == 0:
        return None

    # the channels' mean by ``channel_mean`` (not numpy's slow reduction of a 3-long axis) and the check in float32
    # (its rounding, ~1e-7, is far below GRAY_TOLERANCE): a 12 MP photo 1.48 -> 0.70 s, the same gains
    def fit(starts: list[int]) -> tuple[np.ndarray, np.ndarray]:  # least squares of channel = gain * mean + offset
        sums, rhs = np.zeros((2, 2)), np.zeros((2, 3))
        for y0 in starts:
            band = np.asarray(img[y0 : y0 + rows], dtype=np.float64).reshape(-1, 3)
            m = channel_mean(band)[:, 0]
            sums += [[m @ m, m.sum()], [m.sum(), len(m)]]
            rhs += np.stack([m @ band, band.sum(axis=0)])
        gains, offsets = np.linalg.lstsq(sums, rhs, rcond=None)[0]  # an all-flat image: gains 0, offsets its colour
        return gains, offsets

    def fits(starts: list[int], gains: np.ndarray, offsets: np.ndarray) -> bool:
        g, o = gains.astype(np.float32), offsets.astype(np.float32)
        for y0 in starts:
            band = np.asarray(img[y0 : y0 + rows], dtype=np.float32)
            if np.abs(band - (channel_mean(band) * g + o)).max(initial=0.0) > GRAY_TOLERANCE:
                return False
        return True

    every = list(range(0, img.shape[0], rows))
    if not fits(every[::16], *fit(every[::16])):  # a sample first: a colour photo stops here
        return None
    gains, offsets = fit(every)
    return (gains.astype(np.float32), offsets.astype(np.float32)) if fits(every, gains, offsets) else None


def looks_gray(img: np.ndarray) -> bool:
    """Whether an (H, W, C) float image is gray: one channel, or three that are one gray image (``gray_tone``)."""
    if img.ndim == 3 and img.shape[2] == 1:
        return True
    return gray_tone(img) is not None


def unit_range(arr: np.ndarray) -> tuple[np.ndarray, tuple[float, float] | None]:
    """Float values outside [0, 1] scaled into it by their own (min, max), returned too; else as they are."""
    lo, hi = float(arr.min(initial=0.0)), float(arr.max(initial=0.0))
    if lo >= 0.0 and hi <= 1.0:
        return arr, None
    lo, hi = min(lo, 0.0), hi if hi > lo else lo + 1.0
    return ((arr.astype(np.float64) - lo) / (hi - lo)).astype(np.float32), (lo, hi)


def decode_image(path: str | Path, max_pixels: int | None = None, metadata: bool = False) -> tuple[np.ndarray, ImageInfo]:
    """Like ``read_image`` but keeps the file's own pixel type: (H, W, C) uint8, uint16 or float32;
    the EXIF and ICC profile only with `metadata` (the header is opened once for both)."""
    path = Path(path)
    if not path.is_file():
        raise DaekitError(f"input image not found: {path}")
    if path.stat().st_size == 0:
        raise DaekitError(f"input image is an empty file: {path}")
    with open(path, "rb") as f:
        kind = container_kind(f.read(32))
    if kind == "HEIC/HEIF":
        _heif_opener(path)  # Pillow then reads its header, EXIF and ICC profile like any other
    size, exif, icc, frames, mode = _header(path, with_metadata=metadata)
    if size is not None:  # from the header, before a byte of pixels is decoded
        check_pixels(path, *size, limit=max_pixels)
    if frames > 1:  # the decoder would take the first and drop the others without a word
        raise DaekitError(f"{path} holds {frames}{'+' if frames >= MAX_FRAMES_COUNTED else ''} images (pages or frames of "
                          f"{size[0]}x{size[1]}); daekit reads one image per file: save each as its own file first")
    img, alpha = _split_alpha(path, _decode_heif(path) if kind == "HEIC/HEIF" else _decode_opencv(path, kind, mode))
    if size is None:  # a header Pillow could not read: the decoded size is held to the same limit
        check_pixels(path, img.shape[1], img.shape[0], limit=max_pixels)
    return img, ImageInfo(dtype=img.dtype, alpha=alpha, exif=exif, icc=_profile_for(icc, img.shape[2]))


def _decode_opencv(path: Path, kind: str | None, mode: str | None) -> np.ndarray:
    """The pixels of a file OpenCV reads, as RGB(A) (OpenCV's channel order turned round). `mode` is Pillow's pixel
    mode from the header (a CMYK file: OpenCV's stand-in alpha dropped, its own error) and `kind` what
    ``container_kind`` named the file (named in the error when OpenCV cannot read it)."""
    raw = np.fromfile(str(path), dtype=np.uint8)
    try:
        img = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED)
    except cv2.error:
        img = None
    if img is None:
        if mode == "CMYK":  # OpenCV reads 8-bit CMYK JPEG and TIFF only (not 16-bit, nor with an alpha)
            raise DaekitError(f"cannot decode image {path}: this CMYK (print) image is not read; save it as RGB first "
                              "(JPEG, PNG or TIFF: any photo editor can)")
        if kind:
            raise DaekitError(f"cannot decode image {path}: {kind} is not read; save the photo as JPEG or PNG first "
                              "(a phone's camera settings or any photo viewer can)")
        raise DaekitError(f"cannot decode image {path}: unsupported format, truncated or corrupt file")
    if mode == "CMYK" and img.ndim == 3 and img.shape[2] == 4:  # OpenCV gives a CMYK TIFF as RGB and an opaque alpha
        img = img[..., :3]
    if img.ndim == 3 and img.shape[2] in (3, 4):
        img = np.concatenate([img[..., 2::-1], img[..., 3:]], axis=2)  # OpenCV's BGR(A) -> RGB(A)
    return img


def _profile_for(icc: bytes | None, channels: int) -> bytes | None:
    """The ICC profile if it describes pixels of `channels` (an RGB profile for 3, a gray one for 1), else None.

    A CMYK photo (a print-ready TIFF or JPEG) is decoded to RGB, and its CMYK profile written on the RGB result
    would be wrong for it (PNG forbids it; viewers ignore or misread it): the result is written untagged (sRGB)."""
    space = icc[16:20] if icc and len(icc) >= 128 else None  # the profile header's data colour space
    return icc if space == (b"RGB " if channels == 3 else b"GRAY") else None


def _heif_opener(path: str | Path) -> None:
    """Registers pillow-heif's HEIC decoder with Pillow, once; without it, one line on how to get it."""
    try:
        import pillow_heif
    except ImportError:
        raise DaekitError(f"cannot decode image {path}: HEIC/HEIF (the iPhone's default photo format) needs pillow-heif: "
                          "pip install 'daekit[heic]', or save the photo as JPEG or PNG first") from None
    with _PIL_LOCK:
        pillow_heif.register_heif_opener()


def _decode_heif(path: str | Path) -> np.ndarray:
    """A HEIC/HEIF photo's primary image as (H, W, 3) uint8 RGB (RGBA with alpha), upright: pillow-heif applies the
    file's rotation and mirroring and sets the EXIF orientation it returns to 1, so the pixels and the EXIF
    written back agree."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGBA" if "A" in im.mode else "RGB"))
    except Exception:
        raise DaekitError(f"cannot decode image {path}: truncated or corrupt HEIC/HEIF file") from None


def container_kind(head: bytes) -> str | None:
    """"HEIC" / "AVIF" for the first bytes of an ISO-media image file (an 'ftyp' box of those brands), else None."""
    if len(head) < 12 or head[4:8] != b"ftyp":
        return None
    brand = head[8:12]
    if brand in (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"):
        return "HEIC/HEIF"
    return "AVIF" if brand in (b"avif", b"avis") else None


def _split_alpha(path: str | Path, img: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Decoded RGB(A) or gray pixels -> ((H, W, 1 or 3) pixels, the alpha channel or None); an unsupported
    pixel type or channel count is refused in one line."""
    if img.dtype not in (np.uint8, np.uint16, np.float32):
        raise DaekitError(f"image {path} has unsupported pixel type {img.dtype}")
    alpha = None
    if img.ndim == 3 and img.shape[2] == 4:
        alpha, img = img[..., 3].copy(), img[..., :3]
    if img.ndim == 2:
        img = img[..., None]
    elif not (img.ndim == 3 and img.shape[2] in (1, 3)):
        raise DaekitError(f"image {path} has {img.shape[-1] if img.ndim == 3 else img.shape} channels; expected gray, RGB or RGBA")
    return np.ascontiguousarray(img), alpha


def tiff_pages(path: str | Path) -> tuple[int, int]:
    """(``image_count``, pages of other sizes not marked as previews) of a TIFF, in one walk of its headers (at
    most MAX_FRAMES_COUNTED pages); (1, 0) for other files and unreadable headers."""

    def walk(im: Any) -> tuple[int, int]:
        if im.format != "TIFF":
            return 1, 0
        n = min(int(getattr(im, "n_frames", 1)), MAX_FRAMES_COUNTED)
        same, others = _tiff_walk(im, (int(im.width), int(im.height)), n)
        return max(same, 1), others

    try:
        return _from_header(path, walk)
    except Exception:
        return 1, 0


def image_count(path: str | Path) -> int:
    """How many images of one size a file holds, from its header: the pages of a TIFF stack (a microscope's
    time series or z-stack), the frames of a GIF or WebP; 1 for most files (and for any the header reader does not know)."""
    return _header(path, with_metadata=False).frames


def read_tiff_stack(path: str | Path, max_pixels: int | None = None) -> Iterator[tuple[np.ndarray, ImageInfo]]:
    """The pages of a TIFF stack of one size (smaller previews left out), one at a time, each as ``read_image``
    gives an image: float32 (H, W, C) in [0, 1] and what it takes to write it back like the page."""
    import tifffile

    path = Path(path)
    try:
        tif = tifffile.TiffFile(path)
    except Exception:
        raise DaekitError(f"cannot decode image {path}: unsupported format, truncated or corrupt file") from None
    with tif:
        first = tif.pages[0]
        pages = [p for p in tif.pages if p.shape == first.shape]
        for k, page in enumerate(pages):
            check_pixels(path, int(page.imagewidth), int(page.imagelength), limit=max_pixels)
            try:
                img = page.asarray()
            except Exception:
                raise DaekitError(f"cannot decode page {k + 1} of {path}: truncated or corrupt file") from None
            if img.ndim == 3 and int(page.planarconfig) == 2:  # planes stored apart: (C, H, W)
                img = np.moveaxis(img, 0, -1)
            img, alpha = _split_alpha(f"{path}, page {k + 1}", img)
            yield _as_unit(f"{path}, page {k + 1}", img, ImageInfo(dtype=img.dtype, alpha=alpha))


def write_tiff_stack(path: str | Path, pages: Iterable[tuple[np.ndarray, ImageInfo]]) -> int:
    """Writes float (H, W, C) images in [0, 1] as the pages of one TIFF, each with the bit depth, value range
    and alpha of its ``ImageInfo``, atomically (a failure in any page leaves `path` as it was); returns the
    number of pages."""
    import tifffile

    n = 0
    with atomic_path(path) as tmp, tifffile.TiffWriter(tmp) as tif:
        for arr, info in pages:
            out = from_float(info.to_file_values(arr), info.dtype)
            out = _with_alpha(out[..., 0] if out.shape[2] == 1 else out, info.alpha, info.dtype)
            tif.write(out, metadata=None, **_tiff_layout(out))
            n += 1
    return n


def to_float(img: np.ndarray) -> np.ndarray:
    """uint8 / uint16 / float image -> float32 in [0, 1] (floats are taken as already scaled)."""
    if img.dtype == np.uint8:
        return img.astype(np.float32) / 255.0
    if img.dtype == np.uint16:
        return img.astype(np.float32) / 65535.0
    return np.ascontiguousarray(img, dtype=np.float32)


def from_float(arr: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Float image in [0, 1] -> `dtype` (uint8/uint16 rounded and clipped; float32 kept)."""
    dtype = np.dtype(dtype)
    if dtype == np.uint8:
        return (np.clip(arr, 0, 1) * 255.0 + 0.5).astype(np.uint8)
    if dtype == np.uint16:
        return (np.clip(arr, 0, 1) * 65535.0 + 0.5).astype(np.uint16)
    return arr.astype(np.float32)


def write_image(path: str | Path, arr: np.ndarray, info: ImageInfo | None = None) -> None:
    """Writes a float (H, W, C) image in [0, 1] with the bit depth (and alpha) of `info`, atomically.

    JPEG and BMP hold 8 bits only: 16-bit data are written as 8-bit there; nor do they hold alpha: an image with
    transparency is flattened onto white there, as photo editors export it (the colours under transparent pixels
    are no part of the picture and often black or leftovers).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise DaekitError(f"cannot write {path}: unknown image type {suffix!r} (use {', '.join(sorted(IMAGE_SUFFIXES))})")
    dtype = np.dtype(info.dtype if info else np.uint8)
    if suffix in WITHOUT_ALPHA or (dtype == np.float32 and suffix == ".png"):  # 8-bit formats
        dtype = np.dtype(np.uint8)
    if info is not None and info.alpha is not None and suffix in WITHOUT_ALPHA:
        opacity = np.clip(np.nan_to_num(to_float(info.alpha), nan=1.0), 0, 1)[..., None]  # a float alpha may leave [0, 1]
        arr = arr * opacity + (1 - opacity)
    out = from_float(info.to_file_values(arr) if info is not None and dtype == info.dtype else arr, dtype)
    if out.ndim == 3 and out.shape[2] == 3:
        out = out[..., ::-1]  # RGB -> BGR for OpenCV
    if out.ndim == 3 and out.shape[2] == 1:
        out = out[..., 0]
    if info is not None and suffix in (".png", ".tif", ".tiff"):
        out = _with_alpha(out, info.alpha, dtype)
    exif, icc = (info.exif, info.icc) if info is not None else (None, None)
    if suffix in (".tif", ".tiff") and (exif or icc):
        rgb = out if out.ndim == 2 else np.concatenate([out[..., 2::-1], out[..., 3:]], axis=2)  # BGR(A) -> RGB(A)
        atomic_write_bytes(path, _tiff_bytes(np.ascontiguousarray(rgb), info))
        return
    ok, buf = cv2.imencode(suffix, np.ascontiguousarray(out))
    if not ok:
        raise DaekitError(f"could not encode {path}")
    data = buf.tobytes()
    if suffix in (".jpg", ".jpeg"):
        data = _jpeg_with_metadata(data, exif, icc)
    elif suffix == ".png":
        data = _png_with_metadata(data, exif, icc)
    atomic_write_bytes(path, data)


def _jpeg_with_metadata(data: bytes, exif: bytes | None, icc: bytes | None) -> bytes:
    """JPEG bytes with an APP1 EXIF segment and APP2 ICC_PROFILE segments inserted after SOI."""
    segments = []
    if exif and len(exif) <= 65533:  # one APP1 segment holds it (larger blocks are dropped, as most tools do)
        segments.append(b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif)
    if icc:
        chunk = 65519  # 65535 - 2 (length) - 12 ("ICC_PROFILE\0") - 2 (sequence number, count)
        parts = [icc[i : i + chunk] for i in range(0, len(icc), chunk)]
        if len(parts) <= 255:
            for k, part in enumerate(parts, 1):
                body = b"ICC_PROFILE\0" + bytes([k, len(parts)]) + part
                segments.append(b"\xff\xe2" + struct.pack(">H", len(body) + 2) + body)
    return data[:2] + b"".join(segments) + data[2:] if segments else data


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _png_with_metadata(data: bytes, exif: bytes | None, icc: bytes | None) -> bytes:
    """PNG bytes with iCCP and eXIf chunks inserted after IHDR (both must precede the image data)."""
    chunks = b""
    if icc:
        chunks += _png_chunk(b"iCCP", b"ICC profile\0\0" + zlib.compress(icc))
    if exif:
        chunks += _png_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\0\0") else exif)
    end_of_ihdr = 8 + 8 + 13 + 4
    return data[:end_of_ihdr] + chunks + data[end_of_ihdr:] if chunks else data


def _tiff_bytes(out: np.ndarray, info: ImageInfo) -> bytes:
    """A TIFF (RGB order, gray 2-D, or with alpha last) carrying the orientation and ICC profile tags."""
    import tifffile

    tags = []
    if info.orientation:
        tags.append((274, "H", 1, info.orientation, True))
    if info.icc:
        tags.append((34675, "B", len(info.icc), info.icc, True))
    buf = io.BytesIO()
    tifffile.imwrite(buf, out, extratags=tags, metadata=None, **_tiff_layout(out))
    return buf.getvalue()


def _tiff_layout(out: np.ndarray) -> dict[str, Any]:
    """tifffile's photometric and extra-sample options for pixels gray 2-D, RGB, or either with alpha last."""
    color = out.ndim == 3 and out.shape[2] >= 3
    extra = {"extrasamples": [2]} if out.ndim == 3 and out.shape[2] in (2, 4) else {}  # 2: unassociated alpha
    return {"photometric": "rgb" if color else "minisblack", **extra}


def _with_alpha(out: np.ndarray, alpha: np.ndarray | None, dtype: np.dtype) -> np.ndarray:
    """File pixels (2-D gray or (H, W, 3)) with `alpha` (the file's own values, kept untouched) added last in
    `dtype`; gray becomes RGB(A), as PNG and TIFF writers take it. As they are without alpha."""
    if alpha is None:
        return out
    base = out if out.ndim == 3 else np.repeat(out[..., None], 3, axis=2)
    return np.dstack([base, from_float(to_float(alpha), dtype)])


# image types people may name as an output that daekit does not write (it would otherwise make a folder of that name)
OTHER_IMAGE_SUFFIXES = {".webp", ".gif", ".heic", ".heif", ".avif", ".jxl", ".jp2", ".exr", ".ppm", ".pgm", ".pnm",
                        ".tga", ".ico", ".dng", ".raw", ".svg", ".pdf"}


def plan_outputs(inputs: list[str | Path], output: str | Path, overwrite: bool = False) -> tuple[list[tuple[Path, Path]], bool]:
    """(input, output) pairs for denoising `inputs` (files and folders) into `output`, and whether
    `output` names a single file. Refused, in one line, before any work: an output that would replace an
    input, an existing output without `overwrite`, two inputs landing on one output, one output file for
    several inputs, an output type daekit does not write."""
    files = find_images(inputs)
    out = Path(output)
    if out.suffix.lower() in OTHER_IMAGE_SUFFIXES and not out.is_dir():
        raise DaekitError(f"cannot write {out.suffix} images; name a .png, .jpg, .tif or .bmp file, or a folder")
    single = len(files) == 1 and out.suffix.lower() in IMAGE_SUFFIXES and not out.is_dir()
    if len(files) > 1 and out.suffix.lower() in IMAGE_SUFFIXES:
        raise DaekitError(f"{len(files)} inputs but -o {out} names one file; give a folder")
    targets = [out] if single else [output_name(out / _relative(f, inputs)) for f in files]
    seen: dict[Path, Path] = {}
    for f, t in zip(files, targets):  # two inputs of one name must not land on one output (the first would be lost)
        if t.resolve() in seen:
            raise DaekitError(f"{seen[t.resolve()]} and {f} would both be written to {t}; denoise them into separate folders")
        seen[t.resolve()] = f
    sources = {f.resolve() for f in files}
    for t in targets:
        if t.resolve() in sources:
            raise DaekitError(f"output {t} would overwrite an input; choose another -o")
        if t.exists() and not overwrite:
            raise DaekitError(f"output {t} exists; pass --overwrite (in Python: overwrite=True) to replace it")
    return list(zip(files, targets)), single


def output_name(path: Path) -> Path:
    """The name a cleaned image is written under: the input's, but a HEIC photo's as JPEG and a WebP image's as PNG
    (daekit writes neither type), as is any other file named on the command line that OpenCV decodes (a .ppm, a
    one-frame .gif): its suffix replaced where it is an image type's, else ".png" added (a file without one, a
    "photo.jpg.bak"). So every output is of a type daekit writes, known before any work is done."""
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return path
    if suffix in WRITTEN_AS or suffix in OTHER_IMAGE_SUFFIXES:
        return path.with_suffix(WRITTEN_AS.get(suffix, ".png"))
    return path.with_name(path.name + ".png")


def _relative(f: Path, inputs: list[str | Path]) -> Path:
    """`f`'s path relative to the input folder it was found in (just its name for a file input)."""
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            try:
                return f.relative_to(p)
            except ValueError:
                continue
    return Path(f.name)


def find_images(inputs: str | Path | list[str | Path]) -> list[Path]:
    """Expands files and folders (searched recursively) into a sorted list of image files."""
    if isinstance(inputs, (str, Path)):  # one path, not a sequence of characters
        inputs = [inputs]
    found: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES | READ_ONLY_SUFFIXES)
        elif p.exists():
            found.append(p)
        else:
            raise DaekitError(f"input not found: {p}")
    if not found:
        raise DaekitError(f"no images found in {', '.join(map(str, inputs))}{_skipped(inputs)}")
    return found


def _skipped(inputs: list[str | Path], limit: int = 100_000) -> str:
    """What a folder search passed over that looks like images of a type daekit does not read, for the error."""
    kinds: dict[str, int] = {}
    for item in inputs:
        if Path(item).is_dir():
            for k, f in enumerate(Path(item).rglob("*")):
                if k >= limit:  # a huge tree: the error comes in bounded time
                    break
                suffix = f.suffix.lower()
                if suffix in OTHER_IMAGE_SUFFIXES and suffix not in READ_ONLY_SUFFIXES and f.is_file():
                    kinds[suffix] = kinds.get(suffix, 0) + 1
    if not kinds:
        return ""
    passed = ", ".join(f"{n} {suffix}" for suffix, n in sorted(kinds.items()))
    return f" (passed over: {passed}; daekit reads PNG, JPEG, TIFF, BMP, WebP and HEIC: save those as PNG or JPEG first)"
