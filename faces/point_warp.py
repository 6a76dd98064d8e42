"""A thin-plate-spline warp through control points: each source point lands on its target point.

    moved = warp_points(image, source_points, target_points, grid=4)
    ring = anchor_ring((0, 0, width - 1, height - 1))   # points along a box's border that must stay put

The spline (scipy's RBFInterpolator) is evaluated on a coarse grid of `grid` pixels and upsampled, so it is
smooth and cheap at any image size. faces.mouth_motion opens mouths with it; benchmarks/oracle_warp.py moves a
first frame by a later frame's landmarks with it.
"""
from __future__ import annotations

import cv2
import numpy as np
from scipy.interpolate import RBFInterpolator


def anchor_ring(box, count: int = 8) -> np.ndarray:
    """(4 * count, 2) fixed points along the box's border: outside it nothing moves, so the edge must not either."""
    x0, y0, x1, y1 = box
    t = np.linspace(0, 1, count, endpoint=False)
    top = np.stack([x0 + t * (x1 - x0), np.full_like(t, y0)], 1)
    right = np.stack([np.full_like(t, x1), y0 + t * (y1 - y0)], 1)
    bottom = np.stack([x1 - t * (x1 - x0), np.full_like(t, y1)], 1)
    left = np.stack([np.full_like(t, x0), y1 - t * (y1 - y0)], 1)
    return np.concatenate([top, right, bottom, left])


def warp_points(image: np.ndarray, source_points: np.ndarray, target_points: np.ndarray, grid: int,
                border: int = cv2.BORDER_REFLECT_101) -> np.ndarray:
    """`image` (HxW or HxWxC) warped so that each source point (x, y pixels) lands on its target point.

    A backward map: every output pixel samples the image where the spline through (target -> source) says it
    came from. Points may lie outside the image. Returns the image's dtype.
    """
    height, width = image.shape[:2]
    spline = RBFInterpolator(np.asarray(target_points, np.float64),
                             np.asarray(source_points, np.float64) - np.asarray(target_points, np.float64),
                             kernel="thin_plate_spline", smoothing=1e-3)
    ys = np.arange(0, height + grid, grid, dtype=np.float64)
    xs = np.arange(0, width + grid, grid, dtype=np.float64)
    gx, gy = np.meshgrid(xs, ys)
    coarse = spline(np.stack([gx.ravel(), gy.ravel()], 1)).reshape(len(ys), len(xs), 2).astype(np.float32)
    # the coarse grid's node k sits at pixel k * grid: stretch it so that node positions map to pixels exactly
    fine = cv2.resize(coarse, ((len(xs) - 1) * grid + 1, (len(ys) - 1) * grid + 1),
                      interpolation=cv2.INTER_LINEAR)[:height, :width]
    px, py = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return cv2.remap(image, px + fine[..., 0], py + fine[..., 1], cv2.INTER_LINEAR, borderMode=border)
