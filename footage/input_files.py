"""The input files of preprocessing: video and photo files among paths given, folders searched recursively."""
from __future__ import annotations

import os
from collections.abc import Sequence

import video
from errors import UserError
from footage.tracking import clip_identity


def files_in(inputs: Sequence[str], extensions: tuple[str, ...], missing: str) -> list[str]:
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
    found = files_in(inputs, video.VIDEO_EXTENSIONS, "input {} does not exist; pass video files or folders of videos")
    if not found:
        raise UserError(f"no video files ({'/'.join(video.VIDEO_EXTENSIONS)}) in {', '.join(map(str, inputs))}; "
                        "pass video files or folders holding them")
    stems: dict[str, str] = {}
    for path in found:
        stem = clip_identity(path)
        if stem in stems:
            raise UserError(f"input videos {stems[stem]} and {path} have the same name {stem!r}, which names the "
                            "identity; rename one of them")
        stems[stem] = path
    return found
