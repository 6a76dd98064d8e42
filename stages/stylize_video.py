"""Applying post-processing stages to a video file: StylizeOptions -> the output video (stylize.py and the app)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from errors import UserError
from stages.params import load_stage_params

log = logging.getLogger(__name__)  # the result line; stylize.py shows it on stderr


@dataclass
class StylizeOptions:
    """What stylize.py does; the names are its options (which build it)."""

    input: str
    stages: str  # stage names in order, comma separated (e.g. depth,style)
    output: str
    stages_config: str | None = None  # YAML: a run config with stages_params, or the mapping alone
    overrides: list[str] = field(default_factory=list)  # KEY=VALUE below stages_params
    smoothing: float | None = None  # temporal smoothing strength (None: the stage's own default)
    no_smoothing: bool = False  # every frame independently
    flow: str | None = None  # farneback | dis | ensemble (None: auto)
    device: str = "cpu"
    max_side: int | None = None  # shrink frames to at most this longer side
    start: int = 0  # first frame
    frames: int | None = None  # how many frames (None: all)
    quiet: bool = False  # no report lines, estimate or progress bar


def stylize_video(options: StylizeOptions) -> int:
    """Apply the stages to the input video and write the output (its audio kept); returns 0."""
    from engine.inference import resolve_device
    from output_paths import check_output_file
    from stages.pipeline import apply_stages
    from video import VideoWriter, frame_times, iter_frames, probe

    if options.frames is not None and options.frames < 1:
        raise UserError(f"--frames must be at least 1, got {options.frames}")
    if options.start < 0:
        raise UserError(f"--start must be 0 or more, got {options.start}")
    if options.max_side is not None and options.max_side < 8:
        raise UserError(f"--max-side must be at least 8 pixels, got {options.max_side}")
    check_output_file(options.output, "--output", inputs={"--input": options.input})
    resolve_device(options.device)  # an unknown name or a missing GPU: one line before any work
    info = probe(options.input)
    if options.start >= info.num_frames:
        raise UserError(f"--start {options.start} is past the last frame of {options.input} ({info.num_frames} frames, "
                        f"0..{info.num_frames - 1}); pass a smaller --start")
    size = None
    if options.max_side is not None and max(info.width, info.height) > options.max_side:
        scale = options.max_side / max(info.width, info.height)
        size = (max(2, round(info.width * scale / 2) * 2), max(2, round(info.height * scale / 2) * 2))
    stop = None if options.frames is None else options.start + options.frames
    params = load_stage_params(options.stages_config, list(options.overrides))
    smoothing = False if options.no_smoothing else (True if options.smoothing is None else options.smoothing)
    frames = iter_frames(options.input, options.start, stop, size=size)
    total = max(0, info.num_frames - options.start) if info.num_frames else None
    if total is not None and options.frames is not None:
        total = min(total, options.frames)
    audio = options.input if options.start == 0 else None  # audio stays in sync only from the first frame
    times = frame_times(options.input)[options.start:stop]  # the input's timing, also at a variable frame rate
    writer = VideoWriter(options.output, info.fps, audio_from=audio, flag="--output",
                         timestamps=times if len(times) else None)  # checked before any work
    stage_lines = logging.getLogger("stages.pipeline")
    level = stage_lines.level
    stage_lines.setLevel(logging.WARNING if options.quiet else logging.INFO)  # this job's stage lines
    try:
        out = apply_stages(frames, options.stages, params, device=options.device, smoothing=smoothing,
                           flow=options.flow or "auto", total=total, progress=not options.quiet)
        with writer:
            for frame in out:
                writer.write(frame)
            if writer.num_frames == 0:
                raise UserError(f"no frames could be read from {options.input} from frame {options.start} on; "
                                "pass another --input or a smaller --start")
    finally:
        stage_lines.setLevel(level)  # a long-lived caller (the web app) runs the next job with its own
    log.info("wrote %d frames at %.3f fps to %s", writer.num_frames, info.fps, options.output)
    return 0
