"""Benchmark: a checkpoint's reconstruction metrics on held-out real clips, next to the static-source baseline.

    python benchmarks/reconstruction_metrics.py --checkpoint checkpoints/stillmotion-vox-128.pth.tar \\
        --data data/datasets/media-128-eval

--data is a dataset root as FramesDataset reads it (its test/ split, or the seeded split of the videos in
it, is the held-out part); by default the root_dir of the config. The config is --config, else the one
our checkpoints carry. Everything runs through `run.py --mode reconstruction` (engine.reconstruction), so
the numbers are the ones that command gives; this script prints them as a markdown table with the
command that reproduces them. Outputs (CSV, JSON, videos) go to --run_dir or a numbered folder of --log_dir.
"""
import argparse
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.checkpoint import read_checkpoint  # noqa: E402
from engine.config import load_config, validate_config  # noqa: E402
from engine.hardware import cpu_summary  # noqa: E402
from engine.reconstruction import ReconstructionOptions, run_reconstruction  # noqa: E402
from errors import UserError  # noqa: E402
from evaluation.report import format_table  # noqa: E402

DEFAULT_CHECKPOINT = "checkpoints/stillmotion-vox-128.pth.tar"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT, help=f"model to evaluate (default {DEFAULT_CHECKPOINT})")
    p.add_argument("--data", default=None, help="dataset root with the held-out clips (default: the config's)")
    p.add_argument("--config", default=None, help="YAML config (default: the one stored in the checkpoint)")
    p.add_argument("--num_videos", type=int, default=None, help="evaluate only the first N test videos")
    p.add_argument("--baseline_checkpoint", default=None, help="a second model for the same table")
    p.add_argument("--device", default="auto")
    p.add_argument("--output_mode", default="generator", choices=("generator", "fullres"),
                   help="score the generator's frames (default) or the full-resolution output (demo.py's default)")
    p.add_argument("--mouth_retarget", action=argparse.BooleanOptionalAction, default=True,
                   help="with --output_mode fullres: the mouth retarget, as demo.py (default on)")
    p.add_argument("--size", type=int, default=None,
                   help="read and score the frames at this side (default: the model's); generator frames are upscaled")
    p.add_argument("--log_dir", default="log", help="parent of the numbered run directory (default: log)")
    p.add_argument("--run_dir", default=None, help="exact output folder instead of a numbered one")
    return p.parse_args(argv)


def benchmark_config(args) -> dict:
    """The config to evaluate with: --config or the checkpoint's own, with --data and --num_videos applied."""
    overrides = []
    if args.data is not None:
        overrides.append(f"dataset_params.root_dir={args.data}")
    if args.num_videos is not None:
        overrides.append(f"reconstruction_params.num_videos={args.num_videos}")
    if args.config is not None:
        return load_config(args.config, overrides)
    stored = read_checkpoint(args.checkpoint).get("stillmotion", {}).get("config")
    if stored is None:
        raise UserError(f"checkpoint {args.checkpoint} carries no config; pass --config, e.g. config/cpu-64.yaml")
    config = validate_config(stored, source=f"{args.checkpoint} (stored config)")
    config["dataset_params"]["root_dir"] = args.data or config["dataset_params"]["root_dir"]
    if args.num_videos is not None:
        config["reconstruction_params"]["num_videos"] = args.num_videos
    return config


def markdown_report(summary: dict, command: str) -> str:
    """A markdown section: what was evaluated, the table (model, static source[, baseline]) and the command."""
    table = {name: system["metrics"] for name, system in summary["systems"].items()}
    frames = summary["systems"]["model"]["metrics"]["l1"]["count"]
    notes = [f"- {name}: {line}" for name, line in summary["backends"].items()]
    notes += [f"- {name}: unavailable ({info['reason']})" for name, info in summary["metrics"].items()
              if not info["available"]]
    return "\n".join([
        f"### Reconstruction: {summary['checkpoint']} on {summary['config']['dataset_params']['root_dir']}",
        "",
        f"{summary['num_videos']} held-out videos, {frames} frames, each regenerated from its first frame "
        f"({'relative' if summary['relative'] else 'absolute'} keypoints), device {summary['device']}. "
        "Mean +- std over frames; lower is better except psnr and ssim.",
        "",
        format_table(table, summary["columns"]),
        "",
        *notes,
        "",
        f"Command: `{command}`",
    ])


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    try:
        config = benchmark_config(args)
        options = ReconstructionOptions(
            checkpoint=args.checkpoint, config=args.config, log_dir=args.log_dir, run_dir=args.run_dir,
            device=args.device, baseline_checkpoint=args.baseline_checkpoint, output_mode=args.output_mode,
            size=args.size, mouth_retarget=args.mouth_retarget)
        summary = run_reconstruction(config, options, print_table=False)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    command = shlex.join(["python", "benchmarks/reconstruction_metrics.py", *argv])
    print(f"\nCPU: {cpu_summary()}")
    print(markdown_report(summary, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
