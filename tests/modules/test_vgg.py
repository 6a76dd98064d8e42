"""modules/vgg.py: the one VGG builder, layer names by block, named taps."""
import pytest
import torch
from torch import nn
from torchvision import models

from modules.vgg import PYRAMID_LAYERS, VggFeatures, VggTaps, layer_index, layer_names, random_vgg


@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
def test_the_builder_matches_torchvision_and_the_names_match_the_layers(arch):
    reference = getattr(models, arch)(weights=None).features
    ours = VggFeatures(arch)
    assert {k: v.shape for k, v in ours.state_dict().items()} == \
        {f"features.{k}": v.shape for k, v in reference.state_dict().items()}
    kinds = {"conv": nn.Conv2d, "relu": nn.ReLU, "pool": nn.MaxPool2d}
    names = layer_names(arch)
    assert len(names) == len(reference)
    for name, layer in zip(names, reference):
        assert isinstance(layer, kinds[name.rstrip("0123456789_")]), (name, layer)
    # block b, layer i: the i-th conv after the (b-1)-th pool
    assert names[layer_index(arch, "conv3_1")] == "conv3_1" and isinstance(reference[layer_index(arch, "pool2") + 1],
                                                                          nn.Conv2d)


def test_known_positions():
    assert [layer_index("vgg19", n) for n in PYRAMID_LAYERS] == [1, 6, 11, 20, 29]
    assert [layer_index("vgg16", n) for n in ("relu1_2", "relu2_2", "relu3_3", "relu4_3")] == [3, 8, 15, 22]
    with pytest.raises(ValueError, match="no layer 'relu5_4'"):
        layer_index("vgg16", "relu5_4")


def test_taps_give_the_activations_of_a_manual_pass():
    torch.manual_seed(0)
    vgg = random_vgg("vgg16", 3)
    x = torch.rand(1, 3, 32, 32)
    taps = VggTaps(vgg.features, "vgg16", ("relu1_2", "relu3_3"))
    out = taps(x)
    assert list(out) == ["relu1_2", "relu3_3"]
    h, manual = x, {}
    for i, layer in enumerate(vgg.features):
        h = layer(h)
        manual[i] = h.clone()
    assert torch.equal(out["relu1_2"], manual[3]) and torch.equal(out["relu3_3"], manual[15])
    assert list(taps(x, until="relu1_2")) == ["relu1_2"]
    with pytest.raises(ValueError, match="not in the order"):
        VggTaps(vgg.features, "vgg16", ("relu3_3", "relu1_2"))


def test_a_seed_gives_one_random_init():
    a, b, c = random_vgg("vgg16", 0), random_vgg("vgg16", 0), random_vgg("vgg16", 1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.features[0].weight, c.features[0].weight)


def test_the_random_init_is_torchvisions_for_the_seed_and_leaves_the_global_state_alone():
    torch.manual_seed(5)
    reference = models.vgg16(weights=None).features  # torchvision's own init after the seed: the oracle
    state = torch.random.get_rng_state()
    ours = random_vgg("vgg16", 5)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(ours.features.state_dict().values(), reference.state_dict().values()))
