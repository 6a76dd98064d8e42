"""Training-time augmentation of a clip (a list of HxWx3 float frames), one random draw for the whole clip.

`AllAugmentationTransform` takes the original FOMM config keys (augmentation_params in the YAML):

    flip_param:     {horizontal_flip: bool, time_flip: bool}
    rotation_param: {degrees: d or [lo, hi]}
    resize_param:   {ratio: [lo, hi], interpolation: 'bilinear' | 'nearest'}
    crop_param:     {size: [h, w] or s}
    jitter_param:   {brightness: b, contrast: c, saturation: s, hue: h}

and applies flip, rotation, resize, crop, jitter in that order (the original's), with the same random
parameters for every frame of the clip. Differences from the original, all bug fixes:
- time flip and horizontal flip are drawn independently (the original returned after a time flip, so a
  time-flipped clip was never mirrored);
- crop offsets use the right axes (the original compared the crop height with the image width);
- colour jitter applies all four adjustments (brightness, contrast, saturation, hue) in a random order,
  like torchvision's ColorJitter (the original kept only the last one), and values stay in [0, 1];
- resize is bilinear with anti-aliasing by default (the original defaulted to nearest neighbour).

Randomness: every draw comes from the `rng` passed to __call__ (a numpy Generator) or, when it is None,
from numpy's global state (np.random), which DataLoader workers seed via footage.worker_init_fn.
"""
from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import torch
import torchvision.transforms.v2.functional as F
from torchvision.transforms import InterpolationMode


def _uniform(rng, low: float, high: float) -> float:
    return float(rng.uniform(low, high))


def _randint(rng, high: int) -> int:
    """A random integer in [0, high] from a Generator or np.random."""
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(0, high + 1))
    return int(rng.randint(0, high + 1))


def _pair(value, name: str) -> tuple[float, float]:
    if isinstance(value, numbers.Number):
        return float(value), float(value)
    value = tuple(value)
    if len(value) != 2:
        raise ValueError(f"{name} must be a number or a pair, got {value!r}")
    return float(value[0]), float(value[1])


class RandomFlip:
    """Reverse the clip in time and/or mirror it left-right, each with probability 1/2, independently."""

    def __init__(self, time_flip: bool = False, horizontal_flip: bool = False):
        self.time_flip = bool(time_flip)
        self.horizontal_flip = bool(horizontal_flip)

    def __call__(self, clip: torch.Tensor, rng) -> torch.Tensor:
        if self.time_flip and rng.random() < 0.5:
            clip = clip.flip(0)
        if self.horizontal_flip and rng.random() < 0.5:
            clip = clip.flip(-1)
        return clip


class RandomRotation:
    """Rotate by an angle drawn from [-degrees, degrees] (or [lo, hi]), bilinear, zero fill."""

    def __init__(self, degrees):
        if isinstance(degrees, numbers.Number):
            if degrees < 0:
                raise ValueError("rotation_param.degrees must be non-negative when it is a single number")
            degrees = (-degrees, degrees)
        self.degrees = _pair(degrees, "rotation_param.degrees")

    def __call__(self, clip: torch.Tensor, rng) -> torch.Tensor:
        angle = _uniform(rng, *self.degrees)
        return F.rotate(clip, angle, interpolation=InterpolationMode.BILINEAR, fill=0.0)


class RandomResize:
    """Scale height and width by one factor drawn from [ratio[0], ratio[1]]."""

    def __init__(self, ratio=(3.0 / 4.0, 4.0 / 3.0), interpolation: str = "bilinear"):
        self.ratio = _pair(ratio, "resize_param.ratio")
        if interpolation not in ("bilinear", "nearest"):
            raise ValueError(f"resize_param.interpolation must be 'bilinear' or 'nearest', got {interpolation!r}")
        self.interpolation = interpolation

    def __call__(self, clip: torch.Tensor, rng) -> torch.Tensor:
        scale = _uniform(rng, *self.ratio)
        height, width = clip.shape[-2:]
        size = [max(1, int(height * scale)), max(1, int(width * scale))]
        if self.interpolation == "nearest":
            return F.resize(clip, size, interpolation=InterpolationMode.NEAREST)
        return F.resize(clip, size, interpolation=InterpolationMode.BILINEAR, antialias=True)


