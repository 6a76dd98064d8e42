"""engine.grow: a trained 64x64 model's weights start a 128x128 model that sees the same motion."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from engine.build import build_networks
from engine.checkpoint import load_networks, read_checkpoint
from engine.config import load_config
from engine.grow import grow
from errors import UserError
from tests.conftest import ROOT

BUNDLED = ROOT / "checkpoints" / "stillmotion-vox-64.pth.tar"
CONFIG_128 = ROOT / "config" / "stillmotion-vox-128.yaml"


@pytest.fixture(scope="module")
def grown(tmp_path_factory):
    out = tmp_path_factory.mktemp("grow") / "init-128.pth.tar"
    report = grow(BUNDLED, CONFIG_128, out)
    return out, report


def test_grow_copies_every_learned_tensor_and_takes_antialias_kernels_from_the_new_config(grown):
    out, report = grown
    old, new = read_checkpoint(BUNDLED), read_checkpoint(out)
    assert new["epoch"] == -1 and "stillmotion" not in new  # training starts at step 0 with these weights
    assert sorted(report["from_config"]) == ["generator.dense_motion_network.down.weight", "kp_detector.down.weight"]
    fresh = build_networks(load_config(CONFIG_128)["model_params"])
    for name in ("kp_detector", "generator"):
        for key, value in new[name].items():
            if f"{name}.{key}" in report["from_config"]:
                assert value.shape != old[name][key].shape
                assert torch.equal(value, getattr(fresh, name).state_dict()[key])
            else:
                assert torch.equal(value, old[name][key]), key
    assert report["copied"] == sum(len(new[n]) for n in ("kp_detector", "generator")) - 2


def test_grown_model_finds_the_same_keypoints_on_a_frame_twice_the_size(grown, media_dir):
    # both detectors look at a 32x32 copy of the frame, so on the same face they must agree closely
    out, _ = grown
    photo = Image.open(media_dir / "franck_01829.jpg").convert("RGB")
    side = min(photo.size)
    photo = photo.crop((0, 0, side, side))
    frames = {s: torch.from_numpy(np.asarray(photo.resize((s, s), Image.LANCZOS), np.float32) / 255)
              .permute(2, 0, 1)[None] for s in (64, 128)}
    kps = {}
    for size, config, path in ((64, ROOT / "config" / "stillmotion-vox-64.yaml", BUNDLED), (128, CONFIG_128, out)):
        nets = build_networks(load_config(config)["model_params"])
        load_networks(path, nets, config_path=config)
        with torch.no_grad():
            kps[size] = nets.kp_detector.eval()(frames[size])["value"][0]
    # keypoints are in [-1, 1]; 0.03 is 1 px of the 64x64 frame
    assert (kps[64] - kps[128]).abs().max() < 0.03
    # and they are not all in one place (a model that ignored the frame would also "agree")
    assert kps[128].std(0).min() > 0.1


def test_grow_refuses_a_config_with_other_channels(tmp_path):
    config = tmp_path / "wide.yaml"
    text = CONFIG_128.read_text().replace("block_expansion: 32\n    max_features: 256\n    num_down_blocks",
                                          "block_expansion: 64\n    max_features: 256\n    num_down_blocks")
    config.write_text(text)
    with pytest.raises(UserError, match="generator of .* does not fit .*wide.yaml.*channel settings"):
        grow(BUNDLED, config, tmp_path / "out.pth.tar")
    assert not (tmp_path / "out.pth.tar").exists()
