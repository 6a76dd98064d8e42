"""PreprocessOptions: every knob of the face-track preprocessing, checked (the CLI flags have the same names)."""
from __future__ import annotations

from dataclasses import dataclass, field

from errors import UserError

FORMATS = ("mp4", "png")
SPLIT_BY = ("identity", "track")


def _option(default, help: str, **cli):
    """A PreprocessOptions field; `help` (with {default} filled in) and `cli` (argparse keywords such as
    choices or metavar) make its command-line flag of the same name."""
    return field(default=default, metadata={"help": help, "cli": cli})


@dataclass(frozen=True)
class PreprocessOptions:
    """Every knob of the preprocessing; preprocess.py makes one flag of each field, with the same name."""

    size: int = _option(256, "crop side in pixels (default {default})")
    format: str = _option("mp4", "mp4 clips or folders of png frames (default {default})", choices=FORMATS)
    min_frames: int = _option(64, "shortest track kept, in frames (default {default})")
    max_frames: int = _option(1024, "longer tracks are cut into pieces of this many frames (default {default})")
    # crop-video.py's increase_area
    increase: float = _option(0.1, "enlarge each side of the track's face box by this fraction (default {default})")
    iou_with_initial: float = _option(0.25, "a track goes on while the face box overlaps the track's first box "
                                            "at least this much (default {default})")
    detect_every: int = _option(5, "detect faces every N frames, the box carried in between (default {default})")
    max_gap: int = _option(10, "frames a face may go undetected before its track ends (default {default})")
    scene_threshold: float = _option(15.0, "cut tracks where the mean abs difference (0-255) of consecutive 64x64 "
                                           "gray frames exceeds this (default {default})")
    test_fraction: float = _option(0.1, "share held out for test/ (default {default}; 1: an evaluation-only "
                                        "dataset)")
    test_videos: tuple[str, ...] = _option((), "put these videos (file names or stems) in test/ instead of a "
                                               "seeded choice", metavar="NAME")
    split_by: str = _option("identity", "identity: whole videos go to test/; track: the last part of every "
                                        "video does", choices=SPLIT_BY)
    fps: float | None = _option(None, "resample the clips to this frame rate (default: keep the source's)")
    workers: int = _option(1, "videos processed in parallel (processes)")
    detect_side: int = _option(480, "resize frames to this longer side for face detection: big ones shrink, "
                                    "small ones grow up to 4x so their faces are found (default {default})")
    face_backend: str = _option("auto", "faces backend (default {default})")
    crf: int = _option(15, "H.264 quality of the clips (default {default})")
    keyint: int = _option(32, "a keyframe at least every N frames of an mp4 clip, so that a training read of "
                               "a random frame decodes at most N frames (default {default}; 0: the encoder's own "
                               "interval, 250: clips about a quarter smaller, random reads slower)")
    seed: int = _option(0, "seed of the identity split")
    progress: bool = _option(True, "progress bars (the flag is --quiet)")
    photo_frames: int = _option(128, "frames per synthetic photo track (default {default})")
    photo_tracks: int = _option(2, "synthetic tracks per photo, each a different motion (default {default})")
    # a photo has one face box, a video track the union of its moving boxes: a wider margin frames a photo's
    # face like the video tracks do (the face about half the crop's width)
    photo_increase: float = _option(0.4, "enlarge each side of a photo's face box by this fraction (default "
                                         "{default}: frames the face as the video tracks do)")
    # largest synthetic mouth opening of photo tracks, in face widths (faces.mouth_motion)
    photo_mouth: float = _option(0.0, "photo tracks: open and close the mouth too, up to this many face widths "
                                      "between the inner lips (synthetic mouth motion; e.g. 0.08; default "
                                      "{default}: head motion only)")

    def check(self) -> PreprocessOptions:
        """Self, or UserError naming the first bad value and its valid range."""
        def need(ok: bool, flag: str, what: str, value) -> None:
            if not ok:
                raise UserError(f"--{flag} must be {what}, got {value!r}")

        need(self.size >= 8, "size", "an integer >= 8", self.size)
        need(self.format in FORMATS, "format", " or ".join(FORMATS), self.format)
        need(self.min_frames >= 2, "min_frames", "an integer >= 2", self.min_frames)
        need(self.max_frames >= self.min_frames, "max_frames", f">= --min_frames ({self.min_frames})",
             self.max_frames)
        need(self.increase >= 0, "increase", ">= 0", self.increase)
        need(0 < self.iou_with_initial <= 1, "iou_with_initial", "in (0, 1]", self.iou_with_initial)
        need(self.detect_every >= 1, "detect_every", "an integer >= 1", self.detect_every)
        need(self.max_gap >= 0, "max_gap", "an integer >= 0", self.max_gap)
        need(self.scene_threshold > 0, "scene_threshold", "> 0", self.scene_threshold)
        need(0 <= self.test_fraction <= 1, "test_fraction", "in [0, 1] (1: every clip to test/)", self.test_fraction)
        need(self.split_by in SPLIT_BY, "split_by", " or ".join(SPLIT_BY), self.split_by)
        need(self.fps is None or self.fps > 0, "fps", "a positive number", self.fps)
        need(self.workers >= 1, "workers", "an integer >= 1", self.workers)
        need(self.detect_side >= 64, "detect_side", "an integer >= 64", self.detect_side)
        need(0 <= self.crf <= 51, "crf", "in 0..51", self.crf)
        need(self.keyint >= 0, "keyint", "an integer >= 0 (0: the encoder's own interval)", self.keyint)
        need(self.photo_frames >= self.min_frames, "photo_frames", f">= --min_frames ({self.min_frames})",
             self.photo_frames)
        need(self.photo_tracks >= 1, "photo_tracks", "an integer >= 1", self.photo_tracks)
        need(self.photo_increase >= 0, "photo_increase", ">= 0", self.photo_increase)
        need(0 <= self.photo_mouth <= 0.3, "photo_mouth", "in [0, 0.3] (face widths)", self.photo_mouth)
        if self.test_videos and self.split_by == "track":
            raise UserError("--test_videos picks whole videos for test/, which --split_by track does not do; "
                            "drop one of the two")
        return self
