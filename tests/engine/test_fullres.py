"""The full-resolution output (engine.fullres): the sharp warp where the occlusion map trusts it, the generator where
it does not, exact at zero motion, at any size, on a real photo."""
import numpy as np
import pytest

from engine.fullres import FullResComposer, upsample_linear
from modules.geometry import make_coordinate_grid
from video import load_image


@pytest.fixture(scope="module")
def photo(media_dir):
    return load_image(media_dir / "audrey.jpg")  # 720x540 real photo


def identity(cells: int) -> np.ndarray:
    """FOMM's identity deformation on a cells x cells grid (its own coordinate grid)."""
    return make_coordinate_grid((cells, cells)).numpy()


def composer(photo, box, side=64, reference=None, **kw):
    x0, y0, x1, y1 = box
    model_source = np.ascontiguousarray(photo[y0:y1:(y1 - y0) // side, x0:x1:(x1 - x0) // side][:side, :side])
    return FullResComposer(photo, box, model_source, model_source if reference is None else reference, **kw), \
        model_source


def test_zero_motion_gives_the_photo_exactly_at_its_own_resolution(photo):
    box = (100, 150, 420, 470)  # a 320x320 crop inside the 540x720 photo
    comp, model_source = composer(photo, box, reference=np.full((64, 64, 3), 0.3, np.float32))
    out = comp.compose(np.full((64, 64, 3), 0.3, np.float32), identity(16), np.full((16, 16), 0.99, np.float32))
    assert out.shape == (320, 320, 3)
    np.testing.assert_allclose(out, photo[150:470, 100:420], atol=1e-4)  # float32 grid rounding; 1/255 = 4e-3


def test_where_the_occlusion_map_is_one_the_output_is_the_warped_source(photo):
    box = (100, 150, 420, 470)
    comp, model_source = composer(photo, box)
    cells, shift = 16, 7  # move the content 7 output pixels to the left: sample 7 pixels to the right
    delta = 2 * cells * shift / ((cells - 1) * 320)
    deformation = identity(cells) + np.array([delta, 0], np.float32)
    out = comp.compose(model_source, deformation, np.ones((cells, cells), np.float32), shading=False)
    # the oracle: the photo itself, 7 pixels further right (the crop sees outside its box: the whole photo)
    np.testing.assert_allclose(out, photo[150:470, 107:427], atol=1e-4)


def test_where_the_occlusion_map_is_zero_the_output_is_the_generator_prediction(photo):
    box = (100, 150, 164, 214)  # box at the model's own size: no resampling of the prediction
    comp, model_source = composer(photo, box)  # reference == model source: no colour correction
    rng = np.random.default_rng(0)
    prediction = rng.random((64, 64, 3), dtype=np.float32)
    deformation = identity(16) + rng.normal(0, 0.05, (16, 16, 2)).astype(np.float32)
    out = comp.compose(prediction, deformation, np.zeros((16, 16), np.float32), shading=False)
    np.testing.assert_allclose(out, prediction, atol=1e-6)


def test_weight_blends_between_the_two(photo):
    box = (100, 150, 164, 214)
    comp, model_source = composer(photo, box)
    prediction = np.zeros((64, 64, 3), np.float32)
    occlusion = np.zeros((16, 16), np.float32)
    occlusion[:, 8:] = 1.0  # right half trusted
    out = comp.compose(prediction, identity(16), occlusion, shading=False)
    assert np.abs(out[:, :24]).max() < 1e-6  # painted (black prediction)
    np.testing.assert_allclose(out[:, 44:], photo[150:214, 144:164], atol=1e-5)  # the photo


@pytest.mark.parametrize("size", [(100, 80), (320, 320), (37, 211)])
def test_output_has_the_requested_size(photo, size):
    comp, model_source = composer(photo, (100, 150, 420, 470), out_size=size)
    out = comp.compose(model_source, identity(16), np.ones((16, 16), np.float32))
    assert out.shape == (size[1], size[0], 3)
    assert 0 <= out.min() and out.max() <= 1


def test_upsampling_extrapolates_a_linear_field_exactly():
    y, x = np.mgrid[0:8, 0:8].astype(np.float32)
    field = np.stack([0.3 * x + 0.1 * y, -0.2 * x + 0.5 * y])[None]
    import torch

    up = upsample_linear(torch.from_numpy(field), (40, 40))[0].numpy()
    # cell-centred: output pixel j sits at input cell coordinate (j + 0.5) / 5 - 0.5, borders included
    coord = (np.arange(40) + 0.5) / 5 - 0.5
    yy, xx = np.meshgrid(coord, coord, indexing="ij")
    np.testing.assert_allclose(up[0], 0.3 * xx + 0.1 * yy, atol=1e-5)
    np.testing.assert_allclose(up[1], -0.2 * xx + 0.5 * yy, atol=1e-5)


def test_trust_is_relative_to_the_no_motion_occlusion_map(photo):
    """A network that trusts an unfamiliar face only 0.6 everywhere still gives the photo with no motion; a drop
    below that baseline (something revealed) paints."""
    box = (100, 150, 164, 214)
    low = np.full((16, 16), 0.6, np.float32)
    prediction = np.zeros((64, 64, 3), np.float32)
    relative, model_source = composer(photo, box, reference_occlusion=low)
    absolute, _ = composer(photo, box)
    np.testing.assert_allclose(relative.compose(prediction, identity(16), low, shading=False), photo[150:214, 100:164],
                               atol=1e-4)
    painted = absolute.compose(prediction, identity(16), low, shading=False)  # taken as it is: mostly painted
    assert np.abs(painted - photo[150:214, 100:164]).mean() > 0.2
    dropped = low.copy()
    dropped[:, :8] = 0.2  # a third of the baseline on the left half
    out = relative.compose(prediction, identity(16), dropped, shading=False)
    assert np.abs(out[:, :24]).max() < 1e-6
    np.testing.assert_allclose(out[:, 44:], photo[150:214, 144:164], atol=1e-4)
