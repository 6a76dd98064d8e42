"""Offline perceptual-loss alternatives: differentiable SSIM, pixel-pyramid terms, our own generator's features."""
import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from engine.build import build_networks
from engine.config import load_config
from engine.perceptual import build_vgg
from errors import UserError
from modules.fomm_features import GeneratorFeatures
from modules.model import GeneratorFullModel
from modules.ssim import ssim

CONFIG = "config/cpu-64.yaml"


def _pair(seed=0, size=32, noise=0.1):
    rng = np.random.default_rng(seed)
    a = rng.random((size, size, 3)).astype(np.float32)
    b = np.clip(a + noise * rng.standard_normal(a.shape), 0, 1).astype(np.float32)
    return a, b


def _t(a):
    return torch.from_numpy(a).permute(2, 0, 1)[None]


def test_ssim_matches_scikit_image_gaussian_ssim():
    for noise in (0.02, 0.1, 0.3):
        a, b = _pair(noise=noise, size=48)
        ref = structural_similarity(a, b, channel_axis=2, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False)
        assert ssim(_t(a), _t(b)).item() == pytest.approx(ref, abs=1e-5)


def test_ssim_is_one_for_equal_images_and_works_below_the_window_size():
    a, b = _pair(size=8)
    assert ssim(_t(a), _t(a)).item() == pytest.approx(1.0, abs=1e-6)
    assert ssim(_t(a), _t(b)).item() < 0.99
    with pytest.raises(ValueError, match="equal"):
        ssim(_t(a), _t(a)[:, :, :4])


def _full_model(overrides, seed=0):
    cfg = load_config(CONFIG, ["train_params.vgg_weights=random", *overrides])
    torch.manual_seed(seed)
    nets = build_networks(cfg["model_params"])
    vgg, line = build_vgg(cfg["train_params"])
    return GeneratorFullModel(nets.kp_detector, nets.generator, None, cfg["train_params"], vgg=vgg), line


def test_pixel_and_ssim_terms_follow_their_weights():
    model, line = _full_model(["train_params.loss_weights.perceptual=[0,0,0,0,0]",
                               "train_params.loss_weights.pixel_l1=2", "train_params.loss_weights.ssim=3"])
    assert model.vgg is None and "off" in line
    torch.manual_seed(1)
    x = {"source": torch.rand(2, 3, 64, 64), "driving": torch.rand(2, 3, 64, 64)}
    losses, generated = model(x)
    assert "perceptual" not in losses
    pred, real = generated["prediction"].detach(), x["driving"]
    pyr_p, pyr_r = model.pyramid(pred), model.pyramid(real)
    keys = [f"prediction_{s}" for s in model.scales]
    l1 = sum(torch.abs(pyr_p[k] - pyr_r[k]).mean() for k in keys)
    s = sum((1 - ssim(pyr_p[k], pyr_r[k])).mean() for k in keys)
    assert losses["pixel_l1"].item() == pytest.approx(2 * l1.item(), rel=1e-5)
    assert losses["ssim"].item() == pytest.approx(3 * s.item(), rel=1e-5)
    sum(losses.values()).backward()
    assert model.generator.final.weight.grad.abs().sum() > 0


def test_default_config_has_no_pixel_terms():
    model, _ = _full_model([])
    losses, _ = model({"source": torch.rand(1, 3, 64, 64), "driving": torch.rand(1, 3, 64, 64)})
    assert "pixel_l1" not in losses and "ssim" not in losses and "perceptual" in losses


def _saved_checkpoint(tmp_path):
    from engine.checkpoint import save_checkpoint

    cfg = load_config(CONFIG)
    torch.manual_seed(3)
    nets = build_networks(cfg["model_params"])
    path = tmp_path / "own.pth.tar"
    save_checkpoint(path, {"kp_detector": nets.kp_detector.state_dict(), "generator": nets.generator.state_dict(),
                           "stillmotion": {"config": cfg}})
    return path, nets


