"""The face-alignment backend: SFD detection and 2D-FAN 68-point landmarks from cached weights only."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from errors import UserError
from faces.backends import register_backend
from faces.base import Box, Face, FaceBackend, check_image, sort_largest_first
from faces.weights import fan_weight_files, torch_hub_checkpoints

INSTALL = "pip install --no-deps -r requirements-face.txt"


def _url_name(url: str) -> str:
    return Path(urlparse(url).path).name


@register_backend("face_alignment", priority=10)
class FanBackend(FaceBackend):
    """Adrian Bulat's face-alignment (S3FD detector + 2D-FAN-4 landmarks) on torch, never downloading.

    Identity embeddings come from dlib's ResNet, its face chip aligned with the FAN landmarks.
    device: "cuda" / "cpu" / None (cuda when available). flip: also run FAN on the mirrored crop and
    average (face-alignment's default; twice the cost). min_score: SFD confidence a face needs.
    """

    provides = frozenset({"detect", "landmarks", "embedding"})

    def __init__(self, device: str | None = None, flip: bool = True, min_score: float = 0.5):
        problem = self.missing()
        if problem is not None:
            raise UserError(f"face backend 'face_alignment' is unavailable: {problem}")
        self.device = device
        self.flip = bool(flip)
        self.min_score = float(min_score)
        self._net = None
        self._dlib = None

    @classmethod
    def missing(cls) -> str | None:
        for module, package in (("face_alignment", "face-alignment"), ("numba", "numba")):
            if importlib.util.find_spec(module) is None:
                return f"python package {package} is not installed; {INSTALL}"
        absent = [path.name for path in fan_weight_files() if not path.is_file()]
        if absent:
            names, folder = ", ".join(absent), torch_hub_checkpoints()
            return (f"face-alignment weights {names} are not in {folder} and are never downloaded here; "
                    "copy them there from a machine where face_alignment got them")
        return None

    def describe(self) -> str:
        import face_alignment

        return (f"faces: face-alignment {face_alignment.__version__} (SFD detector, 2D-FAN landmarks from "
                f"torch hub cache, {self._device()}) + dlib embedding")

    def _device(self) -> str:
        if self.device is not None:
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_net"] = None
        state["_dlib"] = None
        return state

    @property
    def net(self):
        """The face_alignment.FaceAlignment object, built on first use from the cached weights only."""
        if self._net is None:
            import face_alignment
            from face_alignment.detection.sfd import sfd_detector

            folder = torch_hub_checkpoints()
            fan_name = _url_name(face_alignment.api.models_urls["2DFAN-4"])
            sfd_name = _url_name(sfd_detector.models_urls["s3fd"])
            absent = [name for name in (fan_name, sfd_name) if not (folder / name).is_file()]
            if absent:  # this face-alignment version wants other files: refuse rather than download
                version, names = face_alignment.__version__, ", ".join(absent)
                raise UserError(f"face-alignment {version} wants weights {names} in {folder}; "
                                "copy them there or use face backend 'dlib'")
            self._net = face_alignment.FaceAlignment(
                face_alignment.LandmarksType.TWO_D, device=self._device(), flip_input=self.flip,
                face_detector="sfd", face_detector_kwargs={"path_to_detector": str(folder / sfd_name),
                                                           "filter_threshold": self.min_score},
                compile=False)
        return self._net

    def detect(self, image: np.ndarray) -> list[Face]:
        image = check_image(image)
        found = self.net.face_detector.detect_from_image(image.copy())
        faces = [Face(box=tuple(float(v) for v in d[:4]), score=float(d[4])) for d in found]
        return sort_largest_first(faces)

    def landmarks(self, image: np.ndarray, box: Box | None = None) -> np.ndarray | None:
        image = check_image(image)
        if box is None:
            face = self.largest(image)
            if face is None:
                return None
            box = face.box
        points = self.net.get_landmarks_from_image(image, detected_faces=[np.asarray(box, dtype=np.float64)])
        if not points:
            return None
        return np.asarray(points[0], dtype=np.float32)[:, :2]

    def embedding(self, image: np.ndarray, box: Box | None = None) -> np.ndarray | None:
        points = self.landmarks(image, box)
        if points is None:
            return None
        if self._dlib is None:
            from faces.dlib_backend import DlibBackend

            self._dlib = DlibBackend()
        return self._dlib.embedding_from_landmarks(image, points)
