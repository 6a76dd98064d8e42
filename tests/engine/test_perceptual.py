"""engine.perceptual.build_vgg: the loss network's weight words mean what they mean for the stages."""
import torch

from engine.perceptual import build_vgg

PARAMS = {"loss_weights": {"perceptual": [10] * 5}}


def test_auto_is_random_without_the_cached_file_and_imagenet_with_it(tmp_path, monkeypatch):
    from torchvision.models import vgg19

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    vgg, line = build_vgg({**PARAMS, "vgg_weights": "auto"}, seed=3)
    random_vgg, _ = build_vgg({**PARAMS, "vgg_weights": "random"}, seed=3)
    assert "RANDOM" in line and torch.equal(vgg.taps.stack[0].weight, random_vgg.taps.stack[0].weight)
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    torch.manual_seed(5)
    reference = vgg19(weights=None)
    torch.save(reference.state_dict(), tmp_path / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth")
    for words in ("auto", "imagenet"):  # with the file cached, both load it, and say from where
        vgg, line = build_vgg({**PARAMS, "vgg_weights": words})
        assert "ImageNet" in line and str(tmp_path) in line
        assert torch.equal(vgg.taps.stack[0].weight, reference.features[0].weight)
