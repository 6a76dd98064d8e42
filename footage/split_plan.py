"""Planning the split: name every kept face track, hold out test clips (by identity or by track), crop boxes."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from errors import UserError
from faces.base import Box
from faces.crop import expand_box
from footage.frames import split_names
from footage.preprocess_options import PreprocessOptions
from footage.tracking import Span, VideoScan, clip_identity, source_index

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Clip:
    """One clip to write: output frames start..end-1 of `source`, cropped to `box`, into split/name."""

    name: str
    split: str
    source: str
    start: int
    end: int
    src_start: int
    src_end: int  # exclusive
    fps: float
    src_fps: float
    box: tuple[int, int, int, int]

    @property
    def num_frames(self) -> int:
        return self.end - self.start


def crop_box(detections: Sequence[tuple[int, Box]], increase: float, image_shape: tuple[int, int]) -> tuple:
    """Union of the boxes, each side enlarged by `increase` x the longer side, square, inside the image;
    integer pixels (x0, y0, x1, y1)."""
    boxes = np.array([b for _, b in detections], dtype=np.float64)
    union = (boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max())
    x0, y0, x1, y1 = expand_box(union, 1.0 + 2.0 * increase, image_shape, square=True)
    side = int(round(x1 - x0))
    left, top = int(round(x0)), int(round(y0))
    left = min(max(left, 0), image_shape[1] - side)
    top = min(max(top, 0), image_shape[0] - side)
    return (left, top, left + side, top + side)


def cut_span(span: Span, boundary: int) -> tuple[Span | None, Span | None]:
    """The parts of span before and from `boundary` (None where empty), each with its own detections."""
    if boundary <= span.start:
        return None, span
    if boundary >= span.end:
        return span, None
    before = Span(span.start, boundary, [d for d in span.detections if d[0] < boundary] or span.detections)
    after = Span(boundary, span.end, [d for d in span.detections if d[0] >= boundary] or span.detections)
    return before, after


def holdout_boundary(spans: Sequence[Span], test_fraction: float, min_frames: int) -> int | None:
    """The frame from which a video's tracks go to test: about test_fraction of its tracked frames (at least
    min_frames) lie after it; None when the tracks are too short to give both a train and a test clip."""
    total = sum(s.length for s in spans)
    want = max(int(round(test_fraction * total)), min_frames)
    if test_fraction <= 0 or total - want < min_frames:
        return None
    remaining = want
    for span in sorted(spans, key=lambda s: s.end, reverse=True):
        if span.length >= remaining:
            return span.end - remaining
        remaining -= span.length
    return None


def plan_clips(scans: Sequence[VideoScan], options: PreprocessOptions) -> list[Clip]:
    """Name every kept track and give it a split (see the module docstring); UserError when none is kept."""
    found = [s for s in scans if s.spans]
    unreadable = [s for s in scans if s.error]
    if not found and unreadable and len(unreadable) == len(scans):  # the real cause, not "no face tracks"
        first = unreadable[0].error
        raise UserError(first if len(scans) == 1 else
                        f"none of the {len(scans)} videos could be read; the first: {first}")
    if not found:
        where = ", ".join(s.path for s in scans[:3]) + (", ..." if len(scans) > 3 else "")
        if unreadable:
            where += f" ({len(unreadable)} of the {len(scans)} could not be read: {unreadable[0].error})"
        raise UserError(f"no face tracks of at least {options.min_frames} frames found in {where}; "
                        "lower --min_frames or check the videos")
    split_by = options.split_by
    identities = sorted({s.stem for s in found})
    test_ids: set[str] = set()
    if split_by == "identity":
        if options.test_videos:
            stems = {s.stem for s in scans}
            asked = {clip_identity(n) for n in options.test_videos}
            unknown = sorted(asked - stems)
            if unknown:
                raise UserError(f"--test_videos {', '.join(unknown)} not among the input videos; name them by "
                                f"file name or stem, one of: {', '.join(sorted(stems))}")
            test_ids = asked & set(identities)
        elif options.test_fraction >= 1:
            test_ids = set(identities)
        elif len(identities) == 1:
            if options.test_fraction > 0:
                log.warning("only one video (%s) has face tracks: splitting it by track instead of by "
                            "identity", identities[0])
            split_by = "track"
        elif options.test_fraction > 0:
            test_ids = set(split_names(identities, options.test_fraction, options.seed)[1])

    if split_by == "identity" and test_ids == set(identities):
        log.warning("every video goes to test/ (%s): an evaluation-only dataset with no training clips",
                    "--test_fraction 1" if not options.test_videos else "--test_videos names them all")
    elif split_by == "track" and options.test_fraction >= 1:
        log.warning("--test_fraction 1: every track goes to test/, an evaluation-only dataset with no training clips")
    clips = []
    for scan in found:
        pieces: list[tuple[Span, str]] = []
        if split_by == "track" and options.test_fraction >= 1:
            pieces = [(span, "test") for span in scan.spans]
        elif split_by == "track":
            boundary = holdout_boundary(scan.spans, options.test_fraction, options.min_frames)
            if boundary is None and options.test_fraction > 0:
                log.warning("%s: its tracks are too short to hold out a test clip of %d frames; all go to train",
                            scan.path, options.min_frames)
            for span in scan.spans:
                before, after = cut_span(span, boundary) if boundary is not None else (span, None)
                pieces += [(p, split) for p, split in ((before, "train"), (after, "test"))
                           if p is not None and p.length >= options.min_frames]
        else:
            split = "test" if scan.stem in test_ids else "train"
            pieces = [(span, split) for span in scan.spans]
        pieces.sort(key=lambda p: (p[0].start, p[0].detections[0][1]))
        for number, (span, split) in enumerate(pieces):
            src_start = source_index(span.start, scan.src_fps, scan.fps)
            src_end = source_index(span.end - 1, scan.src_fps, scan.fps) + 1
            clips.append(Clip(
                name=f"{scan.stem}#{number:03d}#{src_start:06d}#{src_end:06d}.mp4", split=split, source=scan.path,
                start=span.start, end=span.end, src_start=src_start, src_end=src_end, fps=scan.fps,
                src_fps=scan.src_fps,
                box=crop_box(span.detections, options.increase, (scan.height, scan.width))))
    return clips
