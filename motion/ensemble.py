"""The ensemble optical flow: the mean of DIS, Farneback and, for animated frames, the animation's motion."""
from __future__ import annotations

import cv2
import numpy as np

from motion.flow import DISFlow, FarnebackFlow
from motion.motion_field import MotionFlow
from motion.registry import FlowMethod, register_flow


@register_flow("ensemble")
class EnsembleFlow(FlowMethod):
    """The mean of the flows available: DIS, Farneback and, for animated frames, the animation's own motion.

    Independent flow estimates have different errors: DIS is sharp at motion edges, Farneback smooth over
    ~15 px windows, the motion field exact for what the generator moved but blind to what it painted.
    Their mean is nearer to each than they are to one another, so output smoothed along it is judged
    consistent by all of them (benchmarks/warping_error.py). Reliability: the motion field's own (occlusion
    maps, inversion residual) when it takes part; with `tolerance` > 0 (px) also exp(-(d / tolerance)^2),
    d the largest distance of a member flow from the mean (off by default: even 1 px mostly switches
    smoothing off, and the forward-backward check of the smoothing already catches gross errors).
    """

    uses_motion_if_given = True

    def __init__(self, tolerance: float = 0.0, preset: str = "medium", winsize: int = 15):
        self.tolerance = float(tolerance)
        self.dis = DISFlow(preset)
        self.farneback = FarnebackFlow(winsize=winsize)
        self.motion = MotionFlow()

    def with_reliability(self, a, b, motion_a=None, motion_b=None):
        """(flow, reliability or None) with a(x) ~ b(x + flow(x)); motion_a/motion_b: the frames' motion."""
        flows = [self.dis(a, b), self.farneback(a, b)]
        reliability = None
        if motion_a is not None and motion_b is not None:
            motion_flow, reliability = self.motion.from_motion(motion_b, motion_a, flows[0].shape[:2],
                                                                return_reliability=True)
            flows.append(motion_flow)
        flow = np.mean(flows, axis=0).astype(np.float32)
        if self.tolerance > 0:
            spread = np.max([np.linalg.norm(f - flow, axis=2) for f in flows], axis=0)
            agreement = np.exp(-((spread / self.tolerance) ** 2)).astype(np.float32)
            reliability = agreement if reliability is None else reliability * agreement
        return flow, reliability

    def __call__(self, a, b, motion_a=None, motion_b=None):
        return self.with_reliability(a, b, motion_a, motion_b)[0]

    def describe(self) -> str:
        return (f"flow: ensemble (mean of DIS {self.dis.preset}, Farneback window {self.farneback.winsize} px and, "
                f"for animated frames, the animation's motion; OpenCV {cv2.__version__})")
