"""PyAV decoding: opening a container and its video stream, frames decoded past damage, and pixels made by
FFmpeg's own filters (so they are bit-identical to the ffmpeg program's output)."""
from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from fractions import Fraction

import av
import numpy as np

from errors import UserError
from video.image import unreadable_file_reason

FORMATS_HINT = "pass an .mp4/.mov/.avi/.webm/.mkv/.gif file"


def _missing_moov(path: str) -> bool:
    """An ISO media file (ftyp first) whose top-level boxes hold no moov: its index is missing."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        pos, first = 0, True
        while pos + 8 <= size:
            f.seek(pos)
            length, kind = struct.unpack(">I4s", f.read(8))
            if first and kind != b"ftyp":
                return False
            if kind == b"moov":
                return False
            if length == 1 and pos + 16 <= size:
                length = struct.unpack(">Q", f.read(8))[0]
            if length < 8:
                break
            pos, first = pos + length, False
        return not first


def unreadable_reason(path: str, error: Exception | None, has_audio: bool = False) -> str:
    """Why no video stream could be read, in words: empty, text, truncated, audio only, or FFmpeg's own."""
    reason = unreadable_file_reason(path)
    if reason is not None:
        return reason + (", not a video" if reason.endswith("text file") else "")
    if error is None:  # the container opened but lists no video stream
        return "it holds only audio, no video stream" if has_audio else "no video stream found"
    if _missing_moov(path):
        return "the file is truncated or damaged (its index, the moov atom, is missing)"
    return error_text(error)


def error_text(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def open_container(path: str):
    """The container, opened by PyAV; an unreadable file is a one-line UserError."""
    try:
        return av.open("file:" + os.path.abspath(path), metadata_errors="ignore")
    except (av.error.FFmpegError, OSError) as exc:
        raise UserError(f"cannot read video {path}: {unreadable_reason(path, exc)}; {FORMATS_HINT}") from None


def video_stream(container):
    """The first real video stream (cover art is no video), or None."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


class DecodedFrames:
    """The frames of a container's video stream, decoded in order; damage is noted in `problem` and skipped
    over (as the ffmpeg program does): a read error ends the stream, a decoding error loses that packet.

    With `keep_pts` (a set of presentation timestamps), the decoder skips the frames of other packets that
    no frame refers to (FFmpeg's skip_frame=nonref): they are not wanted, and no wanted frame needs them.
    """

    def __init__(self, container, stream):
        self.container, self.stream = container, stream
        self.problem: str | None = None
        self.keep_pts: set[int] | None = None

    def __iter__(self) -> Iterator:
        packets = self.container.demux(self.stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except av.error.FFmpegError as exc:  # the file ends early or is damaged: flush what was read
                self.problem, packet = f"reading stopped early: {error_text(exc)}", None
            if self.keep_pts is not None and packet is not None:
                self.stream.codec_context.skip_frame = "DEFAULT" if packet.pts in self.keep_pts else "NONREF"
            try:
                yield from self.stream.decode(packet)
            except av.error.EOFError:
                return
            except av.error.FFmpegError as exc:
                self.problem = error_text(exc)
            if packet is None:
                return



# the filters the ffmpeg program inserts to show a rotated video upright (counter-clockwise degrees)
_UPRIGHT = {90: [("transpose", "cclock")], 180: [("hflip", ""), ("vflip", "")], 270: [("transpose", "clock")]}


class FrameDecoder:
    """One open container streaming the video's frames; `rgb` turns a frame into a writable HxWx3 uint8 array.

    Pixels go through the filters the ffmpeg program would use (rotation upright, then
    scale=W:H:flags=bicubic to rgb24), so frames are bit-identical to its output.
    """

    def __init__(self, path: str, rotation: int, width: int, height: int):
        """Frames of `path` turned upright from `rotation` (degrees counter-clockwise), scaled to width x height."""
        self.path, self.width, self.height, self.rotation = path, width, height, rotation
        self.container = open_container(path)
        self.stream = video_stream(self.container)
        self.stream.thread_type = "AUTO"
        self.decoded = DecodedFrames(self.container, self.stream)
        self._graph = self._graph_key = None
        self._closed = False

    def seek(self, pts: int) -> None:
        """Move to the last keyframe at or before timestamp `pts` (stream time base)."""
        self.container.seek(int(pts), stream=self.stream, backward=True, any_frame=False)

    def rgb(self, frame) -> np.ndarray:
        key = (frame.width, frame.height, frame.format.name)
        if key != self._graph_key:  # the first frame, or the stream changed its size or pixel format midway
            self._graph, self._graph_key = self._make_graph(frame), key
        self._graph.push(frame)
        return self._graph.pull().to_ndarray()

    def _make_graph(self, frame):
        graph = av.filter.Graph()
        chain = [graph.add_buffer(width=frame.width, height=frame.height, format=frame.format,
                                  time_base=self.stream.time_base or Fraction(1, 1))]
        for name, args in [*_UPRIGHT.get(self.rotation, []), ("scale", f"{self.width}:{self.height}:flags=bicubic"),
                           ("format", "rgb24"), ("buffersink", "")]:
            chain.append(graph.add(name, args or None))
            chain[-2].link_to(chain[-1])
        graph.configure()
        return graph

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self.container.close()
        self._closed = True

