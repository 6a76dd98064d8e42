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

A smile is read and added the same way (checkpoints/README.md section 11): the driving mouth's width
(faces.mouth_motion.mouth_width) and the height of its corners (corner_rise) above the first frame's, less
REST_BAND, widen the photo's mouth and lift its corners, only as far as the model's own output lacks; and
how much of the driving mouth's opened interior is teeth (teeth_showing) paints the photo's opened gap with
teeth rather than a dark mouth. Moving the corners makes the landmarks read a smaller opening, so the
opening a smile costs (the frame composed with and without it, measured the same way) is added back once. A
mouth that narrows (an "oo") or drops its corners is left to the model.

Head motion still comes from the model; only the mouth's shape comes from the landmarks.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from faces import get_backend
from faces.crop import crop_resize, resize_image
from faces.mouth_motion import (
    corner_rise,
    displacements,
    face_width,
    mouth_opening,
    mouth_width,
    open_mouth,
    teeth_showing,
)
from video.image import to_float, to_uint8

LANDMARK_SIDE = 256  # driving crops smaller than this are enlarged to it before their landmarks are found
REST_BAND = 0.01  # face widths: a rise this small is landmark jitter (dlib's points are whole pixels)
FULL_TRUST = 0.03  # face widths added from which the opened photo fully replaces the model's mouth


