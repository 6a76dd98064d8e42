"""Torchvision classifiers and VGG feature stacks for the stages: cached published weights or seeded random ones."""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torchvision import models

from errors import UserError
from modules.pretrained import load_state_dict_file, torchvision_weights_file
from modules.vgg import ARCHS as VGG_ARCHS
from modules.vgg import VggFeatures, random_vgg

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
WEIGHT_CHOICES = ("auto", "imagenet", "random")

@dataclass
class Backbone:
    """A frozen network in eval mode and where its weights came from."""

    name: str
    model: nn.Module
    published: bool
    source: str                       # the weights file, or "random init, seed N"
    mean: tuple = IMAGENET_MEAN       # the input normalisation the network expects on [0, 1] RGB
    std: tuple = IMAGENET_STD

    def describe(self) -> str:
        if self.published:
            return f"{self.name} with published ImageNet weights ({self.source})"
        if self.source.startswith("random"):
            return f"{self.name} with random weights ({self.source}; offline default, no ImageNet weights cached)"
        return f"{self.name} with weights from {self.source}"

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(self.mean, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
        return (x - mean) / std


@dataclass(frozen=True)
class _ClassifierSpec:
    weights: object                                   # torchvision WeightsEnum class
    build: Callable[[bool], nn.Module]                # build(published) -> random-init model ready for the file
    default_layer: str
    optional_prefixes: tuple = field(default=())      # keys a file may lack (auxiliary heads)
    finish: Callable[[nn.Module], None] | None = None  # drop training-only heads after loading
    # torchvision's truncated-normal init makes random activations vanish (to slow denormal floats):
    # random-weight models get kaiming-normal weights instead
    rescale_random: bool = False


def _drop_googlenet_aux(m):
    m.aux_logits, m.aux1, m.aux2 = False, None, None


def _drop_inception_aux(m):
    m.aux_logits, m.AuxLogits = False, None


# Published files carry the auxiliary heads, so they are built and then dropped (as torchvision does).
CLASSIFIERS: dict[str, _ClassifierSpec] = {
    "vgg19": _ClassifierSpec(models.VGG19_Weights, lambda pub: models.vgg19(weights=None), "features.20"),
    "resnet50": _ClassifierSpec(models.ResNet50_Weights, lambda pub: models.resnet50(weights=None), "layer3"),
    "googlenet": _ClassifierSpec(
        models.GoogLeNet_Weights,
        lambda pub: models.googlenet(weights=None, aux_logits=True, transform_input=pub, init_weights=not pub),
        "inception4c", ("aux1.", "aux2."), _drop_googlenet_aux, rescale_random=True),
    "inception_v3": _ClassifierSpec(
        models.Inception_V3_Weights,
        lambda pub: models.inception_v3(weights=None, aux_logits=True, transform_input=pub, init_weights=not pub),
        "Mixed_6b", ("AuxLogits.",), _drop_inception_aux, rescale_random=True),
}

VGG_WEIGHTS = {"vgg16": models.VGG16_Weights.IMAGENET1K_V1, "vgg19": models.VGG19_Weights.IMAGENET1K_V1}


def _kaiming(model: nn.Module) -> None:
    """Kaiming-normal (fan_out, relu) conv and linear weights, zero biases, from torch's (seeded) generator."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def cached_published_file(weights_enum_cls) -> Path | None:
    """The cached file of any member of a torchvision WeightsEnum (its DEFAULT first), or None."""
    members = [weights_enum_cls.DEFAULT] + [w for w in weights_enum_cls if w is not weights_enum_cls.DEFAULT]
    for w in members:
        path = torchvision_weights_file(w)
        if path is not None:
            return path
    return None


def _check_choice(weights) -> None:
    if weights in WEIGHT_CHOICES or (isinstance(weights, str | os.PathLike) and os.path.isfile(weights)):
        return
    raise UserError(f"weights {weights!r} is neither one of {', '.join(WEIGHT_CHOICES)} nor an existing "
                    "file; pass weights: auto, imagenet, random or the path of a torchvision .pth file")


def _weights_file(name: str, weights, published_file: Path | None, expected: str) -> Path | None:
    """The file to load for a weights choice, or None for random init."""
    _check_choice(weights)
    if weights == "random":
        return None
    if weights in ("auto", "imagenet"):
        if published_file is None and weights == "imagenet":
            raise UserError(f"{name} ImageNet weights are not in the torch hub cache (expected {expected}); "
                            "copy the torchvision file there, or pass weights: random / auto for the offline default")
        return published_file
    return Path(weights)


def _read_state(path: Path, name: str) -> dict:
    try:
        state = load_state_dict_file(path)
    except Exception as e:  # a truncated download, a pickle of something else, an empty file, ...
        why = "the file is empty (0 bytes)" if path.is_file() and path.stat().st_size == 0 else \
            f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:120]}"
        raise UserError(f"cannot read {name} weights {path}: {why}; "
                        "delete the file or replace it with the torchvision release") from e
    if not isinstance(state, dict):
        raise UserError(f"{path} holds no state_dict; pass a torchvision {name} weights file")
    return {k.removeprefix("module."): v for k, v in state.items()}


def _load_into(model: nn.Module, state: dict, path: Path, name: str, optional=(), only_prefix: str = "") -> None:
    """Load `state` into `model`; every needed key must be present with the right shape."""
    own = model.state_dict()
    needed = [k for k in own if k.startswith(only_prefix) and not k.startswith(tuple(optional))]
    missing = [k for k in needed if k not in state]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or wrong:
        what = f"missing {missing[:3]}" if missing else f"wrong shapes for {wrong[:3]}"
        raise UserError(f"{path} is not a torchvision {name} state_dict ({what}); "
                        f"pass the torchvision {name} weights file")
    model.load_state_dict({k: state[k] for k in own if k in state}, strict=False)


def freeze(model: nn.Module, device) -> nn.Module:
    """`model` in eval mode on `device` with no parameter asking for gradients (a network to dream on)."""
    model.eval().to(device)
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def _expected(weights_enum) -> str:
    return str(Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights_enum.url))


def load_classifier(name: str, weights="auto", seed: int = 0, device="cpu") -> Backbone:
    """A whole torchvision ImageNet classifier (vgg19, resnet50, googlenet, inception_v3), frozen.

    weights: 'auto' (published file when cached, else random), 'imagenet' (published or a UserError),
    'random' (seeded), or the path of a torchvision state_dict file.
    """
    spec = CLASSIFIERS.get(name)
    if spec is None:
        raise UserError(f"unknown network {name!r}; choose one of {', '.join(CLASSIFIERS)}")
    path = _weights_file(name, weights, cached_published_file(spec.weights), _expected(spec.weights.DEFAULT))
    if path is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = spec.build(False)
            if spec.rescale_random:
                _kaiming(model)
    else:
        model = spec.build(True)
        _load_into(model, _read_state(path, name), path, name, spec.optional_prefixes)
    if spec.finish is not None:
        spec.finish(model)
    published = path is not None and weights in ("auto", "imagenet")
    return Backbone(name, freeze(model, device), published, str(path) if path else f"random init, seed {seed}")


def load_vgg_features(arch: str = "vgg19", weights="auto", seed: int = 0, device="cpu") -> Backbone:
    """The conv part of VGG16/VGG19 (ImageNet-normalised input), published weights or seeded random ones."""
    if arch not in VGG_ARCHS:
        raise UserError(f"unknown VGG {arch!r}; choose vgg16 or vgg19")
    enum = VGG_WEIGHTS[arch]
    path = _weights_file(arch, weights, torchvision_weights_file(enum), _expected(enum))
    if path is None:
        model = random_vgg(arch, seed)
    else:
        model = VggFeatures(arch)
        _load_into(model, _read_state(path, arch), path, arch, only_prefix="features.")
    published = path is not None and weights in ("auto", "imagenet")
    return Backbone(f"{arch} features", freeze(model, device), published,
                    str(path) if path else f"random init, seed {seed}")
