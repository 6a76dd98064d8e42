"""Animating a photo with a driving video into a video file: the pipeline behind demo.py and the web app.

PhotoAnimation(PhotoOptions(...)) checks and loads the inputs (nothing is written) and gives the driving
frames and the source as the model sees them; engine.photo_output.write_animation(job) animates them
into the output video.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from errors import UserError
from faces.crop import crop_resize, resize_image

LANDMARK_SIZE = 256  # find_best_frame compares landmarks on 256x256 images, as the original
MAX_DEFAULT_SIDE = 1920  # fullres output's default longer side for very large photos (size chooses)
CROP_CHOICES = ("auto", "yes", "no")  # auto: crop the face when one is found

log = logging.getLogger(__name__)


@dataclass
class PhotoOptions:
    """Everything one photo animation needs; the names are demo.py's options (which build it)."""

    source: str
    driving: str
    result_video: str = "result.mp4"
    checkpoint: str | None = None  # runtime torch: the model (demo.py picks the bundled one)
    config: str | None = None  # YAML config (default: the checkpoint's own)
    relative: bool = True  # relative motion (False: absolute keypoints)
    adapt_scale: bool = True
    find_best_frame: bool = False
    best_frame: int | None = None
    crop: str = "auto"  # one of CROP_CHOICES
    face: int = 0  # the N-th largest face of the source
    output_mode: str = "fullres"  # fullres | generator
    crop_scale: float = 1.8
    track_every: int = 0
    device: str = "auto"
    batch_size: int = 8
    fps: float | None = None
    size: int | None = None
    visualize: bool = False
    bf16: bool = False
    compile: bool = False
    runtime: str = "torch"  # torch | onnxruntime
    onnx: str | None = None  # runtime onnxruntime: the folder of graphs
    stages: list[str] = field(default_factory=list)  # post-processing stage names, in order
    stage_overrides: list[str] = field(default_factory=list)  # KEY=VALUE stage options
    personalize: int = 0  # fine-tune on the source photo for this many steps first (engine.personalize)
    save_personalized: str | None = None  # where to write that fine-tuned model
    mouth_retarget: bool = True  # fullres: open the photo's mouth as the driving mouth opens (engine.mouth_retarget)


def _stages_hook(names):
    """The stages pipeline's apply_stages and the stage names, or (None, []) when no stages were asked for."""
    wanted = [n.strip() for n in names or () if n.strip()]
    if not wanted:
        return None, []
    from stages.pipeline import apply_stages
    from stages.registry import parse_stage_list

    return apply_stages, parse_stage_list(wanted)


def _onnx_animator(options: PhotoOptions):
    """The onnxruntime Animator for --runtime onnxruntime (the graphs carry the model: no torch options)."""
    from engine.animate_onnx import OnnxAnimator

    if options.onnx is None:
        raise UserError("--runtime onnxruntime needs --onnx FOLDER; make one with "
                        "python -m engine.export --onnx FOLDER")
    for flag, given in (("--checkpoint", options.checkpoint), ("--config", options.config),
                        ("--bf16", options.bf16), ("--compile", options.compile)):
        if given:
            raise UserError(f"{flag} is for --runtime torch; the --onnx folder carries its model and config")
    animator = OnnxAnimator(options.onnx, relative=options.relative, adapt_scale=options.adapt_scale,
                            relative_jacobian=options.relative, batch_size=options.batch_size, device=options.device)
    log.info("runtime: onnxruntime (%s)", ", ".join(animator.providers))
    return animator


def _check_numbers(options: PhotoOptions) -> None:
    if options.batch_size < 1:
        raise UserError(f"--batch_size must be at least 1, got {options.batch_size}")
    if options.size is not None and options.size < 8:
        raise UserError(f"--size must be at least 8 pixels, got {options.size}")
    if options.crop_scale < 1:
        raise UserError(f"--crop_scale must be at least 1, got {options.crop_scale}")
    if options.face < 0:
        raise UserError(f"--face must be 0 (the largest face) or more, got {options.face}")
    if options.crop not in CROP_CHOICES:
        raise UserError(f"crop must be one of {', '.join(CROP_CHOICES)}, got {options.crop!r}")


