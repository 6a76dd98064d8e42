"""Head-pose comparison from 68-point landmarks: normalise position and scale, then measure the difference."""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def normalized_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """(..., N, 2) landmarks moved to their centroid and divided by their spread (root-mean-square distance
    from the centroid), so faces of any size and position compare by pose and expression alone."""
    points = np.asarray(landmarks, dtype=np.float64)[..., :2]
    if points.ndim < 2 or points.shape[-2] < 2:
        raise ValueError(f"expected (..., N, 2) landmarks with N >= 2, got shape {np.shape(landmarks)}")
    centred = points - points.mean(axis=-2, keepdims=True)
    spread = np.sqrt((centred ** 2).sum(axis=-1).mean(axis=-1))[..., None, None]
    if np.any(spread <= 0):
        raise ValueError("landmarks have no spread (all points coincide)")
    return centred / spread


def pose_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Root-mean-square distance between the normalised landmark sets a and b (0 = same pose and
    expression; about 1.4 for unrelated point clouds)."""
    na, nb = normalized_landmarks(a), normalized_landmarks(b)
    if na.shape != nb.shape:
        raise ValueError(f"landmark shapes differ: {np.shape(a)} vs {np.shape(b)}")
    return float(np.sqrt(((na - nb) ** 2).sum(axis=-1).mean()))


def closest_pose(reference: np.ndarray, candidates: Iterable[np.ndarray | None]) -> int | None:
    """Index of the candidate landmark set whose pose is closest to `reference` (None entries, e.g. frames
    without a face, are skipped); None when no candidate has landmarks. Candidates may be a stream."""
    best, best_distance = None, np.inf
    for index, candidate in enumerate(candidates):
        if candidate is None:
            continue
        distance = pose_distance(reference, candidate)
        if distance < best_distance:
            best, best_distance = index, distance
    return best
