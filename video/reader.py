"""Video reading through imageio-ffmpeg's bundled ffmpeg: probe, streaming decode, exact random access."""
from __future__ import annotations

import functools
import logging
import math
import os
import re
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from errors import UserError
from video.image import unreadable_file_reason

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".webm", ".mkv", ".gif")
_FORMATS_HINT = "pass an .mp4/.mov/.avi/.webm/.mkv/.gif file"

# A wanted frame at least this deep into a file is reached by seeking instead of decoding from frame 0.
SEEK_MIN_FRAMES = 250
# read_frames asks ffmpeg for each wanted index by name up to this many; beyond it, for the whole span.
_MAX_SELECT_TERMS = 64


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
    """What `ffmpeg -i` lists for a file: frame size as decoded (rotation applied) and its streams."""

    width: int
    height: int
    fps: float
    has_audio: bool
    audio_codec: str | None
    duration: float | None = None  # the container's stated duration (its index), None when not given


@dataclass(frozen=True)
class _Timeline:
    """Presentation time (seconds) of every decoded frame, in decode-output order, plus the total span."""

    times: np.ndarray  # float64 seconds, one per frame (8 bytes a frame: fine for large datasets)
    span: Fraction  # seconds from the first frame's start to the last frame's end (or start, see below)
    intervals: int  # frames that span covers: all of them when the last one has a duration, else n - 1
    monotonic: bool  # timestamps never decrease: the precondition for seeking by timestamp
    problem: str | None = None  # ffmpeg's last error line when decoding hit damaged or missing data


# --------------------------------------------------------------------------------------------- ffmpeg


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


def _passthrough_args() -> list[str]:
    """Keep every decoded frame exactly once, with its own timestamp (no CFR duplication or dropping)."""
    return ["-fps_mode", "passthrough"] if ffmpeg_version() >= (5, 1) else ["-vsync", "passthrough"]


def ffmpeg_url(path: str | os.PathLike) -> str:
    """An unambiguous ffmpeg file URL: a name with ':' or a leading '-' is never taken for an option."""
    return "file:" + os.path.abspath(os.fspath(path))


_NOTHING_OUT = "received no packets"  # ffmpeg's complaint when no frame at all came out


def _last_error_line(text: str) -> str:
    """ffmpeg's last log line without its '[component @ 0x...]' prefix."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return re.sub(r"^(\[[^]]*\]\s*)+", "", lines[-1]) if lines else "ffmpeg gave no reason"


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
        raise UserError(f"cannot read video {p}: it is a folder, not a file; {_FORMATS_HINT}")
    return p


# --------------------------------------------------------------------------------------------- header

_STREAM_RE = re.compile(r"^\s*Stream #\d+:\d+.*?: (Video|Audio): (.*)$")
_SIZE_RE = re.compile(r"[ ,](\d{1,5})x(\d{1,5})(?=[ ,\[]|$)")
_FPS_RE = re.compile(r"([\d.]+)(k?) (?:fps|tbr)\b")
_ROTATION_RE = re.compile(r"rotation of (-?[\d.]+) degrees")
_DURATION_RE = re.compile(r"^\s*Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", re.MULTILINE)


def _unreadable_reason(path: str, text: str, has_audio: bool) -> str:
    """Why ffmpeg found no video stream, in words: empty, text, truncated, audio only, or ffmpeg's own."""
    reason = unreadable_file_reason(path)
    if reason is not None:
        return reason + (", not a video" if reason.endswith("text file") else "")
    if "moov atom not found" in text:
        return "the file is truncated or damaged (its index, the moov atom, is missing)"
    if "Input #0" in text:
        return "it holds only audio, no video stream" if has_audio else "no video stream found"
    opened = re.search(r"Error opening input: (.*)", text)
    return opened.group(1).strip() if opened else _last_error_line(text)


