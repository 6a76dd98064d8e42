"""The "dream" stage: DeepDream (gradient ascent on a network's activations) over an octave pyramid, per frame.

A layer's activations (mean square) or chosen ImageNet class logits are maximised by gradient steps
normalised by their mean magnitude, with random jitter (roll), from the smallest octave up, carrying the
dreamed detail to the next octave. Parameters (stages_params.dream):
  network auto | fomm | vgg19 | resnet50 | googlenet | inception_v3; auto: vgg19 when its ImageNet file is
  cached or weights / class options ask for a torchvision network, else fomm (our own keypoint detector);
  weights auto | imagenet | random | FILE (torchvision networks only); layer: a module path (features.20,
  layer3, inception4c), for fomm one of stages.fomm_backbone.LAYERS (encoder1-4, decoder1-4, decoder, kp)
  or a KPDetector module path; fomm_checkpoint (default checkpoints/stillmotion-vox-128.pth.tar),
  fomm_config (its YAML, for original FOMM files); fomm_side: the detector sees each octave with its short
  side resized to this (default the checkpoint's training frame side, the framing of our face crops and of
  demo.py's output; raise it when the face is a small part of the frame); luma: brightness steps only (the
  gradient's channel mean; default on for fomm); num_octaves, octave_scale, num_iterations, lr (mean pixel
  step per iteration, of 1), jitter (px); channel_list: class indices to dream (guided), max_output: follow
  the most probable class (picked on the first frame), pyramid_max: re-pick it at every octave (classifiers
  only); random: draw num_octaves/octave_scale/num_iterations/lr per video from octaves_range,
  octave_scale_range, iterations_range, lr_range (seeded by seed); use_depth auto (default: weight each
  step by the depth mask of an earlier depth stage, FrameContext.mask, when there is one) | true | false;
  depth_str / use_threshold + th_val / invert_depth: a mask of dream's own from the depth instead
  (depth ** depth_str, 1 = near; a binary mask; the background); blend: share of init= (the previous
  dreamed frame warped onto this one) in the starting image of a full-schedule frame, as sequence DeepDream
  does; warm_start (default on): a frame with init= (every frame after the first, with smoothing on) starts
  from init= itself (already the frame wherever the warp is unreliable) and runs only full-size steps, until
  the objective is back to warm_target x the last full dream's (or warm_iterations steps); the first frame,
  and any frame without init=, gets the full octave schedule; max_size: dream at
  most this long side (detail upsampled); precision auto (bf16 autocast on CUDA, and on CPUs with native
  bf16: AVX512-BF16 or AMX; else fp32) | fp32 | bf16 | fp16; smooth (gradient blur, px) and neutral_color
  (no global colour drift).
ImageNet VGG19 weights are used when the torch hub cache holds torchvision's file. Otherwise the offline
default is our own trained FOMM keypoint detector (network fomm, layer decoder1): it knows faces, and
dreaming it darkens and deepens eyes, brows, nostrils and mouth corners (per pixel the face box changes about
2x more than the rest of a franck.mp4 frame, part of which is the face's own edges). Seeded RANDOM weights
(network vgg19, weights random) give psychedelic swirls along textures and edges instead (smooth 1,
neutral_color on): a random network knows no objects.
"""
from __future__ import annotations

import numpy as np
import torch

from engine.hardware import bf16_native
from errors import UserError
from modules.pretrained import torchvision_weights_file
from stages.backbones import CLASSIFIERS, VGG_WEIGHTS, load_classifier, load_vgg_features
from stages.base import FrameContext, Stage
from stages.depth import depth_mask
from stages.dream_ascent import DreamAscent, LayerReached, resize_to
from stages.fomm_backbone import LAYERS as FOMM_LAYERS
from stages.fomm_backbone import load_kp_detector
from stages.registry import register_stage

MIN_SIDE = {"inception_v3": 80}   # smallest octave side each network accepts (default 32)
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
NETWORKS = ("auto", "fomm", *CLASSIFIERS)
# network fomm, measured on franck.mp4 frames 0/60/120/180 at 128 px with dlib face boxes (tests/stages/test_dream.py):
# after 2 octaves x 5 steps the face box changes 2.0-3.2x (mean 2.7x) more per pixel than the rest, vs 2.0-2.4x
# for the same detector with random weights and 2.0x for random VGG19 (the face has more edges than the
# backdrop); at the full 4 x 10 defaults both are about 2x, but only ours darkens eyes, brows and mouth.
# decoder1 (4x4 cells over the face) and decoder2 concentrate most on the face (decoder2 also whitens it);
# encoder1-3 change the backdrop more; kp (heatmap logits) paints the face white with a dark eye band.
# lr 0.003 already blackens the eye sockets; smooth 1 removes the checkerboard of the hourglass's
# nearest-neighbour upsampling.
FOMM_DEFAULTS = {"layer": "decoder1", "lr": 0.002, "smooth": 1.0}
# warm start: a frame that starts from the warped previous dream runs full-size steps until the objective is
# back to WARM_TARGET x the last full dream's, at most WARM_ITERATIONS (measured: benchmarks/dream_speed.py)
WARM_ITERATIONS = 8
WARM_TARGET = 1.0


