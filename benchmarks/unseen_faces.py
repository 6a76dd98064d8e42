"""Benchmark: demo.py on face photos the model never saw, full-resolution output vs the generator's frames.

    python benchmarks/unseen_faces.py PHOTO [PHOTO ...]                       # bundled model, data/driving.mp4
    python benchmarks/unseen_faces.py --driving clip.mp4 --modes fullres PHOTO ...
    python benchmarks/unseen_faces.py --checkpoint X --config C --demo_flag=--no_crop PHOTO ...
    python benchmarks/unseen_faces.py --modes fullres --personalize 0,60 --driving clip.mp4 PHOTO ...

For every photo and output mode (demo.py --output_mode fullres | generator, demo.py's other defaults:
face crop with paste-back when a face is found, relative motion), it runs demo.py twice and measures the
written videos at the photo's own resolution:
  zero-motion PSNR   the photo animated by a motionless clip (the driving video's first frame repeated):
                     PSNR of every result frame against the photo, inside the detected face box (dB)
  sharpness          variance of the Laplacian inside the face box, result / photo (same still run)
  codec floor        the same PSNR for the photo itself written as a video and read back: what the video
                     encoding alone loses (small faces lose most)
  identity           dlib's 128-D embedding distance between the photo and every 10th frame of the
                     animation driven by the real clip (mean); "static" is the distance of the photo
                     written as a video and read back (the encoding's own floor). For scale, the driving
                     person's own distance from their first frame over the same clip is printed first:
                     what the motion alone does to the embedding of a real face
  mouth, roll, yaw,  correlation over time between the driving face's and the result's mouth opening,
  smile              roll, yaw and mouth width (benchmarks/motion_transfer.py's landmark signals); mouth
                     amp is the result's mouth-opening std / the driving's
  seconds            wall time of demo.py on the real clip
  --keep DIR         keeps, per photo and row, the animation (PHOTO-ROW.mp4) and its per-frame landmark
                     signals next to the driving clip's (PHOTO-ROW.csv: frame, driving and result mouth
                     opening, roll, yaw, mouth width; empty where dlib found no face)
  personalise (s)    with --personalize N (rows "fullres+pN"): the seconds demo.py --personalize N spent
                     fine-tuning on the photo (its own report); the still run personalises and saves the model
                     (--save_personalized), the real-clip run loads it (--checkpoint), so both use the same
                     weights. "-" for rows without personalisation
"""
from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TQDM_DISABLE", "1")

import demo  # noqa: E402
from atomic import atomic_open, atomic_write_text  # noqa: E402
from benchmarks.motion_transfer import SIGNALS  # noqa: E402
from benchmarks.motion_transfer import track as signals  # noqa: E402
from errors import run_cli  # noqa: E402
from evaluation.metrics import psnr  # noqa: E402
from faces import get_backend  # noqa: E402
from reporting import captured  # noqa: E402
from video import VideoWriter, iter_frames, load_image, read_frames  # noqa: E402
from video.image import to_uint8  # noqa: E402

MODES = ("fullres", "generator")


def sharpness(image: np.ndarray) -> float:
    grey = cv2.cvtColor(to_uint8(image), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def face_region(image: np.ndarray, box) -> np.ndarray:
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    return image[max(y0, 0):y1, max(x0, 0):x1]


def at_photo_size(frame: np.ndarray, shape) -> np.ndarray:
    """A result frame at the photo's own size: the writer's even-size padding cut off (an odd side is padded
    by one repeated row or column), any other size difference resized."""
    height, width = shape[:2]
    if frame.shape[0] - height in (0, 1) and frame.shape[1] - width in (0, 1):
        return frame[:height, :width]
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_CUBIC)


def run_demo(argv: list[str], output: io.StringIO | None = None) -> float:
    """demo.py in this process; its seconds (its report lines go to `output`). demo.py's own error line
    ends the benchmark."""
    start = time.perf_counter()
    out = output if output is not None else io.StringIO()
    with captured(out):  # demo.main without its console: the lines go to `output` alone
        code = run_cli(lambda a: demo.animate(demo.parse_args(a)), argv)
    if code != 0:
        raise SystemExit(f"demo.py {' '.join(argv)} failed (exit {code}); its message is above")
    return time.perf_counter() - start


PERSONALISED = re.compile(r"personalised the generator on the source photo: \d+ steps in ([0-9.]+) s")


def still_clip(driving: str, path: Path, frames: int) -> None:
    """The driving video's first frame repeated: a clip with no motion at all."""
    first = read_frames(driving, [0])[0]
    with VideoWriter(path, fps=25) as writer:
        for _ in range(frames):
            writer.write(first)


