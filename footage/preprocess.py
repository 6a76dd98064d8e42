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

import contextlib
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

from atomic import current_umask
from errors import UserError, signals_deferred
from footage import shards
from footage.clip_writer import write_clips
from footage.frames import index_dataset
from footage.index import DatasetIndex
from footage.input_files import find_videos
from footage.photo_tracks import claim_photo_name, find_photos, plan_photo_clips, write_photo_clip
from footage.preprocess_options import FORMATS, SPLIT_BY, PreprocessOptions
from footage.split_plan import Clip, crop_box, cut_span, holdout_boundary, plan_clips
from footage.tracking import FaceTracker, Span, VideoScan, clip_identity, detect_faces, scan_video, stream
from output_paths import check_output_folder

__all__ = [  # the preprocessing API, re-exported from the files that hold each part
    "FORMATS", "SPLIT_BY", "Clip", "FaceTracker", "PreprocessOptions", "Span", "Summary", "VideoScan",
    "build_dataset", "crop_box", "merge_shards", "cut_span", "detect_faces", "holdout_boundary", "plan_clips", "stream",
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


def _scan(pool, videos: list[str], options: PreprocessOptions, detect,
          in_shard: bool = False) -> tuple[list[VideoScan], list]:
    """Pass 1 over every video, and the skips logged (one error instead when no video could be read)."""
    scans = _run_all(pool, scan_video, [(v, options, detect) for v in videos], "scan")
    if all(scan.error for scan in scans) and not in_shard:
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
    return scans, skipped


def _check_photo_names(videos: Sequence[str], photos: Sequence[str]) -> None:
    """The name clash that plan_photo_clips finds, over all inputs (a shard sees only its share of photos)."""
    taken = {clip_identity(v) for v in videos}
    for path in photos:
        claim_photo_name(path, taken)


def build_dataset(inputs: Sequence[str], output: str, options: PreprocessOptions | None = None,
                  overwrite: bool = False, detect=None, photos: Sequence[str] = (),
                  shard: tuple[int, int] | None = None) -> Summary:
    """Cut the face tracks of every video in `inputs` into a FOMM dataset at `output` (train/, test/,
    tracks.csv, index.json), plus synthetic-motion training tracks of the face `photos` (footage.synthetic).
    `detect` (frame -> boxes) replaces the face backend, e.g. in tests. shard=(K, N): only the K-th of N
    shares of the inputs, into a shard folder for merge_shards (footage/shards.py)."""
    options = (options or PreprocessOptions()).check()
    output = os.path.normpath(os.fspath(output))
    started = time.perf_counter()
    _check_output(output, overwrite)
    if not inputs and not photos:
        raise UserError("nothing to preprocess: pass videos with --input and/or face photos with --photos")
    all_videos = find_videos(inputs) if inputs else []
    all_photos = find_photos(photos) if photos else []
    videos, photo_files = all_videos, all_photos
    plan_options = options
    if shard is not None:
        _check_photo_names(all_videos, all_photos)
        videos, photo_files = shards.share(all_videos, *shard), shards.share(all_photos, *shard)
        plan_options = shards.local_plan_options(options)
    pool = _pool(options.workers, len(videos))
    job_options = replace(options, progress=options.progress and pool is None)
    try:
        scans, skipped = _scan(pool, videos, job_options, detect, shard is not None) if videos else ([], [])
        clips = []
        if videos and (shard is None or any(s.spans for s in scans)):  # a shard may hold no face track
            clips = plan_clips(scans, plan_options)
        if photo_files:
            photo_clips, photo_skipped = plan_photo_clips(photo_files, options, {clip_identity(v) for v in videos},
                                                          detect)
            if not photo_clips and not clips and shard is None:
                raise UserError(f"no face found in any of the {len(photo_files)} photos; pass face photos")
            clips, skipped = clips + photo_clips, skipped + photo_skipped
        with _new_folder(output, overwrite) as temp:
            by_source: dict[str, list[Clip]] = {}
            for clip in clips:
                if clip.source not in photo_files:
                    by_source.setdefault(clip.source, []).append(clip)
            _run_all(pool, write_clips, [(src, cs, temp, job_options) for src, cs in by_source.items()], "write")
            for clip in tqdm([c for c in clips if c.source in photo_files], desc="photo tracks", unit="track",
                             disable=not options.progress, leave=False):
                write_photo_clip(clip, temp, options)
            _finish_folder(temp, clips, options)
            if shard is not None:
                shards.write_shard_record(temp, *shard, options, all_videos, all_photos, scans, clips, skipped)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    summary = Summary(output=output, clips=clips, skipped=skipped, seconds=time.perf_counter() - started)
    for line in summary.lines():
        log.info("%s", line)
    return summary


def merge_shards(folders: Sequence[str], output: str, overwrite: bool = False, workers: int = 1,
                 progress: bool = True) -> Summary:
    """Join the shard folders of one `build_dataset(..., shard=(K, N))` run into the dataset that one process
    would have written (footage/shards.py)."""
    started = time.perf_counter()
    output = os.path.normpath(os.fspath(output))
    _check_output(output, overwrite)
    parts = [shards.read_shard(os.fspath(f)) for f in folders]
    shards.check_shards(parts)
    options = replace(parts[0].options, workers=workers, progress=progress).check()
    scans = shards.all_scans(parts)
    written = shards.written_clips(parts)
    clips = plan_clips(scans, options) if scans else []  # raises with the cause one process would give
    skipped = [s for part in parts for s in part.skipped]
    order = {path: i for i, path in enumerate(parts[0].videos + parts[0].photos)}
    skipped.sort(key=lambda s: order.get(s[0], len(order)))
    photo_set = set(parts[0].photos)
    photo_clips = sorted((c for _, c in written.values() if c.source in photo_set),
                         key=lambda c: (order[c.source], c.name))
    if parts[0].photos and not photo_clips and not clips:
        raise UserError(f"no face found in any of the {len(parts[0].photos)} photos; pass face photos")
    clips += photo_clips
    rewrite: dict[str, list[Clip]] = {}
    with _new_folder(output, overwrite) as temp:
        index, shard_indexes = DatasetIndex(temp), {part.folder: DatasetIndex(part.folder) for part in parts}
        for clip in tqdm(clips, desc="merge", unit="track", disable=not progress, leave=False):
            shard_folder, shard_clip = written.get(clip.name, (None, None))
            if shard_clip is not None and shards.same_clip(clip, shard_clip):
                there, here = (os.path.join(shard_folder, shard_clip.split, clip.name),
                               os.path.join(temp, clip.split, clip.name))
                shards.place_clip(there, here)
                index.adopt(shard_indexes[shard_folder], there, here)  # the shard's index entry holds
            else:  # cut differently once every video's tracks are known: written again from the source
                rewrite.setdefault(clip.source, []).append(clip)
        for source, cs in rewrite.items():
            write_clips(source, cs, temp, options)
        planned = {c.name for c in clips}
        stray = [name for name, (_, c) in written.items() if name not in planned and c.source not in rewrite]
        if stray:
            raise UserError(f"track {stray[0]} of the shards is not in the merged plan; run the shards again")
        index.save()
        _finish_folder(temp, clips, options)  # indexes what the shards' indexes did not give
    summary = Summary(output=output, clips=clips, skipped=skipped, seconds=time.perf_counter() - started)
    for line in summary.lines():
        log.info("%s", line)
    return summary


def _finish_folder(folder: str, clips: Sequence[Clip], options: PreprocessOptions) -> None:
    """tracks.csv and the dataset index of a written dataset folder."""
    write_table(clips, os.path.join(folder, "tracks.csv"))
    index_dataset(folder, (options.size, options.size, 3))


@contextlib.contextmanager
def _new_folder(output: str, overwrite: bool):
    """A temporary folder beside `output` with train/ and test/, renamed onto `output` on success and removed
    on any error or signal."""
    parent = os.path.dirname(os.path.abspath(output))
    os.makedirs(parent, exist_ok=True)
    temp = None
    try:
        with signals_deferred():  # created and recorded in temp before a signal can stop us
            temp = tempfile.mkdtemp(prefix=os.path.basename(output) + ".tmp-", dir=parent)
        for split in ("train", "test"):
            os.makedirs(os.path.join(temp, split))
        yield temp
        os.chmod(temp, 0o777 & ~current_umask())
        _check_output(output, overwrite)
        _replace_folder(temp, output)
    except BaseException:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
        raise


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
