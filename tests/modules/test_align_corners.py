"""grid_sample convention as a model option: False (the reference code on modern torch) or True (torch 1.0)."""
import pytest
import torch

from tests.modules.golden import assert_close, fresh, golden


def identity_kp(k=10, b=1):
    value = torch.rand(b, k, 2) * 1.6 - 0.8
    return {"value": value, "jacobian": torch.eye(2).expand(b, k, 2, 2).clone()}


@pytest.mark.parametrize("align_corners", [False, True])
def test_option_reaches_every_grid_sample(align_corners):
    _, gen, _ = fresh("eval", align_corners=align_corners)
    assert gen.align_corners is align_corners
    assert gen.dense_motion_network.align_corners is align_corners


def test_true_makes_the_identity_motion_an_exact_identity_warp():
    image = torch.rand(1, 3, 16, 16)
    kp = identity_kp()
    _, gen, _ = fresh("eval", align_corners=True)
    dm = gen.dense_motion_network
    sparse = dm.create_sparse_motions(image, kp, kp)
    assert torch.allclose(dm.create_deformed_source_image(image, sparse)[:, 0], image, atol=1e-6)
    _, gen_false, _ = fresh("eval", align_corners=False)
    dm = gen_false.dense_motion_network
    shifted = dm.create_deformed_source_image(image, sparse)[:, 0]
    # Under align_corners=False the [-1, 1] pixel-centre grid lands between pixels: a slight zoom-out blur.
    assert (shifted - image).abs().max() > 1e-2


def test_false_reproduces_the_reference_and_true_differs():
    g = golden()
    source = g["inputs"]["source"]
    ev = g["eval"]
    outs = {}
    for flag in (False, True):
        _, gen, _ = fresh("eval", align_corners=flag)
        with torch.no_grad():
            outs[flag] = gen(source, kp_driving=ev["kp_driving"], kp_source=ev["kp_source"])
    assert_close(outs[False], ev["generator"], "align_corners=False")
    assert (outs[True]["deformed"] - ev["generator"]["deformed"]).abs().max() > 1e-3
