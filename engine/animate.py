"""Animating one source image from a stream of driving frames: the batched Animator, the best start frame."""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from engine.hardware import bf16_native
from errors import UserError
from footage.sources import fit_frame
from modules.normalize import keypoint_normalizer, normalize_kp

log = logging.getLogger(__name__)

DTYPES = {"fp32": None, "bf16": torch.bfloat16}


@dataclass
class AnimatedFrame:
    """One animated frame: the image (HxWx3 float32 in [0, 1]) and what drove it.

    kp: the (K, 2) keypoints the generator was driven with (after relative/absolute normalisation),
    kp_driving: the (K, 2) keypoints detected in the driving frame; both (x, y) in [-1, 1].
    deformation (h, w, 2) and occlusion (h, w) are filled only when run(..., return_motion=True).
    """

    image: np.ndarray
    index: int
    kp: np.ndarray
    kp_driving: np.ndarray
    deformation: np.ndarray | None = None
    occlusion: np.ndarray | None = None


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().float().cpu().numpy()


class Animator:
    """Animate a source image with driving frames: source keypoints and encoder features computed once,
    driving frames streamed through the keypoint detector and generator in batches.

        animator = Animator(load_model("ckpt.pth.tar"), batch_size=8)
        animator.set_source(photo)                       # HxWx3, any size, float [0, 1] or uint8
        for frame in animator.run(driving_frames):       # any iterable of HxWx3 frames
            writer.write(frame.image)

    relative / relative_jacobian / adapt_scale are FOMM's normalize_kp options (relative motion of the
    driving keypoints w.r.t. the initial driving frame, transferred onto the source keypoints; movement
    scaled by the ratio of the keypoint hulls). dtype "bf16" runs the networks under autocast (CPU and
    GPU); the keypoint algebra stays in fp32; on a CPU without native bf16 (no avx512_bf16, no AMX) "bf16"
    falls back to fp32 with a one-line notice on stderr, as emulated bf16 is about 3x slower than fp32 there.
    channels_last (default on: several times faster keypoint detection on CPU, same results to 1e-7)
    converts the networks' memory format in place. compile wraps both networks in torch.compile (minutes
    to start; the last partial batch is padded to a fixed shape).
    """

    def __init__(self, model=None, *, kp_detector=None, generator=None, frame_shape=None, device=None,
                 relative=True, adapt_scale=True, relative_jacobian=True, batch_size=8, dtype="fp32",
                 channels_last=True, compile=False):
        if model is not None:
            kp_detector = model.networks.kp_detector
            generator = model.networks.generator
            device = model.device if device is None else device
            if frame_shape is None:
                frame_shape = model.config["dataset_params"]["frame_shape"]
        if kp_detector is None or generator is None:
            raise ValueError("Animator needs a LoadedModel or both kp_detector and generator")
        self.device = torch.device(device) if device is not None else next(generator.parameters()).device
        self._set_options(frame_shape, relative, adapt_scale, relative_jacobian, batch_size, dtype)
        self.channels_last = bool(channels_last)
        self.compile = bool(compile)
        self.kp_detector = kp_detector.eval()
        self.generator = generator.eval()
        if self.channels_last:
            self.kp_detector.to(memory_format=torch.channels_last)
            self.generator.to(memory_format=torch.channels_last)
        self._kp_net, self._gen_net = self.kp_detector, self.generator
        if self.compile:
            self._kp_net = torch.compile(self.kp_detector, dynamic=False)
            self._gen_net = torch.compile(self.generator, dynamic=False)
        self.source = None  # (1, 3, H, W) tensor
        self.source_kp = None  # {'value', 'jacobian'} of the source
        self.source_features = None

    def _set_options(self, frame_shape, relative, adapt_scale, relative_jacobian, batch_size, dtype) -> None:
        """The options every runtime shares, checked (self.device must be set): the one place where a bf16
        request on a CPU without native bf16 becomes fp32."""
        if dtype not in DTYPES:
            raise UserError(f"unknown dtype {dtype!r}; choose one of: {', '.join(DTYPES)}")
        if int(batch_size) < 1:
            raise UserError(f"batch size must be at least 1, got {batch_size}")
        if dtype == "bf16" and self.device.type == "cpu" and not bf16_native():
            log.warning("notice: this CPU has no native bfloat16 (no avx512_bf16, no AMX), where bf16 runs about "
                        "3x slower than fp32; running in fp32 instead")
            dtype = "fp32"
        self.frame_shape = tuple(int(v) for v in (frame_shape or (256, 256))[:2])
        self.relative = bool(relative)
        self.relative_jacobian = bool(relative_jacobian)
        self.adapt_scale = bool(adapt_scale)
        self.batch_size = int(batch_size)
        self.dtype = dtype

    def use_generator(self, generator) -> None:
        """Animate with another generator of the same architecture (e.g. engine.personalize's fine-tuned
        copy); set_source must be called after it."""
        self.generator = generator.eval()
        if self.channels_last:
            self.generator.to(memory_format=torch.channels_last)
        self._gen_net = torch.compile(self.generator, dynamic=False) if self.compile else self.generator
        self.source = self.source_kp = self.source_features = None

    # ------------------------------------------------------------------ helpers

    def _autocast(self):
        if DTYPES[self.dtype] is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=DTYPES[self.dtype])

    def prepare(self, frame) -> np.ndarray:
        """HxWx3 float32 in [0, 1] at the model's frame size (anti-aliased resize when the size differs)."""
        return fit_frame(frame, self.frame_shape)

    def _to_tensor(self, frames: list[np.ndarray]) -> torch.Tensor:
        batch = torch.from_numpy(np.stack(frames)).to(self.device, non_blocking=True).permute(0, 3, 1, 2)
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        return batch.contiguous(memory_format=memory_format)

    def _detect(self, images: torch.Tensor) -> dict:
        with self._autocast():
            kp = self._kp_net(images)
        return {k: v.float() for k, v in kp.items()}

    def _encode(self, source: torch.Tensor) -> None:
        """The source's keypoints and encoder features, kept for every frame."""
        self.source_kp = self._detect(source)
        with self._autocast():
            self.source_features = self.generator.encode(source)

    def _generate(self, kp_driving: dict) -> dict:
        """The generator's outputs (prediction, deformation, occlusion_map) for a batch of driving keypoints."""
        n = kp_driving["value"].shape[0]
        source = self.source.expand(n, -1, -1, -1)
        kp_source = {k: v.expand(n, *v.shape[1:]) for k, v in self.source_kp.items()}
        with self._autocast():
            return self._gen_net(source, kp_driving=kp_driving, kp_source=kp_source,
                                 source_features=self.source_features)

    # ------------------------------------------------------------------ API

    @property
    def source_kp_array(self) -> np.ndarray:
        """(K, 2) source keypoints, (x, y) in [-1, 1]."""
        return _to_numpy(self.source_kp["value"][0])

    def set_source(self, image) -> None:
        """Take a new source image: its keypoints and the generator's encoder features are computed once."""
        source = self._to_tensor([self.prepare(image)])
        with torch.inference_mode():
            self._encode(source)
        self.source = source

    def initial_keypoints(self, frame) -> dict:
        """Keypoints of a driving frame, for run(..., initial=...)."""
        with torch.inference_mode():
            return self._detect(self._to_tensor([self.prepare(frame)]))

    def _normalizer(self, kp_initial: dict):
        """A function kp_driving -> the keypoints to drive the generator with (normalize_kp, batched)."""
        return keypoint_normalizer(self.source_kp, kp_initial, adapt_movement_scale=self.adapt_scale,
                                   use_relative_movement=self.relative,
                                   use_relative_jacobian=self.relative_jacobian)

    def run(self, driving_frames: Iterable, return_motion: bool = False, initial=None,
            start_index: int = 0) -> Iterator[AnimatedFrame]:
        """Animate the source with each driving frame, yielding AnimatedFrames in order as they are made.

        The initial driving keypoints (the reference of relative motion) come from `initial` (a frame, or
        a keypoint dict from initial_keypoints()) or else from the first driving frame. Frames are
        processed batch_size at a time under torch.inference_mode(); nothing accumulates across batches.
        """
        if self.source is None:
            raise RuntimeError("Animator.run called before set_source")
        normalize = None
        if initial is not None:
            kp_initial = initial if isinstance(initial, dict) else self.initial_keypoints(initial)
            normalize = self._normalizer(kp_initial)
        index = int(start_index)
        batch: list[np.ndarray] = []
        frames = iter(driving_frames)
        while True:
            frame = next(frames, None)
            if frame is not None:
                batch.append(self.prepare(frame))
            if batch and (frame is None or len(batch) == self.batch_size):
                results, normalize = self._run_batch(batch, normalize, return_motion)
                for i, result in enumerate(results):
                    result.index = index + i
                    yield result
                index += len(batch)
                batch = []
            if frame is None:
                return

    def _run_batch(self, batch: list[np.ndarray], normalize, return_motion: bool):
        count = len(batch)
        if self.compile and count < self.batch_size:  # a fixed batch shape: no recompilation at the end
            batch = batch + [batch[-1]] * (self.batch_size - count)
        with torch.inference_mode():
            driving = self._to_tensor(batch)
            kp_driving = self._detect(driving)
            if normalize is None:
                normalize = self._normalizer({k: v[:1] for k, v in kp_driving.items()})
            kp_norm = normalize(kp_driving)
            out = self._generate(kp_norm)
            images = _to_numpy(out["prediction"][:count].permute(0, 2, 3, 1))
            values = _to_numpy(kp_norm["value"][:count])
            driving_values = _to_numpy(kp_driving["value"][:count])
            deformation = occlusion = None
            if return_motion:
                if "deformation" in out:
                    deformation = _to_numpy(out["deformation"][:count])
                if "occlusion_map" in out:
                    occlusion = _to_numpy(out["occlusion_map"][:count, 0])
        results = [AnimatedFrame(image=np.ascontiguousarray(images[i]), index=i, kp=values[i],
                                 kp_driving=driving_values[i],
                                 deformation=None if deformation is None else deformation[i],
                                 occlusion=None if occlusion is None else occlusion[i])
                   for i in range(count)]
        return results, normalize


