"""Benchmark: does the animation follow the driving video's head pose and mouth? Landmark correlations.

    python benchmarks/motion_transfer.py                                   # bundled model, data/ sample
    python benchmarks/motion_transfer.py --checkpoint X --config C --source photo.jpg --driving clip.mp4
    python benchmarks/motion_transfer.py --demo_flag=--find_best_frame --demo_flag=--crop   # demo.py options

Runs `demo.py` (its defaults: relative motion) at 256x256, finds dlib's 68 landmarks (or face-alignment's
when its weights are cached) in every driving and result frame, and prints, for three signals, the
correlation over time between driving and result and each one's standard deviation:
  mouth opening   inner-lip gap (landmarks 63-67, 1-based) / face width (jaw ends 1-17)
  roll            angle of the line between the eye centres, degrees
  yaw             horizontal offset of the nose tip from the jaw's midpoint / face width
  mouth width     distance between the mouth corners (landmarks 49, 55) / face width: a smile widens it
A correlation near 1 means the result moves when and as the driving face does; near 0, it does not.
"""
import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.hardware import cpu_summary  # noqa: E402
from faces import get_backend  # noqa: E402
from faces.mouth_motion import face_width, mouth_opening, mouth_width  # noqa: E402
from video import iter_frames  # noqa: E402

SIGNALS = ("mouth opening", "roll (deg)", "yaw", "mouth width")


def face_signals(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """The SIGNALS of one face's (68, 2) landmarks."""
    eyes = landmarks[42:48].mean(0) - landmarks[36:42].mean(0)
    roll = float(np.degrees(np.arctan2(eyes[1], eyes[0])))
    yaw = float(landmarks[30, 0] - (landmarks[0, 0] + landmarks[16, 0]) / 2) / face_width(landmarks)
    return mouth_opening(landmarks), roll, yaw, mouth_width(landmarks)


def track(path, backend) -> np.ndarray:
    rows = []
    for frame in iter_frames(path):
        landmarks = backend.landmarks(frame)
        rows.append(face_signals(landmarks) if landmarks is not None else (np.nan,) * len(SIGNALS))
    return np.array(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=None, help="model (default: demo.py's bundled model)")
    p.add_argument("--config", default=None)
    p.add_argument("--source", default=None, help="source photo (default: demo.py's data/source.jpg)")
    p.add_argument("--driving", default=None, help="driving video (default: demo.py's data/driving.mp4)")
    p.add_argument("--demo_flag", action="append", default=[], metavar="FLAG",
                   help="pass a flag on to demo.py, e.g. --demo_flag=--find_best_frame (repeatable)")
    args = p.parse_args(argv)
    extra = []
    for flag in ("checkpoint", "config", "source", "driving"):
        if getattr(args, flag):
            extra += [f"--{flag}", getattr(args, flag)]
    extra += args.demo_flag
    backend = get_backend("auto", landmarks=True)
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.mp4"
        run = subprocess.run([sys.executable, "demo.py", "--size", "256", "--result_video", str(result), *extra],
                             cwd=ROOT, capture_output=True, text=True)
        if run.returncode != 0:  # demo.py's own one-line error, not a traceback of this script
            lines = run.stderr.strip().splitlines() or [f"exit status {run.returncode}"]
            print(f"demo.py failed: {lines[-1]}", file=sys.stderr)
            return run.returncode
        generated = track(result, backend)
    driving = track(Path(args.driving) if args.driving else ROOT / "data" / "driving.mp4", backend)
    both = ~np.isnan(generated[:, 0]) & ~np.isnan(driving[:, 0])
    print(f"landmarks: {backend.describe()}")
    print(f"frames with a face in both driving and result: {int(both.sum())} of {len(driving)}\n")
    print(f"CPU: {cpu_summary()}")
    print("| signal | correlation (driving vs result) | driving std | result std |")
    print("|---|---|---|---|")
    for i, name in enumerate(SIGNALS):
        d, g = driving[both, i], generated[both, i]
        corr = float(np.corrcoef(d, g)[0, 1]) if both.sum() > 2 else float("nan")
        print(f"| {name} | {corr:.2f} | {d.std():.3f} | {g.std():.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
