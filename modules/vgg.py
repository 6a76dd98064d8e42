"""VGG: one builder (torchvision's make_layers), layers named by block (relu4_1), taps at named layers, and the
VGG19 pyramid (relu1_1 .. relu5_1 on ImageNet-normalised input) for the perceptual loss."""
from __future__ import annotations

import math

import torch
from torch import nn
from torchvision import models
from torchvision.models.vgg import cfgs, make_layers

ARCHS = {"vgg16": "D", "vgg19": "E"}  # torchvision's configuration letters
PYRAMID_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")  # the perceptual loss's five levels


def layer_names(arch: str) -> list[str]:
    """Names of the layers of `arch`'s features stack, by position: conv1_1, relu1_1, conv1_2, ..., pool1, ..."""
    names, block, i = [], 1, 1
    for v in cfgs[ARCHS[arch]]:
        if v == "M":
            names.append(f"pool{block}")
            block, i = block + 1, 1
        else:
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
            i += 1
    return names


def layer_index(arch: str, name: str) -> int:
    """The position of layer `name` (e.g. relu4_1) in `arch`'s features stack."""
    names = layer_names(arch)
    if name not in names:
        raise ValueError(f"{arch} has no layer {name!r}; its layers are {', '.join(names)}")
    return names.index(name)


class VggFeatures(nn.Module):
    """torchvision's VGG `features` stack alone (state_dict keys features.N.*, built by torchvision's
    make_layers), without the 100M-weight classifier head."""

    def __init__(self, arch: str = "vgg19"):
        super().__init__()
        self.arch = arch
        self.features = make_layers(cfgs[ARCHS[arch]])

    def reset_random(self, seed: int) -> None:
        """Kaiming-normal (fan_out, relu) weights and zero biases from a seeded generator: torchvision's recipe,
        drawn from a generator of its own (the global random state is left alone)."""
        g = torch.Generator().manual_seed(seed)
        for m in self.features:
            if isinstance(m, nn.Conv2d):
                fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1]
                with torch.no_grad():
                    m.weight.copy_(torch.randn(m.weight.shape, generator=g) * math.sqrt(2.0 / fan_out))
                    m.bias.zero_()

    def forward(self, x):
        return self.features(x)


class VggTaps(nn.Module):
    """The activations of a VGG features stack at named layers: {name: activation}, in stack order. The stack
    (shared, not copied) is cut after the last tap, and a call can stop early at the layer `until`."""

    def __init__(self, features: nn.Sequential, arch: str, layers: tuple[str, ...]):
        super().__init__()
        self.arch = arch
        self.taps = {layer_index(arch, name): name for name in layers}
        if list(self.taps) != sorted(self.taps):
            raise ValueError(f"taps {layers} are not in the order of the {arch} stack")
        self.stack = features[: max(self.taps) + 1]

    def forward(self, x: torch.Tensor, until: str | None = None) -> dict[str, torch.Tensor]:
        stop = max(self.taps) if until is None else layer_index(self.arch, until)
        out = {}
        for i, layer in enumerate(self.stack[: stop + 1]):
            x = layer(x)
            if i in self.taps:
                out[self.taps[i]] = x
        return out


# Indices into vgg19().features that end each slice of the loss pyramid (2, 7, 12, 21, 30).
SLICE_ENDS = tuple(layer_index("vgg19", name) + 1 for name in PYRAMID_LAYERS)


class Vgg19(nn.Module):
    """Frozen VGG19 slices ending at PYRAMID_LAYERS; `state_dict` is a torchvision vgg19 state_dict, or None for
    torchvision's own random init (the whole vgg19 is built, so a seed gives the weights it always gave)."""

    def __init__(self, state_dict=None, requires_grad=False):
        super().__init__()
        vgg = models.vgg19(weights=None)
        if state_dict is not None:
            vgg.load_state_dict(state_dict)
        features = vgg.features
        starts = (0,) + SLICE_ENDS[:-1]
        self.slices = nn.ModuleList(
            nn.Sequential(*[features[i] for i in range(a, b)]) for a, b in zip(starts, SLICE_ENDS))
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)
        if not requires_grad:
            for p in self.parameters():
                p.requires_grad_(False)

    def forward(self, x):
        out = (x - self.mean) / self.std
        feats = []
        for s in self.slices:
            out = s(out)
            feats.append(out)
        return feats
