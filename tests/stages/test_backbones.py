"""Backbone loading: torchvision weight files found by their exact names in the hub cache, seeded random fallbacks."""
import os

import pytest
import torch
from torchvision import models

from errors import UserError
from stages.backbones import CLASSIFIERS, cached_published_file, load_classifier, load_vgg_features


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    """An empty TORCH_HOME: its hub checkpoint folder is where torchvision would have put downloads."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    ckpt = tmp_path / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    return ckpt


def test_published_files_are_found_by_torchvision_file_name(torch_home):
    for name, spec in CLASSIFIERS.items():
        assert cached_published_file(spec.weights) is None, name
        wanted = os.path.basename(spec.weights.DEFAULT.url)
        (torch_home / wanted).write_bytes(b"x")
        assert cached_published_file(spec.weights) == torch_home / wanted, name
    assert (torch_home / "vgg19-dcbb9e9d.pth").is_file()
    assert (torch_home / "resnet50-11ad3fa6.pth").is_file()   # DEFAULT of ResNet50_Weights is V2


def test_googlenet_file_in_cache_is_loaded_and_reported(torch_home):
    torch.manual_seed(123)
    reference = models.googlenet(weights=None, aux_logits=True, init_weights=True)
    torch.save(reference.state_dict(), torch_home / "googlenet-1378be20.pth")

    auto = load_classifier("googlenet")
    assert auto.published and auto.source == str(torch_home / "googlenet-1378be20.pth")
    assert "published ImageNet weights" in auto.describe()
    assert torch.equal(auto.model.inception4c.branch1.conv.weight, reference.inception4c.branch1.conv.weight)
    assert torch.equal(auto.model.fc.weight, reference.fc.weight)
    assert auto.model.aux1 is None and auto.model.transform_input   # as torchvision sets up its published model
    assert not any(p.requires_grad for p in auto.model.parameters()) and not auto.model.training

    rand = load_classifier("googlenet", weights="random", seed=0)
    assert not rand.published and "random" in rand.describe()
    assert not torch.equal(rand.model.fc.weight, reference.fc.weight)


def test_vgg19_features_load_from_the_features_of_a_vgg19_file(torch_home):
    net = load_vgg_features("vgg19", weights="random", seed=7).model
    path = torch_home / "vgg19-dcbb9e9d.pth"
    torch.save(net.state_dict(), path)   # the features.* part of a torchvision vgg19 state_dict
    got = load_vgg_features("vgg19", weights="imagenet")
    assert got.published and got.source == str(path)
    assert torch.equal(got.model.features[34].weight, net.features[34].weight)
    with pytest.raises(UserError, match="not a torchvision vgg19 state_dict"):
        load_classifier("vgg19")   # the whole classifier needs the head too: a clear error, not a crash


def test_imagenet_without_cache_is_a_user_error_and_auto_falls_back(torch_home):
    with pytest.raises(UserError, match="not in the torch hub cache"):
        load_vgg_features("vgg16", weights="imagenet")
    fallback = load_vgg_features("vgg16", weights="auto")
    assert not fallback.published and "offline default" in fallback.describe()


def test_random_weights_are_seeded_and_keep_activations_alive():
    a = load_vgg_features("vgg16", weights="random", seed=0).model
    b = load_vgg_features("vgg16", weights="random", seed=0).model
    c = load_vgg_features("vgg16", weights="random", seed=1).model
    assert torch.equal(a.features[0].weight, b.features[0].weight)
    assert not torch.equal(a.features[0].weight, c.features[0].weight)
    with torch.no_grad():
        out = a(torch.randn(1, 3, 64, 64))
    assert 0.05 < out.std().item() < 50   # kaiming init: deep activations neither vanish nor explode


def test_broken_or_foreign_files_are_user_errors(torch_home, tmp_path):
    (torch_home / "googlenet-1378be20.pth").write_bytes(b"truncated download")
    with pytest.raises(UserError, match="cannot read googlenet weights"):
        load_classifier("googlenet")
    other = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(3)}, other)
    with pytest.raises(UserError, match="not a torchvision resnet50 state_dict"):
        load_classifier("resnet50", weights=str(other))
    with pytest.raises(UserError, match="neither one of auto, imagenet, random"):
        load_classifier("resnet50", weights="imagenet1k")
