"""Full-resolution output: the sharp source photo warped by the model's motion, the generator painting only what is new.

The dense-motion network predicts, at its own small size, where every output pixel comes from in the
source (the deformation) and whether that source pixel is visible (the occlusion map). Both are smooth,
so they can be upsampled to any size and applied to the source photo at its own resolution:

    out = a * (sharp warp + shading change) + (1 - a) * (generator prediction + colour correction)

* sharp warp: the full-resolution source (the whole photo around the face crop, so motion that looks
  outside the crop finds real pixels) sampled along the upsampled deformation, bicubic;
* a: the occlusion map relative to the one the network predicts with no motion (moved along with the
  deformation), mapped through a smoothstep between `trust` (lo, hi) and upsampled: 1 where the network
  trusts the warp as much as it trusts the unmoved photo, 0 where its trust drops (an opening mouth, a
  revealed cheek); also 0 where the warp looks outside the photo. Relative, because the network's trust
  in a face it never saw is lower everywhere (0.75-0.9 on small or unusual faces) without anything being
  occluded;
* shading change: the low-frequency difference between the prediction and the warped zero-motion
  prediction (the generator's redraw of the source with no motion), so lighting that changes with the
  motion still shows, while the generator's fixed colour error on this face does not;
* colour correction: the low-frequency difference between the source and the zero-motion prediction,
  warped along, so that painted regions take the photo's colours.

Where the occlusion map is 1 and the prediction equals the warped zero-motion prediction, the output is
the warped source exactly; where the occlusion map is 0, it is the generator's prediction (plus the
colour correction) upsampled. With no motion (the deformation is the identity) the output is the source.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

DEFAULT_TRUST = (0.7, 0.95)  # relative occlusion mapped to 0 and 1 (benchmarks/fullres_trust.py, README)


def _image_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None]


def _image_array(tensor: torch.Tensor) -> np.ndarray:
    return tensor[0].permute(1, 2, 0).numpy()


def _gaussian_blur(tensor: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur with replicated borders, (B, C, H, W)."""
    if sigma <= 0:
        return tensor
    radius = max(1, int(math.ceil(3 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=tensor.dtype)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    kernel = kernel / kernel.sum()
    channels = tensor.shape[1]
    padded = F.pad(tensor, (radius, radius, radius, radius), mode="replicate")
    out = F.conv2d(padded, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    return F.conv2d(out, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)


def upsample_linear(field: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear, cell-centred resize of a (B, C, h, w) field that extrapolates linearly past the outer cell
    centres (F.interpolate holds the edge value there, which would freeze a strip along every border)."""
    padded = F.pad(field, (1, 1, 1, 1), mode="replicate")
    padded[:, :, 0] = 2 * padded[:, :, 1] - padded[:, :, 2]
    padded[:, :, -1] = 2 * padded[:, :, -2] - padded[:, :, -3]
    padded[:, :, :, 0] = 2 * padded[:, :, :, 1] - padded[:, :, :, 2]
    padded[:, :, :, -1] = 2 * padded[:, :, :, -2] - padded[:, :, :, -3]
    grid = _upsample_grid(*field.shape[2:], int(size[0]), int(size[1]), field.dtype)
    return F.grid_sample(padded, grid.expand(field.shape[0], -1, -1, -1), mode="bilinear", padding_mode="border",
                         align_corners=True)


@lru_cache(maxsize=8)
def _upsample_grid(h: int, w: int, height: int, width: int, dtype: torch.dtype) -> torch.Tensor:
    """upsample_linear's (1, height, width, 2) sampling grid: the output pixel centres in the padded h x w
    field's cell indices, as align_corners=True coordinates (the same for every frame of a video)."""
    ys = ((torch.arange(height, dtype=dtype) + 0.5) / height * h - 0.5 + 1) / (h + 1) * 2 - 1
    xs = ((torch.arange(width, dtype=dtype) + 0.5) / width * w - 0.5 + 1) / (w + 1) * 2 - 1
    return torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)[None]


def smoothstep(values: torch.Tensor, low: float, high: float) -> torch.Tensor:
    t = ((values - low) / max(high - low, 1e-6)).clamp(0, 1)
    return t * t * (3 - 2 * t)


class FrameMotion(NamedTuple):
    """FullResComposer.motion's result for one frame (tensors at the output size)."""
    grid: torch.Tensor  # (1, H, W, 2) where each output pixel samples the photo
    painted: torch.Tensor  # (1, 3, H, W) the generator's layer
    light: torch.Tensor | None  # (1, 3, H, W) the shading added to the sharp warp, or None
    alpha: torch.Tensor  # (1, 1, H, W) the sharp warp's weight


class FullResComposer:
    """Compose animated frames at the source photo's own resolution from the model's motion.

        composer = FullResComposer(photo, box, model_source, reference)
        frame = composer.compose(prediction, deformation, occlusion)   # (box height, box width, 3)

    photo: the full source photo, HxWx3 float32 in [0, 1]. box: (x0, y0, x1, y1) in photo pixels, the region
    the model saw (the face crop), or None for the whole photo. out_size: (width, height) of the output
    (default: the box's own size in pixels). model_source: the source as the model saw it (h, w, 3).
    reference: the generator's prediction with no motion (the source's own keypoints as driving ones);
    reference_occlusion: its occlusion map (None: the occlusion map is taken as it is, not relative).
    """

    def __init__(self, photo: np.ndarray, box, model_source: np.ndarray, reference: np.ndarray, *,
                 reference_occlusion: np.ndarray | None = None, out_size: tuple[int, int] | None = None,
                 trust: tuple[float, float] = DEFAULT_TRUST, shading_sigma: float | None = None):
        self.photo = _image_tensor(photo)
        height, width = photo.shape[:2]
        if box is None:
            box = (0.0, 0.0, float(width), float(height))
        self.box = tuple(float(v) for v in box)
        x0, y0, x1, y1 = self.box
        if out_size is None:
            out_size = (max(1, int(round(x1 - x0))), max(1, int(round(y1 - y0))))
        self.out_w, self.out_h = int(out_size[0]), int(out_size[1])
        self.trust = (float(trust[0]), float(trust[1]))
        # low frequencies: about 1/40 of the model frame (3.2 pixels at 128, 6.4 at 256)
        self.sigma = float(shading_sigma) if shading_sigma is not None else max(model_source.shape[:2]) / 40
        reference = _image_tensor(reference)
        colour = _gaussian_blur(_image_tensor(model_source) - reference, self.sigma)  # the photo's colours
        # what every frame moves along the deformation, at the model's size: colours, then the no-motion redraw
        self.moved = torch.cat([colour, reference], dim=1)
        self.reference_occlusion = None if reference_occlusion is None else \
            torch.from_numpy(np.ascontiguousarray(reference_occlusion, dtype=np.float32))[None, None]

    # ------------------------------------------------------------------ coordinates

    @staticmethod
    def fraction_field(deformation: np.ndarray, size: tuple[int, int] | None) -> torch.Tensor:
        """(1, 2, H, W): where each output pixel comes from, as a fraction [0, 1] of the source frame (x, y);
        size None: at the deformation's own size.

        FOMM's coordinates are those of its coordinate grid: -1 and 1 are the centres of the first and last
        cells of the h x w grid the keypoints and the deformation live on. Mapping them to those cell centres
        makes zero motion (the identity deformation) sample every pixel exactly where it is, at any size.
        The field is converted at its own size and then upsampled (bilinear, cell-centred), as both steps
        are linear."""
        field = torch.from_numpy(np.ascontiguousarray(deformation, dtype=np.float32))[None].permute(0, 3, 1, 2)
        cells = torch.tensor([field.shape[3], field.shape[2]], dtype=torch.float32).view(1, 2, 1, 1)
        fraction = (0.5 + (field + 1) / 2 * (cells - 1)) / cells
        if size is not None and fraction.shape[2:] != tuple(size):
            fraction = upsample_linear(fraction, size)
        return fraction

    def photo_grid(self, deformation: np.ndarray) -> torch.Tensor:
        """(1, out_h, out_w, 2) sampling grid into the whole photo (align_corners=False coordinates).

        The map from fractions of the box to the photo's grid coordinates is affine, and the upsampling is
        linear with weights that sum to one, so the map is applied at the field's own size, then upsampled."""
        fraction = self.fraction_field(deformation, None)
        x0, y0, x1, y1 = self.box
        height, width = self.photo.shape[2:]
        scale = torch.tensor([(x1 - x0) / width * 2, (y1 - y0) / height * 2]).view(1, 2, 1, 1)
        offset = torch.tensor([x0 / width * 2 - 1, y0 / height * 2 - 1]).view(1, 2, 1, 1)
        grid = fraction * scale + offset
        if grid.shape[2:] != (self.out_h, self.out_w):
            grid = upsample_linear(grid, (self.out_h, self.out_w))
        return grid.permute(0, 2, 3, 1).contiguous()

    def _model_warp(self, image: torch.Tensor, deformation: np.ndarray) -> torch.Tensor:
        """An image at the model's size warped along the deformation, border-padded."""
        grid = self.fraction_field(deformation, image.shape[2:]).permute(0, 2, 3, 1) * 2 - 1
        return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)

    def _up(self, tensor: torch.Tensor) -> torch.Tensor:
        if tensor.shape[2:] == (self.out_h, self.out_w):
            return tensor
        return F.interpolate(tensor, size=(self.out_h, self.out_w), mode="bicubic", align_corners=False)

    # ------------------------------------------------------------------ frames

    def weight(self, occlusion: np.ndarray | None, grid: torch.Tensor, deformation: np.ndarray) -> torch.Tensor:
        """(1, 1, out_h, out_w) weight of the sharp warp: the occlusion map (relative to the no-motion one,
        moved along) through the trust smoothstep, zero where the grid leaves the photo."""
        if occlusion is None:
            alpha = torch.ones(1, 1, self.out_h, self.out_w)
        else:
            occ = torch.from_numpy(np.ascontiguousarray(occlusion, dtype=np.float32))[None, None]
            if self.reference_occlusion is not None:
                baseline = self._model_warp(self.reference_occlusion, deformation)
                occ = (occ / baseline.clamp_min(1e-3)).clamp(max=1.0)
            alpha = F.interpolate(smoothstep(occ, *self.trust), size=(self.out_h, self.out_w), mode="bilinear",
                                  align_corners=False)
        height, width = self.photo.shape[2:]
        # within half a pixel of the photo's edge: the border replication is still the right pixel
        slack = torch.tensor([1.0 / width, 1.0 / height])
        inside = ((grid.abs() - 1) <= slack).all(dim=-1).float()[:, None]
        return alpha.clamp(0, 1) * inside

    def region_weight(self, grid: torch.Tensor, box) -> torch.Tensor:
        """(1, 1, out_h, out_w): 1 where the output samples the photo inside the ellipse in `box` (photo
        pixels x0, y0, x1, y1), falling smoothly to 0 at the ellipse's edge from 80% of its radius."""
        height, width = self.photo.shape[2:]
        px = (grid[..., 0] + 1) / 2 * width
        py = (grid[..., 1] + 1) / 2 * height
        x0, y0, x1, y1 = box
        half_x, half_y = max((x1 - x0) / 2, 1.0), max((y1 - y0) / 2, 1.0)
        radius = torch.sqrt(((px - (x0 + x1) / 2) / half_x) ** 2 + ((py - (y0 + y1) / 2) / half_y) ** 2)
        return smoothstep(1.0 - radius, 0.0, 0.2)[:, None]

    @torch.inference_mode()
    def motion(self, prediction: np.ndarray, deformation: np.ndarray, occlusion: np.ndarray | None,
               shading: bool = True) -> FrameMotion:
        """What a frame's output takes from the model: the sampling grid into the photo, the painted
        (generator) layer, the shading carried onto the sharp warp, and the weight of the sharp warp. blend()
        makes the frame from it and a photo; the same motion serves any version of the photo."""
        grid = self.photo_grid(deformation)
        pred = _image_tensor(prediction)
        moved = self._model_warp(self.moved, deformation)  # one grid for both
        painted = self._up(pred + moved[:, :3])
        # the zero-motion redraw moved along: what the prediction would be with no new shading
        light = self._up(_gaussian_blur(pred - moved[:, 3:], self.sigma)) if shading else None
        return FrameMotion(grid, painted, light, self.weight(occlusion, grid, deformation))

    @torch.inference_mode()
    def blend(self, motion: FrameMotion, photo: np.ndarray | None = None, trusted=None,
              trusted_weight: float = 1.0) -> np.ndarray:
        """One output frame, (out_h, out_w, 3) float32 in [0, 1], from motion() and the photo.

        photo: this frame's version of the source photo (same size; e.g. with the mouth opened by
        engine.mouth_retarget), instead of the one given at construction. trusted: a box (photo pixels)
        where the sharp warp's weight is at least `trusted_weight`, whatever the occlusion map says."""
        source = self.photo if photo is None else _image_tensor(photo)
        sharp = F.grid_sample(source, motion.grid, mode="bicubic", padding_mode="border", align_corners=False)
        if motion.light is not None:
            sharp = sharp + motion.light
        alpha = motion.alpha
        if trusted is not None:
            alpha = torch.maximum(alpha, float(trusted_weight) * self.region_weight(motion.grid, trusted))
        out = alpha * sharp + (1 - alpha) * motion.painted
        return np.ascontiguousarray(_image_array(out.clamp(0, 1)))

    def compose(self, prediction: np.ndarray, deformation: np.ndarray, occlusion: np.ndarray | None,
                shading: bool = True, photo: np.ndarray | None = None, trusted=None,
                trusted_weight: float = 1.0) -> np.ndarray:
        """One output frame: blend(motion(...)) (see both)."""
        return self.blend(self.motion(prediction, deformation, occlusion, shading), photo, trusted, trusted_weight)
