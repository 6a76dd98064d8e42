"""Benchmark: how finely can a dlib landmark roll correlation tell two output modes apart?

    python benchmarks/roll_resolution.py PHOTO [PHOTO ...]          # bundled model, data/driving.mp4
    python benchmarks/roll_resolution.py --driving clip.mp4 --blur 1.5 3 PHOTO ...

benchmarks/unseen_faces.py compares the roll correlation (driving face vs result, over time) of the
full-resolution output and the generator's frames. Both paths move the face with the same dense-motion
deformation, so any roll gap between them is either a real difference in what the frames show, or noise of
the measurement itself. This script animates each photo once per mode with demo.py (its defaults) and
measures the same videos several ways:
  eye line      the roll unseen_faces.py reports: the angle of the line between the two eye centres
                (benchmarks/motion_transfer.py's face_signals)
  rigid fit     the rotation of the least-squares similarity fit of the 31 landmarks that do not move
                with the mouth or jaw (brows, nose, eyes), against the same video's first landmarks
  blur S        the eye-line roll again, after a Gaussian blur of S pixels on every frame
  jitter        the std of the second difference of the roll over frames (deg): frame-to-frame noise;
                the driving clip's own is printed first
When the ranking of the two modes flips between estimators that measure the same motion, the gap is
below what the measurement resolves.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TQDM_DISABLE", "1")

from benchmarks.motion_transfer import face_signals  # noqa: E402
from benchmarks.unseen_faces import MODES, run_demo  # noqa: E402
from faces import get_backend  # noqa: E402
from video import iter_frames  # noqa: E402

RIGID = np.r_[17:48]  # dlib 68: brows 17-26, nose 27-35, eyes 36-47


def rigid_roll(landmarks: np.ndarray, reference: np.ndarray) -> float:
    """Degrees of the least-squares rotation taking the reference's rigid landmarks onto these."""
    a = landmarks[RIGID] - landmarks[RIGID].mean(0)
    b = reference[RIGID] - reference[RIGID].mean(0)
    return float(np.degrees(np.arctan2((b[:, 0] * a[:, 1] - b[:, 1] * a[:, 0]).sum(), (a * b).sum())))


def landmark_track(path, backend, blur: float = 0.0) -> list:
    track = []
    for frame in iter_frames(path):
        if blur:
            frame = cv2.GaussianBlur(frame, (0, 0), blur)
        track.append(backend.landmarks(frame))
    return track


def eye_roll(track) -> np.ndarray:
    return np.array([face_signals(lm)[1] if lm is not None else np.nan for lm in track])


def fit_roll(track) -> np.ndarray:
    reference = next((lm for lm in track if lm is not None), None)
    return np.array([rigid_roll(lm, reference) if lm is not None else np.nan for lm in track])


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    both = ~np.isnan(a) & ~np.isnan(b)
    return float(np.corrcoef(a[both], b[both])[0, 1]) if both.sum() > 2 else float("nan")


def jitter(roll: np.ndarray) -> float:
    return float(np.nanstd(np.diff(roll, 2)))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photos", nargs="+")
    p.add_argument("--driving", default=str(ROOT / "data" / "driving.mp4"))
    p.add_argument("--blur", type=float, nargs="*", default=[1.5, 3.0], help="Gaussian blur sigmas (pixels)")
    args = p.parse_args(argv)
    backend = get_backend("auto", landmarks=True)
    driving = landmark_track(args.driving, backend)
    signals = {"eye line": eye_roll(driving), "rigid fit": fit_roll(driving)}
    print(f"driving: {args.driving}; roll jitter (deg): eye line {jitter(signals['eye line']):.2f}, "
          f"rigid fit {jitter(signals['rigid fit']):.2f}")
    header = ["eye line", "rigid fit", *(f"blur {s:g}" for s in args.blur)]
    print("| photo | mode | " + " | ".join(f"roll corr, {h} (jitter)" for h in header) + " |")
    print("|---|---|" + "---|" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        for photo in args.photos:
            for mode in MODES:
                result = Path(tmp) / f"{mode}.mp4"
                run_demo(["--source", photo, "--driving", args.driving, "--output_mode", mode, "--device", "cpu",
                          "--result_video", str(result)])
                track = landmark_track(result, backend)
                rolls = [(eye_roll(track), "eye line"), (fit_roll(track), "rigid fit")]
                rolls += [(eye_roll(landmark_track(result, backend, s)), "eye line") for s in args.blur]
                cells = [f"{correlation(signals[kind], roll):.3f} ({jitter(roll):.2f})" for roll, kind in rolls]
                print(f"| {Path(photo).name} | {mode} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
