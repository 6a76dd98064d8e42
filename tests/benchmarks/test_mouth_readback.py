"""benchmarks/mouth_readback.py: dlib's read-back of open_mouth's openings on a still photo."""
import numpy as np
import pytest

from benchmarks import mouth_readback
from faces import get_backend
from video import load_image
from video.image import to_uint8


def test_a_frontal_photo_reads_back_about_what_was_opened(media_dir):
    backend = get_backend("auto", landmarks=True)
    r = mouth_readback.readback(to_uint8(load_image(media_dir / "audrey.jpg")), backend, (0.03, 0.06, 0.1))
    # the same agreement as tests/faces/test_mouth_motion.py's oracle (0.025 face widths at each request)
    np.testing.assert_allclose(r["read"], [0.03, 0.06, 0.1], atol=0.025)
    assert 0.75 < r["slope"] < 1.25 and abs(r["roll"]) < 10 and r["width"] > 50
    assert mouth_readback.readback(np.full((200, 200, 3), 128, np.uint8), backend) is None  # no face


def test_the_table_has_a_row_per_photo_and_bad_openings_are_refused(media_dir, capsys):
    assert mouth_readback.main(["--openings", "0.04,0.08", str(media_dir / "audrey.jpg")]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| audrey.jpg |")]
    assert len(rows) == 1 and rows[0].count("|") == 8
    with pytest.raises(SystemExit):
        mouth_readback.main(["--openings", "0,0.1", str(media_dir / "audrey.jpg")])
