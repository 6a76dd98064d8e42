"""The face-alignment backend: refused without cached weights, wired correctly to face_alignment when present."""
import cv2
import numpy as np
import pytest

from faces.backends import available_backends, get_backend, missing_for
from faces.crop import expand_box
from faces.weights import fan_weight_files

pytest.importorskip("face_alignment", reason="optional: pip install --no-deps -r requirements-face.txt")


def test_availability_check_names_the_absent_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    problem = missing_for("face_alignment")
    assert "2DFAN4-11f355bf06.pth.tar" in problem and "s3fd-619a316812.pth" in problem
    assert "face_alignment" not in available_backends()
    assert get_backend("auto").name == "dlib"


def test_with_cached_weights_it_is_preferred_and_runs(tmp_path, monkeypatch, photo):
    """Randomly initialised networks saved under the expected names: checks the plumbing, not accuracy."""
    import torch
    from face_alignment.detection.sfd.net_s3fd import s3fd
    from face_alignment.models import FAN

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    fan_file, sfd_file = fan_weight_files()
    fan_file.parent.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save({k: v.half() for k, v in FAN(4).state_dict().items()}, fan_file)
    torch.save({k: v.half() for k, v in s3fd().state_dict().items()}, sfd_file)
    assert missing_for("face_alignment") is None

    backend = get_backend("auto", device="cpu", flip=False)
    assert backend.name == "face_alignment"
    assert "face-alignment" in backend.describe() and "dlib embedding" in backend.describe()
    image = cv2.resize(photo("franck_01829.jpg"), (240, 192), interpolation=cv2.INTER_AREA)
    found = backend.detect(image)
    assert all(a.area >= b.area for a, b in zip(found, found[1:]))
    box = (80.0, 50.0, 180.0, 150.0)
    points = backend.landmarks(image, box)
    assert points.shape == (68, 2) and points.dtype == np.float32
    x0, y0, x1, y1 = expand_box(box, 2.2, (10_000, 10_000), square=True)  # FAN's crop around the box
    assert np.all((points >= [x0 - 50, y0 - 50]) & (points <= [x1 + 50, y1 + 50]))
    vector = backend.embedding(image, box)
    assert vector.shape == (128,) and np.isfinite(vector).all()