class RandomCrop:
    """Crop a size=(h, w) window at a random place; a smaller clip is first edge-padded, centred."""

    def __init__(self, size):
        height, width = _pair(size, "crop_param.size")
        self.size = (int(height), int(width))

    def __call__(self, clip: torch.Tensor, rng) -> torch.Tensor:
        crop_h, crop_w = self.size
        height, width = clip.shape[-2:]
        pad_h, pad_w = max(0, crop_h - height), max(0, crop_w - width)
        if pad_h or pad_w:
            # [left, top, right, bottom]
            clip = F.pad(clip, [pad_w // 2, pad_h // 2, pad_w - pad_w // 2, pad_h - pad_h // 2],
                         padding_mode="edge")
            height, width = clip.shape[-2:]
        top = _randint(rng, height - crop_h)
        left = _randint(rng, width - crop_w)
        return clip[..., top:top + crop_h, left:left + crop_w]


class ColorJitter:
    """Brightness, contrast, saturation and hue changes in a random order, same factors for every frame.

    Factors: brightness/contrast/saturation from [max(0, 1 - v), 1 + v], hue from [-h, h] (h <= 0.5);
    a [lo, hi] pair gives the range directly; 0 disables that adjustment.
    """

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0):
        self.brightness = self._range(brightness, "brightness")
        self.contrast = self._range(contrast, "contrast")
        self.saturation = self._range(saturation, "saturation")
        self.hue = self._range(hue, "hue", centre=0.0, bound=0.5)

    @staticmethod
    def _range(value, name: str, centre: float = 1.0, bound: float | None = None):
        if isinstance(value, numbers.Number):
            if value < 0:
                raise ValueError(f"jitter_param.{name} must be non-negative, got {value}")
            if value == 0:
                return None
            low, high = centre - value, centre + value
            if centre == 1.0:
                low = max(0.0, low)
        else:
            low, high = _pair(value, f"jitter_param.{name}")
        if bound is not None and not (-bound <= low <= high <= bound):
            raise ValueError(f"jitter_param.{name} must stay within [-{bound}, {bound}], got [{low}, {high}]")
        return low, high

    def __call__(self, clip: torch.Tensor, rng) -> torch.Tensor:
        if clip.shape[1] > 3:  # channels after RGB (a mask) are geometry only: no colour change
            return torch.cat([self(clip[:, :3], rng), clip[:, 3:]], dim=1)
        adjustments = []
        for value, adjust in ((self.brightness, F.adjust_brightness), (self.contrast, F.adjust_contrast),
                              (self.saturation, F.adjust_saturation), (self.hue, F.adjust_hue)):
            if value is not None:
                adjustments.append((adjust, _uniform(rng, *value)))
        for k in rng.permutation(len(adjustments)):
            adjust, factor = adjustments[int(k)]
            clip = adjust(clip, factor).clamp(0.0, 1.0)
        return clip


class AllAugmentationTransform:
    """The configured augmentations, applied in the original's order to a clip with one shared draw."""

    def __init__(self, resize_param=None, rotation_param=None, flip_param=None, crop_param=None,
                 jitter_param=None):
        self.transforms = []
        if flip_param is not None:
            self.transforms.append(RandomFlip(**flip_param))
        if rotation_param is not None:
            self.transforms.append(RandomRotation(**rotation_param))
        if resize_param is not None:
            self.transforms.append(RandomResize(**resize_param))
        if crop_param is not None:
            self.transforms.append(RandomCrop(**crop_param))
        if jitter_param is not None:
            self.transforms.append(ColorJitter(**jitter_param))

    def __call__(self, frames: Sequence[np.ndarray], rng: np.random.Generator | None = None) -> list[np.ndarray]:
        """frames: a list (or TxHxWxC array) of HxWxC float frames in [0, 1] -> list of HxWxC float32.

        C is 3 (RGB) or more: channels after the first three (e.g. a mouth mask) get the same flips,
        rotation, resize and crop as the image, and no colour jitter.
        """
        rng = np.random if rng is None else rng
        clip = torch.from_numpy(np.ascontiguousarray(np.stack(list(frames)), dtype=np.float32))
        clip = clip.permute(0, 3, 1, 2)  # T, 3, H, W
        for transform in self.transforms:
            clip = transform(clip, rng)
        clip = clip.clamp(0.0, 1.0).permute(0, 2, 3, 1).contiguous().numpy()
        return [frame for frame in clip]

    def __repr__(self) -> str:
        return f"AllAugmentationTransform({', '.join(type(t).__name__ for t in self.transforms)})"
