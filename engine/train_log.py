"""Training logs written by rank 0: tensorboard scalars (losses, learning rates, throughput), image grids, and
their cadence (LogCadence, with the progress bar)."""
import sys
import time

import numpy as np
import torch.nn.functional as F
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from engine.visualize import Visualizer


def _hwc(t):
    return t.detach().float().cpu().clamp(0, 1).permute(1, 2, 0).numpy()


def training_grid(x, generated, visualizer: Visualizer, max_items=4) -> np.ndarray:
    """HxWx3 rows of: source+kp | driving+kp | deformed source | occlusion | prediction+kp (config's visualizer)."""
    rows = []
    h, w = x["source"].shape[2:]
    for i in range(min(max_items, x["source"].shape[0])):
        kp_s = generated["kp_source"]["value"][i].detach().float().cpu().numpy()
        kp_d = generated["kp_driving"]["value"][i].detach().float().cpu().numpy()
        columns = [(_hwc(x["source"][i]), kp_s), (_hwc(x["driving"][i]), kp_d)]
        if "deformed" in generated:
            columns.append((_hwc(generated["deformed"][i]), None))
        if "occlusion_map" in generated:
            occ = F.interpolate(generated["occlusion_map"][i:i + 1].detach().float().cpu(), size=(h, w),
                                mode="bilinear")[0]
            columns.append((_hwc(occ.expand(3, h, w)), None))
        columns.append((_hwc(generated["prediction"][i]), kp_d))
        rows.append(visualizer.row(columns))
    return np.concatenate(rows, axis=0)


class TrainLog:
    """Thin wrapper over SummaryWriter that does nothing on ranks other than 0."""

    def __init__(self, run_dir, enabled=True, visualizer_params=None, purge_step=None):
        # purge_step: readers drop events at this step and later from the folder's earlier files
        self.writer = SummaryWriter(str(run_dir), purge_step=purge_step) if enabled else None
        params = dict(visualizer_params or {})
        self.visualizer = Visualizer(kp_size=params.get("kp_size", 2), draw_border=params.get("draw_border", True),
                                     colormap=params.get("colormap", "gist_rainbow"))

    def scalars(self, step, values: dict):
        if self.writer is None:
            return
        for name, value in values.items():
            self.writer.add_scalar(name, float(value), step)

    def images(self, step, x, generated):
        if self.writer is None:
            return
        grid = training_grid(x, generated, self.visualizer)
        self.writer.add_image("train/source|driving|deformed|occlusion|prediction", grid, step, dataformats="HWC")

    def text(self, tag, value, step=0):
        if self.writer is not None:
            self.writer.add_text(tag, value, step)

    def close(self):
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()


def mean_losses(losses: dict) -> dict:
    return {k: float(np.asarray(v.detach().float().mean().cpu())) for k, v in losses.items()}


class LogCadence:
    """What the training loop reports and when: the progress bar every step, losses, learning rates and
    throughput every `log_freq` steps (and at the last), image grids every `image_freq` steps (rank 0)."""

    def __init__(self, run_dir, config: dict, enabled: bool, total: int, start_step: int):
        self.tp, self.enabled, self.total, self.start_step = config["train_params"], enabled, total, start_step
        # a resumed run drops the logged steps after its checkpoint from the earlier events files (those
        # steps run again), so tensorboard shows each step once
        self.tlog = TrainLog(run_dir, enabled=enabled, visualizer_params=config.get("visualizer_params"),
                             purge_step=start_step + 1 if start_step else None)
        self.bar = None

    def __enter__(self):
        self.bar = tqdm(total=self.total, initial=self.start_step, disable=not self.enabled, dynamic_ncols=True,
                        file=sys.stdout)
        self.t0, self.n0 = time.time(), self.start_step
        return self

    def __exit__(self, *exc):
        self.bar.close()
        self.tlog.close()

    def step(self, step: int, batch, losses, generated, schedulers) -> None:
        self.bar.update(1)
        if not self.enabled:
            return
        if step % self.tp["log_freq"] == 0 or step == self.total:
            values = mean_losses(losses)
            self.bar.set_postfix({k: f"{v:.3f}" for k, v in values.items()}, refresh=False)
            rate = (step - self.n0) * self.tp["batch_size"] / max(time.time() - self.t0, 1e-9)
            self.t0, self.n0 = time.time(), step
            scalars = {f"loss/{k}": v for k, v in values.items()}
            scalars.update({f"lr/{k}": s.get_last_lr()[0] for k, s in schedulers.items()})
            scalars["perf/samples_per_sec"] = rate
            scalars["loss/total_generator"] = sum(v for k, v in values.items() if k != "disc_gan")
            self.tlog.scalars(step, scalars)
        if step % self.tp["image_freq"] == 0:
            self.tlog.images(step, batch, generated)
