"""Preprocessing across machines: the K-th of N shares of the inputs, and the merge of the shards' datasets.

    python preprocess.py --input raw/ --output work/shard-1 --shard 1/3     # on machine 1 (or SLURM task 1)
    ...
    python preprocess.py --merge_shards work/shard-1 work/shard-2 work/shard-3 --output data/datasets/mine

Video (and photo) i of the input list, as one process lists it, goes to shard (i mod N) + 1. A shard is a
dataset folder of its own clips plus shard.json: the options, the whole input list and every scan (pass 1's
face tracks). The split into train/test needs every video's tracks, so a shard writes its clips as if
nothing were held out, and the merge plans the split from all the scans, exactly as one process would:
the clips are linked (or copied) into their split, the few that the global plan cuts differently are
written again from the source video, and tracks.csv and the index are written anew. The merge refuses
shards that disagree (options, inputs, N), a shard missing or given twice, and a track missing or doubled.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
from collections.abc import Sequence

from errors import UserError
from footage.preprocess_options import PreprocessOptions
from footage.split_plan import Clip
from footage.tracking import Span, VideoScan

SHARD_FILE = "shard.json"
SHARD_VERSION = 1
# options that may differ between shards and the merge: they change how, not what, is computed
_LOCAL_OPTIONS = ("workers", "progress")


def parse_shard(text: str) -> tuple[int, int]:
    """'K/N' -> (K, N) with 1 <= K <= N; UserError otherwise."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise UserError(f"--shard must be K/N with 1 <= K <= N (e.g. 2/8 for the second of eight), got {text!r}")
    return int(m.group(1)), int(m.group(2))


def share(items: Sequence, k: int, n: int) -> list:
    """The K-th of N disjoint shares of `items` (item i goes to share i mod N + 1), in their order."""
    return [item for i, item in enumerate(items) if i % n == k - 1]


def local_plan_options(options: PreprocessOptions) -> PreprocessOptions:
    """What a shard plans with: nothing held out by identity (that needs every video's tracks; the merge
    does it). A split by track is decided per video, so it stays."""
    if options.split_by == "identity":
        return dataclasses.replace(options, test_fraction=0.0, test_videos=())
    return options


def _scan_to_json(scan: VideoScan) -> dict:
    data = dataclasses.asdict(scan)
    data["spans"] = [{"start": s.start, "end": s.end, "detections": [[k, list(b)] for k, b in s.detections]}
                     for s in scan.spans]
    return data


def _scan_from_json(data: dict) -> VideoScan:
    spans = [Span(s["start"], s["end"], [(k, tuple(b)) for k, b in s["detections"]]) for s in data["spans"]]
    return VideoScan(**{**data, "spans": spans})


def _clip_from_json(data: dict) -> Clip:
    return Clip(**{**data, "box": tuple(data["box"])})


def write_shard_record(folder: str, k: int, n: int, options: PreprocessOptions, videos: Sequence[str],
                       photos: Sequence[str], scans: Sequence[VideoScan], clips: Sequence[Clip],
                       skipped: Sequence[tuple[str, str]]) -> None:
    """shard.json in a shard's (temporary) dataset folder: what the merge needs to plan as one process."""
    record = {"version": SHARD_VERSION, "shard": [k, n], "options": dataclasses.asdict(options),
              "videos": list(videos), "photos": list(photos), "scans": [_scan_to_json(s) for s in scans],
              "clips": [dataclasses.asdict(c) for c in clips], "skipped": [list(s) for s in skipped]}
    with open(os.path.join(folder, SHARD_FILE), "w", encoding="utf-8") as f:
        json.dump(record, f)


@dataclasses.dataclass
class Shard:
    folder: str
    k: int
    n: int
    options: PreprocessOptions
    videos: list[str]
    photos: list[str]
    scans: list[VideoScan]
    clips: list[Clip]
    skipped: list[tuple[str, str]]


