"""Building the three FOMM networks from a config's model_params, in the reference's construction order."""
from dataclasses import dataclass

import torch
from torch import nn

from modules.discriminator import MultiScaleDiscriminator
from modules.generator import OcclusionAwareGenerator
from modules.keypoint_detector import KPDetector


@dataclass
class Networks:
    kp_detector: nn.Module
    generator: nn.Module
    discriminator: nn.Module

    def items(self):
        return (("kp_detector", self.kp_detector), ("generator", self.generator),
                ("discriminator", self.discriminator))


def build_networks(model_params, device="cpu") -> Networks:
    """Generator, discriminator, keypoint detector (run.py's order, so a seed gives the reference's init)."""
    common = model_params["common_params"]
    with torch.device(device):
        generator = OcclusionAwareGenerator(**model_params["generator_params"], **common)
        discriminator = MultiScaleDiscriminator(**model_params["discriminator_params"], **common)
        kp_detector = KPDetector(**model_params["kp_detector_params"], **common)
    return Networks(kp_detector, generator, discriminator)


def state_shapes(model_params) -> dict:
    """{network: {key: shape}} without allocating weights (built on the meta device)."""
    nets = build_networks(model_params, device="meta")
    return {name: {k: list(v.shape) for k, v in net.state_dict().items()} for name, net in nets.items()}
