"""FOMM datasets: video frame sources, the frames dataset, repeats, animation pairs and augmentation."""
from datasets.augmentation import AllAugmentationTransform
from datasets.frames import FramesDataset, worker_init_fn
from datasets.pairs import PairedDataset
from datasets.repeat import DatasetRepeater
from datasets.sources import open_source

__all__ = [
    "AllAugmentationTransform",
    "DatasetRepeater",
    "FramesDataset",
    "PairedDataset",
    "open_source",
    "worker_init_fn",
]
