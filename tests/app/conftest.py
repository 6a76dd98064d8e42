"""Fixtures for the web app tests: short real clips cut with the bundled ffmpeg, and bad uploads."""
import subprocess

import numpy as np
import pytest
from PIL import Image

from video.reader import ffmpeg_exe


def ffmpeg(*args):
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", *map(str, args)], check=True)


@pytest.fixture(scope="session")
def uploads(tmp_path_factory, media_dir):
    """A real clip with audio, and the bad uploads of issue 16: not an image, no frames, no face, too big, too long."""
    folder = tmp_path_factory.mktemp("app_uploads")
    ffmpeg("-i", media_dir / "WolfgangLanger_Pexels.mp4", "-t", 0.5, "-c:v", "libx264", "-c:a", "aac",
           folder / "wolfgang.mp4")  # 0.5 s (12 frames at 23.976 fps) with its AAC audio
    ffmpeg("-i", media_dir / "WolfgangLanger_Pexels.mp4", "-t", 2, "-c:v", "libx264", "-c:a", "aac",
           folder / "wolfgang2.mp4")  # 2 s (48 frames): long enough to watch the progress bar
    ffmpeg("-ss", 10, "-i", folder / "wolfgang.mp4", "-an", "-c", "copy", folder / "no_frames.mp4")
    ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=16x16:r=1:d=600", "-c:v", "libx264", folder / "ten_minutes.mp4")
    (folder / "not_an_image.jpg").write_text("hello")
    Image.new("RGB", (200, 160), (128, 128, 128)).save(folder / "no_face.png")
    rng = np.random.default_rng(0)  # 6000x4000 from a small noise image: the size matters, not the content
    Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).resize((6000, 4000)).save(folder / "huge.jpg")
    return folder
