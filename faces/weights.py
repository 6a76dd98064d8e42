"""Where the offline face model files live: dlib's .dat models and face-alignment's torch-hub checkpoints."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

# The dlib models shipped by the face-recognition-models wheel.
DLIB_LANDMARKS_68 = "shape_predictor_68_face_landmarks.dat"
DLIB_LANDMARKS_5 = "shape_predictor_5_face_landmarks.dat"
DLIB_EMBEDDING = "dlib_face_recognition_resnet_model_v1.dat"
DLIB_CNN_DETECTOR = "mmod_human_face_detector.dat"

# The files face-alignment 1.5 downloads into torch.hub.get_dir()/checkpoints on first use: the basenames of
# face_alignment.api.models_urls["2DFAN-4"] and face_alignment.detection.sfd.sfd_detector.models_urls["s3fd"].
FAN_LANDMARKS_2D = "2DFAN4-11f355bf06.pth.tar"
FAN_SFD_DETECTOR = "s3fd-619a316812.pth"


def dlib_models_dir() -> Path | None:
    """The models/ folder of the installed face_recognition_models package, found without importing it."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "models"
        if folder.is_dir():
            return folder
    return None


def dlib_model_file(name: str) -> Path | None:
    """Path of one dlib .dat model, or None when it is not installed."""
    folder = dlib_models_dir()
    if folder is None or not (folder / name).is_file():
        return None
    return folder / name


def torch_hub_checkpoints() -> Path:
    """torch.hub.get_dir()/checkpoints, where torch.hub (and face-alignment) cache downloaded weights."""
    if "torch" in sys.modules:  # torch.hub.set_dir() may have moved it
        return Path(sys.modules["torch"].hub.get_dir()) / "checkpoints"
    # torch not imported yet (so set_dir was never called): torch.hub's own rule, without a 2 s import
    cache = os.getenv("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    home = os.path.expanduser(os.getenv("TORCH_HOME", os.path.join(cache, "torch")))
    return Path(home) / "hub" / "checkpoints"


def fan_weight_files() -> list[Path]:
    """The two checkpoint paths the face-alignment backend needs: 2D-FAN landmarks and the SFD detector."""
    folder = torch_hub_checkpoints()
    return [folder / FAN_LANDMARKS_2D, folder / FAN_SFD_DETECTOR]
