"""The "style" stage: fast neural style (a TransformerNet .pth) or Gatys optimisation on VGG19 features.

method: fast (default)
    model: a pytorch/examples-format TransformerNet .pth (default: the bundled checkpoints/style/scream.pth,
    trained offline on random-weight VGG16 features, see checkpoints/style/README.md).
method: optimize
    Gatys et al. 2016: the image itself is optimised (LBFGS or Adam) for content (relu4_1) + Gram-matrix
    style (relu1_1..relu5_1) + total variation, on VGG19 features (ImageNet weights when cached, else
    seeded random weights, which still carry texture statistics: He et al. 2016, Ustyuzhaninov et al. 2017).
    With init= (the warped previous result) it starts there and runs init_iterations, for coherent video.
Common: strength blends the result with the input (1 = fully styled); max_size caps the working size;
use_depth auto (default: after a depth stage with output mask, the blend is weighted per pixel by its mask,
FrameContext.mask: the near parts, or the background with depth focus far, are stylised more) | false.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from errors import UserError
from modules.vgg import VggTaps
from stages.backbones import load_vgg_features
from stages.base import FrameContext, Stage
from stages.registry import register_stage
from stages.style_net import load_transformer
from video import load_image

STYLE_DIR = Path(__file__).resolve().parents[1] / "checkpoints" / "style"
DEFAULT_MODEL = STYLE_DIR / "scream.pth"
DEFAULT_STYLE_IMAGE = STYLE_DIR / "scream_crop.jpg"
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")  # Gram-matrix style, VGG19 (Gatys et al.)
CONTENT_LAYER = "relu4_1"


def gram_matrix(f: torch.Tensor) -> torch.Tensor:
    """BxCxHxW features -> BxCxC Gram matrices divided by C*H*W."""
    b, c, h, w = f.shape
    f = f.reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between vertical and horizontal neighbours."""
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


def to_tensor(image: np.ndarray, device) -> torch.Tensor:
    """HxWx3 [0, 1] array -> contiguous 1x3xHxW float32 tensor on device."""
    t = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None]
    return t.to(device).contiguous()


def to_image(x: torch.Tensor) -> np.ndarray:
    return x[0].detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy().astype(np.float32)


def working_size(h: int, w: int, max_size: int | None, multiple: int = 1) -> tuple[int, int]:
    """(h, w) scaled down so the longer side is at most max_size, rounded to a multiple."""
    s = min(1.0, max_size / max(h, w)) if max_size else 1.0
    return (max(multiple, round(h * s / multiple) * multiple), max(multiple, round(w * s / multiple) * multiple))


def resize(x: torch.Tensor, size) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


