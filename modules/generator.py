"""Occlusion-aware generator: warps encoded source features by the dense motion and decodes the frame."""
import torch
import torch.nn.functional as F
from torch import nn

from modules.blocks import DownBlock2d, ResBlock2d, SameBlock2d, UpBlock2d
from modules.dense_motion import DenseMotionNetwork


class OcclusionAwareGenerator(nn.Module):
    """Encoder, feature warping + occlusion, residual bottleneck, decoder, sigmoid output.

    Returns a dict with mask, sparse_deformed, occlusion_map (if estimated), deformed, prediction and
    deformation (the dense motion grid, (B, h, w, 2), in grid_sample's convention).
    """

    def __init__(self, num_channels, num_kp, block_expansion, max_features, num_down_blocks,
                 num_bottleneck_blocks, estimate_occlusion_map=False, dense_motion_params=None,
                 estimate_jacobian=False, align_corners=False):
        super().__init__()
        if dense_motion_params is not None:
            self.dense_motion_network = DenseMotionNetwork(
                num_kp=num_kp, num_channels=num_channels, estimate_occlusion_map=estimate_occlusion_map,
                align_corners=align_corners, **dense_motion_params)
        else:
            self.dense_motion_network = None
        self.first = SameBlock2d(num_channels, block_expansion, kernel_size=(7, 7), padding=(3, 3))
        width = [min(max_features, block_expansion * (2**i)) for i in range(num_down_blocks + 1)]
        self.down_blocks = nn.ModuleList(
            DownBlock2d(width[i], width[i + 1], kernel_size=(3, 3), padding=(1, 1)) for i in range(num_down_blocks))
        self.up_blocks = nn.ModuleList(
            UpBlock2d(width[num_down_blocks - i], width[num_down_blocks - i - 1], kernel_size=(3, 3), padding=(1, 1))
            for i in range(num_down_blocks))
        self.bottleneck = nn.Sequential()
        for i in range(num_bottleneck_blocks):
            self.bottleneck.add_module(f"r{i}", ResBlock2d(width[-1], kernel_size=(3, 3), padding=(1, 1)))
        self.final = nn.Conv2d(block_expansion, num_channels, kernel_size=(7, 7), padding=(3, 3))
        self.estimate_occlusion_map = estimate_occlusion_map
        self.num_channels = num_channels
        self.align_corners = align_corners

    def deform_input(self, inp, deformation):
        """grid_sample `inp` by `deformation`, resizing the deformation (bilinear) when sizes differ."""
        _, h_old, w_old, _ = deformation.shape
        _, _, h, w = inp.shape
        if h_old != h or w_old != w:
            deformation = F.interpolate(deformation.permute(0, 3, 1, 2), size=(h, w), mode="bilinear")
            deformation = deformation.permute(0, 2, 3, 1)
        return F.grid_sample(inp, deformation, align_corners=self.align_corners)

    def encode(self, source_image):
        """Source features before warping; compute once per source when animating many frames."""
        out = self.first(source_image)
        for block in self.down_blocks:
            out = block(out)
        return out

    def decode(self, features):
        """Bottleneck, up blocks and the sigmoid output layer."""
        out = self.bottleneck(features)
        for block in self.up_blocks:
            out = block(out)
        return torch.sigmoid(self.final(out))

    def forward(self, source_image, kp_driving, kp_source, source_features=None):
        out = self.encode(source_image) if source_features is None else source_features
        if out.shape[0] != source_image.shape[0]:
            out = out.expand(source_image.shape[0], *out.shape[1:])
        output = {}
        if self.dense_motion_network is not None:
            motion = self.dense_motion_network(source_image=source_image, kp_driving=kp_driving, kp_source=kp_source)
            output["mask"] = motion["mask"]
            output["sparse_deformed"] = motion["sparse_deformed"]
            output["deformation"] = motion["deformation"]
            occlusion_map = motion.get("occlusion_map")
            out = self.deform_input(out, motion["deformation"])
            if occlusion_map is not None:
                output["occlusion_map"] = occlusion_map
                if out.shape[2:] != occlusion_map.shape[2:]:
                    occlusion_map = F.interpolate(occlusion_map, size=out.shape[2:], mode="bilinear")
                out = out * occlusion_map
            output["deformed"] = self.deform_input(source_image, motion["deformation"])
        output["prediction"] = self.decode(out)
        return output
