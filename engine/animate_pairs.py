"""run.py --mode animate: animate the dataset's (driving, source) pairs and write each animation to the run dir.

For every pair of PairedDataset (the pairs_list CSV, or seeded random pairs), the source video's frame is
animated by the driving video with animate_params.normalization_params, as the original's animate mode:
    <run dir>/animation/<driving>-<source>.mp4            the animation
    <run dir>/animation/<driving>-<source>-viz.mp4        with --visualize: source | driving | animation
"""
from __future__ import annotations

import collections
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from engine.animate import Animator
from engine.build import build_networks
from engine.checkpoint import load_networks
from engine.inference import resolve_device
from engine.rundir import choose_run_dir, prepare_run_dir
from engine.visualize import Visualizer
from errors import UserError
from footage import FramesDataset, PairedDataset
from footage.sources import video_fps, video_stem
from video import VideoWriter

log = logging.getLogger(__name__)


def animate_pair(animator: Animator, pairs: PairedDataset, idx: int, out_dir: Path, fmt: str,
                 visualizer: Visualizer | None = None) -> Path:
    """Animate pair idx; returns the path of the animation. Frames are streamed, never all in memory."""
    driving_name, source_name = pairs.names(idx)
    name = f"{video_stem(driving_name)}-{video_stem(source_name)}"
    source = np.ascontiguousarray(pairs.source_image(idx).transpose(1, 2, 0))
    animator.set_source(source)
    source_kp = animator.source_kp_array
    fps = video_fps(pairs.driving_path(idx))
    seen = collections.deque()

    def driving():
        for frame in pairs.iter_driving(idx):
            frame = np.ascontiguousarray(frame.transpose(1, 2, 0))
            if visualizer is not None:
                seen.append(frame)
            yield frame

    path = out_dir / f"{name}{fmt}"
    with VideoWriter(path, fps=fps) as writer:
        viz = VideoWriter(out_dir / f"{name}-viz{fmt}", fps=fps) if visualizer is not None else None
        try:
            for animated in animator.run(driving()):
                writer.write(animated.image)
                if viz is not None:
                    viz.write(visualizer.row([(source, source_kp), (seen.popleft(), animated.kp_driving),
                                              (animated.image, animated.kp)]))
        except BaseException:
            if viz is not None:
                viz.abort()
            raise
        if viz is not None:
            viz.close()
    return path


@dataclass
class PairsOptions:
    """What run.py --mode animate animates with and where it writes (run.py builds it from its options)."""

    checkpoint: str | None  # the model to animate with
    config: str | None = None  # the YAML file (names the run directory; the config of a FOMM checkpoint)
    log_dir: str = "log"  # parent of the numbered run directories
    run_dir: str | None = None  # exact run directory instead of a new numbered one
    device: str = "auto"
    visualize: bool = False  # also write source | driving | result videos with keypoints


def run_animate(config: dict, options: PairsOptions) -> Path:
    """The animate mode of run.py; returns the folder holding the animations."""
    if not options.checkpoint:
        raise UserError("animate mode needs the model to animate with; pass --checkpoint CKPT")
    device = resolve_device(options.device)
    networks = build_networks(config["model_params"])
    load_networks(options.checkpoint, networks, config_path=options.config)
    params = config["animate_params"]
    norm = params["normalization_params"]
    animator = Animator(kp_detector=networks.kp_detector.to(device), generator=networks.generator.to(device),
                        frame_shape=config["dataset_params"]["frame_shape"][:2], device=device,
                        relative=norm["use_relative_movement"], adapt_scale=norm["adapt_movement_scale"],
                        relative_jacobian=norm["use_relative_jacobian"])
    dataset = FramesDataset(is_train=False, **config["dataset_params"])
    pairs = PairedDataset(initial_dataset=dataset, number_of_pairs=params["num_pairs"])
    if len(pairs) == 0:
        raise UserError(f"no animation pairs: none of the pairs_list rows names two videos of {dataset.root_dir}; "
                        "fix dataset_params.pairs_list or set it to null for random pairs")
    run_dir = choose_run_dir(options.run_dir, options.log_dir, "animate", options.config)
    out_dir = prepare_run_dir(run_dir, config) / "animation"
    out_dir.mkdir(exist_ok=True)
    visualizer = Visualizer(**config["visualizer_params"]) if options.visualize else None
    log.info("animating %d pairs from %s into %s", len(pairs), dataset.root_dir, out_dir)
    for idx in tqdm(range(len(pairs)), unit="pair", desc="animate"):
        animate_pair(animator, pairs, idx, out_dir, params["format"], visualizer)
    return out_dir
