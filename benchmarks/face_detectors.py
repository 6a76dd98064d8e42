"""Cost of dlib's face detectors per image on CPU: HOG, the mmod CNN, and hog+cnn (the CNN where HOG finds none).

  python benchmarks/face_detectors.py                      # the shared media photos, 2 threads
  python benchmarks/face_detectors.py --side 640 --repeats 3

Each photo of ../shared/media (longer side resized to --side) is run upright in colour and tilted by 45
degrees in black and white (which HOG misses). Prints, per detector and upsample, milliseconds per image
(median of --repeats runs) and how many of the images got a face.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from faces.dlib_backend import DlibBackend  # noqa: E402

MEDIA = ROOT.parent / "shared" / "media"
PHOTOS = ("SeanConnery.jpg", "audrey.jpg", "franck_01829.jpg", "obama.jpg", "biden.jpg")


def images(side: int) -> list[tuple[str, np.ndarray]]:
    from PIL import Image, ImageOps

    out = []
    for name in PHOTOS:
        photo = Image.open(MEDIA / name).convert("RGB")
        photo.thumbnail((side, side))
        tilted = ImageOps.grayscale(photo.rotate(45, expand=True, fillcolor=(128, 128, 128))).convert("RGB")
        out += [(f"{name} upright", np.asarray(photo)), (f"{name} tilted 45 b/w", np.asarray(tilted))]
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--side", type=int, default=400, help="longer side of the upright photos (default 400)")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    import cv2
    import dlib

    cv2.setNumThreads(args.threads)
    batch = images(args.side)
    print(f"dlib {dlib.__version__}, {len(batch)} images (longer side {args.side} upright, about "
          f"{round(args.side * 1.3)} tilted), CPU, median of {args.repeats}")
    for detector in ("hog", "cnn", "hog+cnn"):
        for upsample in (0, 1):
            backend = DlibBackend(detector=detector, upsample=upsample)
            backend.detect(batch[0][1])  # model loading is not timed
            times, found = [], 0
            for _, image in batch:
                runs = []
                for _ in range(args.repeats):
                    t = time.perf_counter()
                    faces = backend.detect(image)
                    runs.append(time.perf_counter() - t)
                times.append(statistics.median(runs))
                found += bool(faces)
            upright = [t for (n, _), t in zip(batch, times) if n.endswith("upright")]
            tilted = [t for (n, _), t in zip(batch, times) if not n.endswith("upright")]
            print(f"{detector:8s} upsample {upsample}: {1000 * statistics.mean(times):7.0f} ms/image "
                  f"(upright {1000 * statistics.mean(upright):6.0f}, tilted {1000 * statistics.mean(tilted):6.0f}); "
                  f"face found in {found}/{len(batch)}")


if __name__ == "__main__":
    main()
