"""Dataset preprocessing: cut raw talking-head videos into a VoxCeleb-style FOMM dataset of fixed face crops.

    build_dataset(["raw/"], "data/datasets/mine", PreprocessOptions(size=256))

Two streaming passes per video (no video is ever held in memory):

1. scan: detect faces every `detect_every` frames on a frame resized to `detect_side` (small frames
   grow), and follow each face as the original FOMM crop-video.py does: a track keeps the box it started
   with, and goes on while a detection overlaps that initial box with IoU >= iou_with_initial. That
   keeps the crop fixed (a moving crop would add camera motion, which FOMM would learn as face motion).
   A track ends
   - when a detection overlaps its initial box by less than that (the face moved),
   - when no detection overlaps it for more than `max_gap` frames (the face is lost),
   - at a scene change (mean absolute difference of consecutive 64x64 gray thumbnails > scene_threshold),
   - after `max_frames` frames (a new track starts at once).
   A track that ends because its face moved or was lost ends right after the last frame where it was
   found; at a scene change, max_frames or the video's end, up to `max_gap` unconfirmed frames are kept.
2. write: tracks of at least `min_frames` frames become `<split>/<stem>#<NNN>#<start>#<end>.mp4` (H.264 at
   `crf`) or a folder of that name holding 0000000.png, ...: the union of the track's face boxes, enlarged
   as crop-video.py does (each side by `increase`, made square, kept inside the image), resized to
   size x size. <start>/<end> are source-video frame numbers, end exclusive; <stem> is the identity.

Splits: by identity (whole source videos go to test, seeded, or those named in test_videos), or by
track: the last `test_fraction` of each video's tracked frames (at least min_frames) is cut off into
test/, so test clips never overlap training clips in time. With a single identity, "identity" falls back
to "track". `<output>/tracks.csv` lists every written clip. Everything is written into a `<output>.tmp-XXXX`
folder beside the output, renamed onto `<output>` only at the end.

Face photos (`photos`) become `photo_tracks` training clips each, of `photo_frames` frames of smooth
synthetic head motion (footage.synthetic): extra identities for a dataset of few people.
"""
from __future__ import annotations

import csv
import functools
import logging
import math
import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
from tqdm import tqdm

import video
from errors import UserError, signals_deferred
from faces import get_backend
from faces.base import Box
from faces.crop import crop_resize, expand_box, iou
from footage.frames import split_names
from footage.synthetic import synthetic_frames
from output_paths import check_output_folder

log = logging.getLogger(__name__)

FORMATS = ("mp4", "png")
SPLIT_BY = ("identity", "track")
CSV_COLUMNS = ("name", "split", "source_video", "start_frame", "end_frame", "fps",
               "x0", "y0", "x1", "y1", "num_frames")
THUMB_SIDE = 64  # scene changes are measured on gray thumbnails of this size


@dataclass(frozen=True)
class PreprocessOptions:
    """Every knob of the preprocessing; the CLI flags have the same names."""

    size: int = 256
    format: str = "mp4"
    min_frames: int = 64
    max_frames: int = 1024
    increase: float = 0.1  # each side of the track box grows by this fraction (crop-video.py's increase_area)
    iou_with_initial: float = 0.25
    detect_every: int = 5
    max_gap: int = 10  # frames a face may go undetected before its track ends
    scene_threshold: float = 15.0  # mean abs difference (0..255) of consecutive 64x64 gray thumbnails
    test_fraction: float = 0.1
    test_videos: tuple[str, ...] = ()
    split_by: str = "identity"
    fps: float | None = None  # resample to this frame rate (None: keep the source's)
    workers: int = 1
    detect_side: int = 480  # frames are resized to this longer side for detection (small ones grow, at most 4x)
    face_backend: str = "auto"
    crf: int = 15
    seed: int = 0
    progress: bool = True
    photo_frames: int = 128  # frames of each synthetic-motion track made from a face photo
    photo_tracks: int = 2  # tracks per photo (different random motions)
    # a photo has one face box, a video track the union of its moving boxes: a wider margin frames a photo's
    # face like the video tracks do (the face about half the crop's width)
    photo_increase: float = 0.4
    photo_mouth: float = 0.0  # largest synthetic mouth opening of photo tracks, face widths (footage.mouth_motion)

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
        need(self.photo_frames >= self.min_frames, "photo_frames", f">= --min_frames ({self.min_frames})",
             self.photo_frames)
        need(self.photo_tracks >= 1, "photo_tracks", "an integer >= 1", self.photo_tracks)
        need(self.photo_increase >= 0, "photo_increase", ">= 0", self.photo_increase)
        need(0 <= self.photo_mouth <= 0.3, "photo_mouth", "in [0, 0.3] (face widths)", self.photo_mouth)
        if self.test_videos and self.split_by == "track":
            raise UserError("--test_videos picks whole videos for test/, which --split_by track does not do; "
                            "drop one of the two")
        return self