def _parse_header(path: str, text: str) -> _Header:
    """Read the first real video stream (no cover art) and whether an audio stream exists."""
    video_line = None
    rotation_lines: list[str] = []
    audio_codec = None
    has_audio = False
    in_video = False
    for line in text.splitlines():
        m = _STREAM_RE.match(line)
        if m:
            in_video = False
            if m.group(1) == "Audio":
                if not has_audio:
                    has_audio, audio_codec = True, m.group(2).split(",")[0].split()[0]
            elif video_line is None and "(attached pic)" not in line:
                video_line, in_video = m.group(2), True
            continue
        if in_video and "rotation of" in line:
            rotation_lines.append(line)
        elif line.startswith(("Output", "Input #1")):
            in_video = False
    if video_line is None:
        raise UserError(f"cannot read video {path}: {_unreadable_reason(path, text, has_audio)}; {_FORMATS_HINT}")
    size = _SIZE_RE.search(video_line)
    if size is None:
        raise UserError(f"cannot read video {path}: its video stream has no frame size; {_FORMATS_HINT}")
    width, height = int(size.group(1)), int(size.group(2))
    for line in rotation_lines:
        angle = round(float(_ROTATION_RE.search(line).group(1))) % 180
        if angle == 90:  # ffmpeg autorotates on decode, so the frames come out transposed
            width, height = height, width
    rate = _FPS_RE.search(video_line)  # "fps" (the average rate) comes before "tbr"
    fps = float(rate.group(1)) * (1000 if rate.group(2) else 1) if rate else 0.0
    stated = _DURATION_RE.search(text)
    duration = (int(stated.group(1)) * 3600 + int(stated.group(2)) * 60 + float(stated.group(3))) if stated else None
    return _Header(width, height, fps, has_audio, audio_codec, duration)


def _header(path: str) -> _Header:
    path = _check_file(path)
    key = _cache_key(path)
    cached = _header_cache.get(key)
    if cached is not None:
        return cached
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", ffmpeg_url(path)],
                          capture_output=True, text=True, errors="replace")
    header = _parse_header(path, proc.stderr)
    _header_cache[key] = header
    return header


def has_audio(path: str | os.PathLike) -> bool:
    """Whether ffmpeg lists an audio stream in the file (cheap: reads the header only)."""
    return _header(os.fspath(path)).has_audio


def stated_duration(path: str | os.PathLike) -> float | None:
    """The length in seconds that the container states (cheap: header only, nothing decoded), or None.

    A quick bound for refusing long uploads before probe() decodes every frame; probe() is exact.
    """
    return _header(os.fspath(path)).duration


def audio_codec(path: str | os.PathLike) -> str | None:
    """ffmpeg's name for the codec of the file's first audio stream ('aac', 'opus', ...), or None."""
    return _header(os.fspath(path)).audio_codec


# --------------------------------------------------------------------------------------------- timeline


def _enc_time_base_args() -> list[str]:
    return ["-enc_time_base:v", "demux" if ffmpeg_version() >= (7, 0) else "-1"]


