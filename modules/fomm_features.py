"""Frozen multi-scale features of a trained FOMM generator: an offline perceptual-loss network of our own."""
import copy

import torch
from torch import nn


class GeneratorFeatures(nn.Module):
    """The encoder and bottleneck of a trained OcclusionAwareGenerator, frozen, as a 5-level feature stack.

    Levels, fine to coarse: the first 7x7 block, each down block, then the bottleneck after its first and
    after its last residual block (a generator with two down blocks gives exactly five). The stack is
    a copy: the generator being trained is not touched. It stays in eval mode (BatchNorm running
    statistics) whatever train() asks, so a training loop that switches its model to train mode cannot
    turn the loss network's normalisation into batch statistics. Input: RGB in [0, 1], as the generator
    sees it.
    """

    num_levels = 5

    def __init__(self, generator: nn.Module):
        super().__init__()
        bottleneck = list(copy.deepcopy(generator.bottleneck))
        if len(generator.down_blocks) != 2 or len(bottleneck) < 2:
            raise ValueError("GeneratorFeatures needs a generator with 2 down blocks and at least 2 bottleneck blocks "
                             f"(got {len(generator.down_blocks)} and {len(bottleneck)})")
        levels = [copy.deepcopy(generator.first), *(copy.deepcopy(b) for b in generator.down_blocks),
                  nn.Sequential(bottleneck[0]), nn.Sequential(*bottleneck[1:])]
        self.levels = nn.ModuleList(levels)
        for p in self.parameters():
            p.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True):
        return super().train(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for level in self.levels:
            x = level(x)
            out.append(x)
        return out
