"""Benchmark: does a personalised model open the mouth by painting (occlusion) or by moving pixels (deformation)?

    python benchmarks/mouth_occlusion.py PHOTO DRIVING [--steps 80]

Animates PHOTO's 128x128 face crop (demo.py's crop box) with DRIVING's face crops (followed as demo.py follows
them) through engine.animate.Animator, with the bundled model and with it personalised for --steps steps
(engine.personalize, defaults otherwise). Prints, for each: the correlation and amplitude (result std / driving
std) of the generator frames' mouth opening (dlib) against the driving face's, and the occlusion map's mean
over the source mouth and chin (dlib landmarks 49-68 down to the chin) at the driving clip's widest-open
frame, at its first frame, and its range over the clip. Lower occlusion: the generator paints there.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.animate import Animator  # noqa: E402
from engine.inference import load_model  # noqa: E402
from engine.personalize import PersonalizeOptions, personalize  # noqa: E402
from faces import get_backend  # noqa: E402
from faces.crop import crop_resize  # noqa: E402
from faces.follow import FaceFollower, source_face_box  # noqa: E402
from faces.mouth_motion import mouth_opening  # noqa: E402
from video import iter_frames, load_image  # noqa: E402
from video.image import to_uint8  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photo")
    p.add_argument("driving")
    p.add_argument("--steps", type=int, default=80)
    p.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "stillmotion-vox-128.pth.tar"))
    args = p.parse_args(argv)
    landmarks = get_backend("auto", landmarks=True)
    photo = load_image(args.photo)
    box = source_face_box(photo, get_backend("auto", landmarks=False, detector="hog+cnn"), 1.8)
    model = load_model(args.checkpoint, device="cpu")
    size = model.config["dataset_params"]["frame_shape"][0]
    follower = FaceFollower(get_backend("auto", landmarks=False), scale=1.8)
    driving = [crop_resize(frame, crop, size) for frame, crop in follower.follow(iter_frames(args.driving))]

    def opening(image):
        marks = landmarks.landmarks(to_uint8(image))
        return mouth_opening(marks) if marks is not None else np.nan

    driving_mouth = np.array([opening(d) for d in driving])
    source = crop_resize(photo, box, size)
    marks = landmarks.landmarks(to_uint8(source))
    x0, y0 = marks[48:68].min(0)
    x1, y1 = marks[48:68, 0].max(), marks[8, 1]
    widest = int(np.nanargmax(driving_mouth))

    def run(m):
        animator = Animator(m, batch_size=8)
        animator.set_source(source)
        occlusion, mouth = [], []
        for result in animator.run(driving, return_motion=True):
            s = result.occlusion.shape[0] / size
            rows = slice(int(y0 * s), int(np.ceil(y1 * s)))
            occlusion.append(result.occlusion[rows, int(x0 * s):int(np.ceil(x1 * s))].mean())
            mouth.append(opening(np.clip(result.image, 0, 1)))
        return np.array(occlusion), np.array(mouth)

    start = time.perf_counter()
    tuned = personalize(model, photo, box, PersonalizeOptions(steps=args.steps), progress=False)
    seconds = time.perf_counter() - start
    for name, m in (("bundled", model), (f"personalised {args.steps} steps ({seconds:.1f} s)", tuned)):
        occlusion, mouth = run(m)
        ok = ~np.isnan(driving_mouth) & ~np.isnan(mouth)
        corr = np.corrcoef(driving_mouth[ok], mouth[ok])[0, 1]
        amplitude = mouth[ok].std() / driving_mouth[ok].std()
        print(f"{Path(args.photo).name} {name}: generator frames mouth corr {corr:.2f} amp {amplitude:.2f}; occlusion "
              f"over the mouth at the widest driving frame ({widest}) {occlusion[widest]:.2f}, at the first "
              f"{occlusion[0]:.2f}, range {occlusion.min():.2f}-{occlusion.max():.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