def animate_per_frame(source_image, driving_frames: Iterable, kp_detector, generator, frame_shape=(256, 256),
                      relative=True, adapt_scale=True, relative_jacobian=True, device="cpu") -> Iterator[np.ndarray]:
    """The straightforward path (the original demo's make_animation): one frame at a time, full generator
    forward each time, normalize_kp against the first driving frame. The reference for Animator."""
    def tensor(frame):
        return torch.from_numpy(fit_frame(frame, frame_shape)).permute(2, 0, 1)[None].to(device)

    with torch.no_grad():
        source = tensor(source_image)
        kp_source = kp_detector(source)
        kp_initial = None
        for frame in driving_frames:
            driving = tensor(frame)
            kp_driving = kp_detector(driving)
            if kp_initial is None:
                kp_initial = kp_driving
            kp_norm = normalize_kp(kp_source=kp_source, kp_driving=kp_driving, kp_driving_initial=kp_initial,
                                   use_relative_movement=relative, use_relative_jacobian=relative_jacobian,
                                   adapt_movement_scale=adapt_scale)
            out = generator(source, kp_driving=kp_norm, kp_source=kp_source)
            yield out["prediction"][0].permute(1, 2, 0).cpu().numpy()


# ---------------------------------------------------------------------------------------- best frame


