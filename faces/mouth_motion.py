"""Synthetic mouth motion on a still face photo: the lower lip and jaw moved down, the photo warped, the gap filled.

A photo's mouth never opens, so a model trained or personalised on photos under head motion alone never
learns to open an unseen face's mouth. open_mouth() opens it by a requested amount:

    opened = open_mouth(image_uint8, landmarks68, opening=0.06)   # inner-lip gap + 6% of the face width

- the lower lip (outer 55-59, inner 65-67) and the lower jaw line (points 3-13, tapering from the chin) of
  dlib's 68-point scheme move along the face's own "down" (perpendicular to the line between the eyes);
  the upper lip, nose, eyes, upper jaw and a ring around the lower face stay where they are;
- the photo is warped by a thin-plate spline through those control points (faces.point_warp), inside a box
  around the lower face only;
- the gap between the inner lips becomes a mouth interior: dark and slightly reddish (from the lips' own
  colour), darker towards its middle, a soft band of upper teeth optional, edges feathered.

`opening` is in the unit of benchmarks/motion_transfer.py's mouth signal: |landmark 66 - landmark 62| /
|landmark 16 - landmark 0|, so a landmark detector run on the result measures about `opening` more than on
the photo (tests/faces/test_mouth_motion.py checks this with dlib on real photos).

A smile is more than an opening: `widen` (face widths, the unit of mouth_width()) moves the mouth corners
outward along the eye line, `lift` (face widths, the unit of corner_rise()) moves them up the face, and
`teeth_share` (0-1, what teeth_showing() reads on a real face) paints the opened gap with upper and lower
teeth instead of a dark interior:

    smiling = open_mouth(image_uint8, landmarks68, opening=0.05, widen=0.06, lift=0.03, teeth_share=1.0)

mouth_curve() gives a smooth seeded opening over time for footage.synthetic's photo tracks.
"""
from __future__ import annotations

import cv2
import numpy as np

from faces.point_warp import anchor_ring, warp_points

# how far each moving landmark goes, as a fraction of the full displacement (0-based 68-point indices)
LOWER_LIP = {57: 1.0, 66: 1.0, 56: 0.92, 58: 0.92, 65: 0.92, 67: 0.92, 55: 0.6, 59: 0.6,
             48: 0.12, 54: 0.12, 60: 0.12, 64: 0.12}
JAW = {i: float(np.cos(np.pi / 2 * abs(i - 8) / 5.6)) for i in range(3, 14)}  # 1 at the chin, ~0.1 at 3 and 13
FIXED = [*range(0, 3), *range(14, 17), *range(17, 48), 49, 50, 51, 52, 53, 61, 62, 63]
INNER_UPPER = [60, 61, 62, 63, 64]
INNER_LOWER = [64, 65, 66, 67, 60]
# how far each lip point goes when the mouth widens, as a fraction of the corner's move (left side: the image's)
WIDEN_LEFT = {48: 1.0, 60: 1.0, 49: 0.55, 59: 0.55, 61: 0.5, 67: 0.5, 50: 0.2, 58: 0.2}
WIDEN_RIGHT = {54: 1.0, 64: 1.0, 53: 0.55, 55: 0.55, 63: 0.5, 65: 0.5, 52: 0.2, 56: 0.2}
# teeth_showing: the inner mouth's mean brightness over the lips'; a dark opening reads 0.5-0.8 on real faces,
# teeth 1.24-1.49 (checkpoints/README.md section 11); mapped linearly from DARK_RATIO (0) to TEETH_RATIO (1)
DARK_RATIO, TEETH_RATIO = 0.85, 1.15
MIN_TEETH_OPENING = 0.03  # face widths: a narrower gap has too few pixels to tell teeth from lips


def face_width(landmarks: np.ndarray) -> float:
    return float(np.linalg.norm(landmarks[16] - landmarks[0]))


def mouth_opening(landmarks: np.ndarray) -> float:
    """The inner-lip gap / the face width (benchmarks/motion_transfer.py's mouth signal)."""
    return float(np.linalg.norm(landmarks[66] - landmarks[62])) / max(face_width(landmarks), 1e-6)


def mouth_width(landmarks: np.ndarray) -> float:
    """The distance between the mouth corners (48, 54) / the face width."""
    return float(np.linalg.norm(landmarks[54] - landmarks[48])) / max(face_width(landmarks), 1e-6)


