"""Web app jobs: form values -> demo.py / stylize.py argument lists, upload limits, a temp folder per job, kept results.

The app animates through demo.animate and stylizes through stylize.run, exactly as the command lines do: one
function builds each argument list, so a new demo.py option is one more line there.
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from errors import UserError
from reporting import captured

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_PHOTO = ROOT / "data" / "source.jpg"
SAMPLE_VIDEO = ROOT / "data" / "driving.mp4"
STAGE_NAMES = ("depth", "dream", "style")  # the built-in stages (stages.registry.BUILTIN_MODULES)
OUTPUT_SIZES = ("default", "256", "512", "1024")  # the longer side; "default": demo.py's (the photo's own size)
OUTPUT_MODES = ("fullres", "generator")  # demo.py --output_mode


@dataclass(frozen=True)
class Limits:
    """What one upload may be; the app's flags and STILLMOTION_APP_* variables set them."""

    max_upload_mb: float = 200.0
    max_photo_megapixels: float = 16.0
    max_video_seconds: float = 60.0


@dataclass(frozen=True)
class StageOptions:
    """The post-processing stages chosen in a form and their strengths."""

    names: tuple[str, ...] = ()
    style_strength: float = 1.0  # style.strength: blend of the styled frame with its input
    dream_iterations: int = 10  # dream.num_iterations: gradient steps per octave
    smoothing: float = 0.8  # smoothing.strength: temporal smoothing of every stage's output (0 = off)

    def argv(self) -> list[str]:
        if not self.names:
            return []
        sets = [f"smoothing.strength={float(self.smoothing):g}"]
        if "style" in self.names:
            sets.append(f"style.strength={float(self.style_strength):g}")
        if "dream" in self.names:
            sets.append(f"dream.num_iterations={int(self.dream_iterations)}")
        return ["--stages", ",".join(self.names), *(a for s in sets for a in ("--set", s))]


@dataclass(frozen=True)
class AnimateOptions:
    """The animate form: every demo.py option the page offers."""

    crop: bool = True
    find_best_frame: bool = False
    relative: bool = True
    stages: StageOptions = StageOptions()
    size: str = "default"  # one of OUTPUT_SIZES
    output_mode: str = "fullres"  # one of OUTPUT_MODES
    bf16: bool = False
    visualize: bool = False


def animate_argv(source: str, driving: str, result: str, options: AnimateOptions, *, checkpoint: str | None = None,
                 config: str | None = None, device: str = "auto") -> list[str]:
    """demo.py's command line for this form (one line per option)."""
    argv = ["--source", source, "--driving", driving, "--result_video", result, "--device", device]
    argv += ["--checkpoint", checkpoint] if checkpoint else []
    argv += ["--config", config] if config else []
    argv += ["--crop"] if options.crop else ["--no_crop"]  # crop on: a photo without a face is an error
    argv += ["--find_best_frame"] if options.find_best_frame else []
    argv += [] if options.relative else ["--absolute"]
    argv += ["--size", options.size] if options.size != "default" else []
    argv += ["--output_mode", options.output_mode] if options.output_mode != "fullres" else []
    argv += ["--bf16"] if options.bf16 else []
    argv += ["--visualize"] if options.visualize else []
    argv += options.stages.argv()
    return argv


def stylize_argv(source: str, result: str, stages: StageOptions, *, max_side: int | None = None,
                 device: str = "cpu") -> list[str]:
    """stylize.py's command line for the stylize form."""
    if not stages.names:
        raise UserError("choose at least one stage (depth, dream or style) to apply to the video")
    argv = ["--input", source, "--output", result, "--device", device, *stages.argv()]
    argv += ["--max-side", str(int(max_side))] if max_side else []
    return argv


# ------------------------------------------------------------------------------------------ upload checks


def check_upload_size(path: str, limits: Limits, what: str) -> None:
    size = os.path.getsize(path)
    if size > limits.max_upload_mb * 1e6:
        raise UserError(f"{what} {os.path.basename(path)} is {size / 1e6:.3g} MB; the app takes at most "
                        f"{limits.max_upload_mb:g} MB (start it with --max_upload_mb N to allow more)")


def check_photo(path: str, limits: Limits) -> None:
    """Refuse a photo over the pixel limit; one that is not an image is left to demo.py's load_image to name."""
    from PIL import Image

    check_upload_size(path, limits, "photo")
    try:
        with Image.open(path) as im:
            width, height = im.size  # the header only: nothing decoded
    except Exception:  # not an image at all: demo.py says why in its own words
        return
    megapixels = width * height / 1e6
    if megapixels > limits.max_photo_megapixels:
        raise UserError(f"photo {os.path.basename(path)} is {width}x{height} ({megapixels:.1f} megapixels); the app "
                        f"takes at most {limits.max_photo_megapixels:g}: shrink it, or start the app with "
                        f"--max_photo_megapixels N")


