"""The training loop's stop signals and checkpoint cadence (numbered per epoch, last-checkpoint at the end)."""
import signal
from pathlib import Path

from engine import distributed as D
from engine.checkpoint import save_checkpoint
from errors import STOP_SIGNALS

LAST = "last-checkpoint.pth.tar"


class StopTraining(Exception):
    """Raised at a step boundary after SIGTERM, SIGHUP or Ctrl-C, so that the exit checkpoint is written."""


class StopSignals:
    """While entered, SIGINT, SIGTERM and SIGHUP ask for a stop at the next step boundary (check() raises
    StopTraining); a second Ctrl-C interrupts at once (and then no checkpoint is written for the half-done step)."""

    def __init__(self):
        self.requested = False
        self.previous = {}

    def _on_signal(self, signum, frame):
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        self.previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, *STOP_SIGNALS)}
        return self

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def check(self) -> None:
        if self.requested:
            raise StopTraining()


class Checkpoints:
    """Checkpoint cadence: `<epoch>-checkpoint.pth.tar` every `checkpoint_freq` epochs, last-checkpoint beside
    each, and a last-checkpoint at the end (or stop) when steps ran since the previous one. Rank 0 writes."""

    def __init__(self, trainer, run_dir: Path, steps_per_epoch: int, info: D.DistInfo, saved_at: int):
        self.trainer, self.run_dir, self.spe, self.info = trainer, run_dir, steps_per_epoch, info
        self.every = trainer.tp["checkpoint_freq"]
        self.saved_at = saved_at  # the step of the newest checkpoint

    def save(self, name: str) -> None:
        if self.info.is_main:
            epoch_done = self.trainer.step_count // self.spe - 1
            state = self.trainer.state(epoch_done, self.spe)
            save_checkpoint(self.run_dir / name, state)
            if name != LAST:
                save_checkpoint(self.run_dir / LAST, state)
        D.barrier(self.info)

    def end_of_epoch(self, epoch: int) -> None:
        if (epoch + 1) % self.every == 0:
            self.save(f"{epoch:08d}-checkpoint.pth.tar")
            self.saved_at = self.trainer.step_count

    def save_last(self) -> None:
        if self.trainer.step_count != self.saved_at:
            self.save(LAST)

