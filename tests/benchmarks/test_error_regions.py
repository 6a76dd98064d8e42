"""benchmarks/error_regions.py: a reconstruction's L1 split between the face (its landmarks' hull) and the rest."""
import re

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from benchmarks import error_regions
from errors import UserError
from faces import get_backend
from faces.crop import crop_resize
from video import load_image
from video.writer import VideoWriter


@pytest.fixture(scope="module")
def face(media_dir):
    """Audrey's whole face with a margin, 256x256 uint8, and its dlib landmarks."""
    photo = crop_resize((load_image(media_dir / "audrey.jpg") * 255).round().astype(np.uint8), (70, 106, 520, 556), 256)
    marks = get_backend("dlib").landmarks(photo)
    assert marks is not None
    return photo, marks


def test_the_split_puts_a_known_error_on_the_side_where_it_was_made(face):
    photo, marks = face
    real = photo.astype(np.float32) / 255
    mask = error_regions.face_mask(marks, real.shape[:2])
    top = int(marks[:, 1].min()) - 4  # every row above the highest landmark is outside the hull
    assert not mask[:top].any() and mask.sum() > 5000
    made = real.copy()
    made[:top] += 0.25  # rest: top rows brighter
    nose_x, nose_y = np.round(marks[30]).astype(int)
    made[nose_y - 5:nose_y + 5, nose_x - 5:nose_x + 5] -= 0.5  # face: a 10x10 block on the nose tip
    face_part, rest_part = error_regions.split_l1(made, real, mask)
    assert rest_part == pytest.approx(0.25 * top * 256 / 256 ** 2, rel=1e-5)
    assert face_part == pytest.approx(0.5 * 100 / 256 ** 2, rel=1e-5)
    assert face_part + rest_part == pytest.approx(np.abs(made - real).mean(), rel=1e-5)
    assert error_regions.face_mask(None, (8, 8)).sum() == 0  # no face: all of it is rest


def test_the_cli_splits_a_run_video_into_face_and_rest(face, tmp_path, capsys):
    photo, _ = face
    frames = [photo, np.roll(photo, 3, axis=1), np.roll(photo, 6, axis=1)]
    clip = tmp_path / "data" / "test" / "audrey"
    clip.mkdir(parents=True)
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(clip / f"{i:04d}.png")
    made = [frame.copy() for frame in frames]
    for frame in made:
        frame[:40] = 255 - frame[:40]  # a gross error on the top rows only
    run_file = tmp_path / "run" / "reconstruction" / "audrey.mp4"
    run_file.parent.mkdir(parents=True)
    with VideoWriter(run_file, fps=10) as writer:
        writer.write(np.stack(made))
    assert error_regions.main(error_regions.parse_args(["--data", str(tmp_path / "data"), "--run_dir",
                                                        str(tmp_path / "run"), "--backend", "dlib"])) == 0
    line = re.search(r"^all: 3 frames, model L1 ([\d.]+) = face ([\d.]+) \+ rest ([\d.]+); "
                     r"static L1 ([\d.]+) = face ([\d.]+) \+ rest ([\d.]+)", capsys.readouterr().out, re.M)
    model, model_face, model_rest, static, static_face, static_rest = (float(v) for v in line.groups())
    # the oracle: the encoded run read back by another reader, and frame 0 against each frame, by hand
    decoded = iio.imread(run_file).astype(np.float32) / 255
    real = [f.astype(np.float32) / 255 for f in frames]
    assert model == pytest.approx(np.mean([np.abs(d - r).mean() for d, r in zip(decoded, real)]), abs=2e-4)
    assert static == pytest.approx(np.mean([np.abs(real[0] - r).mean() for r in real]), abs=2e-4)
    assert model_face + model_rest == pytest.approx(model, abs=2e-4)
    assert static_face + static_rest == pytest.approx(static, abs=2e-4)
    assert model_rest > 5 * model_face  # the made error lies above the face; the face only carries H.264's


def test_a_missing_or_mismatched_run_is_refused_in_one_line(face, tmp_path):
    photo, _ = face
    clip = tmp_path / "data" / "test" / "audrey"
    clip.mkdir(parents=True)
    for i in range(3):
        Image.fromarray(photo).save(clip / f"{i:04d}.png")
    run = tmp_path / "run" / "reconstruction"
    run.mkdir(parents=True)
    argv = ["--data", str(tmp_path / "data"), "--run_dir", str(tmp_path / "run"), "--backend", "dlib"]
    with pytest.raises(UserError, match="no reconstruction of audrey"):
        error_regions.main(error_regions.parse_args(argv))
    with VideoWriter(run / "audrey.mp4", fps=10) as writer:
        writer.write(np.stack([photo, photo]))
    with pytest.raises(UserError, match="has 2 frames .* 3: the run was not made on this video"):
        error_regions.main(error_regions.parse_args(argv))
