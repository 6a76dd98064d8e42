"""Fixtures for the video tests: the bundled ffmpeg, small clips cut from the real media, franck's probe."""
import subprocess

import numpy as np
import pytest

from video.reader import ffmpeg_exe, probe


@pytest.fixture(scope="session")
def ffmpeg():
    """Run the bundled ffmpeg with these arguments; fail the test with ffmpeg's message on error."""

    def run(*args: str) -> None:
        proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", *map(str, args)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.fail(f"ffmpeg {' '.join(map(str, args))} failed: {proc.stderr.strip()}")

    return run


@pytest.fixture(scope="session")
def franck(media_dir):
    return media_dir / "franck.mp4"


@pytest.fixture(scope="session")
def franck_info(franck):
    """probe() of franck.mp4, counted once per session (4,800 frames: about 1-2 s)."""
    return probe(franck)


@pytest.fixture(scope="session")
def wolfgang_frames(media_dir):
    """The first 30 frames of WolfgangLanger_Pexels.mp4 (640x360), decoded by ffmpeg independently."""
    import imageio_ffmpeg

    gen = imageio_ffmpeg.read_frames(str(media_dir / "WolfgangLanger_Pexels.mp4"),
                                     output_params=["-fps_mode", "passthrough", "-frames:v", "30"])
    meta = next(gen)
    width, height = meta["size"]
    frames = [np.frombuffer(b, np.uint8).reshape(height, width, 3) for b in gen]
    assert len(frames) == 30
    return np.stack(frames)
