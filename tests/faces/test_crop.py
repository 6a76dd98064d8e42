"""Box and crop helpers: expand_box, iou, crop_resize with edge padding, and feathered paste_back."""
import cv2
import numpy as np
import pytest

from faces.crop import crop_resize, expand_box, feather_mask, iou, paste_back

SHAPE = (288, 360, 3)


@pytest.mark.parametrize("box,scale", [
    ((139, 96, 269, 226), 1.5),   # franck's face, room to grow
    ((0, 0, 40, 60), 1.8),        # touching the top-left corner
    ((300, 200, 360, 288), 2.0),  # touching the bottom-right corner
    ((100, 50, 200, 250), 3.0),   # grows past the image height: cut to the shorter side
])
def test_expand_box_is_square_and_inside(box, scale):
    x0, y0, x1, y1 = expand_box(box, scale, SHAPE)
    assert x1 - x0 == pytest.approx(y1 - y0)
    assert 0 <= x0 and 0 <= y0 and x1 <= SHAPE[1] + 1e-9 and y1 <= SHAPE[0] + 1e-9
    wanted = max(box[2] - box[0], box[3] - box[1]) * scale
    assert x1 - x0 == pytest.approx(min(wanted, SHAPE[0], SHAPE[1]))
    # the expanded box still covers the original one where the image allows
    assert x0 <= box[0] and y0 <= box[1] and x1 >= min(box[2], SHAPE[1]) and y1 >= min(box[3], SHAPE[0])


def test_expand_box_keeps_the_centre_when_it_fits_and_can_stay_rectangular():
    box = (139, 96, 269, 226)
    x0, y0, x1, y1 = expand_box(box, 1.2, SHAPE)
    assert ((x0 + x1) / 2, (y0 + y1) / 2) == pytest.approx((204, 161))
    x0, y0, x1, y1 = expand_box((100, 100, 140, 180), 1.5, SHAPE, square=False)
    assert (x1 - x0, y1 - y0) == pytest.approx((60, 120))


def test_iou():
    box = (139.5, 96, 269, 226)
    assert iou(box, box) == pytest.approx(1.0)
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert iou((0, 0, 0, 10), (0, 0, 0, 10)) == 0.0  # empty boxes


def test_crop_resize_inside_and_outside_the_image(frame):
    image = frame("franck.mp4", 10)
    inside = crop_resize(image, (139, 96, 269, 226), 64)
    assert inside.shape == (64, 64, 3) and inside.dtype == np.uint8
    expected = cv2.resize(image[96:226, 139:269], (64, 64), interpolation=cv2.INTER_AREA)
    assert np.array_equal(inside, expected)
    # a 100 px box hanging 20 px off the left and 30 px off the top, kept at 100 px: edge replication
    out = crop_resize(image, (-20, -30, 80, 70), 100)
    assert out.shape == (100, 100, 3)
    assert np.array_equal(out[30:, 20:], image[0:70, 0:80])
    assert np.array_equal(out[30:, :20], np.repeat(image[0:70, :1], 20, axis=1))
    assert np.array_equal(out[:30, 20:], np.repeat(image[:1, 0:80], 30, axis=0))
    assert np.all(out[:30, :20] == image[0, 0])


def test_feather_mask_ramps_from_edge_to_centre():
    mask = feather_mask(100, 80, 0.1)
    assert mask.shape == (100, 80)
    assert mask[50, 40] == 1.0 and mask[0, 0] < 0.1 and mask[50, 0] < 0.1
    assert np.all(np.diff(mask[50, :40]) >= 0)  # rises towards the middle


def test_paste_back_changes_only_the_box(frame):
    full = frame("franck.mp4", 10)
    box = (139, 96, 269, 226)
    face = 255 - crop_resize(full, box, 256)  # an obviously different face image
    pasted = paste_back(full, face, box, feather=0.1)
    assert pasted.shape == full.shape and pasted.dtype == full.dtype
    outside = np.ones(full.shape[:2], bool)
    outside[96:226, 139:269] = False
    assert np.array_equal(pasted[outside], full[outside])
    centre = cv2.resize(face, (130, 130), interpolation=cv2.INTER_AREA)[40:90, 40:90]
    assert np.abs(pasted[136:186, 179:229].astype(int) - centre).max() <= 1
    # the edge is blended: between the original and the pasted face
    assert np.abs(pasted[96, 139:269].astype(int) - full[96, 139:269]).mean() < 30
    # pasting a crop of the frame back where it came from changes almost nothing
    roundtrip = paste_back(full, crop_resize(full, box, 256), box)
    assert np.abs(roundtrip.astype(int) - full).mean() < 1.0


def test_paste_back_clips_a_box_leaving_the_image(frame):
    full = frame("franck.mp4", 10)
    pasted = paste_back(full, np.zeros((64, 64, 3), np.uint8), (300, 250, 400, 350), feather=0)
    assert pasted.shape == full.shape
    assert np.all(pasted[250:, 300:] == 0) and np.array_equal(pasted[:250], full[:250])