def _scan_timeline(path: str) -> _Timeline:
    """Decode the whole video stream once (no pixel conversion) and list each frame's timestamp."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-copyts", "-i", ffmpeg_url(path),
           "-map", "0:V:0", *_passthrough_args(), *_enc_time_base_args(),
           "-c:v", "wrapped_avframe", "-f", "framecrc", "pipe:1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    if proc.returncode != 0 and _NOTHING_OUT not in proc.stderr:
        raise UserError(f"cannot read video {path}: {_last_error_line(proc.stderr)}; {_FORMATS_HINT}")
    tb = Fraction(1)
    pts: list[int] = []
    last_duration = 0
    for line in proc.stdout.splitlines():
        if line.startswith("#tb 0:"):
            tb = Fraction(line.split(":", 1)[1].strip())
        elif line and not line.startswith("#"):
            fields = line.split(",")
            pts.append(int(fields[2]))
            last_duration = int(fields[3])
    if not pts:
        raise UserError(f"video {path} has no frames; re-export it or pass another video")
    span = (pts[-1] + max(last_duration, 0) - pts[0]) * tb
    intervals = len(pts) if last_duration > 0 else len(pts) - 1
    ticks = np.asarray(pts, dtype=np.int64)
    times = ticks * (tb.numerator / tb.denominator)
    times.flags.writeable = False
    problem = None
    if proc.stderr.strip():
        problem = "the file ends early" if "partial file" in proc.stderr else _last_error_line(proc.stderr)
    return _Timeline(times, span, intervals, monotonic=bool(np.all(np.diff(ticks) >= 0)), problem=problem)


def _timeline(path: str, compute: bool = True) -> _Timeline | None:
    key = _cache_key(path)
    cached = _timeline_cache.get(key)
    if cached is None and compute:
        cached = _timeline_cache[key] = _scan_timeline(path)
    return cached


def probe(path: str | os.PathLike) -> VideoInfo:
    """Frame size, exact frame count (every frame decoded once, cached per file version) and average fps."""
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


class _Decoder:
    """One ffmpeg process streaming rgb24 frames (optionally only selected ones) through a pipe.

    With `seek_to`, ffmpeg seeks (accurately) to that time and `log_text()` then holds showinfo's line for
    the first frame after the seek, from a side branch of the filter graph that sees only that frame.
    """

    def __init__(self, path: str, width: int, height: int, *, select: str | None = None,
                 seek_to: float | None = None, max_frames: int | None = None):
        self.path, self.width, self.height = path, width, height
        main = [f"select='{select}'"] if select else []
        # always scale to the expected size: keeps the byte count per frame fixed even if the stream
        # changes resolution midway (ffmpeg re-creates the filter graph with the same description)
        main.append(f"scale={width}:{height}:flags=bicubic")
        graph = ",".join(main)
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats"]
        if seek_to is not None:
            graph = f"split[main][first];[first]select='eq(n,0)',showinfo,nullsink;[main]{graph}"
            cmd += ["-v", "info", "-seek_timestamp", "1", "-ss", f"{seek_to:.6f}"]
        else:
            cmd += ["-v", "error"]
        cmd += ["-copyts", "-i", ffmpeg_url(path), "-map", "0:V:0", *_passthrough_args(), "-vf", graph]
        if max_frames is not None:
            cmd += ["-frames:v", str(max_frames)]
        cmd += ["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.stderr, bufsize=0)
        self.count = 0

    def read(self) -> np.ndarray | None:
        """The next frame as a writable HxWx3 uint8 array, or None at the end of the stream."""
        nbytes = self.width * self.height * 3
        buf = bytearray(nbytes)
        view = memoryview(buf)
        got = 0
        while got < nbytes:
            n = self.proc.stdout.readinto(view[got:])
            if not n:
                break
            got += n
        if got == 0:
            self._finish()
            return None
        if got < nbytes:
            self._finish()
            raise UserError(f"cannot read video {self.path}: stream ended inside frame {self.count}; "
                            f"{_FORMATS_HINT}")
        self.count += 1
        return np.frombuffer(buf, dtype=np.uint8).reshape(self.height, self.width, 3)

    def log_text(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def _finish(self) -> None:
        rc = self.proc.wait()
        if rc != 0 and not (self.count == 0 and _NOTHING_OUT in self.log_text()):
            reason = _last_error_line(self.log_text())
            self.close()
            raise UserError(f"cannot read video {self.path}: {reason}; {_FORMATS_HINT}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        if not self.stderr.closed:
            self.stderr.close()


_SHOWINFO_TB_RE = re.compile(r"config in time_base: (\d+)/(\d+)")
_SHOWINFO_FRAME_RE = re.compile(r"\bn:\s*0\s+pts:\s*(-?\d+)")


def _first_frame_time(log_text: str) -> float | None:
    """Timestamp of the frame showinfo saw, from ffmpeg's log; None if it cannot be found."""
    tb = _SHOWINFO_TB_RE.search(log_text)
    frame = _SHOWINFO_FRAME_RE.search(log_text)
    if tb is None or frame is None:
        return None
    return float(int(frame.group(1)) * Fraction(int(tb.group(1)), int(tb.group(2))))


def _seek_anchor(timeline: _Timeline, first: int, max_back: int = 64) -> int | None:
    """A frame at or shortly before `first` whose timestamp is unique, so a seek can land on it provably."""
    times = timeline.times
    if not timeline.monotonic or first >= len(times):
        return None
    for j in range(first, max(first - max_back, 0), -1):
        if times[j - 1] < times[j] and (j + 1 == len(times) or times[j] < times[j + 1]):
            return j
    return None


def _open_seeking(path: str, width: int, height: int, anchor: int, timeline: _Timeline,
                  select: str | None, max_frames: int | None) -> tuple[_Decoder, np.ndarray | None] | None:
    """Start decoding exactly at frame `anchor` by seeking; None if ffmpeg did not land on that frame.

    The seek target lies halfway between frames anchor-1 and anchor, so ffmpeg's accurate seek drops
    everything before `anchor` (timestamps never decrease); showinfo's timestamp of the first frame
    after the seek proves where it landed.
    """
    times = timeline.times
    dec = _Decoder(path, width, height, select=select, seek_to=(times[anchor - 1] + times[anchor]) / 2,
                   max_frames=max_frames)
    try:
        frame = dec.read()
    except UserError:
        frame = None
    landed = _first_frame_time(dec.log_text()) if frame is not None else None
    gap = min(times[anchor] - times[anchor - 1],
              times[anchor + 1] - times[anchor] if anchor + 1 < len(times) else math.inf)
    if landed is None or abs(landed - times[anchor]) >= gap / 2:
        log.warning("seeking in %s missed frame %d; reading it from the start instead", path, anchor)
        dec.close()
        return None
    return dec, frame


