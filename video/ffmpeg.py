"""The ffmpeg program bundled with imageio-ffmpeg (used for writing and muxing): its path, version and options."""
from __future__ import annotations

import functools
import os
import re
import subprocess


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary bundled with imageio-ffmpeg (never a system ffmpeg)."""
    import imageio_ffmpeg  # here, not at the top: png-frame datasets train without it
    return imageio_ffmpeg.get_ffmpeg_exe()


@functools.lru_cache(maxsize=1)
def ffmpeg_version() -> tuple[int, int]:
    """(major, minor) of the bundled ffmpeg; a git build without a release number counts as new."""
    out = subprocess.run([ffmpeg_exe(), "-version"], capture_output=True, text=True).stdout
    m = re.search(r"version\s+n?(\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else (99, 0)


def passthrough_args() -> list[str]:
    """Keep every frame exactly once, with its own timestamp (no CFR duplication or dropping)."""
    return ["-fps_mode", "passthrough"] if ffmpeg_version() >= (5, 1) else ["-vsync", "passthrough"]


def ffmpeg_url(path: str | os.PathLike) -> str:
    """An unambiguous ffmpeg file URL: a name with ':' or a leading '-' is never taken for an option."""
    return "file:" + os.path.abspath(os.fspath(path))
