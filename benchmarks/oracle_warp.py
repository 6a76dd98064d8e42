"""Benchmark: how far can warping the first frame go on a reconstruction set, given the true motion?

    python benchmarks/oracle_warp.py --data DATASET [--frames N] [--size 256] [--flow_grid G] [--motion landmarks]

Each test video is regenerated as `run.py --mode reconstruction` does, from its first frame, but with
motion no model has: dense optical flow (OpenCV's DIS, medium preset) measured from the real frame t back to
frame 0, so every pixel, background included, comes from where it really was. Prints, per video and over
all frames, the L1 of that oracle warp and of the static source (frame 0 for every frame), as the
reconstruction tool scores them (evaluation.metrics.l1_distance, [0, 1] pixels at --size). The ratio is
what a warp-based animation reaches at best on the set; what is left is light, noise and what was hidden
in frame 0.

Two coarser motions show what limits a model's warp:
- `--flow_grid G`: the same true flow averaged over a G x G grid of cells and upsampled back (the bundled
  128 px model's dense motion is 32 x 32): is the motion's resolution the limit?
- `--motion landmarks`: no dense flow at all, only the face backend's 68 landmarks of frame 0 and of frame t,
  and a thin-plate spline through them with the frame's border held still (faces.point_warp): the motion a
  general face tracker gives, face only. A frame where either face is not found counts as the static source.
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
from faces.point_warp import anchor_ring, warp_points  # noqa: E402
from footage.sources import dataset_folders, open_source, video_names  # noqa: E402
from video.image import to_uint8  # noqa: E402

LANDMARK_GRID = 8  # pixels between the nodes where the landmark spline is evaluated


def oracle_warp(first: np.ndarray, frame: np.ndarray, dis, flow_grid: int | None = None) -> np.ndarray:
    """`first` (HxWx3 float [0, 1]) warped to look like `frame` along the flow from `frame` back to `first`.

    flow_grid: the flow averaged over that many cells a side first, then upsampled (None: as measured).
    """
    grey = [cv2.cvtColor(to_uint8(f), cv2.COLOR_RGB2GRAY) for f in (frame, first)]
    flow = dis.calc(grey[0], grey[1], None)  # for each pixel of frame: where it is in first
    height, width = grey[0].shape
    if flow_grid is not None:
        coarse = cv2.resize(flow, (flow_grid, flow_grid), interpolation=cv2.INTER_AREA)
        flow = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_LINEAR)
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return cv2.remap(first, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def landmark_warp(first: np.ndarray, first_marks: np.ndarray, marks: np.ndarray) -> np.ndarray:
    """`first` warped so that its landmarks land on `marks` (another frame's), the frame's border held still."""
    height, width = first.shape[:2]
    ring = anchor_ring((0, 0, width - 1, height - 1))
    return warp_points(first, np.concatenate([first_marks, ring]), np.concatenate([marks, ring]), LANDMARK_GRID,
                       border=cv2.BORDER_REPLICATE)


def score_video(path: str, size: int, frames: int | None, flow_grid: int | None = None,
                backend=None) -> tuple[int, float, float]:
    """(frames scored, mean static-source L1, mean warp L1) of one video; landmark motion when a face backend
    is given, the true dense flow otherwise."""
    source = open_source(path, (size, size, 3))
    count = len(source) if frames is None else min(frames, len(source))
    video = source.read(list(range(count)))
    static = [l1_distance(video[0], f) for f in video]
    if backend is None:
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        warped = [l1_distance(oracle_warp(video[0], f, dis, flow_grid), f) for f in video]
    else:
        first_marks = backend.landmarks(to_uint8(video[0]))
        warped = []
        for f, still in zip(video, static):
            marks = None if first_marks is None else backend.landmarks(to_uint8(f))
            warped.append(still if marks is None else l1_distance(landmark_warp(video[0], first_marks, marks), f))
    return count, float(np.mean(static)), float(np.mean(warped))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="a dataset root (its test/ videos) or a folder of videos")
    p.add_argument("--frames", type=int, default=None, help="first N frames of each video (default: all)")
    p.add_argument("--size", type=int, default=256, help="frames are scored at size x size (default 256)")
    p.add_argument("--flow_grid", type=int, default=None,
                   help="average the true flow over G x G cells before warping (default: the flow as measured)")
    p.add_argument("--motion", choices=("flow", "landmarks"), default="flow",
                   help="flow: the true dense flow (default); landmarks: 68 face landmarks per frame only")
    p.add_argument("--backend", default="auto", help="face backend for --motion landmarks (default auto)")
    return p.parse_args(argv)


def main(args) -> int:
    if not os.path.isdir(args.data):
        raise UserError(f"--data {args.data} is not a folder")
    if args.flow_grid is not None and not 1 <= args.flow_grid <= args.size:
        raise UserError(f"--flow_grid must be between 1 and --size ({args.size}), got {args.flow_grid}")
    if args.flow_grid is not None and args.motion != "flow":
        raise UserError("--flow_grid coarsens the true flow; it does not apply to --motion landmarks")
    backend = None
    label = "oracle warp" if args.flow_grid is None else f"oracle warp ({args.flow_grid}x{args.flow_grid} flow)"
    if args.motion == "landmarks":
        from faces import get_backend

        backend = get_backend(args.backend, landmarks=True)
        label = "landmark warp"
    folders = [f for f in dataset_folders(args.data) if os.path.basename(f) == "test"] or dataset_folders(args.data)
    rows = []
    for folder in folders:
        for name in video_names(folder):
            path = os.path.join(folder, name)
            rows.append((name, *score_video(path, args.size, args.frames, args.flow_grid, backend)))
            n, static, warped = rows[-1][1:]
            print(f"{name}: {n} frames, static L1 {static:.4f}, {label} L1 {warped:.4f} ({warped / static:.2f}x)")
    if not rows:
        raise UserError(f"no videos in {args.data}")
    total = sum(r[1] for r in rows)
    static = sum(r[1] * r[2] for r in rows) / total
    warped = sum(r[1] * r[3] for r in rows) / total
    print(f"all {total} frames: static L1 {static:.4f}, {label} L1 {warped:.4f} ({warped / static:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(lambda argv: main(parse_args(argv))))