def identity_distance(path, reference: np.ndarray | None, backend, every: int = 10) -> float:
    if reference is None:  # the photo's own face is not found by the embedding's detector (e.g. HOG on cameraman)
        return float("nan")
    distances = []
    for index, frame in enumerate(iter_frames(path)):
        if index % every:
            continue
        embedding = backend.embedding(frame)
        if embedding is not None:
            distances.append(float(np.linalg.norm(embedding - reference)))
    return float(np.mean(distances)) if distances else float("nan")


def correlations(driving: np.ndarray, result: np.ndarray) -> tuple[list[float], float, int]:
    both = ~np.isnan(driving[:, 0]) & ~np.isnan(result[:, 0])
    corr = []
    for i in range(len(SIGNALS)):
        d, r = driving[both, i], result[both, i]
        corr.append(float(np.corrcoef(d, r)[0, 1]) if both.sum() > 2 and d.std() > 0 and r.std() > 0 else float("nan"))
    amplitude = float(result[both, 0].std() / driving[both, 0].std()) if both.sum() > 2 else float("nan")
    return corr, amplitude, int(both.sum())


def measure(photo_path: str, mode: str, args, backend, driving_signals, tmp: Path, personalize: int = 0) -> dict:
    photo = load_image(photo_path)
    face = photo_face(photo, backend)
    common = ["--source", photo_path, "--output_mode", mode, "--device", "cpu", *args.demo_flag]
    model = []
    if args.checkpoint:
        model += ["--checkpoint", args.checkpoint]
    if args.config:
        model += ["--config", args.config]
    still_result = tmp / f"still-{mode}.mp4"
    tuning, personalise_seconds = [], float("nan")
    if personalize:
        tuned = tmp / f"personalised-{mode}-{personalize}.pth.tar"
        tuned.unlink(missing_ok=True)
        tuning = ["--personalize", str(personalize), "--save_personalized", str(tuned)]
    printed = io.StringIO()
    run_demo([*common, *model, *tuning, "--driving", str(tmp / "still.mp4"), "--result_video", str(still_result)],
             printed)
    if personalize:
        personalise_seconds = float(PERSONALISED.search(printed.getvalue()).group(1))
        model = ["--checkpoint", str(tuned)]  # the saved personalised model carries its config
    frames = [at_photo_size(f.astype(np.float32) / 255, photo.shape) for f in iter_frames(still_result)]
    source_face = face_region(photo, face.box)
    zero_psnr = float(np.mean([psnr(face_region(f, face.box), source_face) for f in frames]))
    sharp = float(np.mean([sharpness(face_region(f, face.box)) for f in frames])) / sharpness(source_face)
    result = tmp / f"anim-{mode}.mp4"
    seconds = run_demo([*common, *model, "--driving", args.driving, "--result_video", str(result)])
    result_signals = signals(result, backend)
    corr, amplitude, count = correlations(driving_signals, result_signals)
    if args.keep:
        keep(Path(args.keep), f"{Path(photo_path).stem}-{mode}{f'+p{personalize}' if personalize else ''}",
             result, driving_signals, result_signals)
    reference = backend.embedding(to_uint8(photo))
    return dict(zero_psnr=zero_psnr, sharpness=sharp, identity=identity_distance(result, reference, backend),
                mouth=corr[0], amplitude=amplitude, roll=corr[1], yaw=corr[2], smile=corr[3], frames=count,
                seconds=seconds,
                personalise=personalise_seconds)


