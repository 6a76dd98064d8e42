"""The OpenCV face backend: Haar-cascade face detection only (no landmarks, no embeddings)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from errors import UserError
from faces.backends import register_backend
from faces.base import Face, FaceBackend, check_image, detection_scale, sort_largest_first

CASCADE = "haarcascade_frontalface_default.xml"


def cascade_file() -> Path | None:
    """The frontal-face Haar cascade shipped in the opencv-python(-headless) wheel, or None."""
    if importlib.util.find_spec("cv2") is None:
        return None
    import cv2

    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if folder is None or not (Path(folder) / CASCADE).is_file():
        return None
    return Path(folder) / CASCADE


@register_backend("opencv", priority=90)
class OpenCVBackend(FaceBackend):
    """Viola-Jones frontal-face detection: a last resort that still crops faces when dlib is absent.

    min_face: smallest face side in pixels (at detection scale) that the cascade looks for.
    min_neighbors: how many overlapping raw detections a face needs (higher = fewer false faces).
    max_side: images with a longer side are first shrunk to it for detection.
    """

    def __init__(self, min_face: int = 40, min_neighbors: int = 5, max_side: int | None = 1280):
        problem = self.missing()
        if problem is not None:
            raise UserError(f"face backend 'opencv' is unavailable: {problem}")
        import cv2

        self.min_face = int(min_face)
        self.min_neighbors = int(min_neighbors)
        self.max_side = max_side
        self._cascade = cv2.CascadeClassifier(str(cascade_file()))

    @classmethod
    def missing(cls) -> str | None:
        if importlib.util.find_spec("cv2") is None:
            return "python package cv2 is not installed; pip install opencv-python-headless"
        if cascade_file() is None:
            return f"OpenCV's {CASCADE} is missing; pip install --force-reinstall opencv-python-headless"
        return None

    def describe(self) -> str:
        import cv2

        return f"faces: opencv {cv2.__version__} (Haar cascade detector; no landmarks, no embedding; offline)"

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_cascade"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        import cv2

        self.__dict__.update(state)
        self._cascade = cv2.CascadeClassifier(str(cascade_file()))

    def detect(self, image: np.ndarray) -> list[Face]:
        import cv2

        image = check_image(image)
        scale = detection_scale(image.shape, self.max_side)
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        if scale != 1.0:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(gray)
        rects, _, weights = self._cascade.detectMultiScale3(
            gray, scaleFactor=1.1, minNeighbors=self.min_neighbors, minSize=(self.min_face, self.min_face),
            outputRejectLevels=True)
        faces = [Face(box=(x / scale, y / scale, (x + w) / scale, (y + h) / scale), score=float(s))
                 for (x, y, w, h), s in zip(np.asarray(rects).reshape(-1, 4), np.asarray(weights).ravel())]
        return sort_largest_first(faces)
