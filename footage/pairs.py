"""PairedDataset: (driving video, source video) pairs for animation, from a pairs CSV or seeded at random.

The CSV has the original FOMM columns `distance,source,driving,frame` (data/taichi256.csv ...); only
rows whose source and driving videos are both in the dataset are used, in file order, at most
number_of_pairs of them. The `frame` column (0 in the published lists, never read by the original) is
kept as `source_frame_index(idx)`. Without a CSV, pairs are drawn from the grid of the first
min(number_of_pairs, len(dataset)) videos with RandomState(seed), which gives the original's pairs for
the same video order (ours is sorted) without touching numpy's global seed.
"""
from __future__ import annotations

import csv
import os
from collections.abc import Iterator

import numpy as np
from torch.utils.data import Dataset

from errors import UserError


def read_pairs_csv(path: str) -> list[dict]:
    """Rows of a pairs CSV as dicts with 'source', 'driving' (names) and 'frame' (int, 0 when absent)."""
    path = str(path)
    if not os.path.isfile(path):
        raise UserError(f"pairs_list {path} does not exist; fix dataset_params.pairs_list or set it to null")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        columns = set(reader.fieldnames or [])
        if not {"source", "driving"} <= columns:
            raise UserError(
                f"pairs_list {path} has columns {sorted(columns)}; it needs at least 'source' and 'driving' "
                "(the original's header is distance,source,driving,frame)"
            )
        rows = []
        for line, row in enumerate(reader, start=2):
            frame = (row.get("frame") or "0").strip()
            try:
                frame = int(float(frame))
            except ValueError:
                raise UserError(f"pairs_list {path} line {line}: frame {frame!r} is not a frame index") from None
            rows.append({"source": row["source"].strip(), "driving": row["driving"].strip(), "frame": frame})
    return rows


class PairedDataset(Dataset):
    """Items {'driving_video', 'source_video', 'driving_name', 'source_name'} of a test-mode FramesDataset.

    Streaming accessors (no whole video in memory): driving_path/source_path, iter_driving/iter_source
    ((3,H,W) frames), source_image (the source frame at source_frame_index).
    """

    def __init__(self, initial_dataset, number_of_pairs: int, seed: int = 0):
        if getattr(initial_dataset, "is_train", False):
            raise ValueError("PairedDataset needs a test-mode dataset: FramesDataset(is_train=False, ...)")
        self.initial_dataset = initial_dataset
        pairs_list = getattr(initial_dataset, "pairs_list", None)
        number_of_pairs = int(number_of_pairs)

        if pairs_list is None:
            max_idx = min(number_of_pairs, len(initial_dataset))
            grid = np.mgrid[:max_idx, :max_idx].reshape(2, -1).T
            number_of_pairs = min(grid.shape[0], number_of_pairs)
            chosen = np.random.RandomState(seed).choice(grid.shape[0], number_of_pairs, replace=False)
            self.pairs = [(int(d), int(s)) for d, s in grid.take(chosen, axis=0)]
            self.frames = [0] * len(self.pairs)
        else:
            name_to_index = {name: i for i, name in enumerate(initial_dataset.videos)}
            rows = [r for r in read_pairs_csv(pairs_list)
                    if r["source"] in name_to_index and r["driving"] in name_to_index]
            rows = rows[:max(0, number_of_pairs)]
            self.pairs = [(name_to_index[r["driving"]], name_to_index[r["source"]]) for r in rows]
            self.frames = [r["frame"] for r in rows]

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, idx: int) -> dict:
        driving_idx, source_idx = self.pairs[idx]
        first = self.initial_dataset[driving_idx]
        second = self.initial_dataset[source_idx]
        return {**{"driving_" + k: v for k, v in first.items()}, **{"source_" + k: v for k, v in second.items()}}

    def names(self, idx: int) -> tuple[str, str]:
        """(driving name, source name) of pair idx."""
        driving_idx, source_idx = self.pairs[idx]
        return self.initial_dataset.videos[driving_idx], self.initial_dataset.videos[source_idx]

    def driving_path(self, idx: int) -> str:
        return self.initial_dataset.video_path(self.pairs[idx][0])

    def source_path(self, idx: int) -> str:
        return self.initial_dataset.video_path(self.pairs[idx][1])

    def iter_driving(self, idx: int) -> Iterator[np.ndarray]:
        """Driving frames of pair idx, one (3,H,W) float32 frame at a time."""
        return self.initial_dataset.iter_video(self.pairs[idx][0])

    def iter_source(self, idx: int) -> Iterator[np.ndarray]:
        """Source video frames of pair idx, one (3,H,W) float32 frame at a time."""
        return self.initial_dataset.iter_video(self.pairs[idx][1])

    def source_frame_index(self, idx: int) -> int:
        """The CSV's frame column for pair idx (0 for random pairs), clamped to the source's length."""
        source = self.initial_dataset.source(self.pairs[idx][1])
        return min(max(0, self.frames[idx]), source.num_frames - 1)

    def source_image(self, idx: int) -> np.ndarray:
        """The source frame of pair idx as (3,H,W) float32, decoding only that frame."""
        source = self.initial_dataset.source(self.pairs[idx][1])
        frame = source.read([self.source_frame_index(idx)])[0]
        return np.ascontiguousarray(frame.transpose(2, 0, 1))
