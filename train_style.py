"""Command line: train a fast-neural-style TransformerNet from one style image and content images or videos.

    python train_style.py --style style.jpg --content photos/ clip.mp4 --out checkpoints/style/mine.pth \
        [--vgg imagenet|random|FILE] [--size 160] [--iterations 2000] [--minutes 15] [--width 32]

The losses, the loop and the saved format are described in stages/style_train.py; this file only parses.
"""
from __future__ import annotations

import argparse
import sys

from cli_types import finite_float
from errors import run_cli
from reporting import console


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Train a fast-neural-style TransformerNet (pytorch/examples .pth format).")
    p.add_argument("--style", required=True, help="style image")
    p.add_argument("--content", required=True, nargs="+", help="content images, videos, or folders of them")
    p.add_argument("--out", required=True, help="output .pth (written atomically)")
    p.add_argument("--vgg", default="imagenet",
                   help="imagenet (cached torchvision VGG16, the default), random (seeded random weights), or a file")
    p.add_argument("--vgg-seed", type=int, default=0, help="seed of the random VGG16 weights")
    p.add_argument("--size", type=int, default=256, help="training crop size in pixels")
    p.add_argument("--style-size", type=int, default=None, help="resize the style image's shorter side to this")
    p.add_argument("--frames-per-video", type=int, default=200)
    p.add_argument("--width", type=int, default=32, help="TransformerNet base width (32 = the published size)")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--iterations", type=int, default=2000)
    p.add_argument("--minutes", type=finite_float, default=None,
                   help="stop (and save) this many minutes after the start, data loading included")
    p.add_argument("--lr", type=finite_float, default=1e-3)
    p.add_argument("--content-weight", type=finite_float, default=1.0)
    p.add_argument("--style-weight", type=finite_float, default=5.0)
    p.add_argument("--tv-weight", type=finite_float, default=1.0)
    p.add_argument("--identity-steps", type=int, default=0,
                   help="first train the net this many steps to copy its input (cheap; keeps content from the start)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--log-every", type=int, default=25)
    return p.parse_args(argv)


def _main(argv=None) -> None:
    from stages.style_train import StyleTrainOptions, train_style_model

    options = StyleTrainOptions(**vars(parse_args(argv)))
    console()
    train_style_model(options)


def main(argv=None) -> int:
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
