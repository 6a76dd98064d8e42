"""FOMM datasets: video frame sources, the frames dataset, repeats, animation pairs and augmentation."""
from footage.augmentation import AllAugmentationTransform
from footage.frames import FramesDataset, worker_init_fn
from footage.pairs import PairedDataset
from footage.repeat import DatasetRepeater
from footage.sources import open_source

__all__ = [
    "AllAugmentationTransform",
    "DatasetRepeater",
    "FramesDataset",
    "PairedDataset",
    "open_source",
    "worker_init_fn",
]
