"""normalize_kp: relative keypoint motion, relative Jacobians and movement-scale adaptation for animation."""
import math

import torch
from scipy.spatial import ConvexHull, QhullError

from modules.geometry import inverse2x2


def hull_area(points) -> float:
    """Area of the 2-D convex hull of (N, 2) points (scipy's ConvexHull, as the reference); 0 for degenerate
    sets (fewer than three points, or all on one line), where Qhull finds no hull."""
    pts = points.detach().double().cpu().numpy()
    if len(pts) < 3:
        return 0.0
    try:
        return float(ConvexHull(pts).volume)
    except QhullError:
        return 0.0


def movement_scale(kp_source, kp_driving_initial) -> float:
    """sqrt(hull area of source keypoints) / sqrt(hull area of initial driving keypoints), batch element 0.

    As in the reference, one scale (from element 0) is used for the whole batch. A degenerate hull
    (all keypoints collinear, e.g. an untrained detector) gives 1.
    """
    source_area = hull_area(kp_source["value"][0])
    driving_area = hull_area(kp_driving_initial["value"][0])
    if source_area <= 0 or driving_area <= 0:
        return 1.0
    return math.sqrt(source_area) / math.sqrt(driving_area)


def keypoint_normalizer(kp_source, kp_driving_initial, adapt_movement_scale=False, use_relative_movement=False,
                        use_relative_jacobian=False):
    """normalize_kp with the source and the initial driving keypoints fixed: a function kp_driving -> the
    keypoints to drive the generator with. The movement scale and the initial Jacobians' inverse are computed
    once, so a stream of driving batches (batch dimension broadcast against the initial's 1) reuses them.
    Relative Jacobians are used only when the keypoints have Jacobians."""
    relative_jacobian = use_relative_jacobian and "jacobian" in kp_driving_initial
    scale = movement_scale(kp_source, kp_driving_initial) if (adapt_movement_scale and use_relative_movement) else 1
    inverse_initial = inverse2x2(kp_driving_initial["jacobian"]) if use_relative_movement and relative_jacobian \
        else None

    def normalize(kp_driving):
        kp_new = dict(kp_driving)
        if use_relative_movement:
            diff = (kp_driving["value"] - kp_driving_initial["value"]) * scale
            kp_new["value"] = diff + kp_source["value"]
            if inverse_initial is not None:
                jacobian_diff = torch.matmul(kp_driving["jacobian"], inverse_initial)
                kp_new["jacobian"] = torch.matmul(jacobian_diff, kp_source["jacobian"])
        return kp_new

    return normalize


def normalize_kp(kp_source, kp_driving, kp_driving_initial, adapt_movement_scale=False,
                 use_relative_movement=False, use_relative_jacobian=False):
    """Driving keypoints expressed relative to the source (FOMM's relative animation mode)."""
    return keypoint_normalizer(kp_source, kp_driving_initial, adapt_movement_scale, use_relative_movement,
                               use_relative_jacobian)(kp_driving)
