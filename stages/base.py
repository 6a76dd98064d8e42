"""The Stage interface every post-processing stage implements, and the per-frame context it receives."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class FrameContext:
    """What a stage knows about the frame besides its pixels.

    index: the frame's position in the video (0 = first).
    depth: HxW float32 relative inverse depth in [0, 1] (1 = near), from an earlier depth stage, else None.
    motion: the animated frame's motion (an object with .deformation hxwx2 and .occlusion hxw, e.g.
        engine.animate.AnimatedFrame) when the frames come from an animation, else None.
    """

    index: int
    depth: np.ndarray | None = None
    motion: object | None = None


class Stage:
    """A post-processing stage: one frame in, one frame out, both HxWx3 float32 in [0, 1].

    Subclasses set `name` (register_stage does) and implement process(). A stage with uses_init = True
    accepts init= in process(): the previous output warped onto this frame (and blended with it where the
    warp is unreliable), to continue from, as sequence DeepDream does; others get init=None.
    smoothing_defaults: this stage's defaults for the shared temporal smoothing (e.g. {"strength": 0.8}),
    applied under what the user sets in stages_params.
    """

    name = "base"
    uses_init = False
    smoothing_defaults: dict = {}

    def __init__(self, device="cpu", **params):
        self.device = device
        self.params = dict(params)

    def process(self, frame: np.ndarray, ctx: FrameContext, init: np.ndarray | None = None) -> np.ndarray:
        """The processed frame, HxWx3 float32 in [0, 1] (same size as `frame`)."""
        raise NotImplementedError

    def side_outputs(self) -> dict:
        """Per-frame side outputs of the last processed frame, e.g. {"depth": HxW float32 in [0, 1]}."""
        return {}

    def reset(self) -> None:
        """Forget everything about the previous frames: a new video starts."""

    def describe(self) -> str:
        """One line saying what this stage runs (model, backend, device), printed when the stage starts."""
        return f"stage {self.name}"
