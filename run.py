"""Command line for training, reconstruction evaluation and pair animation on a dataset (thin: parse, load, dispatch).

  python run.py --config config/vox-256.yaml                         # train (one device)
  torchrun --nproc_per_node=4 run.py --config config/vox-256.yaml    # train on 4 GPUs (DDP)
  python run.py --mode reconstruction --config C --checkpoint CKPT   # reconstruct test videos + metrics
  python run.py --mode animate --config C --checkpoint CKPT          # animate dataset pairs
Any config key can be overridden: --set dataset_params.root_dir=/data/x --set train_params.num_epochs=3
"""
import argparse
import sys

from errors import run_cli
from reporting import console

MODES = ("train", "reconstruction", "animate")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="YAML config (original FOMM keys)")
    p.add_argument("--mode", default="train", choices=MODES)
    p.add_argument("--checkpoint", default=None,
                   help="train: resume from it (ours) or start from its weights (original FOMM format); "
                        "reconstruction/animate: the model to evaluate")
    p.add_argument("--log_dir", default="log", help="parent folder of run directories (default: log)")
    p.add_argument("--run_dir", default=None, help="exact run directory to use instead of a new numbered one")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (dotted), repeatable")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    p.add_argument("--num_videos", type=int, default=None,
                   help="reconstruction: how many test videos (same as --set reconstruction_params.num_videos=N)")
    p.add_argument("--baseline_checkpoint", default=None,
                   help="reconstruction: a second checkpoint evaluated in the same table")
    p.add_argument("--visualize", action="store_true", help="reconstruction/animate: also write side-by-side videos")
    p.add_argument("--output_mode", default="generator", choices=("generator", "fullres"),
                   help="reconstruction: score the generator's frames (default, the paper's protocol) or the "
                        "full-resolution output (demo.py's default: the first frame warped by the model's motion)")
    p.add_argument("--mouth_retarget", action=argparse.BooleanOptionalAction, default=True,
                   help="reconstruction with --output_mode fullres: open the first frame's mouth as each frame's "
                        "opens, as demo.py does (default on; off: --no-mouth_retarget)")
    p.add_argument("--size", type=int, default=None,
                   help="reconstruction: read and score the frames at this side (default: the model's frame size); "
                        "the generator's frames are upscaled to it")
    p.add_argument("--verbose", action="store_true")
    return p.parse_args(argv)


def _main(argv=None) -> None:
    args = parse_args(argv)
    console()  # progress and results are logged (train lowers it to warnings on ranks other than 0)
    from engine.config import load_config

    overrides = list(args.overrides)
    if args.num_videos is not None:
        overrides.append(f"reconstruction_params.num_videos={args.num_videos}")
    config = load_config(args.config, overrides)
    if not (args.mode == "train" and args.checkpoint):  # a resumed run may go on in the checkpoint's folder
        from engine.rundir import check_run_location

        check_run_location(args.log_dir, args.run_dir)
    if args.mode == "train":
        from engine.train import TrainOptions, train

        train(config, TrainOptions(checkpoint=args.checkpoint, run_dir=args.run_dir, log_dir=args.log_dir,
                                   config=args.config, device=args.device))
    elif args.mode == "reconstruction":
        from engine.reconstruction import ReconstructionOptions, run_reconstruction

        run_reconstruction(config, ReconstructionOptions(
            checkpoint=args.checkpoint, config=args.config, log_dir=args.log_dir, run_dir=args.run_dir,
            device=args.device, baseline_checkpoint=args.baseline_checkpoint, visualize=args.visualize,
            output_mode=args.output_mode, size=args.size, mouth_retarget=args.mouth_retarget))
    else:
        from engine.animate_pairs import PairsOptions, run_animate

        run_animate(config, PairsOptions(checkpoint=args.checkpoint, config=args.config, log_dir=args.log_dir,
                                         run_dir=args.run_dir, device=args.device, visualize=args.visualize))


def main(argv=None) -> int:
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
