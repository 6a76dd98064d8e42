"""Extra training identities from still face photos: smooth synthetic head motion rendered as a face track.

A talking-head dataset of a few people teaches FOMM little about faces it has not seen. A photo of another
person, moved over time by a smooth random similarity transform (in-plane rotation, zoom, shift) plus a
gentle low-frequency non-rigid warp, becomes a clip that FOMM can train on like any other: source and
driving frames are two moments of the same synthetic motion. It adds appearance (identity) variety and
head motion; with `mouth` > 0 the mouth opens and closes too (faces.mouth_motion: the lower lip and jaw
moved along a smooth seeded curve, the photo warped, the gap filled with a dark mouth interior).

    frames = synthetic_frames(image_uint8, face_box, size=64, num_frames=128, seed=0)
    frames = synthetic_frames(image_uint8, face_box, size=64, num_frames=128, seed=0, mouth=0.08)

The crop follows the video tracks' convention (the face box, each side enlarged by `increase`, square),
so photo tracks and video tracks frame the face alike. Motion is a sum of a few sinusoids per parameter
with random periods and phases (a seeded generator: the same seed gives the same clip), one to three
cycles per clip, so consecutive frames differ as little as in a real video. The mouth's curve comes from
its own generator (seeded by [seed, 1]), so a clip with mouth motion has exactly the head motion of the
same seed without it.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from faces.base import Box
from faces.mouth_motion import mouth_curve, open_mouth


@dataclass(frozen=True)
class MotionRange:
    """Largest excursion of each motion parameter (it reaches about this at its peak)."""

    rotation_degrees: float = 8.0
    zoom: float = 0.06            # relative scale change, +-
    shift: float = 0.05           # fraction of the crop side, +-, each axis
    warp: float = 0.015           # non-rigid displacement, fraction of the crop side
    warp_grid: int = 4            # control points per side of the non-rigid field


def smooth_curve(rng: np.random.Generator, num_frames: int, max_cycles: int = 3) -> np.ndarray:
    """(num_frames,) values in [-1, 1]: a sum of 2 sinusoids of 1..max_cycles cycles per clip, random phase."""
    t = np.arange(num_frames) / max(num_frames, 1)
    curve = np.zeros(num_frames)
    amplitudes = rng.dirichlet(np.ones(2))
    for amplitude in amplitudes:
        cycles = rng.uniform(1.0, max_cycles)
        curve += amplitude * np.sin(2 * math.pi * cycles * t + rng.uniform(0, 2 * math.pi))
    return np.clip(curve, -1.0, 1.0)


def square_crop(box: Box, increase: float) -> tuple[float, float, float]:
    """(centre x, centre y, side) of the square crop the video tracks would cut around this face box."""
    x0, y0, x1, y1 = (float(v) for v in box)
    side = max(x1 - x0, y1 - y0) * (1.0 + 2.0 * increase)
    return (x0 + x1) / 2, (y0 + y1) / 2, side


def face_landmarks(image: np.ndarray, box: Box, backend: str = "auto") -> np.ndarray | None:
    """(68, 2) landmarks of the face in `box` (face backend `backend`; auto: the preferred landmark backend),
    or None without one."""
    from faces import get_backend

    return get_backend(backend, landmarks=True).landmarks(image, box)


def synthetic_frames(image: np.ndarray, box: Box, size: int, num_frames: int, seed: int = 0,
                     increase: float = 0.1, motion: MotionRange = MotionRange(), mouth: float = 0.0,
                     landmarks: np.ndarray | None = None, backend: str = "auto") -> Iterator[np.ndarray]:
    """num_frames size x size uint8 RGB frames of the face in `box` of `image` (HxWx3 uint8) moving smoothly.

    Pixels outside the photo are mirrored from inside it (no black corners). The photo is first shrunk
    with area averaging so that the crop is about `size` pixels (no aliasing when a large photo is cut
    to 64x64), then sampled bilinearly along the motion.

    mouth > 0: the mouth also opens by up to `mouth` face widths (faces.mouth_motion's unit) along a
    smooth seeded curve, closed part of the time. `landmarks` ((68, 2) pixels of `image`) are found in
    `box` by face backend `backend` when not given; a face without landmarks gets head motion only.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"synthetic_frames needs an HxWx3 uint8 image, got {image.shape} {image.dtype}")
    if num_frames < 1 or size < 8:
        raise ValueError(f"synthetic_frames needs num_frames >= 1 and size >= 8, got {num_frames}, {size}")
    rng = np.random.default_rng(seed)
    openings = np.zeros(num_frames)
    if mouth > 0:
        if landmarks is None:
            landmarks = face_landmarks(image, box, backend)
        if landmarks is not None:
            openings = mouth_curve(np.random.default_rng([seed, 1]), num_frames, mouth)
    cx, cy, side = square_crop(box, increase)
    shrink = min(1.0, size / side)
    if shrink < 1.0:
        h, w = image.shape[:2]
        small = (max(1, round(w * shrink)), max(1, round(h * shrink)))
        if openings.any():  # the landmarks follow the resize exactly (pixel centres at i + 0.5)
            landmarks = (np.asarray(landmarks, np.float64) + 0.5) * (np.array(small) / (w, h)) - 0.5
        image = cv2.resize(image, small, interpolation=cv2.INTER_AREA)
        cx, cy, side = cx * shrink, cy * shrink, side * shrink

    rotation = smooth_curve(rng, num_frames) * math.radians(motion.rotation_degrees)
    zoom = 1.0 + smooth_curve(rng, num_frames) * motion.zoom
    shift_x = smooth_curve(rng, num_frames) * motion.shift
    shift_y = smooth_curve(rng, num_frames) * motion.shift
    g = motion.warp_grid
    warp = [(rng.standard_normal((2, g, g)), rng.standard_normal((2, g, g)), smooth_curve(rng, num_frames))
            for _ in range(2)]

    # output pixel centres in crop units, (-0.5, 0.5)
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
    gx, gy = np.meshgrid(axis, axis)
    for k in range(num_frames):
        field = np.zeros((2, g, g), np.float32)
        for a, b, curve in warp:  # a point moving on an ellipse in coefficient space: smooth, non-repeating
            phase = curve[k] * math.pi
            field += (a * math.cos(phase) + b * math.sin(phase)).astype(np.float32)
        field *= motion.warp / 2
        dx = cv2.resize(field[0], (size, size), interpolation=cv2.INTER_CUBIC)
        dy = cv2.resize(field[1], (size, size), interpolation=cv2.INTER_CUBIC)
        px, py = gx + dx, gy + dy
        c, s = math.cos(rotation[k]), math.sin(rotation[k])
        scale = side / zoom[k]
        # continuous coordinates put pixel i's centre at i + 0.5; cv2.remap puts it at i
        map_x = cx + scale * (c * px - s * py) + shift_x[k] * side - 0.5
        map_y = cy + scale * (s * px + c * py) + shift_y[k] * side - 0.5
        frame = open_mouth(image, landmarks, openings[k]) if openings[k] > 0 else image
        yield cv2.remap(frame, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REFLECT_101)
