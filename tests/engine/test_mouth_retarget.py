"""Mouth retargeting (engine.mouth_retarget): the photo's mouth opens as far as the driving mouth opens above its
rest, measured afresh by dlib on real photos; the composer trusts the opened photo over the mouth."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.fullres import FullResComposer
from engine.mouth_retarget import REST_BAND, MouthRetarget, MouthShape
from faces import get_backend
from faces.mouth_motion import corner_rise, mouth_opening, mouth_width, open_mouth, teeth_showing
from modules.geometry import make_coordinate_grid
from video import load_image
from video.image import to_float, to_uint8


@pytest.fixture(scope="module")
def backend():
    return get_backend("auto", landmarks=True)


def test_the_added_opening_is_the_rise_above_the_lowest_opening_so_far():
    retarget = MouthRetarget(np.zeros((8, 8, 3), np.float32), np.zeros((68, 2)), backend=None, gain=2.0)
    driving = [0.05, 0.08, 0.03, 0.06, None, 0.02, 0.025, 0.045]
    # by hand, rise above the lowest so far less the 0.01 jitter band, x gain 2: rest 0.05 -> 0, 0.02;
    # rest 0.03 -> 0, 0.02; no face: as before; rest 0.02 -> 0, within the band 0, 0.015
    expected = [0.0, 0.04, 0.0, 0.04, 0.04, 0.0, 0.0, 0.03]
    np.testing.assert_allclose([retarget.added(o) for o in driving], expected, atol=1e-12)


def test_the_photo_mouth_opens_by_the_driving_mouth_rise(media_dir, backend):
    photo = load_image(media_dir / "audrey.jpg")
    retarget = MouthRetarget.for_photo(photo, backend, frames_backend=backend)  # measured as the oracle measures
    assert retarget is not None
    # the driving face: another real person, mouth as photographed, then opened by 0.08 face widths
    driver = to_uint8(load_image(media_dir / "obama.jpg"))
    opened_driver = open_mouth(driver, backend.landmarks(driver), 0.08)
    assert retarget.added(retarget.driving_shape(driver).opening) == 0.0  # the first frame is the rest
    assert retarget.opened_photo(0.0) is retarget.photo  # which leaves the photo as it is
    extra = retarget.added(retarget.driving_shape(opened_driver).opening)
    rise = mouth_opening(backend.landmarks(opened_driver)) - mouth_opening(backend.landmarks(driver))
    assert extra == pytest.approx(rise - REST_BAND, abs=1e-6) and 0.04 < extra < 0.1
    moved = retarget.opened_photo(extra)
    # the oracle: dlib, run afresh on the result, sees the photo's mouth opened by that much
    before = mouth_opening(backend.landmarks(to_uint8(photo)))
    after = mouth_opening(backend.landmarks(to_uint8(moved)))
    assert after - before == pytest.approx(extra, abs=0.025)
    # only the lower face changed: the eyes and everything above them are the photo's own pixels
    eyes_bottom = int(retarget.landmarks[36:48, 1].max()) + 2
    np.testing.assert_array_equal(to_uint8(moved)[:eyes_bottom], to_uint8(photo)[:eyes_bottom])


class _Composer:
    """Stands in for FullResComposer: the model's own output is `own`; given a photo, it shows that photo."""

    def __init__(self, own):
        self.own, self.calls = own, 0

    def motion(self, prediction, deformation, occlusion):
        return None

    def blend(self, motion, photo=None, trusted=None, trusted_weight=1.0):
        self.calls += 1
        return self.own if photo is None else photo


def test_only_the_opening_the_model_lacks_is_added(media_dir, backend):
    photo = load_image(media_dir / "audrey.jpg")
    driver = to_uint8(load_image(media_dir / "obama.jpg"))
    opened_driver = open_mouth(driver, backend.landmarks(driver), 0.08)
    # a model that leaves the mouth shut: the photo gets the whole rise, in a second composition
    retarget = MouthRetarget.for_photo(photo, backend)
    shut = _Composer(photo)
    for frame in (driver, opened_driver):
        out = retarget.compose(shut, None, None, None, frame)
    wanted = retarget.last
    assert retarget.openings == [0.0, pytest.approx(wanted)] and wanted > 0.03 and shut.calls == 3
    assert mouth_opening(backend.landmarks(to_uint8(out))) - retarget.source_opening == pytest.approx(wanted, abs=0.025)
    # a model that opens it by as much itself (dlib measures its output): nothing more is added
    retarget = MouthRetarget.for_photo(photo, backend)
    opens = _Composer(to_float(open_mouth(to_uint8(photo), retarget.landmarks, wanted)))
    for frame in (driver, opened_driver):
        retarget.compose(opens, None, None, None, frame)
    assert retarget.openings[1] < 0.025  # dlib's re-measure of an opened mouth is good to ~0.025 (see above)


def test_the_smile_is_the_rise_of_width_and_corners_above_the_first_frame():
    retarget = MouthRetarget(np.zeros((8, 8, 3), np.float32), np.zeros((68, 2)), backend=None, gain=2.0)
    shapes = [MouthShape(0.0, 0.40, -0.20, 0.0), MouthShape(0.0, 0.45, -0.18, 0.0), None,
              MouthShape(0.0, 0.36, -0.23, 0.0), MouthShape(0.0, 0.405, -0.195, 0.0)]
    # by hand: the first frame is the rest; rise less the 0.01 band, x gain 2; no face: as before; a narrower
    # mouth and lower corners add nothing; within the band, nothing
    expected = [(0.0, 0.0), (0.08, 0.02), (0.08, 0.02), (0.0, 0.0), (0.0, 0.0)]
    np.testing.assert_allclose([retarget.smile(s) for s in shapes], expected, atol=1e-12)


