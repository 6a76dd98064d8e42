"""TransformerNet, the fast-neural-style image transformation network (Johnson et al. 2016), and its .pth files.

The layout and state_dict keys match the widely shared pytorch/examples fast_neural_style models
(conv1.conv2d.weight, in1.weight, res1.conv1.conv2d.weight, ..., deconv3.conv2d.bias), so their .pth
files load as they are. Like those models it maps RGB in 0..255 to RGB in (roughly) 0..255.
`width` scales every layer (32 is the published size); it is read back from a file's conv1 shape.
"""
from __future__ import annotations

import os
import re

import torch
from torch import nn

from atomic import atomic_open
from errors import UserError

_LEGACY_KEY = re.compile(r"(^|\.)in\d+\.(running_mean|running_var|num_batches_tracked)$")
_RES_KEY = re.compile(r"^res(\d+)\.")


class _Conv(nn.Module):
    """Reflection padding then a convolution (keys: conv2d.weight, conv2d.bias)."""

    def __init__(self, c_in, c_out, kernel, stride=1, upsample=1):
        super().__init__()
        self.upsample = upsample
        self.pad = nn.ReflectionPad2d(kernel // 2)
        self.conv2d = nn.Conv2d(c_in, c_out, kernel, stride)

    def forward(self, x):
        if self.upsample > 1:
            x = nn.functional.interpolate(x, scale_factor=self.upsample, mode="nearest")
        return self.conv2d(self.pad(x))


def _norm(c):
    return nn.InstanceNorm2d(c, affine=True)


class _Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1, self.in1 = _Conv(c, c, 3), _norm(c)
        self.conv2, self.in2 = _Conv(c, c, 3), _norm(c)

    def forward(self, x):
        y = torch.relu(self.in1(self.conv1(x)))
        return x + self.in2(self.conv2(y))


class TransformerNet(nn.Module):
    """Downsample x4, `num_residual` residual blocks, upsample x4; instance norm throughout."""

    def __init__(self, width: int = 32, num_residual: int = 5):
        super().__init__()
        w1, w2, w4 = width, 2 * width, 4 * width
        self.conv1, self.in1 = _Conv(3, w1, 9), _norm(w1)
        self.conv2, self.in2 = _Conv(w1, w2, 3, stride=2), _norm(w2)
        self.conv3, self.in3 = _Conv(w2, w4, 3, stride=2), _norm(w4)
        for i in range(1, num_residual + 1):
            self.add_module(f"res{i}", _Residual(w4))
        self.num_residual = num_residual
        self.deconv1, self.in4 = _Conv(w4, w2, 3, upsample=2), _norm(w2)
        self.deconv2, self.in5 = _Conv(w2, w1, 3, upsample=2), _norm(w1)
        self.deconv3 = _Conv(w1, 3, 9)

    @property
    def width(self) -> int:
        return self.conv1.conv2d.out_channels

    def forward(self, x):
        """x: Bx3xHxW RGB in 0..255 -> Bx3xHxW RGB, about 0..255 (clamp it). H, W multiples of 4 keep the size."""
        y = torch.relu(self.in1(self.conv1(x)))
        y = torch.relu(self.in2(self.conv2(y)))
        y = torch.relu(self.in3(self.conv3(y)))
        for i in range(1, self.num_residual + 1):
            y = getattr(self, f"res{i}")(y)
        y = torch.relu(self.in4(self.deconv1(y)))
        y = torch.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)


def clean_state_dict(state: dict) -> dict:
    """Drop the InstanceNorm running statistics older files carry, and a DataParallel 'module.' prefix."""
    out = {}
    for k, v in state.items():
        k = k.removeprefix("module.")
        if not _LEGACY_KEY.search(k):
            out[k] = v
    return out


def load_transformer(path, device="cpu") -> TransformerNet:
    """Load a pytorch/examples-format TransformerNet .pth (any width / number of residual blocks), eval mode."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise UserError(f"style model {path} not found; pass the path of a fast-neural-style .pth file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise UserError(f"cannot read style model {path}: {type(e).__name__}; "
                        "pass a .pth state_dict saved by train_style.py or pytorch/examples") from e
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or "conv1.conv2d.weight" not in {k.removeprefix("module.") for k in state}:
        raise UserError(f"{path} is not a fast-neural-style TransformerNet state_dict (no conv1.conv2d.weight); "
                        "pass a .pth saved by train_style.py or pytorch/examples fast_neural_style")
    state = clean_state_dict(state)
    width = state["conv1.conv2d.weight"].shape[0]
    num_res = len({int(m.group(1)) for k in state if (m := _RES_KEY.match(k))})
    net = TransformerNet(width=width, num_residual=num_res)
    try:
        net.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else str(e)
        raise UserError(f"{path} does not match the TransformerNet layout ({first[:150]}); "
                        "pass a fast-neural-style .pth file") from e
    return net.eval().to(device)


def save_transformer(net: TransformerNet, path) -> None:
    """Write net's state_dict (CPU tensors, pytorch/examples format) atomically (atomic.atomic_open)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    with atomic_open(path, "wb") as f:
        torch.save(state, f)
