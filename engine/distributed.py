"""Process groups under torchrun (NCCL on GPUs, gloo on CPU), rank helpers and batch-norm synchronisation."""
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
from torch import nn

from errors import UserError


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup(device_name="auto") -> DistInfo:
    """Join the process group torchrun describes in the environment (or run alone without it)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device_name in (None, "auto"):
        device_name = "cuda" if torch.cuda.is_available() else "cpu"
    from engine.inference import resolve_device

    resolve_device(device_name)  # an unknown name or a missing GPU: one clear line
    if device_name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError("--device cuda asked for, but torch sees no CUDA GPU here; use --device cpu")
        device = torch.device("cuda", local_rank if world > 1 or device_name == "cuda" else int(device_name[5:]))
        torch.cuda.set_device(device)
    else:
        device = torch.device(device_name)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistInfo(rank, world, local_rank, device)


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def broadcast_object(obj, info: DistInfo):
    """Rank 0's value of `obj` on every rank."""
    if not info.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def all_true(flag: bool, info: DistInfo) -> bool:
    """True only when `flag` is true on every rank (so all ranks take the same branch)."""
    if not info.enabled:
        return flag
    t = torch.tensor([0.0 if flag else 1.0], device=info.device)
    dist.all_reduce(t)
    return t.item() == 0


class GlooSyncBatchNorm(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics are those of the whole global batch, for CPU process groups.

    torch's SyncBatchNorm accepts only GPU tensors; this computes the same per-channel mean and (biased)
    variance from all-reduced sums (torch.distributed.nn's all_reduce, which is differentiable), and
    updates the running statistics with the unbiased global variance, as BatchNorm2d does.
    """

    def forward(self, x):
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        c = x.shape[1]
        count = torch.tensor([x.numel() // c], dtype=x.dtype, device=x.device)
        # Two passes (mean, then centred squares) as BatchNorm2d does: E[x^2] - E[x]^2 loses precision.
        stats = dist_fn.all_reduce(torch.cat([x.sum(dim=(0, 2, 3)), count]))
        n = stats[-1]
        mean = stats[:c] / n
        centred = x - mean.view(1, c, 1, 1)
        var = dist_fn.all_reduce((centred * centred).sum(dim=(0, 2, 3))) / n
        with torch.no_grad():
            self.num_batches_tracked.add_(1)
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(m * mean.detach())
            self.running_var.mul_(1 - m).add_(m * var.detach() * n / (n - 1))
        out = centred * torch.rsqrt(var.view(1, c, 1, 1) + self.eps)
        if self.affine:
            out = out * self.weight.view(1, c, 1, 1) + self.bias.view(1, c, 1, 1)
        return out


def convert_sync_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """torch's SyncBatchNorm on GPUs; GlooSyncBatchNorm (same statistics) for CPU process groups."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm2d:
            new = GlooSyncBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                    child.track_running_stats)
            new.load_state_dict(child.state_dict())
            setattr(module, name, new)
        else:
            convert_sync_batchnorm(child, device)
    return module
