"""benchmarks/oracle_warp.py: warping frame 0 along the measured flow recovers a known motion of a real photo."""
import re

import cv2
import numpy as np
import pytest
from PIL import Image

from benchmarks import oracle_warp
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