class MouthShape(NamedTuple):
    """A face image's mouth as the landmarks read it: opening, width and corner rise in face widths, teeth 0-1."""
    opening: float
    width: float
    rise: float
    teeth: float


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
        self.rest_shape: MouthShape | None = None  # the first driving frame's mouth (the smile's rest)
        self.last_smile = (0.0, 0.0)  # the last (widen, lift) wanted
        self.last_teeth = 0.0
        self.source_opening = mouth_opening(self.landmarks)  # the photo's own
        self.source_width = mouth_width(self.landmarks)
        self.source_rise = corner_rise(self.landmarks)
        self.openings: list[float] = []  # the opening added to the photo at each frame (for reports and tests)
        self.smiles: list[tuple[float, float]] = []  # the (widen, lift) added at each frame

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
        measured = retarget.shape(image)
        if measured is not None:
            retarget.source_opening, retarget.source_width, retarget.source_rise = measured[:3]
        return retarget

    def shape(self, image: np.ndarray) -> MouthShape | None:
        """The mouth a face image shows as dlib reads it (enlarged to LANDMARK_SIDE when smaller), or None
        when it finds no face."""
        if max(image.shape[:2]) < LANDMARK_SIDE:  # e.g. a small model input: dlib finds few faces that small
            scale = LANDMARK_SIDE / max(image.shape[:2])
            image = resize_image(image, round(image.shape[1] * scale), round(image.shape[0] * scale))
        image = to_uint8(image)
        marks = self.backend.landmarks(image)
        if marks is None:
            return None
        marks = np.asarray(marks, np.float64)
        return MouthShape(mouth_opening(marks), mouth_width(marks), corner_rise(marks), teeth_showing(image, marks))

    def driving_shape(self, frame: np.ndarray, box=None) -> MouthShape | None:
        """The mouth of a driving frame (of its crop `box`, at the crop's own resolution: dlib's whole-pixel
        points are finer there), or None when no face is found."""
        if box is not None:
            frame = crop_resize(frame, box, max(LANDMARK_SIDE, round(box[2] - box[0]), round(box[3] - box[1])))
        return self.shape(frame)

    def added(self, opening: float | None) -> float:
        """The opening the photo's mouth should gain for a driving frame of this `opening` (None: as the last)."""
        if opening is None:
            return self.last
        self.rest = opening if self.rest is None else min(self.rest, opening)
        self.last = max(0.0, opening - self.rest - REST_BAND) * self.gain
        return self.last

    def smile(self, shape: MouthShape | None) -> tuple[float, float]:
        """(widen, lift): how much wider the photo's mouth should be and how much higher its corners, for a
        driving mouth of this shape (None: as the last): the rise of each above the first frame's, less
        REST_BAND, times gain; never negative."""
        if shape is None:
            return self.last_smile
        if self.rest_shape is None:
            self.rest_shape = shape
        rest = self.rest_shape
        self.last_smile = (max(0.0, shape.width - rest.width - REST_BAND) * self.gain,
                           max(0.0, shape.rise - rest.rise - REST_BAND) * self.gain)
        return self.last_smile

    def opened_photo(self, extra: float, widen: float = 0.0, lift: float = 0.0, teeth: float = 0.0) -> np.ndarray:
        """The photo (float32 HxWx3) with its mouth opened by `extra` face widths, `widen` face widths wider and
        its corners `lift` higher, the gap painted with `teeth` (0-1) of a smile's teeth (the photo itself when
        all are <= 0)."""
        if extra <= 0 and widen <= 0 and lift <= 0:
            return self.photo
        return to_float(open_mouth(self.photo_u8, self.landmarks, extra, widen=widen, lift=lift, teeth_share=teeth))

    def compose(self, composer, prediction, deformation, occlusion, frame: np.ndarray, box=None) -> np.ndarray:
        """One output frame of `composer` (engine.fullres) for a driving frame (and its crop box), in order.

        The model's own output is composed first; where the driving mouth is open, the mouth opening dlib
        measures on that output is compared with the photo's own plus the driving rise, and only what is
        missing is added to the photo before composing again. So a model that opens the mouth itself (a
        face it trained on, a stronger checkpoint) is not opened twice; one that does not gets all of it."""
        driving = self.driving_shape(frame, box)
        wanted = self.added(None if driving is None else driving.opening)
        wanted_widen, wanted_lift = self.smile(driving)
        if driving is not None:
            self.last_teeth = driving.teeth
        motion = composer.motion(prediction, deformation, occlusion)  # once: only the photo changes below
        out = composer.blend(motion)
        extra = widen = lift = 0.0
        if wanted > 0 or wanted_widen > 0 or wanted_lift > 0:
            shown = self.shape(out)
            if shown is None:
                extra, widen, lift = wanted, wanted_widen, wanted_lift
            else:  # only what the model's own output lacks, each where the driving mouth asks for it
                extra = max(0.0, self.source_opening + wanted - shown.opening) if wanted > 0 else 0.0
                widen = max(0.0, self.source_width + wanted_widen - shown.width) if wanted_widen > 0 else 0.0
                lift = max(0.0, self.source_rise + wanted_lift - shown.rise) if wanted_lift > 0 else 0.0
        if extra > 0 or widen > 0 or lift > 0:
            out = self._blend(composer, motion, extra, widen, lift)
            if extra > 0 and (widen > 0 or lift > 0):
                # moving the corners moves where the landmarks put the inner lips: the opening the smile costs
                # (the same frame composed without it, measured the same way) is added back, once
                smiling, plain = self.shape(out), self.shape(self._blend(composer, motion, extra, 0.0, 0.0))
                lost = 0.0 if smiling is None or plain is None else plain.opening - smiling.opening
                if lost > REST_BAND:
                    extra += min(lost, wanted)
                    out = self._blend(composer, motion, extra, widen, lift)
        self.openings.append(extra)
        self.smiles.append((widen, lift))
        return out

    def _blend(self, composer, motion, extra: float, widen: float, lift: float) -> np.ndarray:
        """The composer's frame with the photo's mouth opened, widened and lifted by that much. A small addition
        (the model opened most of it, or landmark jitter) leaves the model's own mouth mostly in place; from
        FULL_TRUST on, the opened photo replaces it."""
        return composer.blend(motion, photo=self.opened_photo(extra, widen, lift, self.last_teeth),
                              trusted=self.mouth_box(extra, widen=widen, lift=lift),
                              trusted_weight=min(1.0, max(extra, widen, lift) / FULL_TRUST))

    def mouth_box(self, extra: float, margin: float = 0.15, widen: float = 0.0,
                  lift: float = 0.0) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) photo pixels around the mouth as opened by `extra`, widened by `widen` and lifted by
        `lift` (where the composer must trust the opened photo)."""
        moved = self.landmarks + displacements(self.landmarks, extra, widen, lift)
        mouth = moved[48:68]
        pad = margin * face_width(self.landmarks)
        (x0, y0), (x1, y1) = mouth.min(0) - pad, mouth.max(0) + pad
        return float(x0), float(y0), float(x1), float(y1)