def _frames_from(path: str, header: _Header, size, first: int, last: int | None,
                 wanted: Sequence[int] | None, timeline: _Timeline | None) -> Iterator[tuple[int, np.ndarray]]:
    """(index, frame) for frames first..last (inclusive; None = to the end), or only the `wanted` ones.

    ffmpeg's select filter drops unwanted frames before pixel conversion; with a timeline, decoding
    starts from a verified seek instead of frame 0.
    """
    width, height = _check_size(size, header)
    indices = wanted if wanted is not None and len(wanted) <= _MAX_SELECT_TERMS else None
    count = len(indices) if indices is not None else None if last is None else last - first + 1

    def select_from(base: int) -> str | None:  # select's n counts frames from `base`
        if indices is not None:
            return "+".join(f"eq(n,{i - base})" for i in indices)
        return f"gte(n,{first - base})" if first > base else None

    dec = frame = None
    key = _cache_key(path)
    anchor = _seek_anchor(timeline, first) if timeline is not None and key not in _seek_missed else None
    if anchor is not None:
        opened = _open_seeking(path, width, height, anchor, timeline, select_from(anchor), count)
        if opened is None:
            _seek_missed.add(key)
        else:
            dec, frame = opened
    if dec is None:
        dec = _Decoder(path, width, height, select=select_from(0), max_frames=count)
        frame = dec.read()
    try:
        position = 0
        while frame is not None:
            index = indices[position] if indices is not None else first + position
            yield index, frame
            position += 1
            if position == count:
                break
            frame = dec.read()
    finally:
        dec.close()


def iter_frames(path: str | os.PathLike, start: int = 0, stop: int | None = None,
                size: Sequence[int] | None = None) -> Iterator[np.ndarray]:
    """Stream frames start..stop-1 as HxWx3 uint8 RGB, one at a time; size=(width, height) resizes in ffmpeg."""
    p = _check_file(path)
    header = _header(p)
    _check_size(size, header)
    if start < 0 or (stop is not None and stop < start):
        raise ValueError(f"need 0 <= start <= stop, got start={start}, stop={stop}")
    return _iter_frames(p, header, start, stop, size)


def _iter_frames(path: str, header: _Header, start: int, stop: int | None, size) -> Iterator[np.ndarray]:
    if stop == start:
        return
    # seek only when the frame timeline is known already (probe ran): scanning it costs a full decode
    timeline = _timeline(path, compute=False) if start >= SEEK_MIN_FRAMES else None
    if timeline is not None and start >= len(timeline.times):
        return
    produced = False
    for _, frame in _frames_from(path, header, size, start, None if stop is None else stop - 1,
                                 None, timeline):
        produced = True
        yield frame
    if not produced and start == 0:
        raise UserError(f"video {path} has no frames; re-export it or pass another video")


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
    # indices far apart are read as separate runs, each starting with its own seek
    runs: list[list[int]] = []
    for i in wanted:
        if runs and i - runs[-1][-1] < SEEK_MIN_FRAMES:
            runs[-1].append(i)
        else:
            runs.append([i])
    timeline = _timeline(p) if runs[-1][0] >= SEEK_MIN_FRAMES else None
    if timeline is not None and wanted[-1] >= len(timeline.times):
        raise IndexError(f"frame {wanted[-1]} asked from {p}, which has {len(timeline.times)} frames")
    wanted_set = set(wanted)
    got: dict[int, np.ndarray] = {}
    while runs:
        if timeline is None or not timeline.monotonic or _cache_key(p) in _seek_missed:
            runs = [[i for run in runs for i in run]]  # no seeking: one pass from frame 0 for all
        run = runs.pop(0)
        use_timeline = timeline if run[0] >= SEEK_MIN_FRAMES else None
        for index, frame in _frames_from(p, header, size, run[0], run[-1], run, use_timeline):
            if index in wanted_set:
                got[index] = frame
    if len(got) < len(wanted):
        missing = next(i for i in wanted if i not in got)
        raise IndexError(f"frame {missing} asked from {p}, which has {probe(p).num_frames} frames")
    out, used = [], set()
    for i in asked:
        out.append(got[i].copy() if i in used else got[i])
        used.add(i)
    return out
