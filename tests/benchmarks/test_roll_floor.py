"""benchmarks/roll_floor.py: dlib's roll under moves without rotation is small, and a known turn reads as itself."""
import numpy as np

from benchmarks import roll_floor
from faces import get_backend
from video import load_image
from video.image import to_uint8


def test_no_rotation_reads_near_zero_spread_and_a_5_degree_turn_reads_5(media_dir):
    backend = get_backend("auto", landmarks=True)
    photo = to_uint8(load_image(media_dir / "audrey.jpg"))
    still = roll_floor.rolls_under_moves(photo, backend, 6)
    turned = roll_floor.rolls_under_moves(photo, backend, 6, angle=5.0)
    assert len(still) == len(turned) == 6
    assert still.std() < 0.5  # the landmarks' own noise on a sharp frontal face: a fraction of a degree
    assert abs(abs(turned.mean() - still.mean()) - 5.0) < 1.0  # the oracle: the turn the photo was given
    face = backend.largest(photo)
    coarse = roll_floor.at_model_size(photo, face.box[2] - face.box[0], 128)
    assert coarse.shape == photo.shape and np.abs(coarse.astype(int) - photo.astype(int)).mean() > 1  # less detail
