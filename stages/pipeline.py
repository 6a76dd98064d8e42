"""Running stages over a stream of frames, in order, each output temporally smoothed along the flow."""
from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from errors import UserError
from motion.registry import get_flow, needs_motion
from stages.base import FrameContext, Stage
from stages.progress import StageClock
from stages.registry import get_stage, known_stage_names, parse_stage_list
from stages.smoothing import (
    FlowTracker,
    TemporalSmoother,
    describe_smoothing,
    resolve_flow_name,
    smoothing_options,
)
from video.image import to_float

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
    return np.clip(to_float(a[..., :3]), 0.0, 1.0)


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
                 report: Callable[[str], None] | None = None, total: int | None = None,
                 progress: bool = False) -> StageRun:
    """Run the stages `names` (a list or 'a,b,c'), in that order, over `frames`; iterate HxWx3 float32 frames.

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
    report: where the one-line reports go (default: this module's logger at INFO): per stage what it does
        to the picture it receives and what it runs; after the first frame, the expected time of the rest.
    total: the number of frames, when known, for that estimate and the progress bar.
    progress: show a progress bar (frames, and seconds per frame of each stage).
    Stages are built (and their models loaded) before this returns; frames are processed lazily, one
    at a time. Each stage's output is blended with its previous output warped to the current frame
    (flow on the stage's input frames, or the animation's motion), weighted by strength x reliability;
    a stage with uses_init also gets that warped output as init=. A stage's side outputs 'depth' and 'mask'
    are smoothed the same way and handed to later stages in FrameContext.depth / .mask; a later stage that
    does not weight its effect by the mask itself (handles_mask) is blended with its input by it.
    The returned StageRun is an iterator of frames; its clock (StageClock) has the seconds per frame.
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
        runners.append(_Runner(stage, options, flow_name,
                               TemporalSmoother(options["strength"], options["init_strength"]), {}))
    mask_from = None
    for position, runner in enumerate(runners):  # composition first: a refused one costs no frame
        runner.stage.place(names[:position], names[position + 1:], mask_from)
        if runner.stage.gives_mask:
            mask_from = runner.stage
    for position, runner in enumerate(runners):
        say(f"{runner.stage.describe()}; {describe_smoothing(runner.options, runner.flow_name)}")
        say(f"  {names[position]} ({position + 1}/{len(runners)}) {runner.stage.effect()}")
    return StageRun(frames, runners, names, motion_iter, say, total, progress)


class StageRun(Iterator[np.ndarray]):
    """The frames of a stage run, made one at a time as they are asked for; .clock has the seconds per frame
    per stage (StageClock.summary() for a progress bar)."""

    def __init__(self, frames: Iterator, runners: list[_Runner], names: list[str], motion_iter, say, total,
                 progress: bool):
        self.clock = StageClock([*names, "smoothing"])
        self.shares = {name: r.stage.later_frame_share() for name, r in zip(names, runners)}
        self._say, self._total = say, total
        self._frames = _run(frames, runners, names, motion_iter, self.clock)
        self._bar = None
        if progress:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="frame", desc="stages", dynamic_ncols=True)

    def __iter__(self):
        return self

    def __next__(self) -> np.ndarray:
        try:
            frame = next(self._frames)
        except BaseException:
            self.close()
            raise
        if self.clock.frames in (1, 2) and self._total != self.clock.frames:
            self._say(self.clock.estimate(self.shares, self._total))   # the first: one-off warm-up included
        if self._bar is not None:
            self._bar.set_postfix_str(self.clock.summary(), refresh=False)
            self._bar.update(1)
        return frame

    def summary(self) -> str:
        """Seconds per frame of each stage so far, e.g. 'dream 0.31 s/f | style 0.04 s/f | smoothing 0.02 s/f'."""
        return self.clock.summary()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _run(frames: Iterator, runners: list[_Runner], names: list[str], motion_iter,
         clock: StageClock) -> Iterator[np.ndarray]:
    """Each frame through every stage in turn: the stream's flow, the stage, its smoothing and side outputs."""
    trackers: dict[tuple, FlowTracker] = {}
    for index, item in enumerate(frames):
        image, motion = _split(item)
        if motion_iter is not None:
            motion = next(motion_iter, None)
            if motion is None:
                raise UserError(f"motions ran out at frame {index}: pass one motion per frame")
        raw = as_frame(image)
        ctx = FrameContext(index=index, motion=motion, raw=raw)
        pairs: dict[tuple, object] = {}  # this frame's (flow, reliability) per stream, computed once
        x = raw
        clock.start()
        for position, runner in enumerate(runners):
            stage, options = runner.stage, runner.options
            pair = None
            if options["enabled"]:
                pair = _flow_pair(runner, position, x, ctx, pairs, trackers)
                clock.stop("smoothing")
            flow, reliability = pair if pair is not None else (None, None)
            out = _process(runner, x, ctx, pair)
            clock.stop(names[position])
            if options["enabled"] and stage.smooths_output:
                out = runner.smoother(out, flow, reliability)
            _take_side_outputs(runner, ctx, flow, reliability)
            if stage.gives_mask and ctx.mask is not None and position > 0 and out.shape == raw.shape:
                out = raw + ctx.mask[..., None] * (out - raw)   # the earlier stages' work, by the mask
            clock.stop("smoothing")
            x = out
        clock.frame_done()
        yield x


