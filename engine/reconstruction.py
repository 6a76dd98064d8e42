"""Reconstruction evaluation: regenerate every test video from its first frame and score it with the metrics.

    python run.py --mode reconstruction --config config/vox-256.yaml --checkpoint vox-cpk.pth.tar

For each test video (dataset_params.root_dir, test split; the first reconstruction_params.num_videos of
them, exactly that many: the original loop processed one more), frame 0 is the source and every frame,
frame 0 included, is regenerated from it with the keypoints of the real frame (absolute keypoints, as
FOMM's reconstruction; relative motion w.r.t. frame 0 when reconstruction_params.relative is true, which
for a source that is frame 0 itself gives the same keypoints up to rounding). Frames are streamed in
small batches: memory does not grow with video length, and the metrics are accumulated frame by frame.

Scored in the same pass, on the same decoded frames: the model, the "static source" baseline (every
output frame is frame 0) and, with --baseline_checkpoint, a second model. Written to the run directory
(options.run_dir, or a new numbered <log_dir>/00003-reconstruction-<config stem>):
    config.yaml                      the config used
    reconstruction/<video>.mp4       the model's reconstruction (<video>-compare.mp4 with --visualize:
                                     real | model [| baseline] side by side)
    reconstruction_metrics.csv       one row per video and system: the per-video mean of every metric
    reconstruction_summary.json      per system and metric: mean, std and count over all scored frames
                                     (the paper averages over frames), plus backends, versions, checkpoint
                                     and the full config
    events.out.tfevents.*            the same numbers as tensorboard scalars
"""
from __future__ import annotations

import logging
import platform
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from engine.animate import Animator
from engine.build import build_networks
from engine.checkpoint import load_networks, read_checkpoint
from engine.fullres import FullResComposer
from engine.inference import resolve_device, stored_config
from engine.mouth_retarget import MouthRetarget
from engine.rundir import choose_run_dir, prepare_run_dir
from errors import UserError
from evaluation import MetricContext, Stats, build_metrics, metric_names
from evaluation.metrics import METRICS
from evaluation.report import UNAVAILABLE, format_table, write_csv, write_json, write_tensorboard
from faces import get_backend
from faces.crop import resize_image
from footage import FramesDataset
from footage.sources import video_fps, video_stem
from video import VIDEO_EXTENSIONS, VideoWriter

log = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[1]
CSV_NAME = "reconstruction_metrics.csv"
JSON_NAME = "reconstruction_summary.json"
VIDEO_DIR = "reconstruction"
MODEL, STATIC, BASELINE = "model", "static source", "baseline"
FIRST_COLUMNS = ("l1", "akd", "mkr", "aed")  # the paper's metrics lead the table
BATCH_SIZE = 8


@dataclass
class ReconstructionOptions:
    """What run.py --mode reconstruction evaluates and where it writes (run.py builds it from its options)."""

    checkpoint: str | None  # the model to evaluate
    config: str | None = None  # the YAML file (names the run directory; the config of a FOMM checkpoint)
    log_dir: str = "log"  # parent of the numbered run directories
    run_dir: str | None = None  # exact run directory instead of a new numbered one
    device: str = "auto"
    baseline_checkpoint: str | None = None  # a second model scored in the same table
    visualize: bool = False  # also write real | model [| baseline] side-by-side videos
    output_mode: str = "generator"  # generator: the paper's protocol; fullres: demo.py's output
    size: int | None = None  # read and score the frames at this side (default: the model's frame size)
    mouth_retarget: bool = True  # fullres: open the first frame's mouth as each frame's opens, as demo.py does


# ----------------------------------------------------------------------------------------- systems


