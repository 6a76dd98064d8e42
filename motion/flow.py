"""The optical-flow registry (register_flow, get_flow, available_flows) and the OpenCV image flows."""
from __future__ import annotations

import inspect
import math
from collections.abc import Callable

import cv2
import numpy as np

from errors import UserError
from registry import Registry
from video.image import to_uint8

# name -> a FlowMethod subclass (instantiated with options) or a plain function (a, b) -> flow. The built-in
# modules that register more are imported lazily: they may need more than OpenCV.
_REGISTRY = Registry("flow method", builtin_modules=("motion.motion_field",))


class FlowMethod:
    """An optical-flow method: flow = method(a, b), with a(x) ~ b(x + flow(x)) (so warp(b, flow) ~ a).

    a and b are HxWx3 frames (float32 in [0, 1], or uint8); flow is HxWx2 float32 in pixels, (dx, dy).
    needs_motion: True for methods computed from the animation's motion instead of from the images
    (they provide from_motion(prev_motion, cur_motion, size) instead of __call__).
    """

    name = ""
    needs_motion = False

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def with_reliability(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(flow, reliability HxW in [0, 1] or None when the method has no own estimate of it)."""
        return self(a, b), None

    def describe(self) -> str:
        return f"flow: {self.name}"


def register_flow(name: str) -> Callable:
    """Decorator: make a FlowMethod subclass or a function (a, b) -> flow available as `name`."""
    return _REGISTRY.register(name)


def available_flows() -> list[str]:
    """Registered flow method names, sorted."""
    _REGISTRY.load_builtins()
    return sorted(_REGISTRY)


def get_flow(name: str, **options):
    """A ready flow method: an instance of the registered class (with `options`) or the registered function."""
    if name not in available_flows():
        raise _REGISTRY.unknown(name, available_flows())
    obj = _REGISTRY[name]
    if inspect.isclass(obj):
        try:
            return obj(**options)
        except TypeError as err:
            raise UserError(f"bad options for flow method {name!r}: {err}") from None
    if options:
        raise UserError(f"flow method {name!r} takes no options, got {', '.join(options)}")
    return obj


def needs_motion(method) -> bool:
    """Whether a flow method (from get_flow) is computed from the animation's motion, not from images."""
    return bool(getattr(method, "needs_motion", False))


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
        from motion.motion_field import MotionFlow  # it imports this module, so not at the top

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
