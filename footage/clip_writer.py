"""Pass 2 of preprocessing: decode a source video once and write each of its clips (mp4 or png frames)."""
from __future__ import annotations

import os
import shutil
from collections.abc import Sequence

import cv2
import numpy as np
from tqdm import tqdm

import video
from errors import UserError
from faces.crop import crop_resize
from footage.preprocess_options import PreprocessOptions
from footage.split_plan import Clip
from footage.tracking import clip_identity, stream


class PngWriter:
    """A folder of 0000000.png, 0000001.png, ... with the VideoWriter interface used here."""

    def __init__(self, path: str):
        self.path = path
        os.makedirs(path)
        self.count = 0

    def write(self, frame: np.ndarray) -> None:
        target = os.path.join(self.path, f"{self.count:07d}.png")
        if not cv2.imwrite(target, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)):
            raise UserError(f"cannot write {target}; check the disk space and permissions of the output folder")
        self.count += 1

    def close(self) -> None:
        pass

    def abort(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def open_clip_writer(path: str, fps: float, options: PreprocessOptions):
    """A writer of one clip in the dataset's format: an mp4 (VideoWriter) or a folder of png frames."""
    if options.format == "mp4":
        return video.VideoWriter(path, fps, crf=options.crf, keyint=options.keyint or None)
    return PngWriter(path)


def write_clips(source: str, clips: Sequence[Clip], folder: str, options: PreprocessOptions,
                progress: bool | None = None) -> None:
    """Pass 2 over one video: write every clip of it into folder/<split>/<name>, decoding once."""
    if not clips:
        return
    clips = sorted(clips, key=lambda c: c.start)
    first, stop = clips[0].start, max(c.end for c in clips)
    starting: dict[int, list[Clip]] = {}
    for clip in clips:
        starting.setdefault(clip.start, []).append(clip)
    open_writers: list[tuple[Clip, object]] = []
    show = options.progress if progress is None else progress
    try:
        with tqdm(total=stop - first, desc=f"write {clip_identity(source)}", unit="frame", disable=not show,
                  leave=False) as bar:
            for k, frame in stream(source, clips[0].src_fps, clips[0].fps, first, stop):
                for clip in starting.get(k, []):
                    path = os.path.join(folder, clip.split, clip.name)
                    writer = open_clip_writer(path, clip.fps, options)
                    open_writers.append((clip, writer))
                for clip, writer in open_writers:
                    writer.write(crop_resize(frame, clip.box, options.size))
                for clip, writer in [cw for cw in open_writers if cw[0].end == k + 1]:
                    writer.close()
                    open_writers.remove((clip, writer))
                bar.update()
    except BaseException:
        for _, writer in open_writers:
            writer.abort()
        raise
    if open_writers:  # the video ended early (it was changed since the scan)
        for _, writer in open_writers:
            writer.abort()
        raise UserError(f"video {source} ended before frame {open_writers[0][0].end}; was it changed while "
                        "being processed? run again")
