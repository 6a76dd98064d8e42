"""The dataset index: one file per dataset root listing each video's frame count, fps and size, so that
FramesDataset starts without opening every video.

    <root>/index.json  {"version": 1, "videos": {"train/a#000#000000#000100.mp4": {...}, ...}}

Each entry records what opening the video found (num_frames, fps, width, height; or the error that made it
unreadable) with the file's modification time and size. An entry whose file changed since is stale and the
video is opened again; FramesDataset then rewrites the index (atomically, so readers on other ranks or
machines see the old file or the new one, never a partial one). preprocess.py writes it with the dataset.
"""
from __future__ import annotations

import json
import logging
import os

from atomic import atomic_write_text

log = logging.getLogger(__name__)

INDEX_NAME = "index.json"
INDEX_VERSION = 1


def file_stamp(path: str) -> tuple[int, int]:
    """(modification time in ns, size in bytes): what tells a changed video from the indexed one. For a
    folder of frames, the newest time and the total size of the folder and its files, so that a frame
    rewritten in place also counts as a change."""
    st = os.stat(path)
    if not os.path.isdir(path):
        return st.st_mtime_ns, st.st_size
    newest, total = st.st_mtime_ns, 0
    with os.scandir(path) as entries:
        for entry in entries:
            est = entry.stat()
            newest, total = max(newest, est.st_mtime_ns), total + est.st_size
    return newest, total


class DatasetIndex:
    """The index of one dataset root: look entries up by video path, add new ones, save when changed."""

    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        self.path = os.path.join(self.root, INDEX_NAME)
        self.videos: dict[str, dict] = {}
        self.changed = False
        self.existed = False
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
            if isinstance(data, dict) and data.get("version") == INDEX_VERSION and isinstance(data.get("videos"), dict):
                self.videos, self.existed = data["videos"], True
            else:
                log.info("dataset index %s is of another version: rebuilding it", self.path)
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            log.warning("dataset index %s cannot be read (%s): rebuilding it", self.path, exc)

    def _key(self, path: str) -> str:
        return os.path.relpath(os.path.abspath(path), self.root).replace(os.sep, "/")

    def get(self, path: str) -> dict | None:
        """The entry for `path` when the file is unchanged since it was indexed, else None."""
        entry = self.videos.get(self._key(path))
        if entry is None:
            return None
        try:
            stamp = file_stamp(path)
        except OSError:
            return None
        return entry if (entry.get("mtime_ns"), entry.get("size")) == stamp else None

    def put(self, path: str, facts: dict) -> None:
        """Record what opening `path` found (facts: num_frames, fps, width, height, or error)."""
        mtime_ns, size = file_stamp(path)
        entry = {**facts, "mtime_ns": mtime_ns, "size": size}
        key = self._key(path)
        if self.videos.get(key) != entry:
            self.videos[key] = entry
            self.changed = True

    def adopt(self, other: DatasetIndex, there: str, here: str) -> None:
        """Take `other`'s entry for the video at `there` as the entry of `here`, a link to it or a copy that
        kept its time and size (get() still checks it against the file)."""
        entry = other.videos.get(other._key(there))
        if entry is not None:
            self.videos[self._key(here)] = entry
            self.changed = True

    def save(self) -> bool:
        """Write the index if it changed or is missing; False (and one log line) when the root is read-only."""
        if not self.changed and self.existed:
            return True
        lines = [f"{json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}" for k, v in sorted(self.videos.items())]
        text = f'{{"version": {INDEX_VERSION}, "videos": {{\n' + ",\n".join(lines) + "\n}}"  # a line per video
        try:
            atomic_write_text(self.path, text + "\n")
        except OSError as exc:
            log.info("dataset index %s not written (%s): start-up opens every video each time", self.path, exc)
            return False
        self.changed, self.existed = False, True
        return True