def _to_tensor(image: np.ndarray, device) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None].to(device)


def _as_range(value, name, cast):
    try:
        lo, hi = (cast(v) for v in value)
    except (TypeError, ValueError) as e:
        raise UserError(f"dream: {name} must be a [low, high] pair, got {value!r}") from e
    if lo > hi:
        raise UserError(f"dream: {name} {value!r} has low > high; pass [low, high]")
    return lo, hi


def _check_choices(network, precision, blend) -> None:
    if network not in NETWORKS:
        raise UserError(f"dream: unknown network {network!r}; choose one of {', '.join(NETWORKS)}")
    if precision not in PRECISIONS:
        raise UserError(f"dream: precision {precision!r} is unknown; choose one of {', '.join(PRECISIONS)}")
    if not 0.0 <= float(blend) <= 1.0:
        raise UserError(f"dream: blend {blend} is outside [0, 1]; pass a value from 0 to 1")


@register_stage("dream")
class DreamStage(DreamAscent, Stage):
    """DeepDream on a torchvision network; see the module docstring for the parameters' meaning."""

    uses_init = True
    handles_mask = True

    def __init__(self, device="cpu", network="auto", weights="auto", layer=None, num_octaves=4, octave_scale=1.4,
                 num_iterations=10, lr=None, jitter=16, channel_list=(), max_output=False, pyramid_max=False,
                 random=False, octaves_range=(2, 5), octave_scale_range=(1.2, 1.6), iterations_range=(5, 15),
                 lr_range=(0.004, 0.012), seed=0, use_depth="auto", depth_str=None, use_threshold=None, th_val=None,
                 invert_depth=None, blend=0.5, warm_start=True, warm_iterations=WARM_ITERATIONS,
                 warm_target=WARM_TARGET, max_size=None, precision="auto", smooth=None,
                 neutral_color=None, luma=None, fomm_checkpoint=None, fomm_config=None, fomm_side=None, **params):
        super().__init__(device=device, **params)
        if params:
            raise UserError(f"dream: unknown parameter(s) {', '.join(sorted(params))}; see stages/dream.py")
        _check_choices(network, precision, blend)
        self.device = torch.device(device)
        self.network = network
        self.channel_list = [int(c) for c in (channel_list or ())]
        self.max_output, self.pyramid_max = bool(max_output), bool(pyramid_max)
        self.class_mode = bool(self.channel_list) or self.max_output
        self.auto_network = network == "auto"
        self.network = network = self._resolve_network(network, weights, self.class_mode or self.pyramid_max)
        self._check_targets(weights)
        self._set_schedule(num_octaves, octave_scale, num_iterations, lr, random, octaves_range, octave_scale_range,
                           iterations_range, lr_range)
        self.jitter, self.seed, self.blend, self.max_size = int(jitter), int(seed), float(blend), max_size
        self._set_depth(use_depth, depth_str, use_threshold, th_val, invert_depth)
        self._set_warm_start(warm_start, warm_iterations, warm_target)
        self.mask_phrase = None   # set by place() when an earlier depth stage gives a mask
        self.last_iterations = 0  # gradient steps of the last process() call
        module_path = self._load_backbone(weights, seed, layer, fomm_checkpoint, fomm_config, fomm_side)
        self._hooked = None
        if not self.class_mode:
            self._hook_layer(module_path)
        self._set_look(smooth, neutral_color, luma)
        self.autocast_dtype = self._autocast_dtype(precision)
        self.min_side = MIN_SIDE.get(network, 32)
        self._draws = np.random.default_rng(self.seed)   # one parameter draw per video, reproducible
        self._videos = 0
        self.reset()

    # ---- set-up helpers -------------------------------------------------------------------------------
    def _check_targets(self, weights) -> None:
        """ImageNet class targets are valid class indices, and only for the torchvision networks."""
        if self.network == "fomm":
            asked = [n for n, v in (("channel_list", self.channel_list), ("max_output", self.max_output),
                                    ("pyramid_max", self.pyramid_max)) if v]
            if asked:
                raise UserError(f"dream: {', '.join(asked)} pick ImageNet classes, which the fomm keypoint detector "
                                "has none of; drop them or pass network: vgg19, resnet50, googlenet or inception_v3")
            if weights != "auto":
                raise UserError(f"dream: weights {weights!r} is for the torchvision networks; network fomm takes "
                                "fomm_checkpoint (a stillmotion or FOMM checkpoint) instead")
        bad = [c for c in self.channel_list if not 0 <= c < 1000]
        if bad:
            raise UserError(f"dream: channel_list {bad} are not ImageNet class indices; use 0..999")

    def _set_schedule(self, num_octaves, octave_scale, num_iterations, lr, random, octaves_range,
                      octave_scale_range, iterations_range, lr_range) -> None:
        """The octaves, iterations and step size: fixed, or drawn per video from their ranges (random)."""
        if lr is None:
            lr = FOMM_DEFAULTS["lr"] if self.network == "fomm" else 0.008
        self.fixed = {"num_octaves": int(num_octaves), "octave_scale": float(octave_scale),
                      "num_iterations": int(num_iterations), "lr": float(lr)}
        self.random = bool(random)
        self.ranges = {"num_octaves": _as_range(octaves_range, "octaves_range", int),
                       "octave_scale": _as_range(octave_scale_range, "octave_scale_range", float),
                       "num_iterations": _as_range(iterations_range, "iterations_range", int),
                       "lr": _as_range(lr_range, "lr_range", float)}
        if self.fixed["octave_scale"] <= 1.0 or self.ranges["octave_scale"][0] <= 1.0:
            raise UserError("dream: octave_scale must be above 1 (e.g. 1.4)")

    def _set_depth(self, use_depth, depth_str, use_threshold, th_val, invert_depth) -> None:
        """How an earlier depth stage weights the dream: its mask (use_depth), or dream's own mask from its depth."""
        if use_depth not in ("auto", True, False):
            raise UserError(f"dream: use_depth must be auto, true or false, got {use_depth!r}")
        self.use_depth = use_depth
        # dream's own mask from FrameContext.depth, when any of its options is given
        self.own_mask = any(v is not None for v in (depth_str, use_threshold, th_val, invert_depth))
        self.depth_str = 1.0 if depth_str is None else float(depth_str)
        self.use_threshold, self.invert_depth = bool(use_threshold), bool(invert_depth)
        self.th_val = 0.5 if th_val is None else float(th_val)

    def _set_warm_start(self, warm_start, warm_iterations, warm_target) -> None:
        """Later frames start from the previous dream and stop once they reach warm_target of its objective."""
        self.warm_start, self.warm_iterations = bool(warm_start), int(warm_iterations)
        self.warm_target = float(warm_target)
        if self.warm_iterations < 1:
            raise UserError(f"dream: warm_iterations must be at least 1, got {warm_iterations}")
        if not 0.0 < self.warm_target <= 2.0:
            raise UserError(f"dream: warm_target {warm_target} is outside (0, 2]; e.g. 1.0 (the last full dream's "
                            "objective)")

    def _load_backbone(self, weights, seed, layer, fomm_checkpoint, fomm_config, fomm_side) -> str:
        """self.backbone and self.layer; returns the module path of the layer to dream on."""
        self.fomm_side = None
        if self.network != "fomm":
            if self.network == "vgg19" and not self.class_mode:
                self.backbone = load_vgg_features("vgg19", weights=weights, seed=seed, device=self.device)
            else:
                self.backbone = load_classifier(self.network, weights=weights, seed=seed, device=self.device)
            self.layer = layer or CLASSIFIERS[self.network].default_layer
            return self.layer
        self.backbone, trained_side = load_kp_detector(fomm_checkpoint, fomm_config, device=self.device)
        self.trained_side = trained_side
        self.fomm_side = int(fomm_side) if fomm_side is not None else trained_side
        if self.fomm_side < 16:
            raise UserError(f"dream: fomm_side {fomm_side} is too small; pass at least 16 (default "
                            f"{trained_side}, the checkpoint's training frame side)")
        detector = self.backbone.model
        # the hourglass halves the size num_blocks times after the detector's own scale_factor
        self._fomm_multiple = max(1, round(2 ** len(detector.predictor.encoder.down_blocks)
                                           / detector.scale_factor))
        self.layer = layer or FOMM_DEFAULTS["layer"]
        return FOMM_LAYERS.get(self.layer, self.layer)

    def _hook_layer(self, module_path: str) -> None:
        """Stop the forward pass at the dreamed layer (its output kept in self._hooked)."""
        try:
            module = self.backbone.model.get_submodule(module_path)
        except AttributeError as e:
            if self.network == "fomm":
                raise UserError(f"dream: the fomm keypoint detector has no layer {self.layer!r}; pass one of "
                                f"{', '.join(FOMM_LAYERS)}, or network: vgg19 for its layers") from e
            names = [n for n, _ in self.backbone.model.named_children()]
            raise UserError(f"dream: {self.network} has no layer {self.layer!r}; pass a module name such as "
                            f"{', '.join(names[:6])} or a dotted path like features.20") from e
        module.register_forward_hook(self._hook)

    def _set_look(self, smooth, neutral_color, luma) -> None:
        """Gradient smoothing, colour neutrality and brightness-only steps: defaults by how trained the network is."""
        network = self.network
        trained = self.backbone.published or network == "fomm"
        # gradient smoothing (sigma, px): random-weight features otherwise give pixel-level colour noise
        if smooth is None:
            smooth = FOMM_DEFAULTS["smooth"] if network == "fomm" else 0.0 if trained else 1.0
        self.smooth = float(smooth)
        # no global colour drift (the gradient's mean colour removed): random features otherwise tint it all
        self.neutral = bool(neutral_color) if neutral_color is not None else not trained
        # brightness steps only: our detector, trained on one video's colours, otherwise paints faces red
        self.luma = bool(luma) if luma is not None else network == "fomm"

    @staticmethod
    def _resolve_network(network: str, weights, wants_classes: bool) -> str:
        """'auto' -> vgg19 when its ImageNet file is cached or weights / class options ask for a torchvision
        network, else fomm (our own trained keypoint detector: the offline default)."""
        if network != "auto":
            return network
        if weights != "auto" or wants_classes or torchvision_weights_file(VGG_WEIGHTS["vgg19"]) is not None:
            return "vgg19"
        return "fomm"

    def _fomm_size(self, h: int, w: int) -> tuple[int, int]:
        """The detector's input size for an HxW image: short side fomm_side, each side a multiple the
        hourglass can halve down (32 for the bundled detector)."""
        s = self.fomm_side / min(h, w)
        m = self._fomm_multiple
        return max(m, round(h * s / m) * m), max(m, round(w * s / m) * m)

    def _autocast_dtype(self, precision):
        if precision == "fp32":
            return None
        if precision == "auto" and self.device.type == "cpu":
            return torch.bfloat16 if bf16_native() else None
        if precision == "auto" and self.device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if precision == "auto":
            return None
        return torch.bfloat16 if precision == "bf16" else torch.float16

    def _hook(self, module, inputs, output):
        self._hooked = output
        raise LayerReached

    def reset(self) -> None:
        """A new video starts: the next process() draws its parameters (random: true) and picks its class anew."""
        self._run = None
        self._target_class = None
        self._reference = None   # the objective the last full dream reached at full size (warm start's target)

    def _start_video(self) -> None:
        self._jitter_rng = np.random.default_rng([self.seed, self._videos])
        self._run = dict(self.fixed)
        if self.random:
            (o_lo, o_hi), (s_lo, s_hi) = self.ranges["num_octaves"], self.ranges["octave_scale"]
            (i_lo, i_hi), (l_lo, l_hi) = self.ranges["num_iterations"], self.ranges["lr"]
            self._run = {"num_octaves": int(self._draws.integers(o_lo, o_hi + 1)),
                         "octave_scale": float(self._draws.uniform(s_lo, s_hi)),
                         "num_iterations": int(self._draws.integers(i_lo, i_hi + 1)),
                         "lr": float(self._draws.uniform(l_lo, l_hi))}
        self._videos += 1

    @property
    def run_params(self) -> dict:
        """The octave/iteration/lr parameters of the current video (drawn when random: true)."""
        if self._run is None:
            self._start_video()
        return dict(self._run)

    def describe(self) -> str:
        target = ("ImageNet class logits " + (str(self.channel_list) if self.channel_list else "(most probable)")
                  if self.class_mode else f"layer {self.layer}")
        if self.network == "fomm":
            why = "offline default; no ImageNet weights cached" if self.auto_network else "network: fomm"
            path = FOMM_LAYERS.get(self.layer, self.layer)
            layer = self.layer if path == self.layer else f"{self.layer} ({path})"
            target = (f"layer {layer}, seen at short side {self.fomm_side} px (trained at {self.trained_side})"
                      + (", brightness steps only (luma)" if self.luma else ""))
            kind = f"our FOMM keypoint detector from {self.backbone.source} ({why})"
            return f"dream: DeepDream on {kind}, {target}; {self._describe_run()}"
        if self.backbone.published:
            kind = f"published ImageNet weights, {self.backbone.source}"
        elif self.backbone.source.startswith("random"):
            kind = (f"offline default: RANDOM weights ({self.backbone.source}), no ImageNet file cached -- "
                    "psychedelic swirls along textures and edges, no objects")
        else:
            kind = f"weights from {self.backbone.source}"
        return f"dream: DeepDream on {self.network} {target} ({kind}); {self._describe_run()}"

    def _describe_run(self) -> str:
        f = self.fixed
        p = "parameters drawn per video (random: true)" if self.random else (
            f"{f['num_octaves']} octaves x {f['num_iterations']} it, lr {f['lr']}")
        if self.warm_start:
            p += (f"; later frames warm-started: full-size steps until the objective is back to "
                  f"{self.warm_target:g}x the full dream's, at most {self.warm_iterations}")
        prec = "fp32" if self.autocast_dtype is None else str(self.autocast_dtype).removeprefix("torch.")
        if self.autocast_dtype == torch.bfloat16 and self.device.type == "cpu":
            prec += " (native on this CPU)" if bf16_native() else " (emulated: not native on this CPU)"
        return f"{p}; {prec} on {self.device}"

    def place(self, before, after, mask_from=None) -> None:
        self.mask_phrase = None
        if mask_from is not None and self.use_depth is not False and not self.own_mask:
            phrase = getattr(mask_from, "mask_phrase", None)
            self.mask_phrase = phrase() if callable(phrase) else "weighted by the depth mask"

    def effect(self) -> str:
        line = "adds DeepDream patterns to the picture it receives"
        if self.warm_start:
            line += " (full octave schedule on the first frame; later frames continue the previous dream)"
        if self.mask_phrase:
            line += f", {self.mask_phrase}"
        elif self.own_mask or self.use_depth is True:
            line += ", weighted by its own mask of the depth (use_depth)"
        return line

    def later_frame_share(self) -> float:
        """Warm-started frames run at most warm_iterations full-size steps of the first frame's schedule."""
        if not self.warm_start:
            return 1.0
        run = self.run_params
        return min(1.0, self.warm_iterations / max(1, run["num_octaves"] * run["num_iterations"]))

    def _mask(self, ctx: FrameContext) -> np.ndarray | None:
        """The per-pixel step weight: the earlier depth stage's mask, or dream's own from the depth, or None."""
        if self.use_depth is False:
            return None
        if ctx.mask is not None and not self.own_mask:
            return np.asarray(ctx.mask, dtype=np.float32)
        if self.use_depth == "auto" and not self.own_mask:
            return None
        if ctx.depth is None:
            if self.use_depth == "auto":
                return None
            raise UserError("dream: use_depth needs a depth map; put the depth stage before dream "
                            "(--stages depth,dream) or set use_depth: false")
        return depth_mask(ctx.depth, self.depth_str, self.use_threshold, self.th_val, self.invert_depth)

    def process(self, frame: np.ndarray, ctx: FrameContext, init: np.ndarray | None = None) -> np.ndarray:
        if self._run is None:
            self._start_video()
        h, w = frame.shape[:2]
        x = _to_tensor(frame, self.device)
        warm = init is not None and self.warm_start and self._reference is not None
        if warm:   # the pipeline's init is already the frame wherever the warp is unreliable
            x = _to_tensor(init, self.device)
        elif init is not None:
            x = self.blend * _to_tensor(init, self.device) + (1.0 - self.blend) * x
        self.last_iterations = 0
        m = self._mask(ctx)
        mask = None if m is None else torch.from_numpy(np.ascontiguousarray(m))[None, None].to(self.device)
        s = min(1.0, self.max_size / max(h, w)) if self.max_size else 1.0
        work = resize_to(x, (max(1, round(h * s)), max(1, round(w * s))))
        if mask is not None:
            mask = resize_to(mask, work.shape[-2:])
        dreamed = self.continue_dream(work, mask) if warm else self.dream(work, mask)
        if s < 1.0:   # add the dreamed detail at full resolution
            dreamed = x + resize_to(dreamed - work, (h, w))
        return dreamed.clamp(0.0, 1.0)[0].permute(1, 2, 0).detach().cpu().numpy().astype(np.float32)
