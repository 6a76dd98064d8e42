"""Face crop boxes for animation: the source photo's face box and the followed box of each driving frame."""
from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

import numpy as np

from errors import UserError
from faces.crop import expand_box, iou
from video.image import to_uint8

log = logging.getLogger(__name__)


def _smooth(previous, box, weight: float):
    if previous is None:
        return tuple(box)
    return tuple(weight * p + (1 - weight) * b for p, b in zip(previous, box))


class FaceFollower:
    """The square crop box of the face in each driving frame.

    The face is found in the first frame that has one (within `search` frames; the earlier frames use
    that box) and the enlarged box stays fixed, so head motion stays in the crops as relative motion.
    With every=N > 0, faces are detected again every N frames: the one overlapping the current face most
    (IoU) is followed and the box moves smoothly towards it (exponential smoothing, `smoothing` in [0, 1)).
    Whether the face is still in the crop is checked every `check_every` frames (and at every detection):
    when `lost_after` checks in a row find no face centred in the crop box, one warning says from which
    frame the face is gone (the animation goes on; those frames are not faces any more).
    """

    def __init__(self, backend, scale: float = 1.8, every: int = 0, smoothing: float = 0.8, search: int = 25,
                 min_iou: float = 0.1, check_every: int = 12, lost_after: int = 2):
        self.backend = backend
        self.scale = float(scale)
        self.every = int(every)
        self.smoothing = float(smoothing)
        self.search = int(search)
        self.min_iou = float(min_iou)
        self.check_every = int(check_every)
        self.lost_after = int(lost_after)
        self.lost_at: int | None = None  # the first frame of the checks that found the face gone, once warned

    def _faces(self, frame) -> list:
        return self.backend.detect(to_uint8(frame))

    def follow(self, frames: Iterable, source_name: str = "the driving video",
               fix: str = "pass a video showing a face or drop --crop") -> Iterator[tuple[np.ndarray, tuple]]:
        """(frame, crop box) for every frame, in order. UserError when no face is found in the first
        `search` frames."""
        frames = iter(frames)
        pending, face_box = [], None
        for frame in frames:
            pending.append(frame)
            found = self._faces(frame)
            if found:
                face_box = found[0].box
                break
            if len(pending) >= self.search:
                break
        if face_box is None:
            raise UserError(f"no face found in the first {len(pending)} frames of {source_name}, which --crop "
                            f"needs; {fix}")
        shape = pending[0].shape
        box = expand_box(face_box, self.scale, shape)
        for frame in pending:
            yield frame, box
        misses, first_miss = 0, None
        for position, frame in enumerate(frames, start=len(pending)):
            tracking = self.every > 0 and position % self.every == 0
            checking = self.lost_at is None and self.check_every > 0 and position % self.check_every == 0
            if tracking or checking:
                found = self._faces(frame)
                if tracking and found:
                    nearest = max(found, key=lambda f: iou(f.box, face_box))
                    if iou(nearest.box, face_box) >= self.min_iou:
                        face_box = _smooth(face_box, nearest.box, self.smoothing)
                        box = expand_box(face_box, self.scale, shape)
                if self.lost_at is None:
                    if any(_centred_in(f.box, box) for f in found):
                        misses, first_miss = 0, None
                    else:
                        misses, first_miss = misses + 1, first_miss if misses else position
                        if misses >= self.lost_after:
                            self.lost_at = first_miss
                            log.warning("the face left the crop of %s at about frame %d: the frames from there on "
                                        "animate no face; cut the video there%s", source_name, first_miss,
                                        "" if self.every > 0 else " or follow the face with --track_every N")
            yield frame, box


def _centred_in(face_box, crop_box) -> bool:
    """Whether a face box's centre lies inside the crop box."""
    x, y = (face_box[0] + face_box[2]) / 2, (face_box[1] + face_box[3]) / 2
    return crop_box[0] <= x < crop_box[2] and crop_box[1] <= y < crop_box[3]


def source_face_box(image, backend, scale: float = 1.8, name: str = "the source image", index: int = 0,
                    describe: bool = False,
                    fix: str = "pass a photo with a clearly visible face or drop --crop") -> tuple | None:
    """The enlarged square crop box of the source photo's face: the largest (index 0) or the index-th largest.

    When there is no face: UserError naming `fix`, or None when fix is None (the caller falls back to the
    whole frame). With `describe`, one INFO line says which face was chosen (where and how large: a wrong face,
    such as a bystander when the main face was missed, shows there) and, with several, how to pick another."""
    faces = backend.detect(to_uint8(image))
    if not faces:
        if fix is None:
            return None
        raise UserError(f"no face found in {name}, which --crop needs; {fix}")
    if not 0 <= index < len(faces):
        raise UserError(f"--face {index} asked for, but {name} has {len(faces)} face(s) found (0..{len(faces) - 1}, "
                        "largest first); pass a smaller --face")
    face = faces[index]
    if describe:
        x0, y0, x1, y1 = (int(round(v)) for v in face.box)
        where = f"{x1 - x0}x{y1 - y0} px at ({x0}, {y0})"
        if len(faces) == 1:
            log.info("source face: %s (the only one found)", where)
        else:
            rank = "the largest" if index == 0 else f"number {index} by size (0 = largest)"
            log.info("source face: %d found; animating %s, %s (--face N picks another)", len(faces), rank, where)
    return expand_box(face.box, scale, np.shape(image))
