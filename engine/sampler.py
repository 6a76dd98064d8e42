"""Epoch order for (distributed) training: global batches cut into contiguous per-rank shares, resumable mid-epoch.

Every rank computes the same seeded permutation for an epoch, cuts it into global batches of
batch_size items (the last partial batch is dropped, as the original's DataLoader(drop_last=True)),
and takes its contiguous share of each. So N processes see exactly the global batches one process
would, in the same order, and the per-item random draws (frames, augmentation) are seeded by the
item's position in the epoch, not by a worker's RNG: the data of step s does not depend on the
number of processes or workers, or on a resume in between.
"""
import random

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler


class EpochOrder(Sampler):
    """Yields (dataset_index, item_seed) for this rank's share of epoch `epoch`, from global batch `start_batch`."""

    def __init__(self, num_items, batch_size, rank=0, world_size=1, seed=0):
        if batch_size % world_size:
            raise ValueError(f"batch size {batch_size} is not divisible by {world_size} processes")
        self.num_items = num_items
        self.batch_size = batch_size
        self.rank, self.world = rank, world_size
        self.seed = seed
        self.epoch = 0
        self.start_batch = 0

    @property
    def batches_per_epoch(self) -> int:
        return self.num_items // self.batch_size

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start_batch = epoch, start_batch

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.num_items, generator=g).tolist()
        share = self.batch_size // self.world
        for b in range(self.start_batch, self.batches_per_epoch):
            first = b * self.batch_size + self.rank * share
            for pos in range(first, first + share):
                yield order[pos], (self.seed, self.epoch, pos)

    def __len__(self) -> int:
        return (self.batches_per_epoch - self.start_batch) * (self.batch_size // self.world)


class SeededItems(Dataset):
    """dataset[(index, seed)]: numpy's and Python's global generators seeded from `seed` before the item is made."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, key):
        index, seed = key
        ss = np.random.SeedSequence(list(seed))
        np.random.seed(ss.generate_state(1)[0])
        random.seed(int(ss.generate_state(1)[0]))
        return self.dataset[index]
