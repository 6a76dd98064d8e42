"""Video writing: frames streamed into ffmpeg's stdin, a temp file in the target folder, audio kept, atomic."""
from __future__ import annotations

import logging
import math
import os
import subprocess
import tempfile
from fractions import Fraction

import numpy as np

from atomic import reserve_temp_path
from errors import UserError, signals_deferred
from output_paths import check_output_file
from video.audio import mux_audio
from video.ffmpeg import ffmpeg_exe, ffmpeg_url, passthrough_args
from video.image import to_uint8
from video.reader import VIDEO_EXTENSIONS, has_audio

log = logging.getLogger(__name__)

# each frame gets its own palette: good colours, and ffmpeg never has to hold the whole clip
_GIF_FILTER = "split[a][b];[a]palettegen=stats_mode=single[p];[b][p]paletteuse=new=1"
_CONTAINER_CODEC = {".webm": "libvpx-vp9"}  # where H.264, the default, cannot go


def _codec_args(codec: str, crf: int) -> list[str]:
    # sRGB frames: convert with the BT.709 matrix and say so, so players show the colours we wrote
    args = ["-vf", "scale=out_color_matrix=bt709:out_range=tv", "-c:v", codec, "-pix_fmt", "yuv420p"]
    if codec in ("libx264", "libx265"):
        args += ["-crf", str(crf), "-preset", "medium"]
    elif codec == "libvpx-vp9":
        args += ["-crf", str(crf), "-b:v", "0", "-row-mt", "1", "-deadline", "good", "-cpu-used", "4"]
    elif codec in ("libaom-av1", "libsvtav1"):
        args += ["-crf", str(crf)]
    elif codec in ("mpeg4", "libxvid", "msmpeg4"):  # quantiser scale 1..31 instead of a crf
        args += ["-q:v", str(max(1, min(31, round(crf / 6))))]
    return args + ["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
                   "-color_range", "tv"]


def repeat_counts(timestamps, fps: Fraction | float) -> np.ndarray:
    """How many times each frame shown at `timestamps` (seconds) appears in a constant-rate video at `fps`.

    Output frame k (at time k / fps) shows the source frame whose time is nearest: frames are repeated
    where the source is slower than `fps` and dropped where it is faster, so every output frame is within
    half a source interval of its source frame and the whole lasts as long as the source (its last frame
    held for the interval before it). Constant-rate timestamps at `fps` give one each.
    """
    times = np.asarray(timestamps, dtype=np.float64)
    if times.ndim != 1 or len(times) == 0 or not np.all(np.isfinite(times)):
        raise ValueError("timestamps must be a non-empty sequence of finite seconds")
    times = np.maximum.accumulate(times - times[0])
    rate = float(fps)
    last = times[-1] - times[-2] if len(times) > 1 else 1.0 / rate
    slots = max(1, round((times[-1] + max(last, 0.0)) * rate))
    # frame i owns the output times from the midpoint after its predecessor to the midpoint before its successor
    upper = np.append((times[:-1] + times[1:]) / 2, np.inf)
    below = np.clip(np.ceil(upper * rate - 1e-9), 0, slots).astype(np.int64)  # output frames before each bound
    return np.diff(np.concatenate([[0], below]))


