"""Anti-aliased Gaussian downsampling and the multi-scale image pyramid built from it."""
import torch
import torch.nn.functional as F
from torch import nn


def gaussian_kernel(scale):
    """Normalised 2-D Gaussian for downsampling by `scale`: sigma = (1/s - 1)/2, size 2*round(4 sigma)+1."""
    sigma = (1 / scale - 1) / 2
    size = 2 * round(sigma * 4) + 1
    coords = torch.arange(size, dtype=torch.float32)
    mean = (size - 1) / 2
    g = torch.exp(-((coords - mean) ** 2) / (2 * sigma**2))
    kernel = g.view(-1, 1) * g.view(1, -1)
    return kernel / kernel.sum()


class AntiAliasInterpolation2d(nn.Module):
    """Blur with a depthwise Gaussian, then keep every (1/scale)-th pixel; identity for scale 1."""

    def __init__(self, channels, scale):
        super().__init__()
        self.scale = scale
        self.groups = channels
        if scale == 1:
            self.ka = self.kb = 0
            self.register_buffer("weight", torch.ones(channels, 1, 1, 1))
            self.int_inv_scale = 1
            return
        kernel = gaussian_kernel(scale)
        size = kernel.shape[0]
        self.ka = size // 2
        self.kb = self.ka - 1 if size % 2 == 0 else self.ka
        self.register_buffer("weight", kernel.view(1, 1, size, size).repeat(channels, 1, 1, 1))
        self.int_inv_scale = int(1 / scale)

    def forward(self, x):
        if self.scale == 1:
            return x
        out = F.pad(x, (self.ka, self.kb, self.ka, self.kb))
        out = F.conv2d(out, weight=self.weight.to(out.dtype), groups=self.groups)
        return out[:, :, :: self.int_inv_scale, :: self.int_inv_scale]


def scale_key(scale):
    """The name FOMM gives a pyramid scale: 'prediction_' + str(scale) (so 1 -> '1', 0.5 -> '0.5')."""
    return str(scale)


class ImagePyramide(nn.Module):
    """{'prediction_<scale>': image downsampled by scale} for every scale (ModuleDict keys use '-' for '.')."""

    def __init__(self, scales, num_channels):
        super().__init__()
        self.downs = nn.ModuleDict(
            {scale_key(s).replace(".", "-"): AntiAliasInterpolation2d(num_channels, s) for s in scales}
        )

    def forward(self, x):
        return {"prediction_" + k.replace("-", "."): down(x) for k, down in self.downs.items()}
