"""Mouth retargeting for the full-resolution output: the photo's mouth opens as far as the driving mouth opens.

The bundled model rarely opens the mouth of a face it never saw: its occlusion map keeps trusting the warp
over the lips, so the full-resolution output moves the photo's closed mouth instead of reshaping it
(checkpoints/README.md sections 7-8). This opens it from the landmarks instead, before the warp:

* every driving frame's mouth opening is measured with the face backend's 68 landmarks, as
  faces.mouth_motion measures it (the inner-lip gap over the face width);
* its rise above the lowest opening seen so far (the mouth at rest; the first frame to begin with, as
  relative motion uses the first frame), less a band of REST_BAND for the landmarks' own jitter, times
  `gain`, is how much wider than the photo's own the result's mouth should be. A mouth at rest leaves the
  photo untouched, so a motionless driving clip still gives the photo exactly;
* the model's own output is composed and measured the same way; only the opening it lacks is added to
  the source photo's mouth (faces.mouth_motion.open_mouth: the lower lip and jaw moved along a
  thin-plate spline, the gap painted as a mouth interior), so a model that opens mouths itself is not
  doubled;
* the composer then warps that opened photo with the model's motion, and trusts it over the mouth (the
  generator's blurred redraw of the old mouth is not blended back in there), fully from an addition of
  FULL_TRUST face widths on, less for smaller ones.

Head motion still comes from the model; only the mouth's opening comes from the landmarks.
"""
from __future__ import annotations

import numpy as np

from faces import get_backend
from faces.crop import crop_resize, resize_image
from faces.mouth_motion import displacements, face_width, mouth_opening, open_mouth
from video.image import to_float, to_uint8

LANDMARK_SIDE = 256  # driving crops smaller than this are enlarged to it before their landmarks are found
REST_BAND = 0.01  # face widths: a rise this small is landmark jitter (dlib's points are whole pixels)
FULL_TRUST = 0.03  # face widths added from which the opened photo fully replaces the model's mouth


