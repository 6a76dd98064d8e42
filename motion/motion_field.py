"""The animation's own flow between consecutive frames, from FOMM's dense deformations (no image matching)."""
from __future__ import annotations

import cv2
import numpy as np

from errors import UserError
from motion.registry import FlowMethod, register_flow


def motion_arrays(motion) -> tuple[np.ndarray, np.ndarray | None]:
    """(deformation hxwx2, occlusion hxw or None) as float32 numpy arrays from an animated frame's motion.

    Accepts an object with .deformation / .occlusion (engine.animate.AnimatedFrame), a dict with
    'deformation' and 'occlusion' (or FOMM's 'occlusion_map'), or a (deformation, occlusion) pair; torch
    tensors with a leading batch of 1 ((1, h, w, 2), (1, 1, h, w)) are accepted too.
    """
    if isinstance(motion, dict):
        deformation = motion.get("deformation")
        occlusion = motion.get("occlusion", motion.get("occlusion_map"))
    elif isinstance(motion, (tuple, list)) and len(motion) == 2:
        deformation, occlusion = motion
    else:
        deformation = getattr(motion, "deformation", None)
        occlusion = getattr(motion, "occlusion", None)
    if deformation is None:
        raise UserError("the 'motion' flow needs each animated frame's deformation; animate with "
                        "return_motion=True, or choose the farneback or dis flow")

    def as_numpy(value):
        if hasattr(value, "detach"):
            value = value.detach().float().cpu().numpy()
        return np.asarray(value, dtype=np.float32)

    deformation = as_numpy(deformation)
    while deformation.ndim > 3 and deformation.shape[0] == 1:
        deformation = deformation[0]
    if deformation.ndim != 3 or deformation.shape[2] != 2:
        raise ValueError(f"a deformation is hxwx2, got shape {deformation.shape}")
    if occlusion is not None:
        occlusion = as_numpy(occlusion)
        while occlusion.ndim > 2 and occlusion.shape[0] == 1:
            occlusion = occlusion[0]
        if occlusion.ndim != 2:
            raise ValueError(f"an occlusion map is hxw, got shape {occlusion.shape}")
    return deformation, occlusion


