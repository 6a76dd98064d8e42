"""Benchmark: where does a reconstruction's error lie, on the face or around it?

    python benchmarks/error_regions.py --data DATASET --run_dir RUN [--size 256] [--every K] [--backend auto]

RUN is a `run.py --mode reconstruction` run dir made on DATASET: its reconstruction/<video>.mp4 are the
model's frames. On every K-th frame the face backend finds the real frame's 68 landmarks; their convex hull
(brows to chin, jaw line to jaw line) is the face, everything else (hair, forehead, ears, neck, shoulders,
background) is the rest. Each frame's L1 (evaluation.metrics.l1_distance) is split into what its face
pixels and what its other pixels contribute, so the two parts add up to the frame's L1; the same for the
static source (frame 0 shown for every frame). Prints, per video and over all scored frames:

- the model's L1 = face + rest, and the static source's;
- the rest's share of the model's L1;
- "a perfect face": the model's L1 over the static source's if every face pixel were exact, the lowest
  ratio that better motion of the face alone (a better face model, landmark-driven warps) can reach.

A frame where no face is found counts wholly as rest. The run's videos are H.264, so their L1 is slightly
above the one run.py reported on the raw frames.
"""
import argparse
import os
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.reconstruction import VIDEO_DIR  # noqa: E402
from errors import UserError, run_cli  # noqa: E402
from footage.sources import dataset_folders, open_source, video_names, video_stem  # noqa: E402
from video.image import to_uint8  # noqa: E402
from video.reader import VIDEO_EXTENSIONS  # noqa: E402

CHUNK = 32  # frames read at a time


def face_mask(landmarks: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """HxW bool: inside the convex hull of the (68, 2) landmarks (all False without landmarks)."""
    mask = np.zeros(shape, np.uint8)
    if landmarks is not None:
        cv2.fillConvexPoly(mask, cv2.convexHull(np.round(landmarks).astype(np.int32)), 1)
    return mask.astype(bool)


def split_l1(generated: np.ndarray, real: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(face part, rest part) of l1_distance(generated, real): each part's absolute error over all values."""
    error = np.abs(generated.astype(np.float32) - real.astype(np.float32)).mean(axis=2)
    return float(error[mask].sum() / error.size), float(error[~mask].sum() / error.size)


def run_video(run_dir: str, name: str) -> str:
    """The run's reconstruction of dataset video `name`."""
    folder = os.path.join(run_dir, VIDEO_DIR)
    stem = video_stem(name)
    for ext in VIDEO_EXTENSIONS:
        path = os.path.join(folder, stem + ext)
        if os.path.isfile(path):
            return path
    raise UserError(f"{folder} has no reconstruction of {name} ({stem}.mp4); pass the run dir that "
                    "run.py --mode reconstruction made on this --data")


def score_video(real_path: str, run_path: str, size: int, every: int, backend) -> np.ndarray:
    """Sums over the scored frames of (model face, model rest, static face, static rest), and their count."""
    real = open_source(real_path, (size, size, 3))
    made = open_source(run_path, (size, size, 3))
    if len(made) != len(real):
        raise UserError(f"{run_path} has {len(made)} frames and {real_path} {len(real)}: the run was not made "
                        "on this video; pass the run dir made on this --data")
    first = real.read([0])[0]
    totals = np.zeros(5)
    indices = list(range(0, len(real), every))
    for start in range(0, len(indices), CHUNK):
        chunk = indices[start:start + CHUNK]
        for frame, generated in zip(real.read(chunk), made.read(chunk)):
            mask = face_mask(backend.landmarks(to_uint8(frame)), frame.shape[:2])
            totals += (*split_l1(generated, frame, mask), *split_l1(first, frame, mask), 1)
    return totals


def describe(label: str, totals: np.ndarray) -> str:
    model_face, model_rest, static_face, static_rest, count = totals / max(totals[4], 1) * [1, 1, 1, 1, totals[4]]
    model, static = model_face + model_rest, static_face + static_rest
    return (f"{label}: {int(count)} frames, model L1 {model:.4f} = face {model_face:.4f} + rest {model_rest:.4f}; "
            f"static L1 {static:.4f} = face {static_face:.4f} + rest {static_rest:.4f}; "
            f"rest {model_rest / model if model else 0:.2f} of the model's L1; "
            f"model / static {model / static if static else 0:.2f}x, with a perfect face "
            f"{model_rest / static if static else 0:.2f}x")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="the dataset the run reconstructed (its test/ videos)")
    p.add_argument("--run_dir", required=True, help="a run.py --mode reconstruction run dir")
    p.add_argument("--size", type=int, default=256, help="frames are scored at size x size (default 256)")
    p.add_argument("--every", type=int, default=1, help="score every K-th frame (default 1: all)")
    p.add_argument("--backend", default="auto", help="face backend for the landmarks (default auto)")
    return p.parse_args(argv)


def main(args) -> int:
    for flag, folder in (("--data", args.data), ("--run_dir", args.run_dir)):
        if not os.path.isdir(folder):
            raise UserError(f"{flag} {folder} is not a folder")
    if args.every < 1 or args.size < 16:
        raise UserError(f"--every must be >= 1 and --size >= 16, got {args.every} and {args.size}")
    from faces import get_backend

    backend = get_backend(args.backend, landmarks=True)
    folders = [f for f in dataset_folders(args.data) if os.path.basename(f) == "test"] or dataset_folders(args.data)
    jobs = [(os.path.join(folder, name), name) for folder in folders for name in video_names(folder)]
    if not jobs:
        raise UserError(f"no videos in {args.data}")
    paths = [(path, run_video(args.run_dir, name), name) for path, name in jobs]  # all found before any scoring
    overall = np.zeros(5)
    for real_path, run_path, name in paths:
        totals = score_video(real_path, run_path, args.size, args.every, backend)
        print(describe(name, totals), flush=True)
        overall += totals
    print(describe("all", overall))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(lambda argv: main(parse_args(argv))))
