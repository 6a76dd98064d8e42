"""Per-video frame sources (a folder of frames, a stacked strip image or a video file, read frame by frame)
and the listing of a dataset folder's videos (video_names).

Every source exposes `num_frames`, `read(indices)` (only those frames are decoded) and `iter()` (streams
every frame). Frames come back as HxWx3 float32 RGB in [0, 1], resized to `frame_shape` (H, W, ...) when
their stored size differs (video files by ffmpeg's scaler, images by skimage with anti-aliasing);
grayscale becomes RGB and alpha is composited over white (video.load_image does both for image files).

`open_source(path, frame_shape)` picks the class whose `accepts(path)` says yes, in the order of
`SOURCE_KINDS`: a directory is always a folder of frames (FOMM datasets name those folders like the
video, e.g. `id10001#abc#000001#000100.mp4/`), then video files, then strip images.
"""
from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Sequence

import numpy as np
from PIL import Image
from skimage.transform import resize

import video
from errors import UserError
from footage.index import INDEX_NAME
from video.image import to_float

STRIP_EXTENSIONS = (".png", ".jpg", ".jpeg")
LANDMARKS_DIR = "landmarks"  # reserved name in a dataset folder: never read as a video

log = logging.getLogger(__name__)


def to_rgb_float(frame: np.ndarray) -> np.ndarray:
    """Any HxW, HxWx1, HxWx3 or HxWx4 integer/float image -> HxWx3 float32 in [0, 1] (alpha dropped)."""
    frame = np.asarray(frame)
    frame = to_float(frame) if frame.dtype in (np.uint8, np.uint16, np.bool_) else frame.astype(np.float32)
    if frame.ndim == 2:
        frame = frame[:, :, None]
    if frame.ndim != 3:
        raise ValueError(f"expected an HxW or HxWxC image, got shape {frame.shape}")
    channels = frame.shape[2]
    if channels == 1:
        frame = np.repeat(frame, 3, axis=2)
    elif channels == 2:  # gray + alpha
        frame = np.repeat(frame[:, :, :1], 3, axis=2)
    elif channels >= 4:
        frame = frame[:, :, :3]
    return np.clip(frame, 0.0, 1.0)


def fit_frame(frame: np.ndarray, frame_shape: Sequence[int]) -> np.ndarray:
    """RGB float32 frame, resized (bilinear, anti-aliased) to frame_shape[:2] when its size differs."""
    frame = to_rgb_float(frame)
    height, width = int(frame_shape[0]), int(frame_shape[1])
    if frame.shape[:2] != (height, width):
        frame = resize(frame, (height, width), order=1, anti_aliasing=True, preserve_range=True)
        frame = np.clip(frame, 0.0, 1.0).astype(np.float32)
    return np.ascontiguousarray(frame, dtype=np.float32)