def resize_field(field: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize (half-pixel centres, edge-clamped: torch's interpolate with align_corners=False, the
    way the generator upsamples its deformation) of an hxw or hxwxC field to size = (H, W)."""
    height, width = int(size[0]), int(size[1])
    if field.shape[:2] == (height, width):
        return np.ascontiguousarray(field, dtype=np.float32)
    return cv2.resize(np.ascontiguousarray(field, dtype=np.float32), (width, height), interpolation=cv2.INTER_LINEAR)


def _sample(field: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """field(px, py): bilinear in full float precision (cv2.remap rounds positions to 1/32 px), edge-clamped."""
    h, w = field.shape[:2]
    px = np.clip(px, 0.0, w - 1.0)
    py = np.clip(py, 0.0, h - 1.0)
    x0 = np.minimum(np.floor(px).astype(np.int64), max(w - 2, 0))
    y0 = np.minimum(np.floor(py).astype(np.int64), max(h - 2, 0))
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = (px - x0).astype(np.float32), (py - y0).astype(np.float32)
    if field.ndim == 3:
        fx, fy = fx[..., None], fy[..., None]
    top = field[y0, x0] * (1 - fx) + field[y0, x1] * fx
    bottom = field[y1, x0] * (1 - fx) + field[y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


def invert_deformation(deformation: np.ndarray, targets: np.ndarray, iterations: int = 10,
                       start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Solve deformation(y) = targets(x) for y at every pixel x, by Newton's method on the bilinear field.

    deformation, targets: HxWx2 (same coordinates, e.g. FOMM's [-1, 1] source coordinates), deformation
    smooth. Returns (y as HxWx2 pixel positions (x, y), residual HxWx2 = targets - deformation(y)). The
    search stays inside the frame, so a target that is nowhere in `deformation` keeps a large residual.
    """
    h, w = deformation.shape[:2]
    d = np.ascontiguousarray(deformation, dtype=np.float32)
    jac = np.concatenate([np.gradient(d, axis=1), np.gradient(d, axis=0)], axis=2)  # dDx/dx dDy/dx dDx/dy dDy/dy
    jac = np.ascontiguousarray(jac, dtype=np.float32)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    if start is None:
        px, py = xs.copy(), ys.copy()
    else:
        px, py = start[..., 0].astype(np.float32), start[..., 1].astype(np.float32)
    residual = targets - _sample(d, px, py)
    for _ in range(int(iterations)):
        j = _sample(jac, px, py)
        a, c, b, e = j[..., 0], j[..., 1], j[..., 2], j[..., 3]  # J = [[a, b], [c, e]]
        rx, ry = residual[..., 0], residual[..., 1]
        det = a * e - b * c
        scale = a * a + b * b + c * c + e * e + 1e-20
        regular = np.abs(det) > 1e-6 * scale
        safe_det = np.where(regular, det, 1.0)
        # a regular Jacobian: the Newton step J^-1 r; a folded/flat one: the gradient step J^T r / |J|^2
        step_x = np.where(regular, (e * rx - b * ry) / safe_det, (a * rx + c * ry) / scale)
        step_y = np.where(regular, (a * ry - c * rx) / safe_det, (b * rx + e * ry) / scale)
        limit = 0.25 * max(h, w)  # no wild jumps where the field is nearly flat
        step_x = np.clip(step_x, -limit, limit)
        step_y = np.clip(step_y, -limit, limit)
        new_x = np.clip(px + step_x, 0.0, w - 1.0).astype(np.float32)
        new_y = np.clip(py + step_y, 0.0, h - 1.0).astype(np.float32)
        moved = max(float(np.abs(new_x - px).max()), float(np.abs(new_y - py).max()))
        px, py = new_x, new_y
        residual = targets - _sample(d, px, py)
        if moved < 1e-4:  # converged everywhere (or pinned at the frame's edge)
            break
    return np.stack([px, py], axis=2), residual


@register_flow("motion")
class MotionFlow(FlowMethod):
    """Flow between consecutive animated frames computed from the animation's own dense motion.

    Frame t's pixel x shows the source point D_t(x); that point appears in frame t-1 at the pixel y where
    D_{t-1}(y) = D_t(x). Both deformations are upsampled to the frame size (as the generator does) and
    D_{t-1} is inverted by Newton's method: flow(x) = y - x, so that cur(x) ~ prev(x + flow(x)), i.e.
    the flow that get_flow("farneback")(cur, prev) estimates from pixels. Reliability is low where either
    frame's occlusion map says the point is occluded (FOMM's map: 1 = visible), where the inversion
    leaves more than `tolerance` px of residual (the point is not visible in t-1), and outside the frame.
    """

    needs_motion = True

    def __init__(self, iterations: int = 10, tolerance: float = 0.5):
        self.iterations = int(iterations)
        self.tolerance = float(tolerance)

    def __call__(self, a, b):
        raise UserError("the 'motion' flow comes from the animation's deformations, not from images; use it "
                        "through demo.py / apply_stages(..., motions=...) or choose the farneback or dis flow")

    def from_motion(self, prev_motion, cur_motion, size: tuple[int, int], return_reliability: bool = False):
        """HxWx2 float32 flow (size = (H, W)) with cur(x) ~ prev(x + flow(x)); with return_reliability, also
        an HxW float32 reliability in [0, 1]."""
        height, width = int(size[0]), int(size[1])
        d_prev, o_prev = motion_arrays(prev_motion)
        d_cur, o_cur = motion_arrays(cur_motion)
        d_prev, d_cur = resize_field(d_prev, size), resize_field(d_cur, size)
        positions, residual = invert_deformation(d_prev, d_cur, self.iterations)
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        flow = np.stack([positions[..., 0] - xs, positions[..., 1] - ys], axis=2).astype(np.float32)
        if not return_reliability:
            return flow
        # residual in source pixels (the source is taken to be frame-sized; [-1, 1] spans the size)
        residual_px = np.hypot(residual[..., 0] * width / 2.0, residual[..., 1] * height / 2.0)
        reliability = np.clip(2.0 - residual_px / self.tolerance, 0.0, 1.0).astype(np.float32)
        if o_cur is not None:
            reliability *= np.clip(resize_field(o_cur, size), 0.0, 1.0)
        if o_prev is not None:
            seen = _sample(resize_field(o_prev, size), positions[..., 0], positions[..., 1])
            reliability *= np.clip(seen, 0.0, 1.0)
        return flow, reliability

    def describe(self) -> str:
        return "flow: motion (the animation's own deformation fields, inverted; no image matching)"
