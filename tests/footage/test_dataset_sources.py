"""Frame sources: every storage format gives the same frames, resized and converted to RGB as needed."""
from __future__ import annotations

import numpy as np
import pytest
from dataset_media import FORMATS, LOSSLESS, NUM_FRAMES
from PIL import Image

import footage.sources as sources
from errors import UserError
from footage import open_source
from footage.sources import FolderSource, StripSource, VideoFileSource

KIND = {"folder": FolderSource, "strip": StripSource}


def _errors(frames, reference):
    """Matrix of mean absolute errors between decoded frames and reference uint8 frames."""
    ref = reference.astype(np.float32) / 255.0
    return np.array([[np.abs(f - r).mean() for r in ref] for f in frames])


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_reads_the_source_frames(fmt, clips, media_files):
    source = open_source(media_files[("franck", fmt)], (64, 64, 3))
    assert isinstance(source, KIND.get(fmt, VideoFileSource))
    assert source.num_frames == NUM_FRAMES
    frames = list(source.iter())
    assert len(frames) == NUM_FRAMES
    assert all(f.shape == (64, 64, 3) and f.dtype == np.float32 for f in frames)
    assert min(f.min() for f in frames) >= 0.0 and max(f.max() for f in frames) <= 1.0
    errors = _errors(frames, clips["franck"])
    tolerance = 0.005 if fmt in LOSSLESS else 0.03
    assert np.diag(errors).max() < tolerance
    # each decoded frame is closer to its own source frame than to any other one (order is kept)
    assert (errors.argmin(axis=1) == np.arange(NUM_FRAMES)).all()


@pytest.mark.parametrize("fmt", FORMATS)
def test_read_returns_requested_frames_in_order_with_repeats(fmt, media_files):
    source = open_source(media_files[("cap", fmt)], (64, 64, 3))
    all_frames = list(source.iter())
    picked = source.read([7, 2, 7, 19])
    assert len(picked) == 4
    for frame, i in zip(picked, [7, 2, 7, 19]):
        np.testing.assert_allclose(frame, all_frames[i], atol=1e-6)
    with pytest.raises(IndexError):
        source.read([NUM_FRAMES])


def test_video_read_decodes_only_requested_frames(media_files, monkeypatch):
    calls = []
    real = sources.video.read_frames

    def spy(path, indices, *args, **kwargs):
        calls.append(list(indices))
        return real(path, indices, *args, **kwargs)

    monkeypatch.setattr(sources.video, "read_frames", spy)
    source = open_source(media_files[("franck", "mp4")], (64, 64, 3))
    frames = source.read([3, 3])
    assert calls == [[3]] and len(frames) == 2


@pytest.mark.parametrize("fmt", ["mp4", "folder", "strip"])
def test_frames_resized_to_frame_shape(fmt, clips, media_files):
    # strips are cut by frame_shape[1], so a strip is resized in height only
    shape = (48, 64, 3) if fmt == "strip" else (48, 40, 3)
    source = open_source(media_files[("franck", fmt)], shape)
    frame = source.read([5])[0]
    assert frame.shape == (48, shape[1], 3)
    # the resized frame still looks like the source frame: compare at a common coarse scale
    ref = np.asarray(Image.fromarray(clips["franck"][5]).resize((8, 8), Image.BILINEAR), np.float32) / 255
    got = np.asarray(Image.fromarray((frame * 255).round().astype(np.uint8)).resize((8, 8), Image.BILINEAR),
                     np.float32) / 255
    assert np.abs(got - ref).mean() < 0.06


def test_grayscale_and_rgba_become_rgb(clips, tmp_path):
    rgb = clips["cap"][:4]
    gray = (rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).round().astype(np.uint8)
    folder = tmp_path / "gray#a.mp4"  # a folder named like a video
    folder.mkdir()
    for i, g in enumerate(gray):
        Image.fromarray(g, mode="L").save(folder / f"{i}.png")
    frames = open_source(folder, (64, 64, 3)).read([0, 3])
    for frame, g in zip(frames, gray[[0, 3]]):
        assert frame.shape == (64, 64, 3)
        np.testing.assert_allclose(frame[..., 0], g / 255.0, atol=1e-3)
        np.testing.assert_allclose(frame[..., 0], frame[..., 2], atol=1e-6)

    alpha = np.full(rgb.shape[:3] + (1,), 255, np.uint8)
    alpha[:, :16] = 0  # a transparent band at the top: composited over white
    strip = tmp_path / "rgba.png"
    Image.fromarray(np.concatenate(list(np.concatenate([rgb, alpha], axis=3)), axis=1), mode="RGBA").save(strip)
    source = open_source(strip, (64, 64, 3))
    assert isinstance(source, StripSource) and source.num_frames == 4
    frame = source.read([2])[0]
    assert frame.shape == (64, 64, 3)
    np.testing.assert_allclose(frame[16:], rgb[2, 16:] / 255.0, atol=1e-3)
    np.testing.assert_allclose(frame[:16], 1.0, atol=1e-3)


def test_folder_frames_in_natural_order(clips, tmp_path):
    folder = tmp_path / "clip"
    folder.mkdir()
    for i in range(12):  # unpadded names: 10.png must come after 9.png
        Image.fromarray(clips["franck"][i]).save(folder / f"{i}.png")
    (folder / "notes.txt").write_text("not a frame")
    source = open_source(folder, (64, 64, 3))
    assert source.num_frames == 12
    errors = _errors(list(source.iter()), clips["franck"][:12])
    assert (errors.argmin(axis=1) == np.arange(12)).all()


def test_strip_width_must_be_a_multiple(media_files):
    with pytest.raises(UserError, match="multiple of the frame width"):
        open_source(media_files[("franck", "strip")], (64, 60, 3))


def test_unknown_and_missing_paths(tmp_path):
    text = tmp_path / "a.txt"
    text.write_text("hello")
    with pytest.raises(UserError, match="unknown kind"):
        open_source(text)
    with pytest.raises(UserError, match="does not exist"):
        open_source(tmp_path / "missing.mp4")
