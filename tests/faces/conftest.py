"""Fixtures for the faces tests: one shared dlib backend, the media photos and single decoded video frames."""
from pathlib import Path

import imageio.v3 as iio
import imageio_ffmpeg
import numpy as np
import pytest

from faces.backends import get_backend


def read_frame(path: Path, index: int = 0) -> np.ndarray:
    """Frame `index` of a video as HxWx3 uint8 RGB, decoding only the frames before it."""
    frames = imageio_ffmpeg.read_frames(str(path))
    try:
        meta = next(frames)
        width, height = meta["size"]
        for i, buffer in enumerate(frames):
            if i == index:
                return np.frombuffer(buffer, np.uint8).reshape(height, width, 3).copy()
    finally:
        frames.close()
    raise IndexError(f"{path} has fewer than {index + 1} frames")


@pytest.fixture(scope="session")
def dlib_backend():
    return get_backend("dlib")  # raises UserError naming what to install when dlib or its models are absent


@pytest.fixture(scope="session")
def photo(media_dir):
    """photo(name) -> the RGB image of media_dir/name, read once per session."""
    cache = {}

    def load(name: str) -> np.ndarray:
        if name not in cache:
            cache[name] = iio.imread(media_dir / name)[:, :, :3]
        return cache[name]

    return load


@pytest.fixture(scope="session")
def frame(media_dir):
    """frame(name, index) -> one decoded RGB frame of media_dir/name."""
    return lambda name, index=0: read_frame(media_dir / name, index)
