"""Video reading in-process with PyAV (FFmpeg's libraries): probe, streaming decode, exact random access."""
from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from errors import UserError
from video.decoding import FORMATS_HINT, DecodedFrames, FrameDecoder, open_container, unreadable_reason, video_stream
from video.ffmpeg import ffmpeg_exe  # noqa: F401  (re-exported: callers and tests find the bundled ffmpeg here)

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".webm", ".mkv", ".gif")

# A wanted frame at least this far beyond the decoding position is reached by seeking instead of decoding on.
SEEK_MIN_FRAMES = 250
# Where the keyframes are known, a seek is made when it skips decoding more than this many frames.
_SEEK_GAIN = 16
# Containers whose packets are the frames, with exact timestamps: their timeline is read without decoding.
_PACKET_TIMED = {"mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "gif"}


@dataclass(frozen=True)
class VideoInfo:
    path: str
    fps: float
    num_frames: int
    width: int
    height: int
    duration: float
    has_audio: bool


@dataclass(frozen=True)
class _Header:
    """The container's description: frame size as shown (rotation applied), rotation, rate and streams."""

    width: int
    height: int
    fps: float
    has_audio: bool
    audio_codec: str | None
    duration: float | None = None  # the container's stated duration (its index), None when not given
    rotation: int = 0  # degrees counter-clockwise the frames are turned to be shown upright: 0, 90, 180, 270
    packet_timed: bool = False  # the container's packets give the timeline (and keyframes) without decoding


@dataclass(frozen=True)
class _Timeline:
    """Presentation time (seconds) of every decoded frame, in decode-output order, plus the total span."""

    times: np.ndarray  # float64 seconds, one per frame (8 bytes a frame: fine for large datasets)
    span: Fraction  # seconds from the first frame's start to the last frame's end (or start, see below)
    intervals: int  # frames that span covers: all of them when the last one has a duration, else n - 1
    monotonic: bool  # timestamps never decrease: the precondition for seeking by timestamp
    problem: str | None = None  # what went wrong when decoding hit damaged or missing data
    ticks: np.ndarray | None = None  # the same times in the stream's time base (exact), None when not known
    keyframes: np.ndarray | None = None  # sorted indices of the keyframes, None when not known


# --------------------------------------------------------------------------------------------- caches

_header_cache: dict[tuple, _Header] = {}
_timeline_cache: dict[tuple, _Timeline] = {}
_seek_missed: set[tuple] = set()  # files where a seek once landed on the wrong frame: never seek again


def _cache_key(path: str) -> tuple:
    st = os.stat(path)
    return (os.path.realpath(path), st.st_mtime_ns, st.st_size)


def _check_file(path: str | os.PathLike) -> str:
    p = os.fspath(path)
    if not os.path.exists(p):
        raise UserError(f"video file not found: {p}; check the path")
    if not os.path.isfile(p):
        raise UserError(f"cannot read video {p}: it is a folder, not a file; {FORMATS_HINT}")
    return p


# --------------------------------------------------------------------------------------------- header


def _header(path: str) -> _Header:
    path = _check_file(path)
    key = _cache_key(path)
    cached = _header_cache.get(key)
    if cached is not None:
        return cached
    with open_container(path) as container:
        audio = container.streams.audio
        stream = video_stream(container)
        if stream is None:
            raise UserError(f"cannot read video {path}: {unreadable_reason(path, None, bool(audio))}; "
                            f"{FORMATS_HINT}")
        width, height = stream.codec_context.width, stream.codec_context.height
        rotation = 0
        try:  # the display rotation rides on the decoded frames: look at the first one
            first = next(iter(container.decode(stream)), None)
        except av.error.FFmpegError:
            first = None
        if first is not None:
            width, height, rotation = first.width, first.height, round(first.rotation) % 360
        if not width or not height:
            raise UserError(f"cannot read video {path}: its video stream has no frame size; {FORMATS_HINT}")
        if rotation % 180 == 90:  # decoding turns the frames upright, so they come out transposed
            width, height = height, width
        rate = stream.average_rate or stream.guessed_rate
        # stated like ffmpeg lists it: to the nearest 1/100 s
        duration = round(container.duration / av.time_base, 2) if container.duration else None
        header = _Header(width, height, float(rate) if rate else 0.0, bool(audio),
                         audio[0].codec_context.name if audio else None, duration, rotation,
                         container.format.name in _PACKET_TIMED)
    _header_cache[key] = header
    return header


def has_audio(path: str | os.PathLike) -> bool:
    """Whether the file has an audio stream (cheap: reads the header only)."""
    return _header(os.fspath(path)).has_audio


def stated_duration(path: str | os.PathLike) -> float | None:
    """The length in seconds that the container states (cheap: header only), or None.

    A quick bound for refusing long uploads before probe() counts every frame; probe() is exact.
    """
    return _header(os.fspath(path)).duration


def audio_codec(path: str | os.PathLike) -> str | None:
    """FFmpeg's name for the codec of the file's first audio stream ('aac', 'opus', ...), or None."""
    return _header(os.fspath(path)).audio_codec


# --------------------------------------------------------------------------------------------- timeline


def _packet_timeline(container, stream) -> tuple[list[int], int, list[int]] | None:
    """(presentation timestamps, last frame's duration, keyframe timestamps) from the packets alone, nothing
    decoded; None when the container cannot be trusted for that (another format, a packet without a
    timestamp, a read error)."""
    if container.format.name not in _PACKET_TIMED:
        return None
    pts, durations, keys = [], [], []
    try:
        for packet in container.demux(stream):
            if packet.size == 0 or packet.is_discard:  # end-of-stream marker, or cut by an edit list
                continue
            if packet.pts is None or packet.is_corrupt:
                return None
            pts.append(packet.pts)
            durations.append(packet.duration or 0)
            if packet.is_keyframe:
                keys.append(packet.pts)
    except av.error.FFmpegError:
        return None
    if not pts:
        return None
    return pts, durations[int(np.argmax(pts))], keys


def _scan_timeline(path: str) -> _Timeline:
    """Every frame's timestamp: from the packets where the container can be trusted, else by decoding once."""
    problem, keys, exact = None, None, True
    with open_container(path) as container:
        stream = video_stream(container)
        tb = stream.time_base or Fraction(1, 1)
        packets = _packet_timeline(container, stream)
    if packets is not None:
        pts, last_duration, keys = packets
        pts.sort()
    else:
        with open_container(path) as container:
            decoded = DecodedFrames(container, video_stream(container))
            # AVI stores no presentation times: its frames are numbered in decode order (their dts), as the
            # ffmpeg program counts them; a frame without a time follows the one before
            numbered = container.format.name == "avi"
            pts, last_duration = [], 0
            for frame in decoded:
                stamp = frame.dts if numbered else frame.pts
                pts.append(stamp if stamp is not None else (pts[-1] + (last_duration or 1) if pts else 0))
                last_duration = frame.duration or 0
            exact = not numbered  # seeking lands by presentation time, which a numbered file does not keep
            problem = decoded.problem
            if pts and problem is None:
                log.warning("video %s: its container (%s) gives no frame count that can be trusted; counted %d "
                            "frames by decoding it once (kept for this file version); remux it to .mp4 to "
                            "skip that", path, container.format.name, len(pts))
    if not pts:
        raise UserError(f"video {path} has no frames; re-export it or pass another video")
    span = (pts[-1] + max(last_duration, 0) - pts[0]) * tb
    intervals = len(pts) if last_duration > 0 else len(pts) - 1
    ticks = np.asarray(pts, dtype=np.int64)
    ticks.flags.writeable = False
    times = ticks * (tb.numerator / tb.denominator)
    times.flags.writeable = False
    keyframes = None if keys is None else np.unique(np.searchsorted(ticks, np.asarray(keys, dtype=np.int64)))
    return _Timeline(times, span, intervals, monotonic=bool(np.all(np.diff(ticks) >= 0)), problem=problem,
                     ticks=ticks if exact else None, keyframes=keyframes)


def _timeline(path: str, compute: bool = True) -> _Timeline | None:
    key = _cache_key(path)
    cached = _timeline_cache.get(key)
    if cached is None and compute:
        cached = _timeline_cache[key] = _scan_timeline(path)
    return cached


def probe(path: str | os.PathLike) -> VideoInfo:
    """Frame size, exact frame count (from the container's packets, or every frame decoded once where the
    container cannot be trusted; cached per file version) and average fps."""
    p = _check_file(path)
    header = _header(p)
    timeline = _timeline(p)
    n = len(timeline.times)
    if timeline.span > 0 and timeline.intervals > 0:
        fps = float(timeline.intervals / timeline.span)  # the average rate, also for variable frame rate
    else:  # a single frame without a duration: the container's nominal rate
        fps = header.fps or 25.0
    duration = n / fps
    _warn_if_damaged(p, header, timeline, n, fps)
    return VideoInfo(path=p, fps=fps, num_frames=n, width=header.width, height=header.height,
                     duration=duration, has_audio=header.has_audio)


_warned_damaged: set[tuple] = set()


def _warn_if_damaged(path: str, header: _Header, timeline: _Timeline, n: int, fps: float) -> None:
    """One warning line (once per file version) when decoding met damaged or missing data.

    A file cut short keeps its index, so the header still states the whole duration: the warning says
    how many frames that promises and how many could be read.
    """
    key = _cache_key(path)
    if timeline.problem is None or key in _warned_damaged:
        return
    _warned_damaged.add(key)
    rate = header.fps or fps
    if header.duration and rate:
        expected = round(header.duration * rate)
        if n < expected:
            log.warning("video %s is truncated or damaged (%s): its header states %.2f s, about %d frames at "
                        "%.2f fps, but only %d frames (%.2f s) could be read; re-encode or replace it",
                        path, timeline.problem, header.duration, expected, rate, n, n / fps)
            return
    log.warning("video %s is damaged (%s): %d frames could be read; check them, or re-encode or replace it",
                path, timeline.problem, n)


def frame_times(path: str | os.PathLike) -> np.ndarray:
    """Each frame's presentation time in seconds from the first frame, in decode order (never decreasing).

    For a writer that keeps a variable-frame-rate source's timing (VideoWriter's `timestamps`).
    """
    times = np.asarray(_timeline(_check_file(path)).times, dtype=np.float64)
    return np.maximum.accumulate(times - times[0])


# --------------------------------------------------------------------------------------------- decoding


def _check_size(size: Sequence[int] | None, header: _Header) -> tuple[int, int]:
    if size is None:
        return header.width, header.height
    width, height = (int(s) for s in size)
    if width <= 0 or height <= 0:
        raise ValueError(f"size must be (width, height) with positive values, got {tuple(size)}")
    return width, height


def _first_frame_time(frame) -> float | None:
    """Timestamp in seconds of the first frame decoded after a seek; None if it has none."""
    return None if frame.pts is None else float(frame.pts * frame.time_base)


def _seek_anchor(timeline: _Timeline, first: int, max_back: int = 64) -> int | None:
    """A frame at or shortly before `first` whose timestamp is unique, so a seek can land on it provably."""
    times = timeline.times
    if not timeline.monotonic or timeline.ticks is None or first >= len(times):
        return None
    for j in range(first, max(first - max_back, 0), -1):
        if times[j - 1] < times[j] and (j + 1 == len(times) or times[j] < times[j + 1]):
            return j
    return None


def _open_seeking(path: str, header: _Header, width: int, height: int, anchor: int, timeline: _Timeline,
                  keep_pts: set[int] | None = None) -> tuple[FrameDecoder, Iterator, object] | None:
    """A decoder positioned exactly at frame `anchor` (its frames iterator and that first frame), or None
    when the seek did not land there. Frames before `anchor` are decoded but never converted; the first
    frame at or after its timestamp proves where decoding stands."""
    times, ticks = timeline.times, timeline.ticks
    dec = FrameDecoder(path, header.rotation, width, height)
    if keep_pts is not None:
        dec.decoded.keep_pts = keep_pts | {int(ticks[anchor])}
    frames = iter(dec.decoded)
    frame = landed = None
    try:
        dec.seek(ticks[anchor])
        for frame in frames:
            if frame.pts is None or frame.pts >= ticks[anchor]:
                break
        else:
            frame = None
    except av.error.FFmpegError:
        frame = None
    if frame is not None:
        landed = _first_frame_time(frame)
    gap = min(times[anchor] - times[anchor - 1],
              times[anchor + 1] - times[anchor] if anchor + 1 < len(times) else math.inf)
    if landed is None or abs(landed - times[anchor]) >= gap / 2:
        log.warning("seeking in %s missed frame %d; reading it from the start instead", path, anchor)
        dec.close()
        return None
    return dec, frames, frame


def _frames_from(path: str, header: _Header, size, first: int, last: int | None, wanted: Sequence[int] | None,
                 timeline: _Timeline | None, seek: bool = True) -> Iterator[tuple[int, np.ndarray]]:
    """(index, frame) for frames first..last (inclusive; None = to the end), or only the `wanted` ones.

    Unwanted frames are never converted, and where the packets give every frame's timestamp (a strictly
    increasing timeline), those that no other frame refers to are not even decoded: frames are then told
    by their timestamps. With `seek` (and a timeline), decoding starts from a verified seek instead of
    frame 0.
    """
    width, height = _check_size(size, header)
    keep = set(wanted) if wanted is not None else None
    ticks = timeline.ticks if timeline is not None and header.packet_timed else None
    by_pts = keep is not None and ticks is not None and bool(np.all(np.diff(ticks) > 0))
    keep_pts = {int(ticks[i]) for i in keep if i < len(ticks)} if by_pts else None
    dec = None
    position = 0
    key = _cache_key(path)
    anchor = _seek_anchor(timeline, first) if seek and timeline is not None and key not in _seek_missed else None
    if anchor is not None:
        opened = _open_seeking(path, header, width, height, anchor, timeline, keep_pts=keep_pts)
        if opened is None:
            _seek_missed.add(key)
        else:
            dec, frames, frame = opened
            position = anchor
            frames = _chain_first(frame, frames)
    if dec is None:
        dec = FrameDecoder(path, header.rotation, width, height)
        dec.decoded.keep_pts = keep_pts
        frames = iter(dec.decoded)
    try:
        for frame in frames:
            if by_pts:  # frames may have been skipped: the timestamp tells which one this is
                position = int(np.searchsorted(ticks, frame.pts))
            if last is not None and position > last:
                break
            if position >= first and (keep is None or position in keep):
                yield position, dec.rgb(frame)
            position += 1
    finally:
        dec.close()


def _chain_first(first, rest: Iterator) -> Iterator:
    yield first
    yield from rest


def iter_frames(path: str | os.PathLike, start: int = 0, stop: int | None = None,
                size: Sequence[int] | None = None) -> Iterator[np.ndarray]:
    """Stream frames start..stop-1 as HxWx3 uint8 RGB, one at a time; size=(width, height) resizes (bicubic)."""
    p = _check_file(path)
    header = _header(p)
    _check_size(size, header)
    if start < 0 or (stop is not None and stop < start):
        raise ValueError(f"need 0 <= start <= stop, got start={start}, stop={stop}")
    return _iter_frames(p, header, start, stop, size)


def _iter_frames(path: str, header: _Header, start: int, stop: int | None, size) -> Iterator[np.ndarray]:
    if stop == start:
        return
    # the timeline where it is cheap (the packets give it) or known already (probe ran): never a full decode
    timeline = _timeline(path, compute=header.packet_timed) if start else None
    if timeline is not None and start >= len(timeline.times):
        return
    if not _seek_pays(timeline, 0, start):
        timeline = None
    produced = False
    for _, frame in _frames_from(path, header, size, start, None if stop is None else stop - 1, None, timeline):
        produced = True
        yield frame
    if not produced and start == 0:
        raise UserError(f"video {path} has no frames; re-export it or pass another video")


def _seek_pays(timeline: _Timeline | None, position: int, target: int) -> bool:
    """Whether reaching frame `target` by a seek skips enough decoding from frame `position` on: when it
    is SEEK_MIN_FRAMES ahead, or (keyframes known) its keyframe is more than _SEEK_GAIN frames ahead."""
    if target - position >= SEEK_MIN_FRAMES:
        return True
    if timeline is None or timeline.keyframes is None:
        return False
    keys = timeline.keyframes
    j = int(np.searchsorted(keys, target, side="right")) - 1
    return j >= 0 and keys[j] - position > _SEEK_GAIN


def _runs(wanted: list[int], timeline: _Timeline | None) -> list[list[int]]:
    """Sorted indices grouped into runs that are each decoded in one pass (a new run where a seek pays)."""
    runs: list[list[int]] = []
    for i in wanted:
        if runs and not _seek_pays(timeline, runs[-1][-1], i):
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def read_frames(path: str | os.PathLike, indices: Iterable[int],
                size: Sequence[int] | None = None) -> list[np.ndarray]:
    """The frames at these 0-based indices (any order, repeats allowed), decoding only as far as needed."""
    p = _check_file(path)
    header = _header(p)
    _check_size(size, header)
    asked = [int(i) for i in indices]
    if not asked:
        return []
    if min(asked) < 0:
        raise IndexError(f"frame indices must be >= 0, got {min(asked)} for {p}")
    wanted = sorted(set(asked))
    # the timeline costs a full decode where the packets cannot give it: then only for frames far in
    timeline = _timeline(p) if header.packet_timed or _runs(wanted, None)[-1][0] >= SEEK_MIN_FRAMES else None
    # indices far apart (or with a keyframe well after the one before) are read as separate runs, each
    # starting with its own seek
    runs = _runs(wanted, timeline)
    if timeline is not None and wanted[-1] >= len(timeline.times):
        raise IndexError(f"frame {wanted[-1]} asked from {p}, which has {len(timeline.times)} frames")
    got: dict[int, np.ndarray] = {}
    while runs:
        if timeline is None or not timeline.monotonic or _cache_key(p) in _seek_missed:
            runs = [[i for run in runs for i in run]]  # no seeking: one pass from frame 0 for all
        run = runs.pop(0)
        for index, frame in _frames_from(p, header, size, run[0], run[-1], run, timeline,
                                         seek=_seek_pays(timeline, 0, run[0])):
            got[index] = frame
    if len(got) < len(wanted):
        missing = next(i for i in wanted if i not in got)
        raise IndexError(f"frame {missing} asked from {p}, which has {probe(p).num_frames} frames")
    out, used = [], set()
    for i in asked:
        out.append(got[i].copy() if i in used else got[i])
        used.add(i)
    return out
