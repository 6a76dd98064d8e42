"""Running stages over a stream of frames, in order, each output temporally smoothed along the flow."""
from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from errors import UserError
from motion.flow import get_flow, needs_motion
from stages.base import FrameContext, Stage
from stages.registry import get_stage, known_stage_names, parse_stage_list
from stages.smoothing import (
    FlowTracker,
    TemporalSmoother,
    describe_smoothing,
    resolve_flow_name,
    smoothing_options,
)

log = logging.getLogger(__name__)

# the smoothing options that change a (flow, reliability) pair: stages agreeing on them share one
FLOW_KEYS = ("consistency_alpha", "consistency_beta", "magnitude_scale", "photometric", "feather")


@dataclass
class _Runner:
    """One stage in the pipeline with its smoothing state."""

    stage: Stage
    options: dict
    flow_name: str
    smoother: TemporalSmoother
    side_smoothers: dict


def as_frame(frame) -> np.ndarray:
    """HxWx3 float32 in [0, 1] from uint8 or float frames (an alpha channel is dropped)."""
    a = np.asarray(frame)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError(f"stages take HxWx3 frames, got shape {a.shape}")
    a = a[..., :3]
    if a.dtype == np.uint8:
        return a.astype(np.float32) / np.float32(255.0)
    return np.clip(a.astype(np.float32), 0.0, 1.0)


def _split(item):
    """(image, motion) from a frame array or an animated frame (with .image and maybe .deformation)."""
    if hasattr(item, "image"):
        motion = item if getattr(item, "deformation", None) is not None else None
        return item.image, motion
    return item, None


