"""The "depth" stage: relative inverse depth (1 = near) per frame, as a colour map or a mask for later stages.

Backends (stages_params.depth.backend):
  midas       MiDaS / DPT (Ranftl et al.) through torch.hub, used only when BOTH its hub repo (e.g.
              <torch.hub.get_dir()>/intel-isl_MiDaS_master/hubconf.py) and its weights (e.g.
              <hub>/checkpoints/midas_v21_small_256.pt or dpt_*_384.pt) are already on disk. Nothing is
              ever downloaded: any download attempted while loading is refused.
  face_prior  the offline default: no learned depth at all, a shape prior placed by face landmarks (faces
              backend): a head ellipsoid fitted to the 68 landmarks with the nose nearest, a neck and
              shoulders below it, a far background; its silhouette is snapped to image edges with a
              guided filter (He et al. 2010). Plausible for talking heads, meaningless for other scenes.
  auto        midas when it is on disk and loads, else face_prior (the stage's report line says which).
Output (stages_params.depth.output), i.e. what the stage does to the picture it receives:
  auto        (default) mask when other stages run with it, colormap when it runs alone.
  mask        depth is a mask for the stages around it: the work of the stages before it is kept on the
              near parts and faded back to the unprocessed frame in the background (out = raw + m (in - raw)),
              and the stages after it (dream, style) apply their effect weighted by m (FrameContext.mask).
              m = depth ** mask_power with focus near, (1 - depth) ** mask_power with focus far (the
              background is dreamed / stylised more), or a 0/1 mask with threshold.
  colormap    the depth itself through a colour map (alias: color). After other stages this would discard
              their work, so it is refused there (put depth first, or use output mask).
  passthrough the picture unchanged; the depth is only handed on (FrameContext.depth) for stages that ask
              for it explicitly (dream use_depth: true).
The depth is estimated on the pipeline's unprocessed input frame (FrameContext.raw) when there is one: a
dreamed or stylised picture has no reliable geometry.
"""
from __future__ import annotations

import logging

import cv2
import numpy as np

from errors import UserError
from stages.base import FrameContext, Stage
from stages.depth_backends import BACKENDS, BackendUnavailable, FacePriorDepth, MidasDepth
from stages.registry import register_stage
from video.image import to_float, to_uint8

log = logging.getLogger(__name__)

COLORMAPS = {"turbo": cv2.COLORMAP_TURBO, "inferno": cv2.COLORMAP_INFERNO, "magma": cv2.COLORMAP_MAGMA,
             "plasma": cv2.COLORMAP_PLASMA, "viridis": cv2.COLORMAP_VIRIDIS, "gray": None}
OUTPUTS = ("auto", "mask", "colormap", "color", "passthrough")
FOCUS = ("near", "far")

DEFAULTS = {
    "backend": "auto",  # auto | midas | face_prior
    "output": "auto",  # auto | mask | colormap (alias color) | passthrough
    "focus": "near",  # mask: near (near parts get more of the other stages' effect) | far (the background does)
    "mask_power": 1.0,  # mask: m = depth ** mask_power (far: (1 - depth) ** mask_power); > 1 narrows the near part
    "threshold": None,  # mask: a depth in (0, 1) for a 0/1 mask (depth >= threshold is near) instead
    "colormap": "inferno",  # one of COLORMAPS (inferno: near is bright)
    "model": "auto",  # midas: a hub entry (MiDaS_small, DPT_Hybrid, DPT_Large, MiDaS) or auto
    "range_momentum": 0.9,  # midas: exponential smoothing of the per-frame normalisation range
    "refine": True,  # face_prior: snap the prior to image edges with a guided filter
    "face_backend": "auto",  # face_prior: faces backend giving the 68 landmarks
    "hold": 12,  # face_prior: frames to keep the last landmarks when a frame shows no face
}


