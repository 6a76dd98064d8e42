"""Checkpoints: reading the original FOMM format (and ours), atomic writing, and clear mismatch reports."""
import glob
import logging
import os
import pickle
import re
from pathlib import Path

import torch
import yaml

from atomic import atomic_open
from engine.build import state_shapes
from errors import UserError

NETWORKS = ("kp_detector", "generator", "discriminator")
CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
log = logging.getLogger(__name__)


def read_checkpoint(path) -> dict:
    """The checkpoint dict on the CPU. Accepts the original FOMM .pth.tar and ours (a superset of it)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"checkpoint {path} is a folder; pass the checkpoint file in it (e.g. "
                        f"{path / 'last-checkpoint.pth.tar'})")
    if not path.is_file():
        raise UserError(f"checkpoint {path} not found; pass an existing --checkpoint file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, KeyError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if path.stat().st_size == 0:
            first = "the file is empty (0 bytes)"
        raise UserError(f"cannot read checkpoint {path}: {first}; pass a complete torch checkpoint file "
                        "(a download or a save may have been cut short)") from exc
    if not isinstance(state, dict) or not any(k in state for k in NETWORKS):
        keys = sorted(state)[:6] if isinstance(state, dict) else type(state).__name__
        raise UserError(f"{path} is not a FOMM checkpoint: expected keys {', '.join(NETWORKS)}, found {keys}")
    return state


def _strip_prefix(state_dict):
    """Remove the 'module.' prefix DataParallel/DistributedDataParallel adds."""
    if state_dict and all(k.startswith("module.") for k in state_dict):
        return {k[len("module."):]: v for k, v in state_dict.items()}
    return state_dict


def _mismatch(expected: dict, found: dict):
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    shapes = sorted(k for k in set(expected) & set(found) if list(expected[k]) != list(found[k]))
    return missing, unexpected, shapes


def fitting_config(found_shapes: dict, exclude=None):
    """Name of the config in config/ whose networks have exactly these keys and shapes, or None."""
    for path in sorted(glob.glob(str(CONFIG_DIR / "*.yaml"))):
        if exclude and os.path.abspath(path) == os.path.abspath(str(exclude)):
            continue
        try:
            with open(path) as f:
                params = yaml.safe_load(f)["model_params"]
            shapes = state_shapes(params)
        except Exception:  # a config we cannot build says nothing about this checkpoint
            continue
        if all(not any(_mismatch(shapes[n], found_shapes[n])) for n in found_shapes):
            return os.path.relpath(path, CONFIG_DIR.parent)
    return None


def load_networks(path, networks, config_path=None, require=("kp_detector", "generator"), strict=True,
                  state=None) -> dict:
    """Load a checkpoint's network weights into `networks` (engine.build.Networks); returns the checkpoint.

    Networks named in `require` must be present; the discriminator is optional (the published
    checkpoints have it, inference-only files may not). Any key or shape mismatch is one UserError line
    listing missing keys, unexpected keys and shape mismatches, and naming a config that does fit.
    strict=False: missing and unexpected keys are logged as a warning and the matching weights loaded
    (shape mismatches stay an error). state: the checkpoint dict when the caller has read `path` already.
    """
    state = read_checkpoint(path) if state is None else state
    for name in require:
        if name not in state:
            raise UserError(f"checkpoint {path} has no '{name}' weights; it cannot be used for this job")
    problems, found_shapes = [], {}
    for name, net in networks.items():
        if name not in state or state[name] is None:
            continue
        sd = _strip_prefix(state[name])
        found_shapes[name] = {k: list(v.shape) for k, v in sd.items()}
        expected = {k: list(v.shape) for k, v in net.state_dict().items()}
        missing, unexpected, shapes = _mismatch(expected, found_shapes[name])
        if not strict and (missing or unexpected) and not shapes:
            log.warning("%s of %s: %d missing keys (%s), %d unexpected keys (%s); the rest loaded", name, path,
                        len(missing), ", ".join(missing[:3]), len(unexpected), ", ".join(unexpected[:3]))
            missing = unexpected = []
        if missing or unexpected or shapes:
            parts = []
            if missing:
                more = ", ..." if len(missing) > 3 else ""
                parts.append(f"{len(missing)} missing keys ({', '.join(missing[:3])}{more})")
            if unexpected:
                parts.append(f"{len(unexpected)} unexpected keys ({', '.join(unexpected[:3])}"
                             f"{', ...' if len(unexpected) > 3 else ''})")
            if shapes:
                k = shapes[0]
                parts.append(f"{len(shapes)} shape mismatches ({k}: checkpoint {found_shapes[name][k]} vs "
                             f"model {expected[k]}{', ...' if len(shapes) > 1 else ''})")
            problems.append(f"{name}: " + "; ".join(parts))
            continue
        net.load_state_dict(sd, strict=strict)
    if problems:
        hint = fitting_config(found_shapes, exclude=config_path)
        where = f" config {config_path}" if config_path else " the config"
        suggestion = f"; it fits {hint} — pass --config {hint}" if hint else "; no config in config/ fits it"
        raise UserError(f"checkpoint {path} does not fit{where}: " + " | ".join(problems) + suggestion)
    return state


def save_checkpoint(path, state: dict) -> None:
    """torch.save `state` atomically: a crash leaves the previous file or the complete new one, never a partial one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as f:
        torch.save(state, f)


