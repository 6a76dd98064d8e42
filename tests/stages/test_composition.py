"""How stages compose: depth as a mask for the stages around it, the depth colour map refused after other stages,
one line per stage saying what it does to the picture, and the up-front time estimate."""
from pathlib import Path

import numpy as np
import pytest

from errors import UserError
from stages import Stage, apply_stages, register_stage
from stages.depth import DepthStage
from video import load_image, read_frames, to_float

ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT = ROOT / "checkpoints" / "stillmotion-vox-128.pth.tar"
DREAM = {"num_octaves": 2, "num_iterations": 5, "jitter": 4}
DEPTH = {"backend": "face_prior"}


@register_stage("test_darken")
class Darken(Stage):
    def process(self, frame, ctx, init=None):
        return frame * 0.25


@pytest.fixture(scope="module")
def animation():
    """Four frames of the bundled model animating data/source.jpg with data/driving.mp4, at 128x128."""
    if not CHECKPOINT.is_file():
        pytest.skip(f"needs the trained demo checkpoint {CHECKPOINT.name}")
    from engine.animate import Animator
    from engine.inference import load_model

    animator = Animator(load_model(str(CHECKPOINT), device="cpu"), batch_size=4)
    animator.set_source(load_image(ROOT / "data" / "source.jpg"))
    driving = [to_float(f) for f in read_frames(ROOT / "data" / "driving.mp4", [0, 10, 20, 30], size=(128, 128))]
    return [a.image for a in animator.run(driving)]


def near_and_far(frame):
    """Boolean maps of the near (the face: depth > 0.6) and clearly far (< 0.1) pixels of a frame, by the face
    prior, and the depth itself."""
    depth = DepthStage(**DEPTH).estimate(frame)
    return depth > 0.6, depth < 0.1, depth


def test_dream_style_depth_keeps_dream_and_style_on_the_near_parts(animation):
    params = {"dream": DREAM, "depth": DEPTH}
    lines = []
    masked = list(apply_stages(animation, "dream,style,depth", params, report=lines.append))
    unmasked = list(apply_stages(animation, "dream,style", params, report=lambda s: None))
    styled = list(apply_stages(animation, "style", params, report=lambda s: None))
    assert any("depth (3/3) keeps the work of dream, style on the near parts" in line for line in lines)
    # frame 0 (no smoothing history): exactly raw + depth (dream + style - raw), depth from the raw frame
    near, far, depth = near_and_far(animation[0])
    np.testing.assert_allclose(masked[0], animation[0] + depth[..., None] * (unmasked[0] - animation[0]), atol=1e-5)
    for raw, out, both, style in zip(animation, masked, unmasked, styled):
        near, far, _ = near_and_far(raw)
        assert near.sum() > 500 and far.sum() > 500
        work = np.abs(both - raw).mean(axis=2)
        assert work[near].mean() > 0.1 and work[far].mean() > 0.1   # dream + style changed everything
        # near: nearer the dreamed and styled picture than the raw frame, and not the style alone (the dream
        # is there); out = raw + mask (both - raw) with the mask above 0.6 there
        to_both, to_raw = np.abs(out - both).mean(axis=2)[near].mean(), np.abs(out - raw).mean(axis=2)[near].mean()
        assert to_both < 0.75 * to_raw and to_raw > 0.05
        assert np.abs(out - style).mean(axis=2)[near].mean() > 0.02
        # far (mask under 0.1): back to the raw frame (no colour map, no uniform frame)
        assert np.abs(out - raw).mean(axis=2)[far].mean() < 0.15 * work[far].mean()


def test_depth_first_masks_the_later_stages_and_focus_far_reverses_it(animation):
    clip = animation[:2]
    near, far, _ = near_and_far(clip[0])
    for focus in ("near", "far"):
        lines = []
        out = next(apply_stages(clip, "depth,dream,style", {"dream": DREAM, "depth": {**DEPTH, "focus": focus}},
                                report=lines.append))
        change = np.abs(out - clip[0]).mean(axis=2)
        assert sum("near parts" in line or "background" in line for line in lines) >= 3   # depth, dream, style
        more, less = (near, far) if focus == "near" else (far, near)
        # the mask is about 0.1 on the background and 0.6-0.85 on the face (face prior): the part the focus
        # names changes at least twice as much as the other
        assert change[more].mean() > 0.08 and change[less].mean() < 0.5 * change[more].mean(), focus


def test_a_depth_colour_map_after_other_stages_is_refused_in_one_line(animation):
    for output in ("colormap", "color"):
        with pytest.raises(UserError) as info:
            apply_stages(animation, "test_darken,depth", {"depth": {**DEPTH, "output": output}})
        message = str(info.value)
        assert "\n" not in message and "after test_darken" in message and "put depth first" in message
    # first, the colour map is what later stages receive; alone it is the default output
    lines = []
    shown = next(apply_stages(animation, "depth", {"depth": DEPTH}, report=lines.append))
    assert any("replaces the picture with its depth" in line for line in lines)
    darkened = next(apply_stages(animation, "depth,test_darken", {"depth": {**DEPTH, "output": "colormap"}}))
    np.testing.assert_allclose(darkened, shown * 0.25, atol=1e-6)


def test_every_stage_says_what_it_does_and_the_run_estimates_its_time(animation):
    lines = []
    run = apply_stages(animation[:3], "test_darken,depth", {"depth": DEPTH}, report=lines.append, total=3)
    assert any(line.strip().startswith("test_darken (1/2)") for line in lines)
    assert any(line.strip().startswith("depth (2/2) keeps the work of test_darken") for line in lines)
    out = list(run)
    assert any("first frame took" in line and "for the other 2 frames" in line for line in lines)
    assert any("second frame took" in line and "for the other 1 frames" in line for line in lines)
    summary = run.summary()
    assert "test_darken" in summary and "depth" in summary and "s/f" in summary
    assert run.clock.frames == 3 and all(v >= 0 for v in run.clock.per_frame().values())
    # a stage that does not weight its effect by the mask itself is weighted by the pipeline
    lines.clear()
    masked = list(apply_stages(animation[:1], "depth,test_darken", {"depth": DEPTH}, report=lines.append))
    _, _, depth = near_and_far(animation[0])
    np.testing.assert_allclose(masked[0], animation[0] * (1 - 0.75 * depth[..., None]), atol=1e-5)
    assert len(out) == 3