def _natural_key(name: str) -> list:
    """Sort key that orders frame2.png before frame10.png (zero-padded names sort as usual)."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _check_indices(indices: Sequence[int], num_frames: int, path: str) -> list[int]:
    out = [int(i) for i in indices]
    for i in out:
        if not 0 <= i < num_frames:
            raise IndexError(f"frame {i} out of range for {path} ({num_frames} frames)")
    return out


class FrameSource:
    """Base class: one video, whatever its storage; subclasses set `num_frames` in __init__.

    `facts` (from `facts()` of an earlier opening of the same unchanged file, e.g. the dataset index) lets a
    source skip what it would otherwise read to learn them.
    """

    def __init__(self, path: str, frame_shape: Sequence[int] = (256, 256, 3), facts: dict | None = None):
        self.path = str(path)
        self.frame_shape = tuple(int(v) for v in frame_shape)
        self.num_frames = 0

    def facts(self) -> dict:
        """What opening this source found, for the dataset index: num_frames (and fps, width, height)."""
        return {"num_frames": self.num_frames}

    @classmethod
    def accepts(cls, path: str) -> bool:
        raise NotImplementedError

    def read(self, indices: Sequence[int]) -> list[np.ndarray]:
        """Frames at `indices` (any order, repeats allowed), decoding only those."""
        raise NotImplementedError

    def iter(self) -> Iterator[np.ndarray]:
        """Every frame in order, one at a time."""
        raise NotImplementedError

    def __len__(self) -> int:
        return self.num_frames

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r}, num_frames={self.num_frames})"


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"IEND\xaeB`\x82"


def frame_file_problem(path: str) -> str | None:
    """Why an image file cannot be a frame (empty, not an image, cut short), or None; reads its two ends only.

    PNG and JPEG files are checked for their signature and their end marker (a file cut short loses it);
    other formats for a header that PIL can parse.
    """
    try:
        size = os.path.getsize(path)
        if size == 0:
            return "is an empty file"
        ext = os.path.splitext(path)[1].lower()
        if ext in (".png", ".jpg", ".jpeg"):
            with open(path, "rb") as f:
                head = f.read(8)
                f.seek(max(0, size - 64))
                tail = f.read()
            if ext == ".png":
                if head != _PNG_SIGNATURE:
                    return "is not a PNG image"
                return None if tail.endswith(_PNG_END) else "is cut short (no PNG end chunk)"
            if head[:2] != b"\xff\xd8":
                return "is not a JPEG image"
            return None if b"\xff\xd9" in tail else "is cut short (no JPEG end marker)"
        with Image.open(path):
            return None
    except OSError as exc:
        return f"cannot be read ({exc})"


class FolderSource(FrameSource):
    """A folder of image files, one per frame, in natural sort order (non-image files are ignored)."""

    def __init__(self, path: str, frame_shape: Sequence[int] = (256, 256, 3), facts: dict | None = None):
        super().__init__(path, frame_shape)
        names = [
            n for n in os.listdir(self.path)
            if not n.startswith(".") and n.lower().endswith(tuple(video.IMAGE_EXTENSIONS))
        ]
        self.files = [os.path.join(self.path, n) for n in sorted(names, key=_natural_key)]
        self.num_frames = len(self.files)
        if facts is not None and facts.get("num_frames") == self.num_frames:
            return  # checked when indexed, and the folder has not changed since
        for i, file in enumerate(self.files):  # every frame whole and readable, so no step meets a bad one
            problem = frame_file_problem(file)
            if problem:
                raise UserError(f"frame {i} ({os.path.basename(file)}) {problem}; re-extract the frames "
                                "or remove the video")

    @classmethod
    def accepts(cls, path: str) -> bool:
        return os.path.isdir(path)

    def _load(self, i: int) -> np.ndarray:
        try:
            image = video.load_image(self.files[i])
        except UserError as exc:  # damaged after the dataset was built: one line naming frame and video
            raise UserError(f"frame {i} of video {self.path}: {exc}") from None
        return fit_frame(image, self.frame_shape)

    def read(self, indices: Sequence[int]) -> list[np.ndarray]:
        indices = _check_indices(indices, self.num_frames, self.path)
        cache = {i: self._load(i) for i in dict.fromkeys(indices)}
        return [cache[i].copy() for i in indices]

    def iter(self) -> Iterator[np.ndarray]:
        for i in range(self.num_frames):
            yield self._load(i)


class StripSource(FrameSource):
    """One image holding the frames side by side, each frame_shape[1] pixels wide (FOMM's mgif/png format).

    The strip's height is the frame height; frames are resized to frame_shape[0] when it differs.
    """

    def __init__(self, path: str, frame_shape: Sequence[int] = (256, 256, 3), facts: dict | None = None):
        super().__init__(path, frame_shape)
        with Image.open(self.path) as image:  # header only: no pixel decoding here
            width, _height = image.size
        frame_width = self.frame_shape[1]
        if width % frame_width:
            raise UserError(
                f"strip image {self.path} is {width} px wide, not a multiple of the frame width "
                f"{frame_width}; set dataset_params.frame_shape to the strip's frame size"
            )
        self.num_frames = width // frame_width

    @classmethod
    def accepts(cls, path: str) -> bool:
        return os.path.isfile(path) and path.lower().endswith(STRIP_EXTENSIONS)

    def _frames(self, strip: np.ndarray, indices: Sequence[int]) -> list[np.ndarray]:
        w = self.frame_shape[1]
        if strip.shape[1] != w * self.num_frames:  # e.g. an EXIF rotation changed the decoded width
            raise UserError(f"strip image {self.path} decodes {strip.shape[1]} px wide, expected "
                            f"{w * self.num_frames}; save it without EXIF rotation")
        return [fit_frame(strip[:, i * w:(i + 1) * w], self.frame_shape) for i in indices]

    def read(self, indices: Sequence[int]) -> list[np.ndarray]:
        indices = _check_indices(indices, self.num_frames, self.path)
        return self._frames(video.load_image(self.path), indices)

    def iter(self) -> Iterator[np.ndarray]:
        strip = video.load_image(self.path)  # a strip is one image: it is decoded whole once
        for i in range(self.num_frames):
            yield self._frames(strip, [i])[0]


class VideoFileSource(FrameSource):
    """A video file (.mp4/.gif/.mov/.avi/.webm/.mkv); `num_frames` comes from video.probe."""

    def __init__(self, path: str, frame_shape: Sequence[int] = (256, 256, 3), facts: dict | None = None):
        super().__init__(path, frame_shape)
        if facts is None:
            info = video.probe(self.path)  # exact frame count (from the container, cached per file version)
            facts = {"num_frames": int(info.num_frames), "fps": info.fps, "width": info.width, "height": info.height}
        self._facts = facts
        self.num_frames = int(facts["num_frames"])
        height, width = self.frame_shape[:2]
        # let the decoder scale when the stored size differs: cheaper than decoding full size and resizing
        self._size = None if (facts["height"], facts["width"]) == (height, width) else (width, height)

    def facts(self) -> dict:
        return dict(self._facts)

    @classmethod
    def accepts(cls, path: str) -> bool:
        return os.path.isfile(path) and path.lower().endswith(tuple(video.VIDEO_EXTENSIONS))

    def read(self, indices: Sequence[int]) -> list[np.ndarray]:
        indices = _check_indices(indices, self.num_frames, self.path)
        wanted = sorted(set(indices))
        frames = video.read_frames(self.path, wanted, size=self._size)
        if len(frames) != len(wanted):
            raise UserError(
                f"cannot read frames {wanted} of {self.path}: got {len(frames)} of them; "
                "the file may be truncated, re-encode it with ffmpeg"
            )
        by_index = {i: fit_frame(f, self.frame_shape) for i, f in zip(wanted, frames)}
        return [by_index[i].copy() for i in indices]

    def iter(self) -> Iterator[np.ndarray]:
        for frame in video.iter_frames(self.path, size=self._size):
            yield fit_frame(frame, self.frame_shape)


# Checked in order: the first class whose accepts(path) is true opens the path.
SOURCE_KINDS: list[type[FrameSource]] = [FolderSource, VideoFileSource, StripSource]


DEFAULT_FPS = 25.0  # the frame rate written for sources that have none (frame folders, strips)


def video_fps(path: str) -> float:
    """The frame rate of a video-file source; DEFAULT_FPS for frame folders, strips and unknown rates."""
    if os.path.isfile(path) and path.lower().endswith(video.VIDEO_EXTENSIONS):
        fps = video.probe(path).fps
        if fps and fps > 0:
            return fps
    return DEFAULT_FPS


def video_stem(name: str) -> str:
    """A dataset video's name as a file stem for its outputs: a video extension dropped, path separators made '_'
    (footage.tracking.clip_identity is another job: the identity part of a raw video's clip names)."""
    root, ext = os.path.splitext(name)
    return re.sub(r"[/\\]+", "_", root if ext.lower() in video.VIDEO_EXTENSIONS else name) or "video"


def is_source_path(path: str) -> bool:
    """True when some source kind can open `path` (by its type and extension; nothing is decoded)."""
    return any(kind.accepts(str(path)) for kind in SOURCE_KINDS)


def open_source(path, frame_shape: Sequence[int] = (256, 256, 3), facts: dict | None = None) -> FrameSource:
    """The frame source for `path`: a folder of frames, a video file or a strip image (`facts`: see FrameSource)."""
    path = str(path)
    for kind in SOURCE_KINDS:
        if kind.accepts(path):
            return kind(path, frame_shape, facts)
    if not os.path.exists(path):
        raise UserError(f"video {path} does not exist; check the path")
    raise UserError(
        f"cannot read {path} as a video: unknown kind; pass a folder of frames, a video file "
        f"({'/'.join(sorted(video.VIDEO_EXTENSIONS))}) or a strip image ({'/'.join(STRIP_EXTENSIONS)})"
    )


def dataset_folders(root: str) -> list[str]:
    """The folders holding a dataset's videos: root/train and root/test (those that exist), or root itself."""
    splits = [os.path.join(root, s) for s in ("train", "test") if os.path.isdir(os.path.join(root, s))]
    return splits or [root]


def video_names(folder: str) -> list[str]:
    """Sorted entry names in `folder` that some source kind can open (hidden entries skipped)."""
    names, ignored = [], []
    for name in sorted(os.listdir(folder)):
        if name.startswith(".") or name in (LANDMARKS_DIR, INDEX_NAME):
            continue
        (names if is_source_path(os.path.join(folder, name)) else ignored).append(name)
    if ignored:
        log.warning("ignoring %d entries of %s that are not videos, e.g. %r", len(ignored), folder, ignored[0])
    return names
