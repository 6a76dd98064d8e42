"""The FOMM training loop: one device or many (DDP through torchrun), bf16 option, non-finite guard, exact resume."""
import contextlib
import logging
import random
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader

from engine import distributed as D
from engine.build import build_networks
from engine.checkpoint import find_resume_checkpoint, load_networks
from engine.perceptual import build_vgg
from engine.rundir import choose_run_dir, prepare_run_dir
from engine.sampler import EpochOrder, SeededItems
from engine.train_hooks import Checkpoints, StopSignals, StopTraining
from engine.train_log import LogCadence
from errors import UserError
from footage import DatasetRepeater, FramesDataset
from modules.model import DiscriminatorFullModel, GeneratorFullModel
from reporting import console

log = logging.getLogger(__name__)
FORMAT_VERSION = 1
NAMES = ("generator", "discriminator", "kp_detector")


@dataclass
class TrainOptions:
    """Where a training run starts from and writes to (run.py --mode train builds it from its options)."""

    checkpoint: str | None = None  # resume from it (ours: a file or its run folder) or start from its weights (FOMM)
    run_dir: str | None = None  # exact run directory (default: the resumed one, or a new numbered one)
    log_dir: str = "log"  # parent of the numbered run directories
    config: str | None = None  # the YAML file (names the run directory; the config of a FOMM checkpoint)
    device: str = "auto"  # cpu, cuda, cuda:N or auto