class PhotoAnimation:
    """One photo animation: inputs checked and loaded in __init__ (nothing is written), frames made in run()."""

    def __init__(self, options: PhotoOptions):
        from engine.animate import small_source_warning
        from output_paths import check_output_file
        from video import VideoWriter, frame_times, load_image, probe

        self.options = o = options
        self.source_path, self.driving_path = str(o.source), str(o.driving)
        _check_numbers(o)
        inputs = {"--driving": self.driving_path, "--source": self.source_path}
        check_output_file(o.result_video, "--result_video", inputs=inputs)
        if o.personalize or o.save_personalized:
            from engine.personalize import check_personalize_demo

            check_personalize_demo(o.personalize, o.save_personalized, o.checkpoint, o.runtime == "torch", inputs)
        self.fullres = o.output_mode == "fullres"
        self.retarget_mouth = self.fullres and o.mouth_retarget
        self.source_image = self._output_photo(load_image(self.source_path))
        self.info = probe(self.driving_path)
        if self.info.num_frames < 1:
            raise UserError(f"video {self.driving_path} has no frames; pass another driving video")
        if o.best_frame is not None and not 0 <= o.best_frame < self.info.num_frames:
            raise UserError(f"--best_frame {o.best_frame} is outside the driving video's "
                            f"{self.info.num_frames} frames (0..{self.info.num_frames - 1})")
        self.fps = o.fps if o.fps is not None else self.info.fps
        # validates the output folder, extension and fps; creates nothing before the first frame
        self.writer = VideoWriter(o.result_video, fps=self.fps, audio_from=self.driving_path, flag="--result_video",
                                  timestamps=frame_times(self.driving_path))  # keeps variable-rate timing
        self.apply_stages, self.stage_names = _stages_hook(o.stages)
        self.animator, self.model = self._animator()
        self.stage_params = self._stage_params()
        self.model_h, self.model_w = self.animator.frame_shape
        log.info("device: %s (%s), model %s at %sx%s", self.model.device, self.animator.dtype, self.model.checkpoint,
                 self.model_w, self.model_h)
        self.backend = self._backend()
        self.source_box = self._source_box()
        self.crop = self.source_box is not None
        if o.personalize or o.save_personalized:
            from engine.personalize import personalize_demo

            personalize_demo(self.animator, self.model, self.source_image, self.source_box, o.personalize,
                             o.save_personalized)
        if self.crop:
            self.follower, self.follow_fix = self._follower()
        if self.crop or self.fullres:
            self.out_size = (self.source_image.shape[1], self.source_image.shape[0])
        else:
            self.out_size = (o.size or self.model_w, o.size or self.model_h)
        # fullres keeps the photo's own pixels: only a crop far below the model's input (a thumbnail) matters
        small = small_source_warning(self.source_image.shape, self.source_box, self.model_h, self.source_path,
                                     below=self.model_h // 4 if self.fullres else None)
        if small:
            log.warning("warning: %s", small)
        what = "the face crop, pasted back into the photo" if self.crop else "the whole frame"
        how = "full resolution (the photo warped by the model's motion)" if self.fullres else "the generator's frames"
        log.info("animating %s; output %sx%s, %s", what, *self.out_size, how)
        self.composer = None
        self.mouth = None

    # ------------------------------------------------------------------ building

    def _animator(self):
        """(Animator, model) in the chosen runtime."""
        from engine.animate import Animator
        from engine.inference import load_model

        o = self.options
        if o.runtime == "onnxruntime":
            animator = _onnx_animator(o)
            return animator, animator.model
        if o.onnx is not None:
            raise UserError("--onnx is for --runtime onnxruntime; add --runtime onnxruntime or drop --onnx")
        if o.checkpoint is None:
            raise UserError("no model given; pass --checkpoint PATH")
        model = load_model(o.checkpoint, config_path=o.config, device=o.device)
        animator = Animator(model, relative=o.relative, adapt_scale=o.adapt_scale, relative_jacobian=o.relative,
                            batch_size=o.batch_size, dtype="bf16" if o.bf16 else "fp32", channels_last=True,
                            compile=o.compile)
        return animator, model

    def _stage_params(self) -> dict | None:
        """The stages' options: the checkpoint's stages_params with the overrides applied."""
        if self.options.stage_overrides and self.apply_stages is None:
            raise UserError("--set changes stage options: pass --stages too "
                            "(e.g. --stages style --set style.strength=0.5)")
        if self.apply_stages is None:
            return None
        from stages.params import load_stage_params

        return load_stage_params(None, self.options.stage_overrides, base=self.model.config.get("stages_params", {}))

    def _backend(self):
        """The face backend for the source's crop and --find_best_frame, or None when neither is wanted."""
        o = self.options
        landmarks = o.find_best_frame or self.retarget_mouth
        if o.crop == "no" and not landmarks:
            return None
        from faces import get_backend

        # dlib: HOG, and its CNN detector on images where HOG finds no face (more poses)
        backend = get_backend("auto", landmarks=landmarks, detector="hog+cnn")
        log.info("%s", backend.describe())
        return backend

    def _follower(self):
        """(FaceFollower of the driving video, the fix its no-face error names)."""
        from faces import get_backend
        from faces.follow import FaceFollower

        o = self.options
        fix = "pass a video showing a face, or --no_crop" if o.crop == "auto" else \
            "pass a video showing a face or drop --crop"
        # the driving video: HOG alone (its CNN fallback costs 1-3 s for every frame without a face)
        return FaceFollower(get_backend("auto", landmarks=False), scale=o.crop_scale, every=o.track_every), fix

    def _output_photo(self, photo: np.ndarray) -> np.ndarray:
        """The source photo at the size the full-resolution output is made at (--size: its longer side)."""
        if not self.fullres:
            return photo
        height, width = photo.shape[:2]
        longest = max(height, width)
        side = self.options.size
        if side is None:
            if longest <= MAX_DEFAULT_SIDE:
                return photo
            side = MAX_DEFAULT_SIDE
            log.info("the source photo is %dx%d; the output is scaled to %d px on its longer side (--size chooses)",
                     width, height, side)
        elif side > longest:
            log.info("--size %d is larger than the source photo (%dx%d); the output keeps the photo's own size",
                     side, width, height)
            return photo
        scale = side / longest  # even sides: 4:2:0 video needs them (the writer would pad an odd one)
        return resize_image(photo, max(2, 2 * round(width * scale / 2)), max(2, 2 * round(height * scale / 2)))

    def _source_box(self):
        """The source face's crop box (snapped to whole pixels), or None to animate the whole frame."""
        from faces.crop import pixel_box
        from faces.follow import source_face_box

        o = self.options
        if o.crop == "no":
            return None
        fix = None if o.crop == "auto" else "pass a photo with a clearly visible face or drop --crop"
        box = source_face_box(self.source_image, self.backend, o.crop_scale, index=o.face,
                              name=f"the source image {self.source_path}", describe=True, fix=fix)
        if box is None:
            log.info("no face found in the source image %s; animating the whole frame "
                     "(--crop makes this an error, --no_crop skips the search)", self.source_path)
            return None
        return tuple(float(v) for v in pixel_box(box))

    # ------------------------------------------------------------------ driving frames

    def driving(self, crop_size: int | None = None):
        """(frame as decoded or None, model input, crop box or None) for every driving frame, in order.

        Without a crop, ffmpeg scales the frames to the model's size (the original stretches them too).
        crop_size overrides the model input size (used for the landmark pass of --find_best_frame).
        """
        from video import iter_frames

        if not self.crop:
            side = crop_size or None
            size = (side, side) if side else (self.model_w, self.model_h)
            for frame in iter_frames(self.driving_path, size=size):
                yield None, frame, None
            return
        side = crop_size or self.model_h
        for frame, box in self.follower.follow(iter_frames(self.driving_path), fix=self.follow_fix,
                                               source_name=f"the driving video {self.driving_path}"):
            yield frame, crop_resize(frame, box, side), box

    def source_input(self, side: int | None = None) -> np.ndarray:
        """The source as the model sees it (side: the landmark pass's size instead of the model's)."""
        from footage.sources import fit_frame

        if self.crop:
            return crop_resize(self.source_image, self.source_box, side or self.model_h)
        return fit_frame(self.source_image, (side or self.model_h, side or self.model_w))

    def initial(self):
        """The start frame's keypoints for relative motion (None: the first frame), after --find_best_frame."""
        from engine.animate import best_frame
        from video import read_frames

        o = self.options
        if o.find_best_frame:
            inputs = (model_input for _, model_input, _ in self.driving(crop_size=LANDMARK_SIZE))
            index = best_frame(self.source_input(LANDMARK_SIZE), inputs, self.backend, size=LANDMARK_SIZE)
        elif o.best_frame is not None:
            index = o.best_frame
        else:
            return None
        log.info("start frame: %s", index)
        if not self.crop:
            frame = read_frames(self.driving_path, [index], size=(self.model_w, self.model_h))[0]
            return self.animator.initial_keypoints(frame)
        for position, (_, model_input, _) in enumerate(self.driving()):
            if position == index:
                return self.animator.initial_keypoints(model_input)
        raise UserError(f"driving frame {index} could not be read from {self.driving_path}")
