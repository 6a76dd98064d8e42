"""VGG19 feature pyramid (relu1_1 .. relu5_1 on ImageNet-normalised input) for the perceptual loss."""
import torch
from torch import nn
from torchvision import models

# Indices into torchvision's vgg19().features that end each slice (relu1_1, relu2_1, relu3_1, relu4_1, relu5_1).
SLICE_ENDS = (2, 7, 12, 21, 30)


class Vgg19(nn.Module):
    """Frozen VGG19 slices; `state_dict` is a torchvision vgg19 state_dict, or None for torchvision's random init."""

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
