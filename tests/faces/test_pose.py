"""Pose comparison from landmarks: invariant to position and scale, sensitive to rotation."""
import cv2
import numpy as np
import pytest

from faces.pose import closest_pose, normalized_landmarks, pose_distance


@pytest.fixture(scope="module")
def franck(dlib_backend, photo):
    image = photo("franck_01829.jpg")
    return image, dlib_backend.landmarks(image)


def test_normalized_landmarks_are_centred_with_unit_spread(franck):
    _, points = franck
    normal = normalized_landmarks(points)
    assert normal.shape == (68, 2)
    assert np.allclose(normal.mean(axis=0), 0, atol=1e-9)
    assert np.sqrt((normal ** 2).sum(axis=1).mean()) == pytest.approx(1.0)
    batch = normalized_landmarks(np.stack([points, points * 2 + 5]))
    assert batch.shape == (2, 68, 2) and np.allclose(batch[0], batch[1])
    with pytest.raises(ValueError):
        normalized_landmarks(np.ones((68, 2)))


def test_pose_distance_ignores_position_and_scale_but_sees_rotation(dlib_backend, franck):
    image, points = franck
    assert pose_distance(points, points * 2.5 + [40, -30]) < 1e-9
    # real detections on a shrunk, shifted copy and on a rotated copy of the same photo
    moved = cv2.warpAffine(image, np.float32([[0.7, 0, 30], [0, 0.7, 20]]), image.shape[1::-1],
                           borderMode=cv2.BORDER_REPLICATE)
    centre = tuple(float(v) for v in points.mean(axis=0))
    rotated = cv2.warpAffine(image, cv2.getRotationMatrix2D(centre, 20, 1.0), image.shape[1::-1],
                             borderMode=cv2.BORDER_REPLICATE)
    moved_points, rotated_points = dlib_backend.landmarks(moved), dlib_backend.landmarks(rotated)
    assert pose_distance(points, moved_points) < 0.05
    assert pose_distance(points, rotated_points) > 3 * pose_distance(points, moved_points)
    # a rigid 20 degree turn moves unit-spread points by 2 sin(10 degrees) on average (RMS)
    assert pose_distance(points, rotated_points) == pytest.approx(2 * np.sin(np.radians(10)), abs=0.05)
    assert closest_pose(points, [None, rotated_points, moved_points]) == 2
    assert closest_pose(points, [None, None]) is None
