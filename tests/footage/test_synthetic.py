"""Extra identities from face photos: smooth synthetic motion, rendered as training tracks by preprocess."""
from __future__ import annotations

import csv
import os
import shutil

import numpy as np
import pytest

import preprocess
import video
from errors import UserError
from footage import FramesDataset
from footage.preprocess import PreprocessOptions, build_dataset, detect_faces
from footage.synthetic import MotionRange, smooth_curve, square_crop, synthetic_frames

SIZE = 64


@pytest.fixture(scope="module")
def photo(media_dir):
    image = video.to_uint8(video.load_image(media_dir / "SeanConnery.jpg"))
    boxes = detect_faces(image)
    assert len(boxes) == 1
    return image, boxes[0]


def test_smooth_curve_is_bounded_seeded_and_smooth():
    a = smooth_curve(np.random.default_rng(1), 128)
    b = smooth_curve(np.random.default_rng(1), 128)
    c = smooth_curve(np.random.default_rng(2), 128)
    assert np.array_equal(a, b) and not np.allclose(a, c)
    assert np.abs(a).max() <= 1.0 and np.ptp(a) > 0.3
    # at most 3 cycles per clip: one step moves at most 2*pi*3/128 of the amplitude
    assert np.abs(np.diff(a)).max() <= 2 * np.pi * 3 / 128 + 1e-9


def test_frames_are_seeded_sized_and_move_smoothly(photo):
    image, box = photo
    frames = np.stack(list(synthetic_frames(image, box, SIZE, 48, seed=7)))
    again = np.stack(list(synthetic_frames(image, box, SIZE, 48, seed=7)))
    other = np.stack(list(synthetic_frames(image, box, SIZE, 48, seed=8)))
    assert frames.shape == (48, SIZE, SIZE, 3) and frames.dtype == np.uint8
    assert np.array_equal(frames, again) and not np.array_equal(frames, other)
    f = frames.astype(np.float32)
    step = np.abs(np.diff(f, axis=0)).mean()
    span = np.abs(f[:, None] - f[None, :]).mean(axis=(2, 3, 4)).max()
    assert 0 < step < span / 3  # it moves, and consecutive frames are much closer than the extremes


def test_no_motion_range_gives_the_plain_crop(photo):
    """With every excursion 0 the clip is the still square crop the video tracks would cut."""
    image, box = photo
    still = MotionRange(rotation_degrees=0, zoom=0, shift=0, warp=0)
    frames = list(synthetic_frames(image, box, SIZE, 3, seed=0, increase=0.1, motion=still))
    assert all(np.array_equal(frames[0], f) for f in frames)
    cx, cy, side = square_crop(box, 0.1)
    from faces.crop import crop_resize

    plain = crop_resize(image, (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2), SIZE)
    assert np.abs(frames[0].astype(int) - plain.astype(int)).mean() < 4  # bilinear vs area/cubic resampling


def test_the_face_stays_in_frame(photo):
    image, box = photo
    frames = list(synthetic_frames(image, box, 128, 64, seed=3, increase=0.4))
    for k in (0, 21, 42, 63):
        boxes = detect_faces(frames[k])
        assert len(boxes) == 1, k
        x0, y0, x1, y1 = boxes[0]
        assert 20 < (x0 + x1) / 2 < 108 and 20 < (y0 + y1) / 2 < 108


def test_bad_arguments_are_refused(photo):
    image, box = photo
    with pytest.raises(ValueError, match="uint8"):
        next(synthetic_frames(image.astype(np.float32), box, SIZE, 4))
    with pytest.raises(ValueError, match="num_frames"):
        next(synthetic_frames(image, box, SIZE, 0))


def test_preprocess_adds_photo_tracks_to_train(media_dir, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("SeanConnery.jpg", "audrey.jpg"):
        shutil.copy(media_dir / name, photos / name)
    blank = np.full((120, 160, 3), 200, np.uint8)
    video.save_image(photos / "wall.png", blank)
    out = tmp_path / "ds"
    options = PreprocessOptions(size=SIZE, format="png", min_frames=16, photo_frames=20, photo_tracks=2,
                                progress=False)
    summary = build_dataset([], str(out), options, photos=[str(photos)])
    names = sorted(os.listdir(out / "train"))
    assert names == [f"{stem}#{k:03d}#000000#000020.mp4" for stem in ("SeanConnery", "audrey") for k in (0, 1)]
    assert os.listdir(out / "test") == []
    assert [s[0] for s in summary.skipped] == [str(photos / "wall.png")]
    for name in names:
        assert len(os.listdir(out / "train" / name)) == 20
    a = video.load_image(out / "train" / names[0] / "0000005.png")
    b = video.load_image(out / "train" / names[1] / "0000005.png")
    assert np.abs(a - b).mean() > 0.01  # the two tracks of one photo move differently
    with open(out / "tracks.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["name"] for r in rows] == names
    assert all(r["split"] == "train" and r["num_frames"] == "20" for r in rows)
    ds = FramesDataset(root_dir=str(out), frame_shape=(SIZE, SIZE, 3), is_train=True)
    assert ds[0]["source"].shape == (3, SIZE, SIZE)


def test_photos_without_faces_or_inputs_are_one_line_errors(tmp_path, capsys):
    blank = tmp_path / "wall.png"
    video.save_image(blank, np.full((120, 160, 3), 200, np.uint8))
    out = tmp_path / "ds"
    with pytest.raises(UserError, match="no face found in any of the 1 photos"):
        build_dataset([], str(out), PreprocessOptions(size=SIZE, progress=False), photos=[str(blank)])
    with pytest.raises(UserError, match="does not exist"):
        build_dataset([], str(out), PreprocessOptions(size=SIZE, progress=False), photos=[str(tmp_path / "nope.jpg")])
    assert not out.exists() and sorted(os.listdir(tmp_path)) == ["wall.png"]
    # the command line, in this process (tests/test_cli_corpus.py runs the CLIs as processes, with signals)
    assert preprocess.main(["--output", str(out)]) == 2
    assert "nothing to preprocess" in capsys.readouterr().err and not out.exists()
    assert preprocess.main(["--photos", str(blank), "--photo_frames", "10", "--output", str(out)]) == 2
    assert "--photo_frames must be >= --min_frames" in capsys.readouterr().err
