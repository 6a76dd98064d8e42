"""Landmark files of a dataset (preprocess.py --landmarks) and the mouth masks a training item carries."""
from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from dataset_media import write_format

from errors import UserError
from faces.mouth import mouth_mask
from footage import FramesDataset
from footage.landmarks import landmarks_path, load_landmarks

FLIPS = {"flip_param": {"horizontal_flip": True, "time_flip": False},
         "jitter_param": {"brightness": 0.3, "contrast": 0.3, "saturation": 0.3, "hue": 0.1}}


@pytest.fixture(scope="module")
def annotated(clips, tmp_path_factory):
    """A dataset of the two real clips (train: franck as mp4, cap as a folder; test: franck) with landmarks."""
    import preprocess

    root = tmp_path_factory.mktemp("annotated")
    (root / "train").mkdir()
    (root / "test").mkdir()
    write_format(clips["franck"], "mp4", root / "train" / "franck")
    write_format(clips["cap"], "folder", root / "train" / "cap")
    write_format(clips["franck"][::2], "mp4", root / "test" / "franck")
    assert preprocess.main(["--output", str(root), "--landmarks", "--quiet"]) == 0
    return root


def test_cli_writes_one_landmark_file_per_video(annotated, clips):
    for video, frames in (("train/franck.mp4", 20), ("train/cap", 20), ("test/franck.mp4", 10)):
        marks = load_landmarks(str(annotated / video), frames)
        assert marks.shape == (frames, 68, 2)
        assert np.isfinite(marks).all()  # a real face in every frame
        assert (marks > 0).all() and (marks < 1).all()  # normalised to the frame
        eyes_y, mouth_y, chin_y = marks[:, 36:48, 1].mean(1), marks[:, 48:68, 1].mean(1), marks[:, 8, 1]
        assert (eyes_y < mouth_y).all() and (mouth_y < chin_y).all()
    assert sorted(os.listdir(annotated / "train" / "landmarks")) == ["cap.npy", "franck.mp4.npy"]


def test_second_run_keeps_files_and_landmarks_folder_is_not_a_video(annotated, caplog):
    import preprocess

    path = landmarks_path(str(annotated / "train" / "cap"))
    before = os.stat(path).st_mtime_ns
    assert preprocess.main(["--output", str(annotated), "--landmarks", "--quiet"]) == 0
    assert os.stat(path).st_mtime_ns == before
    with caplog.at_level("WARNING"):
        dataset = FramesDataset(str(annotated), frame_shape=(64, 64, 3), is_train=True)
    assert dataset.videos == ["cap", "franck.mp4"]
    assert "ignoring" not in caplog.text


def test_mouth_mask_covers_the_mouth_and_nothing_without_landmarks(annotated):
    marks = load_landmarks(str(annotated / "train" / "franck.mp4"), 20)[0]
    mask = mouth_mask(marks, 64, 64)
    assert mask.shape == (64, 64) and mask.max() == 1.0 and mask.min() == 0.0
    mouth = marks[48:68] * 64
    x, y = np.clip(mouth.astype(int), 0, 63).T
    assert (mask[y, x] == 1.0).all()  # every mouth point lies inside
    ys, xs = np.nonzero(mask)
    assert ys.min() > marks[36:48, 1].max() * 64  # below the eyes
    assert mask.sum() < 0.25 * 64 * 64
    assert not mouth_mask(np.full((68, 2), np.nan), 64, 64).any()


def test_item_mask_moves_with_a_flipped_frame_and_ignores_colour_jitter(annotated):
    plain = FramesDataset(str(annotated), frame_shape=(64, 64, 3), is_train=True, mouth_mask=True)
    augmented = FramesDataset(str(annotated), frame_shape=(64, 64, 3), is_train=True, mouth_mask=True,
                              augmentation_params=FLIPS)
    seen = set()
    for seed in range(12):
        np.random.seed(seed)
        reference = plain[1]
        np.random.seed(seed)
        item = augmented[1]
        expected = mouth_mask(plain.landmarks[1][_driving_index(plain, seed)], 64, 64)
        np.testing.assert_array_equal(reference["driving_mouth"][0], expected)
        flipped = not np.array_equal(item["driving_mouth"][0], expected)
        if flipped:
            np.testing.assert_array_equal(item["driving_mouth"][0], expected[:, ::-1])
        # the frame was mirrored exactly when the mask was: compare by brightness-free structure
        frame = item["driving"].mean(0)
        base = reference["driving"].mean(0)
        same = np.corrcoef(frame.ravel(), base.ravel())[0, 1]
        mirrored = np.corrcoef(frame.ravel(), base[:, ::-1].ravel())[0, 1]
        assert (mirrored > same) == flipped
        seen.add(flipped)
    assert seen == {True, False}


def _driving_index(dataset, seed):
    np.random.seed(seed)
    return int(np.sort(np.random.choice(dataset.sources[1].num_frames, replace=True, size=2))[1])


def test_missing_or_stale_landmarks_are_a_clear_error(annotated, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(annotated, copy)
    os.remove(landmarks_path(str(copy / "train" / "cap")))
    FramesDataset(str(copy), frame_shape=(64, 64, 3), is_train=True)  # without the mask nothing is needed
    with pytest.raises(UserError, match=r"has no landmark file .*preprocess\.py --output .* --landmarks"):
        FramesDataset(str(copy), frame_shape=(64, 64, 3), is_train=True, mouth_mask=True)
    np.save(landmarks_path(str(copy / "train" / "cap")), np.zeros((3, 68, 2), np.float32))
    with pytest.raises(UserError, match=r"has shape \(3, 68, 2\), the video has 20 frames"):
        FramesDataset(str(copy), frame_shape=(64, 64, 3), is_train=True, mouth_mask=True)


def test_landmarks_of_a_missing_folder_is_one_line(tmp_path, capsys):
    import preprocess

    assert preprocess.main(["--output", str(tmp_path / "nope"), "--landmarks", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: dataset folder") and len(err.splitlines()) == 1
    assert not (tmp_path / "nope").exists()


def test_landmarks_lists_the_dataset_once(annotated, tmp_path, capsys):
    """A stray non-video entry is named in one warning line, not one per listing of the dataset."""
    import preprocess

    copy = tmp_path / "copy"
    shutil.copytree(annotated, copy)
    (copy / "train" / "notes.txt").write_text("not a video")
    assert preprocess.main(["--output", str(copy), "--landmarks", "--quiet"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "ignoring 1 entries" in line]
    assert len(warnings) == 1, warnings
