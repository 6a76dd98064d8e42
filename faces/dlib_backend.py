"""The dlib face backend: HOG (or CNN mmod) detection, 68-point landmarks and the 128-D ResNet embedding."""
from __future__ import annotations

import functools
import importlib.util
import threading

import cv2
import numpy as np

from errors import UserError
from faces.backends import register_backend
from faces.base import Box, Face, FaceBackend, check_image, detection_scale, sort_largest_first
from faces.weights import (
    DLIB_CNN_DETECTOR,
    DLIB_EMBEDDING,
    DLIB_LANDMARKS_5,
    DLIB_LANDMARKS_68,
    dlib_model_file,
    dlib_models_dir,
)

DETECTORS = ("hog", "cnn", "hog+cnn")


@functools.cache
def _load_model(kind: str, path: str):
    """Load a dlib model once per process (the 68-point predictor alone is 100 MB)."""
    import dlib

    loader = {"shape": dlib.shape_predictor, "embedding": dlib.face_recognition_model_v1,
              "cnn": dlib.cnn_face_detection_model_v1}[kind]
    return loader(path)


_THREAD = threading.local()


def _hog_detector():
    """dlib's HOG face detector, built once per thread (0.2 s each time; dlib's detectors keep scratch buffers,
    so two threads never share one)."""
    if not hasattr(_THREAD, "hog"):
        import dlib

        _THREAD.hog = dlib.get_frontal_face_detector()
    return _THREAD.hog


def to_rect(box: Box):
    """dlib.rectangle for an (x0, y0, x1, y1) box with exclusive x1, y1."""
    import dlib

    x0, y0, x1, y1 = (int(round(v)) for v in box)
    return dlib.rectangle(x0, y0, max(x0, x1 - 1), max(y0, y1 - 1))


