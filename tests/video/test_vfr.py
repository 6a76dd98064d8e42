"""Variable frame rate: a clip made here at 30 fps then 24 fps keeps its timing and its audio sync when written."""
import subprocess

import numpy as np
import pytest

from stages import Stage, register_stage
from tests.test_demo import files  # noqa: F401  (the demo's random-weight model and clips)
from video import VideoWriter, frame_times, iter_frames, probe
from video.reader import ffmpeg_exe
from video.writer import repeat_counts

FAST, SLOW = 30, 24  # frames at 30 fps (0..1 s), then at 24 fps (1..2 s)
BEEP = 1.0  # s: a 1 kHz tone starts where the rate changes, with frame FAST (the largest drift at one rate)


def pattern(i):
    """Frame i: its index in binary, one 8-pixel column per bit (white = 1), readable after lossy coding."""
    frame = np.full((64, 64, 3), 16, np.uint8)
    for bit in range(6):
        if i >> bit & 1:
            frame[:, bit * 8:bit * 8 + 8] = 235
    return frame


def index_of(frame) -> int:
    """The index pattern() wrote into a 64x64 frame."""
    return sum(1 << bit for bit in range(6) if frame[16:48, bit * 8 + 2:bit * 8 + 6].mean() > 128)


@pytest.fixture(scope="module")
def vfr_clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("vfr") / "vfr.mp4"
    frames = np.stack([pattern(i) for i in range(FAST + SLOW)])
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "64x64",
                    "-r", "120", "-i", "pipe:0",
                    "-f", "lavfi", "-i", f"aevalsrc='0.8*between(t,{BEEP},{BEEP + 0.1})*sin(2*PI*1000*t)':s=48000:d=2",
                    "-vf", f"setpts='if(lt(N,{FAST}),N*4,{FAST * 4}+(N-{FAST})*5)'",  # in 1/120 s ticks
                    "-fps_mode", "passthrough", "-video_track_timescale", "120",
                    "-c:v", "libx264", "-crf", "10", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)],
                   input=frames.tobytes(), check=True)
    times = frame_times(path)
    expected = np.r_[np.arange(FAST) / FAST, 1 + np.arange(SLOW) / SLOW]
    assert np.allclose(times, expected, atol=1e-6)  # the clip really has the two rates
    return path


def sound_onset(path) -> float:
    """Seconds from the start of the file's audio to the first loud sample (decoded by ffmpeg)."""
    pcm = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:a:0", "-ac", "1", "-ar", "48000",
                          "-f", "f32le", "pipe:1"], capture_output=True, check=True).stdout
    samples = np.frombuffer(pcm, np.float32)
    return float(np.argmax(np.abs(samples) > 0.2) / 48000)


@register_stage("test_vfr_dim")
class Dim(Stage):
    """Frames a little darker: a real change that keeps the index pattern readable."""

    def process(self, frame, ctx, init=None):
        return frame * 0.9


def check_timing(result, source, source_index_of):
    """Output frame k, at k/fps, shows a source frame whose own time is within one output frame period."""
    info = probe(result)
    out_times = frame_times(result)
    assert np.allclose(out_times, np.arange(info.num_frames) / info.fps, atol=1e-3)  # a constant-rate file
    src_times = frame_times(source)
    shown = [source_index_of(frame) for frame in iter_frames(result)]
    assert abs(info.num_frames / info.fps - (src_times[-1] + 1 / SLOW)) < 1 / info.fps  # same length
    errors = np.abs(src_times[shown] - out_times)
    assert errors.max() <= 1 / info.fps, (errors.max(), shown)
    assert shown == sorted(shown) and shown[0] == 0 and shown[-1] == FAST + SLOW - 1
    # the audio: the beep starts with source frame FAST, and in the result with the first frame showing it
    assert abs(sound_onset(source) - BEEP) < 0.005
    first = out_times[shown.index(FAST)]
    assert abs(sound_onset(result) - first) < 1 / info.fps, (sound_onset(result), first)
    return shown


def test_repeat_counts_match_nearest_frame_by_brute_force():
    rng = np.random.default_rng(0)
    times = np.cumsum(rng.uniform(0.01, 0.09, size=80))
    for fps in (10, 24, 30, 29.97, 60):
        counts = repeat_counts(times, fps)
        slots = round((times[-1] - times[0] + times[-1] - times[-2]) * fps)
        nearest = [int(np.argmin(np.abs(times - times[0] - k / fps))) for k in range(slots)]
        assert counts.tolist() == np.bincount(nearest, minlength=len(times)).tolist()
    jitter = np.arange(50) / 25 + rng.uniform(-0.004, 0.004, size=50)  # constant rate, rounded timestamps
    assert repeat_counts(jitter, 25).tolist() == [1] * 50


def test_writer_keeps_variable_frame_rate_timing_and_audio(vfr_clip, tmp_path):
    result = tmp_path / "out.mp4"
    with VideoWriter(result, probe(vfr_clip).fps, audio_from=vfr_clip, timestamps=frame_times(vfr_clip)) as w:
        for frame in iter_frames(vfr_clip):
            w.write(frame)
    shown = check_timing(result, vfr_clip, index_of)
    assert len(set(shown)) < FAST + SLOW  # some 30 fps frames dropped at the ~27 fps average rate ...
    assert len(shown) > len(set(shown))  # ... and some 24 fps frames repeated


def test_demo_keeps_variable_frame_rate_timing_and_audio(vfr_clip, files, media_dir, tmp_path):  # noqa: F811
    import demo

    result = tmp_path / "result.mp4"
    code = demo.main(["--source", str(media_dir / "audrey.jpg"), "--driving", str(vfr_clip), "--visualize",
                      "--size", "64", "--no_crop", "--output_mode", "generator",
                      "--checkpoint", str(files / "model.pth.tar"), "--result_video", str(result),
                      "--device", "cpu"])
    assert code == 0
    # --visualize: source | driving | result, each 64 px plus a 1 px border; the middle panel is the driving frame
    check_timing(result, vfr_clip, lambda frame: index_of(frame[1:65, 67:131]))


def test_stylize_keeps_variable_frame_rate_timing_and_audio(vfr_clip, tmp_path):
    import stylize

    result = tmp_path / "styled.mp4"
    assert stylize.main(["--input", str(vfr_clip), "--stages", "test_vfr_dim", "--no-smoothing", "--quiet",
                         "--output", str(result)]) == 0
    check_timing(result, vfr_clip, index_of)