def colorize(depth: np.ndarray, colormap: str = "inferno") -> np.ndarray:
    """HxW depth in [0, 1] -> HxWx3 float32 RGB in [0, 1] through an OpenCV colour map (gray: as is)."""
    if colormap not in COLORMAPS:
        raise UserError(f"unknown depth colormap {colormap!r}; choose one of: {', '.join(COLORMAPS)}")
    d = np.clip(np.asarray(depth, dtype=np.float32), 0.0, 1.0)
    if COLORMAPS[colormap] is None:
        return np.repeat(d[..., None], 3, axis=2)
    bgr = cv2.applyColorMap(to_uint8(d), COLORMAPS[colormap])
    return to_float(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def depth_mask(depth: np.ndarray, depth_str=1.0, use_threshold=False, th_val=0.5, invert=False) -> np.ndarray:
    """Per-pixel effect weight from a depth map in [0, 1] (1 = near): depth ** depth_str, a binary mask with
    use_threshold (depth >= th_val), and the complement (the background) with invert."""
    d = np.clip(np.asarray(depth, dtype=np.float32), 0.0, 1.0)
    if use_threshold:
        near = (d >= th_val).astype(np.float32)
        return 1.0 - near if invert else near
    return ((1.0 - d) if invert else d) ** float(depth_str)


# ------------------------------------------------------------------------------------- the stage


@register_stage("depth")
class DepthStage(Stage):
    """Relative inverse depth in [0, 1] (1 = near) of each frame; see the module docstring for backends."""

    def __init__(self, device="cpu", **params):
        unknown = sorted(set(params) - set(DEFAULTS))
        if unknown:
            raise UserError(f"unknown stages_params.depth option(s) {', '.join(unknown)}; known: "
                            f"{', '.join(DEFAULTS)}")
        options = {**DEFAULTS, **params}
        super().__init__(device=device, **options)
        if options["output"] not in OUTPUTS:
            raise UserError(f"stages_params.depth.output must be one of {', '.join(OUTPUTS)}, "
                            f"got {options['output']!r}")
        if options["colormap"] not in COLORMAPS:
            raise UserError(f"unknown depth colormap {options['colormap']!r}; choose one of: {', '.join(COLORMAPS)}")
        choice = options["backend"]
        if choice not in ("auto", *BACKENDS):
            raise BACKENDS.unknown(choice, ["auto", *BACKENDS])
        self.note = ""
        if choice == "face_prior":
            self.backend = FacePriorDepth(device, **options)
        else:
            try:
                self.backend = MidasDepth(device, **options)
            except BackendUnavailable as err:
                if choice == "midas":
                    raise UserError(f"depth backend 'midas' is unavailable: {err}; put the MiDaS hub repo and "
                                    "weights in the torch.hub cache, or use backend: auto") from None
                self.backend = FacePriorDepth(device, **options)
                self.note = f" [MiDaS not used: {err}]"
        if options["focus"] not in FOCUS:
            raise UserError(f"stages_params.depth.focus must be near or far, got {options['focus']!r}")
        power, threshold = options["mask_power"], options["threshold"]
        if isinstance(power, bool) or not isinstance(power, (int, float)) or not power > 0:
            raise UserError(f"stages_params.depth.mask_power must be a number above 0, got {power!r}")
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                      or not 0 < threshold < 1):
            raise UserError("stages_params.depth.threshold must be a depth between 0 and 1 (or null), "
                            f"got {threshold!r}")
        self.asked = "colormap" if options["output"] == "color" else options["output"]
        self.output = "colormap" if self.asked == "auto" else self.asked   # alone until place() says otherwise
        self.focus, self.mask_power, self.threshold = options["focus"], float(power), threshold
        self.colormap = options["colormap"]
        self.momentum = float(options["range_momentum"])
        self.before: list[str] = []
        self.after: list[str] = []
        self.reset()

    @property
    def gives_mask(self) -> bool:
        return self.output == "mask"

    @property
    def smooths_output(self) -> bool:
        """Only the colour map is a picture of its own; the masked picture is made of smoothed pictures."""
        return self.output == "colormap"

    def place(self, before, after, mask_from=None) -> None:
        self.before, self.after = list(before), list(after)
        if self.asked == "auto":
            self.output = "mask" if (before or after) else "colormap"
        elif self.asked == "colormap" and before:
            raise UserError(f"depth output colormap after {', '.join(before)} would replace their work with a "
                            f"depth picture; put depth first (--stages depth,{','.join(before)}) or drop "
                            "depth.output to mask their work by depth")

    def mask(self, depth: np.ndarray) -> np.ndarray:
        """The per-pixel weight of the other stages' effect for a depth map (focus, mask_power, threshold)."""
        return depth_mask(depth, self.mask_power, self.threshold is not None, self.threshold or 0.5,
                          invert=self.focus == "far")

    def mask_phrase(self) -> str:
        """How the mask weights an effect, e.g. 'depth ** 1: near parts more than the background'."""
        where = "near parts" if self.focus == "near" else "background"
        other = "background" if self.focus == "near" else "near parts"
        if self.threshold is not None:
            return f"only on the {where} (depth {'>=' if self.focus == 'near' else '<'} {self.threshold:g})"
        rule = "depth" if self.focus == "near" else "(1 - depth)"
        power = "" if self.mask_power == 1 else f" ** {self.mask_power:g}"
        return f"on the {where} more than the {other} (weight {rule}{power})"

    def reset(self) -> None:
        self._depth = None
        self._mask = None
        self._range = None
        reset = getattr(self.backend, "reset", None)
        if reset is not None:
            reset()

    def _normalise(self, raw: np.ndarray) -> np.ndarray:
        """Raw MiDaS output -> [0, 1] by a robust range (2nd-98th percentile) smoothed over frames."""
        lo, hi = (float(v) for v in np.percentile(raw, [2, 98]))
        if self._range is not None:
            m = self.momentum
            lo, hi = m * self._range[0] + (1 - m) * lo, m * self._range[1] + (1 - m) * hi
        self._range = (lo, hi)
        return np.clip((raw - lo) / max(hi - lo, 1e-6), 0.0, 1.0).astype(np.float32)

    def estimate(self, frame: np.ndarray) -> np.ndarray:
        """HxW float32 inverse depth in [0, 1] (1 = near) of an HxWx3 float32 frame."""
        raw = self.backend.estimate(np.ascontiguousarray(frame, dtype=np.float32))
        return raw if isinstance(self.backend, FacePriorDepth) else self._normalise(raw)

    def process(self, frame: np.ndarray, ctx: FrameContext, init=None) -> np.ndarray:
        frame = np.asarray(frame, dtype=np.float32)
        raw = frame if ctx.raw is None else np.asarray(ctx.raw, dtype=np.float32)
        self._depth = self.estimate(raw)
        self._mask = None
        if self.output == "colormap":
            return colorize(self._depth, self.colormap)
        if self.output == "passthrough":
            return frame
        self._mask = self.mask(self._depth)
        return frame   # the pipeline blends the earlier stages' work by the (smoothed) mask

    def side_outputs(self) -> dict:
        out = {} if self._depth is None else {"depth": self._depth}
        if self._mask is not None:
            out["mask"] = self._mask
        return out

    def describe(self) -> str:
        shown = {"colormap": f"colour map {self.colormap}", "passthrough": "passthrough (depth for later stages)",
                 "mask": f"mask, focus {self.focus}"}[self.output]
        return f"stage depth: {self.backend.describe()}{self.note}; output {shown}"

    def effect(self) -> str:
        if self.output == "colormap":
            return f"replaces the picture with its depth through the {self.colormap} colour map (near is bright)"
        if self.output == "passthrough":
            return "leaves the picture unchanged and hands its depth on to stages that ask for it (use_depth)"
        parts = []
        if self.before:
            parts.append(f"keeps the work of {', '.join(self.before)} {self.mask_phrase()}, fading it to the "
                         "unprocessed frame elsewhere")
        else:
            parts.append("leaves the picture unchanged")
        if self.after:
            parts.append(f"{', '.join(self.after)} act {self.mask_phrase()}")
        return "; ".join(parts)