def _rng_state():
    """Every generator's state as tensors and plain values (so the checkpoint loads with weights_only=True)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"torch": torch.get_rng_state(),
             "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "gauss": float(gauss)},
             "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state):
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Trainer:
    """Holds the networks, full models, optimisers and schedulers; `step(batch)` is one training iteration."""

    def __init__(self, config, info: D.DistInfo, vgg=None):
        self.config = config
        self.info = info
        tp = self.tp = config["train_params"]
        torch.manual_seed(tp["seed"])
        self.nets = build_networks(config["model_params"])
        if info.enabled:
            for _, net in self.nets.items():
                D.convert_sync_batchnorm(net, info.device)
        for _, net in self.nets.items():
            net.to(info.device).train()
        self.use_gan = tp["loss_weights"]["generator_gan"] != 0
        n = self.nets
        self.generator_full = GeneratorFullModel(n.kp_detector, n.generator, n.discriminator if self.use_gan else None,
                                                 tp, vgg=vgg, shard=(info.rank, info.world_size)).to(info.device)
        self.discriminator_full = (DiscriminatorFullModel(n.kp_detector, n.generator, n.discriminator, tp)
                                   .to(info.device) if self.use_gan else None)
        betas = (0.5, 0.999)
        self.optimizers = {
            "generator": torch.optim.Adam(n.generator.parameters(), lr=tp["lr_generator"], betas=betas),
            "discriminator": torch.optim.Adam(n.discriminator.parameters(), lr=tp["lr_discriminator"], betas=betas),
            "kp_detector": torch.optim.Adam(n.kp_detector.parameters(), lr=tp["lr_kp_detector"], betas=betas),
        }
        self.schedulers = {k: torch.optim.lr_scheduler.MultiStepLR(o, tp["epoch_milestones"], gamma=0.1)
                           for k, o in self.optimizers.items()}
        self.gen_step_model, self.disc_step_model = self.generator_full, self.discriminator_full
        if info.enabled:
            ids = [info.device.index] if info.device.type == "cuda" else None
            # The discriminator lives inside the generator's full model only to score its output; it is
            # frozen there (see step), so this wrapper leaves its weights to its own wrapper below.
            self._discriminator_trainable(False)
            self.gen_step_model = DDP(self.generator_full, device_ids=ids, broadcast_buffers=False)
            self._discriminator_trainable(True)
            if self.use_gan:
                self.disc_step_model = DDP(self.discriminator_full, device_ids=ids, broadcast_buffers=False)
        self.autocast = (torch.autocast(info.device.type, dtype=torch.bfloat16)
                         if tp["mixed_precision"] == "bf16" else contextlib.nullcontext())
        self.step_count = 0
        self.skipped = 0

    # ---------------------------------------------------------------- one iteration
    def _finite(self, losses, params) -> bool:
        ok = all(torch.isfinite(v.detach()).all() for v in losses.values())
        if ok and params is not None:
            ok = all(torch.isfinite(p.grad).all() for p in params if p.grad is not None)
        return D.all_true(bool(ok), self.info)

    def _discriminator_trainable(self, on: bool) -> None:
        """Frozen during the generator step: the generator's GAN loss still flows through the discriminator to
        the generated image, but the discriminator's own weights get no gradient (the reference computed one
        and threw it away)."""
        self.nets.discriminator.requires_grad_(on)

    def _buffers(self):
        return [b for _, net in self.nets.items() for b in net.buffers() if b.is_floating_point()]

    def _bad_step(self, what, losses):
        values = {k: float(v.detach().float().mean()) for k, v in losses.items()}
        if self.tp["nonfinite"] == "stop":
            raise UserError(f"{what} is not finite at step {self.step_count} ({values}); the last checkpoint is "
                            "intact: lower the learning rates, or set train_params.nonfinite=skip")
        self.skipped += 1
        for opt in self.optimizers.values():
            opt.zero_grad(set_to_none=True)
        # The forward of a skipped step already moved BatchNorm running statistics (and spectral-norm
        # vectors): put them back, so a skipped step leaves no trace.
        with torch.no_grad():
            for buf, saved in zip(self._buffers(), self._saved_buffers):
                buf.copy_(saved)
        log.warning("skipping step %d: %s is not finite (%s)", self.step_count, what, values)

    def step(self, x):
        """Generator + keypoint-detector step, then the discriminator step when generator_gan != 0."""
        x = {k: v.to(self.info.device, non_blocking=True) for k, v in x.items() if torch.is_tensor(v)}
        opt = self.optimizers
        if self.tp["nonfinite"] == "skip":
            self._saved_buffers = [b.detach().clone() for b in self._buffers()]
        self._discriminator_trainable(False)
        try:
            with self.autocast:
                losses_g, generated = self.gen_step_model(x)
            loss = sum(v.float().mean() for v in losses_g.values())
            if not self._finite(losses_g, None):
                self._bad_step("the generator loss", losses_g)
                return losses_g, generated
            loss.backward()
        finally:
            self._discriminator_trainable(True)
        trainable = [p for k in ("generator", "kp_detector") for g in opt[k].param_groups for p in g["params"]]
        if not self._finite({}, trainable):
            self._bad_step("a generator/keypoint-detector gradient", losses_g)
            return losses_g, generated
        opt["generator"].step()
        opt["generator"].zero_grad(set_to_none=True)
        opt["kp_detector"].step()
        opt["kp_detector"].zero_grad(set_to_none=True)
        losses = dict(losses_g)
        if self.use_gan:
            opt["discriminator"].zero_grad(set_to_none=True)
            with self.autocast:
                losses_d = self.disc_step_model(x, generated)
            if self._finite(losses_d, None):
                sum(v.float().mean() for v in losses_d.values()).backward()
                disc_params = list(self.nets.discriminator.parameters())
                if self._finite({}, disc_params):
                    opt["discriminator"].step()
                else:
                    self._bad_step("a discriminator gradient", losses_d)
            else:
                self._bad_step("the discriminator loss", losses_d)
            opt["discriminator"].zero_grad(set_to_none=True)
            losses.update(losses_d)
        return losses, generated

    # ---------------------------------------------------------------- state
    def state(self, epoch_done, steps_per_epoch) -> dict:
        """Original FOMM checkpoint keys plus ours under 'stillmotion'."""
        state = {name: getattr(self.nets, name).state_dict() for name in NAMES}
        state.update({f"optimizer_{k}": o.state_dict() for k, o in self.optimizers.items()})
        state["epoch"] = epoch_done
        state["stillmotion"] = {
            "version": FORMAT_VERSION, "step": self.step_count, "steps_per_epoch": steps_per_epoch,
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "rng": _rng_state(), "config": self.config, "world_size": self.info.world_size,
            "skipped_steps": self.skipped,
        }
        return state

    def load(self, path, config_path=None) -> tuple[dict | None, int | None]:
        """Restore from our checkpoint (exact resume) or an original FOMM one (weights + optimisers).

        Returns (our checkpoint section, None) for our format, (None, the epoch to start at) for the original's.
        """
        state = load_networks(path, self.nets, config_path=config_path,
                              require=("kp_detector", "generator"))
        for k, o in self.optimizers.items():
            if f"optimizer_{k}" in state:
                o.load_state_dict(state[f"optimizer_{k}"])
        ours = state.get("stillmotion")
        if ours is None:
            return None, int(state.get("epoch", -1)) + 1
        for k, s in self.schedulers.items():
            s.load_state_dict(ours["schedulers"][k])
        self.step_count = int(ours["step"])
        self.skipped = int(ours.get("skipped_steps", 0))
        _set_rng_state(ours["rng"])
        return ours, None

    def step_schedulers(self, times: int = 1) -> None:
        """Step every learning-rate scheduler `times` times (at an epoch's end, or over a FOMM checkpoint's
        finished epochs; an optimiser that never stepped, such as the discriminator's without GAN, is intended)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            for s in self.schedulers.values():
                for _ in range(times):
                    s.step()


def _one_line(exc: UserError) -> str:
    """A UserError's own line; from a DataLoader worker it arrives wrapped in the worker's traceback."""
    text = str(exc)
    if "DataLoader worker" not in text:
        return text
    last = [ln for ln in text.splitlines() if ln.strip()][-1].strip()
    return last.split("UserError: ", 1)[-1]


def _make_loader(config, info, seed):
    dp = config["dataset_params"]
    tp = config["train_params"]
    # the mouth loss needs each driving frame's mouth mask (from the dataset's landmark files)
    dataset = FramesDataset(is_train=True, mouth_mask=tp["loss_weights"]["mouth"] != 0, **dp)
    if tp["num_repeats"] > 1:
        dataset = DatasetRepeater(dataset, tp["num_repeats"])
    if tp["batch_size"] % info.world_size:
        raise UserError(f"train_params.batch_size {tp['batch_size']} must be divisible by the "
                        f"{info.world_size} processes (it is the global batch)")
    if len(dataset) < tp["batch_size"]:
        raise UserError(f"the training set has {len(dataset)} items (after num_repeats), fewer than one batch of "
                        f"{tp['batch_size']}; raise train_params.num_repeats or lower train_params.batch_size")
    sampler = EpochOrder(len(dataset), tp["batch_size"], info.rank, info.world_size, seed)
    loader = DataLoader(SeededItems(dataset), batch_size=tp["batch_size"] // info.world_size, sampler=sampler,
                        num_workers=tp["num_workers"], pin_memory=info.device.type == "cuda",
                        generator=torch.Generator(), persistent_workers=False)
    return loader, sampler


def train(config, options: TrainOptions) -> Path:
    """Train the model of `config` (run.py --mode train); returns the run directory."""
    info = D.setup(options.device)
    try:
        return _train(config, options, info)
    finally:
        D.cleanup()


def _resume(trainer: Trainer, options: TrainOptions, spe: int, info) -> tuple[Path | None, int]:
    """Load options.checkpoint into `trainer`: (the checkpoint file or None, the step the run starts at)."""
    if not options.checkpoint:
        return None, 0
    checkpoint, why = find_resume_checkpoint(options.checkpoint)
    if why and info.is_main:
        log.warning("%s", why)
    ours, start_epoch = trainer.load(checkpoint, config_path=options.config)
    if ours is not None:
        if ours.get("steps_per_epoch") not in (None, spe):
            log.warning("resuming with %d steps per epoch (checkpoint had %s): the data order differs",
                        spe, ours.get("steps_per_epoch"))
        return checkpoint, trainer.step_count
    # original FOMM checkpoint: continue after its finished epoch (the original repeated it)
    trainer.step_count = start_epoch * spe
    trainer.step_schedulers(start_epoch)
    return checkpoint, trainer.step_count


def _run_dir(config, options: TrainOptions, checkpoint: Path | None, start_step: int, info) -> Path:
    """options.run_dir, the resumed checkpoint's own run folder, or a new numbered one; prepared on rank 0
    (config.yaml written, a killed checkpoint write's temporary files removed) and agreed by every rank."""
    run_dir = options.run_dir
    if run_dir is None and checkpoint and start_step > 0 and checkpoint.parent.joinpath("config.yaml").exists():
        run_dir = str(checkpoint.parent)
    if run_dir is None:
        run_dir = str(choose_run_dir(None, options.log_dir, "train", options.config)) if info.is_main else None
    if info.is_main:
        run_dir = prepare_run_dir(run_dir, config)  # the folder it made is the one every file goes to
        for stale in run_dir.glob(".*.tmp"):  # temp files of a checkpoint write that was killed
            stale.unlink()
    return Path(D.broadcast_object(str(run_dir) if info.is_main else None, info))


def _epochs(trainer: Trainer, loader, sampler, total: int, stop: StopSignals, logs: LogCadence,
            checkpoints: Checkpoints) -> None:
    """The FOMM loop: epochs of batches, one training step each; at each epoch's end the schedulers step
    and the epoch's checkpoint is written. Ends after `total` steps (or raises StopTraining)."""
    spe = sampler.batches_per_epoch
    while trainer.step_count < total:
        epoch, offset = divmod(trainer.step_count, spe)
        sampler.set_epoch(epoch, offset)
        for batch in loader:
            losses, generated = trainer.step(batch)
            trainer.step_count += 1
            stop.check()
            logs.step(trainer.step_count, batch, losses, generated, trainer.schedulers)
            if trainer.step_count >= total:
                break
        if trainer.step_count % spe == 0 and trainer.step_count // spe > epoch:  # the epoch ran to its end
            trainer.step_schedulers()
            checkpoints.end_of_epoch(epoch)


def _train(config, options: TrainOptions, info) -> Path:
    tp = config["train_params"]
    console(logging.INFO if info.is_main else logging.WARNING)
    vgg, vgg_line = build_vgg(tp, seed=tp["seed"])
    trainer = Trainer(config, info, vgg=vgg)
    loader, sampler = _make_loader(config, info, tp["seed"])
    spe = sampler.batches_per_epoch
    checkpoint, start_step = _resume(trainer, options, spe, info)
    run_dir = _run_dir(config, options, checkpoint, start_step, info)
    total = tp["num_epochs"] * spe if tp["max_steps"] is None else min(tp["max_steps"], tp["num_epochs"] * spe)
    logs = LogCadence(run_dir, config, enabled=info.is_main, total=total, start_step=start_step)
    if info.is_main:
        log.info("run directory: %s", run_dir)
        log.info("%s", vgg_line)
        log.info("device %s x %d process(es), global batch %d, %d steps/epoch, %d steps in all%s",
                 info.device, info.world_size, tp["batch_size"], spe, total,
                 f", resuming at step {start_step}" if start_step else "")
        logs.tlog.text("config", f"```\n{config}\n```")
    checkpoints = Checkpoints(trainer, run_dir, spe, info, saved_at=start_step)
    stop = StopSignals()
    try:
        with stop, logs:
            _epochs(trainer, loader, sampler, total, stop, logs, checkpoints)
    except StopTraining:
        stopped = True
    except UserError as exc:
        raise UserError(_one_line(exc)) from None
    except (RuntimeError, OSError, EOFError):
        # A SIGTERM sent to the whole process group also kills the DataLoader workers, which the loader
        # reports as a RuntimeError, or as a ConnectionResetError / EOFError when a worker dies while
        # handing over a batch: that is still a requested stop, and gets its exit checkpoint.
        if not stop.requested:
            raise
        stopped = True
    else:
        stopped = False
    if stopped and info.is_main:
        log.warning("interrupted at step %d: writing the exit checkpoint", trainer.step_count)
    checkpoints.save_last()
    if stopped:
        raise KeyboardInterrupt
    if info.is_main:
        log.info("done: %d steps (%d skipped); checkpoints in %s", trainer.step_count, trainer.skipped, run_dir)
    return run_dir
