"""Command line for running post-processing stages on an existing video (thin: parse, stream frames, write).

  python stylize.py --input video.mp4 --stages depth,style --output out.mp4
  python stylize.py --input video.mp4 --stages depth --set depth.output=passthrough --stages-config s.yaml ...
  python stylize.py --input video.mp4 --stages style --smoothing 0.5 --flow dis --max-side 256 --frames 100
Stage options come from --stages-config (a YAML file: a run config with a stages_params section, or that
section alone) and --set KEY=VALUE overrides such as depth.colormap=turbo or smoothing.strength=0.8.
The audio of the input is kept; the output appears only when everything went well.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from cli_types import finite_float
from errors import UserError, run_cli
from reporting import console


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", required=True, help="input video")
    p.add_argument("--stages", required=True, metavar="NAMES",
                   help="stages in order, comma separated, e.g. depth,style")
    p.add_argument("--output", required=True, help="output video (.mp4/.mov/.avi/.webm/.mkv/.gif)")
    p.add_argument("--stages-config", dest="stages_config", default=None, metavar="YAML",
                   help="stage options: a run config with stages_params, or a stages_params mapping")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a stage option (dotted, below stages_params), repeatable")
    smoothing = p.add_mutually_exclusive_group()
    smoothing.add_argument("--smoothing", type=finite_float, default=None, metavar="STRENGTH",
                           help="temporal smoothing strength in [0, 1] (default: the stage's own default)")
    smoothing.add_argument("--no-smoothing", dest="no_smoothing", action="store_true",
                           help="process every frame independently")
    p.add_argument("--flow", default=None, choices=("farneback", "dis", "ensemble"),
                   help="optical flow for the smoothing (default ensemble: the mean of DIS and Farneback)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N (default cpu)")
    p.add_argument("--max-side", dest="max_side", type=int, default=None,
                   help="shrink frames so their longer side is at most this many pixels")
    p.add_argument("--start", type=int, default=0, help="first frame to process (default 0)")
    p.add_argument("--frames", type=int, default=None, help="how many frames to process (default: all)")
    p.add_argument("--quiet", action="store_true",
                   help="no stage report lines, time estimate or progress bar (frames, seconds per frame per stage)")
    return p.parse_args(argv)


def load_stage_params(path: str | None, overrides, base: dict | None = None) -> dict:
    """stages_params from a YAML file (a whole run config or the section alone) plus dotted overrides.

    base: the stages_params to start from when no file is given (e.g. a checkpoint's); it is not modified.
    """
    import copy

    import yaml

    params: dict = copy.deepcopy(base) if base else {}
    if path is not None:
        if os.path.isdir(path):
            raise UserError(f"stages config {path} is a folder; pass a .yaml file")
        if not os.path.isfile(path):
            raise UserError(f"stages config not found: {path}; check the path")
        try:
            with open(path, encoding="utf-8") as f:
                data = yaml.safe_load(f)
        except yaml.YAMLError as err:
            raise UserError(f"cannot read stages config {path}: not valid YAML ({str(err).splitlines()[0]})") from None
        data = data if data is not None else {}
        if not isinstance(data, dict):
            raise UserError(f"stages config {path} must be a mapping such as {{depth: {{output: color}}}}")
        params = dict(data.get("stages_params", data) or {})
    for text in overrides:
        key, sep, value = text.partition("=")
        parts = key.strip().split(".")
        if not sep or not all(parts):
            raise UserError(f"bad --set '{text}': expected KEY=VALUE such as depth.output=passthrough")
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            raise UserError(f"bad --set '{text}': the value is not valid YAML") from None
        node = params
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise UserError(f"bad --set '{text}': '{part}' is not a mapping of options")
            node = child
        node[parts[-1]] = parsed
    return params


def run(args) -> int:
    from engine.inference import resolve_device
    from output_paths import check_output_file
    from stages.pipeline import apply_stages
    from video import VideoWriter, frame_times, iter_frames, probe

    if args.frames is not None and args.frames < 1:
        raise UserError(f"--frames must be at least 1, got {args.frames}")
    if args.start < 0:
        raise UserError(f"--start must be 0 or more, got {args.start}")
    if args.max_side is not None and args.max_side < 8:
        raise UserError(f"--max-side must be at least 8 pixels, got {args.max_side}")
    check_output_file(args.output, "--output", inputs={"--input": args.input})
    resolve_device(args.device)  # an unknown name or a missing GPU: one line before any work
    info = probe(args.input)
    if args.start >= info.num_frames:
        raise UserError(f"--start {args.start} is past the last frame of {args.input} ({info.num_frames} frames, "
                        f"0..{info.num_frames - 1}); pass a smaller --start")
    size = None
    if args.max_side is not None and max(info.width, info.height) > args.max_side:
        scale = args.max_side / max(info.width, info.height)
        size = (max(2, round(info.width * scale / 2) * 2), max(2, round(info.height * scale / 2) * 2))
    stop = None if args.frames is None else args.start + args.frames
    params = load_stage_params(args.stages_config, args.overrides)
    smoothing = False if args.no_smoothing else (True if args.smoothing is None else args.smoothing)
    logging.getLogger("stages.pipeline").setLevel(logging.WARNING if args.quiet else logging.INFO)  # stage lines
    frames = iter_frames(args.input, args.start, stop, size=size)
    total = max(0, info.num_frames - args.start) if info.num_frames else None
    if total is not None and args.frames is not None:
        total = min(total, args.frames)
    audio = args.input if args.start == 0 else None  # audio stays in sync only from the first frame
    times = frame_times(args.input)[args.start:stop]  # the input's timing, also at a variable frame rate
    writer = VideoWriter(args.output, info.fps, audio_from=audio, flag="--output",
                         timestamps=times if len(times) else None)  # checked before any work
    out = apply_stages(frames, args.stages, params, device=args.device, smoothing=smoothing,
                       flow=args.flow or "auto", total=total, progress=not args.quiet)
    with writer:
        for frame in out:
            writer.write(frame)
        if writer.num_frames == 0:
            raise UserError(f"no frames could be read from {args.input} from frame {args.start} on; "
                            "pass another --input or a smaller --start")
    print(f"wrote {writer.num_frames} frames at {info.fps:.3f} fps to {args.output}")
    return 0


def main(argv=None) -> int:
    console(logging.WARNING)
    return run_cli(lambda a: run(parse_args(a)), argv)


if __name__ == "__main__":
    sys.exit(main())
