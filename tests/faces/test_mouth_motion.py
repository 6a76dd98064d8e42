"""Synthetic mouth motion: the mouth a landmark detector measures opens by the requested amount; photo tracks."""
from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

import video
from errors import UserError
from faces import get_backend
from faces.mouth_motion import corner_rise, mouth_curve, mouth_opening, mouth_width, open_mouth, teeth_showing
from footage.photo_tracks import _photo_seed, plan_photo_clips
from footage.preprocess import PreprocessOptions, build_dataset
from footage.synthetic import synthetic_frames


@pytest.fixture(scope="module")
def dlib():
    return get_backend("dlib", landmarks=True)


def _measured(backend, image):
    """dlib's own landmarks of the image's largest face, found afresh (not the warp's control points)."""
    face = backend.largest(image)
    assert face is not None
    return backend.landmarks(image, face.box)


@pytest.mark.parametrize("name", ["audrey.jpg", "SeanConnery.jpg"])
def test_the_measured_mouth_opens_by_the_requested_amount(media_dir, dlib, name):
    photo = video.to_uint8(video.load_image(media_dir / name))
    before = _measured(dlib, photo)
    closed = mouth_opening(before)
    assert closed < 0.03  # both photos: lips together
    for requested in (0.06, 0.1):
        opened = open_mouth(photo, before, requested)
        after = _measured(dlib, opened)
        gained = mouth_opening(after) - closed
        # dlib on the warped photo agrees with the request to within 0.025 face widths (3-4 px on Sean
        # Connery's 150 px face: dlib's landmarks are whole pixels, and his beard blurs the lips' edges)
        assert abs(gained - requested) < 0.025, (name, requested, gained)
        # the eyes and the nose stay put (dlib's landmarks of unchanged pixels still move by a pixel or two,
        # as its shape regression sees the whole face)
        assert np.abs(after[27:48] - before[27:48]).max() <= 3
        # the gap is dark: the mouth interior, not stretched lip
        x = int(round((after[62, 0] + after[66, 0]) / 2))
        y = int(round((after[62, 1] + after[66, 1]) / 2))
        assert opened[y, x].mean() < 0.6 * photo[int(before[30, 1]), int(before[30, 0])].mean()


def test_only_the_lower_face_changes_and_zero_is_a_copy(media_dir, dlib):
    photo = video.to_uint8(video.load_image(media_dir / "audrey.jpg"))
    marks = _measured(dlib, photo)
    assert np.array_equal(open_mouth(photo, marks, 0.0), photo)
    changed = np.argwhere(np.abs(open_mouth(photo, marks, 0.08).astype(int) - photo).max(2) > 0)
    top = changed[:, 0].min()
    assert top > marks[36:48, 1].max()  # nothing above the eyes' lowest point moves
    with pytest.raises(ValueError, match="uint8"):
        open_mouth(photo.astype(np.float32), marks, 0.05)
    with pytest.raises(ValueError, match="68"):
        open_mouth(photo, marks[:5], 0.05)


@pytest.mark.parametrize("name", ["audrey.jpg", "biden.jpg"])
def test_a_smile_widens_and_lifts_the_measured_mouth_and_shows_teeth(media_dir, dlib, name):
    photo = video.to_uint8(video.load_image(media_dir / name))
    before = _measured(dlib, photo)
    smiling = open_mouth(photo, before, 0.05, widen=0.08, lift=0.03, teeth_share=1.0)
    after = _measured(dlib, smiling)
    # dlib, run afresh, reads most of the request back (60-80% of the widening: it puts the corners on the
    # lips' edges, which the spline moves a little less than the control points)
    assert 0.045 < mouth_width(after) - mouth_width(before) < 0.09
    assert 0.015 < corner_rise(after) - corner_rise(before) < 0.045
    assert mouth_opening(after) - mouth_opening(before) > 0.015
    assert np.abs(after[27:48] - before[27:48]).max() <= 3  # the eyes and the nose stay put
    # the gap shows teeth; the same opening without them is dark
    assert teeth_showing(smiling, after) > 0.3
    dark = open_mouth(photo, before, 0.05, widen=0.08, lift=0.03, teeth=False)
    assert teeth_showing(dark, _measured(dlib, dark)) < 0.1
    # a closed-lip smile: the corners move, nothing above the eyes' lowest point does
    closed = open_mouth(photo, before, 0.0, widen=0.08, lift=0.03)
    assert mouth_width(_measured(dlib, closed)) - mouth_width(before) > 0.04
    eyes = int(before[36:48, 1].max()) + 1
    assert np.array_equal(closed[:eyes], photo[:eyes])


