"""Regenerates the README's pictures from the bundled defaults: docs/bundled_demo.png and docs/stages.png.

    python docs/make_pictures.py            # both, a few minutes on 2 CPU cores (most of it the dream stage)
    python docs/make_pictures.py demo       # only bundled_demo.png (under a minute)

bundled_demo.png: `python demo.py --visualize --size 256` on data/source.jpg and data/driving.mp4 (the
default full-resolution output of the face crop, pasted back into the photo; 256 px on the photo's longer
side), frames 0, 30, 60, 90 and 119 stacked (columns source photo | driving | result, keypoints drawn).
stages.png: frames 30 and 90 of the generator's own 192 px animation (`--no_crop --output_mode generator`;
rows): animation | depth | style | dream | dream,style,depth |
the same with depth.focus far, each stage with its offline default, run on the animation with temporal
smoothing as `demo.py --stages` runs them (the last column: `stylize.py --set depth.focus=far` on the
animation's video). With other stages, depth is a mask: dream and style stay on the near parts (focus near,
the default) or on the background (focus far).
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
        plain = ("--size", "192", "--no_crop", "--output_mode", "generator")  # the model's own frames, 192 px
        videos = [demo(*plain, out=tmp / "plain.mp4")]
        for stage in ("depth", "style", "dream", "dream,style,depth"):
            videos.append(demo(*plain, "--stages", stage, out=tmp / f"{stage.replace(',', '_')}.mp4"))
        far = tmp / "far.mp4"
        subprocess.run([sys.executable, "stylize.py", "--input", str(tmp / "plain.mp4"), "--stages",
                        "dream,style,depth", "--set", "depth.focus=far", "--output", str(far)], cwd=ROOT, check=True)
        videos.append(list(iter_frames(far)))
        rows = [np.concatenate([v[k] for v in videos], axis=1) for k in STAGE_FRAMES]
        save_image(ROOT / "docs" / "stages.png", np.concatenate(rows, axis=0))
    print("wrote docs/bundled_demo.png and docs/stages.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
