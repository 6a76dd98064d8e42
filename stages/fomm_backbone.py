"""Our own trained FOMM keypoint detector, read from a checkpoint and frozen, as a network to dream on."""
from __future__ import annotations

import pickle
from pathlib import Path

import torch
import yaml

from errors import UserError
from modules.keypoint_detector import KPDetector
from stages.backbones import Backbone, freeze

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CHECKPOINT = ROOT / "checkpoints" / "stillmotion-vox-128.pth.tar"

# short names for the detector's layers (module paths of KPDetector work too); fine to coarse, then the heads
LAYERS = {
    "encoder1": "predictor.encoder.down_blocks.0",
    "encoder2": "predictor.encoder.down_blocks.1",
    "encoder3": "predictor.encoder.down_blocks.2",
    "encoder4": "predictor.encoder.down_blocks.3",
    "decoder1": "predictor.decoder.up_blocks.0",
    "decoder2": "predictor.decoder.up_blocks.1",
    "decoder3": "predictor.decoder.up_blocks.2",
    "decoder4": "predictor.decoder.up_blocks.3",
    "decoder": "predictor",   # the hourglass output (last up block's features + the input)
    "kp": "kp",               # the keypoint heatmap logits, before the spatial softmax
}


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _model_params(state: dict, path: Path, config) -> dict:
    if config is not None:
        config = Path(config)
        if not config.is_file():
            raise UserError(f"dream: fomm_config {config} not found; pass an existing YAML config such as "
                            "config/vox-256.yaml")
        with open(config) as f:
            raw = yaml.safe_load(f)
        params = raw.get("model_params") if isinstance(raw, dict) else None
    else:
        params = (state.get("stillmotion") or {}).get("config", {}).get("model_params")
        if params is None:
            raise UserError(f"dream: checkpoint {path} carries no config (original FOMM format); "
                            "pass fomm_config: config/vox-256.yaml (the config it was trained with)")
    if not isinstance(params, dict) or "kp_detector_params" not in params or "common_params" not in params:
        raise UserError(f"dream: {config or path} has no model_params.kp_detector_params/common_params; "
                        "pass the YAML config the checkpoint was trained with")
    return params


def training_side(state: dict) -> int | None:
    """The frame side the checkpoint was trained at (dataset_params.frame_shape), when it says."""
    shape = ((state.get("stillmotion") or {}).get("config") or {}).get("dataset_params", {}).get("frame_shape")
    return int(shape[0]) if shape else None


def load_kp_detector(checkpoint=None, config=None, device="cpu") -> tuple[Backbone, int]:
    """The checkpoint's keypoint detector, frozen in eval mode, as a Backbone on [0, 1] RGB (no normalisation),
    and the frame side it was trained at (256 when the checkpoint does not say, as the published FOMM models).

    checkpoint: one of ours (config inside) or an original FOMM .pth.tar with `config` (its YAML).
    """
    path = Path(checkpoint) if checkpoint is not None else DEFAULT_CHECKPOINT
    if not path.is_file():
        fix = ("restore it with `git checkout -- checkpoints/` (it ships with the repository)"
               if checkpoint is None else "pass fomm_checkpoint: an existing stillmotion or FOMM checkpoint")
        raise UserError(f"dream: network fomm needs the checkpoint {_display(path)}, which is missing; {fix}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:120]
        raise UserError(f"dream: cannot read checkpoint {path}: {first}; pass a complete torch checkpoint") from e
    if not isinstance(state, dict) or not isinstance(state.get("kp_detector"), dict):
        raise UserError(f"dream: {path} holds no 'kp_detector' weights; pass a stillmotion or FOMM checkpoint")
    params = _model_params(state, path, config)
    detector = KPDetector(**params["kp_detector_params"], **params["common_params"])
    weights = {k.removeprefix("module."): v for k, v in state["kp_detector"].items()}
    own = detector.state_dict()
    missing = sorted(set(own) - set(weights))
    wrong = sorted(k for k in own if k in weights and weights[k].shape != own[k].shape)
    if missing or wrong:
        what = f"missing {missing[:3]}" if missing else f"wrong shapes for {wrong[:3]}"
        raise UserError(f"dream: the keypoint detector in {path} does not fit its config ({what}); "
                        "pass fomm_config: the YAML it was trained with")
    detector.load_state_dict({k: weights[k] for k in own})
    backbone = Backbone("fomm keypoint detector", freeze(detector, device), published=False, source=_display(path),
                        mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    return backbone, training_side(state) or 256
