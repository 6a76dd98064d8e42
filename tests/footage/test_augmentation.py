"""Augmentation on real frames: one draw per clip, independent time/horizontal flips, full colour jitter."""
from __future__ import annotations

import numpy as np
import pytest

from footage import AllAugmentationTransform

FLIPS = {"flip_param": {"horizontal_flip": True, "time_flip": True}}


@pytest.fixture(scope="module")
def pair(clips):
    """Two distinct real frames (float32 HxWx3) of franck, non-square to catch height/width mix-ups."""
    frames = [clips["franck"][2][:, 4:60] / np.float32(255), clips["franck"][15][:, 4:60] / np.float32(255)]
    assert np.abs(frames[0] - frames[1]).mean() > 0.01
    return [f.astype(np.float32) for f in frames]


def outcome(out, pair):
    """Which flips produced `out` from `pair`: (time flipped, mirrored); fails if it is neither."""
    for time_flip in (False, True):
        for mirror in (False, True):
            expected = pair[::-1] if time_flip else pair
            if mirror:
                expected = [f[:, ::-1] for f in expected]
            if all(np.array_equal(o, e) for o, e in zip(out, expected)):
                return time_flip, mirror
    raise AssertionError("output is not a flipped version of the input")


def test_horizontal_flip_is_shared_by_both_frames(pair):
    transform = AllAugmentationTransform(flip_param={"horizontal_flip": True, "time_flip": False})
    seen = set()
    for seed in range(16):
        out = transform(pair, rng=np.random.default_rng(seed))
        assert len(out) == 2 and out[0].shape == pair[0].shape and out[0].dtype == np.float32
        seen.add(outcome(out, pair))
    assert seen == {(False, False), (False, True)}


def test_time_flip_and_horizontal_flip_combine(pair):
    transform = AllAugmentationTransform(**FLIPS)
    seen = {outcome(transform(pair, rng=np.random.default_rng(seed)), pair) for seed in range(40)}
    assert seen == {(False, False), (False, True), (True, False), (True, True)}


def test_draws_follow_numpy_global_state(pair):
    transform = AllAugmentationTransform(**FLIPS, rotation_param={"degrees": 10},
                                         jitter_param={"brightness": 0.2, "hue": 0.1})
    np.random.seed(7)
    first = transform(pair)
    np.random.seed(7)
    again = transform(pair)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    same_generator = [transform(pair, rng=np.random.default_rng(3)) for _ in range(2)]
    assert all(np.array_equal(a, b) for a, b in zip(*same_generator))


@pytest.mark.parametrize("component", ["brightness", "contrast", "saturation", "hue"])
def test_each_jitter_component_changes_frames_within_range(pair, component):
    transform = AllAugmentationTransform(jitter_param={component: 0.3 if component != "hue" else 0.1})
    for seed in range(4):
        out = transform(pair, rng=np.random.default_rng(seed))
        for o, p in zip(out, pair):
            assert o.shape == p.shape and o.min() >= 0.0 and o.max() <= 1.0
            assert np.abs(o - p).mean() > 1e-3


def test_brightness_factor_is_shared_by_both_frames(pair):
    transform = AllAugmentationTransform(jitter_param={"brightness": 0.5})
    out = transform(pair, rng=np.random.default_rng(1))
    ratios = []
    for o, p in zip(out, pair):
        ok = (p > 0.05) & (o < 0.999)  # unclipped pixels
        ratios.append(np.median(o[ok] / p[ok]))
    assert abs(ratios[0] - 1.0) > 0.01
    assert ratios[0] == pytest.approx(ratios[1], rel=1e-3)


def test_full_jitter_applies_all_four(pair):
    everything = {"brightness": 0.1, "contrast": 0.1, "saturation": 0.1, "hue": 0.1}
    transform = AllAugmentationTransform(jitter_param=everything)
    assert len(transform.transforms) == 1
    out = transform(pair, rng=np.random.default_rng(5))
    # compare with each single adjustment drawn from the same generator state: the full jitter differs
    # from all of them, so more than one adjustment was applied
    for name in everything:
        single = AllAugmentationTransform(jitter_param={name: everything[name]})
        alone = single(pair, rng=np.random.default_rng(5))
        assert np.abs(out[0] - alone[0]).mean() > 1e-4
    assert all(o.min() >= 0.0 and o.max() <= 1.0 for o in out)


def test_crop_uses_height_and_width_the_right_way(pair):
    h, w = pair[0].shape[:2]  # 64 x 56
    crop = AllAugmentationTransform(crop_param={"size": [40, 52]})
    for seed in range(6):
        out = crop(pair, rng=np.random.default_rng(seed))
        assert out[0].shape == out[1].shape == (40, 52, 3)
        # the crop is a window of the input, at the same place in both frames
        found = [(y, x) for y in range(h - 40 + 1) for x in range(w - 52 + 1)
                 if np.array_equal(out[0], pair[0][y:y + 40, x:x + 52])]
        assert len(found) == 1
        y, x = found[0]
        assert np.array_equal(out[1], pair[1][y:y + 40, x:x + 52])
    padded = AllAugmentationTransform(crop_param={"size": [70, 60]})(pair, rng=np.random.default_rng(0))
    assert padded[0].shape == (70, 60, 3)
    np.testing.assert_array_equal(padded[0][3:67, 2:58], pair[0])  # centred, edge padded
    np.testing.assert_array_equal(padded[0][0], padded[0][3])


def test_resize_then_crop_and_rotation_keep_shapes(pair):
    transform = AllAugmentationTransform(resize_param={"ratio": [0.9, 1.1]}, crop_param={"size": [64, 56]},
                                         rotation_param={"degrees": 15})
    for seed in range(5):
        out = transform(pair, rng=np.random.default_rng(seed))
        assert [o.shape for o in out] == [(64, 56, 3)] * 2
        assert all(o.min() >= 0.0 and o.max() <= 1.0 for o in out)
        assert np.abs(out[0] - pair[0]).mean() > 1e-3  # something happened
    scaled = AllAugmentationTransform(resize_param={"ratio": [0.5, 0.5]})(pair, rng=np.random.default_rng(0))
    assert scaled[0].shape == (32, 28, 3)
    # a half-size frame is the input seen from afar: compare against a 2x2 block mean
    blocks = pair[0].reshape(32, 2, 28, 2, 3).mean(axis=(1, 3))
    assert np.abs(scaled[0] - blocks).mean() < 0.01
