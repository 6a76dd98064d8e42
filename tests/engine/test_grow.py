"""engine.grow: the bundled 128x128 model's weights start a 256x256 model that sees the same motion."""
import numpy as np
import pytest
import torch
from PIL import Image

from engine.build import build_networks
from engine.checkpoint import load_networks, read_checkpoint
from engine.config import load_config
from engine.grow import grow
from errors import UserError
from tests.conftest import ROOT

BUNDLED = ROOT / "checkpoints" / "stillmotion-vox-128.pth.tar"
CONFIG_128 = ROOT / "config" / "stillmotion-vox-128.yaml"


@pytest.fixture(scope="module")
def config_256(tmp_path_factory):
    """stillmotion-vox-128.yaml at 256x256, keypoints and dense motion still on 32x32 copies of the frame."""
    text = CONFIG_128.read_text()
    assert text.count("scale_factor: 0.25") == 2
    path = tmp_path_factory.mktemp("grow_config") / "stillmotion-vox-256.yaml"
    path.write_text(text.replace("scale_factor: 0.25", "scale_factor: 0.125")
                    .replace("frame_shape: [128, 128, 3]", "frame_shape: [256, 256, 3]"))
    return path


@pytest.fixture(scope="module")
def grown(tmp_path_factory, config_256):
    out = tmp_path_factory.mktemp("grow") / "init-256.pth.tar"
    report = grow(BUNDLED, config_256, out)
    return out, report


def test_grow_copies_every_learned_tensor_and_takes_antialias_kernels_from_the_new_config(grown, config_256):
    out, report = grown
    old, new = read_checkpoint(BUNDLED), read_checkpoint(out)
    assert new["epoch"] == -1 and "stillmotion" not in new  # training starts at step 0 with these weights
    assert sorted(report["from_config"]) == ["generator.dense_motion_network.down.weight", "kp_detector.down.weight"]
    fresh = build_networks(load_config(config_256)["model_params"])
    for name in ("kp_detector", "generator"):
        for key, value in new[name].items():
            if f"{name}.{key}" in report["from_config"]:
                assert value.shape != old[name][key].shape
                assert torch.equal(value, getattr(fresh, name).state_dict()[key])
            else:
                assert torch.equal(value, old[name][key]), key
    assert report["copied"] == sum(len(new[n]) for n in ("kp_detector", "generator")) - 2


def test_grown_model_finds_the_same_keypoints_on_a_frame_twice_the_size(grown, config_256, media_dir):
    # both detectors look at a 32x32 copy of the frame, so on the same face they must agree closely
    out, _ = grown
    photo = Image.open(media_dir / "franck_01829.jpg").convert("RGB")
    side = min(photo.size)
    photo = photo.crop((0, 0, side, side))
    frames = {s: torch.from_numpy(np.asarray(photo.resize((s, s), Image.LANCZOS), np.float32) / 255)
              .permute(2, 0, 1)[None] for s in (128, 256)}
    kps = {}
    for size, config, path in ((128, CONFIG_128, BUNDLED), (256, config_256, out)):
        nets = build_networks(load_config(config)["model_params"])
        load_networks(path, nets, config_path=config)
        with torch.no_grad():
            kps[size] = nets.kp_detector.eval()(frames[size])["value"][0]
    # keypoints are in [-1, 1]; 0.03 is 2 px of the 128x128 frame
    assert (kps[128] - kps[256]).abs().max() < 0.03
    # and they are not all in one place (a model that ignored the frame would also "agree")
    assert kps[256].std(0).min() > 0.1


def test_grow_refuses_a_config_with_other_channels(tmp_path, config_256):
    config = tmp_path / "wide.yaml"
    text = config_256.read_text().replace("block_expansion: 32\n    max_features: 256\n    num_down_blocks",
                                          "block_expansion: 64\n    max_features: 256\n    num_down_blocks")
    config.write_text(text)
    with pytest.raises(UserError, match="generator of .* does not fit .*wide.yaml.*channel settings"):
        grow(BUNDLED, config, tmp_path / "out.pth.tar")
    assert not (tmp_path / "out.pth.tar").exists()