class MouthRetarget:
    """The source photo with its mouth opened like each driving frame's.

        retarget = MouthRetarget.for_photo(photo, backend, box=source_box)   # None when no face is found
        image = retarget.compose(composer, prediction, deformation, occlusion, driving_frame, driving_box)
    """

    def __init__(self, photo: np.ndarray, landmarks: np.ndarray, backend, gain: float = 1.0):
        """landmarks: the photo's face, (68, 2) pixels. backend: the face backend that measures every frame
        (for_photo gives it one that is quick on face crops)."""
        self.photo = photo
        self.photo_u8 = to_uint8(photo)
        self.landmarks = np.asarray(landmarks, np.float64)
        self.backend = backend
        self.gain = float(gain)
        self.rest: float | None = None  # the lowest driving opening so far
        self.last = 0.0  # the last added opening (kept over frames where no driving face is found)
        self.source_opening = mouth_opening(self.landmarks)  # the photo's own
        self.openings: list[float] = []  # the opening added to the photo at each frame (for reports and tests)

    @classmethod
    def for_photo(cls, photo: np.ndarray, backend, box=None, gain: float = 1.0,
                  frames_backend=None) -> MouthRetarget | None:
        """A retarget for the face in `box` of the photo (the largest face when None, found by `backend`), or
        None when the backend finds no landmarks there. frames_backend measures the driving and output
        frames (default: the preferred landmark backend without upsampling: a face crop enlarged to at least
        LANDMARK_SIDE holds a face far above the HOG detector's 80-pixel floor, and no CNN fallback, which
        costs seconds on every frame without a face, e.g. a hand over it)."""
        image = to_uint8(photo)
        x0, y0 = 0, 0
        if box is not None:
            x0, y0, x1, y1 = (int(round(v)) for v in box)
            x0, y0 = max(0, x0), max(0, y0)
            image = image[y0:max(y0 + 1, y1), x0:max(x0 + 1, x1)]
        marks = backend.landmarks(np.ascontiguousarray(image))
        if marks is None:
            return None
        if frames_backend is None:
            frames_backend = get_backend("auto", landmarks=True, upsample=0)
        retarget = cls(photo, np.asarray(marks, np.float64) + np.array([x0, y0]), frames_backend, gain)
        # the photo's own opening as the frames are measured (the same backend, on the same crop as the
        # composer's output), so that the model's output at rest reads as adding nothing
        measured = retarget.opening(image)
        if measured is not None:
            retarget.source_opening = measured
        return retarget

    def opening(self, image: np.ndarray) -> float | None:
        """The mouth opening dlib measures on a face image (enlarged to LANDMARK_SIDE when smaller), or None
        when it finds no face."""
        if max(image.shape[:2]) < LANDMARK_SIDE:  # e.g. a small model input: dlib finds few faces that small
            scale = LANDMARK_SIDE / max(image.shape[:2])
            image = resize_image(image, round(image.shape[1] * scale), round(image.shape[0] * scale))
        marks = self.backend.landmarks(to_uint8(image))
        return None if marks is None else mouth_opening(np.asarray(marks, np.float64))

    def driving_opening(self, frame: np.ndarray, box=None) -> float | None:
        """The mouth opening of a driving frame (of its crop `box`, at the crop's own resolution: dlib's
        whole-pixel points are finer there), or None when no face is found."""
        if box is not None:
            frame = crop_resize(frame, box, max(LANDMARK_SIDE, round(box[2] - box[0]), round(box[3] - box[1])))
        return self.opening(frame)

    def added(self, opening: float | None) -> float:
        """The opening the photo's mouth should gain for a driving frame of this `opening` (None: as the last)."""
        if opening is None:
            return self.last
        self.rest = opening if self.rest is None else min(self.rest, opening)
        self.last = max(0.0, opening - self.rest - REST_BAND) * self.gain
        return self.last

    def opened_photo(self, extra: float) -> np.ndarray:
        """The photo (float32 HxWx3) with its mouth opened by `extra` face widths (the photo itself for <= 0)."""
        return self.photo if extra <= 0 else to_float(open_mouth(self.photo_u8, self.landmarks, extra))

    def compose(self, composer, prediction, deformation, occlusion, frame: np.ndarray, box=None) -> np.ndarray:
        """One output frame of `composer` (engine.fullres) for a driving frame (and its crop box), in order.

        The model's own output is composed first; where the driving mouth is open, the mouth opening dlib
        measures on that output is compared with the photo's own plus the driving rise, and only what is
        missing is added to the photo before composing again. So a model that opens the mouth itself (a
        face it trained on, a stronger checkpoint) is not opened twice; one that does not gets all of it."""
        wanted = self.added(self.driving_opening(frame, box))
        motion = composer.motion(prediction, deformation, occlusion)  # once: only the photo changes below
        out = composer.blend(motion)
        extra = 0.0
        if wanted > 0:
            shown = self.opening(out)
            extra = wanted if shown is None else max(0.0, self.source_opening + wanted - shown)
        self.openings.append(extra)
        if extra <= 0:
            return out
        # a small addition (the model opened most of it, or landmark jitter) leaves the model's own mouth
        # mostly in place; from FULL_TRUST on, the opened photo replaces it
        return composer.blend(motion, photo=self.opened_photo(extra), trusted=self.mouth_box(extra),
                              trusted_weight=min(1.0, extra / FULL_TRUST))

    def mouth_box(self, extra: float, margin: float = 0.15) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) photo pixels around the mouth as opened by `extra` (where the composer must trust
        the opened photo)."""
        moved = self.landmarks + displacements(self.landmarks, extra)
        mouth = moved[48:68]
        pad = margin * face_width(self.landmarks)
        (x0, y0), (x1, y1) = mouth.min(0) - pad, mouth.max(0) + pad
        return float(x0), float(y0), float(x1), float(y1)
