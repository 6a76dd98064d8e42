"""Benchmark: how much of a synthetic mouth opening dlib reads back on each photo (no model, no video).

    python benchmarks/mouth_readback.py PHOTO [PHOTO ...]
    python benchmarks/mouth_readback.py --openings 0.02,0.04,0.08 PHOTO ...

The mouth retarget (engine/mouth_retarget.py) opens the photo's mouth with faces.mouth_motion.open_mouth by
the driving mouth's rise, and benchmarks/unseen_faces.py scores the result with dlib's 68 landmarks ("mouth
amp"). Both rest on dlib reading an opened mouth as open. This measures that step alone, on the still photo:
for each requested opening (face widths) open_mouth opens the photo's mouth, dlib finds the face and its
landmarks afresh, and the read-back is the measured opening minus the photo's own. Printed per photo:
  roll        the face's eye-line angle (degrees), as benchmarks/motion_transfer.py measures it
  face (px)   the landmark face width (jaw ends) in pixels
  slope       least-squares slope through zero of read-back on request: 1 = dlib reads what was opened
  std ratio   std of the read-backs / std of the requests, the still-photo counterpart of "mouth amp"
  read-back   each request's read-back ("-": no face found on the opened photo)
The request is geometric (open_mouth moves the lower lip's landmarks by exactly that much), so a slope well
under 1 means dlib under-reads this face's opened mouth: a low "mouth amp" there is the detector's, not the
retarget's.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.motion_transfer import face_signals  # noqa: E402
from errors import run_cli  # noqa: E402
from faces import get_backend  # noqa: E402
from faces.mouth_motion import face_width, mouth_opening, open_mouth  # noqa: E402
from video import load_image  # noqa: E402
from video.image import to_uint8  # noqa: E402

OPENINGS = (0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08)  # about the driving clip's range of rises


def readback(photo: np.ndarray, backend, openings=OPENINGS) -> dict | None:
    """dlib's read-back of open_mouth's openings on a uint8 photo's largest face, or None without a face."""
    marks = backend.landmarks(photo)
    if marks is None:
        return None
    marks = np.asarray(marks, np.float64)
    base = mouth_opening(marks)
    read = []
    for opening in openings:
        found = backend.landmarks(open_mouth(photo, marks, opening))
        read.append(np.nan if found is None else mouth_opening(np.asarray(found, np.float64)) - base)
    asked, read = np.asarray(openings, np.float64), np.asarray(read)
    ok = ~np.isnan(read)
    slope = float((read[ok] * asked[ok]).sum() / (asked[ok] ** 2).sum()) if ok.any() else float("nan")
    ratio = float(read[ok].std() / asked[ok].std()) if ok.sum() > 1 else float("nan")
    return dict(roll=face_signals(marks)[1], width=face_width(marks), base=base, read=read, slope=slope,
                ratio=ratio)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photos", nargs="+", help="face photos")
    p.add_argument("--openings", default=",".join(str(v) for v in OPENINGS),
                   help="requested openings in face widths, comma separated")
    args = p.parse_args(argv)
    try:
        openings = [float(v) for v in args.openings.split(",") if v.strip()]
    except ValueError:
        p.error(f"--openings takes numbers such as 0.02,0.04, got {args.openings!r}")
    if not openings or min(openings) <= 0:
        p.error(f"--openings takes openings > 0, got {args.openings!r}")
    backend = get_backend("auto", landmarks=True)
    print(backend.describe())
    print("| photo | roll (deg) | face (px) | own opening | slope | std ratio | read-back at " +
          ", ".join(f"{v:g}" for v in openings) + " |")
    print("|---|---|---|---|---|---|---|")
    for path in args.photos:
        r = readback(to_uint8(load_image(path)), backend, openings)
        if r is None:
            print(f"| {Path(path).name} | no face found | | | | | |", flush=True)
            continue
        values = ", ".join("-" if np.isnan(v) else f"{v:.3f}" for v in r["read"])
        print(f"| {Path(path).name} | {r['roll']:+.1f} | {r['width']:.0f} | {r['base']:.3f} | {r['slope']:.2f} | "
              f"{r['ratio']:.2f} | {values} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main, sys.argv[1:]))