class VideoWriter:
    """Write frames to a video file; the file appears at `path` only after a clean close().

        with VideoWriter("out.mp4", fps=25, audio_from="driving.mp4") as w:
            for frame in frames:
                w.write(frame)     # HxWx3 (or NxHxWx3) uint8, or float in [0, 1]

    With `timestamps` (each given frame's source time in seconds, e.g. video.frame_times of a
    variable-frame-rate input) the file is still constant-rate at `fps`, with frames repeated or dropped
    so that it keeps the source's timing, and its audio (audio_from) stays in sync.
    """

    def __init__(self, path: str | os.PathLike, fps: float, audio_from: str | os.PathLike | None = None,
                 crf: int = 18, codec: str = "libx264", timestamps=None, flag: str = "output path",
                 keyint: int | None = None):
        """`flag` names the option that gave `path` in error messages (e.g. --result_video); `keyint`: a
        keyframe at least every that many frames (None: the encoder's default), which bounds what a
        random-access read decodes."""
        self.path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(self.path))
        check_output_file(self.path, flag, inputs={"the audio source": audio_from})
        self.ext = os.path.splitext(self.path)[1].lower()
        if self.ext not in VIDEO_EXTENSIONS:
            raise UserError(f"cannot write video {self.path}: unknown extension {self.ext!r}; use one of "
                            f"{'/'.join(VIDEO_EXTENSIONS)}")
        try:
            fps_value = float(fps)
        except (TypeError, ValueError):
            fps_value = float("nan")
        if not math.isfinite(fps_value) or fps_value <= 0:
            raise UserError(f"cannot write video {self.path}: fps must be a positive number, got {fps!r}")
        self.fps = fps if isinstance(fps, Fraction) else Fraction(fps_value).limit_denominator(1001)
        if audio_from is not None and not os.path.isfile(audio_from):
            raise UserError(f"audio source not found: {os.fspath(audio_from)}; check the path or pass none")
        self.audio_from = None if audio_from is None else os.fspath(audio_from)
        self.crf = int(crf)
        self.keyint = None if keyint is None else int(keyint)
        self.codec = _CONTAINER_CODEC.get(self.ext, codec) if codec == "libx264" else codec
        self.folder = folder
        self._repeats = None if timestamps is None else repeat_counts(timestamps, self.fps)
        self.frames_given = 0  # frames passed to write(); num_frames counts those in the file
        self.num_frames = 0
        self.size: tuple[int, int] | None = None  # (width, height) of the frames given
        self._pad = (0, 0)
        self._proc: subprocess.Popen | None = None
        self._stderr = None
        self._temps: list[str] = []
        self._done = False

    # ------------------------------------------------------------------ context manager

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False

    def __del__(self):
        if not getattr(self, "_done", True):  # dropped without close(): never leave a partial file
            try:
                self.abort()
            except Exception:
                pass

    # ------------------------------------------------------------------ writing

    def _temp_path(self) -> str:
        tmp = reserve_temp_path(self.path)
        self._temps.append(tmp)
        return tmp

    def _start(self, width: int, height: int) -> None:
        self.size = (width, height)
        if self.ext == ".gif":
            out_args = ["-vf", _GIF_FILTER, "-loop", "0"]
        else:  # 4:2:0 chroma needs even sizes: repeat the last row/column rather than stretch
            self._pad = (height % 2, width % 2)
            if any(self._pad):
                log.warning("%s: frame size %dx%d is odd; the video is padded to %dx%d by repeating the "
                            "edge", self.path, width, height, width + self._pad[1], height + self._pad[0])
            out_args = _codec_args(self.codec, self.crf) + ([] if self.keyint is None else ["-g", str(self.keyint)])
            if self.ext in (".mp4", ".mov"):
                out_args += ["-movflags", "+faststart"]
        self._stderr = tempfile.TemporaryFile()
        with signals_deferred():  # the temp file and the ffmpeg writing it are both recorded before a signal
            cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-v", "error", "-y",
                   "-f", "rawvideo", "-pix_fmt", "rgb24",
                   "-s", f"{width + self._pad[1]}x{height + self._pad[0]}",
                   "-r", f"{self.fps.numerator}/{self.fps.denominator}", "-i", "pipe:0",
                   # passthrough: every frame given is written once (ffmpeg's default constant-rate mode drops
                   # or repeats frames when the rate does not fit the container's time base, e.g. 27.46 fps)
                   "-map", "0:v:0", *passthrough_args(), *out_args, ffmpeg_url(self._temp_path())]
            self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                          stderr=self._stderr)

    def _ffmpeg_reason(self) -> str:
        if self._stderr is None:
            return "no output"
        self._stderr.seek(0)
        lines = [ln.strip() for ln in self._stderr.read().decode(errors="replace").splitlines() if ln.strip()]
        return lines[-1] if lines else f"ffmpeg exit code {self._proc.returncode if self._proc else '?'}"

    def write(self, frame) -> None:
        """Append one HxWx3 frame or a batch NxHxWx3, uint8 or float in [0, 1] (clipped)."""
        if self._done:
            raise ValueError(f"VideoWriter for {self.path} is already closed")
        a = np.asarray(frame)
        if a.ndim == 3 and a.shape[2] == 3:
            a = a[None]
        elif a.ndim == 2:
            a = np.repeat(a[None, :, :, None], 3, axis=3)
        if a.ndim != 4 or a.shape[3] != 3:
            raise ValueError(f"frames must be HxWx3 or NxHxWx3, got shape {np.shape(frame)}")
        if a.shape[0] == 0:
            return
        height, width = a.shape[1:3]
        if self._proc is None:
            self._start(width, height)
        elif (width, height) != self.size:
            raise ValueError(f"frame size {width}x{height} differs from the first frame's "
                             f"{self.size[0]}x{self.size[1]} in {self.path}")
        if self._repeats is not None:
            end = self.frames_given + a.shape[0]
            if end > len(self._repeats):
                raise ValueError(f"frame {end - 1} written to {self.path}, but only {len(self._repeats)} "
                                 "timestamps were given")
            a = np.repeat(a, self._repeats[self.frames_given:end], axis=0)
            self.frames_given = end
            if a.shape[0] == 0:
                return
        else:
            self.frames_given += a.shape[0]
        a = to_uint8(a)
        if any(self._pad):
            a = np.pad(a, ((0, 0), (0, self._pad[0]), (0, self._pad[1]), (0, 0)), mode="edge")
        try:
            self._proc.stdin.write(np.ascontiguousarray(a).data)
        except (BrokenPipeError, OSError):
            self._proc.wait()
            reason = self._ffmpeg_reason()
            self.abort()
            raise UserError(f"cannot write video {self.path}: ffmpeg stopped ({reason}); try the default "
                            "codec or another file name") from None
        self.num_frames += a.shape[0]

    # ------------------------------------------------------------------ finishing

    def close(self) -> None:
        """Finish encoding, add the audio of audio_from (if it has any), move the file onto `path`."""
        if self._done:
            return
        if self._proc is None:
            self.abort()
            raise ValueError(f"no frames were written to {self.path}; nothing was saved")
        try:
            self._proc.stdin.close()
            if self._proc.wait() != 0:
                raise UserError(f"cannot write video {self.path}: {self._ffmpeg_reason()}; try the default "
                                "codec or another file name")
            result = self._temps[0]
            if self.audio_from is not None and self.ext != ".gif" and has_audio(self.audio_from):
                with signals_deferred():  # a short stream copy; no ffmpeg may outlive its temp file
                    muxed = self._temp_path()
                    mux_audio(result, self.audio_from, muxed, duration=float(self.num_frames / self.fps))
                result = muxed
            os.replace(result, self.path)
            self._temps.remove(result)
        except BaseException:
            self.abort()
            raise
        self._cleanup()

    def abort(self) -> None:
        """Stop ffmpeg and delete the temporary file(s); whatever is at `path` stays untouched."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._cleanup()

    def _cleanup(self) -> None:
        self._done = True
        if self._proc is not None and self._proc.stdin and not self._proc.stdin.closed:
            try:
                self._proc.stdin.close()
            except OSError:
                pass
        for tmp in self._temps:
            if os.path.exists(tmp):
                os.remove(tmp)
        self._temps.clear()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
