"""Dense motion: combines K local affine motions (plus identity) into one deformation and an occlusion map."""
import torch
import torch.nn.functional as F
from torch import nn

from modules.antialias import AntiAliasInterpolation2d
from modules.blocks import Hourglass
from modules.geometry import inverse2x2, kp2gaussian, make_coordinate_grid


class DenseMotionNetwork(nn.Module):
    """Predicts a softmax mask over K+1 sparse motions, the dense deformation and an optional occlusion map."""

    def __init__(self, block_expansion, num_blocks, max_features, num_kp, num_channels,
                 estimate_occlusion_map=False, scale_factor=1, kp_variance=0.01, align_corners=False):
        super().__init__()
        self.hourglass = Hourglass(block_expansion=block_expansion, in_features=(num_kp + 1) * (num_channels + 1),
                                   max_features=max_features, num_blocks=num_blocks)
        self.mask = nn.Conv2d(self.hourglass.out_filters, num_kp + 1, kernel_size=(7, 7), padding=(3, 3))
        if estimate_occlusion_map:
            self.occlusion = nn.Conv2d(self.hourglass.out_filters, 1, kernel_size=(7, 7), padding=(3, 3))
        else:
            self.occlusion = None
        self.num_kp = num_kp
        self.scale_factor = scale_factor
        self.kp_variance = kp_variance
        self.align_corners = align_corners
        if scale_factor != 1:
            self.down = AntiAliasInterpolation2d(num_channels, scale_factor)

    def create_heatmap_representations(self, source_image, kp_driving, kp_source):
        """(B, K+1, 1, h, w): zeros for the background, then G(kp_driving) - G(kp_source)."""
        size = source_image.shape[2:]
        heatmap = (kp2gaussian(kp_driving, size, self.kp_variance)
                   - kp2gaussian(kp_source, size, self.kp_variance))
        zeros = heatmap.new_zeros(heatmap.shape[0], 1, size[0], size[1])
        return torch.cat([zeros, heatmap], dim=1).unsqueeze(2)

    def create_sparse_motions(self, source_image, kp_driving, kp_source):
        """(B, K+1, h, w, 2): identity, then J_s J_d^-1 (z - kp_d) + kp_s for every keypoint."""
        bs, _, h, w = source_image.shape
        kp_s, kp_d = kp_source["value"], kp_driving["value"]
        identity = make_coordinate_grid((h, w), dtype=kp_s.dtype, device=kp_s.device).view(1, 1, h, w, 2)
        grid = identity - kp_d.view(bs, self.num_kp, 1, 1, 2)
        if "jacobian" in kp_driving:
            jacobian = torch.matmul(kp_source["jacobian"], inverse2x2(kp_driving["jacobian"]))
            jacobian = jacobian.view(bs, self.num_kp, 1, 1, 2, 2)
            grid = torch.matmul(jacobian, grid.unsqueeze(-1)).squeeze(-1)
        driving_to_source = grid + kp_s.view(bs, self.num_kp, 1, 1, 2)
        return torch.cat([identity.expand(bs, 1, h, w, 2), driving_to_source], dim=1)

    def create_deformed_source_image(self, source_image, sparse_motions):
        """(B, K+1, C, h, w): the source warped by each sparse motion."""
        bs, c, h, w = source_image.shape
        n = self.num_kp + 1
        source_repeat = source_image.unsqueeze(1).expand(bs, n, c, h, w).reshape(bs * n, c, h, w)
        grid = sparse_motions.reshape(bs * n, h, w, 2)
        deformed = F.grid_sample(source_repeat, grid, align_corners=self.align_corners)
        return deformed.view(bs, n, c, h, w)

    def forward(self, source_image, kp_driving, kp_source):
        if self.scale_factor != 1:
            source_image = self.down(source_image)
        bs, _, h, w = source_image.shape
        out = {}
        heatmap_representation = self.create_heatmap_representations(source_image, kp_driving, kp_source)
        sparse_motion = self.create_sparse_motions(source_image, kp_driving, kp_source)
        deformed_source = self.create_deformed_source_image(source_image, sparse_motion)
        out["sparse_deformed"] = deformed_source
        features = torch.cat([heatmap_representation, deformed_source], dim=2).view(bs, -1, h, w)
        prediction = self.hourglass(features)
        mask = F.softmax(self.mask(prediction), dim=1)
        out["mask"] = mask
        deformation = (sparse_motion.permute(0, 1, 4, 2, 3) * mask.unsqueeze(2)).sum(dim=1)
        out["deformation"] = deformation.permute(0, 2, 3, 1)
        if self.occlusion is not None:
            out["occlusion_map"] = torch.sigmoid(self.occlusion(prediction))
        return out
