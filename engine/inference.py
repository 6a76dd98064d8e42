"""Loading a trained model for inference: config (given, or stored in our checkpoints) + weights + device."""
from dataclasses import dataclass

import torch

from engine.build import Networks, build_networks
from engine.checkpoint import load_networks, read_checkpoint
from engine.config import load_config, validate_config
from errors import UserError


@dataclass
class LoadedModel:
    config: dict
    networks: Networks
    device: torch.device
    checkpoint: str


DEVICE_NAMES = "auto, cpu, cuda or cuda:N"


def resolve_device(name="auto") -> torch.device:
    """'auto' -> cuda when available, else cpu; an unknown name or an unavailable GPU is a clear error."""
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise UserError(f"unknown --device {name!r}; use {DEVICE_NAMES}") from None
    if device.type not in ("cpu", "cuda", "mps"):
        raise UserError(f"unsupported --device {name!r}; use {DEVICE_NAMES}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name} asked for, but torch sees no CUDA GPU here; use --device cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise UserError(f"--device {name}: there are only {torch.cuda.device_count()} CUDA GPUs (cuda:0.."
                        f"cuda:{torch.cuda.device_count() - 1}); pass another index")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"--device {name} asked for, but torch sees no Apple GPU here; use --device cpu")
    return device


def stored_config(state: dict, checkpoint) -> dict | None:
    """The validated config our checkpoint `state` (read from `checkpoint`) carries; None for the original format."""
    stored = state.get("stillmotion", {}).get("config")
    return None if stored is None else validate_config(stored, source=f"{checkpoint} (stored config)")


def load_model(checkpoint, config_path=None, device="auto", overrides=()) -> LoadedModel:
    """Build the networks from `config_path` (or the config our checkpoints carry) and load the weights.

    Networks come back in eval mode on `device`. The published FOMM checkpoints carry no config: pass one.
    """
    state = read_checkpoint(checkpoint)  # read once: the stored config and the weights
    if config_path is not None:
        config = load_config(config_path, overrides)
    else:
        config = stored_config(state, checkpoint)
        if config is None:
            raise UserError(f"checkpoint {checkpoint} carries no config (original FOMM format); "
                            "pass --config, e.g. config/vox-256.yaml")
    dev = resolve_device(device)
    networks = build_networks(config["model_params"])
    load_networks(checkpoint, networks, config_path=config_path, state=state)
    for _, net in networks.items():
        net.to(dev).eval()
    return LoadedModel(config, networks, dev, str(checkpoint))
