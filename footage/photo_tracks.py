"""Photo tracks: face photos become training clips of smooth synthetic head motion (footage.synthetic)."""
from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence

import numpy as np

import video
from errors import UserError
from footage.clip_writer import open_clip_writer
from footage.input_files import files_in
from footage.preprocess_options import PreprocessOptions
from footage.split_plan import Clip
from footage.synthetic import synthetic_frames
from footage.tracking import clip_identity, detect_faces

log = logging.getLogger(__name__)


PHOTO_FPS = 25.0  # nominal frame rate of the synthetic photo tracks


def find_photos(inputs: Sequence[str]) -> list[str]:
    """Image files among `inputs`: files as given, folders searched recursively (hidden entries skipped)."""
    found = files_in(inputs, video.IMAGE_EXTENSIONS,
                      "photo {} does not exist; pass image files or folders of images to --photos")
    if not found:
        raise UserError(f"no image files ({'/'.join(video.IMAGE_EXTENSIONS)}) in {', '.join(map(str, inputs))}; "
                        "pass face photos or folders holding them to --photos")
    return found


def _photo_uint8(path: str) -> np.ndarray:
    return video.to_uint8(video.load_image(path))


def claim_photo_name(path: str, taken: set[str]) -> str:
    """The identity name (file stem) of photo `path`, added to `taken`; UserError when another input has it."""
    stem = clip_identity(path)
    if stem in taken:
        raise UserError(f"photo {path} has the name {stem!r} of another input, which names the identity; "
                        "rename one of them")
    taken.add(stem)
    return stem


def plan_photo_clips(photos: Sequence[str], options: PreprocessOptions, taken: set[str],
                     detect=None) -> tuple[list[Clip], list[tuple[str, str]]]:
    """photo_tracks train clips per photo with a face (its largest), named like video tracks; the skips."""
    clips, skipped = [], []
    n = options.photo_frames
    if options.photo_mouth > 0 and photos:
        from faces import get_backend

        get_backend(options.face_backend, landmarks=True)  # a backend without landmarks: one line before any work
    for path in photos:
        stem = claim_photo_name(path, taken)
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
    writer = open_clip_writer(path, clip.fps, options)
    try:
        for frame in synthetic_frames(_photo_uint8(clip.source), clip.box, options.size, clip.num_frames,
                                      seed=_photo_seed(options, clip), increase=options.photo_increase,
                                      mouth=options.photo_mouth, backend=options.face_backend):
            writer.write(frame)
        writer.close()
    except BaseException:
        writer.abort()
        raise
