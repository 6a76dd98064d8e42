"""FramesDataset start-up on a large root: with the dataset index, without it, and with the old reader.

  python benchmarks/dataset_startup.py                 # 2,000 clips of 16 frames at 64 px
  python benchmarks/dataset_startup.py --clips 500 --no_old

Builds a root with train/ holding --clips short mp4 clips (one real 16-frame clip of franck.mp4, encoded
once, then copied under 2,000 names: every copy is a file of its own that must be opened), and times
FramesDataset(root) construction (the start-up of every training rank and DataLoader):

* no index, new reader: every clip probed in-process (PyAV), and the index written;
* with the index: nothing opened, one stat per clip (the target: under 2 s for 2,000 clips);
* no index, old reader: the ffmpeg-subprocess reader of git revision --old_rev (two ffmpeg processes per
  clip), loaded as benchmarks/loader_speed.py does.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from loader_speed import MEDIA, OLD_REV, as_video_package, old_reader  # noqa: E402

import video  # noqa: E402
from footage import sources  # noqa: E402
from footage.frames import FramesDataset  # noqa: E402
from footage.index import INDEX_NAME  # noqa: E402
from video.ffmpeg import ffmpeg_exe  # noqa: E402


def timed_start(root: Path) -> tuple[float, int]:
    start = time.perf_counter()
    dataset = FramesDataset(root, frame_shape=(64, 64, 3), is_train=True)
    return time.perf_counter() - start, len(dataset)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clips", type=int, default=2000)
    p.add_argument("--no_old", action="store_true", help="skip the old reader's row (the slow one)")
    p.add_argument("--old_rev", default=OLD_REV)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        train = Path(tmp) / "root" / "train"
        train.mkdir(parents=True)
        one = Path(tmp) / "one.mp4"
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-ss", "20", "-i", str(MEDIA / "franck.mp4"), "-frames:v",
                        "16", "-vf", "crop=288:288:36:0,scale=64:64", "-c:v", "libx264", "-crf", "15", "-an",
                        str(one)], check=True)
        for i in range(args.clips):
            shutil.copy(one, train / f"id{i // 10:04d}#{i:05d}#000000#000016.mp4")
        root = train.parent
        index = root / INDEX_NAME
        print(f"FramesDataset start-up, {args.clips} clips of 16 frames at 64 px, {os.cpu_count()} cores")
        seconds, n = timed_start(root)
        print(f"  no index, new reader (index written): {seconds:7.2f} s  ({n} items)", flush=True)
        seconds, n = timed_start(root)
        print(f"  with the index:                       {seconds:7.2f} s  ({n} items)", flush=True)
        if not args.no_old:
            index.unlink()
            sources.video = as_video_package(old_reader(args.old_rev))
            try:
                seconds, n = timed_start(root)
            finally:
                sources.video = video
            print(f"  no index, old reader:                 {seconds:7.2f} s  ({n} items)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
