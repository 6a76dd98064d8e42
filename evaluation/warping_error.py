"""Temporal warping error of a video (Lai et al. 2018): how much it flickers along the motion of its frames."""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from motion.registry import get_flow, needs_motion
from motion.warp import consistency_mask, warp
from video.image import to_float


def _as_float(frame) -> np.ndarray:
    a = np.asarray(frame)
    if a.ndim != 3 or a.shape[2] < 3:
        raise ValueError(f"warping error takes HxWx3 frames, got shape {a.shape}")
    return to_float(a[..., :3])


class WarpingError:
    """Streaming warping error: feed frames in order with update(); read .value at any time.

    For each consecutive pair (t, t+1): frame t+1 is warped back onto frame t along the optical flow
    between the reference frames t and t+1 (the frames themselves when no reference is given); pixels
    failing the forward-backward consistency check (occluded or mismatched; Sundaram et al. 2010, hard
    0/1 mask) are left out; the pair's error is the mean over the remaining pixels of the squared
    difference averaged over the RGB channels (values in [0, 1]). The video's error is the mean over
    pairs (Lai et al., "Learning Blind Video Temporal Consistency", ECCV 2018, eq. 7).
    flow: an image flow method name ("farneback", "dis"), or "motion" with update(frame, motion=...) (the
    animation's own motion; pixels its occlusion maps call occluded are left out too).
    """

    def __init__(self, flow: str = "farneback", alpha: float = 0.01, beta: float = 0.5):
        self.flow_name = flow
        self.method = get_flow(flow)
        self.alpha, self.beta = float(alpha), float(beta)
        self.reset()

    def reset(self) -> None:
        self.per_pair: list[float] = []
        self.masked_share: list[float] = []  # fraction of pixels left out, per pair
        self._prev = self._prev_ref = self._prev_motion = None

    def _flows(self, ref_t, ref_next, motion_t, motion_next):
        """(forward, backward, extra 0/1 mask or None) between reference frames t and t+1."""
        if needs_motion(self.method):
            size = ref_t.shape[:2]
            forward, reliability = self.method.from_motion(motion_next, motion_t, size, return_reliability=True)
            backward = self.method.from_motion(motion_t, motion_next, size)
            return forward, backward, (reliability > 0.5).astype(np.float32)  # occluded in the animation
        return self.method(ref_t, ref_next), self.method(ref_next, ref_t), None

    def update(self, frame, reference=None, motion=None) -> float | None:
        """Add the next frame (and its reference frame / motion); the error of the new pair, or None first."""
        frame = _as_float(frame)
        ref = frame if reference is None else _as_float(reference)
        if ref.shape[:2] != frame.shape[:2]:
            raise ValueError(f"reference frame is {ref.shape[:2]}, frame is {frame.shape[:2]}: sizes must match")
        result = None
        if self._prev is not None:
            forward, backward, extra = self._flows(self._prev_ref, ref, self._prev_motion, motion)
            mask = consistency_mask(forward, backward, self.alpha, self.beta, soft=False)
            if extra is not None:
                mask = mask * extra
            diff = ((self._prev - warp(frame, forward)) ** 2).mean(axis=2)
            kept = float(mask.sum())
            result = float((diff * mask).sum() / kept) if kept > 0 else 0.0
            self.per_pair.append(result)
            self.masked_share.append(1.0 - kept / mask.size)
        self._prev, self._prev_ref, self._prev_motion = frame, ref, motion
        return result

    @property
    def count(self) -> int:
        """Number of frame pairs seen."""
        return len(self.per_pair)

    @property
    def value(self) -> float:
        """Mean warping error over the pairs seen so far (nan before the second frame)."""
        return float(np.mean(self.per_pair)) if self.per_pair else float("nan")


def warping_error(frames_iter: Iterable, flow: str = "farneback", reference_frames: Iterable | None = None,
                  motions: Iterable | None = None) -> float:
    """Warping error (Lai et al. 2018) of a video given as an iterable of HxWx3 frames (uint8 or float [0, 1]).

    reference_frames: the unprocessed video (e.g. the raw animation) the flow is computed on; by default
    the frames themselves. motions: per-frame animation motion, for flow="motion". See WarpingError.
    """
    meter = WarpingError(flow)
    refs = iter(reference_frames) if reference_frames is not None else None
    mots = iter(motions) if motions is not None else None
    for frame in frames_iter:
        reference = next(refs, None) if refs is not None else None
        motion = next(mots, None) if mots is not None else None
        if (refs is not None and reference is None) or (mots is not None and motion is None):
            raise ValueError("reference_frames/motions ran out before the frames: give one per frame")
        meter.update(frame, reference, motion)
    return meter.value
