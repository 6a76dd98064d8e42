"""Benchmark: how much roll does dlib read on a photo that does not rotate? The landmarks' own noise.

    python benchmarks/roll_floor.py PHOTO [PHOTO ...]
    python benchmarks/roll_floor.py --moves 60 --model_size 256 PHOTO ...

benchmarks/unseen_faces.py scores the roll correlation between the driving face and the result with dlib's
eye-line roll. Noise in that reading lowers the correlation even where the result turns exactly with the
driving face. This measures the noise alone: the photo is moved --moves times without any rotation (seeded
sub-pixel shifts of up to 3 px and scales of up to 2%), and the std of the roll dlib reads is printed, for the
photo as it is (what the full-resolution output shows) and for the photo at the model's resolution (its face
crop, 1.8x the face box, brought to --model_size pixels and back up: what the generator's upscaled frames
show). With the result's roll std R over a clip and floors s (sharp) and g (model's resolution), the
sharp output's correlation is expected at sqrt((R^2 + g^2) / (R^2 + s^2)) of the generator's for this
noise alone.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.motion_transfer import face_signals  # noqa: E402
from engine.animate_photo import PhotoOptions  # noqa: E402
from errors import UserError, run_cli  # noqa: E402
from faces import get_backend  # noqa: E402
from faces.crop import resize_image  # noqa: E402
from video import load_image  # noqa: E402
from video.image import to_uint8  # noqa: E402


def at_model_size(photo: np.ndarray, face_width: float, model_size: int) -> np.ndarray:
    """The photo with no more detail than its face crop has at the model's size (down, then back up)."""
    height, width = photo.shape[:2]
    k = min(1.0, model_size / (face_width * PhotoOptions.crop_scale))  # demo.py's crop around the face box
    small = resize_image(photo, max(8, round(width * k)), max(8, round(height * k)))
    return resize_image(small, width, height)


def rolls_under_moves(photo: np.ndarray, backend, moves: int, seed: int = 0, angle: float = 0.0) -> np.ndarray:
    """dlib's eye-line roll (degrees) of `photo` under `moves` seeded shifts and scales, all turned by `angle`
    degrees (0: none); moves where no face is found are left out."""
    rng = np.random.default_rng(seed)
    height, width = photo.shape[:2]
    rolls = []
    for _ in range(moves):
        scale = 1 + rng.uniform(-0.02, 0.02)
        shift = rng.uniform(-3, 3, 2)
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), -angle, scale)
        matrix[:, 2] += shift
        moved = cv2.warpAffine(photo, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        marks = backend.landmarks(moved)
        if marks is not None:
            rolls.append(face_signals(np.asarray(marks, np.float64))[1])
    return np.asarray(rolls)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photos", nargs="+", help="face photos")
    p.add_argument("--moves", type=int, default=30, help="rigid moves per photo (default 30)")
    p.add_argument("--model_size", type=int, default=128, help="the model's frame size (default 128, the bundled)")
    args = p.parse_args(argv)
    if args.moves < 2:
        raise UserError(f"--moves must be at least 2, got {args.moves}")
    backend = get_backend("auto", landmarks=True)
    print(f"roll std (deg) under {args.moves} moves without rotation: as it is | at the model's {args.model_size} px")
    for path in args.photos:
        photo = to_uint8(load_image(path))
        face = backend.largest(photo)
        if face is None:
            print(f"{Path(path).name}: no face found")
            continue
        face_width = face.box[2] - face.box[0]
        sharp = rolls_under_moves(photo, backend, args.moves)
        coarse = rolls_under_moves(at_model_size(photo, face_width, args.model_size), backend, args.moves)
        print(f"{Path(path).name} (face {face_width:.0f} px): {sharp.std():.2f} (n={len(sharp)}) | "
              f"{coarse.std():.2f} (n={len(coarse)})")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
