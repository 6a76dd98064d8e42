"""Audio track muxing: put another file's audio onto a finished video, copied when the container allows."""
from __future__ import annotations

import os
import subprocess

from errors import UserError
from video.ffmpeg import ffmpeg_exe, ffmpeg_url
from video.reader import audio_codec

# audio codecs each container takes as they are (stream copy); anything else is re-encoded
_COPYABLE = {
    ".mp4": {"aac", "mp3", "alac"},
    ".mov": {"aac", "mp3", "alac", "pcm_s16le"},
    ".mkv": {"aac", "mp3", "opus", "vorbis", "flac", "ac3", "alac", "pcm_s16le"},
    ".webm": {"opus", "vorbis"},
    ".avi": {"aac", "mp3", "ac3", "pcm_s16le"},
}
_REENCODE = {".webm": ["-c:a", "libopus", "-b:a", "128k"]}
_DEFAULT_REENCODE = ["-c:a", "aac", "-b:a", "192k"]


def audio_args(container_ext: str, source_codec: str | None) -> list[str]:
    """ffmpeg output options for the audio stream: copy if the container takes the codec, else re-encode."""
    ext = container_ext.lower()
    if source_codec in _COPYABLE.get(ext, set()):
        return ["-c:a", "copy"]
    return list(_REENCODE.get(ext, _DEFAULT_REENCODE))


def mux_audio(video_path: str, audio_from: str, out_path: str, duration: float) -> None:
    """Write video_path's video with audio_from's first audio track (cut to `duration` s) to out_path.

    The audio is limited on the input side (-t), so a shorter track never shortens the video.
    """
    ext = os.path.splitext(out_path)[1].lower()
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y",
           "-i", ffmpeg_url(video_path), "-t", f"{duration:.6f}", "-i", ffmpeg_url(audio_from),
           "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", *audio_args(ext, audio_codec(audio_from))]
    if ext in (".mp4", ".mov"):
        cmd += ["-movflags", "+faststart"]
    cmd.append(ffmpeg_url(out_path))
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        reason = lines[-1].strip() if lines else f"ffmpeg exit code {proc.returncode}"
        raise UserError(f"cannot add the audio of {audio_from} to {out_path}: {reason}; "
                        "pass another audio source or none")
