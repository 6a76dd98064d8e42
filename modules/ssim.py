"""Differentiable SSIM (Wang et al. 2004, Gaussian window) for the pixel-pyramid training loss."""
import torch
import torch.nn.functional as F


def _gaussian_window(size: int, sigma: float, channels: int, like: torch.Tensor) -> torch.Tensor:
    coords = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    g = torch.exp(-(coords ** 2) / (2 * sigma ** 2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def ssim(x: torch.Tensor, y: torch.Tensor, window: int = 11, sigma: float = 1.5,
         data_range: float = 1.0) -> torch.Tensor:
    """Mean SSIM per image, shape (B,), of two (B, C, H, W) batches in [0, data_range].

    Statistics use a Gaussian window (11 px, sigma 1.5, as the paper) over valid positions only; images
    smaller than the window use a window as large as the image (same sigma), so 16x16 pyramid levels work.
    """
    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(f"ssim needs two equal (B, C, H, W) tensors, got {tuple(x.shape)} and {tuple(y.shape)}")
    size = min(window, x.shape[-2], x.shape[-1])
    channels = x.shape[1]
    w = _gaussian_window(size, sigma, channels, x)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2

    def filt(t):
        return F.conv2d(t, w, groups=channels)

    mu_x, mu_y = filt(x), filt(y)
    var_x = filt(x * x) - mu_x ** 2
    var_y = filt(y * y) - mu_y ** 2
    cov = filt(x * y) - mu_x * mu_y
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    return s.flatten(1).mean(1)