@dataclass
class System:
    """One row of the table: a model (an Animator) or the static-source baseline (animator None)."""

    name: str
    animator: Animator | None
    checkpoint: str | None
    metrics: list = field(default_factory=list)
    total: Stats = field(default_factory=Stats)
    fullres: bool = False  # compose at the frames' own size (engine.fullres) instead of the generator's frames
    composer: FullResComposer | None = None
    mouth_retarget: bool = False  # fullres: engine.mouth_retarget, as demo.py's default output
    mouth: MouthRetarget | None = None

    def set_source(self, first: np.ndarray):
        """Take a video's first frame; the initial keypoints of relative motion (None for the baseline)."""
        if self.animator is None:
            return None
        self.animator.set_source(first)
        initial = self.animator.initial_keypoints(first)
        if self.fullres:
            model_source = self.animator.prepare(first)
            reference = next(self.animator.run([first], initial=initial, return_motion=True))
            self.composer = FullResComposer(first, None, model_source, reference.image,
                                            reference_occlusion=reference.occlusion)
            self.mouth = None
            if self.mouth_retarget:
                self.mouth = MouthRetarget.for_photo(first, get_backend("auto", landmarks=True))
        return initial

    def generate(self, first: np.ndarray, frames: list[np.ndarray], initial) -> list[np.ndarray]:
        if self.animator is None:
            return [first] * len(frames)
        size = first.shape[:2]
        out = []
        for frame, animated in zip(frames, self.animator.run(frames, initial=initial, return_motion=self.fullres)):
            if self.composer is not None:
                if self.mouth is not None:  # the real frame's mouth opening, as demo.py takes the driving one's
                    out.append(self.mouth.compose(self.composer, animated.image, animated.deformation,
                                                  animated.occlusion, frame))
                else:
                    out.append(self.composer.compose(animated.image, animated.deformation, animated.occlusion))
            else:
                out.append(upscaled(animated.image, size))
        return out


