"""Warping error (Lai et al. 2018): zero for a still video, larger for flicker and for broken temporal order."""
import numpy as np
import pytest

from evaluation.warping_error import WarpingError, warping_error
from video import iter_frames


@pytest.fixture(scope="module")
def clip(media_dir):
    return [f.astype(np.float32) / 255 for f in iter_frames(media_dir / "franck.mp4", 200, 212, size=(160, 128))]


def test_a_still_video_has_no_error(clip):
    assert warping_error([clip[0]] * 4) < 1e-7  # Farneback finds ~1e-3 px of motion in equal frames
    assert warping_error([clip[0]] * 4, flow="dis") < 1e-7
    assert warping_error(clip) > 1e-5


def test_a_pure_shift_is_followed_not_counted(clip):
    shifted = [np.roll(clip[0], 2 * t, axis=1) for t in range(4)]
    moving = warping_error(shifted, flow="dis")
    unaligned = np.mean([((a - b) ** 2).mean() for a, b in zip(shifted, shifted[1:])])
    assert moving < 0.1 * unaligned


@pytest.mark.parametrize("flow", ["farneback", "dis"])
def test_flicker_and_shuffling_raise_the_error(clip, flow):
    rng = np.random.default_rng(0)
    flicker = [np.clip(f + rng.uniform(-0.05, 0.05, 3).astype(np.float32), 0, 1) for f in clip]
    base = warping_error(clip, flow=flow)
    assert warping_error(flicker, flow=flow, reference_frames=clip) > 5 * base
    shuffled = [clip[i] for i in (0, 6, 2, 9, 4, 11, 1, 7)]
    assert warping_error(shuffled, flow=flow) > 1.5 * base  # measured: 6.5x (farneback), 2.1x (dis)


def test_reference_frames_decide_the_flow(clip):
    """Flow from the clean video: noise in the judged frames counts fully; flow from the noisy frames
    themselves would partly follow the noise."""
    rng = np.random.default_rng(1)
    noisy = [np.clip(f + rng.normal(0, 0.05, f.shape).astype(np.float32), 0, 1) for f in clip[:5]]
    with_reference = warping_error(noisy, reference_frames=clip[:5])
    assert with_reference == pytest.approx(2 * 0.05**2, rel=0.3)  # two independent noise fields
    with pytest.raises(ValueError, match="ran out"):
        warping_error(noisy, reference_frames=clip[:3])


def test_the_streaming_meter_matches_the_function_and_masks_occlusions(clip):
    meter = WarpingError("farneback")
    assert meter.update(clip[0]) is None and np.isnan(meter.value)
    for frame in clip[1:6]:
        assert meter.update(frame) >= 0
    assert meter.count == 5
    assert meter.value == pytest.approx(warping_error(clip[:6]), rel=1e-6)
    # a frame pasted in the middle of a static video: masked out where the two disagree (a scene cut)
    other = clip[0].copy()
    other[30:90, 40:120] = np.roll(clip[5], 40, axis=0)[30:90, 40:120]
    cut = WarpingError("dis")
    cut.update(clip[0])
    cut.update(other)
    assert cut.masked_share[0] > 0.05


def test_the_animation_motion_can_be_the_judge(clip):
    """Frames made by warping a photo with known deformations: the motion judge aligns them (error far
    below the unaligned difference) and leaves out what the occlusion maps call occluded."""
    import torch
    import torch.nn.functional as F

    source = torch.from_numpy(clip[0]).permute(2, 0, 1)[None]
    g = np.linspace(-1, 1, 32, dtype=np.float32)
    x, y = np.meshgrid(g, g)
    frames, motions = [], []
    for t in range(4):
        d = np.stack([0.9 * x + 0.03 * t, 0.9 * y - 0.02 * t], 2).astype(np.float32)
        grid = F.interpolate(torch.from_numpy(d).permute(2, 0, 1)[None], size=(128, 160), mode="bilinear")
        frames.append(F.grid_sample(source, grid.permute(0, 2, 3, 1), align_corners=False)[0].permute(1, 2, 0).numpy())
        occlusion = np.ones((32, 32), np.float32)
        occlusion[8:16, 8:16] = 0.0 if t == 2 else 1.0
        motions.append({"deformation": d, "occlusion": occlusion})
    unaligned = np.mean([((a - b) ** 2).mean() for a, b in zip(frames, frames[1:])])
    meter = WarpingError("motion")
    for frame, motion in zip(frames, motions):
        meter.update(frame, motion=motion)
    assert meter.value < 0.1 * unaligned
    assert meter.masked_share[1] > meter.masked_share[0] + 0.03  # the pair ending at t = 2
    assert warping_error(frames, flow="motion", motions=motions) == pytest.approx(meter.value)
