"""The networks take the YAML keys and nothing else: every bundled config builds, a misspelt key is a TypeError."""
import glob

import pytest
import torch
import yaml

from modules.discriminator import MultiScaleDiscriminator
from modules.generator import OcclusionAwareGenerator
from modules.keypoint_detector import KPDetector
from tests.conftest import ROOT

CONFIGS = sorted(glob.glob(str(ROOT / "config" / "*.yaml")))


def params(path):
    with open(path) as f:
        return yaml.safe_load(f)["model_params"]


def test_there_are_twelve_configs():
    assert len(CONFIGS) == 12


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.rsplit("/", 1)[-1])
def test_every_config_builds_with_the_original_call(path):
    mp = params(path)
    common = mp["common_params"]
    with torch.device("meta"):
        KPDetector(**mp["kp_detector_params"], **common)
        OcclusionAwareGenerator(**mp["generator_params"], **common)
        MultiScaleDiscriminator(**mp["discriminator_params"], **common)


@pytest.mark.parametrize("which", ["kp_detector", "generator", "discriminator", "dense_motion"])
def test_a_misspelt_key_is_refused(which):
    mp = params(ROOT / "config" / "vox-256.yaml")
    common = mp["common_params"]
    with torch.device("meta"), pytest.raises(TypeError, match="num_block"):
        if which == "kp_detector":
            KPDetector(**mp["kp_detector_params"], **common, num_block=5)
        elif which == "generator":
            OcclusionAwareGenerator(**mp["generator_params"], **common, num_block=5)
        elif which == "discriminator":
            MultiScaleDiscriminator(**mp["discriminator_params"], **common, num_block=5)
        else:
            dense = {**mp["generator_params"]["dense_motion_params"], "num_block": 5}
            OcclusionAwareGenerator(**{**mp["generator_params"], "dense_motion_params": dense}, **common)