def test_a_driving_smile_widens_the_photo_mouth_and_shows_teeth(media_dir, backend):
    photo = load_image(media_dir / "audrey.jpg")
    driver = to_uint8(load_image(media_dir / "biden.jpg"))  # lips together as photographed
    marks = backend.landmarks(driver)
    smiling = open_mouth(driver, marks, 0.09, widen=0.08, lift=0.03, teeth_share=1.0)
    retarget = MouthRetarget.for_photo(photo, backend, frames_backend=backend)
    shut = _Composer(photo)  # a model that leaves the mouth as it is
    for frame in (driver, smiling):
        out = retarget.compose(shut, None, None, None, frame)
    # the oracle: dlib's own reading of the two driving frames, by hand
    found = backend.landmarks(smiling)
    widen = mouth_width(found) - mouth_width(marks) - REST_BAND
    lift = corner_rise(found) - corner_rise(marks) - REST_BAND
    assert retarget.smiles[0] == (0.0, 0.0) and widen > 0.03 and lift > 0.005
    assert retarget.smiles[1] == pytest.approx((widen, lift), abs=0.01)  # less what the photo shows already
    assert retarget.last_teeth == pytest.approx(teeth_showing(smiling, found)) and retarget.last_teeth > 0.3
    # the photo's mouth, read afresh: wider, its gap shows teeth, and it is as open as the driving rise asks
    # (the opening that moving the corners costs in the landmarks' reading is added back)
    result = to_uint8(out)
    after = backend.landmarks(result)
    assert mouth_width(after) - retarget.source_width > 0.6 * widen
    assert teeth_showing(result, after) > 0.2
    assert mouth_opening(after) - retarget.source_opening == pytest.approx(retarget.last, abs=0.025)
    assert retarget.openings[1] >= retarget.last  # the whole rise, and the compensation on top


def test_the_composer_uses_the_given_photo_and_trusts_it_inside_the_box(media_dir):
    photo = load_image(media_dir / "audrey.jpg")
    box = (100, 150, 164, 214)  # the model's own size: no resampling
    model_source = np.ascontiguousarray(photo[150:214, 100:164])
    composer = FullResComposer(photo, box, model_source, model_source)
    other = photo[::-1].copy()  # this frame's photo: any same-size image
    prediction = np.zeros((64, 64, 3), np.float32)
    deformation = make_coordinate_grid((16, 16)).numpy()
    # the occlusion map distrusts everything; the trusted ellipse covers photo pixels x 120-144, y 170-194
    out = composer.compose(prediction, deformation, np.zeros((16, 16), np.float32), shading=False, photo=other,
                           trusted=(120, 170, 144, 194))
    np.testing.assert_allclose(out[30:34, 30:34], other[180:184, 130:134], atol=1e-5)  # its centre: the photo
    assert np.abs(out[:8, :8]).max() < 1e-6 and np.abs(out[-8:, -8:]).max() < 1e-6  # outside: the prediction


def test_demo_opens_the_photo_mouth_with_the_driving_mouth(media_dir, backend, tmp_path):
    """End to end with the bundled model: a driving clip of a real face whose mouth opens and closes (made with
    faces.mouth_motion), a different person's photo; dlib, run on the written video, sees the result's mouth
    follow the driving mouth. With --no-mouth_retarget the mouth is left to the model."""
    import demo
    from faces.mouth_motion import mouth_curve
    from video import VideoWriter, iter_frames

    # obama.jpg at 1/3 size (303x379, face ~110 px): a webcam-sized driving clip, 9x fewer pixels to decode
    driver = cv2.resize(to_uint8(load_image(media_dir / "obama.jpg")), (303, 379), interpolation=cv2.INTER_AREA)
    marks = backend.landmarks(driver)
    openings = np.r_[0.0, mouth_curve(np.random.default_rng(3), 11, 0.1)]
    clip = tmp_path / "talking.mp4"
    with VideoWriter(clip, fps=10) as writer:
        for opening in openings:
            writer.write(open_mouth(driver, marks, opening))
    driving = np.array([mouth_opening(backend.landmarks(f)) for f in iter_frames(clip)])
    assert np.ptp(driving) > 0.05  # the clip's mouth does open

    checkpoint = Path(__file__).resolve().parents[2] / "checkpoints" / "stillmotion-vox-128.pth.tar"
    results = {}
    for name, flags in (("retarget", []), ("model", ["--no-mouth_retarget"])):
        out = tmp_path / f"{name}.mp4"
        assert demo.main(["--source", str(media_dir / "audrey.jpg"), "--driving", str(clip), "--checkpoint",
                          str(checkpoint), "--result_video", str(out), "--device", "cpu", *flags]) == 0
        results[name] = np.array([mouth_opening(backend.landmarks(f)) for f in iter_frames(out)])
    follows = np.corrcoef(driving, results["retarget"])[0, 1]
    assert follows > 0.8
    # most of the driving mouth's rise shows on the photo's mouth
    rise = results["retarget"] - results["retarget"][0]
    assert rise.max() > 0.5 * np.ptp(driving)
    assert follows > np.corrcoef(driving, results["model"])[0, 1]