def check_video(path: str, limits: Limits) -> None:
    """Refuse a video over the length limit before demo.py decodes it (its header is enough)."""
    from video.reader import stated_duration

    check_upload_size(path, limits, "video")
    seconds = stated_duration(path)  # a file that is no video gets video.reader's one-line error here
    if seconds is not None and seconds > limits.max_video_seconds:
        raise UserError(f"video {os.path.basename(path)} is {seconds:.0f} s long; the app takes at most "
                        f"{limits.max_video_seconds:g} s: cut it, or start the app with --max_video_seconds N")


# ------------------------------------------------------------------------------------------ running jobs


class ResultStore:
    """The finished videos, each in its own folder under `root`; only the newest `keep` are kept."""

    def __init__(self, root: Path, keep: int = 4):
        if keep < 1:
            raise UserError(f"--keep_results must be at least 1, got {keep}")
        self.root, self.keep = Path(root), keep
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._order: list[Path] = []

    def add(self, path: Path, name: str) -> Path:
        """Move a finished video in (as `name`) and drop the oldest beyond `keep`; return its new path."""
        folder = self.root / uuid.uuid4().hex
        folder.mkdir()
        kept = folder / name
        shutil.move(str(path), kept)
        with self._lock:
            self._order.append(folder)
            while len(self._order) > self.keep:
                shutil.rmtree(self._order.pop(0), ignore_errors=True)
        return kept


class Jobs:
    """Runs the app's jobs: each in a fresh folder under root/jobs, removed when the job ends however it ends."""

    def __init__(self, root: Path, limits: Limits = Limits(), *, keep_results: int = 4, checkpoint: str | None = None,
                 config: str | None = None, device: str = "auto"):
        self.root = Path(root)
        self.job_root = self.root / "jobs"
        self.job_root.mkdir(parents=True, exist_ok=True)
        self.results = ResultStore(self.root / "results", keep_results)
        self.limits, self.checkpoint, self.config, self.device = limits, checkpoint, config, device

    @contextlib.contextmanager
    def _job(self, *inputs: str):
        """A temp folder for one job, removed however the job ends, and a function that makes a text fit for the
        page: uploads named by their file name, not their cache path, and the job folder left out."""
        folder = tempfile.mkdtemp(prefix="job-", dir=self.job_root)

        def public(text: str) -> str:
            text = text.replace(folder + os.sep, "")
            for path in inputs:
                text = text.replace(path, os.path.basename(path))
            return text

        try:
            yield Path(folder), public
        except UserError as err:
            raise UserError(public(str(err))) from None
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def animate(self, source: str | None, driving: str | None, options: AnimateOptions) -> tuple[Path, str]:
        """Animate `source` with `driving` (None: the bundled sample) through demo.animate; (result, demo's log)."""
        import demo

        source = source or str(SAMPLE_PHOTO)
        driving = driving or str(SAMPLE_VIDEO)
        with self._job(source, driving) as (folder, public):
            check_photo(source, self.limits)
            check_video(driving, self.limits)
            result = folder / "result.mp4"
            argv = animate_argv(source, driving, str(result), options, checkpoint=self.checkpoint,
                                config=self.config, device=self.device)
            log = io.StringIO()
            with captured(log):
                demo.animate(demo.parse_args(argv))
            name = f"{Path(source).stem}-{Path(driving).stem}.mp4"
            return self.results.add(result, name), public(log.getvalue())

    def _stage_device(self) -> str:
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def stylize(self, video: str | None, stages: StageOptions, max_side: int | None = None) -> tuple[Path, str]:
        """Apply `stages` to `video` (None: the bundled sample) through stylize.run; (result, its log)."""
        import stylize

        video = video or str(SAMPLE_VIDEO)
        with self._job(video) as (folder, public):
            check_video(video, self.limits)
            result = folder / "result.mp4"
            argv = stylize_argv(video, str(result), stages, max_side=max_side, device=self._stage_device())
            log = io.StringIO()
            with contextlib.redirect_stderr(log), captured(log):  # the progress bar, and the log lines
                stylize.run(stylize.parse_args(argv))
            name = f"{Path(video).stem}-{'-'.join(stages.names)}.mp4"
            return self.results.add(result, name), public(log.getvalue())
