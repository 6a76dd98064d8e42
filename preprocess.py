"""Command line that cuts raw talking-head videos into a FOMM face-track dataset (thin: parse, run, report).

  python preprocess.py --input raw_videos/ --output data/datasets/mine --size 256
  python preprocess.py --input a.mp4 b.mp4 --output data/datasets/ab-64 --size 64 --split_by track
  python preprocess.py --input a.mp4 --photos faces/ --output data/datasets/a-plus-photos --size 64
  python preprocess.py --output data/datasets/a-plus-photos --landmarks   # add landmark files (mouth loss)

Writes <output>/train/, <output>/test/ (one clip per face track, named <video>#<NNN>#<start>#<end>.mp4)
and <output>/tracks.csv; point dataset_params.root_dir at <output>.
"""
import argparse
import logging
import sys

from cli_types import finite_float
from errors import run_cli


def parse_args(argv=None):
    from footage.preprocess import FORMATS, SPLIT_BY, PreprocessOptions

    d = PreprocessOptions()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", nargs="+", default=[], metavar="PATH",
                   help="video files and/or folders of videos (searched recursively)")
    p.add_argument("--photos", nargs="+", default=[], metavar="PATH",
                   help="face photos and/or folders of them: each adds --photo_tracks training tracks of "
                        "synthetic head motion (extra identities)")
    p.add_argument("--photo_frames", type=int, default=d.photo_frames,
                   help=f"frames per synthetic photo track (default {d.photo_frames})")
    p.add_argument("--photo_tracks", type=int, default=d.photo_tracks,
                   help=f"synthetic tracks per photo, each a different motion (default {d.photo_tracks})")
    p.add_argument("--photo_increase", type=finite_float, default=d.photo_increase,
                   help="enlarge each side of a photo's face box by this fraction (default "
                        f"{d.photo_increase}: frames the face as the video tracks do)")
    p.add_argument("--photo_mouth", type=finite_float, default=d.photo_mouth,
                   help="photo tracks: open and close the mouth too, up to this many face widths between the "
                        "inner lips (synthetic mouth motion; e.g. 0.08; default 0: head motion only)")
    p.add_argument("--output", required=True, help="dataset folder to create, e.g. data/datasets/NAME")
    p.add_argument("--size", type=int, default=d.size, help=f"crop side in pixels (default {d.size})")
    p.add_argument("--format", default=d.format, choices=FORMATS,
                   help="mp4 clips or folders of png frames (default mp4)")
    p.add_argument("--min_frames", type=int, default=d.min_frames,
                   help=f"shortest track kept, in frames (default {d.min_frames})")
    p.add_argument("--max_frames", type=int, default=d.max_frames,
                   help=f"longer tracks are cut into pieces of this many frames (default {d.max_frames})")
    p.add_argument("--increase", type=finite_float, default=d.increase,
                   help=f"enlarge each side of the track's face box by this fraction (default {d.increase})")
    p.add_argument("--iou_with_initial", type=finite_float, default=d.iou_with_initial,
                   help="a track goes on while the face box overlaps the track's first box at least this "
                        f"much (default {d.iou_with_initial})")
    p.add_argument("--detect_every", type=int, default=d.detect_every,
                   help=f"detect faces every N frames, the box carried in between (default {d.detect_every})")
    p.add_argument("--max_gap", type=int, default=d.max_gap,
                   help=f"frames a face may go undetected before its track ends (default {d.max_gap})")
    p.add_argument("--detect_side", type=int, default=d.detect_side,
                   help="resize frames to this longer side for face detection: big ones shrink, small ones "
                        f"grow up to 4x so their faces are found (default {d.detect_side})")
    p.add_argument("--scene_threshold", type=finite_float, default=d.scene_threshold,
                   help="cut tracks where the mean abs difference (0-255) of consecutive 64x64 gray frames "
                        f"exceeds this (default {d.scene_threshold})")
    p.add_argument("--test_fraction", type=finite_float, default=d.test_fraction,
                   help=f"share held out for test/ (default {d.test_fraction}; 1: an evaluation-only dataset)")
    p.add_argument("--test_videos", nargs="+", default=[], metavar="NAME",
                   help="put these videos (file names or stems) in test/ instead of a seeded choice")
    p.add_argument("--split_by", default=d.split_by, choices=SPLIT_BY,
                   help="identity: whole videos go to test/; track: the last part of every video does")
    p.add_argument("--fps", type=finite_float, default=None, help="resample the clips to this frame rate")
    p.add_argument("--workers", type=int, default=d.workers, help="videos processed in parallel (processes)")
    p.add_argument("--face_backend", default=d.face_backend, help="faces backend (default auto)")
    p.add_argument("--crf", type=int, default=d.crf, help=f"H.264 quality of the clips (default {d.crf})")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of the identity split")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    p.add_argument("--landmarks", action="store_true",
                   help="also write per-frame face landmarks (<split>/landmarks/*.npy, needed by "
                        "loss_weights.mouth); with no --input/--photos, add them to the existing --output")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def _main(argv=None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from footage.preprocess import PreprocessOptions, build_dataset

    args = parse_args(argv)
    options = PreprocessOptions(
        size=args.size, format=args.format, min_frames=args.min_frames, max_frames=args.max_frames,
        increase=args.increase, iou_with_initial=args.iou_with_initial, detect_every=args.detect_every,
        max_gap=args.max_gap, scene_threshold=args.scene_threshold, test_fraction=args.test_fraction,
        test_videos=tuple(args.test_videos), split_by=args.split_by, fps=args.fps, workers=args.workers,
        detect_side=args.detect_side, face_backend=args.face_backend, crf=args.crf, seed=args.seed,
        progress=not args.quiet, photo_frames=args.photo_frames, photo_tracks=args.photo_tracks,
        photo_increase=args.photo_increase, photo_mouth=args.photo_mouth)
    if args.input or args.photos or not args.landmarks:
        build_dataset(args.input, args.output, options, overwrite=args.overwrite, photos=args.photos)
    if args.landmarks:
        from faces import get_backend
        from footage.landmarks import annotate_dataset

        backend = get_backend(args.face_backend, landmarks=True)
        logging.info("%s", backend.describe())
        counts = annotate_dataset(args.output, backend, overwrite=args.overwrite, progress=not args.quiet)
        logging.info("landmarks: %d videos, %d written (%d frames, %d without a face), %d already there",
                     counts["videos"], counts["written"], counts["frames"], counts["frames_without_face"],
                     counts["kept"])


def main(argv=None) -> int:
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
