"""Command line for running post-processing stages on an existing video (thin: parse, call stages.stylize_video).

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
import sys

from cli_types import finite_float
from errors import run_cli
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


def run(args) -> int:
    """Build StylizeOptions from the parsed options and stylize the video."""
    from stages.stylize_video import StylizeOptions, stylize_video

    return stylize_video(StylizeOptions(**vars(args)))


def main(argv=None) -> int:
    console(logging.WARNING)  # warnings, the stage lines (stages.pipeline, unless --quiet) and the result line:
    logging.getLogger("stages.stylize_video").setLevel(logging.INFO)
    return run_cli(lambda a: run(parse_args(a)), argv)


if __name__ == "__main__":
    sys.exit(main())
