"""Source personalisation: the generator fine-tuned on the source photo alone, under synthetic head and mouth motion.

A model trained on a few people redraws an unseen face poorly and rarely opens its mouth. Before animating,
personalize() shows the generator (with its dense-motion network, by default) the very photo it will
animate, moved by footage.synthetic's head motion with faces.mouth_motion's mouth opening, for N steps of
the model's own offline loss (pixel pyramid L1 + SSIM + the mouth-region L1; a config with a VGG perceptual
term gets those offline terms instead, so that nothing is downloaded). The keypoint detector is frozen:
driving videos must still be read the same way.

    tuned = personalize(model, photo, crop_box, PersonalizeOptions(steps=40))   # a new LoadedModel
    save_personalized(tuned, "me.pth.tar")         # demo.py --checkpoint me.pth.tar animates without waiting

The loaded model is never changed (its generator is copied), nothing is written unless asked, and the
run is seeded: the same photo, options and model give the same weights. All networks stay in eval mode
(BatchNorm keeps the checkpoint's running statistics; only weights move).
"""
from __future__ import annotations

import copy
import logging
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from tqdm import tqdm

from engine.build import Networks
from engine.checkpoint import save_checkpoint
from engine.inference import LoadedModel
from errors import UserError
from faces.crop import crop_resize
from faces.mouth import mouth_mask
from footage.synthetic import synthetic_frames
from modules.model import GeneratorFullModel
from video.image import to_float, to_uint8

DEFAULT_STEPS = 40  # chosen by measurement: checkpoints/README.md section 8 (20, 40, 80 steps compared)
OFFLINE_WEIGHTS = {"pixel_l1": 7, "ssim": 1.5, "mouth": 10}  # the bundled model's loss (checkpoints/README.md)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PersonalizeOptions:
    steps: int = DEFAULT_STEPS
    seed: int = 0
    batch_size: int = 4
    lr: float = 1e-4
    frames: int = 64           # synthetic frames rendered once; pairs are drawn from them
    mouth: float = 0.1         # largest synthetic mouth opening, face widths (faces.mouth_motion)
    # also fine-tune the dense-motion network (its deformation and occlusion map decide whether the full-resolution
    # output opens a mouth at all); False: the generator's own layers only
    dense_motion: bool = True
    still_source: float = 0.5  # share of pairs whose source is the photo as the model sees it

    def check(self) -> PersonalizeOptions:
        if self.steps < 1:
            raise UserError(f"personalisation needs at least 1 step, got {self.steps}")
        if self.batch_size < 1 or self.frames < 2:
            raise UserError(f"personalisation needs batch_size >= 1 and frames >= 2, got {self.batch_size}, "
                            f"{self.frames}")
        if not 0 <= self.mouth <= 0.3:
            raise UserError(f"personalisation mouth opening must be in [0, 0.3] face widths, got {self.mouth}")
        return self


def training_frames(photo: np.ndarray, box, size: int, options: PersonalizeOptions, backend=None):
    """(frames (F, size, size, 3) float32, mouth masks (F, 1, size, size), still (size, size, 3) float32, has_mouth).

    The frames frame the face as `box` does (demo.py's crop box; the whole photo without a crop): the photo
    is cut with a 1.5x margin around the box, so that head motion shows real pixels at the corners.
    """
    from faces import get_backend

    photo = to_uint8(photo)
    x0, y0, x1, y1 = (float(v) for v in box)
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) / 2
    work = 3 * size  # the margin crop at 2x the model's resolution: the synthetic frames shrink it smoothly
    outer = (cx - 1.5 * half, cy - 1.5 * half, cx + 1.5 * half, cy + 1.5 * half)
    image = crop_resize(photo, outer, work)
    inner = (work / 6, work / 6, 5 * work / 6, 5 * work / 6)
    backend = backend or get_backend("auto", landmarks=True)
    landmarks = backend.landmarks(image)
    mouth = options.mouth if landmarks is not None else 0.0
    frames = np.stack(list(synthetic_frames(image, inner, size, options.frames, seed=options.seed, increase=0.0,
                                            mouth=mouth, landmarks=landmarks)))
    masks = np.zeros((len(frames), 1, size, size), np.float32)
    if mouth > 0:
        for k, frame in enumerate(frames):
            marks = backend.landmarks(frame)
            if marks is not None:
                masks[k, 0] = mouth_mask(marks / np.array([size, size]), size, size)
    still = to_float(crop_resize(photo, box, size))
    return to_float(frames), masks, still, landmarks is not None


def _loss_params(config: dict) -> dict:
    """The model's training parameters with the loss made offline, frozen-detector friendly."""
    tp = copy.deepcopy(config["train_params"])
    weights = tp["loss_weights"]
    if sum(weights.get("perceptual", [0])) != 0:  # VGG19 is a download: the offline pixel + SSIM loss instead
        weights["perceptual"] = [0] * len(weights["perceptual"])
        weights.update(OFFLINE_WEIGHTS)
    weights.setdefault("mouth", OFFLINE_WEIGHTS["mouth"])
    # the keypoint detector is frozen: its equivariance terms would cost forward passes and teach nothing
    weights.update(generator_gan=0, equivariance_value=0, equivariance_jacobian=0)
    return tp


