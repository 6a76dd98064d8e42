"""normalize_kp: relative keypoint motion, relative Jacobians and movement-scale adaptation for animation."""
import math

import torch

from modules.geometry import inverse2x2


def hull_area(points) -> float:
    """Area of the 2-D convex hull of (N, 2) points (monotone chain); 0 for degenerate sets."""
    pts = sorted(set(map(tuple, points.detach().double().cpu().tolist())))
    if len(pts) < 3:
        return 0.0

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    hull = lower[:-1] + upper[:-1]
    area = 0.0
    for i in range(len(hull)):
        x0, y0 = hull[i]
        x1, y1 = hull[(i + 1) % len(hull)]
        area += x0 * y1 - x1 * y0
    return abs(area) / 2


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


def normalize_kp(kp_source, kp_driving, kp_driving_initial, adapt_movement_scale=False,
                 use_relative_movement=False, use_relative_jacobian=False):
    """Driving keypoints expressed relative to the source (FOMM's relative animation mode)."""
    scale = movement_scale(kp_source, kp_driving_initial) if adapt_movement_scale else 1
    kp_new = dict(kp_driving)
    if use_relative_movement:
        diff = (kp_driving["value"] - kp_driving_initial["value"]) * scale
        kp_new["value"] = diff + kp_source["value"]
        if use_relative_jacobian:
            jacobian_diff = torch.matmul(kp_driving["jacobian"], inverse2x2(kp_driving_initial["jacobian"]))
            kp_new["jacobian"] = torch.matmul(jacobian_diff, kp_source["jacobian"])
    return kp_new
