"""Pass 1 of preprocessing: stream a video, detect faces, follow each face in a fixed-box track."""
from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field

import cv2
import numpy as np
from tqdm import tqdm

import video
from errors import UserError
from faces import get_backend
from faces.base import Box
from faces.crop import iou
from footage.preprocess_options import PreprocessOptions

THUMB_SIDE = 64  # scene changes are measured on gray thumbnails of this size


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


def clip_identity(path: str) -> str:
    """The identity part of the clip names a raw video gives (footage.frames.identity_of reads it back): its file
    name without extension, '#' (the clip names' separator) replaced by '_'. Not sources.video_stem, which names
    the output files of a dataset video."""
    return os.path.splitext(os.path.basename(path))[0].replace("#", "_")


def scan_video(path: str, options: PreprocessOptions, detect=None, progress: bool | None = None) -> VideoScan:
    """Pass 1 over one video: its face tracks of at least min_frames; an unreadable video gives error."""
    scan = VideoScan(path=path, stem=clip_identity(path))
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