def corner_rise(landmarks: np.ndarray) -> float:
    """How high the mouth corners (48, 54) sit: their mean height above the nose's base (31-35) along the face's
    "down", over the face width (negative: below it, as always; a smile makes it less negative)."""
    marks = np.asarray(landmarks, np.float64)
    below = (marks[[48, 54]] - marks[31:36].mean(0)) @ face_down(marks)
    return -float(below.mean()) / max(face_width(marks), 1e-6)


def teeth_showing(image: np.ndarray, landmarks: np.ndarray) -> float:
    """How much of an open mouth's interior is teeth, 0 (dark) to 1, on a face image (HxWx3 uint8) and its
    (68, 2) landmarks: the mean brightness inside the inner lips over the lips' own, mapped from DARK_RATIO
    to TEETH_RATIO. 0 when the mouth is open less than MIN_TEETH_OPENING face widths."""
    marks = np.asarray(landmarks, np.float64)
    if mouth_opening(marks) < MIN_TEETH_OPENING:
        return 0.0
    # only the mouth's box is read: the polygons, shifted by whole pixels, cover the same pixels there
    lips = np.round(marks[48:68]).astype(np.int32)
    x0, y0 = np.maximum(lips.min(0) - 1, 0)
    x1, y1 = lips.max(0) + 2
    grey = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY).astype(np.float64)
    inner = np.zeros(grey.shape, np.uint8)
    cv2.fillPoly(inner, [lips[12:20] - [x0, y0]], 1)
    outer = np.zeros(grey.shape, np.uint8)
    cv2.fillPoly(outer, [lips[0:12] - [x0, y0]], 1)
    lips = (outer > 0) & (inner == 0)
    if not inner.any() or not lips.any():
        return 0.0
    ratio = grey[inner > 0].mean() / max(grey[lips].mean(), 1.0)
    return float(np.clip((ratio - DARK_RATIO) / (TEETH_RATIO - DARK_RATIO), 0.0, 1.0))


def face_down(landmarks: np.ndarray) -> np.ndarray:
    """Unit vector pointing down the face: the eye line (left to right eye) turned by +90 degrees."""
    eyes = landmarks[42:48].mean(0) - landmarks[36:42].mean(0)
    down = np.array([-eyes[1], eyes[0]], np.float64)
    return down / max(np.linalg.norm(down), 1e-6)


def displacements(landmarks: np.ndarray, opening: float, widen: float = 0.0, lift: float = 0.0) -> np.ndarray:
    """(68, 2) pixel displacement of every landmark for an added inner-lip gap of `opening` face widths, a
    mouth `widen` face widths wider (each corner moves out by half of it) and its corners `lift` face widths
    higher (the lips next to the corners follow them in part)."""
    marks = np.asarray(landmarks, np.float64)
    down = face_down(marks)
    step = down * opening * face_width(marks)
    moves = np.zeros((68, 2))
    for i, w in {**JAW, **LOWER_LIP}.items():
        moves[i] = w * step
    if widen > 0 or lift > 0:
        across = np.array([down[1], -down[0]])  # the eye line, pointing from the image's left to its right
        out, up = max(widen, 0.0) * face_width(marks) / 2, max(lift, 0.0) * face_width(marks)
        for side, weights in ((-1.0, WIDEN_LEFT), (1.0, WIDEN_RIGHT)):
            for i, w in weights.items():
                moves[i] += w * (side * out * across - up * down)
    return moves


def _region(marks: np.ndarray, moves: np.ndarray, shape) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) pixel box around the lower face, the chin's new place and a margin: the warped area."""
    width = face_width(marks)
    points = np.concatenate([marks[2:15], marks[2:15] + moves[2:15], marks[31:36], marks[48:68] + moves[48:68]])
    low, high = points.min(0) - 0.25 * width, points.max(0) + 0.25 * width
    low[1] = points[:, 1].min() - 0.08 * width  # from just above the nose's base: the eyes stay out of it
    height, image_width = shape[:2]
    x0, y0 = max(0, int(np.floor(low[0]))), max(0, int(np.floor(low[1])))
    x1, y1 = min(image_width, int(np.ceil(high[0]))), min(height, int(np.ceil(high[1])))
    return x0, y0, x1, y1