def _check_params(params: dict, names: list[str]) -> None:
    known = known_stage_names() | set(names) | {"smoothing"}
    for key, value in params.items():
        if key not in known:
            close = difflib.get_close_matches(str(key), sorted(known), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f"; known: {', '.join(sorted(known))}"
            raise UserError(f"unknown stages_params section '{key}'{hint}")
        if value is not None and not isinstance(value, dict):
            raise UserError(f"stages_params.{key} must be a mapping of options, got {value!r}")


def _build_stage(cls: type[Stage], name: str, params: dict, device) -> Stage:
    try:
        return cls(device=device, **params)
    except TypeError as err:
        raise UserError(f"bad stages_params.{name}: {err}") from None


def _peek(frames: Iterable):
    """(first item or None, an iterator over all items)."""
    iterator = iter(frames)
    first = next(iterator, None)
    if first is None:
        return None, iter(())

    def chain():
        yield first
        yield from iterator

    return first, chain()


def apply_stages(frames: Iterable, names, params: dict | None = None, device="cpu", smoothing=True,
                 flow: str | None = "auto", motions: Iterable | None = None,
                 report: Callable[[str], None] | None = None) -> Iterator[np.ndarray]:
    """Run the stages `names` (a list or 'a,b,c'), in that order, over `frames`; yield HxWx3 float32 frames.

    names: stage names, or ready Stage instances (used as they are; params for them only set smoothing).
    frames: HxWx3 uint8 or float [0, 1] arrays, or animated frames (engine.animate.AnimatedFrame: their
        .image is processed and, with return_motion=True, their motion drives the 'motion' flow).
    params: the stages_params dict: {stage name: {option: value, ..., smoothing: {...}}, smoothing: {...}}
        (a whole run config is accepted too: its stages_params section is used).
    smoothing: True (as params say), False (off), a strength in [0, 1], or a dict of smoothing options;
        it overrides params['smoothing'] and is overridden by params[<stage>]['smoothing'].
    flow: 'auto' (= 'ensemble': DIS + Farneback + the animation's motion when known), 'farneback', 'dis',
        'ensemble' or 'motion';
        None leaves it to params' smoothing.flow.
    motions: per-frame motion (objects with .deformation and .occlusion), when `frames` are plain images.
    report: where one-line descriptions of the stages go (default: this module's logger at INFO).
    Stages are built (and their models loaded) before this returns; frames are processed lazily, one
    at a time. Each stage's output is blended with its previous output warped to the current frame
    (flow on the stage's input frames, or the animation's motion), weighted by strength x reliability;
    a stage with uses_init also gets that warped output as init=. A stage's side output 'depth' is
    smoothed the same way and handed to later stages in FrameContext.depth.
    """
    if isinstance(names, Stage) or (not isinstance(names, str) and any(isinstance(n, Stage) for n in names)):
        items = [names] if isinstance(names, Stage) else list(names)
    else:
        items = parse_stage_list(names)
    names = [item.name if isinstance(item, Stage) else parse_stage_list([item])[0] for item in items]
    params = dict(params or {})
    if "stages_params" in params:  # a whole run config was given: use its stages_params section
        params = dict(params["stages_params"] or {})
    _check_params(params, names)
    say = report or log.info
    first, frames = _peek(frames)
    motion_iter = iter(motions) if motions is not None else None
    have_motion = motion_iter is not None or (first is not None and _split(first)[1] is not None)

    runners: list[_Runner] = []
    for name, item in zip(names, items):
        cls = type(item) if isinstance(item, Stage) else get_stage(name)
        stage_params = dict(params.get(name) or {})
        stage_smoothing = stage_params.pop("smoothing", None)
        options = smoothing_options(getattr(cls, "smoothing_defaults", None), params.get("smoothing"),
                                    smoothing, {"flow": flow} if flow is not None else None, stage_smoothing)
        flow_name = resolve_flow_name(options["flow"], have_motion)
        if options["enabled"]:
            get_flow(flow_name)  # fail now on an unknown name
        stage = item if isinstance(item, Stage) else _build_stage(cls, name, stage_params, device)
        stage.reset()
        say(f"{stage.describe()}; {describe_smoothing(options, flow_name)}")
        runners.append(_Runner(stage, options, flow_name,
                               TemporalSmoother(options["strength"], options["init_strength"]), {}))
    return _run(frames, runners, motion_iter)


def _run(frames: Iterator, runners: list[_Runner], motion_iter) -> Iterator[np.ndarray]:
    trackers: dict[tuple, FlowTracker] = {}
    for index, item in enumerate(frames):
        image, motion = _split(item)
        if motion_iter is not None:
            motion = next(motion_iter, None)
            if motion is None:
                raise UserError(f"motions ran out at frame {index}: pass one motion per frame")
        raw = as_frame(image)
        ctx = FrameContext(index=index, motion=motion)
        pairs: dict[tuple, object] = {}  # this frame's (flow, reliability) per stream, computed once
        x = raw
        for position, runner in enumerate(runners):
            stage, options = runner.stage, runner.options
            pair = None
            if options["enabled"]:
                method_key = (runner.flow_name, *(options[k] for k in FLOW_KEYS))
                motion_flow = runner.flow_name == "motion"
                on_raw = motion_flow or options["flow_on"] == "raw" or position == 0
                key = (method_key, "raw" if on_raw else position)
                if key not in pairs:
                    tracker = trackers.get(key)
                    if tracker is None:
                        method = get_flow(runner.flow_name)
                        tracker = trackers[key] = FlowTracker(method, options)
                    source = raw if on_raw else x
                    if needs_motion(tracker.method) and motion is None:
                        raise UserError(f"frame {index} carries no motion for the 'motion' flow; animate with "
                                        "return_motion=True or choose the farneback or dis flow")
                    pairs[key] = tracker.update(source, motion)
                pair = pairs[key]
            flow, reliability = pair if pair is not None else (None, None)
            if stage.uses_init:
                init = runner.smoother.init(x, flow, reliability) if pair is not None else None
                out = stage.process(x, ctx, init=init)
            else:
                out = stage.process(x, ctx)
            out = as_frame(out)
            if options["enabled"]:
                out = runner.smoother(out, flow, reliability)
            side = stage.side_outputs() or {}
            depth = side.get("depth")
            if depth is not None:
                depth = np.clip(np.asarray(depth, dtype=np.float32), 0.0, 1.0)
                if options["enabled"]:
                    smoother = runner.side_smoothers.setdefault(
                        "depth", TemporalSmoother(options["strength"], options["init_strength"]))
                    depth = smoother(depth, flow, reliability)
                ctx.depth = depth
            x = out
        yield x