def upscaled(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The generator's frame at the evaluation size (H, W), as demo.py resizes it, clipped to [0, 1]."""
    return np.clip(resize_image(image, size[1], size[0]), 0, 1)


def _model_networks(checkpoint, config: dict, config_path, device, state=None):
    """(kp_detector, generator) on `device`, eval mode, from `config` (state: the checkpoint, when read already)."""
    networks = build_networks(config["model_params"])
    load_networks(checkpoint, networks, config_path=config_path, state=state)
    return networks.kp_detector.to(device).eval(), networks.generator.to(device).eval()


def _baseline_networks(checkpoint, config: dict, config_path, device):
    """A second checkpoint (read once): built from the config it carries (ours), else from the run's config."""
    state = read_checkpoint(checkpoint)
    stored = stored_config(state, checkpoint)
    if stored is not None:
        config, config_path = stored, None
    return _model_networks(checkpoint, config, config_path, device, state=state)


def _animator(networks, config: dict, device) -> Animator:
    kp_detector, generator = networks
    relative = bool(config["reconstruction_params"]["relative"])
    return Animator(kp_detector=kp_detector, generator=generator, device=device,
                    frame_shape=config["dataset_params"]["frame_shape"][:2], relative=relative,
                    adapt_scale=False, relative_jacobian=True, batch_size=BATCH_SIZE)


def build_systems(config: dict, options: ReconstructionOptions, device,
                  context: MetricContext) -> tuple[list[System], dict[str, str]]:
    """The model, the static baseline and the optional baseline checkpoint, each with its own metrics."""
    if not options.checkpoint:
        raise UserError("reconstruction needs the model to evaluate; pass --checkpoint CKPT")
    fullres = options.output_mode == "fullres"
    systems = [System(MODEL, _animator(_model_networks(options.checkpoint, config, options.config, device), config,
                                       device), str(options.checkpoint), fullres=fullres,
                      mouth_retarget=fullres and options.mouth_retarget),
               System(STATIC, None, None)]
    baseline = options.baseline_checkpoint
    if baseline:
        systems.append(System(BASELINE, _animator(_baseline_networks(baseline, config, options.config, device),
                                                  config, device), str(baseline)))
    unavailable = {}
    for system in systems:
        system.metrics, unavailable = build_metrics(metric_names(), context)
    return systems, unavailable


def report_columns() -> list[str]:
    """Every column of every registered metric, the paper's first, then in registry order."""
    columns = [c for name in metric_names() for c in METRICS[name].columns]
    return [c for c in FIRST_COLUMNS if c in columns] + [c for c in columns if c not in FIRST_COLUMNS]


def _unavailable_columns(unavailable: dict[str, str]) -> dict[str, str]:
    return {c: reason for name, reason in unavailable.items() for c in METRICS[name].columns}


# ----------------------------------------------------------------------------------------- one video


def _batches(frames: Iterator[np.ndarray], size: int) -> Iterator[list[np.ndarray]]:
    batch = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def reconstruct_video(dataset: FramesDataset, index: int, systems: list[System], out_dir: Path,
                      fmt: str, visualize: bool) -> dict[str, Stats]:
    """Regenerate video `index` with every system, write the model's video, return per-system video stats."""
    path = dataset.video_path(index)
    stem = video_stem(dataset.videos[index])
    fps = video_fps(path)
    frames = dataset.source(index).iter()
    first = next(frames, None)
    if first is None:
        raise UserError(f"test video {path} has no frames; remove it from {dataset.root_dir}")
    initial = {}
    for system in systems:
        for metric in system.metrics:
            metric.start_video()
        initial[system.name] = system.set_source(first)
    stats = {system.name: Stats() for system in systems}

    def all_frames():
        yield first
        yield from frames

    with ExitStack() as stack:
        writer = stack.enter_context(VideoWriter(out_dir / f"{stem}{fmt}", fps=fps))
        compare = stack.enter_context(VideoWriter(out_dir / f"{stem}-compare{fmt}", fps=fps)) if visualize else None
        for batch in _batches(all_frames(), BATCH_SIZE):
            generated = {s.name: s.generate(first, batch, initial.get(s.name)) for s in systems}
            for t, real in enumerate(batch):
                for system in systems:
                    fake = generated[system.name][t]
                    for metric in system.metrics:
                        values = metric.frame(fake, real)
                        stats[system.name].add(values)
                        system.total.add(values)
            writer.write(np.stack(generated[MODEL]))
            if compare is not None:
                panels = [np.stack(batch), np.stack(generated[MODEL])]
                if BASELINE in generated:
                    panels.append(np.stack(generated[BASELINE]))
                compare.write(np.concatenate(panels, axis=2))
    return stats


# ----------------------------------------------------------------------------------------- the run


def stillmotion_version() -> str:
    try:
        from importlib.metadata import version

        return version("stillmotion")
    except Exception:  # not pip-installed: read the checkout's pyproject.toml
        text = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
        match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M)
        return match.group(1) if match else "unknown"


