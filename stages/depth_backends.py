"""The depth stage's backends: the face-landmark shape prior (offline default) and MiDaS / DPT from the
torch.hub cache (never downloaded), behind register_depth_backend."""
from __future__ import annotations

import contextlib
import math
from pathlib import Path

import cv2
import numpy as np

from errors import UserError
from registry import Registry
from video.image import to_uint8


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


BACKENDS = Registry("depth backend")


def register_depth_backend(name: str):
    """Class decorator: a depth backend with estimate(frame) -> HxW float32 (larger = nearer) and describe()."""
    return BACKENDS.register(name)


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
