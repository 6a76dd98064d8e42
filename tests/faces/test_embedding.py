"""Identity embeddings: the same man is within dlib's 0.6 threshold, two different men are not."""
import numpy as np


def distance(a, b):
    return float(np.linalg.norm(a - b))


def test_same_person_is_close_different_people_are_far(dlib_backend, photo):
    franck_a = dlib_backend.embedding(photo("franck_01829.jpg"))
    franck_b = dlib_backend.embedding(photo("franck_04035.jpg"))
    obama = dlib_backend.embedding(photo("obama.jpg"))
    biden = dlib_backend.embedding(photo("biden.jpg"))
    for vector in (franck_a, franck_b, obama, biden):
        assert vector.shape == (128,) and vector.dtype == np.float32
        assert np.isfinite(vector).all() and np.linalg.norm(vector) > 0.1
    assert distance(franck_a, franck_b) < 0.6
    assert distance(obama, biden) > 0.6
    assert distance(franck_a, obama) > 0.6


def test_embedding_from_68_landmarks_agrees_with_the_5_point_chip(dlib_backend, photo):
    image = photo("franck_01829.jpg")
    from_5_points = dlib_backend.embedding(image)
    from_68_points = dlib_backend.embedding_from_landmarks(image, dlib_backend.landmarks(image))
    assert distance(from_5_points, from_68_points) < 0.3


def test_no_face_gives_no_embedding(dlib_backend, frame):
    assert dlib_backend.embedding(frame("no_face.mp4", 10)) is None
