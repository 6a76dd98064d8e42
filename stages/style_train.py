"""Training a fast-neural-style TransformerNet from one style image and content images or videos.

Perceptual losses on VGG16 features (Johnson et al. 2016): content on relu2_2, Gram-matrix style on
relu1_2, relu2_2, relu3_3 and relu4_3, plus total variation. Both are relative errors (divided by the
target's energy) so one set of weights works for published and random-weight VGG16 features alike.
The model is saved atomically as a plain state_dict in the pytorch/examples fast_neural_style format.
train_style.py is the command line over train_style_model().
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from errors import UserError
from modules.pretrained import torchvision_weights_file
from modules.vgg import VggTaps
from output_paths import check_output_file
from stages.backbones import VGG_WEIGHTS, load_vgg_features
from stages.style import gram_matrix, total_variation
from stages.style_net import TransformerNet, save_transformer
from video import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, iter_frames, load_image, probe, to_float

log = logging.getLogger(__name__)

STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")  # Gram-matrix style, VGG16 (Johnson et al.)
CONTENT_LAYER = "relu2_2"


@dataclass
class StyleTrainOptions:
    """What train_style_model needs; the fields are train_style.py's flags (dashes as underscores)."""

    style: str                          # the style image
    content: Sequence[str]              # content images, videos, or folders of them
    out: str                            # the output .pth (written atomically)
    vgg: str = "imagenet"               # imagenet (cached torchvision VGG16), random (seeded) or a .pth file
    vgg_seed: int = 0                   # seed of the random VGG16 weights
    size: int = 256                     # training crop size in pixels
    style_size: int | None = None       # resize the style image's shorter side to this
    frames_per_video: int = 200
    width: int = 32                     # TransformerNet base width (32 = the published size)
    batch_size: int = 4
    iterations: int = 2000
    minutes: float | None = None        # stop (and save) this many minutes after the start, loading included
    lr: float = 1e-3
    content_weight: float = 1.0
    style_weight: float = 5.0
    tv_weight: float = 1.0
    identity_steps: int = 0             # first teach the net to copy its input (cheap; keeps content early)
    seed: int = 0
    threads: int = 0                    # torch CPU threads (0: torch's default)
    log_every: int = 25


def content_files(paths) -> list[str]:
    """Image and video files named directly or found (not recursively) in the given folders, sorted."""
    found = []
    for p in paths:
        if os.path.isdir(p):
            found += sorted(os.path.join(p, n) for n in os.listdir(p)
                            if n.lower().endswith(IMAGE_EXTENSIONS + VIDEO_EXTENSIONS))
        elif os.path.isfile(p):
            found.append(p)
        else:
            raise UserError(f"content path {p} does not exist; pass image/video files or folders holding them")
    if not found:
        raise UserError(f"no images or videos in {', '.join(map(str, paths))}; "
                        f"pass files ending in {'/'.join(IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)}")
    return found


def _short_side_resize(img: np.ndarray, short: int) -> np.ndarray:
    """float HxWx3 [0,1] resized (area) so that its shorter side is `short`."""
    t = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None]
    h, w = img.shape[:2]
    s = short / min(h, w)
    t = F.interpolate(t, size=(max(short, round(h * s)), max(short, round(w * s))), mode="area")
    return t[0].permute(1, 2, 0).numpy()


