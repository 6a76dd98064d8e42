"""Tests of the face metrics on real photos and video frames: AKD/MKR (landmarks), AED (identity), mouth."""
import numpy as np
import pytest

from evaluation import METRICS, MetricContext, build_metrics
from evaluation.face_metrics import EVAL_SIZE, FaceAnalyzer, eval_image
from faces import get_backend
from faces.crop import crop_resize, expand_box
from video import iter_frames, load_image, to_float, to_uint8

DLIB_SAME_PERSON = 0.6  # dlib's documented threshold for its 128-D embedding


@pytest.fixture(scope="module")
def face(media_dir):
    """face(name) -> a 256x256 float crop around the largest face of media_dir/name (1.8 x the face box)."""
    backend = get_backend("auto")
    cache = {}

    def crop(name):
        if name not in cache:
            image = load_image(media_dir / name)
            found = backend.largest(to_uint8(image))
            assert found is not None, f"no face in {name}"
            cache[name] = crop_resize(image, expand_box(found.box, 1.8, image.shape), EVAL_SIZE)
        return cache[name]

    return crop


@pytest.fixture(scope="module")
def metrics():
    context = MetricContext()
    ready, skipped = build_metrics(["akd", "aed", "mouth"], context)
    assert not skipped, f"face metrics unavailable here: {skipped}"
    return {m.name: m for m in ready}


@pytest.fixture(scope="module")
def no_face(media_dir):
    frame = next(iter_frames(media_dir / "no_face.mp4", 0, 1))
    side = min(frame.shape[:2])
    return crop_resize(to_float(frame), (0, 0, side, side), EVAL_SIZE)


def shifted(image, s):
    """The image moved s px to the right: the left s columns are new (edge-replicated), the right s cut."""
    return np.concatenate([np.repeat(image[:, :1], s, axis=1), image[:, :-s]], axis=1)


def test_identical_frames_give_zero_distances(face, metrics):
    real = face("franck_01829.jpg")
    assert metrics["akd"].frame(real.copy(), real) == {"akd": 0.0, "mkr": 0.0}
    assert metrics["aed"].frame(real.copy(), real) == {"aed": 0.0}


@pytest.mark.parametrize("s", [6, 16])
def test_akd_of_a_shifted_copy_is_the_shift(face, metrics, s):
    real = face("franck_01829.jpg")
    akd = metrics["akd"].frame(shifted(real, s), real)
    assert akd["mkr"] == 0.0
    assert akd["akd"] == pytest.approx(s, abs=1.0)


def test_akd_is_measured_at_256_pixels_whatever_the_frame_size(face, metrics):
    """A 128x128 frame shifted by 8 px is a 16 px shift at the 256x256 evaluation size."""
    small = face("franck_01829.jpg")[::2, ::2].copy()
    assert metrics["akd"].frame(shifted(small, 8), small)["akd"] == pytest.approx(16, abs=1.5)


def test_aed_separates_people_at_dlibs_threshold(face, metrics):
    different = metrics["aed"].frame(face("obama.jpg"), face("biden.jpg"))["aed"]
    same = metrics["aed"].frame(face("franck_01829.jpg"), face("franck_04035.jpg"))["aed"]
    assert different > DLIB_SAME_PERSON > same > 0


def test_a_frame_without_a_face_is_counted_as_missed(face, metrics, no_face):
    real = face("franck_01829.jpg")
    assert metrics["akd"].frame(no_face, real) == {"akd": None, "mkr": 1.0}
    assert metrics["akd"].frame(real, no_face) == {"akd": None, "mkr": 1.0}
    assert metrics["akd"].frame(no_face, no_face.copy()) == {"akd": None, "mkr": 1.0}
    assert metrics["aed"].frame(no_face, real) == {"aed": None}


def test_mouth_metric_sees_the_mouth_and_only_the_mouth(face, metrics, no_face):
    real = face("franck_01829.jpg")
    assert metrics["mouth"].frame(real.copy(), real) == {"mouth_l1": 0.0, "mouth_akd": 0.0}
    marks = FaceAnalyzer().landmarks(eval_image(real))
    top = int(marks[48:68, 1].min()) - 20  # well above the lips: the eyes and the forehead change
    changed = real.copy()
    changed[:top] = 1.0 - changed[:top]
    assert np.abs(changed - real).mean() > 0.05
    assert metrics["mouth"].frame(changed, real)["mouth_l1"] == 0.0
    lips = real.copy()
    x0, y0 = marks[48:68].min(0).astype(int)
    x1, y1 = marks[48:68].max(0).astype(int)
    lips[y0:y1, x0:x1] = 0.0  # a black mouth
    value = metrics["mouth"].frame(lips, real)["mouth_l1"]
    assert value > 0.1
    assert metrics["mouth"].frame(shifted(real, 8), real)["mouth_akd"] == pytest.approx(8, abs=1.5)
    assert metrics["mouth"].frame(real, no_face) == {"mouth_l1": None, "mouth_akd": None}
    assert metrics["mouth"].frame(no_face, real)["mouth_akd"] is None


def test_backends_are_described(metrics):
    for name in ("akd", "aed"):
        line = metrics[name].describe()
        assert line.startswith("faces: ") and "offline" in line


def test_eval_image_is_uint8_at_the_evaluation_size(face):
    small = face("audrey.jpg")[::4, ::4]
    out = eval_image(small)
    assert out.dtype == np.uint8 and out.shape == (EVAL_SIZE, EVAL_SIZE, 3)
    assert abs(float(out.mean()) / 255 - float(small.mean())) < 0.02


def test_analyzer_searches_a_repeated_frame_once(face):
    class Counting(type(get_backend("auto"))):
        calls = 0

        def detect(self, image):
            Counting.calls += 1
            return super().detect(image)

    analyzer = FaceAnalyzer(landmark_backend=Counting())
    image = eval_image(face("SeanConnery.jpg"))
    first = analyzer.landmarks(image)
    again = analyzer.landmarks(image.copy())  # same content, another array
    analyzer.embedding(image)
    assert first is not None and np.array_equal(first, again)
    assert Counting.calls == 1
    assert METRICS["akd"].columns == ("akd", "mkr")