def keep(folder: Path, name: str, video: Path, driving: np.ndarray, result: np.ndarray) -> None:
    """--keep: the animation and its per-frame signals beside the driving clip's, as name.mp4 and name.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(video, "rb") as source, atomic_open(folder / f"{name}.mp4") as target:  # never a partial copy
        shutil.copyfileobj(source, target)

    def cell(value: float) -> str:
        return "" if np.isnan(value) else f"{value:.5f}"

    lines = ["frame,driving_mouth,result_mouth,driving_roll,result_roll,driving_yaw,result_yaw,driving_width,"
             "result_width"]
    for index in range(max(len(driving), len(result))):
        d = driving[index] if index < len(driving) else (np.nan,) * len(SIGNALS)
        r = result[index] if index < len(result) else (np.nan,) * len(SIGNALS)
        lines.append(",".join([str(index), *(cell(v) for pair in zip(d, r) for v in pair)]))
    atomic_write_text(folder / f"{name}.csv", "\n".join(lines) + "\n")


def photo_face(photo: np.ndarray, backend):
    """The photo's largest face as demo.py finds it: HOG, then dlib's CNN detector when HOG finds none."""
    face = backend.largest(to_uint8(photo))
    if face is None:
        face = get_backend("auto", landmarks=False, detector="hog+cnn").largest(to_uint8(photo))
    return face


def static_source(photo_path: str, backend, tmp: Path) -> tuple[float, float]:
    """(identity distance, face-box PSNR) of the photo written as a one-frame video and read back."""
    photo = load_image(photo_path)
    path = tmp / "static.mp4"
    with VideoWriter(path, fps=25) as writer:
        writer.write(photo)
    frame = next(iter_frames(path)).astype(np.float32) / 255
    box = photo_face(photo, backend).box
    floor = psnr(face_region(at_photo_size(frame, photo.shape), box), face_region(photo, box))
    return identity_distance(path, backend.embedding(to_uint8(photo)), backend), floor


def driving_identity_spread(path, backend, every: int = 10) -> float:
    """Mean embedding distance of every 10th driving frame from the driving video's first frame."""
    first = next(iter_frames(path))
    return identity_distance(path, backend.embedding(first), backend, every)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photos", nargs="+", help="face photos the model never saw")
    p.add_argument("--driving", default=str(ROOT / "data" / "driving.mp4"), help="driving clip (default: demo's)")
    p.add_argument("--checkpoint", default=None, help="model (default: demo.py's bundled model)")
    p.add_argument("--config", default=None)
    p.add_argument("--modes", default=",".join(MODES), help="output modes to compare (default: fullres,generator)")
    p.add_argument("--personalize", default="0", metavar="N[,M...]",
                   help="steps of demo.py --personalize to compare, comma separated (0: without; default 0)")
    p.add_argument("--still_frames", type=int, default=8, help="frames of the motionless clip (default 8)")
    p.add_argument("--demo_flag", action="append", default=[], metavar="FLAG",
                   help="pass a flag on to demo.py, e.g. --demo_flag=--no_crop (repeatable)")
    p.add_argument("--keep", default=None, metavar="DIR",
                   help="keep each animation and its per-frame signals (PHOTO-ROW.mp4, PHOTO-ROW.csv) in DIR")
    args = p.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for mode in modes:
        if mode not in MODES:
            p.error(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    try:
        steps = [int(v) for v in args.personalize.split(",") if v.strip()]
    except ValueError:
        p.error(f"--personalize takes step counts such as 0,60, got {args.personalize!r}")
    if not steps or min(steps) < 0:
        p.error(f"--personalize takes step counts >= 0 such as 0,60, got {args.personalize!r}")
    backend = get_backend("auto", landmarks=True)
    for photo in args.photos:  # a bad or faceless photo stops here, with one line, before any row is printed
        if photo_face(load_image(photo), backend) is None:
            raise SystemExit(f"no face found in {photo}; the benchmark needs photos with a face")
    print(f"faces: {backend.describe()}")
    driving_signals = signals(args.driving, backend)
    print(f"driving: {args.driving}, {len(driving_signals)} frames; mouth-opening std "
          f"{np.nanstd(driving_signals[:, 0]):.3f}; identity distance of the driving face from its own first "
          f"frame {driving_identity_spread(args.driving, backend):.3f}")
    print("| photo | size | mode | zero-motion PSNR (dB) (codec floor) | sharpness | identity (static) | mouth | "
          "mouth amp | roll | yaw | smile | seconds | personalise (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        still_clip(args.driving, tmp / "still.mp4", args.still_frames)
        for photo in args.photos:
            shape = load_image(photo).shape
            static, floor = static_source(photo, backend, tmp)
            for mode in modes:
                for n in steps:
                    r = measure(photo, mode, args, backend, driving_signals, tmp, personalize=n)
                    name = f"{mode}+p{n}" if n else mode
                    tuned = f"{r['personalise']:.1f}" if n else "-"
                    print(f"| {Path(photo).name} | {shape[1]}x{shape[0]} | {name} | {r['zero_psnr']:.1f} "
                          f"({floor:.1f}) | {r['sharpness']:.2f} | {r['identity']:.3f} ({static:.3f}) | "
                          f"{r['mouth']:.2f} | {r['amplitude']:.2f} | {r['roll']:.2f} | {r['yaw']:.2f} | "
                          f"{r['smile']:.2f} | "
                          f"{r['seconds']:.1f} | {tuned} |",
                          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