def test_teeth_showing_tells_a_real_smile_from_closed_lips(media_dir, dlib):
    readings = {}
    for name in ("obama.jpg", "audrey.jpg", "biden.jpg", "SeanConnery.jpg"):
        photo = video.to_uint8(video.load_image(media_dir / name))
        readings[name] = teeth_showing(photo, _measured(dlib, photo))
    # Obama smiles with his teeth bare (mouth open 0.1 face widths); the other three keep their lips together
    assert readings["obama.jpg"] > 0.8
    assert max(readings["audrey.jpg"], readings["biden.jpg"], readings["SeanConnery.jpg"]) == 0.0


def test_mouth_curve_is_seeded_smooth_and_closes_at_times():
    a = mouth_curve(np.random.default_rng(3), 200, 0.1)
    assert np.array_equal(a, mouth_curve(np.random.default_rng(3), 200, 0.1))
    assert not np.allclose(a, mouth_curve(np.random.default_rng(4), 200, 0.1))
    assert a.min() == 0 and 0.03 < a.max() <= 0.1
    assert np.abs(np.diff(a)).max() < 0.1 * 2 * np.pi * 6 / 200 / 1.3 + 1e-9  # at most 6 cycles per clip


def test_synthetic_frames_with_mouth_keep_the_head_motion_and_open_the_mouth(media_dir, dlib):
    photo = video.to_uint8(video.load_image(media_dir / "audrey.jpg"))
    box = dlib.largest(photo).box
    plain = np.stack(list(synthetic_frames(photo, box, 128, 24, seed=5, increase=0.4)))
    moving = np.stack(list(synthetic_frames(photo, box, 128, 24, seed=5, increase=0.4, mouth=0.1)))
    again = np.stack(list(synthetic_frames(photo, box, 128, 24, seed=5, increase=0.4, mouth=0.1)))
    assert np.array_equal(moving, again)
    # the same head motion: the upper half of every frame (eyes, forehead) is the same
    assert np.abs(moving[:, :52].astype(int) - plain[:, :52]).max() <= 1
    openings = mouth_curve(np.random.default_rng([5, 1]), 24, 0.1)
    widest, shut = int(np.argmax(openings)), int(np.argmin(openings))
    assert np.array_equal(moving[shut], plain[shut])  # closed frames are the head motion alone
    gained = mouth_opening(_measured(dlib, moving[widest])) - mouth_opening(_measured(dlib, plain[widest]))
    assert abs(gained - openings[widest]) < openings[widest] / 2.5, (gained, openings[widest])


def test_photo_tracks_with_mouth_motion_are_written_as_synthetic_frames_makes_them(media_dir, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(media_dir / "audrey.jpg", photos / "audrey.jpg")
    options = PreprocessOptions(size=64, format="png", min_frames=16, photo_frames=16, photo_tracks=1,
                                progress=False, photo_mouth=0.1)
    build_dataset([], str(tmp_path / "mouth"), options, photos=[str(photos)])
    plain_options = PreprocessOptions(size=64, format="png", min_frames=16, photo_frames=16, photo_tracks=1,
                                      progress=False)
    build_dataset([], str(tmp_path / "plain"), plain_options, photos=[str(photos)])
    names = os.listdir(tmp_path / "mouth" / "train")
    assert names == os.listdir(tmp_path / "plain" / "train") == ["audrey#000#000000#000016.mp4"]
    assert (tmp_path / "mouth" / "tracks.csv").read_text() == (tmp_path / "plain" / "tracks.csv").read_text()
    (clip,), _ = plan_photo_clips([str(photos / "audrey.jpg")], options, set())
    image = video.to_uint8(video.load_image(photos / "audrey.jpg"))
    expected = list(synthetic_frames(image, clip.box, 64, 16, seed=_photo_seed(options, clip),
                                     increase=options.photo_increase, mouth=0.1))
    files = sorted(os.listdir(tmp_path / "mouth" / "train" / names[0]))
    assert len(files) == 16
    written = [video.to_uint8(video.load_image(tmp_path / "mouth" / "train" / names[0] / f)) for f in files]
    assert all(np.array_equal(w, e) for w, e in zip(written, expected))  # png: lossless
    plain = [video.to_uint8(video.load_image(tmp_path / "plain" / "train" / names[0] / f)) for f in files]
    assert any(not np.array_equal(w, p) for w, p in zip(written, plain))  # the mouth did move
    with pytest.raises(Exception, match="photo_mouth"):
        PreprocessOptions(photo_mouth=0.5).check()


def test_photo_mouth_uses_the_chosen_face_backend(media_dir, tmp_path):
    """--photo_mouth finds the mouth with --face_backend: one without landmarks (OpenCV) is named before any work."""
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(media_dir / "audrey.jpg", photos / "audrey.jpg")
    options = PreprocessOptions(size=64, format="png", min_frames=16, photo_frames=16, photo_tracks=1,
                                progress=False, photo_mouth=0.1, face_backend="opencv")
    with pytest.raises(UserError, match="face backend 'opencv' gives no landmarks"):
        build_dataset([], str(tmp_path / "out"), options, photos=[str(photos)])
    assert not (tmp_path / "out").exists()