def load_content(files, size: int, frames_per_video: int) -> list[np.ndarray]:
    """Float RGB images with shorter side 1.25 * size (room for random crops); videos give evenly spaced frames."""
    short = round(size * 1.25)
    images = []
    for f in files:
        if f.lower().endswith(VIDEO_EXTENSIONS):
            n = max(1, probe(f).num_frames)
            step = max(1, n // frames_per_video)
            last = min(n, (frames_per_video - 1) * step + 1)   # decode no further than the last frame used
            for i, frame in enumerate(iter_frames(f, stop=last)):
                if i % step == 0:
                    images.append(_short_side_resize(to_float(frame), short))
        else:
            images.append(_short_side_resize(load_image(f), short))
    return images


def sample_batch(images, batch_size: int, size: int, rng: np.random.Generator) -> torch.Tensor:
    """Random crops (size x size) with random horizontal flips, Bx3xHxW in 0..255."""
    out = []
    for k in rng.integers(0, len(images), batch_size):
        img = images[k]
        y = rng.integers(0, img.shape[0] - size + 1)
        x = rng.integers(0, img.shape[1] - size + 1)
        crop = img[y:y + size, x:x + size]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        out.append(np.ascontiguousarray(crop))
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float() * 255.0


class Vgg16Taps(torch.nn.Module):
    """VGG16 activations {layer: activation} at STYLE_LAYERS for input in 0..255."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone
        self.taps = VggTaps(backbone.model.features, "vgg16", STYLE_LAYERS)

    def forward(self, x255, until: str | None = None):
        """The tapped activations up to the layer `until` (default: all; later layers are not run)."""
        return self.taps(self.backbone.normalize(x255 / 255.0), until=until)


def resolve_vgg(choice: str, seed: int):
    """vgg imagenet (the default) needs the cached torchvision file; random must be asked for explicitly."""
    if choice == "imagenet" and torchvision_weights_file(VGG_WEIGHTS["vgg16"]) is None:
        raise UserError("VGG16 ImageNet weights (vgg16-397923af.pth) are not in the torch hub cache "
                        f"{torch.hub.get_dir()}/checkpoints; copy them there, or pass --vgg random to train "
                        "on seeded random-weight VGG16 features")
    if choice not in ("imagenet", "random") and not os.path.isfile(choice):
        raise UserError(f"--vgg {choice}: pass imagenet, random or the path of a torchvision vgg16 .pth file")
    return load_vgg_features("vgg16", weights=choice, seed=seed)


def _warm_up_identity(net, opt, images, options: StyleTrainOptions, rng, deadline: float) -> None:
    """A few cheap steps (no VGG) teaching the net to reproduce its input, so content is kept from the start."""
    for _ in range(options.identity_steps):
        if time.time() > deadline:
            break
        x = sample_batch(images, options.batch_size, options.size, rng)
        loss = F.mse_loss(net(x) / 255.0, x / 255.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def _check_numbers(o: StyleTrainOptions) -> None:
    """UserError naming the first option out of its range (before any work)."""
    for flag, value, low in (("--size", o.size, 16), ("--iterations", o.iterations, 1), ("--width", o.width, 1),
                             ("--batch-size", o.batch_size, 1), ("--frames-per-video", o.frames_per_video, 1),
                             ("--identity-steps", o.identity_steps, 0), ("--log-every", o.log_every, 1),
                             ("--threads", o.threads, 0)):
        if value < low:
            raise UserError(f"{flag} must be at least {low}, got {value}")
    if o.style_size is not None and o.style_size < 16:
        raise UserError(f"--style-size must be at least 16, got {o.style_size}")
    if o.minutes is not None and o.minutes <= 0:
        raise UserError(f"--minutes must be more than 0, got {o.minutes}")
    for flag, value in (("--lr", o.lr), ("--content-weight", o.content_weight), ("--style-weight", o.style_weight),
                        ("--tv-weight", o.tv_weight)):
        if value < 0:
            raise UserError(f"{flag} must be 0 or more, got {value}")


def train_style_model(options: StyleTrainOptions) -> Path:
    """Train a TransformerNet on options.style and options.content, save it to options.out; the saved path.

    Logs (logger stages.style_train, INFO) one line per log step and a few about the set-up.
    """
    o = options
    if not str(o.out).endswith(".pth"):
        raise UserError(f"--out {o.out}: the model file must end in .pth")
    check_output_file(o.out, "--out", inputs=[("--style", o.style), *(("--content", c) for c in o.content)],
                      make_folder=True)  # save makes the folder
    _check_numbers(o)
    t0 = time.time()
    deadline = t0 + o.minutes * 60 if o.minutes is not None else float("inf")
    torch.manual_seed(o.seed)
    rng = np.random.default_rng(o.seed)
    if o.threads:
        torch.set_num_threads(o.threads)
    backbone = resolve_vgg(o.vgg, o.vgg_seed)
    vgg = Vgg16Taps(backbone)
    log.info(f"train_style: VGG16 = {backbone.describe()}")

    style = load_image(o.style)
    if o.style_size:
        style = _short_side_resize(style, o.style_size)
    images = load_content(content_files(o.content), o.size, o.frames_per_video)
    log.info(f"train_style: {len(images)} content images, style {style.shape[1]}x{style.shape[0]}, "
           f"crops {o.size}px, batch {o.batch_size}")

    with torch.no_grad():
        style_t = torch.from_numpy(np.ascontiguousarray(style)).permute(2, 0, 1)[None].float() * 255.0
        style_grams = [gram_matrix(f) for f in vgg(style_t).values()]
    net = TransformerNet(width=o.width)
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=o.lr)
    start, sums = time.time(), np.zeros(3)
    if o.identity_steps:
        _warm_up_identity(net, opt, images, o, rng, deadline)
        log.info(f"train_style: {o.identity_steps} identity warm-up steps, {time.time() - start:.0f} s")
    it = 0
    for it in range(1, o.iterations + 1):
        x = sample_batch(images, o.batch_size, o.size, rng)
        y = net(x)
        with torch.no_grad():
            target = vgg(x, until=CONTENT_LAYER)[CONTENT_LAYER]
        feats = vgg(y)
        content = F.mse_loss(feats[CONTENT_LAYER], target) / target.pow(2).mean().clamp_min(1e-12)
        style_loss = sum(F.mse_loss(gram_matrix(f), g.expand(len(f), -1, -1)) / g.pow(2).mean().clamp_min(1e-20)
                         for f, g in zip(feats.values(), style_grams)) / len(feats)
        tv = total_variation(y / 255.0)
        loss = o.content_weight * content + o.style_weight * style_loss + o.tv_weight * tv
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sums += (content.item(), style_loss.item(), tv.item())
        elapsed = time.time() - start
        out_of_time = time.time() > deadline
        if it % o.log_every == 0 or it == o.iterations or out_of_time:
            n = (it - 1) % o.log_every + 1
            c, s, t = sums / n
            log.info(f"iter {it:5d}  {elapsed:7.1f}s  content {c:.4f}  style {s:.4f}  tv {t:.4f}")
            sums[:] = 0
        if out_of_time:
            log.info(f"train_style: time budget of {o.minutes} min reached")
            break
    net.eval()
    save_transformer(net, o.out)
    log.info(f"train_style: saved {o.out} (width {o.width}, {it} iterations, {time.time() - t0:.0f} s in all)")
    return Path(o.out)