LAST_NAME = "last-checkpoint.pth.tar"
_NUMBERED_RE = re.compile(r"^(\d+)-checkpoint\.pth\.tar$")


def _step_of(path):
    """The training step a checkpoint holds (ours), -1 for the original format, None if it is not complete."""
    try:
        state = read_checkpoint(path)
    except UserError:
        return None
    ours = state.get("stillmotion")
    return int(ours["step"]) if isinstance(ours, dict) and "step" in ours else -1


def find_resume_checkpoint(path):
    """(checkpoint file to resume from, why) for --checkpoint: a file, or a run folder.

    A folder, or a last-checkpoint.pth.tar that is missing (a kill during its first write), means the
    newest complete checkpoint in that folder: the higher step of last-checkpoint and the newest numbered
    checkpoint that reads. `why` is None when `path` itself is used, else one line saying which file was
    chosen.
    """
    path = Path(path)
    if path.is_file():
        return path, None
    folder = path if path.is_dir() else path.parent
    if not path.is_dir() and (path.name != LAST_NAME or not folder.is_dir()):
        raise UserError(f"checkpoint {path} not found; pass an existing --checkpoint file or a run folder")
    numbered = sorted((p for p in folder.iterdir() if _NUMBERED_RE.match(p.name)),
                      key=lambda p: int(_NUMBERED_RE.match(p.name).group(1)), reverse=True)
    last = folder / LAST_NAME
    last_step = _step_of(last) if last.is_file() else None
    candidates = [(last_step, last)] if last_step is not None else []
    for p in numbered:  # the newest numbered checkpoint that reads completely
        if (step := _step_of(p)) is not None:
            candidates.append((step, p))
            break
    if not candidates:
        raise UserError(f"no complete checkpoint in {folder} (looked for {LAST_NAME} and NNNNNNNN-checkpoint.pth.tar); "
                        "pass a checkpoint file or start a new run")
    step, chosen = max(candidates, key=lambda c: (c[0], c[1].name == LAST_NAME))
    if chosen == path:
        return chosen, None
    if chosen == last:
        said = ""
    else:
        said = f"{LAST_NAME} is " + ("missing" if not last.exists() else "unreadable" if last_step is None
                                     else "older") + ": "
    at = f" (step {step})" if step >= 0 else ""
    return chosen, f"{said}resuming from {chosen}{at}, the newest complete checkpoint in {folder}"
