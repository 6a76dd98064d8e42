"""The face-backend registry: auto choice, one-line descriptions, clear errors, plug-in registration."""
import numpy as np
import pytest

import faces
from errors import UserError
from faces import backends
from faces.backends import available_backends, get_backend, missing_for, register_backend, registered_backends
from faces.base import Face, FaceBackend


@pytest.fixture
def no_fan_weights(tmp_path, monkeypatch):
    """An empty torch hub cache, as on a machine where face-alignment never downloaded anything."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


def test_auto_gives_a_working_backend_and_says_which(no_fan_weights, photo):
    backend = get_backend("auto")
    line = backend.describe()
    assert backend.name in ("dlib", "face_alignment") and "\n" not in line
    assert line.startswith("faces: ") and "dlib" in line
    assert backend.name == available_backends()[0]
    points = backend.landmarks(photo("franck_01829.jpg"))
    assert points.shape == (68, 2)
    assert faces.get_backend is get_backend


def test_auto_passes_only_the_options_a_backend_takes(no_fan_weights):
    backend = get_backend("auto", upsample=0, device="cpu", min_face=30)
    assert backend.name == "dlib" and backend.upsample == 0
    assert "upsample 0" in backend.describe()


def test_registry_lists_builtins_in_preference_order(no_fan_weights):
    assert registered_backends()[:3] == ["face_alignment", "dlib", "opencv"]
    assert available_backends() == ["dlib", "opencv"]
    assert "face_alignment" not in available_backends()


def test_face_alignment_without_weights_is_refused_with_the_fix(no_fan_weights, tmp_path):
    problem = missing_for("face_alignment")
    assert problem is not None
    if "not installed" not in problem:  # face-alignment installed: the missing weights are named
        assert "2DFAN4" in problem and "s3fd" in problem and str(tmp_path / "torch") in problem
    with pytest.raises(UserError, match="face_alignment.*unavailable") as caught:
        get_backend("face_alignment")
    assert "\n" not in str(caught.value)


def test_unknown_and_unsuitable_backends_raise_user_errors(photo):
    with pytest.raises(UserError, match="unknown face backend 'nope'.*dlib"):
        get_backend("nope")
    with pytest.raises(UserError, match="opencv.*no landmarks"):
        get_backend("opencv")
    opencv = get_backend("opencv", landmarks=False)
    assert "opencv" in opencv.describe()
    with pytest.raises(UserError, match="no landmarks"):
        opencv.landmarks(photo("franck_01829.jpg"))
    with pytest.raises(UserError, match="no identity embeddings"):
        opencv.embedding(photo("franck_01829.jpg"))
    with pytest.raises(UserError, match="unknown dlib face detector"):
        get_backend("dlib", detector="yolo")


def test_a_registered_plugin_is_used_only_when_available(monkeypatch, no_fan_weights):
    monkeypatch.setattr(backends, "_REGISTRY", backends._REGISTRY.copy())

    @register_backend("centre_box", priority=0)
    class CentreBox(FaceBackend):
        present = False

        @classmethod
        def missing(cls):
            return None if cls.present else "the centre box is switched off; set present=True"

        def detect(self, image):
            h, w = image.shape[:2]
            return [Face(box=(w / 4, h / 4, 3 * w / 4, 3 * h / 4), score=1.0)]

        def describe(self):
            return "faces: centre box (test plug-in)"

    assert CentreBox.name == "centre_box"
    assert get_backend("auto", landmarks=False).name == "dlib"
    with pytest.raises(UserError, match="switched off"):
        get_backend("centre_box", landmarks=False)
    CentreBox.present = True
    chosen = get_backend("auto", landmarks=False)
    assert chosen.name == "centre_box"
    assert chosen.detect(np.zeros((40, 80, 3), np.uint8))[0].box == (20, 10, 60, 30)
    assert get_backend("auto", landmarks=True).name == "dlib"  # the plug-in gives no landmarks


def test_backends_reject_images_that_are_not_uint8_rgb(dlib_backend):
    with pytest.raises(ValueError, match="uint8"):
        dlib_backend.detect(np.zeros((50, 50, 3), np.float32))
    with pytest.raises(ValueError, match="HxWx3"):
        dlib_backend.detect(np.zeros((50, 50, 2), np.uint8))
    assert dlib_backend.detect(np.zeros((50, 50), np.uint8)) == []  # gray is accepted


def test_backends_pickle_without_their_models(dlib_backend, photo):
    import pickle

    dlib_backend.landmarks(photo("franck_01829.jpg"))  # models loaded
    copy = pickle.loads(pickle.dumps(dlib_backend))
    assert copy._models == {}
    assert np.array_equal(copy.landmarks(photo("franck_01829.jpg")),
                          dlib_backend.landmarks(photo("franck_01829.jpg")))
