"""DeepDream's gradient ascent (the dream stage's mixin): a layer's activations or class logits maximised by
normalised, jittered gradient steps over an octave pyramid, and the warm start from the previous dream."""
from __future__ import annotations

import torch
import torch.nn.functional as F

_FP16_LOSS_SCALE = 1024.0         # keeps fp16 gradients above underflow; the step normalisation removes it


class LayerReached(Exception):
    """Raised by the layer hook: nothing past the dreamed layer needs computing."""


def resize_to(x: torch.Tensor, size) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of a BxCxHxW tensor (reflect padding); sigma in pixels, 0 = unchanged."""
    if sigma <= 0:
        return x
    radius = max(1, min(int(3 * sigma + 0.5), min(x.shape[-2:]) - 1))
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="reflect"), k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode="reflect"), k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


class DreamAscent:
    """The gradient ascent of stages.dream.DreamStage, which sets what it reads: backbone, class_mode,
    channel_list, fomm_side, autocast_dtype, jitter, smooth, luma, neutral, min_side, the warm-start
    settings and the current video's run parameters."""

    def _activations(self, x: torch.Tensor) -> torch.Tensor:
        """The dreamed layer's output, or the logits in class mode."""
        with torch.autocast(self.device.type, dtype=self.autocast_dtype or torch.float32,
                            enabled=self.autocast_dtype is not None):
            inp = self.backbone.normalize(x)
            if self.fomm_side is not None:   # the face at the detector's training scale (anti-aliased)
                size = self._fomm_size(*inp.shape[-2:])
                if size != tuple(inp.shape[-2:]):
                    inp = F.interpolate(inp, size=size, mode="bilinear", align_corners=False,
                                        antialias=size[0] < inp.shape[-2])
            if self.class_mode:
                return self.backbone.model(inp)
            self._hooked = None
            try:
                self.backbone.model(inp)
            except LayerReached:
                pass
            return self._hooked

    def _pick_class(self, x: torch.Tensor) -> int:
        with torch.no_grad():
            return int(self._activations(x).float().argmax(dim=1)[0])

    def _objective(self, x: torch.Tensor) -> torch.Tensor:
        act = self._activations(x).float()
        if not self.class_mode:
            return act.pow(2).mean()
        classes = self.channel_list if self.channel_list else [self._target_class]
        return act[:, classes].mean()

    def _step(self, x: torch.Tensor, lr: float, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """One normalised gradient-ascent step (jittered); (the new image, the objective before the step)."""
        h, w = x.shape[-2:]
        oy = int(self._jitter_rng.integers(-self.jitter, self.jitter + 1)) if self.jitter else 0
        ox = int(self._jitter_rng.integers(-self.jitter, self.jitter + 1)) if self.jitter else 0
        oy, ox = oy % h if h else 0, ox % w if w else 0
        rolled = torch.roll(x, shifts=(oy, ox), dims=(2, 3)).detach().requires_grad_(True)
        loss = self._objective(rolled)
        if self.autocast_dtype == torch.float16:
            loss = loss * _FP16_LOSS_SCALE
        (grad,) = torch.autograd.grad(loss, rolled)
        if self.autocast_dtype == torch.float16:
            loss = loss / _FP16_LOSS_SCALE
        loss = loss.detach()
        grad = gaussian_blur(torch.roll(grad.float(), shifts=(-oy, -ox), dims=(2, 3)), self.smooth)
        if self.luma:
            grad = grad.mean(dim=1, keepdim=True).expand_as(grad)
        if self.neutral:
            grad = grad - grad.mean(dim=(2, 3), keepdim=True)
        if not torch.isfinite(grad).all():
            return x, loss
        step = lr * grad / grad.abs().mean().clamp_min(torch.finfo(torch.float32).tiny)
        if mask is not None:
            step = step * mask
        return (x + step).clamp(0.0, 1.0), loss

    def _octaves(self, base: torch.Tensor) -> list[torch.Tensor]:
        octaves = [base]
        for _ in range(self._run["num_octaves"] - 1):
            h, w = octaves[-1].shape[-2:]
            size = (round(h / self._run["octave_scale"]), round(w / self._run["octave_scale"]))
            if min(size) < self.min_side:
                break
            octaves.append(resize_to(octaves[-1], size))
        return octaves

    def dream(self, image: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """DeepDream a 1x3xHxW [0, 1] image; mask (1x1xHxW) weights each step per pixel."""
        if self._run is None:
            self._start_video()
        octaves = self._octaves(image)
        if self.class_mode and not self.channel_list and self._target_class is None:
            self._target_class = self._pick_class(octaves[-1])
        detail = torch.zeros_like(octaves[-1])
        x = image
        for octave in reversed(octaves):
            detail = resize_to(detail, octave.shape[-2:])
            x = (octave + detail).clamp(0.0, 1.0)
            m = None if mask is None else resize_to(mask, octave.shape[-2:])
            if self.class_mode and self.pyramid_max and not self.channel_list:
                self._target_class = self._pick_class(x)
            loss = None
            for _ in range(self._run["num_iterations"]):
                x, loss = self._step(x, self._run["lr"], m)
                self.last_iterations += 1
            detail = x - octave
        if loss is not None:
            self._reference = float(loss)
        return x

    def continue_dream(self, image: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Warm start: full-size steps from `image` (the previous dream warped onto this frame) until the
        objective is back to warm_target x the last full dream's, at most warm_iterations steps."""
        if self._run is None:
            self._start_video()
        reference = self._reference
        target = reference - (1.0 - self.warm_target) * abs(reference)   # logits may be negative
        x = image
        for _ in range(self.warm_iterations):
            x, loss = self._step(x, self._run["lr"], mask)
            self.last_iterations += 1
            if float(loss) >= target:
                break
        return x
