"""Choosing the perceptual loss's VGG19 weights: ImageNet from torchvision's cache, random on request, or a file."""
import logging
from pathlib import Path

import torch
from torchvision.models import VGG19_Weights

from errors import UserError
from modules.pretrained import hub_checkpoint_dir, load_state_dict_file, torchvision_weights_file
from modules.vgg import Vgg19

log = logging.getLogger(__name__)


def build_vgg(train_params, seed=0):
    """The Vgg19 for GeneratorFullModel, or None when every perceptual weight is 0.

    train_params.vgg_weights: "imagenet" (default) needs torchvision's vgg19-dcbb9e9d.pth in the torch hub
    cache and never silently falls back; "random" is a seeded random init (useful offline: still a
    multi-scale feature loss); anything else is a path to a torchvision-format VGG19 state_dict.
    """
    if sum(train_params["loss_weights"]["perceptual"]) == 0:
        return None, "perceptual loss: off (all weights 0)"
    choice = train_params.get("vgg_weights", "imagenet")
    if choice == "imagenet":
        path = torchvision_weights_file(VGG19_Weights.IMAGENET1K_V1)
        if path is None:
            name = Path(VGG19_Weights.IMAGENET1K_V1.url).name
            raise UserError(
                f"the perceptual loss needs ImageNet VGG19 weights: {name} is not in {hub_checkpoint_dir()}; "
                "copy it there, or set train_params.vgg_weights to 'random' or to a .pth path")
        return Vgg19(load_state_dict_file(path)), f"perceptual loss: VGG19 ImageNet weights from {path}"
    if choice == "random":
        state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        vgg = Vgg19()
        torch.random.set_rng_state(state)
        return vgg, f"perceptual loss: VGG19 with RANDOM weights (seed {seed}), as train_params.vgg_weights asks"
    path = Path(choice)
    if not path.is_file():
        raise UserError(f"train_params.vgg_weights: {choice} is neither 'imagenet', 'random' nor an existing file")
    try:
        vgg = Vgg19(load_state_dict_file(path))
    except (RuntimeError, KeyError) as exc:
        raise UserError(f"train_params.vgg_weights: {path} is not a torchvision VGG19 state_dict ({exc})") from exc
    return vgg, f"perceptual loss: VGG19 weights from {path}"
