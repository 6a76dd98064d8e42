"""FramesDataset: FOMM's video dataset (train pairs of frames, test whole videos), plus DataLoader seeding.

Layout of `root_dir` (as the original FOMM):
    root_dir/train/<video>, root_dir/test/<video>   a predefined split, or
    root_dir/<video>                                 a seeded split (test_fraction, split_seed)
where each <video> is a folder of frames (named like the video, e.g. `id10001#7w0IBEWc9Qw#000993#001143.mp4/`),
a video file (.mp4/.gif/.mov/.avi/.webm/.mkv) or a strip image (.png/.jpg, frames side by side).

Items (same keys and shapes as the original):
    is_train=True:  {'driving': (3,H,W) float32, 'source': (3,H,W) float32, 'name': str}
    is_train=False: {'video': (3,T,H,W) float32, 'name': str}
With mouth_mask=True (ours; training only) a training item also has 'driving_mouth', a (1,H,W) float32
soft mask of the driving frame's mouth region, drawn from the landmark files that `preprocess.py
--landmarks` writes (footage/landmarks.py; a `landmarks/` folder beside the videos is never a video)
and augmented with the frames.
and, for reconstruction without holding whole videos, `iter_video(idx)` streams (3,H,W) frames.

Random draws (which frames, which video of an identity, augmentation) use numpy's global state, so
`worker_init_fn` gives every DataLoader worker its own stream. Under DDP, torch's DistributedSampler
splits this dataset (or a DatasetRepeater over it) by __len__/__getitem__, so id_sampling (one item per
identity) and repeats are respected without anything special.
"""
from __future__ import annotations

import logging
import math
import os
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from PIL import UnidentifiedImageError
from torch.utils.data import Dataset

from errors import UserError
from faces.mouth import mouth_mask
from footage.augmentation import AllAugmentationTransform
from footage.index import DatasetIndex
from footage.landmarks import load_landmarks
from footage.sources import SOURCE_KINDS, FrameSource, dataset_folders, open_source, video_names

log = logging.getLogger(__name__)

LAYOUT_HINT = (
    "expected root_dir/train/ and root_dir/test/ (or the videos directly in root_dir) holding "
    "folders of frames, video files (.mp4/.gif/.mov/.avi/.webm/.mkv) or strip images (.png/.jpg)"
)

# What a broken or unreadable file may raise while being opened; anything else is a bug and propagates.
_UNREADABLE = (UserError, OSError, ValueError, RuntimeError, EOFError, SyntaxError, UnidentifiedImageError)


def identity_of(name: str) -> str:
    """The identity part of a video name: everything before the first '#' (VoxCeleb naming)."""
    return os.path.basename(name).split("#")[0]


