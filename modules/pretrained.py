"""Finding published weights where torchvision and torch.hub keep them, without ever downloading."""
import os
from pathlib import Path

import torch


def hub_checkpoint_dir() -> Path:
    """torch.hub's checkpoint cache (TORCH_HOME/hub/checkpoints), where torchvision's weights land."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def cached_weights_file(url_or_name: str) -> Path | None:
    """The cached file for a torchvision/torch.hub weights URL (or bare file name), or None if absent."""
    path = hub_checkpoint_dir() / os.path.basename(url_or_name)
    return path if path.is_file() else None


def torchvision_weights_file(weights_enum) -> Path | None:
    """Cached file of a torchvision WeightsEnum member (e.g. VGG19_Weights.IMAGENET1K_V1), or None."""
    return cached_weights_file(weights_enum.url)


def load_state_dict_file(path) -> dict:
    """Load a state_dict saved with torch.save (plain or wrapped in {'state_dict': ...}) onto the CPU."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    return state
