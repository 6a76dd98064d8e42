"""Coordinate grids and keypoint Gaussians in FOMM's normalised [-1, 1] (x, y) convention."""
import torch


def make_coordinate_grid(spatial_size, dtype=torch.float32, device=None):
    """(h, w, 2) grid: [..., 0] is x in linspace(-1, 1, w), [..., 1] is y in linspace(-1, 1, h)."""
    h, w = int(spatial_size[0]), int(spatial_size[1])
    x = torch.arange(w, dtype=dtype, device=device)
    y = torch.arange(h, dtype=dtype, device=device)
    x = 2 * (x / (w - 1)) - 1
    y = 2 * (y / (h - 1)) - 1
    xx = x.view(1, -1).expand(h, w)
    yy = y.view(-1, 1).expand(h, w)
    return torch.stack([xx, yy], dim=2)


def kp2gaussian(kp, spatial_size, kp_variance):
    """Gaussian heatmaps exp(-|z - kp|^2 / (2 var)) of shape (*leading, h, w) for kp['value'] (*leading, 2)."""
    mean = kp["value"]
    grid = make_coordinate_grid(spatial_size, dtype=mean.dtype, device=mean.device)
    lead = mean.dim() - 1
    grid = grid.view((1,) * lead + grid.shape)
    mean = mean.view(mean.shape[:lead] + (1, 1, 2))
    return torch.exp(-0.5 * ((grid - mean) ** 2).sum(-1) / kp_variance)


def inverse2x2(matrix):
    """Batched matrix inverse computed in float32 at least (bf16/fp16 have no inverse kernel), cast back.

    While exporting to ONNX (which has no matrix inverse operator) the 2x2 inverse is written out as the
    adjugate over the determinant; elsewhere torch.inverse, as before.
    """
    if torch.onnx.is_in_onnx_export():
        a, b = matrix[..., 0, 0], matrix[..., 0, 1]
        c, d = matrix[..., 1, 0], matrix[..., 1, 1]
        adjugate = torch.stack([torch.stack([d, -b], dim=-1), torch.stack([-c, a], dim=-1)], dim=-2)
        return adjugate / (a * d - b * c)[..., None, None]
    if matrix.dtype in (torch.float16, torch.bfloat16):
        return torch.inverse(matrix.float()).to(matrix.dtype)
    return torch.inverse(matrix)