class VggStyleFeatures(torch.nn.Module):
    """VGG19 activations {layer: activation} at STYLE_LAYERS for RGB input in [0, 1]."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone
        self.taps = VggTaps(backbone.model.features, "vgg19", STYLE_LAYERS)

    def forward(self, x):
        return self.taps(self.backbone.normalize(x))


@register_stage("style")
class StyleStage(Stage):
    """Fast neural style by default; method: optimize for Gatys-style per-frame optimisation."""

    def __init__(self, device="cpu", method="fast", model=None, strength=1.0, max_size=None,
                 style_image=None, weights="auto", seed=0, num_iterations=60, init_iterations=None,
                 optimizer="lbfgs", lr=0.02, content_weight=1.0, style_weight=10.0, tv_weight=3.0,
                 temporal_weight=0.0, style_scale=1.0, use_depth="auto", **params):
        super().__init__(device=device, **params)
        if params:
            raise UserError(f"style: unknown parameter(s) {', '.join(sorted(params))}; known: method, model, "
                            "strength, max_size, style_image, weights, seed, num_iterations, init_iterations, "
                            "optimizer, lr, content_weight, style_weight, tv_weight, temporal_weight, style_scale, "
                            "use_depth")
        if method not in ("fast", "optimize"):
            raise UserError(f"style: method {method!r} is unknown; use method: fast or method: optimize")
        if optimizer not in ("lbfgs", "adam"):
            raise UserError(f"style: optimizer {optimizer!r} is unknown; use lbfgs or adam")
        if not 0.0 <= float(strength) <= 1.0:
            raise UserError(f"style: strength {strength} is outside [0, 1]; pass a value from 0 to 1")
        if use_depth not in ("auto", False):
            raise UserError(f"style: use_depth must be auto or false, got {use_depth!r}; auto weights the style by "
                            "the mask of a depth stage before it")
        self.use_depth, self.mask_phrase = use_depth, None
        self.device = torch.device(device)
        self.method, self.strength, self.max_size = method, float(strength), max_size
        self.uses_init = method == "optimize"
        if method == "fast":
            path = Path(model) if model else DEFAULT_MODEL
            if not path.is_file() and model is None:
                raise UserError(f"the bundled style model {path} is missing; pass model: FILE.pth "
                                "or train one with train_style.py")
            self.net = load_transformer(path, self.device)
            bundled = model is None or path.resolve() == DEFAULT_MODEL.resolve()
            origin = ("bundled offline default, trained on random-weight VGG16 features" if bundled
                      else "user model")
            self._line = f"style: fast neural style, TransformerNet width {self.net.width} from {path} ({origin})"
            return
        self.num_iterations = int(num_iterations)
        self.init_iterations = int(init_iterations) if init_iterations is not None else max(1, self.num_iterations // 3)
        self.optimizer, self.lr = optimizer, float(lr)
        self.weights = (float(content_weight), float(style_weight), float(tv_weight), float(temporal_weight))
        backbone = load_vgg_features("vgg19", weights=weights, seed=seed, device=self.device)
        self.vgg = VggStyleFeatures(backbone)
        style_path = Path(style_image) if style_image else DEFAULT_STYLE_IMAGE
        style = to_tensor(load_image(style_path), self.device)
        if style_scale != 1.0:
            h, w = style.shape[-2:]
            style = resize(style, (max(16, round(h * style_scale)), max(16, round(w * style_scale))))
        with torch.no_grad():
            self.style_grams = [gram_matrix(f) for f in self.vgg(style).values()]
        self._line = (f"style: Gatys optimisation ({optimizer}, {self.num_iterations} it, {self.init_iterations} "
                      f"from init) towards {style_path.name} on {backbone.describe()}")

    handles_mask = True

    def describe(self) -> str:
        return self._line

    def place(self, before, after, mask_from=None) -> None:
        phrase = getattr(mask_from, "mask_phrase", None) if self.use_depth == "auto" else None
        self.mask_phrase = phrase() if callable(phrase) else None

    def effect(self) -> str:
        how = "fast neural style" if self.method == "fast" else "Gatys optimisation"
        line = f"repaints the picture it receives in the style ({how}, strength {self.strength:g})"
        return line + (f", {self.mask_phrase}" if self.mask_phrase else "")

    def process(self, frame: np.ndarray, ctx: FrameContext, init: np.ndarray | None = None) -> np.ndarray:
        h, w = frame.shape[:2]
        x = to_tensor(frame, self.device)
        if self.method == "fast":
            y = self._fast(x)
        else:
            y = self._optimize(x, None if init is None else to_tensor(init, self.device))
        y = resize(y, (h, w)).clamp(0, 1)
        weight = self.strength
        if ctx.mask is not None and self.use_depth == "auto":
            weight = self.strength * torch.from_numpy(np.ascontiguousarray(ctx.mask, dtype=np.float32)).to(y)
        if not isinstance(weight, float) or weight < 1.0:
            y = weight * y + (1.0 - weight) * x
        return to_image(y)

    @torch.no_grad()
    def _fast(self, x: torch.Tensor) -> torch.Tensor:
        size = working_size(*x.shape[-2:], self.max_size, multiple=4)
        return (self.net(resize(x, size) * 255.0) / 255.0).clamp(0, 1)

    def _optimize(self, content: torch.Tensor, init: torch.Tensor | None) -> torch.Tensor:
        size = working_size(*content.shape[-2:], self.max_size)
        content = resize(content, size)
        wc, ws, wtv, wt = self.weights
        with torch.no_grad():
            target = self.vgg(content)[CONTENT_LAYER]
            target_energy = target.pow(2).mean().clamp_min(1e-12)
        start = content if init is None else resize(init, size)
        anchor = start.detach().clone()
        steps = self.num_iterations if init is None else self.init_iterations
        x = start.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)

        def loss_fn():
            feats = self.vgg(x)
            loss = wc * (feats[CONTENT_LAYER] - target).pow(2).mean() / target_energy
            style = sum((gram_matrix(f) - g).pow(2).mean() / g.pow(2).mean().clamp_min(1e-20)
                        for f, g in zip(feats.values(), self.style_grams))
            loss = loss + ws * style / len(feats) + wtv * total_variation(x)
            if init is not None and wt > 0:
                loss = loss + wt * (x - anchor).pow(2).mean()
            return loss

        if self.optimizer == "lbfgs":
            opt = torch.optim.LBFGS([x], lr=1.0, max_iter=steps, history_size=20, line_search_fn="strong_wolfe")

            def closure():
                opt.zero_grad()
                loss = loss_fn()
                loss.backward()
                return loss

            opt.step(closure)
        else:
            opt = torch.optim.Adam([x], lr=self.lr)
            for _ in range(steps):
                opt.zero_grad()
                loss_fn().backward()
                opt.step()
                with torch.no_grad():
                    x.clamp_(0, 1)
        return x.detach().clamp(0, 1)
