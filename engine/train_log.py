"""Training logs written by rank 0: tensorboard scalars (losses, learning rates, throughput) and image grids."""
import colorsys

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter


def keypoint_colors(num_kp):
    """A rainbow palette (like matplotlib's gist_rainbow) with one RGB colour per keypoint."""
    return [colorsys.hsv_to_rgb(0.85 * i / max(num_kp - 1, 1), 1.0, 1.0) for i in range(num_kp)]


def draw_keypoints(image, kp, radius=2):
    """Copy of a (3, H, W) tensor with filled discs at keypoints kp (K, 2) in [-1, 1] (x, y)."""
    out = image.detach().float().cpu().clone()
    _, h, w = out.shape
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    for (x, y), color in zip(kp.detach().float().cpu().tolist(), keypoint_colors(len(kp))):
        cx, cy = (x + 1) / 2 * (w - 1), (y + 1) / 2 * (h - 1)
        mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= radius**2
        for c in range(3):
            out[c][mask] = color[c]
    return out


def training_grid(x, generated, max_items=4, radius=2):
    """(3, rows*H, 5*W) image: source+kp | driving+kp | deformed source | occlusion | prediction+kp."""
    rows = []
    n = min(max_items, x["source"].shape[0])
    h, w = x["source"].shape[2:]
    for i in range(n):
        cells = [draw_keypoints(x["source"][i], generated["kp_source"]["value"][i], radius),
                 draw_keypoints(x["driving"][i], generated["kp_driving"]["value"][i], radius)]
        if "deformed" in generated:
            cells.append(generated["deformed"][i].detach().float().cpu())
        if "occlusion_map" in generated:
            occ = torch.nn.functional.interpolate(generated["occlusion_map"][i:i + 1].detach().float().cpu(),
                                                  size=(h, w), mode="bilinear")[0]
            cells.append(occ.expand(3, h, w))
        cells.append(draw_keypoints(generated["prediction"][i], generated["kp_driving"]["value"][i], radius))
        rows.append(torch.cat([c.clamp(0, 1) for c in cells], dim=2))
    return torch.cat(rows, dim=1)


class TrainLog:
    """Thin wrapper over SummaryWriter that does nothing on ranks other than 0."""

    def __init__(self, run_dir, enabled=True):
        self.writer = SummaryWriter(str(run_dir)) if enabled else None

    def scalars(self, step, values: dict):
        if self.writer is None:
            return
        for name, value in values.items():
            self.writer.add_scalar(name, float(value), step)

    def images(self, step, x, generated, kp_size=2):
        if self.writer is None:
            return
        grid = training_grid(x, generated, radius=kp_size)
        self.writer.add_image("train/source|driving|deformed|occlusion|prediction", grid.numpy(), step)

    def text(self, tag, value, step=0):
        if self.writer is not None:
            self.writer.add_text(tag, value, step)

    def close(self):
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()


def mean_losses(losses: dict) -> dict:
    return {k: float(np.asarray(v.detach().float().mean().cpu())) for k, v in losses.items()}
