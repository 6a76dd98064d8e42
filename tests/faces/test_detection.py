"""Face detection on real photos and video frames: one face where there is one, none where there is none."""
import cv2
import pytest

from faces.backends import get_backend
from faces.crop import iou

PHOTOS = ["audrey.jpg", "obama.jpg", "franck_01829.jpg", "franck_04035.jpg"]


@pytest.mark.parametrize("name", PHOTOS)
def test_one_face_in_each_photo(dlib_backend, photo, name):
    image = photo(name)
    faces = dlib_backend.detect(image)
    assert len(faces) == 1
    x0, y0, x1, y1 = faces[0].box
    height, width = image.shape[:2]
    # a portrait's face is a sizeable part of the picture, and roughly square
    assert 0.15 * min(height, width) < x1 - x0 < 0.9 * min(height, width)
    assert 0.8 < (x1 - x0) / (y1 - y0) < 1.25
    assert faces[0].landmarks is None and faces[0].score > 0


def test_one_face_in_a_talking_head_frame(dlib_backend, frame):
    image = frame("franck.mp4", 10)
    faces = dlib_backend.detect(image)
    assert len(faces) == 1
    width = faces[0].box[2] - faces[0].box[0]
    assert 100 < width < 220  # SOURCES.md: the face is 150-190 px wide (dlib's box is the inner face)


def test_no_face_in_a_frame_without_faces(dlib_backend, frame):
    assert dlib_backend.detect(frame("no_face.mp4", 10)) == []
    assert dlib_backend.landmarks(frame("no_face.mp4", 10)) is None


def test_small_faces_are_found_and_big_images_are_shrunk_consistently(dlib_backend, photo):
    image = photo("franck_01829.jpg")
    full = dlib_backend.detect(image)[0]
    factor = 80 / (full.box[2] - full.box[0])  # shrink until the face is about 80 px wide
    small = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    found = dlib_backend.detect(small)
    assert len(found) == 1
    assert iou([v / factor for v in found[0].box], full.box) > 0.6
    # with max_side the detector works on a shrunk copy, but boxes come back in full-image pixels
    shrunk = get_backend("dlib", max_side=360).detect(image)
    assert len(shrunk) == 1 and iou(shrunk[0].box, full.box) > 0.7


def test_faces_are_sorted_largest_first(dlib_backend, photo):
    image = photo("franck_01829.jpg")
    small = cv2.resize(photo("SeanConnery.jpg"), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    image = image.copy()
    image[:small.shape[0], :small.shape[1]] = small  # a second, smaller face in the top-left corner
    faces = dlib_backend.detect(image)
    assert len(faces) == 2
    assert faces[0].area > faces[1].area
    assert faces[1].box[0] < small.shape[1] and faces[1].box[1] < small.shape[0]


def test_opencv_backend_finds_the_same_face(dlib_backend, photo, frame):
    opencv = get_backend("opencv", landmarks=False)
    for image in (photo("franck_01829.jpg"), frame("franck.mp4", 10)):
        largest = opencv.largest(image)
        assert largest is not None
        assert iou(largest.box, dlib_backend.largest(image).box) > 0.4
    assert opencv.detect(frame("no_face.mp4", 10)) == []


def test_cnn_detector_agrees_with_hog(dlib_backend, frame):
    image = frame("franck.mp4", 10)  # small frame: dlib's CNN takes about 1 s here on CPU
    cnn = get_backend("dlib", detector="cnn", upsample=0)
    assert "CNN" in cnn.describe()
    faces = cnn.detect(image)
    assert len(faces) == 1
    assert iou(faces[0].box, dlib_backend.largest(image).box) > 0.6
