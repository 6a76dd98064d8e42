"""Command line for animating a photo with a driving video (thin: parse, build PhotoOptions, call engine.animate_photo).

  python demo.py --source photo.jpg --driving video.mp4                 # -> result.mp4 at the photo's size, audio kept
  python demo.py --source photo.jpg --driving video.mp4 --no_crop       # animate the whole frame, not the face crop
  python demo.py --source photo.jpg --driving video.mp4 --output_mode generator   # the generator's own frames
  python demo.py --config config/vox-256.yaml --checkpoint vox-cpk.pth.tar --find_best_frame ...
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from cli_types import finite_float, non_negative_int
from engine.animate_photo import MAX_DEFAULT_SIDE, PhotoAnimation, PhotoOptions
from engine.photo_output import write_animation
from errors import UserError, run_cli
from reporting import console

ROOT = Path(__file__).resolve().parent
DEFAULT_CHECKPOINT = "checkpoints/stillmotion-vox-128.pth.tar"
DEFAULT_SOURCE = "data/source.jpg"
DEFAULT_DRIVING = "data/driving.mp4"
OUTPUT_MODES = ("fullres", "generator")  # engine.fullres.OUTPUT_MODES, without importing torch for --help


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", default=None, help=f"source photo (default: {DEFAULT_SOURCE})")
    p.add_argument("--driving", default=None, help=f"driving video (default: {DEFAULT_DRIVING})")
    p.add_argument("--result_video", default="result.mp4", help="output video (default: result.mp4)")
    p.add_argument("--checkpoint", default=None, help=f"model weights (default: the bundled {DEFAULT_CHECKPOINT})")
    p.add_argument("--config", default=None,
                   help="YAML config (default: the one stored in the checkpoint; needed for published FOMM weights)")
    motion = p.add_mutually_exclusive_group()
    motion.add_argument("--relative", dest="relative", action=argparse.BooleanOptionalAction, default=True,
                        help="transfer the driving motion relative to its initial frame (default; "
                             "--no-relative or --absolute: use the driving keypoints as they are)")
    motion.add_argument("--absolute", dest="relative", action="store_false",
                        help="use the driving keypoints as they are")
    p.add_argument("--adapt_scale", dest="adapt_scale", action=argparse.BooleanOptionalAction, default=True,
                   help="scale the motion by the ratio of keypoint hull sizes (default; off: --no-adapt_scale)")
    p.add_argument("--no_adapt_scale", dest="adapt_scale", action="store_false")
    best = p.add_mutually_exclusive_group()
    best.add_argument("--find_best_frame", action="store_true",
                      help="start from the driving frame whose face pose is closest to the source's")
    best.add_argument("--best_frame", type=int, default=None, metavar="N", help="start from driving frame N")
    crop = p.add_mutually_exclusive_group()
    crop.add_argument("--crop", dest="crop", action="store_const", const="yes", default="auto",
                      help="animate a square crop around the face and paste it back into the full photo (the "
                           "default whenever a face is found; with --crop, a photo without one is an error)")
    crop.add_argument("--no_crop", dest="crop", action="store_const", const="no",
                      help="animate the whole frame, as the model sees it")
    p.add_argument("--face", type=int, default=0, metavar="N",
                   help="with several faces in the source photo, animate the N-th largest (default 0: the largest)")
    p.add_argument("--output_mode", default="fullres", choices=OUTPUT_MODES,
                   help="fullres (default): the source photo warped at its own resolution by the model's motion, "
                        "the generator painting only what the warp cannot show; generator: the generator's "
                        "own frames at the model's size, upscaled")
    p.add_argument("--mouth_retarget", action=argparse.BooleanOptionalAction, default=True,
                   help="fullres: open the photo's mouth as far as the driving mouth opens, from face landmarks "
                        "(engine/mouth_retarget.py; default on, off: --no-mouth_retarget)")
    p.add_argument("--crop_scale", type=finite_float, default=1.8, help="crop box side / face box side (default 1.8)")
    p.add_argument("--track_every", type=non_negative_int, default=0, metavar="N",
                   help="--crop: detect the driving face again every N frames (default 0: first frame only)")
    p.add_argument("--personalize", type=non_negative_int, default=0, metavar="N",
                   help="first fine-tune the generator on the source photo alone for N steps of synthetic head and "
                        "mouth motion (engine/personalize.py; 40 was chosen by measurement: 13 s on 2 quiet CPU "
                        "cores, checkpoints/README.md section 8; default 0: off)")
    p.add_argument("--save_personalized", default=None, metavar="PATH",
                   help="with --personalize: also write the fine-tuned model to PATH (atomically; never over "
                        "--checkpoint), to animate the same photo again with --checkpoint PATH without waiting")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--batch_size", type=int, default=8, help="driving frames per network call (default 8)")
    p.add_argument("--fps", type=finite_float, default=None,
                   help="output frame rate (default: the driving video's average); frames are repeated or "
                        "dropped to keep the driving video's timing and audio sync")
    p.add_argument("--size", type=int, default=None,
                   help="fullres: the output's longer side, up to the photo's own (default: the photo's own size, "
                        f"at most {MAX_DEFAULT_SIDE}); generator without crop: the output side (default: the "
                        "model's frame size)")
    p.add_argument("--visualize", action="store_true",
                   help="write source | driving | result side by side, keypoints drawn")
    p.add_argument("--bf16", action="store_true", help="run the networks in bfloat16 (autocast)")
    p.add_argument("--compile", action="store_true", help="torch.compile the networks (slow start)")
    p.add_argument("--runtime", default="torch", choices=("torch", "onnxruntime"),
                   help="run the networks in torch (default) or in onnxruntime from --onnx graphs")
    p.add_argument("--onnx", default=None, metavar="FOLDER",
                   help="--runtime onnxruntime: a folder from python -m engine.export --onnx FOLDER")
    p.add_argument("--stages", default=None, metavar="NAMES",
                   help="post-processing stages to apply, comma separated (e.g. dream,style)")
    p.add_argument("--set", dest="stage_overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a stage option of the checkpoint's stages_params (as stylize.py --set), "
                        "e.g. style.strength=0.5 or smoothing.strength=0.8; repeatable")
    return p.parse_args(argv)


def _default(path: str | None, default: str) -> str:
    return path if path is not None else str(ROOT / default)


def _checkpoint(args) -> str | None:
    """--checkpoint, or the bundled model for --runtime torch (the onnx folder carries its own)."""
    if args.checkpoint is not None or args.runtime != "torch":
        return args.checkpoint
    checkpoint = str(ROOT / DEFAULT_CHECKPOINT)
    if not os.path.isfile(checkpoint):
        raise UserError(f"the bundled model {DEFAULT_CHECKPOINT} is not here; pass --checkpoint PATH "
                        "(with --config for a published FOMM checkpoint such as vox-cpk.pth.tar)")
    return checkpoint


def photo_options(args) -> PhotoOptions:
    """The engine's PhotoOptions from demo.py's parsed options (the bundled files where none are given)."""
    return PhotoOptions(
        source=_default(args.source, DEFAULT_SOURCE), driving=_default(args.driving, DEFAULT_DRIVING),
        result_video=args.result_video, checkpoint=_checkpoint(args), config=args.config, relative=args.relative,
        adapt_scale=args.adapt_scale, find_best_frame=args.find_best_frame, best_frame=args.best_frame,
        crop=args.crop, face=args.face, output_mode=args.output_mode, crop_scale=args.crop_scale,
        track_every=args.track_every, device=args.device, batch_size=args.batch_size, fps=args.fps, size=args.size,
        visualize=args.visualize, bf16=args.bf16, compile=args.compile, runtime=args.runtime, onnx=args.onnx,
        stages=(args.stages or "").split(","), stage_overrides=list(args.stage_overrides),
        personalize=args.personalize, save_personalized=args.save_personalized, mouth_retarget=args.mouth_retarget)


def animate(args) -> None:
    """Check and load the inputs, then animate and write the result video."""
    job = PhotoAnimation(photo_options(args))
    write_animation(job)


def main(argv=None) -> int:
    console()  # the report lines (device, face, output, 'wrote ...') and warnings, on stderr
    return run_cli(lambda a: animate(parse_args(a)), argv)


if __name__ == "__main__":
    sys.exit(main())