def _landmark_image(image, size: int | None) -> np.ndarray:
    from video.image import to_uint8

    image = np.asarray(image)
    if size is not None and image.shape[:2] != (size, size):
        image = fit_frame(image, (size, size))
    return to_uint8(image)


def best_frame(source_image, driving_frames: Iterable, backend, size: int | None = 256) -> int:
    """Index of the driving frame whose face pose and expression (normalised 68-point landmarks) are
    closest to the source's. Like the original, both images are first resized to size x size (None: as
    they are). Frames without a face are skipped; UserError when the source or every frame has none."""
    from faces.pose import closest_pose

    reference = backend.landmarks(_landmark_image(source_image, size))
    if reference is None:
        raise UserError("no face found in the source image, which --find_best_frame needs; pass a photo "
                        "with a clearly visible face or drop --find_best_frame")
    best = closest_pose(reference, (backend.landmarks(_landmark_image(frame, size)) for frame in driving_frames))
    if best is None:
        raise UserError("no face found in any driving frame, which --find_best_frame needs; pass a driving "
                        "video showing a face or drop --find_best_frame")
    return best


def small_source_warning(shape, box, model_side: int, name: str = "the source image",
                         below: int | None = None) -> str | None:
    """A one-line warning when the photo (or, with a crop `box`, the face crop) is smaller than the model's
    input, so that it is upscaled and the animation comes out blurry; None when it is large enough.

    Small sources are warned about, not refused: the network resizes any input to its frame size, so the
    result is a valid animation, and a thumbnail may be all a user has; they should know its cost.
    """
    height, width = shape[:2]
    side = min(height, width) if box is None else min(box[2] - box[0], box[3] - box[1])
    if side >= (model_side if below is None else below):  # below: a smaller size that still counts as enough
        return None
    what = f"{name} ({width}x{height})" if box is None else f"the face crop of {name} ({side:.0f} pixels)"
    return (f"{what} is smaller than the model's {model_side}-pixel input and is upscaled "
            f"{model_side / max(side, 1):.1f}x, so the result will be blurry; pass a larger photo for a sharp one")