def split_names(names: list[str], test_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Deterministic shuffled train/test split of sorted `names`, like sklearn's train_test_split.

    ceil(test_fraction * n) names go to test, the rest to train. With a single name there is nothing to
    split: it is used for both (and a warning says so).
    """
    names = sorted(names)
    n = len(names)
    if not 0.0 <= test_fraction < 1.0:
        raise UserError(f"dataset_params.test_fraction must be in [0, 1), got {test_fraction}")
    if n == 1:
        log.warning("only one video (or identity) %r: using it for both training and testing", names[0])
        return list(names), list(names)
    n_test = min(math.ceil(test_fraction * n), n - 1)
    order = np.random.RandomState(seed).permutation(n)
    test = sorted(names[i] for i in order[:n_test])
    train = sorted(names[i] for i in order[n_test:])
    return train, test


def _open_checked(path: str, frame_shape, index: DatasetIndex) -> FrameSource | None:
    """The source of `path`, or None (with a warning) when it is unreadable or too short; the index supplies
    what an earlier opening found, and learns what this one finds."""
    entry = index.get(path)
    try:
        if entry is not None and "error" in entry:
            raise UserError(entry["error"])
        source = open_source(path, frame_shape, facts=entry)
    except _UNREADABLE as exc:
        log.warning("skipping unreadable video %s: %s", path, exc)
        if entry is None and isinstance(exc, UserError):  # about the file itself: the same until it changes
            index.put(path, {"error": str(exc)})
        return None
    if entry is None:
        index.put(path, source.facts())
    if source.num_frames < 2:
        log.warning("skipping video %s: it has %d frame(s), a dataset video needs at least 2", path, source.num_frames)
        return None
    return source


def _open_all(folder: str, names: list[str], frame_shape, index: DatasetIndex) -> list[FrameSource | None]:
    paths = [os.path.join(folder, n) for n in names]
    if not paths:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(paths))) as pool:
        return list(pool.map(lambda p: _open_checked(p, frame_shape, index), paths))


def index_dataset(root_dir: str, frame_shape=(256, 256, 3)) -> DatasetIndex:
    """Open every video of a dataset root (train/ and test/, or the root itself) and write its index."""
    index = DatasetIndex(root_dir)
    for folder in dataset_folders(root_dir):
        _open_all(folder, video_names(folder), frame_shape, index)
    index.save()
    return index


class FramesDataset(Dataset):
    """Videos under root_dir; training items are two frames of one video, test items whole videos.

    Arguments are dataset_params from the YAML: FramesDataset(is_train=..., **dataset_params).
    random_seed is the original's split seed, kept so old configs load; the split uses split_seed.
    """

    def __init__(self, root_dir, frame_shape=(256, 256, 3), id_sampling=False, is_train=True,
                 random_seed=0, pairs_list=None, augmentation_params=None, test_fraction=0.1, split_seed=0,
                 mouth_mask=False):
        root_dir = str(root_dir)
        if not os.path.isdir(root_dir):
            raise UserError(f"dataset root_dir {root_dir} is not a folder; {LAYOUT_HINT}")
        self.frame_shape = tuple(int(v) for v in frame_shape)
        self.id_sampling = bool(id_sampling)
        self.is_train = bool(is_train)
        self.random_seed = random_seed
        self.pairs_list = pairs_list
        split = "train" if self.is_train else "test"

        train_dir, test_dir = os.path.join(root_dir, "train"), os.path.join(root_dir, "test")
        if os.path.isdir(train_dir) or os.path.isdir(test_dir):
            self.root_dir = train_dir if self.is_train else test_dir
            if not os.path.isdir(self.root_dir):
                raise UserError(f"dataset root_dir {root_dir} has no {split}/ folder; {LAYOUT_HINT}")
            names = video_names(self.root_dir)
        else:
            self.root_dir = root_dir
            names = self._seeded_split(video_names(root_dir), test_fraction, split_seed)
        if not names:
            raise UserError(f"no {split} videos found in {self.root_dir}; {LAYOUT_HINT}")

        index = DatasetIndex(root_dir)  # what each unchanged video held when last opened (footage/index.py)
        opened = _open_all(self.root_dir, names, self.frame_shape, index)
        index.save()
        kept = [(n, s) for n, s in zip(names, opened) if s is not None]
        if not kept:
            raise UserError(
                f"none of the {len(names)} {split} videos in {self.root_dir} is readable with at least 2 "
                f"frames (see the warnings above); {LAYOUT_HINT}"
            )
        self.videos = [n for n, _ in kept]
        self.sources = [s for _, s in kept]

        if self.is_train and self.id_sampling:
            by_identity: dict[str, list[int]] = {}
            for i, name in enumerate(self.videos):
                by_identity.setdefault(identity_of(name), []).append(i)
            self.identities = sorted(by_identity)
            self._identity_videos = [by_identity[k] for k in self.identities]

        self.mouth_mask = bool(mouth_mask) and self.is_train
        self.landmarks = None
        if self.mouth_mask:
            self.landmarks = [load_landmarks(s.path, s.num_frames) for s in self.sources]

        self.transform = None
        if self.is_train and augmentation_params:
            try:
                self.transform = AllAugmentationTransform(**augmentation_params)
            except (TypeError, ValueError) as exc:  # e.g. a jitter range that is not a number or a [low, high] pair
                raise UserError(f"dataset_params.augmentation_params: {exc}; "
                                "fix it in the config or with --set") from exc

    def _seeded_split(self, names: list[str], test_fraction: float, split_seed: int) -> list[str]:
        """This split's names; with id_sampling whole identities go to one side, so none is in both."""
        if not names:
            return []
        if not self.id_sampling:
            train, test = split_names(names, test_fraction, split_seed)
            return train if self.is_train else test
        train_ids, test_ids = split_names(sorted({identity_of(n) for n in names}), test_fraction, split_seed)
        keep = set(train_ids if self.is_train else test_ids)
        return [n for n in names if identity_of(n) in keep]

    def __len__(self) -> int:
        if self.is_train and self.id_sampling:
            return len(self.identities)
        return len(self.videos)

    def _video_index(self, idx: int) -> int:
        """The video behind item idx: with id_sampling in training, a random video of identity idx."""
        if not -len(self) <= idx < len(self):
            raise IndexError(f"item {idx} out of range for a dataset of {len(self)}")
        idx %= len(self)
        if self.is_train and self.id_sampling:
            choices = self._identity_videos[idx]
            return choices[np.random.randint(len(choices))]
        return idx

    def __getitem__(self, idx: int) -> dict:
        vid = self._video_index(idx)
        source = self.sources[vid]
        if not self.is_train:
            frames = list(source.iter())
            video_array = np.stack(frames).astype(np.float32, copy=False)
            return {"video": np.ascontiguousarray(video_array.transpose(3, 0, 1, 2)), "name": self.videos[vid]}

        # Two sorted frame indices drawn WITH replacement, as the original: they coincide with
        # probability 1/num_frames, which then gives a source == driving pair.
        frame_idx = np.sort(np.random.choice(source.num_frames, replace=True, size=2))
        frames = source.read(frame_idx)
        # a 4th channel, so that every geometric augmentation moves it with the frame; both frames get
        # theirs, because a time flip swaps which of the two becomes the driving frame
        if self.mouth_mask:
            height, width = frames[0].shape[:2]
            frames = [np.concatenate([f, mouth_mask(self.landmarks[vid][i], height, width)[..., None]], axis=2)
                      for f, i in zip(frames, frame_idx)]
        if self.transform is not None:
            frames = self.transform(frames)
        item = {
            "driving": np.ascontiguousarray(frames[1][..., :3].transpose(2, 0, 1), dtype=np.float32),
            "source": np.ascontiguousarray(frames[0][..., :3].transpose(2, 0, 1), dtype=np.float32),
            "name": self.videos[vid],
        }
        if self.mouth_mask:
            item["driving_mouth"] = np.ascontiguousarray(frames[1][..., 3:].transpose(2, 0, 1), dtype=np.float32)
        return item

    def video_path(self, idx: int) -> str:
        """Path of video idx (a video index, not an identity, also with id_sampling)."""
        return self.sources[idx].path

    def source(self, idx: int) -> FrameSource:
        """The frame source of video idx (num_frames, read, iter)."""
        return self.sources[idx]

    def iter_video(self, idx: int) -> Iterator[np.ndarray]:
        """Frames of video idx one at a time as (3,H,W) float32, without holding the whole video."""
        for frame in self.sources[idx].iter():
            yield np.ascontiguousarray(frame.transpose(2, 0, 1))

    def __repr__(self) -> str:
        kinds = {k.__name__: 0 for k in SOURCE_KINDS}
        for s in self.sources:
            kinds[type(s).__name__] += 1
        mode = "train" if self.is_train else "test"
        return (f"FramesDataset({self.root_dir!r}, {mode}, {len(self.videos)} videos, {len(self)} items, "
                f"{', '.join(f'{v} {k}' for k, v in kinds.items() if v)})")


def worker_init_fn(worker_id: int) -> None:
    """DataLoader worker_init_fn: seed numpy and random from torch's per-worker seed (base seed + worker id).

    Without it, forked workers share numpy's state and draw the same frames and augmentations.
    """
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)
