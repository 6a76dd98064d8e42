"""benchmarks/oracle_warp.py: warping frame 0 along the measured flow recovers a known motion of a real photo."""
import re

import cv2
import numpy as np
import pytest
from PIL import Image

from benchmarks import oracle_warp
from faces.crop import crop_resize
from video import load_image


def test_a_known_shift_is_undone_and_the_static_source_is_not(media_dir, tmp_path, capsys):
    photo = (load_image(media_dir / "audrey.jpg")[150:406, 140:396] * 255).round().astype(np.uint8)  # 256x256 face
    clip = tmp_path / "test" / "audrey"
    clip.mkdir(parents=True)
    for i, shift in enumerate((0, 3, 6)):  # the face moves right by 3 px a frame, the border replicated
        moved = cv2.warpAffine(photo, np.float32([[1, 0, shift], [0, 1, 0]]), (256, 256),
                               borderMode=cv2.BORDER_REPLICATE)
        Image.fromarray(moved).save(clip / f"{i:04d}.png")
    assert oracle_warp.main(oracle_warp.parse_args(["--data", str(tmp_path)])) == 0
    out = capsys.readouterr().out
    static, warped = (float(v) for v in re.search(r"^all 3 frames: static L1 ([\d.]+), oracle warp L1 ([\d.]+)",
                                                   out, re.M).groups())
    # the oracle: the same frames compared by hand; frame 0 itself costs nothing either way
    frames = [np.asarray(Image.open(clip / f"{i:04d}.png"), np.float32) / 255 for i in range(3)]
    assert static == pytest.approx(np.mean([np.abs(frames[0] - f).mean() for f in frames]), abs=6e-5)  # 4 decimals
    assert static > 0.02 and warped < 0.25 * static  # the flow finds the 3 and 6 px moves


def _write_clip(folder, frames):
    folder.mkdir(parents=True)
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{i:04d}.png")


def _totals(out, label):
    pattern = rf"^all \d+ frames: static L1 ([\d.]+), {re.escape(label)} L1 ([\d.]+)"
    return tuple(float(v) for v in re.search(pattern, out, re.M).groups())


def test_a_coarse_flow_grid_loses_a_motion_that_differs_across_the_frame(media_dir, tmp_path, capsys):
    photo = (load_image(media_dir / "audrey.jpg")[150:406, 140:396] * 255).round().astype(np.uint8)
    moved = photo.copy()  # the left half moves down by 5 px, the right half stays
    moved[5:, :128] = photo[:-5, :128]
    _write_clip(tmp_path / "test" / "halves", [photo, moved])
    results = {}
    for grid in (None, 1):
        argv = ["--data", str(tmp_path)] + ([] if grid is None else ["--flow_grid", str(grid)])
        assert oracle_warp.main(oracle_warp.parse_args(argv)) == 0
        label = "oracle warp" if grid is None else f"oracle warp ({grid}x{grid} flow)"
        results[grid] = _totals(capsys.readouterr().out, label)
    static, fine = results[None]
    assert results[1][0] == static
    # one cell is the mean motion: it moves both halves by half the shift, so it undoes far less than the true flow
    assert fine < 0.5 * static
    assert results[1][1] > 2 * fine


def test_landmark_motion_follows_a_moving_face_and_a_faceless_frame_counts_as_static(media_dir, tmp_path, capsys):
    # the whole face with a margin, at 256 (dlib's detector needs it all)
    photo = crop_resize((load_image(media_dir / "audrey.jpg") * 255).round().astype(np.uint8), (70, 106, 520, 556), 256)
    shifted = cv2.warpAffine(photo, np.float32([[1, 0, 6], [0, 1, 4]]), (256, 256), borderMode=cv2.BORDER_REPLICATE)
    _write_clip(tmp_path / "moving" / "test" / "face", [photo, shifted])
    grey = np.full_like(photo, 128)  # no face in frame 1: the static source is what is scored there
    _write_clip(tmp_path / "faceless" / "test" / "face", [photo, grey])
    assert oracle_warp.main(oracle_warp.parse_args(["--data", str(tmp_path / "moving"), "--motion", "landmarks",
                                                    "--backend", "dlib"])) == 0
    static, warped = _totals(capsys.readouterr().out, "landmark warp")
    assert static > 0.02 and warped < 0.6 * static  # the face is moved back onto itself; the border is held
    assert oracle_warp.main(oracle_warp.parse_args(["--data", str(tmp_path / "faceless"), "--motion", "landmarks",
                                                    "--backend", "dlib"])) == 0
    static, warped = _totals(capsys.readouterr().out, "landmark warp")
    assert warped == static == pytest.approx(np.abs(photo / 255 - grey / 255).mean() / 2, abs=6e-5)


def test_a_flow_grid_out_of_range_or_with_landmarks_is_refused(tmp_path):
    from errors import UserError

    for argv in (["--flow_grid", "0"], ["--flow_grid", "300"], ["--flow_grid", "8", "--motion", "landmarks"]):
        with pytest.raises(UserError, match="--flow_grid"):
            oracle_warp.main(oracle_warp.parse_args(["--data", str(tmp_path), *argv]))