def read_shard(folder: str) -> Shard:
    path = os.path.join(folder, SHARD_FILE)
    if not os.path.isfile(path):
        raise UserError(f"{folder} is not a shard: it has no {SHARD_FILE}; pass the --output folders of "
                        "preprocess.py --shard K/N runs")
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
        if record.get("version") != SHARD_VERSION:
            raise ValueError(f"version {record.get('version')}, expected {SHARD_VERSION}")
        options = dict(record["options"], test_videos=tuple(record["options"]["test_videos"]))
        return Shard(folder, *record["shard"], PreprocessOptions(**options), record["videos"], record["photos"],
                     [_scan_from_json(s) for s in record["scans"]], [_clip_from_json(c) for c in record["clips"]],
                     [tuple(s) for s in record["skipped"]])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"cannot read {path} ({exc}); run that shard again") from None


def check_shards(shards: Sequence[Shard]) -> None:
    """UserError unless the shards are all N of one run: same N, options and inputs, each K once."""
    if not shards:
        raise UserError("--merge_shards needs the shard folders; pass all N of them")
    first = shards[0]
    same = {f.name: getattr(first.options, f.name) for f in dataclasses.fields(PreprocessOptions)
            if f.name not in _LOCAL_OPTIONS}
    for shard in shards[1:]:
        if shard.n != first.n:
            raise UserError(f"shard {shard.folder} is one of {shard.n}, {first.folder} one of {first.n}; "
                            "pass the shards of one run")
        for name, value in same.items():
            if getattr(shard.options, name) != value:
                raise UserError(f"shards {first.folder} and {shard.folder} were made with different --{name} "
                                f"({value!r} and {getattr(shard.options, name)!r}); run them with the same options")
        if (shard.videos, shard.photos) != (first.videos, first.photos):
            raise UserError(f"shards {first.folder} and {shard.folder} were given different inputs; run every "
                            "shard with the same --input and --photos")
    seen: dict[int, str] = {}
    for shard in shards:
        if shard.k in seen:
            raise UserError(f"shard {shard.k}/{shard.n} given twice ({seen[shard.k]} and {shard.folder}); "
                            "pass each shard once")
        seen[shard.k] = shard.folder
    missing = [k for k in range(1, first.n + 1) if k not in seen]
    if missing:
        raise UserError(f"shard {missing[0]}/{first.n} is missing ({len(missing)} of {first.n} not given); "
                        "pass all N shard folders")


def all_scans(shards: Sequence[Shard]) -> list[VideoScan]:
    """Every input video's scan in input order; UserError when a video is in no shard or in two."""
    by_path: dict[str, VideoScan] = {}
    for shard in shards:
        for scan in shard.scans:
            if scan.path in by_path:
                raise UserError(f"video {scan.path} was scanned by two shards; run the shards again")
            by_path[scan.path] = scan
    missing = [v for v in shards[0].videos if v not in by_path]
    if missing:
        raise UserError(f"video {missing[0]} is in no shard ({len(missing)} missing); run the shards again")
    return [by_path[v] for v in shards[0].videos]


def written_clips(shards: Sequence[Shard]) -> dict[str, tuple[str, Clip]]:
    """name -> (shard folder, clip) of every clip the shards wrote; UserError for a track missing or doubled."""
    out: dict[str, tuple[str, Clip]] = {}
    for shard in shards:
        for clip in shard.clips:
            if clip.name in out:
                raise UserError(f"track {clip.name} is in two shards ({out[clip.name][0]} and {shard.folder}); "
                                "run the shards again")
            path = os.path.join(shard.folder, clip.split, clip.name)
            if not os.path.exists(path):
                raise UserError(f"track {clip.name} of shard {shard.folder} is missing ({path}); run that "
                                "shard again")
            out[clip.name] = (shard.folder, clip)
    return out


def place_clip(source: str, target: str) -> None:
    """A shard's clip file (or png folder) at `target`: hard-linked when on the same disk, else copied."""
    if os.path.isdir(source):
        shutil.copytree(source, target, copy_function=_link_or_copy)
    else:
        _link_or_copy(source, target)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def same_clip(a: Clip, b: Clip) -> bool:
    """The same frames of the same source in the same box (the split aside)."""
    return dataclasses.replace(a, split="") == dataclasses.replace(b, split="")
