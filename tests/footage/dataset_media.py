"""Test media for dataset tests: decode tiny real clips and write them in every storage format."""
from __future__ import annotations

import shutil
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image

NUM_FRAMES = 20
SIZE = 64
# imageio_ffmpeg.write_frames options per video format; every test clip is 64x64, 20 frames
VIDEO_FORMATS = {
    "mp4": {"quality": 10},
    "mov": {"codec": "libx264", "quality": 10},
    "avi": {"codec": "mjpeg", "pix_fmt_out": "yuvj420p", "quality": 10},
    "mkv": {"codec": "ffv1", "pix_fmt_out": "yuv444p"},
}
FORMATS = [*VIDEO_FORMATS, "gif", "folder", "strip"]
LOSSLESS = {"folder", "strip"}


def decode_clip(path: Path, start_s: float, count: int = NUM_FRAMES) -> np.ndarray:
    """`count` frames, two per second from start_s, scaled to 64x64 by ffmpeg: (count, 64, 64, 3) uint8."""
    gen = imageio_ffmpeg.read_frames(
        str(path), input_params=["-ss", str(start_s)],
        output_params=["-vf", f"fps=2,scale={SIZE}:{SIZE}:flags=area", "-frames:v", str(count)],
    )
    next(gen)  # metadata
    frames = [np.frombuffer(b, np.uint8).reshape(SIZE, SIZE, 3).copy() for b in gen]
    assert len(frames) == count
    return np.stack(frames)


def write_video(path: Path, frames: np.ndarray, **options) -> Path:
    writer = imageio_ffmpeg.write_frames(str(path), (frames.shape[2], frames.shape[1]), fps=25,
                                         ffmpeg_log_level="error", **options)
    writer.send(None)
    for frame in frames:
        writer.send(np.ascontiguousarray(frame))
    writer.close()
    return path


def write_format(frames: np.ndarray, fmt: str, path: Path) -> Path:
    """Write uint8 frames (T,H,W,3) at `path` (suffix added for files) in one storage format."""
    if fmt in VIDEO_FORMATS:
        return write_video(path.with_name(path.name + "." + fmt), frames, **VIDEO_FORMATS[fmt])
    if fmt == "gif":
        out = path.with_name(path.name + ".gif")
        images = [Image.fromarray(f) for f in frames]
        images[0].save(out, save_all=True, append_images=images[1:], duration=40, loop=0)
        return out
    if fmt == "folder":
        path.mkdir(parents=True)
        for i, frame in enumerate(frames):
            Image.fromarray(frame).save(path / f"{i:07d}.png")
        return path
    if fmt == "strip":
        out = path.with_name(path.name + ".png")
        Image.fromarray(np.concatenate(list(frames), axis=1)).save(out)
        return out
    raise ValueError(fmt)


def place(src: Path, dst: Path) -> Path:
    """Copy a media file or frame folder to dst (parents created)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        shutil.copy(src, dst)
    return dst
