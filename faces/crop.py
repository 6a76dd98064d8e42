"""Box arithmetic and face crops: expand a box, IoU, resize, crop-and-resize, and paste a face back into its frame."""
from __future__ import annotations

import cv2
import numpy as np

from faces.base import Box


def expand_box(box: Box, scale: float, image_shape: tuple[int, ...], square: bool = True) -> Box:
    """Enlarge `box` by `scale` about its centre (square: both sides become the longer one), then shift it
    to lie inside an image of `image_shape` (H, W[, C]); a side longer than the image is cut to the image's
    (for a square box, to the shorter image side, so it stays square)."""
    height, width = int(image_shape[0]), int(image_shape[1])
    x0, y0, x1, y1 = (float(v) for v in box)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    w, h = (x1 - x0) * scale, (y1 - y0) * scale
    if square:
        w = h = min(max(w, h), width, height)
    else:
        w, h = min(w, width), min(h, height)
    left = min(max(cx - w / 2, 0.0), width - w)
    top = min(max(cy - h / 2, 0.0), height - h)
    return (left, top, left + w, top + h)


def iou(box_a: Box, box_b: Box) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes; 0 when either is empty."""
    ax0, ay0, ax1, ay1 = box_a
    bx0, by0, bx1, by1 = box_b
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    union = max(0.0, ax1 - ax0) * max(0.0, ay1 - ay0) + max(0.0, bx1 - bx0) * max(0.0, by1 - by0) - inter
    return float(inter / union) if union > 0 else 0.0


def pixel_box(box: Box) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = (int(round(float(v))) for v in box)
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


def resize_image(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """`image` at width x height: area averaging where it shrinks, bicubic where it grows (unchanged if equal)."""
    if image.shape[:2] == (height, width):
        return image
    shrinking = width < image.shape[1] or height < image.shape[0]
    return cv2.resize(image, (int(width), int(height)), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def crop_resize(image: np.ndarray, box: Box, size: int) -> np.ndarray:
    """The `box` region of `image` resized to size x size; where the box leaves the image, the border
    pixels are replicated (no black bars). A non-square box is stretched to the square."""
    height, width = image.shape[:2]
    x0, y0, x1, y1 = pixel_box(box)
    rows = np.clip(np.arange(y0, y1), 0, height - 1)
    cols = np.clip(np.arange(x0, x1), 0, width - 1)
    patch = image[rows[:, None], cols[None, :]]
    return resize_image(patch, int(size), int(size)).reshape((size, size) + image.shape[2:])


def feather_mask(height: int, width: int, feather: float) -> np.ndarray:
    """(height, width) float32 mask: 1 inside, ramping to 0 over `feather` x the shorter side at the edges."""
    ramp = max(1.0, feather * min(height, width))
    ys = np.minimum(np.arange(height) + 0.5, height - np.arange(height) - 0.5) / ramp
    xs = np.minimum(np.arange(width) + 0.5, width - np.arange(width) - 0.5) / ramp
    return np.clip(np.minimum(ys[:, None], xs[None, :]), 0.0, 1.0).astype(np.float32)


def paste_back(full_image: np.ndarray, face_image: np.ndarray, box: Box, feather: float = 0.1) -> np.ndarray:
    """A copy of `full_image` with `face_image` resized to `box` and blended in through a mask that is 1 in
    the middle and fades out over `feather` x the box side at its edges (feather=0: hard paste). Pixels
    outside the box are unchanged; parts of the box outside the image are dropped."""
    out = full_image.copy()
    height, width = full_image.shape[:2]
    x0, y0, x1, y1 = pixel_box(box)
    face = cv2.resize(np.ascontiguousarray(face_image), (x1 - x0, y1 - y0),
                      interpolation=cv2.INTER_AREA if face_image.shape[1] > x1 - x0 else cv2.INTER_CUBIC)
    face = face.reshape((y1 - y0, x1 - x0) + face_image.shape[2:])
    if feather > 0:
        mask = feather_mask(y1 - y0, x1 - x0, feather)
    else:
        mask = np.ones((y1 - y0, x1 - x0), np.float32)
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if cx0 >= cx1 or cy0 >= cy1:
        return out
    face = face[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0].astype(np.float32)
    mask = mask[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]
    if face.ndim == 3:
        mask = mask[:, :, None]
    region = out[cy0:cy1, cx0:cx1].astype(np.float32)
    blended = region * (1.0 - mask) + face * mask
    if np.issubdtype(out.dtype, np.integer):
        info = np.iinfo(out.dtype)
        blended = np.clip(np.rint(blended), info.min, info.max)
    out[cy0:cy1, cx0:cx1] = blended.astype(out.dtype)
    return out
