"""The mouth region of 68-point face landmarks: a soft mask (the mouth loss, the mouth metrics)."""
from __future__ import annotations

import numpy as np

MOUTH = slice(48, 68)  # the 20 mouth points of the 68-point scheme (0-based)


def mouth_mask(marks: np.ndarray, height: int, width: int, margin: float = 0.35) -> np.ndarray:
    """(H, W) float32 soft mask of the mouth region of one frame's normalised (68, 2) landmarks.

    An ellipse around the 20 mouth points, each half-axis widened by `margin` of the mouth width (so the
    chin and the cheeks next to the lips count too), 1 inside, falling to 0 over one pixel at its edge.
    All zeros when the frame has no landmarks (NaN).
    """
    mouth = np.asarray(marks, np.float64)[MOUTH] * np.array([width, height])
    if not np.isfinite(mouth).all():
        return np.zeros((height, width), np.float32)
    low, high = mouth.min(0), mouth.max(0)
    centre = (low + high) / 2
    extra = margin * (high[0] - low[0])
    half = np.maximum((high - low) / 2 + extra, 1.0)
    ys, xs = np.mgrid[0:height, 0:width] + 0.5  # pixel centres
    radius = np.sqrt(((xs - centre[0]) / half[0]) ** 2 + ((ys - centre[1]) / half[1]) ** 2)
    edge = 1.0 / float(min(half))  # one pixel in the ellipse's normalised units
    return np.clip((1.0 + edge - radius) / edge, 0.0, 1.0).astype(np.float32)
