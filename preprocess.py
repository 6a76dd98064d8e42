"""Command line that cuts raw talking-head videos into a FOMM face-track dataset (thin: parse, run, report).

  python preprocess.py --input raw_videos/ --output data/datasets/mine --size 256
  python preprocess.py --input a.mp4 b.mp4 --output data/datasets/ab-64 --size 64 --split_by track
  python preprocess.py --input a.mp4 --photos faces/ --output data/datasets/a-plus-photos --size 64
  python preprocess.py --output data/datasets/a-plus-photos --landmarks   # add landmark files (mouth loss)
  python preprocess.py --input raw/ --output work/shard-2 --shard 2/3      # one of 3 machines, then:
  python preprocess.py --merge_shards work/shard-1 work/shard-2 work/shard-3 --output data/datasets/mine

Writes <output>/train/, <output>/test/ (one clip per face track, named <video>#<NNN>#<start>#<end>.mp4),
<output>/tracks.csv and <output>/index.json (frame count, fps, size per clip); point dataset_params.root_dir
at <output>.
"""
import argparse
import dataclasses
import logging
import sys

from cli_types import finite_float
from errors import UserError, run_cli
from reporting import console

_FLAG_TYPES = {"int": int, "int | None": int, "float": finite_float, "float | None": finite_float, "str": str}


def add_option_flags(p: argparse.ArgumentParser) -> None:
    """One flag per PreprocessOptions field, same name, default and help (progress is --quiet)."""
    from footage.preprocess import PreprocessOptions

    for f in dataclasses.fields(PreprocessOptions):
        if f.name == "progress":
            continue
        kwargs = dict(f.metadata["cli"], default=f.default, help=f.metadata["help"].format(default=f.default))
        if f.type.startswith("tuple"):
            kwargs.update(nargs="+", default=list(f.default))
        else:
            kwargs["type"] = _FLAG_TYPES[f.type]
        p.add_argument(f"--{f.name}", **kwargs)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", nargs="+", default=[], metavar="PATH",
                   help="video files and/or folders of videos (searched recursively)")
    p.add_argument("--photos", nargs="+", default=[], metavar="PATH",
                   help="face photos and/or folders of them: each adds --photo_tracks training tracks of "
                        "synthetic head motion (extra identities)")
    p.add_argument("--output", required=True, help="dataset folder to create, e.g. data/datasets/NAME")
    p.add_argument("--shard", metavar="K/N", default=None,
                   help="process only the K-th of N shares of the inputs (K = 1..N), into a shard folder; "
                        "run all N (machines, SLURM array tasks or processes), then --merge_shards")
    p.add_argument("--merge_shards", nargs="+", default=[], metavar="SHARD",
                   help="join the N shard folders of one --shard run into the dataset at --output (the options "
                        "recorded in the shards are used)")
    add_option_flags(p)
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    p.add_argument("--landmarks", action="store_true",
                   help="also write per-frame face landmarks (<split>/landmarks/*.npy, needed by "
                        "loss_weights.mouth); with no --input/--photos, add them to the existing --output")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def options_from_args(args: argparse.Namespace):
    """The PreprocessOptions the parsed flags give."""
    from footage.preprocess import PreprocessOptions

    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(PreprocessOptions) if f.name != "progress"}
    values["test_videos"] = tuple(values["test_videos"])
    return PreprocessOptions(**values, progress=not args.quiet)


def _main(argv=None) -> None:
    console(logging.INFO)
    from footage.preprocess import build_dataset, merge_shards
    from footage.shards import parse_shard

    args = parse_args(argv)
    options = options_from_args(args)
    if args.merge_shards:
        if args.input or args.photos or args.shard:
            raise UserError("--merge_shards joins finished shards: pass it without --input, --photos and --shard")
        merge_shards(args.merge_shards, args.output, overwrite=args.overwrite, workers=options.workers,
                     progress=options.progress)
    elif args.input or args.photos or not args.landmarks:
        shard = parse_shard(args.shard) if args.shard is not None else None
        build_dataset(args.input, args.output, options, overwrite=args.overwrite, photos=args.photos, shard=shard)
    if args.landmarks:
        from footage.landmarks import annotate_dataset

        counts = annotate_dataset(args.output, args.face_backend, overwrite=args.overwrite, progress=not args.quiet)
        logging.info("landmarks: %d videos, %d written (%d frames, %d without a face), %d already there",
                     counts["videos"], counts["written"], counts["frames"], counts["frames_without_face"],
                     counts["kept"])


def main(argv=None) -> int:
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
