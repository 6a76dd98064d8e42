"""dlib's CNN face detector where HOG finds nothing: a tilted black-and-white photo that HOG misses."""
import math

import numpy as np
import pytest
from PIL import Image, ImageOps

from faces.backends import get_backend
from tests.test_demo import files  # noqa: F401  (the demo's random-weight model and clips)

ANGLE = 45  # degrees, counter-clockwise: a head tilted this far is beyond dlib's frontal HOG detector


@pytest.fixture(scope="module")
def photos(media_dir):
    """SeanConnery.jpg at 200 px (upright, colour) and the same photo tilted by ANGLE in black and white."""
    upright = Image.open(media_dir / "SeanConnery.jpg").convert("RGB")
    upright.thumbnail((200, 200))
    tilted = ImageOps.grayscale(upright.rotate(ANGLE, expand=True, fillcolor=(128, 128, 128))).convert("RGB")
    return np.asarray(upright), np.asarray(tilted)


def rotated_point(x, y, size, new_size, angle):
    """Where PIL's rotate(angle, expand=True) moves pixel (x, y) of an image of `size` (w, h)."""
    t = math.radians(angle)
    dx, dy = x - size[0] / 2, y - size[1] / 2
    return dx * math.cos(t) + dy * math.sin(t) + new_size[0] / 2, -dx * math.sin(t) + dy * math.cos(t) + new_size[1] / 2


def centre(box):
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def test_cnn_finds_the_tilted_face_that_hog_misses(photos):
    upright, tilted = photos
    hog = get_backend("dlib", landmarks=False, detector="hog")
    assert hog.detect(tilted) == []  # the case: HOG alone finds nothing
    both = get_backend("dlib", landmarks=False, detector="hog+cnn")
    assert "CNN mmod where HOG finds none" in both.describe()
    found = both.detect(tilted)
    assert len(found) == 1
    # oracle: HOG's face in the upright photo, carried through the same rotation
    (face,) = hog.detect(upright)
    expected = rotated_point(*centre(face.box), upright.shape[1::-1], tilted.shape[1::-1], ANGLE)
    side = face.box[2] - face.box[0]
    assert math.dist(centre(found[0].box), expected) < 0.25 * side
    # where HOG finds a face, hog+cnn returns HOG's own boxes (no CNN cost)
    assert [f.box for f in both.detect(upright)] == [f.box for f in hog.detect(upright)]


def test_demo_crop_animates_the_tilted_photo(photos, files, tmp_path, capsys):  # noqa: F811
    import demo

    source = tmp_path / "tilted.png"
    Image.fromarray(photos[1]).save(source)
    result = tmp_path / "result.mp4"
    code = demo.main(["--source", str(source), "--driving", str(files / "wolfgang.mp4"), "--crop",
                      "--checkpoint", str(files / "model.pth.tar"), "--result_video", str(result), "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert result.is_file()
