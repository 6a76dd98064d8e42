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
import logging
import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

from tqdm import tqdm

from errors import UserError, signals_deferred
from footage.clip_writer import write_clips
from footage.input_files import find_videos
from footage.photo_tracks import find_photos, plan_photo_clips, write_photo_clip
from footage.preprocess_options import FORMATS, SPLIT_BY, PreprocessOptions
from footage.split_plan import Clip, crop_box, cut_span, holdout_boundary, plan_clips
from footage.tracking import FaceTracker, Span, VideoScan, detect_faces, scan_video, stream, video_stem
from output_paths import check_output_folder

__all__ = [  # the preprocessing API, re-exported from the files that hold each part
    "FORMATS", "SPLIT_BY", "Clip", "FaceTracker", "PreprocessOptions", "Span", "Summary", "VideoScan",
    "build_dataset", "crop_box", "cut_span", "detect_faces", "holdout_boundary", "plan_clips", "stream",
]

log = logging.getLogger(__name__)

CSV_COLUMNS = ("name", "split", "source_video", "start_frame", "end_frame", "fps",
               "x0", "y0", "x1", "y1", "num_frames")


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