def _flow_pair(runner: _Runner, position: int, x: np.ndarray, ctx: FrameContext, pairs: dict,
               trackers: dict) -> tuple:
    """(flow, reliability) of this runner's stream at this frame: on the raw frames (the motion flow, flow_on
    raw, the first stage) or on this stage's input; computed once per frame and stream, tracked across frames."""
    options = runner.options
    method_key = (runner.flow_name, *(options[k] for k in FLOW_KEYS))
    on_raw = runner.flow_name == "motion" or options["flow_on"] == "raw" or position == 0
    key = (method_key, "raw" if on_raw else position)
    if key not in pairs:
        tracker = trackers.get(key)
        if tracker is None:
            tracker = trackers[key] = FlowTracker(get_flow(runner.flow_name), options)
        if needs_motion(tracker.method) and ctx.motion is None:
            raise UserError(f"frame {ctx.index} carries no motion for the 'motion' flow; animate with "
                            "return_motion=True or choose the farneback or dis flow")
        pairs[key] = tracker.update(ctx.raw if on_raw else x, ctx.motion)
    return pairs[key]


def _process(runner: _Runner, x: np.ndarray, ctx: FrameContext, pair) -> np.ndarray:
    """The stage's output for input `x` (uses_init: started from its previous output warped by `pair`),
    weighted by an earlier stage's mask unless the stage does that itself."""
    stage = runner.stage
    if stage.uses_init:
        init = runner.smoother.init(x, *pair) if pair is not None else None
        out = stage.process(x, ctx, init=init)
    else:
        out = stage.process(x, ctx)
    out = as_frame(out)
    if ctx.mask is not None and not stage.handles_mask and out.shape == x.shape:
        out = x + ctx.mask[..., None] * (out - x)   # the depth mask weights this stage's effect
    return out


def _take_side_outputs(runner: _Runner, ctx: FrameContext, flow, reliability) -> None:
    """The stage's side outputs 'depth' and 'mask', clipped to [0, 1] and smoothed like its frames, into ctx."""
    side = runner.stage.side_outputs() or {}
    for key in ("depth", "mask"):
        value = side.get(key)
        if value is None:
            continue
        value = np.clip(np.asarray(value, dtype=np.float32), 0.0, 1.0)
        if runner.options["enabled"]:
            smoother = runner.side_smoothers.setdefault(
                key, TemporalSmoother(runner.options["strength"], runner.options["init_strength"]))
            value = smoother(value, flow, reliability)
        setattr(ctx, key, value)
