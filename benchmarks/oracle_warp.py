"""Benchmark: how far can warping the first frame go on a reconstruction set, given the true motion?

    python benchmarks/oracle_warp.py --data DATASET [--frames N] [--size 256]

Each test video is regenerated as `run.py --mode reconstruction` does, from its first frame, but with
motion no model has: dense optical flow (OpenCV's DIS, medium preset) measured from the real frame t back to
frame 0, so every pixel, background included, comes from where it really was. Prints, per video and over
all frames, the L1 of that oracle warp and of the static source (frame 0 for every frame), as the
reconstruction tool scores them (evaluation.metrics.l1_distance, [0, 1] pixels at --size). The ratio is
what a warp-based animation reaches at best on the set; what is left is light, noise and what was hidden
in frame 0.
"""
import argparse
import os
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from errors import UserError, run_cli  # noqa: E402
from evaluation.metrics import l1_distance  # noqa: E402
from footage.sources import dataset_folders, open_source, video_names  # noqa: E402
from video.image import to_uint8  # noqa: E402


def oracle_warp(first: np.ndarray, frame: np.ndarray, dis) -> np.ndarray:
    """`first` (HxWx3 float [0, 1]) warped to look like `frame` along the flow from `frame` back to `first`."""
    grey = [cv2.cvtColor(to_uint8(f), cv2.COLOR_RGB2GRAY) for f in (frame, first)]
    flow = dis.calc(grey[0], grey[1], None)  # for each pixel of frame: where it is in first
    height, width = grey[0].shape
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return cv2.remap(first, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def score_video(path: str, size: int, frames: int | None) -> tuple[int, float, float]:
    """(frames scored, mean static-source L1, mean oracle-warp L1) of one video."""
    source = open_source(path, (size, size, 3))
    count = len(source) if frames is None else min(frames, len(source))
    video = source.read(list(range(count)))
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    static = [l1_distance(video[0], f) for f in video]
    warped = [l1_distance(oracle_warp(video[0], f, dis), f) for f in video]
    return count, float(np.mean(static)), float(np.mean(warped))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="a dataset root (its test/ videos) or a folder of videos")
    p.add_argument("--frames", type=int, default=None, help="first N frames of each video (default: all)")
    p.add_argument("--size", type=int, default=256, help="frames are scored at size x size (default 256)")
    return p.parse_args(argv)


def main(args) -> int:
    if not os.path.isdir(args.data):
        raise UserError(f"--data {args.data} is not a folder")
    folders = [f for f in dataset_folders(args.data) if os.path.basename(f) == "test"] or dataset_folders(args.data)
    rows = []
    for folder in folders:
        for name in video_names(folder):
            rows.append((name, *score_video(os.path.join(folder, name), args.size, args.frames)))
            n, static, warped = rows[-1][1:]
            print(f"{name}: {n} frames, static L1 {static:.4f}, oracle warp L1 {warped:.4f} ({warped / static:.2f}x)")
    if not rows:
        raise UserError(f"no videos in {args.data}")
    total = sum(r[1] for r in rows)
    static = sum(r[1] * r[2] for r in rows) / total
    warped = sum(r[1] * r[3] for r in rows) / total
    print(f"all {total} frames: static L1 {static:.4f}, oracle warp L1 {warped:.4f} ({warped / static:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(lambda argv: main(parse_args(argv))))
