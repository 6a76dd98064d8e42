"""Choosing the perceptual loss network: VGG19 (ImageNet from torchvision's cache, random on request, or a file),
or the frozen encoder of a trained stillmotion checkpoint."""
import logging
from pathlib import Path

from errors import UserError
from modules.pretrained import hub_checkpoint_dir, torchvision_weights_file
from modules.vgg import Vgg19
from stages.backbones import VGG_WEIGHTS, WEIGHT_CHOICES, load_vgg_features

log = logging.getLogger(__name__)


def build_vgg(train_params, seed=0):
    """The perceptual loss network for GeneratorFullModel, or None when every perceptual weight is 0.

    train_params.perceptual_network: "vgg19" (default), or a path to a trained stillmotion checkpoint whose
    generator encoder (frozen, modules.fomm_features) gives the features: an offline loss network of our own.

    train_params.vgg_weights, the stages' weight vocabulary: "imagenet" (default) needs torchvision's
    vgg19-dcbb9e9d.pth in the torch hub cache and never silently falls back; "random" is a seeded random init
    (useful offline: still a multi-scale feature loss); "auto" is imagenet when the file is cached, else random,
    saying which in the returned line; anything else is a path to a torchvision-format VGG19 state_dict.
    """
    if sum(train_params["loss_weights"]["perceptual"]) == 0:
        return None, "perceptual loss: off (all weights 0)"
    network = train_params.get("perceptual_network", "vgg19")
    if network != "vgg19":
        return _generator_features(network, len(train_params["loss_weights"]["perceptual"]))
    choice = train_params.get("vgg_weights", "imagenet")
    if choice == "imagenet" and torchvision_weights_file(VGG_WEIGHTS["vgg19"]) is None:
        name = Path(VGG_WEIGHTS["vgg19"].url).name
        raise UserError(
            f"the perceptual loss needs ImageNet VGG19 weights: {name} is not in {hub_checkpoint_dir()}; "
            "copy it there, or set train_params.vgg_weights to 'random' or to a .pth path")
    if choice not in WEIGHT_CHOICES and not Path(choice).is_file():
        raise UserError(f"train_params.vgg_weights: {choice} is neither 'imagenet', 'random', 'auto' nor an "
                        "existing file")
    backbone = load_vgg_features("vgg19", weights=choice, seed=seed)  # the stages' loader: one vocabulary
    vgg = Vgg19(backbone.model)
    if backbone.published:
        return vgg, f"perceptual loss: VGG19 ImageNet weights from {backbone.source}"
    if choice in ("random", "auto"):
        return vgg, f"perceptual loss: VGG19 with RANDOM weights (seed {seed}), as train_params.vgg_weights asks"
    return vgg, f"perceptual loss: VGG19 weights from {backbone.source}"


def _generator_features(path, num_weights):
    from engine.inference import load_model
    from modules.fomm_features import GeneratorFeatures

    if not Path(path).is_file():
        raise UserError(f"train_params.perceptual_network: {path} is neither 'vgg19' nor an existing checkpoint file")
    if num_weights != GeneratorFeatures.num_levels:
        raise UserError(f"train_params.loss_weights.perceptual has {num_weights} weights; the generator-feature "
                        f"loss network has {GeneratorFeatures.num_levels} levels: give {GeneratorFeatures.num_levels}")
    model = load_model(path, device="cpu")
    try:
        features = GeneratorFeatures(model.networks.generator)
    except ValueError as exc:
        raise UserError(f"train_params.perceptual_network: {path}: {exc}") from exc
    return features, f"perceptual loss: frozen generator encoder of {path} (our own trained network, no download)"