def _versions() -> dict:
    import torchvision

    return {"stillmotion": stillmotion_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": np.__version__, "python": platform.python_version()}


def _summary_entry(stats: Stats, column: str, reason: str | None, videos: int):
    if reason is not None:
        return UNAVAILABLE
    return {**stats.summary(column), "videos": videos}


def run_reconstruction(config: dict, options: ReconstructionOptions, print_table: bool = True) -> dict:
    """Reconstruct the test videos, score them, write CSV/JSON/tensorboard/videos; returns the summary dict."""
    params = config["reconstruction_params"]
    fmt = params["format"] if params["format"].startswith(".") else "." + params["format"]
    if fmt.lower() not in VIDEO_EXTENSIONS:
        raise UserError(f"reconstruction_params.format {params['format']!r} is not a video format we write; "
                        f"use one of {'/'.join(VIDEO_EXTENSIONS)}")
    num_videos = params["num_videos"]
    if num_videos is not None and num_videos < 1:
        raise UserError(f"reconstruction_params.num_videos must be at least 1 (or null for all), got {num_videos}")
    device = resolve_device(options.device)
    dataset_params = dict(config["dataset_params"])
    size = options.size
    if size is not None:  # frames read (and scored) at this size; the model still sees its own frame size
        if size < 8:
            raise UserError(f"--size must be at least 8 pixels, got {size}")
        dataset_params["frame_shape"] = [size, size, dataset_params["frame_shape"][2]]
    dataset = FramesDataset(is_train=False, **dataset_params)
    count = len(dataset) if num_videos is None else min(num_videos, len(dataset))

    context = MetricContext(device)
    systems, unavailable = build_systems(config, options, device, context)
    columns = report_columns()
    missing = _unavailable_columns(unavailable)
    run_dir = prepare_run_dir(choose_run_dir(options.run_dir, options.log_dir, "reconstruction",
                                             options.config or options.checkpoint), config)
    out_dir = run_dir / VIDEO_DIR
    out_dir.mkdir(exist_ok=True)

    backends = {m.name: m.describe() for m in systems[0].metrics if m.describe()}
    log.info("reconstruction: %d of %d test videos in %s on %s; run dir %s", count, len(dataset), dataset.root_dir,
             device, run_dir)
    for name, line in backends.items():
        log.info("  %s: %s", name, line)
    for name, reason in unavailable.items():
        log.info("  %s: unavailable (%s)", name, reason)

    rows, per_video = [], []
    videos_scored = {s.name: {c: 0 for c in columns} for s in systems}
    for index in range(count):
        start = time.perf_counter()
        stats = reconstruct_video(dataset, index, systems, out_dir, fmt, options.visualize)
        seconds = time.perf_counter() - start
        name = dataset.videos[index]
        for system in systems:
            video_stats = stats[system.name]
            row = {"system": system.name, "video": name, "index": index,
                   "frames": max((video_stats.count(c) for c in video_stats.keys()), default=0),
                   "seconds": round(seconds, 3)}
            for column in columns:
                row[column] = UNAVAILABLE if column in missing else video_stats.mean(column)
                if video_stats.count(column):
                    videos_scored[system.name][column] += 1
            rows.append(row)
            per_video.append(row)
        model_row = rows[-len(systems)]
        shown = ", ".join(f"{c} {model_row[c]:.4g}" for c in columns if isinstance(model_row[c], float))
        log.info("[%d/%d] %s: %d frames, %s (%.1f s)", index + 1, count, name, model_row["frames"], shown, seconds)

    table = {s.name: {c: _summary_entry(s.total, c, missing.get(c), videos_scored[s.name][c]) for c in columns}
             for s in systems}
    csv_path, json_path = run_dir / CSV_NAME, run_dir / JSON_NAME
    write_csv(csv_path, rows, ["system", "video", "frames", *columns, "seconds"])
    summary = {
        "mode": "reconstruction",
        "checkpoint": str(options.checkpoint),
        "baseline_checkpoint": options.baseline_checkpoint,
        "columns": columns,
        "systems": {s.name: {"checkpoint": s.checkpoint, "metrics": table[s.name]} for s in systems},
        "metrics": {name: ({"available": False, "reason": unavailable[name]} if name in unavailable else
                           {"available": True, "columns": list(METRICS[name].columns)}) for name in metric_names()},
        "aggregation": "mean, std (population) and count over all scored frames of all videos; videos: "
                       "how many videos had a value",
        "backends": backends,
        "num_videos": count,
        "videos": [dataset.videos[i] for i in range(count)],
        "relative": bool(config["reconstruction_params"]["relative"]),
        "device": str(device),
        "versions": _versions(),
        "args": {k: v if v is None or isinstance(v, (str, int, float, bool)) else str(v)
                 for k, v in asdict(options).items()},
        "config_path": None if options.config is None else str(options.config),
        "config": config,
        "outputs": {"csv": CSV_NAME, "videos": VIDEO_DIR},
    }
    write_json(json_path, summary)
    write_tensorboard(run_dir, per_video, table, columns)

    if print_table:  # the result table is the command's output (stdout); the rest is reporting (logging)
        print()
        print(format_table(table, columns))
        print("lower is better except " + ", ".join(c for c in columns if _higher_is_better(c)) + " (higher); "
              "mean +- std over frames")
    log.info("wrote %s, %s and %d videos in %s", csv_path, json_path, count, out_dir)
    return summary


def _higher_is_better(column: str) -> bool:
    return any(column in cls.higher_is_better for cls in METRICS.values())
