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

import contextlib
import logging
import math
from pathlib import Path

import cv2
import numpy as np

from errors import UserError
from registry import Registry
from stages.base import FrameContext, Stage
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


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Edge-preserving smoothing of `src` (HxW) steered by a gray `guide` (HxW), He, Sun & Tang 2010."""
    size = (2 * int(radius) + 1,) * 2

    def box(a):
        return cv2.boxFilter(a, -1, size, borderType=cv2.BORDER_REFLECT)

    guide = guide.astype(np.float32)
    src = src.astype(np.float32)
    mean_i, mean_p = box(guide), box(src)
    var_i = box(guide * guide) - mean_i * mean_i
    cov_ip = box(guide * src) - mean_i * mean_p
    a = cov_ip / (var_i + eps)
    b = mean_p - a * mean_i
    return box(a) * guide + box(b)


# ------------------------------------------------------------------------------------- backends

_BACKENDS = Registry("depth backend")


def register_depth_backend(name: str):
    """Class decorator: a depth backend with estimate(frame) -> HxW float32 (larger = nearer) and describe()."""
    return _BACKENDS.register(name)


class BackendUnavailable(Exception):
    """A depth backend cannot run here; the message says why (one line)."""


def face_prior_depth(shape: tuple[int, int], landmarks: np.ndarray | None) -> np.ndarray:
    """HxW float32 inverse depth in [0, 1] from 68 (x, y) face landmarks: far background, shoulders,
    neck, a head ellipsoid (rolled with the eye line) and the nose nearest. No landmarks: the background
    with a soft, centred subject blob."""
    h, w = int(shape[0]), int(shape[1])
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    depth = 0.06 + 0.08 * ys / max(h - 1, 1)  # far background, the lower part a little nearer
    if landmarks is None:
        blob = np.exp(-(((xs - 0.5 * w) / (0.3 * w)) ** 2) - (((ys - 0.6 * h) / (0.45 * h)) ** 2))
        return np.clip(depth + 0.3 * blob, 0.0, 1.0).astype(np.float32)
    lm = np.asarray(landmarks, dtype=np.float32)
    chin = lm[8]
    brow = lm[17:27].mean(axis=0)
    eye_l, eye_r = lm[36:42].mean(axis=0), lm[42:48].mean(axis=0)
    across = eye_r - eye_l
    across /= max(float(np.hypot(*across)), 1e-6)
    up = np.array([across[1], -across[0]], np.float32)  # perpendicular to the eye line, towards the brows
    if float(np.dot(brow - chin, up)) < 0:
        up = -up
    face_w = max(float(np.hypot(*(lm[16] - lm[0]))), 4.0)
    lower = max(float(np.dot(brow - chin, up)), 4.0)  # chin to brow line
    top = brow + up * 0.75 * lower  # the top of the head, hair included
    centre = 0.5 * (chin + top)
    half_h = 0.5 * float(np.dot(top - chin, up)) * 1.05
    half_w = 0.5 * face_w * 1.12

    def local(point):  # (u across, v up) coordinates of every pixel around a point
        dx, dy = xs - point[0], ys - point[1]
        return dx * across[0] + dy * across[1], dx * up[0] + dy * up[1]

    # shoulders and torso: a rounded block from below the chin to the bottom of the frame
    u, v = local(chin - up * 0.85 * lower)
    torso_w = 1.6 * face_w
    round_top = 1.0 - (u / torso_w) ** 2 - np.maximum(v, 0) ** 2 / (0.5 * lower) ** 2
    torso = np.where(round_top > 0, 0.33 + 0.14 * np.sqrt(np.clip(1.0 - (u / torso_w) ** 2, 0, 1)), 0.0)
    # the neck, between the chin and the shoulders
    u, v = local(chin)
    neck = np.where((np.abs(u) < 0.32 * face_w) & (v < 0) & (v > -1.3 * lower), 0.5, 0.0)
    # the head ellipsoid
    u, v = local(centre)
    r2 = (u / half_w) ** 2 + (v / half_h) ** 2
    head = np.where(r2 < 1.0, 0.55 + 0.3 * np.sqrt(np.clip(1.0 - r2, 0.0, 1.0)), 0.0)
    # the nose: a ridge from its bridge to the tip, the tip nearest; eye sockets a little deeper
    bridge, tip = lm[27], lm[30]
    nose_len = max(float(np.hypot(*(tip - bridge))), 2.0)
    seg = tip - bridge
    t = np.clip(((xs - bridge[0]) * seg[0] + (ys - bridge[1]) * seg[1]) / (nose_len**2), 0.0, 1.0)
    ridge_d2 = (xs - bridge[0] - t * seg[0]) ** 2 + (ys - bridge[1] - t * seg[1]) ** 2
    face_detail = 0.07 * t * np.exp(-ridge_d2 / (2 * (0.22 * nose_len) ** 2))
    face_detail += 0.06 * np.exp(-((xs - tip[0]) ** 2 + (ys - tip[1]) ** 2) / (2 * (0.35 * nose_len) ** 2))
    for eye in (eye_l, eye_r):
        face_detail -= 0.04 * np.exp(-((xs - eye[0]) ** 2 + (ys - eye[1]) ** 2) / (2 * (0.16 * face_w) ** 2))
    head = np.where(head > 0, head + face_detail, 0.0)
    depth = np.maximum.reduce([depth, torso, neck, head]).astype(np.float32)
    sigma = max(0.6, 0.025 * face_w)  # soft silhouettes
    depth = cv2.GaussianBlur(depth, (0, 0), sigma)
    return np.clip(depth, 0.0, 1.0).astype(np.float32)


@register_depth_backend("face_prior")
class FacePriorDepth:
    """The offline default: a face-landmark-placed head/shoulders shape prior (see face_prior_depth)."""

    def __init__(self, device="cpu", face_backend: str = "auto", refine: bool = True, hold: int = 12, **unused):
        from faces import get_backend

        self.refine = bool(refine)
        self.hold = int(hold)
        self.faces = None
        self.faces_note = ""
        try:
            self.faces = get_backend(face_backend, landmarks=True)
        except UserError as err:  # no landmarks here: the no-face prior on every frame, and say so
            self.faces_note = f"; no face landmarks ({err})"
        self.reset()

    def reset(self) -> None:
        self._last = None
        self._missing = 0

    def _landmarks(self, frame: np.ndarray) -> np.ndarray | None:
        if self.faces is None:
            return None
        h, w = frame.shape[:2]
        scale = max(1.0, 256.0 / min(h, w))  # the HOG detector misses faces under ~80 px: look bigger
        image = to_uint8(frame)
        if scale > 1.0:
            image = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)
        found = self.faces.landmarks(image)
        if found is None:
            self._missing += 1
            return self._last if self._missing <= self.hold else None
        self._last, self._missing = np.asarray(found, np.float32) / scale, 0
        return self._last

    def estimate(self, frame: np.ndarray) -> np.ndarray:
        depth = face_prior_depth(frame.shape[:2], self._landmarks(frame))
        if self.refine:
            gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
            radius = max(2, round(min(frame.shape[:2]) / 48))
            depth = guided_filter(gray, depth, radius, 1e-2)
        return np.clip(depth, 0.0, 1.0).astype(np.float32)

    def describe(self) -> str:
        who = self.faces.name if self.faces is not None else "none"
        refine = ", guided-filter refined" if self.refine else ""
        return (f"offline face prior (no learned depth: {who} landmarks -> head ellipsoid + shoulders on a far "
                f"background{refine}){self.faces_note}")


# MiDaS hub entries: (entry, checkpoint file names it loads, network input size, input normalisation)
MIDAS_MODELS = (
    ("MiDaS_small", ("midas_v21_small_256.pt", "midas_v21_small-70d6b9c8.pt"), 256, "imagenet"),
    ("DPT_Hybrid", ("dpt_hybrid_384.pt", "dpt_hybrid-midas-501f0c75.pt"), 384, "half"),
    ("DPT_Large", ("dpt_large_384.pt", "dpt_large-midas-2f21e586.pt"), 384, "half"),
    ("MiDaS", ("midas_v21_384.pt", "midas_v21-f6b98070.pt"), 384, "imagenet"),
)
_NORMALISATION = {"imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)), "half": ((0.5,) * 3, (0.5,) * 3)}


def find_midas(model: str = "auto", hub_dir: str | Path | None = None) -> tuple[Path, str, Path, int, str]:
    """(repo dir, hub entry, weights file, input size, normalisation) of a MiDaS model fully on disk in the
    torch.hub cache; BackendUnavailable saying what is missing otherwise."""
    import torch

    hub = Path(hub_dir) if hub_dir is not None else Path(torch.hub.get_dir())
    repos = sorted(p for p in hub.glob("*MiDaS*") if (p / "hubconf.py").is_file()) if hub.is_dir() else []
    if not repos:
        raise BackendUnavailable(f"no MiDaS hub repo (*_MiDaS_master/hubconf.py) in {hub}")
    known = [m[0] for m in MIDAS_MODELS]
    if model != "auto" and model not in known:
        raise UserError(f"unknown MiDaS model {model!r}; choose auto or one of: {', '.join(known)}")
    for entry, files, size, norm in MIDAS_MODELS:
        if model not in ("auto", entry):
            continue
        for name in files:
            weights = hub / "checkpoints" / name
            if weights.is_file():
                return repos[0], entry, weights, size, norm
    wanted = [f for m in MIDAS_MODELS if model in ("auto", m[0]) for f in m[1][:1]]
    raise BackendUnavailable(f"no MiDaS weights ({' or '.join(wanted)}) in {hub / 'checkpoints'}")


class _DownloadRefused(Exception):
    pass


@contextlib.contextmanager
def _no_downloads():
    """torch.hub may read its cache but never fetch: a download attempt raises _DownloadRefused."""
    import torch.hub as hub

    def refuse(*args, **kwargs):
        raise _DownloadRefused(f"it tried to download {args[0] if args else 'a file'}")

    saved = {name: getattr(hub, name) for name in ("download_url_to_file", "urlopen") if hasattr(hub, name)}
    for name in saved:
        setattr(hub, name, refuse)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(hub, name, value)


@register_depth_backend("midas")
class MidasDepth:
    """MiDaS / DPT from the local torch.hub cache (repo + weights must both be there; never downloads)."""

    def __init__(self, device="cpu", model: str = "auto", **unused):
        import torch

        repo, entry, weights, size, norm = find_midas(model)
        try:
            with _no_downloads():
                net = torch.hub.load(str(repo), entry, source="local", pretrained=True, verbose=False)
        except _DownloadRefused as err:
            raise BackendUnavailable(f"MiDaS {entry} from {repo} is incomplete on disk: {err}") from None
        except Exception as err:  # a third-party repo can fail in any way; auto falls back and says why
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise BackendUnavailable(f"MiDaS {entry} from {repo} does not load: {reason}") from None
        self.device = torch.device(device)
        self.net = net.to(self.device).eval()
        self.entry, self.repo, self.weights, self.size = entry, repo, weights, size
        mean, std = _NORMALISATION[norm]
        self.mean = torch.tensor(mean, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(std, device=self.device).view(1, 3, 1, 1)

    def reset(self) -> None:
        pass

    def estimate(self, frame: np.ndarray) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        h, w = frame.shape[:2]
        scale = self.size / max(h, w)  # fit inside size x size, sides a multiple of 32 (MiDaS's upper_bound)
        nh, nw = (max(32, int(math.ceil(s * scale / 32)) * 32) for s in (h, w))
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None].to(self.device)
            x = F.interpolate(x, size=(nh, nw), mode="bicubic", align_corners=False).clamp(0, 1)
            pred = self.net((x - self.mean) / self.std)
            if pred.dim() == 3:
                pred = pred[:, None]
            pred = F.interpolate(pred.float(), size=(h, w), mode="bicubic", align_corners=False)
        return pred[0, 0].cpu().numpy().astype(np.float32)

    def describe(self) -> str:
        return f"MiDaS {self.entry} (pretrained weights {self.weights.name}, hub repo {self.repo}) on {self.device}"


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
        if choice not in ("auto", *_BACKENDS):
            raise _BACKENDS.unknown(choice, ["auto", *_BACKENDS])
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
