"""Numbered run directories (log/00003-train-vox-256) with the full config saved beside the results."""
import re
from pathlib import Path

from engine.config import dump_config
from output_paths import check_output_folder


def next_run_dir(log_dir, kind, config_path) -> Path:
    """log_dir/<NNNNN>-<kind>-<config stem>: one more than the highest number there; no spaces."""
    check_output_folder(log_dir, "--log_dir")
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    numbers = [int(m.group(1)) for p in log_dir.iterdir() if (m := re.match(r"(\d{5})-", p.name))]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(str(config_path)).stem)
    return log_dir / f"{max(numbers, default=-1) + 1:05d}-{kind}-{stem}"


def choose_run_dir(run_dir, log_dir, kind, named_after) -> Path:
    """The one run-directory rule: `run_dir` exactly as given, else a new numbered
    <log_dir or log>/<NNNNN>-<kind>-<stem of named_after (the config, else "model")>."""
    if run_dir:
        return Path(run_dir)
    return next_run_dir(log_dir or "log", kind, named_after or "model")


def prepare_run_dir(run_dir, config) -> Path:
    """Create `run_dir` exactly as named (spaces kept: config and checkpoints share one folder) with config.yaml."""
    run_dir = Path(run_dir)
    check_output_folder(run_dir, "--run_dir")
    run_dir.mkdir(parents=True, exist_ok=True)
    dump_config(config, run_dir / "config.yaml")
    return run_dir


def check_run_location(log_dir, run_dir=None) -> None:
    """Before any work: UserError unless the run directory (run_dir, or a new one under log_dir) can be made."""
    if run_dir is not None:
        check_output_folder(run_dir, "--run_dir")
    else:
        check_output_folder(log_dir, "--log_dir")
