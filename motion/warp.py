"""Warping images along a flow field and the reliability masks that say where a warp can be trusted."""
from __future__ import annotations

import cv2
import numpy as np


def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return xs, ys


def check_flow(flow: np.ndarray, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """`flow` as a float32 HxWx2 array; ValueError when it is not one (or does not match `shape`'s HxW)."""
    flow = np.asarray(flow, dtype=np.float32)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"a flow field is HxWx2, got shape {flow.shape}")
    if shape is not None and tuple(shape[:2]) != flow.shape[:2]:
        raise ValueError(f"flow is {flow.shape[0]}x{flow.shape[1]} but the image is {shape[0]}x{shape[1]}")
    return flow


def warp(image: np.ndarray, flow: np.ndarray, border: str = "replicate") -> np.ndarray:
    """Bilinear backward warp: out(x) = image(x + flow(x)).

    With flow = flow_method(a, b) (a(x) ~ b(x + flow(x))), warp(b, flow) ~ a. `image` is HxW or HxWxC
    (any C); pixels that land outside are filled from the nearest edge ("replicate") or with 0
    ("zero"). Returns float32 of `image`'s shape.
    """
    image = np.asarray(image)
    flow = check_flow(flow, image.shape)
    src = image.astype(np.float32, copy=False)
    xs, ys = _grid(*flow.shape[:2])
    map_x = xs + flow[..., 0]
    map_y = ys + flow[..., 1]
    mode = {"replicate": cv2.BORDER_REPLICATE, "zero": cv2.BORDER_CONSTANT}[border]
    channels = src.shape[2] if src.ndim == 3 else 0
    if channels > 4:  # cv2.remap handles at most 4 channels at once
        return np.stack([warp(src[..., c], flow, border) for c in range(channels)], axis=2)
    out = cv2.remap(src, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=mode, borderValue=0)
    if src.ndim == 3 and out.ndim == 2:  # cv2 drops a single channel axis
        out = out[..., None]
    return out


def inside_mask(flow: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """HxW float32: 1 where x + flow(x) lands inside the image (at least `margin` px from its edge), else 0."""
    flow = check_flow(flow)
    h, w = flow.shape[:2]
    xs, ys = _grid(h, w)
    tx, ty = xs + flow[..., 0], ys + flow[..., 1]
    lo = margin - 0.5  # pixel centres are integers: the image covers [-0.5, size - 0.5]
    ok = (tx >= lo) & (tx <= w - 1 - lo) & (ty >= lo) & (ty <= h - 1 - lo)
    return ok.astype(np.float32)


def magnitude_weight(flow: np.ndarray, scale: float) -> np.ndarray:
    """HxW float32 in (0, 1]: 1 / (1 + (|flow| / scale)^2), down-weighting large motion (scale in px)."""
    flow = check_flow(flow)
    if not scale or scale <= 0:
        return np.ones(flow.shape[:2], np.float32)
    mag2 = (flow**2).sum(axis=2)
    return (1.0 / (1.0 + mag2 / float(scale) ** 2)).astype(np.float32)


def consistency_mask(flow_ab: np.ndarray, flow_ba: np.ndarray, alpha: float = 0.01, beta: float = 0.5,
                     magnitude_scale: float | None = None, soft: bool = True) -> np.ndarray:
    """Forward-backward consistency of a flow pair (Sundaram, Brox & Keutzer 2010), as HxW float32 in [0, 1].

    flow_ab maps a to b (a(x) ~ b(x + flow_ab(x))), flow_ba maps b to a. A pixel of a is consistent when
    going to b and back lands where it started:  |f_ab(x) + f_ba(x + f_ab(x))|^2 <= alpha (|f_ab|^2 +
    |f_ba(..)|^2) + beta  (beta in px^2). soft=True ramps from 1 at that bound to 0 at twice the bound
    (no hard seams); soft=False gives a 0/1 mask. Pixels whose match falls outside b get 0. With
    magnitude_scale (px), the mask is also multiplied by 1 / (1 + (|f_ab| / magnitude_scale)^2): large
    motion is where flow is least accurate.
    """
    flow_ab = check_flow(flow_ab)
    flow_ba = check_flow(flow_ba, flow_ab.shape)
    back = warp(flow_ba, flow_ab)
    round_trip = ((flow_ab + back) ** 2).sum(axis=2)
    bound = alpha * ((flow_ab**2).sum(axis=2) + (back**2).sum(axis=2)) + beta
    ratio = round_trip / bound
    mask = np.clip(2.0 - ratio, 0.0, 1.0) if soft else (ratio <= 1.0).astype(np.float32)
    mask = mask.astype(np.float32) * inside_mask(flow_ab)
    if magnitude_scale:
        mask *= magnitude_weight(flow_ab, magnitude_scale)
    return mask


def blend(current: np.ndarray, warped: np.ndarray, weight) -> np.ndarray:
    """Per-pixel mix (1 - weight) * current + weight * warped; weight is a scalar or HxW in [0, 1]."""
    current = np.asarray(current, dtype=np.float32)
    warped = np.asarray(warped, dtype=np.float32)
    if current.shape != warped.shape:
        raise ValueError(f"cannot blend a {warped.shape} image into a {current.shape} one")
    w = np.clip(np.asarray(weight, dtype=np.float32), 0.0, 1.0)
    if w.ndim == 2 and current.ndim == 3:
        w = w[..., None]
    return (current + w * (warped - current)).astype(np.float32)