def _interior(region: np.ndarray, upper: np.ndarray, lower: np.ndarray, lips: np.ndarray, mouth_width: float,
              teeth: bool, old_gap: float = 0.0, teeth_share: float = 0.0) -> np.ndarray:
    """`region` (float32 0..255) with the polygon between the inner lips painted as a soft dark mouth.

    old_gap: the inner-lip gap (pixels) before the opening. What was already open (teeth, a tongue) is
    stretched by the warp rather than lost: the paint covers the gap in proportion to the part that is new.
    teeth_share (0-1, with teeth): from the thin band of upper teeth (0) to a smile's teeth (1): upper teeth
    over the top 60% of the gap, lower teeth over the bottom quarter, a dark line between."""
    height, width = region.shape[:2]
    polygon = np.concatenate([upper, lower])
    mask = np.zeros((height, width), np.float32)
    cv2.fillPoly(mask, [np.round(polygon * 4).astype(np.int32)], 1.0, lineType=cv2.LINE_AA, shift=2)
    gap = float(np.linalg.norm(lower[2] - upper[2]))
    if mask.max() == 0 or gap < 0.5:
        return region
    feather = max(0.6, 0.12 * gap)
    mask = cv2.GaussianBlur(mask, (0, 0), feather)
    # lip colour: the mean of the lip pixels around the mouth (outer lip polygon minus the interior)
    lip_mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(lip_mask, [np.round(lips).astype(np.int32)], 1)
    lip_mask[mask > 0.05] = 0
    lip = region[lip_mask > 0].mean(0) if lip_mask.any() else np.array([150.0, 80.0, 80.0])
    dark = np.clip(lip * 0.28 + np.array([6.0, 0.0, 0.0]), 0, 255)  # dark, a little redder than the lips
    # darker in the middle: distance from the inner-lip centre line, relative to the half gap
    centre = (upper[2] + lower[2]) / 2
    px, py = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    along = np.array([lower[2][0] - upper[2][0], lower[2][1] - upper[2][1]]) / max(gap, 1e-6)
    depth = np.abs((px - centre[0]) * along[0] + (py - centre[1]) * along[1]) / max(gap / 2, 1e-6)
    shade = (0.55 + 0.45 * np.clip(depth, 0, 1))[..., None]
    fill = dark[None, None] * shade
    if teeth and gap > 0.08 * mouth_width:
        # the upper teeth: a pale band just under the upper inner lip, about a third of the gap, soft
        below_upper = ((px - upper[2][0]) * along[0] + (py - upper[2][1]) * along[1]) / max(gap, 1e-6)
        band = np.clip(1.0 - np.abs(below_upper - 0.15) / 0.18, 0, 1) ** 1.5
        signed_across = (px - centre[0]) * along[1] - (py - centre[1]) * along[0]
        across = np.abs(signed_across) / max(mouth_width / 2, 1e-6)
        band *= np.clip(1.2 - 1.4 * across, 0, 1) * (1 - teeth_share)
        tooth = np.clip(lip.mean() * 1.35 + 40.0, 150, 235) * np.array([1.0, 0.97, 0.9])
        fill = fill * (1 - 0.8 * band[..., None]) + tooth[None, None] * 0.8 * band[..., None]
        if teeth_share > 0:
            fill = _smile_teeth(fill, region, below_upper, across, signed_across, mouth_width, teeth_share)
    mask = mask * float(np.clip(1.0 - old_gap / gap, 0.0, 1.0))
    return region * (1 - mask[..., None]) + fill * mask[..., None]