def test_generator_features_are_a_frozen_eval_copy(tmp_path):
    cfg = load_config(CONFIG)
    torch.manual_seed(3)
    generator = build_networks(cfg["model_params"]).generator
    features = GeneratorFeatures(generator)
    features.train()
    assert not features.training and all(not m.training for m in features.modules())
    assert all(not p.requires_grad for p in features.parameters())
    x = torch.rand(2, 3, 64, 64)
    out = features(x)
    assert len(out) == GeneratorFeatures.num_levels
    assert [t.shape[-1] for t in out] == [64, 32, 16, 16, 16]
    generator.eval()
    with torch.no_grad():
        assert torch.allclose(out[2], generator.encode(x), atol=1e-6)
        generator.first.conv.weight.add_(1.0)  # a copy: training the generator does not move the loss network
    assert torch.allclose(features(x)[2], out[2])


def test_perceptual_network_from_a_checkpoint(tmp_path):
    path, nets = _saved_checkpoint(tmp_path)
    model, line = _full_model([f"train_params.perceptual_network={path}",
                               "train_params.loss_weights.perceptual=[1,1,1,1,1]"])
    assert isinstance(model.vgg, GeneratorFeatures) and str(path) in line
    assert torch.equal(model.vgg.levels[0].conv.weight, nets.generator.first.conv.weight)
    losses, _ = model({"source": torch.rand(1, 3, 64, 64), "driving": torch.rand(1, 3, 64, 64)})
    assert losses["perceptual"].item() > 0
    with pytest.raises(UserError, match="neither 'vgg19' nor an existing checkpoint"):
        _full_model([f"train_params.perceptual_network={tmp_path / 'missing.pth.tar'}"])
    with pytest.raises(UserError, match="has 3 weights.*5 levels"):
        _full_model([f"train_params.perceptual_network={path}", "train_params.loss_weights.perceptual=[1,1,1]"])


def test_mouth_term_is_l1_per_pixel_of_the_mask_region():
    model, _ = _full_model(["train_params.loss_weights.perceptual=[0,0,0,0,0]",
                            "train_params.loss_weights.mouth=5"])
    torch.manual_seed(2)
    mask = torch.zeros(2, 1, 64, 64)
    mask[:, :, 40:52, 20:44] = 1.0
    x = {"source": torch.rand(2, 3, 64, 64), "driving": torch.rand(2, 3, 64, 64), "driving_mouth": mask}
    losses, generated = model(x)
    assert set(losses) == {"mouth", "equivariance_value", "equivariance_jacobian"}
    pred = generated["prediction"].detach()
    pyr_p, pyr_r = model.pyramid(pred), model.pyramid(x["driving"])
    expected = 0.0
    for scale in model.scales:
        key = f"prediction_{scale}"
        region = torch.nn.functional.interpolate(mask, size=pyr_p[key].shape[-2:], mode="area")
        inside = torch.abs(pyr_p[key] - pyr_r[key]) * region
        expected += (inside.sum() / (region.sum() * 3)).item()
    assert losses["mouth"].item() == pytest.approx(5 * expected, rel=1e-5)
    # with the whole frame as the region it is the image-wide pixel L1 (per pixel, summed over scales)
    model.loss_weights = {**model.loss_weights, "pixel_l1": 5.0}
    model.zero_grad()
    again, _ = model({**x, "driving_mouth": torch.ones_like(mask)})
    assert again["mouth"].item() == pytest.approx(again["pixel_l1"].item(), rel=1e-5)
    again["mouth"].backward()
    assert model.kp_extractor.kp.weight.grad.abs().sum() > 0  # it reaches the keypoints through the warp
    # an empty mask (no face found in that frame) gives no loss
    empty, _ = model({**x, "driving_mouth": torch.zeros_like(mask)})
    assert empty["mouth"].item() == 0.0
