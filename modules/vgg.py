"""VGG: one builder (torchvision's make_layers), one random init (random_vgg: torchvision's, seeded), layers named
by block (relu4_1), taps at named layers, and the VGG19 pyramid (relu1_1 .. relu5_1 on ImageNet-normalised input)
for the perceptual loss."""
from __future__ import annotations

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
    make_layers, or the `features` of a torchvision VGG), without the 100M-weight classifier head."""

    def __init__(self, arch: str = "vgg19", features: nn.Sequential | None = None):
        super().__init__()
        self.arch = arch
        self.features = features if features is not None else make_layers(cfgs[ARCHS[arch]])

    def forward(self, x):
        return self.features(x)


def random_vgg(arch: str = "vgg19", seed: int | None = None) -> VggFeatures:
    """The one random VGG: torchvision's own init (kaiming-normal (fan_out, relu) convs, zero biases), drawn
    after the whole network, classifier included, is built, so a seed gives the features that
    torch.manual_seed(seed); torchvision.models.<arch>(weights=None) gives (the reference FOMM's loss network
    under its golden seed). seed None draws from the global random state (fewer draws than torchvision's, whose
    classifier init pass is skipped); with a seed the global random state is left as it was."""
    if seed is None:
        return VggFeatures(arch, _torchvision_init(arch))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return VggFeatures(arch, _torchvision_init(arch))


def _torchvision_init(arch: str) -> nn.Sequential:
    """The features of torchvision's <arch>(weights=None), drawn in its order: the layers' default inits as
    the network is built, then its init pass, which reaches the features first. The pass's remaining draws
    (the classifier's 120M normal weights, which the features never see) are left out: half the time."""
    net = getattr(models, arch)(weights=None, init_weights=False)
    for layer in net.features:
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(layer.bias)
    return net.features


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


class Vgg19(nn.Module):
    """The perceptual loss network: frozen VGG19 activations at PYRAMID_LAYERS (a list, shallow first) of
    ImageNet-normalised input. `vgg`: a VggFeatures("vgg19") with its weights; None: random_vgg("vgg19") from
    the global random state (what the reference FOMM built after its seed)."""

    def __init__(self, vgg: VggFeatures | None = None, requires_grad=False):
        super().__init__()
        vgg = vgg if vgg is not None else random_vgg("vgg19")
        self.taps = VggTaps(vgg.features, "vgg19", PYRAMID_LAYERS)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)
        for p in self.parameters():
            p.requires_grad_(requires_grad)

    def forward(self, x):
        return list(self.taps((x - self.mean) / self.std).values())
