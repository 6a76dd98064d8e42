"""DatasetRepeater: several passes over a dataset per epoch, to cut per-epoch overhead (as the original)."""
from __future__ import annotations

from torch.utils.data import Dataset


class DatasetRepeater(Dataset):
    """len = num_repeats * len(dataset); item i is dataset[i % len(dataset)].

    Unlike the original, a failing item raises instead of being retried forever (which hung on a bad file).
    Under DDP, DistributedSampler over the repeater shards all num_repeats passes across ranks.
    """

    def __init__(self, dataset, num_repeats: int = 100):
        if int(num_repeats) < 1:
            raise ValueError(f"num_repeats must be >= 1, got {num_repeats}")
        self.dataset = dataset
        self.num_repeats = int(num_repeats)

    def __len__(self) -> int:
        return self.num_repeats * len(self.dataset)

    def __getitem__(self, idx: int):
        if not -len(self) <= idx < len(self):
            raise IndexError(f"item {idx} out of range for a repeated dataset of {len(self)}")
        return self.dataset[idx % len(self.dataset)]
