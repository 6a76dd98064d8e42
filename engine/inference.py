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


def resolve_device(name="auto") -> torch.device:
    """'auto' -> cuda when available, else cpu; an unavailable cuda request is a clear error."""
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda asked for, but torch sees no CUDA GPU here; use --device cpu")
    return device


def load_model(checkpoint, config_path=None, device="auto", overrides=()) -> LoadedModel:
    """Build the networks from `config_path` (or the config our checkpoints carry) and load the weights.

    Networks come back in eval mode on `device`. The published FOMM checkpoints carry no config: pass one.
    """
    if config_path is not None:
        config = load_config(config_path, overrides)
    else:
        stored = read_checkpoint(checkpoint).get("stillmotion", {}).get("config")
        if stored is None:
            raise UserError(f"checkpoint {checkpoint} carries no config (original FOMM format); "
                            "pass --config, e.g. config/vox-256.yaml")
        config = validate_config(stored, source=f"{checkpoint} (stored config)")
    dev = resolve_device(device)
    networks = build_networks(config["model_params"])
    load_networks(checkpoint, networks, config_path=config_path)
    for _, net in networks.items():
        net.to(dev).eval()
    return LoadedModel(config, networks, dev, str(checkpoint))
