"""The OpenCV image optical flows: Farneback and DIS (registered in motion.registry)."""
from __future__ import annotations

import math

import cv2
import numpy as np

from errors import UserError
from motion.registry import FlowMethod, register_flow
from video.image import to_uint8


def to_gray(frame: np.ndarray) -> np.ndarray:
    """HxW uint8 luminance of an HxWx3 RGB frame (float in [0, 1] or uint8) or an HxW image."""
    frame = to_uint8(frame)
    if frame.ndim == 3:
        if frame.shape[2] == 1:
            return np.ascontiguousarray(frame[..., 0])
        return cv2.cvtColor(np.ascontiguousarray(frame[..., :3]), cv2.COLOR_RGB2GRAY)
    if frame.ndim != 2:
        raise ValueError(f"flow methods take HxWx3 or HxW frames, got shape {frame.shape}")
    return frame


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ga, gb = to_gray(a), to_gray(b)
    if ga.shape != gb.shape:
        raise ValueError(f"flow needs two frames of one size, got {ga.shape} and {gb.shape}")
    return ga, gb


@register_flow("farneback")
class FarnebackFlow(FlowMethod):
    """Dense polynomial-expansion flow (Farneback 2003, cv2.calcOpticalFlowFarneback).

    levels=None picks a pyramid down to about 16 px; winsize is the averaging window in px.
    """

    def __init__(self, levels: int | None = None, winsize: int = 15, iterations: int = 3, poly_n: int = 5,
                 poly_sigma: float = 1.1, pyr_scale: float = 0.5, gaussian: bool = False):
        self.levels, self.winsize, self.iterations = levels, int(winsize), int(iterations)
        self.poly_n, self.poly_sigma, self.pyr_scale = int(poly_n), float(poly_sigma), float(pyr_scale)
        self.flags = cv2.OPTFLOW_FARNEBACK_GAUSSIAN if gaussian else 0

    def __call__(self, a, b):
        ga, gb = _pair(a, b)
        levels = self.levels
        if levels is None:
            levels = max(1, int(math.log(min(ga.shape) / 16.0, 1.0 / self.pyr_scale)) + 1)
        flow = cv2.calcOpticalFlowFarneback(ga, gb, None, self.pyr_scale, levels, self.winsize, self.iterations,
                                            self.poly_n, self.poly_sigma, self.flags)
        return flow.astype(np.float32, copy=False)

    def describe(self) -> str:
        return f"flow: farneback (OpenCV {cv2.__version__}, window {self.winsize} px)"


@register_flow("dis")
class DISFlow(FlowMethod):
    """Dense Inverse Search flow (Kroeger et al. 2016, cv2.DISOpticalFlow); preset ultrafast|fast|medium."""

    _PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
                "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}

    def __init__(self, preset: str = "medium"):
        if preset not in self._PRESETS:
            raise UserError(f"unknown DIS preset {preset!r}; choose one of: {', '.join(self._PRESETS)}")
        self.preset = preset
        self._dis = cv2.DISOpticalFlow_create(self._PRESETS[preset])

    def __call__(self, a, b):
        ga, gb = _pair(a, b)
        return self._dis.calc(ga, gb, None).astype(np.float32, copy=False)

    def describe(self) -> str:
        return f"flow: dis (OpenCV {cv2.__version__}, preset {self.preset})"