# ------------------------------------------------------------------------------------------ frames


def source_index(k: int, src_fps: float, out_fps: float) -> int:
    """The source frame shown at output frame k when resampling src_fps to out_fps (nearest frame)."""
    if out_fps == src_fps:
        return k
    return int(math.floor(k * src_fps / out_fps + 0.5))


def stream(path: str, src_fps: float, out_fps: float, first: int = 0,
           stop: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """(output index, HxWx3 uint8 frame) for output frames first..stop-1 (None: to the end), decoded
    one at a time; resampling repeats or skips source frames."""
    src_first = source_index(first, src_fps, out_fps)
    src_stop = None if stop is None else source_index(stop - 1, src_fps, out_fps) + 1
    k = first
    with closing(video.iter_frames(path, start=src_first, stop=src_stop)) as frames:
        for i, frame in enumerate(frames, start=src_first):
            while (stop is None or k < stop) and source_index(k, src_fps, out_fps) == i:
                yield k, frame
                k += 1
            if stop is not None and k >= stop:
                return


def thumbnail(frame: np.ndarray) -> np.ndarray:
    """64x64 float32 gray thumbnail, what scene changes are measured on."""
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return cv2.resize(gray, (THUMB_SIDE, THUMB_SIDE), interpolation=cv2.INTER_AREA).astype(np.float32)


def scene_change(previous: np.ndarray, current: np.ndarray) -> float:
    """Mean absolute difference (0..255) of two thumbnails: about 1-7 within a shot, 40+ across a cut."""
    return float(np.abs(current - previous).mean())


# ------------------------------------------------------------------------------------------ tracking


@dataclass
class Span:
    """A face track in output frames start..end-1 with the boxes detected in it: [(frame, box), ...]."""

    start: int
    end: int
    detections: list[tuple[int, Box]]

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass
class _Track:
    initial: Box
    start: int
    last_match: int
    detections: list[tuple[int, Box]] = field(default_factory=list)

    def close(self, end: int, max_gap: int) -> Span:
        """Span ending at `end` (exclusive), or right after the last confirmed frame when the frames in
        between are more than max_gap."""
        if end - 1 - self.last_match > max_gap:
            end = self.last_match + 1
        return Span(self.start, end, self.detections)


class FaceTracker:
    """Follows faces frame by frame; feed frames in order with `step`, then `finish`; spans come back."""

    def __init__(self, options: PreprocessOptions, detect=None):
        self.options = options
        self.detect = detect  # frame -> list of boxes (full-resolution pixels); None: the face backend
        self.tracks: list[_Track] = []
        self.spans: list[Span] = []
        self.last_detection = None  # frame index of the last detection
        self.previous_thumb = None
        self.num_frames = 0
        self.scene_cuts: list[int] = []

    def _end(self, track: _Track, end: int) -> None:
        span = track.close(end, self.options.max_gap)
        if span.length >= self.options.min_frames:
            self.spans.append(span)

    def step(self, k: int, frame: np.ndarray) -> None:
        o = self.options
        self.num_frames = k + 1
        force = self.last_detection is None
        thumb = thumbnail(frame)
        if self.previous_thumb is not None and scene_change(self.previous_thumb, thumb) > o.scene_threshold:
            self.scene_cuts.append(k)
            for track in self.tracks:
                self._end(track, k)
            self.tracks, force = [], True
        self.previous_thumb = thumb
        full = [t for t in self.tracks if k - t.start >= o.max_frames]
        if full:
            for track in full:
                self._end(track, k)
            self.tracks, force = [t for t in self.tracks if t not in full], True
        if force or k - self.last_detection >= o.detect_every:
            self.last_detection = k
            self._match(k, self._detect(frame))

    def _detect(self, frame: np.ndarray) -> list[Box]:
        if self.detect is not None:
            return list(self.detect(frame))
        return detect_faces(frame, self.options.face_backend, self.options.detect_side)

    def _match(self, k: int, boxes: list[Box]) -> None:
        """Give each track the detection that overlaps its initial box most (IoU >= the threshold, greedy);
        a track whose face moved (an unclaimed detection overlaps it too little) or has been lost too long
        ends; unclaimed detections start tracks."""
        o = self.options
        pairs = sorted(((iou(t.initial, b), ti, bi) for ti, t in enumerate(self.tracks)
                        for bi, b in enumerate(boxes)), reverse=True)
        track_box: dict[int, int] = {}
        claimed: set[int] = set()
        for overlap, ti, bi in pairs:
            if overlap >= o.iou_with_initial and ti not in track_box and bi not in claimed:
                track_box[ti] = bi
                claimed.add(bi)
        alive = []
        for ti, track in enumerate(self.tracks):
            if ti in track_box:
                track.last_match = k
                track.detections.append((k, boxes[track_box[ti]]))
                alive.append(track)
                continue
            moved = any(iou(track.initial, b) > 0 for bi, b in enumerate(boxes) if bi not in claimed)
            if moved or k - track.last_match > o.max_gap:
                self._end(track, track.last_match + 1)
            else:
                alive.append(track)
        for bi, box in enumerate(boxes):
            if bi not in claimed:
                alive.append(_Track(initial=box, start=k, last_match=k, detections=[(k, box)]))
        self.tracks = alive

    def finish(self) -> list[Span]:
        """End every open track at the last frame; all spans of at least min_frames, by start."""
        for track in self.tracks:
            self._end(track, self.num_frames)
        self.tracks = []
        return sorted(self.spans, key=lambda s: (s.start, s.detections[0][1]))


@functools.lru_cache(maxsize=4)
def _backend(name: str):
    """One face backend per process (dlib HOG when available; upsample 0: faces of ~80 px and more)."""
    return get_backend(name, landmarks=False, upsample=0, max_side=None)


# frames smaller than detect_side are enlarged for detection by at most this factor
MAX_DETECT_UPSCALE = 4.0


def detect_scale(height: int, width: int, detect_side: int) -> float:
    """The factor that brings a frame's longer side to detect_side: below 1 for big frames, and above 1
    (at most MAX_DETECT_UPSCALE) for small ones, whose faces are too small for the detector otherwise
    (dlib's HOG at upsample 0 finds faces of about 80 px and more)."""
    return min(detect_side / max(height, width), MAX_DETECT_UPSCALE)


def detect_faces(frame: np.ndarray, backend: str = "auto", detect_side: int = 480) -> list[Box]:
    """Face boxes in full-resolution pixels, clipped to the frame, found on a copy resized to detect_side."""
    height, width = frame.shape[:2]
    scale = detect_scale(height, width, detect_side)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = frame if size == (width, height) else cv2.resize(
        frame, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    boxes = []
    for face in _backend(backend).detect(small):
        x0, y0, x1, y1 = (v / scale for v in face.box)
        x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(float(width), x1), min(float(height), y1)
        if x1 > x0 and y1 > y0:
            boxes.append((x0, y0, x1, y1))
    return boxes


# ------------------------------------------------------------------------------------------ scanning


@dataclass
class VideoScan:
    """What pass 1 found in one video (error set, spans empty, when it could not be read)."""

    path: str
    stem: str
    src_fps: float = 0.0
    fps: float = 0.0
    num_frames: int = 0  # output frames (after resampling)
    width: int = 0
    height: int = 0
    spans: list[Span] = field(default_factory=list)
    scene_cuts: list[int] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


def video_stem(path: str) -> str:
    """The identity name of a source video: its file name without extension, '#' replaced by '_'."""
    return os.path.splitext(os.path.basename(path))[0].replace("#", "_")


def scan_video(path: str, options: PreprocessOptions, detect=None, progress: bool | None = None) -> VideoScan:
    """Pass 1 over one video: its face tracks of at least min_frames; an unreadable video gives error."""
    scan = VideoScan(path=path, stem=video_stem(path))
    started = time.perf_counter()
    try:
        info = video.probe(path)
        scan.src_fps, scan.width, scan.height = info.fps, info.width, info.height
        scan.fps = options.fps or info.fps
        total = info.num_frames if scan.fps == scan.src_fps else round(info.num_frames * scan.fps / scan.src_fps)
        tracker = FaceTracker(options, detect)
        show = options.progress if progress is None else progress
        with tqdm(total=total, desc=f"scan {scan.stem}", unit="frame", disable=not show, leave=False) as bar:
            for k, frame in stream(path, scan.src_fps, scan.fps):
                tracker.step(k, frame)
                bar.update()
        scan.spans = tracker.finish()
        scan.num_frames, scan.scene_cuts = tracker.num_frames, tracker.scene_cuts
    except UserError as exc:
        scan.error = str(exc)
    scan.seconds = time.perf_counter() - started
    return scan


# ------------------------------------------------------------------------------------------ splits


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
            asked = {video_stem(n) for n in options.test_videos}
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


# ------------------------------------------------------------------------------------------ writing


class _PngWriter:
    """A folder of 0000000.png, 0000001.png, ... with the VideoWriter interface used here."""

    def __init__(self, path: str):
        self.path = path
        os.makedirs(path)
        self.count = 0

    def write(self, frame: np.ndarray) -> None:
        target = os.path.join(self.path, f"{self.count:07d}.png")
        if not cv2.imwrite(target, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)):
            raise UserError(f"cannot write {target}; check the disk space and permissions of the output folder")
        self.count += 1

    def close(self) -> None:
        pass

    def abort(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def write_clips(source: str, clips: Sequence[Clip], folder: str, options: PreprocessOptions,
                progress: bool | None = None) -> None:
    """Pass 2 over one video: write every clip of it into folder/<split>/<name>, decoding once."""
    if not clips:
        return
    clips = sorted(clips, key=lambda c: c.start)
    first, stop = clips[0].start, max(c.end for c in clips)
    starting: dict[int, list[Clip]] = {}
    for clip in clips:
        starting.setdefault(clip.start, []).append(clip)
    open_writers: list[tuple[Clip, object]] = []
    show = options.progress if progress is None else progress
    try:
        with tqdm(total=stop - first, desc=f"write {video_stem(source)}", unit="frame", disable=not show,
                  leave=False) as bar:
            for k, frame in stream(source, clips[0].src_fps, clips[0].fps, first, stop):
                for clip in starting.get(k, []):
                    path = os.path.join(folder, clip.split, clip.name)
                    writer = (video.VideoWriter(path, clip.fps, crf=options.crf) if options.format == "mp4"
                              else _PngWriter(path))
                    open_writers.append((clip, writer))
                for clip, writer in open_writers:
                    writer.write(crop_resize(frame, clip.box, options.size))
                for clip, writer in [cw for cw in open_writers if cw[0].end == k + 1]:
                    writer.close()
                    open_writers.remove((clip, writer))
                bar.update()
    except BaseException:
        for _, writer in open_writers:
            writer.abort()
        raise
    if open_writers:  # the video ended early (it was changed since the scan)
        for _, writer in open_writers:
            writer.abort()
        raise UserError(f"video {source} ended before frame {open_writers[0][0].end}; was it changed while "
                        "being processed? run again")


# ------------------------------------------------------------------------------------------ photos

PHOTO_FPS = 25.0  # nominal frame rate of the synthetic photo tracks


def find_photos(inputs: Sequence[str]) -> list[str]:
    """Image files among `inputs`: files as given, folders searched recursively (hidden entries skipped)."""
    found = _files_in(inputs, video.IMAGE_EXTENSIONS,
                      "photo {} does not exist; pass image files or folders of images to --photos")
    if not found:
        raise UserError(f"no image files ({'/'.join(video.IMAGE_EXTENSIONS)}) in {', '.join(map(str, inputs))}; "
                        "pass face photos or folders holding them to --photos")
    return found


def _photo_uint8(path: str) -> np.ndarray:
    return video.to_uint8(video.load_image(path))


def plan_photo_clips(photos: Sequence[str], options: PreprocessOptions, taken: set[str],
                     detect=None) -> tuple[list[Clip], list[tuple[str, str]]]:
    """photo_tracks train clips per photo with a face (its largest), named like video tracks; the skips."""
    clips, skipped = [], []
    n = options.photo_frames
    for path in photos:
        stem = video_stem(path)
        if stem in taken:
            raise UserError(f"photo {path} has the name {stem!r} of another input, which names the identity; "
                            "rename one of them")
        taken.add(stem)
        image = _photo_uint8(path)
        boxes = (detect or functools.partial(detect_faces, backend=options.face_backend,
                                             detect_side=options.detect_side))(image)
        if not boxes:
            log.warning("skipping photo %s: no face found", path)
            skipped.append((path, "no face found"))
            continue
        box = max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
        for k in range(options.photo_tracks):
            clips.append(Clip(name=f"{stem}#{k:03d}#{0:06d}#{n:06d}.mp4", split="train", source=path, start=0,
                              end=n, src_start=0, src_end=n, fps=PHOTO_FPS, src_fps=PHOTO_FPS,
                              box=tuple(int(round(v)) for v in box)))
    return clips, skipped


def _photo_seed(options: PreprocessOptions, clip: Clip) -> int:
    return int(np.random.SeedSequence([options.seed, *clip.name.encode()]).generate_state(1)[0])


def write_photo_clip(clip: Clip, folder: str, options: PreprocessOptions) -> None:
    """Render one synthetic-motion track of a photo into folder/<split>/<name> (footage.synthetic)."""
    path = os.path.join(folder, clip.split, clip.name)
    writer = (video.VideoWriter(path, clip.fps, crf=options.crf) if options.format == "mp4" else _PngWriter(path))
    try:
        for frame in synthetic_frames(_photo_uint8(clip.source), clip.box, options.size, clip.num_frames,
                                      seed=_photo_seed(options, clip), increase=options.photo_increase,
                                      mouth=options.photo_mouth):
            writer.write(frame)
        writer.close()
    except BaseException:
        writer.abort()
        raise


# ------------------------------------------------------------------------------------------ the run


def _files_in(inputs: Sequence[str], extensions: tuple[str, ...], missing: str) -> list[str]:
    """Files among `inputs` as given, plus the files with `extensions` in folders among them (searched
    recursively, sorted, hidden entries skipped); UserError(missing.format(item)) for an item that is neither."""
    found = []
    for item in inputs:
        item = os.fspath(item)
        if os.path.isfile(item):
            found.append(item)
        elif os.path.isdir(item):
            for root, dirs, files in os.walk(item):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found += [os.path.join(root, f) for f in sorted(files)
                          if not f.startswith(".") and f.lower().endswith(extensions)]
        else:
            raise UserError(missing.format(item))
    return found


def find_videos(inputs: Sequence[str]) -> list[str]:
    """Video files among `inputs`: files as given, folders searched recursively (hidden entries skipped)."""
    found = _files_in(inputs, video.VIDEO_EXTENSIONS, "input {} does not exist; pass video files or folders of videos")
    if not found:
        raise UserError(f"no video files ({'/'.join(video.VIDEO_EXTENSIONS)}) in {', '.join(map(str, inputs))}; "
                        "pass video files or folders holding them")
    stems: dict[str, str] = {}
    for path in found:
        stem = video_stem(path)
        if stem in stems:
            raise UserError(f"input videos {stems[stem]} and {path} have the same name {stem!r}, which names the "
                            "identity; rename one of them")
        stems[stem] = path
    return found


def _check_output(output: str, overwrite: bool) -> None:
    check_output_folder(output, "--output")  # not a file, and a folder on the way that can be written
    if os.path.exists(output) and not overwrite:
        raise UserError(f"output folder {output} already exists; pass --overwrite to replace it or choose "
                        "another --output")


def _run_all(pool: ProcessPoolExecutor | None, function, jobs: list[tuple], what: str) -> list:
    """function(*job) for every job, in the pool's worker processes when there is one (results in job order)."""
    if pool is None or len(jobs) <= 1:
        return [function(*job) for job in jobs]
    futures = [pool.submit(function, *job) for job in jobs]
    return [f.result() for f in tqdm(futures, desc=what, unit="video")]


def _pool(workers: int, num_videos: int) -> ProcessPoolExecutor | None:
    """Worker processes for both passes (None: work in this process). Spawned, not forked: no decoder pipes
    or thread pools are inherited; each worker pays one import of this package."""
    if workers <= 1 or num_videos <= 1:
        return None
    return ProcessPoolExecutor(max_workers=min(workers, num_videos), mp_context=multiprocessing.get_context("spawn"))


@dataclass
class Summary:
    """What a run produced: the clips written and the videos skipped (path, reason)."""

    output: str
    clips: list[Clip]
    skipped: list[tuple[str, str]]
    seconds: float

    def count(self, split: str) -> tuple[int, int]:
        """(clips, frames) in a split."""
        chosen = [c for c in self.clips if c.split == split]
        return len(chosen), sum(c.num_frames for c in chosen)

    def lines(self) -> list[str]:
        out = [f"wrote {len(self.clips)} face tracks ({sum(c.num_frames for c in self.clips)} frames) to "
               f"{self.output} in {self.seconds:.1f} s"]
        for split in ("train", "test"):
            clips, frames = self.count(split)
            identities = len({c.name.split("#")[0] for c in self.clips if c.split == split})
            out.append(f"  {split}: {clips} tracks, {frames} frames, {identities} identities")
        for path, reason in self.skipped:
            out.append(f"  skipped {path}: {reason}")
        return out


def write_table(clips: Sequence[Clip], path: str) -> None:
    """tracks.csv: one row per clip (frames are source-video frames, end exclusive; box in source pixels)."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for c in clips:
            writer.writerow([c.name, c.split, c.source, c.src_start, c.src_end, f"{c.fps:.6g}", *c.box,
                             c.num_frames])


def _scan_and_plan(pool, videos: list[str], options: PreprocessOptions, detect) -> tuple[list[Clip], list]:
    """Pass 1 over every video, the skips logged, then the clips planned."""
    scans = _run_all(pool, scan_video, [(v, options, detect) for v in videos], "scan")
    if all(scan.error for scan in scans):
        plan_clips(scans, options)  # raises with the first video's cause, once, instead of a skip line each
    skipped = []
    for scan in scans:
        if scan.error:
            log.warning("skipping %s: %s", scan.path, scan.error)
            skipped.append((scan.path, scan.error))
        elif not scan.spans:
            reason = f"no face track of at least {options.min_frames} frames"
            log.warning("skipping %s: %s", scan.path, reason)
            skipped.append((scan.path, reason))
        else:
            log.info("%s: %d frames, %d tracks, %d scene cuts, %.1f s (%.0f frames/s)", scan.path,
                     scan.num_frames, len(scan.spans), len(scan.scene_cuts), scan.seconds,
                     scan.num_frames / max(scan.seconds, 1e-9))
    return plan_clips(scans, options), skipped


def build_dataset(inputs: Sequence[str], output: str, options: PreprocessOptions | None = None,
                  overwrite: bool = False, detect=None, photos: Sequence[str] = ()) -> Summary:
    """Cut the face tracks of every video in `inputs` into a FOMM dataset at `output` (train/, test/,
    tracks.csv), plus synthetic-motion training tracks of the face `photos` (footage.synthetic).
    `detect` (frame -> boxes) replaces the face backend, e.g. in tests."""
    options = (options or PreprocessOptions()).check()
    output = os.path.normpath(os.fspath(output))
    started = time.perf_counter()
    _check_output(output, overwrite)
    if not inputs and not photos:
        raise UserError("nothing to preprocess: pass videos with --input and/or face photos with --photos")
    videos = find_videos(inputs) if inputs else []
    photo_files = find_photos(photos) if photos else []
    pool = _pool(options.workers, len(videos))
    job_options = replace(options, progress=options.progress and pool is None)
    try:
        clips, skipped = _scan_and_plan(pool, videos, job_options, detect) if videos else ([], [])
        if photo_files:
            photo_clips, photo_skipped = plan_photo_clips(photo_files, options, {video_stem(v) for v in videos},
                                                          detect)
            if not photo_clips and not clips:
                raise UserError(f"no face found in any of the {len(photo_files)} photos; pass face photos")
            clips, skipped = clips + photo_clips, skipped + photo_skipped
        parent = os.path.dirname(os.path.abspath(output))
        os.makedirs(parent, exist_ok=True)
        temp = None
        try:
            with signals_deferred():  # created and recorded in temp before a signal can stop us
                temp = tempfile.mkdtemp(prefix=os.path.basename(output) + ".tmp-", dir=parent)
            for split in ("train", "test"):
                os.makedirs(os.path.join(temp, split))
            by_source: dict[str, list[Clip]] = {}
            for clip in clips:
                if clip.source not in photo_files:
                    by_source.setdefault(clip.source, []).append(clip)
            _run_all(pool, write_clips, [(src, cs, temp, job_options) for src, cs in by_source.items()], "write")
            for clip in tqdm([c for c in clips if c.source in photo_files], desc="photo tracks", unit="track",
                             disable=not options.progress, leave=False):
                write_photo_clip(clip, temp, options)
            write_table(clips, os.path.join(temp, "tracks.csv"))
            os.chmod(temp, 0o777 & ~_umask())
            _check_output(output, overwrite)
            _replace_folder(temp, output)
        except BaseException:
            if temp is not None:
                shutil.rmtree(temp, ignore_errors=True)
            raise
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    summary = Summary(output=output, clips=clips, skipped=skipped, seconds=time.perf_counter() - started)
    for line in summary.lines():
        log.info("%s", line)
    return summary


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _replace_folder(new: str, target: str) -> None:
    """Rename `new` onto `target`; an existing target is moved aside first and deleted after."""
    with signals_deferred():  # a signal never falls between the renames: one folder or the other is there
        if not os.path.exists(target):
            os.rename(new, target)
            return
        old = tempfile.mkdtemp(prefix=os.path.basename(target) + ".old-",
                               dir=os.path.dirname(os.path.abspath(target)))
        os.rmdir(old)
        os.rename(target, old)
        try:
            os.rename(new, target)
        except BaseException:
            os.rename(old, target)
            raise
    shutil.rmtree(old, ignore_errors=True)
