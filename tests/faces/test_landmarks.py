"""68-point landmarks: shape, placement inside the face box, facial layout and shift equivariance."""
import numpy as np
import pytest

from faces.crop import expand_box

EYES = slice(36, 48)
MOUTH = slice(48, 68)


@pytest.mark.parametrize("name", ["audrey.jpg", "obama.jpg", "franck_01829.jpg"])
def test_landmarks_lie_in_the_face_box_with_eyes_above_mouth(dlib_backend, photo, name):
    image = photo(name)
    face = dlib_backend.largest(image)
    points = dlib_backend.landmarks(image)
    assert points.shape == (68, 2) and points.dtype == np.float32
    x0, y0, x1, y1 = face.box
    inside = (points[:, 0] >= x0) & (points[:, 0] < x1) & (points[:, 1] >= y0) & (points[:, 1] < y1)
    assert inside.mean() >= 0.8
    ex0, ey0, ex1, ey1 = expand_box(face.box, 1.5, image.shape)
    assert np.all((points >= [ex0, ey0]) & (points <= [ex1, ey1]))
    assert points[EYES, 1].max() < points[MOUTH, 1].min()
    left_eye, right_eye = points[36:42].mean(axis=0), points[42:48].mean(axis=0)
    assert left_eye[0] < right_eye[0]  # image-left eye first in dlib's 68-point layout


def test_landmarks_for_a_given_box_match_the_detected_face(dlib_backend, photo):
    image = photo("obama.jpg")
    face = dlib_backend.largest(image)
    assert np.array_equal(dlib_backend.landmarks(image, face.box), dlib_backend.landmarks(image))


@pytest.mark.parametrize("name,shift", [("franck_01829.jpg", 10), ("audrey.jpg", -10), ("obama.jpg", 10)])
def test_shifted_face_gives_shifted_landmarks(dlib_backend, photo, name, shift):
    image = photo(name)
    before = dlib_backend.landmarks(image)
    after = dlib_backend.landmarks(np.roll(image, shift, axis=1))
    error = np.abs(after - before - [shift, 0]).mean()
    assert error < 2.0, f"mean abs error {error:.2f} px"


def test_detect_with_landmarks_fills_every_face(dlib_backend, frame):
    image = frame("franck.mp4", 10)
    faces = dlib_backend.detect_with_landmarks(image)
    assert len(faces) == 1 and faces[0].landmarks.shape == (68, 2)
