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
    raw: the pipeline's input frame (HxWx3 float32 in [0, 1]) before any stage touched it, else None.
    mask: HxW float32 in [0, 1], how much of their effect later stages should apply per pixel (from a depth
        stage with output mask: the near parts, or the background with focus far), else None.
    """

    index: int
    depth: np.ndarray | None = None
    motion: object | None = None
    raw: np.ndarray | None = None
    mask: np.ndarray | None = None


class Stage:
    """A post-processing stage: one frame in, one frame out, both HxWx3 float32 in [0, 1].

    Subclasses set `name` (register_stage does) and implement process(). A stage with uses_init = True
    accepts init= in process(): the previous output warped onto this frame (and blended with it where the
    warp is unreliable), to continue from, as sequence DeepDream does; others get init=None.
    smoothing_defaults: this stage's defaults for the shared temporal smoothing (e.g. {"strength": 0.8}),
    applied under what the user sets in stages_params.
    smooths_output: False for a stage whose output is already-smoothed pictures recombined (the depth mask):
    the pipeline then smooths only its side outputs.
    gives_mask: True for a stage that leaves FrameContext.mask for the later stages (set in place()).
    handles_mask: True for a stage that weights its own effect by FrameContext.mask (dream, style); for the
    others the pipeline does it: out = in + mask (out - in).
    """

    name = "base"
    uses_init = False
    smoothing_defaults: dict = {}
    smooths_output = True
    gives_mask = False
    handles_mask = False

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

    def place(self, before: list[str], after: list[str], mask_from: Stage | None = None) -> None:
        """Told, before the first frame, which stages run before and after it (names, in order) and which
        earlier stage (if any) leaves a depth mask in FrameContext.mask; may refuse the combination with a
        UserError (e.g. a picture that would discard the earlier stages' work)."""

    def describe(self) -> str:
        """One line saying what this stage runs (model, backend, device), printed when the stage starts."""
        return f"stage {self.name}"

    def effect(self) -> str:
        """One line saying what this stage does to the picture it receives (after place())."""
        return "processes the picture it receives"

    def later_frame_share(self) -> float:
        """Expected cost of a later frame as a share of the first frame's (1: the same; dream's warm start
        makes later frames cheaper); used for the up-front time estimate."""
        return 1.0
