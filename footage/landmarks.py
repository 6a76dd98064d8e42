"""Per-frame 68-point face landmarks of a dataset's videos: finding them, and their sidecar files (write, load).

Layout: beside the videos of a split folder, `landmarks/<video name>.npy` holds a (T, 68, 2) float32
array of (x, y) landmark positions divided by the frame's width and height (so they fit any
frame_shape), NaN for frames where no face was found. `preprocess.py --landmarks` writes them;
the training engine reads them when `loss_weights.mouth` is non-zero (a loss that weighs the mouth region).

Landmarks are found on the dataset's own frames, upscaled to `detect_side` pixels (dlib's HOG detector
needs faces of about 80 px). Where the detector misses a face, the previous detected box of the same
video is reused for the landmark model (face tracks move little between frames).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterable

import numpy as np

from atomic import atomic_open
from errors import UserError
from footage.sources import LANDMARKS_DIR, dataset_folders, open_source, video_names
from video.image import to_uint8

log = logging.getLogger(__name__)


def landmarks_path(video_path: str) -> str:
    """Where the landmark file of `video_path` lives: <its folder>/landmarks/<its name>.npy."""
    folder, name = os.path.split(os.path.normpath(str(video_path)))
    return os.path.join(folder, LANDMARKS_DIR, name + ".npy")


def load_landmarks(video_path: str, num_frames: int) -> np.ndarray:
    """The (num_frames, 68, 2) normalised landmarks of a video; UserError when missing or not matching."""
    path = landmarks_path(video_path)
    if not os.path.isfile(path):
        raise UserError(f"video {video_path} has no landmark file {path}; loss_weights.mouth needs one per "
                        f"video: run python preprocess.py --output {os.path.dirname(os.path.dirname(path))} "
                        "--landmarks (or set loss_weights.mouth to 0)")
    try:
        marks = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read landmark file {path} ({exc}); delete it and run preprocess.py --landmarks "
                        "again") from None
    if marks.shape != (num_frames, 68, 2):
        raise UserError(f"landmark file {path} has shape {marks.shape}, the video has {num_frames} frames "
                        f"(expected ({num_frames}, 68, 2)); delete it and run preprocess.py --landmarks again")
    return marks.astype(np.float32, copy=False)


def find_landmarks(frames: Iterable[np.ndarray], backend, detect_side: int = 256) -> np.ndarray:
    """(T, 68, 2) normalised landmarks of `frames` (HxWx3 floats in [0, 1] or uint8), NaN where none."""
    import cv2

    rows, last_box = [], None
    for frame in frames:
        frame = to_uint8(frame)
        height, width = frame.shape[:2]
        scale = detect_side / max(height, width)
        big = frame if scale == 1.0 else cv2.resize(frame, (round(width * scale), round(height * scale)),
                                                    interpolation=cv2.INTER_CUBIC)
        face = backend.largest(big)
        box = face.box if face is not None else last_box
        marks = backend.landmarks(big, box) if box is not None else None
        if marks is None:
            rows.append(np.full((68, 2), np.nan, np.float32))
            continue
        last_box = box
        marks = np.asarray(marks, np.float32) / scale
        rows.append(marks / np.array([width, height], np.float32))
    return np.stack(rows) if rows else np.zeros((0, 68, 2), np.float32)


def write_landmarks(video_path: str, marks: np.ndarray) -> str:
    """Save `marks` as the video's landmark file (atomically; the folder is created). Returns its path."""
    path = landmarks_path(video_path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with atomic_open(path, "wb") as handle:
        np.save(handle, np.asarray(marks, np.float32), allow_pickle=False)
    return path


def dataset_videos(root: str) -> list[str]:
    """Paths of the videos of a dataset folder: root/train and root/test, or root itself, sorted."""
    root = str(root)
    if os.path.exists(root) and not os.path.isdir(root):
        raise UserError(f"{root} is a file, not a dataset folder; pass the --output of an earlier preprocess.py run")
    if not os.path.isdir(root):
        raise UserError(f"dataset folder {root} does not exist; pass the --output of an earlier preprocess.py run")
    return [os.path.join(folder, name) for folder in dataset_folders(root) for name in video_names(folder)]


def annotate_dataset(root: str, backend="auto", detect_side: int = 256, overwrite: bool = False,
                     progress: bool = True) -> dict:
    """Write the landmark file of every video in dataset `root` that has none (or every one with overwrite).

    backend: a face backend, or the name of one (loaded, and its line logged, once the dataset is listed).
    Returns counts: {'videos', 'written', 'kept', 'frames', 'frames_without_face'}.
    """
    from tqdm import tqdm

    videos = dataset_videos(root)  # a missing or empty folder is reported before a backend is loaded
    if not videos:
        raise UserError(f"no videos in {root} (nor in its train/ and test/ folders); pass a dataset folder")
    if backend is None or isinstance(backend, str):
        from faces import get_backend
        backend = get_backend(backend or "auto", landmarks=True)
        log.info("%s", backend.describe())
    counts = {"videos": len(videos), "written": 0, "kept": 0, "frames": 0, "frames_without_face": 0}
    for path in tqdm(videos, desc="landmarks", unit="video", disable=not progress):
        source = open_source(path, (detect_side, detect_side, 3))
        if not overwrite and os.path.isfile(landmarks_path(path)):
            try:
                load_landmarks(path, source.num_frames)
                counts["kept"] += 1
                continue
            except UserError:
                pass  # stale or broken: write it again
        marks = find_landmarks(source.iter(), backend, detect_side)
        write_landmarks(path, marks)
        counts["written"] += 1
        counts["frames"] += len(marks)
        counts["frames_without_face"] += int(np.isnan(marks[:, 0, 0]).sum())
    return counts
