"""Random affine + thin-plate-spline warp used by the equivariance losses, with its Jacobian by autograd."""
import copy

import torch
import torch.nn.functional as F

from modules.geometry import make_coordinate_grid


class Transform:
    """theta = I + N(0, sigma_affine); TPS with points_tps^2 control points and N(0, sigma_tps) parameters.

    The draws use torch's global generator in the original's order (theta first, then the TPS
    parameters), so a seed reproduces the reference's transform.
    """

    def __init__(self, bs, sigma_affine, sigma_tps=None, points_tps=None, align_corners=False, device=None):
        noise = torch.normal(mean=0, std=sigma_affine * torch.ones([bs, 2, 3]))
        self.theta = (noise + torch.eye(2, 3).view(1, 2, 3)).to(device)
        self.bs = bs
        self.align_corners = align_corners
        self.tps = sigma_tps is not None and points_tps is not None
        if self.tps:
            self.control_points = make_coordinate_grid((points_tps, points_tps)).unsqueeze(0).to(device)
            self.control_params = torch.normal(
                mean=0, std=sigma_tps * torch.ones([bs, 1, points_tps**2])).to(device)

    def rows(self, start, stop):
        """The same transform restricted to batch rows [start, stop) (one rank's share of a global batch)."""
        part = copy.copy(self)
        part.theta = self.theta[start:stop]
        part.bs = stop - start
        if self.tps:
            part.control_params = self.control_params[start:stop]
        return part

    def transform_frame(self, frame):
        """Warp a (B, C, H, W) frame: sample it at T(z) for every output pixel z, reflecting at borders."""
        h, w = frame.shape[2:]
        grid = make_coordinate_grid((h, w), dtype=frame.dtype, device=frame.device).view(1, h * w, 2)
        grid = self.warp_coordinates(grid).view(self.bs, h, w, 2)
        return F.grid_sample(frame, grid, padding_mode="reflection", align_corners=self.align_corners)

    def warp_coordinates(self, coordinates):
        """T(z) for coordinates (B or 1, N, 2)."""
        theta = self.theta.to(coordinates.dtype).unsqueeze(1)
        transformed = torch.matmul(theta[:, :, :, :2], coordinates.unsqueeze(-1)) + theta[:, :, :, 2:]
        transformed = transformed.squeeze(-1)
        if self.tps:
            control_points = self.control_points.to(coordinates.dtype)
            control_params = self.control_params.to(coordinates.dtype)
            distances = coordinates.view(coordinates.shape[0], -1, 1, 2) - control_points.view(1, 1, -1, 2)
            distances = torch.abs(distances).sum(-1)
            result = distances**2 * torch.log(distances + 1e-6) * control_params
            transformed = transformed + result.sum(dim=2).view(self.bs, coordinates.shape[1], 1)
        return transformed

    def jacobian(self, coordinates):
        """dT/dz at coordinates (B, N, 2) -> (B, N, 2, 2), by autograd (differentiable w.r.t. coordinates)."""
        with torch.enable_grad():
            if not coordinates.requires_grad:
                coordinates = coordinates.detach().requires_grad_(True)
            new = self.warp_coordinates(coordinates)
            grad_x = torch.autograd.grad(new[..., 0].sum(), coordinates, create_graph=True)[0]
            grad_y = torch.autograd.grad(new[..., 1].sum(), coordinates, create_graph=True)[0]
        return torch.stack([grad_x, grad_y], dim=-2)