def personalize(model: LoadedModel, photo: np.ndarray, box, options: PersonalizeOptions = PersonalizeOptions(),
                progress: bool = True) -> LoadedModel:
    """A new LoadedModel whose generator is fine-tuned on `photo`'s face in `box` (demo.py's crop box, or the
    whole photo (0, 0, width, height) without a crop); `model` is left as it was."""
    options.check()
    size = int(model.config["dataset_params"]["frame_shape"][0])
    started = time.perf_counter()
    frames, masks, still, found = training_frames(photo, box, size, options)
    if not found and options.mouth > 0:
        log.info("personalisation: no face landmarks in the source crop; training on head motion only")
    generator = copy.deepcopy(model.networks.generator).to(model.device)
    kp_detector = model.networks.kp_detector
    tp = _loss_params(model.config)
    full = GeneratorFullModel(kp_detector, generator, None, tp)
    full.eval()
    frozen = [p for p in kp_detector.parameters()]
    trainable = [p for name, p in generator.named_parameters()  # the one rule: which generator weights move
                 if options.dense_motion or not name.startswith("dense_motion_network.")]
    optimizer = torch.optim.Adam(trainable, lr=options.lr, betas=(0.5, 0.999))
    rng = np.random.default_rng([options.seed, 2])
    device = model.device
    frames_t = torch.from_numpy(frames).permute(0, 3, 1, 2).to(device)
    masks_t = torch.from_numpy(masks).to(device)
    still_t = torch.from_numpy(still).permute(2, 0, 1)[None].to(device)
    if not found or options.mouth == 0:
        tp["loss_weights"]["mouth"] = 0
    requires = [p.requires_grad for p in frozen]
    for p in frozen:
        p.requires_grad_(False)
    generator.requires_grad_(False)
    for p in trainable:
        p.requires_grad_(True)
    bar = tqdm(total=options.steps, unit="step", desc="personalising", dynamic_ncols=True, disable=not progress)
    try:
        with bar:
            for _ in range(options.steps):
                driving = rng.integers(0, len(frames), options.batch_size)
                source = rng.integers(0, len(frames), options.batch_size)
                use_still = torch.from_numpy(rng.random(options.batch_size) < options.still_source).to(device)
                x = {"driving": frames_t[driving], "driving_mouth": masks_t[driving],
                     "source": torch.where(use_still[:, None, None, None], still_t, frames_t[source])}
                losses, _ = full(x)
                loss = sum(v.mean() for v in losses.values())
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                bar.set_postfix_str(f"loss {loss.item():.3f}", refresh=False)
                bar.update(1)
    finally:
        for p, flag in zip(frozen, requires):
            p.requires_grad_(flag)
    generator.eval().requires_grad_(False)
    log.info("personalised the generator on the source photo: %d steps in %.1f s", options.steps,
             time.perf_counter() - started)
    networks = Networks(kp_detector, generator, model.networks.discriminator)
    return LoadedModel(copy.deepcopy(model.config), networks, model.device, f"{model.checkpoint} (personalised)")


def save_personalized(model: LoadedModel, path, options: PersonalizeOptions | None = None) -> None:
    """Write a personalised model atomically as an inference checkpoint (config inside: no --config needed);
    `options` are recorded beside it (stillmotion.personalized)."""
    state = {"kp_detector": {k: v.detach().cpu() for k, v in model.networks.kp_detector.state_dict().items()},
             "generator": {k: v.detach().cpu() for k, v in model.networks.generator.state_dict().items()},
             "epoch": -1, "stillmotion": {"config": model.config}}
    if options is not None:
        state["stillmotion"]["personalized"] = {**asdict(options), "from": model.checkpoint.replace(
            " (personalised)", "")}
    save_checkpoint(path, state)


def check_personalize_demo(steps: int, save_path, checkpoint, torch_runtime: bool = True,
                           inputs: dict | None = None) -> None:
    """demo.py's --personalize N [--save_personalized PATH] checked before any work: the save path needs
    --personalize and is never the checkpoint nor one of `inputs`; fine-tuning needs the torch runtime."""
    if save_path is not None:
        if steps < 1:
            raise UserError("--save_personalized writes the model --personalize N makes: add --personalize N "
                            f"(e.g. --personalize {DEFAULT_STEPS})")
        from output_paths import check_output_file

        given = {"--checkpoint": checkpoint} if checkpoint is not None else {}
        check_output_file(save_path, "--save_personalized", inputs={**given, **(inputs or {})})
    if steps >= 1 and not torch_runtime:
        raise UserError("--personalize fine-tunes torch networks: use --runtime torch (the default)")


def personalize_demo(animator, model: LoadedModel, photo: np.ndarray, box, steps: int, save_path=None,
                     dense_motion: bool = True) -> LoadedModel | None:
    """demo.py's --personalize N [--save_personalized PATH] (checked first by check_personalize_demo): the
    generator fine-tuned on `photo` (box: the crop box, or None for the whole frame) and handed to `animator`,
    then saved when asked. Returns the tuned model (None when steps is 0)."""
    if steps < 1:
        return None
    if box is None:
        box = (0.0, 0.0, float(photo.shape[1]), float(photo.shape[0]))
    options = PersonalizeOptions(steps=steps, dense_motion=dense_motion)
    tuned = personalize(model, photo, box, options)
    if save_path is not None:
        save_personalized(tuned, save_path, options)
        log.info("wrote the personalised model to %s (animate this photo again with --checkpoint %s, without "
                 "--personalize)", save_path, save_path)
    animator.use_generator(tuned.networks.generator)
    return tuned