def _smile_teeth(fill: np.ndarray, region: np.ndarray, below_upper: np.ndarray, across: np.ndarray,
                 signed_across: np.ndarray, mouth_width: float, share: float) -> np.ndarray:
    """`fill` with a smile's teeth laid over it, `share` (0-1) opaque: upper teeth from the upper inner lip over
    60% of the gap (lit at the top, shaded towards their edges, a faint seam between teeth), lower teeth in
    shadow over its bottom quarter, both fading towards the corners. Their colour: the region's bright skin,
    off-white."""
    grey = region.mean(axis=2)
    level = float(np.clip(np.percentile(grey, 98) * 1.05, 185, 240))
    colour = level * np.array([1.0, 0.95, 0.85])
    upper = np.clip((0.6 - below_upper) / 0.08, 0, 1) * np.clip(below_upper / 0.04 + 1, 0, 1)
    lower = np.clip((below_upper - 0.75) / 0.08, 0, 1)
    # about nine teeth across the mouth; a seam darkens the upper teeth between them
    phase = np.mod(signed_across / max(mouth_width / 9, 1e-6) + 0.5, 1.0)
    seam = 1 - 0.1 * np.exp(-(((phase - 0.5) / 0.09) ** 2))
    shade = np.where(lower > upper, 0.72, (1.0 - 0.2 * np.clip(below_upper / 0.6, 0, 1)) * seam)
    cover = np.clip(upper + 0.85 * lower, 0, 1) * np.clip(1.25 - 1.1 * across, 0, 1) * 0.92 * share
    teeth = colour[None, None] * shade[..., None] * np.clip(1.1 - 0.5 * across, 0.6, 1)[..., None]
    return fill * (1 - cover[..., None]) + teeth * cover[..., None]


def open_mouth(image: np.ndarray, landmarks: np.ndarray, opening: float, teeth: bool = True,
               grid: int = 4, widen: float = 0.0, lift: float = 0.0, teeth_share: float = 0.0) -> np.ndarray:
    """`image` (HxWx3 uint8) with the mouth opened by `opening` face widths more (see the module's docstring),
    `widen` face widths wider, its corners `lift` face widths higher, and its gap painted with `teeth_share`
    of a smile's teeth.

    landmarks: the face's (68, 2) dlib-scheme landmarks in pixels of `image`. opening, widen and lift <= 0
    return a copy. Only a box around the lower face changes.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"open_mouth needs an HxWx3 uint8 image, got {image.shape} {image.dtype}")
    marks = np.asarray(landmarks, np.float64)
    if marks.shape != (68, 2) or not np.isfinite(marks).all():
        raise ValueError(f"open_mouth needs (68, 2) finite landmarks, got {marks.shape}")
    result = image.copy()
    opening, widen, lift = (max(0.0, float(v)) for v in (opening, widen, lift))
    if opening <= 0 and widen <= 0 and lift <= 0:
        return result
    moves = displacements(marks, opening, widen, lift)
    x0, y0, x1, y1 = _region(marks, moves, image.shape)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return result
    origin = np.array([x0, y0], np.float64)
    local = marks - origin
    moving = sorted({**JAW, **LOWER_LIP})
    ring = anchor_ring((0, 0, x1 - x0 - 1, y1 - y0 - 1))
    width = face_width(marks)
    # the neck under the chin stays: the skin between the jaw and it is compressed, not slid
    neck = local[[5, 8, 11]] + face_down(marks) * (0.35 * width + np.linalg.norm(moves[8]))
    source = np.concatenate([local[FIXED], local[moving], ring, neck])
    target = np.concatenate([local[FIXED] + moves[FIXED], local[moving] + moves[moving], ring, neck])
    region = warp_points(image[y0:y1, x0:x1], source, target, grid).astype(np.float32)
    moved = local + moves
    region = _interior(region, moved[INNER_UPPER], moved[INNER_LOWER], moved[48:60],
                       float(np.linalg.norm(marks[54] - marks[48])), teeth,
                       old_gap=float(np.linalg.norm(marks[66] - marks[62])), teeth_share=float(teeth_share))
    result[y0:y1, x0:x1] = np.clip(np.round(region), 0, 255).astype(np.uint8)
    return result


def mouth_curve(rng: np.random.Generator, num_frames: int, largest: float, max_cycles: float = 6.0) -> np.ndarray:
    """(num_frames,) openings in [0, largest]: smooth, seeded, closed part of the time as in speech."""
    t = np.arange(num_frames) / max(num_frames, 1)
    curve = np.zeros(num_frames)
    for amplitude in rng.dirichlet(np.ones(3)):
        curve += amplitude * np.sin(2 * np.pi * rng.uniform(1.0, max_cycles) * t + rng.uniform(0, 2 * np.pi))
    # shifted down so that about a third of the time the mouth stays shut, then scaled to [0, largest]
    opening = np.clip((curve + 0.3) / 1.3, 0.0, 1.0)
    return largest * opening
