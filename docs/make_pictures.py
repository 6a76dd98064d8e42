"""Regenerates the README's pictures from the bundled defaults: docs/bundled_demo.png and docs/stages.png.

    python docs/make_pictures.py            # both, about 6 minutes on 2 CPU cores (most of it the dream stage)
    python docs/make_pictures.py demo       # only bundled_demo.png (under a minute)

bundled_demo.png: `python demo.py --visualize --size 256` on data/source.jpg and data/driving.mp4 (the
default full-resolution output of the face crop, pasted back into the photo; 256 px on the photo's longer
side), frames 0, 30, 60, 90 and 119 stacked (columns source photo | driving | result, keypoints drawn).
stages.png: frames 30 and 90 of that animation (rows): animation | depth | style | dream, each stage with its
offline default, run on the animation with temporal smoothing as `demo.py --stages` runs them.
"""
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from video import iter_frames, save_image  # noqa: E402

ROWS = (0, 30, 60, 90, 119)
STAGE_FRAMES = (30, 90)


def demo(*args: str, out: Path) -> list[np.ndarray]:
    subprocess.run([sys.executable, "demo.py", "--result_video", str(out), *args], cwd=ROOT, check=True)
    return list(iter_frames(out))


def main(argv=None) -> int:
    only_demo = (sys.argv[1:] if argv is None else argv) == ["demo"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        frames = demo("--visualize", "--size", "256", out=tmp / "visualize.mp4")
        save_image(ROOT / "docs" / "bundled_demo.png", np.concatenate([frames[k] for k in ROWS], axis=0))
        if only_demo:
            print("wrote docs/bundled_demo.png")
            return 0
        videos = [demo("--size", "192", out=tmp / "plain.mp4")]
        for stage in ("depth", "style", "dream"):
            videos.append(demo("--size", "192", "--stages", stage, out=tmp / f"{stage}.mp4"))
        rows = [np.concatenate([v[k] for v in videos], axis=1) for k in STAGE_FRAMES]
        save_image(ROOT / "docs" / "stages.png", np.concatenate(rows, axis=0))
    print("wrote docs/bundled_demo.png and docs/stages.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
