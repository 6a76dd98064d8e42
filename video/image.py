"""Still image file I/O: load any common format as float RGB in [0, 1], save atomically, convert dtypes."""
from __future__ import annotations

import logging
import os

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from atomic import atomic_open
from errors import UserError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
_FORMATS_HINT = "pass a .jpg/.png/.bmp/.tiff/.webp file"
_EXIF_ORIENTATION = 0x0112


def unreadable_file_reason(path: str) -> str | None:
    """Why a media file cannot be decoded, when that shows in its first bytes: empty, or text; else None."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError as err:
        return err.strerror or "it cannot be opened"
    if not head:
        return "the file is empty (0 bytes)"
    if b"\0" not in head and sum(32 <= b < 127 or b in b"\t\n\r" for b in head) > 0.9 * len(head):
        return "it is a text file"
    return None


def to_uint8(frame) -> np.ndarray:
    """uint8 as is; float in [0, 1] (clipped) to 0..255 rounded; 16-bit to 8-bit rounded."""
    a = np.asarray(frame)
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.uint16:
        return ((a.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * 255
    if np.issubdtype(a.dtype, np.floating):
        return np.rint(np.clip(a, 0.0, 1.0) * 255.0).astype(np.uint8)
    raise TypeError(f"cannot convert a {a.dtype} image to uint8; pass uint8, uint16 or float in [0, 1]")


def to_float(frame) -> np.ndarray:
    """float32 in [0, 1]: uint8 / 255, uint16 / 65535; float input is cast to float32 unchanged."""
    a = np.asarray(frame)
    if a.dtype == np.uint8:
        return a.astype(np.float32) / np.float32(255.0)
    if a.dtype == np.uint16:
        return a.astype(np.float32) / np.float32(65535.0)
    if a.dtype == np.bool_:
        return a.astype(np.float32)
    if np.issubdtype(a.dtype, np.floating):
        return a.astype(np.float32, copy=False)
    raise TypeError(f"cannot convert a {a.dtype} image to float; pass uint8, uint16 or float")


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Turn an HxW(xC) array upright for an EXIF orientation value (1..8), exactly as Pillow's
    ImageOps.exif_transpose turns an image: Pillow transposes an image of pixel indices, then the pixels are
    gathered (so any dtype and channel count works, e.g. 16-bit colour read through OpenCV)."""
    if orientation not in range(2, 9):
        return image
    h, w = image.shape[:2]
    index = Image.fromarray(np.arange(h * w, dtype=np.int32).reshape(h, w))
    index.getexif()[_EXIF_ORIENTATION] = orientation
    index = np.asarray(ImageOps.exif_transpose(index))
    return np.ascontiguousarray(image.reshape(h * w, *image.shape[2:])[index])


def _composite_over_white(color: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return color * alpha + (1.0 - alpha)


def _deep_color(im: Image.Image) -> bool:
    """Pillow opens 16-bit-per-channel RGB(A) as 8-bit: tell from the decoder's raw mode."""
    for tile in getattr(im, "tile", None) or []:
        args = tile.args if hasattr(tile, "args") else tile[3]
        raw = args[0] if isinstance(args, tuple) else args
        if isinstance(raw, str) and raw.startswith(("RGB;16", "RGBA;16", "RGBX;16")):
            return True
    return False


def _read_deep_color(path: str) -> np.ndarray:
    """16-bit RGB(A) PNG/TIFF through OpenCV, as RGB(A) uint16."""
    import cv2  # only needed for this rare case

    a = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if a is None or a.ndim != 3:
        raise OSError("OpenCV could not decode the 16-bit image")
    return a[..., [2, 1, 0, 3]] if a.shape[2] == 4 else a[..., ::-1]


def _pillow_float(im: Image.Image) -> np.ndarray:
    """Any Pillow mode to float32 HxWxC in [0, 1] with C in {1, 2, 3, 4} (gray, gray+alpha, RGB, RGBA)."""
    mode = im.mode
    if mode in ("P", "PA"):
        im = im.convert("RGBA" if "transparency" in im.info or mode == "PA" else "RGB")
    elif mode == "1":
        im = im.convert("L")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        im = im.convert("RGB")
    elif mode == "RGBa":
        im = im.convert("RGBA")
    elif mode == "La":
        im = im.convert("LA")
    a = np.asarray(im)
    if im.mode.startswith("I;16"):
        return (a.astype(np.float32) / 65535.0)[..., None]
    if im.mode == "I":  # 32-bit integer: in practice 16-bit data (PNG/TIFF grayscale)
        return (np.clip(a, 0, 65535).astype(np.float32) / 65535.0)[..., None]
    if im.mode == "F":
        return np.clip(a, 0.0, 1.0).astype(np.float32)[..., None]
    a = to_float(a)
    return a[..., None] if a.ndim == 2 else a


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Image file -> float32 HxWx3 RGB in [0, 1]: EXIF orientation applied, alpha composited over white."""
    p = os.fspath(path)
    if os.path.isdir(p):
        raise UserError(f"cannot read image {p}: it is a folder, not a file; {_FORMATS_HINT}")
    if not os.path.isfile(p):
        raise UserError(f"image file not found: {p}; check the path")
    try:
        with Image.open(p) as im:
            deep = _deep_color(im)  # before getexif(): reading EXIF may decode and drop the tile list
            frames = getattr(im, "n_frames", 1)
            if frames > 1:  # an animated GIF/PNG/WebP: say which frame is used, in one line
                log.warning("warning: image %s is animated (%d frames); using its first frame", p, frames)
            orientation = im.getexif().get(_EXIF_ORIENTATION, 1)
            a = to_float(_read_deep_color(p)) if deep else _pillow_float(im)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        reason = unreadable_file_reason(p) or (str(e).splitlines()[0] if str(e) else type(e).__name__)
        raise UserError(f"cannot read image {p}: {reason}; {_FORMATS_HINT}") from None
    channels = a.shape[2]
    if channels in (2, 4):
        a = _composite_over_white(a[..., :-1], a[..., -1:])
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    a = apply_orientation(a, orientation)
    return np.ascontiguousarray(a, dtype=np.float32)


def save_image(path: str | os.PathLike, image) -> None:
    """Write an HxWx3 (or HxW) uint8 or float [0, 1] image; format from the extension; atomic replace."""
    p = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(p))
    if not os.path.isdir(folder):
        raise UserError(f"output folder {folder} does not exist; create it or choose another path")
    ext = os.path.splitext(p)[1].lower()
    fmt = Image.registered_extensions().get(ext)
    if fmt is None:
        raise UserError(f"cannot save image {p}: unknown extension {ext!r}; use one of "
                        f"{'/'.join(IMAGE_EXTENSIONS)}")
    a = to_uint8(image)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise ValueError(f"image must be HxW, HxWx1, HxWx3 or HxWx4, got shape {a.shape}")
    if fmt == "JPEG" and a.ndim == 3 and a.shape[2] == 4:
        a = a[..., :3]
    options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    with atomic_open(p, "wb") as f:
        Image.fromarray(np.ascontiguousarray(a)).save(f, format=fmt, **options)