@register_backend("dlib", priority=20)
class DlibBackend(FaceBackend):
    """dlib's detectors and models from the face-recognition-models wheel; runs offline on CPU.

    upsample: how many times dlib doubles the image before detecting; the HOG detector finds faces of
        about 70 px and larger at 0, about 40 px at 1 (the default), at four times the cost.
    max_side: images with a longer side are first shrunk to it for detection (big photos have big faces);
        landmarks and embeddings always use the full-resolution image. None disables shrinking.
    detector: "hog" (fast, frontal faces), "cnn" (dlib's mmod CNN: more poses, much slower on CPU), or
        "hog+cnn": HOG first, the CNN only on images where HOG finds nothing (a three-quarter profile, a
        tilted head); benchmarks/face_detectors.py measures both per image.
    num_jitters: dlib's embedding jitter count (0 = one pass; 10 is slower and slightly more stable).
    """

    provides = frozenset({"detect", "landmarks", "embedding"})

    def __init__(self, upsample: int = 1, max_side: int | None = 1280, detector: str = "hog",
                 num_jitters: int = 0, min_score: float = 0.0):
        if detector not in DETECTORS:
            raise UserError(f"unknown dlib face detector {detector!r}; choose one of: {', '.join(DETECTORS)}")
        if upsample < 0:
            raise UserError(f"face detection upsample must be >= 0, got {upsample}")
        problem = self.missing()
        if problem is not None:
            raise UserError(f"face backend 'dlib' is unavailable: {problem}")
        self.upsample = int(upsample)
        self.max_side = max_side
        self.detector = detector
        self.num_jitters = int(num_jitters)
        self.min_score = float(min_score)
        self._models: dict[str, object] = {}

    @classmethod
    def missing(cls) -> str | None:
        if importlib.util.find_spec("dlib") is None:
            return "python package dlib is not installed; pip install dlib-bin"
        if dlib_models_dir() is None:
            return "dlib model files are not installed; pip install face-recognition-models"
        absent = [name for name in (DLIB_LANDMARKS_68, DLIB_LANDMARKS_5, DLIB_EMBEDDING, DLIB_CNN_DETECTOR)
                  if dlib_model_file(name) is None]
        if absent:
            return (f"dlib model files {', '.join(absent)} are missing from {dlib_models_dir()}; "
                    "pip install --force-reinstall face-recognition-models")
        return None

    def describe(self) -> str:
        import dlib

        detector = {"hog": "HOG detector", "cnn": "CNN mmod detector",
                    "hog+cnn": "HOG detector, CNN mmod where HOG finds none"}[self.detector]
        return (f"faces: dlib {dlib.__version__} ({detector}, upsample {self.upsample}, 68-point landmarks, "
                "128-D ResNet embedding; offline)")

    # -- models, loaded on first use (and dropped when pickled, e.g. for DataLoader workers) --
    def _model(self, key: str):
        if key not in self._models:
            if key == "hog":
                self._models[key] = _hog_detector()
            else:
                kind, name = {"cnn": ("cnn", DLIB_CNN_DETECTOR),
                              "shape68": ("shape", DLIB_LANDMARKS_68),
                              "shape5": ("shape", DLIB_LANDMARKS_5),
                              "embed": ("embedding", DLIB_EMBEDDING)}[key]
                self._models[key] = _load_model(kind, str(dlib_model_file(name)))
        return self._models[key]

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_models"] = {}
        return state

    # -- FaceBackend --
    def detect(self, image: np.ndarray) -> list[Face]:
        image = check_image(image)
        scale = detection_scale(image.shape, self.max_side)
        small = image if scale == 1.0 else cv2.resize(image, None, fx=scale, fy=scale,
                                                        interpolation=cv2.INTER_AREA)
        found = []
        if self.detector != "cnn":
            rects, scores, _ = self._model("hog").run(small, self.upsample, self.min_score)
            found = list(zip(rects, scores))
        if self.detector == "cnn" or (self.detector == "hog+cnn" and not found):
            found = [(d.rect, d.confidence) for d in self._model("cnn")(small, self.upsample)
                     if d.confidence >= self.min_score]
        faces = [Face(box=(r.left() / scale, r.top() / scale, (r.right() + 1) / scale,
                           (r.bottom() + 1) / scale), score=float(s)) for r, s in found]
        return sort_largest_first(faces)

    def _box_or_largest(self, image: np.ndarray, box: Box | None) -> Box | None:
        if box is not None:
            return tuple(float(v) for v in box)
        face = self.largest(image)
        return None if face is None else face.box

    def landmarks(self, image: np.ndarray, box: Box | None = None) -> np.ndarray | None:
        image = check_image(image)
        box = self._box_or_largest(image, box)
        if box is None:
            return None
        shape = self._model("shape68")(image, to_rect(box))
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)

    def embedding(self, image: np.ndarray, box: Box | None = None) -> np.ndarray | None:
        image = check_image(image)
        box = self._box_or_largest(image, box)
        if box is None:
            return None
        # dlib aligns the 150x150 face chip with the 5-point predictor for its ResNet model.
        shape = self._model("shape5")(image, to_rect(box))
        return self._describe_chip(image, shape)

    def embedding_from_landmarks(self, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """(128,) embedding of the face whose 68 (x, y) landmarks are given (from any landmark backend)."""
        import dlib

        image = check_image(image)
        points = np.asarray(landmarks, dtype=np.float64)
        if points.shape != (68, 2):
            raise ValueError(f"expected (68, 2) landmarks, got shape {points.shape}")
        x0, y0 = points.min(axis=0)
        x1, y1 = points.max(axis=0) + 1
        parts = [dlib.point(int(round(x)), int(round(y))) for x, y in points]
        shape = dlib.full_object_detection(to_rect((x0, y0, x1, y1)), parts)
        return self._describe_chip(image, shape)

    def _describe_chip(self, image: np.ndarray, shape) -> np.ndarray:
        descriptor = self._model("embed").compute_face_descriptor(image, shape, self.num_jitters, 0.25)
        return np.asarray(descriptor, dtype=np.float32)
