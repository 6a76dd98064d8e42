"""Command line for animating a photo with a driving video (thin: parse, check the inputs, wire Animator to video I/O).

  python demo.py --source photo.jpg --driving video.mp4                 # -> result.mp4 at the photo's size, audio kept
  python demo.py --source photo.jpg --driving video.mp4 --no_crop       # animate the whole frame, not the face crop
  python demo.py --source photo.jpg --driving video.mp4 --output_mode generator   # the generator's own frames
  python demo.py --config config/vox-256.yaml --checkpoint vox-cpk.pth.tar --find_best_frame ...
"""
from __future__ import annotations

import argparse
import collections
import itertools
import os
import sys
from pathlib import Path

import numpy as np

from cli_types import finite_float, non_negative_int
from errors import UserError, run_cli
from faces.crop import crop_resize, resize_image

ROOT = Path(__file__).resolve().parent
DEFAULT_CHECKPOINT = "checkpoints/stillmotion-vox-128.pth.tar"
DEFAULT_SOURCE = "data/source.jpg"
DEFAULT_DRIVING = "data/driving.mp4"
LANDMARK_SIZE = 256  # --find_best_frame compares landmarks on 256x256 images, as the original
MAX_DEFAULT_SIDE = 1920  # fullres output's default longer side for very large photos (--size chooses)
OUTPUT_MODES = ("fullres", "generator")  # engine.fullres.OUTPUT_MODES, without importing torch for --help


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", default=None, help=f"source photo (default: {DEFAULT_SOURCE})")
    p.add_argument("--driving", default=None, help=f"driving video (default: {DEFAULT_DRIVING})")
    p.add_argument("--result_video", default="result.mp4", help="output video (default: result.mp4)")
    p.add_argument("--checkpoint", default=None, help=f"model weights (default: the bundled {DEFAULT_CHECKPOINT})")
    p.add_argument("--config", default=None,
                   help="YAML config (default: the one stored in the checkpoint; needed for published FOMM weights)")
    motion = p.add_mutually_exclusive_group()
    motion.add_argument("--relative", dest="relative", action="store_true", default=True,
                        help="transfer the driving motion relative to its initial frame (default)")
    motion.add_argument("--absolute", dest="relative", action="store_false",
                        help="use the driving keypoints as they are")
    p.add_argument("--adapt_scale", dest="adapt_scale", action="store_true", default=True,
                   help="scale the motion by the ratio of keypoint hull sizes (default)")
    p.add_argument("--no_adapt_scale", dest="adapt_scale", action="store_false")
    best = p.add_mutually_exclusive_group()
    best.add_argument("--find_best_frame", action="store_true",
                      help="start from the driving frame whose face pose is closest to the source's")
    best.add_argument("--best_frame", type=int, default=None, metavar="N", help="start from driving frame N")
    crop = p.add_mutually_exclusive_group()
    crop.add_argument("--crop", dest="crop", action="store_const", const="yes", default="auto",
                      help="animate a square crop around the face and paste it back into the full photo (the "
                           "default whenever a face is found; with --crop, a photo without one is an error)")
    crop.add_argument("--no_crop", dest="crop", action="store_const", const="no",
                      help="animate the whole frame, as the model sees it")
    p.add_argument("--face", type=int, default=0, metavar="N",
                   help="with several faces in the source photo, animate the N-th largest (default 0: the largest)")
    p.add_argument("--output_mode", default="fullres", choices=OUTPUT_MODES,
                   help="fullres (default): the source photo warped at its own resolution by the model's motion, "
                        "the generator painting only what the warp cannot show; generator: the generator's "
                        "own frames at the model's size, upscaled")
    p.add_argument("--crop_scale", type=finite_float, default=1.8, help="crop box side / face box side (default 1.8)")
    p.add_argument("--track_every", type=non_negative_int, default=0, metavar="N",
                   help="--crop: detect the driving face again every N frames (default 0: first frame only)")
    p.add_argument("--personalize", type=non_negative_int, default=0, metavar="N",
                   help="first fine-tune the generator on the source photo alone for N steps of synthetic head and "
                        "mouth motion (engine/personalize.py; 40 was chosen by measurement: 13 s on 2 quiet CPU "
                        "cores, checkpoints/README.md section 8; default 0: off)")
    p.add_argument("--save_personalized", default=None, metavar="PATH",
                   help="with --personalize: also write the fine-tuned model to PATH (atomically; never over "
                        "--checkpoint), to animate the same photo again with --checkpoint PATH without waiting")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--batch_size", type=int, default=8, help="driving frames per network call (default 8)")
    p.add_argument("--fps", type=finite_float, default=None,
                   help="output frame rate (default: the driving video's average); frames are repeated or "
                        "dropped to keep the driving video's timing and audio sync")
    p.add_argument("--size", type=int, default=None,
                   help="fullres: the output's longer side, up to the photo's own (default: the photo's own size, "
                        f"at most {MAX_DEFAULT_SIDE}); generator without crop: the output side (default: the "
                        "model's frame size)")
    p.add_argument("--visualize", action="store_true",
                   help="write source | driving | result side by side, keypoints drawn")
    p.add_argument("--bf16", action="store_true", help="run the networks in bfloat16 (autocast)")
    p.add_argument("--compile", action="store_true", help="torch.compile the networks (slow start)")
    p.add_argument("--runtime", default="torch", choices=("torch", "onnxruntime"),
                   help="run the networks in torch (default) or in onnxruntime from --onnx graphs")
    p.add_argument("--onnx", default=None, metavar="FOLDER",
                   help="--runtime onnxruntime: a folder from python -m engine.export --onnx FOLDER")
    p.add_argument("--stages", default=None, metavar="NAMES",
                   help="post-processing stages to apply, comma separated (e.g. dream,style)")
    p.add_argument("--set", dest="stage_overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a stage option of the checkpoint's stages_params (as stylize.py --set), "
                        "e.g. style.strength=0.5 or smoothing.strength=0.8; repeatable")
    return p.parse_args(argv)


def _default(path: str | None, default: str) -> str:
    return path if path is not None else str(ROOT / default)


def _kp_in_image(kp: np.ndarray, box, shape) -> np.ndarray:
    """Keypoints given in [-1, 1] over a crop `box` of an image, expressed in [-1, 1] over the whole image."""
    x0, y0, x1, y1 = box
    height, width = shape[:2]
    x = x0 + (kp[:, 0] + 1) / 2 * (x1 - x0)
    y = y0 + (kp[:, 1] + 1) / 2 * (y1 - y0)
    return np.stack([x / width * 2 - 1, y / height * 2 - 1], axis=1)


def _stages_hook(names: str | None):
    """The stages pipeline's apply_stages and the stage names, or (None, []) when no stages were asked for."""
    if not names:
        return None, []
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    if not wanted:
        return None, []
    from stages.pipeline import apply_stages
    from stages.registry import parse_stage_list

    return apply_stages, parse_stage_list(wanted)


def _onnx_animator(args):
    """The onnxruntime Animator for --runtime onnxruntime (the graphs carry the model: no torch options)."""
    from engine.animate_onnx import OnnxAnimator

    if args.onnx is None:
        raise UserError("--runtime onnxruntime needs --onnx FOLDER; make one with "
                        "python -m engine.export --onnx FOLDER")
    for flag, given in (("--checkpoint", args.checkpoint), ("--config", args.config), ("--bf16", args.bf16),
                        ("--compile", args.compile)):
        if given:
            raise UserError(f"{flag} is for --runtime torch; the --onnx folder carries its model and config")
    animator = OnnxAnimator(args.onnx, relative=args.relative, adapt_scale=args.adapt_scale,
                            relative_jacobian=args.relative, batch_size=args.batch_size, device=args.device)
    print(f"runtime: onnxruntime ({', '.join(animator.providers)})")
    return animator


class Demo:
    """One demo run: inputs checked and loaded in __init__ (nothing is written), frames made in run()."""

    def __init__(self, args):
        from engine.animate import Animator, FaceFollower, small_source_warning
        from output_paths import check_output_file
        from video import VideoWriter, frame_times, load_image, probe

        self.args = args
        self.source_path = _default(args.source, DEFAULT_SOURCE)
        self.driving_path = _default(args.driving, DEFAULT_DRIVING)
        if args.batch_size < 1:
            raise UserError(f"--batch_size must be at least 1, got {args.batch_size}")
        if args.size is not None and args.size < 8:
            raise UserError(f"--size must be at least 8 pixels, got {args.size}")
        if args.crop_scale < 1:
            raise UserError(f"--crop_scale must be at least 1, got {args.crop_scale}")
        if args.face < 0:
            raise UserError(f"--face must be 0 (the largest face) or more, got {args.face}")
        check_output_file(args.result_video, "--result_video",
                          inputs={"--driving": self.driving_path, "--source": self.source_path})
        self.fullres = args.output_mode == "fullres"
        self.source_image = self._output_photo(load_image(self.source_path))
        self.info = probe(self.driving_path)
        if self.info.num_frames < 1:
            raise UserError(f"video {self.driving_path} has no frames; pass another driving video")
        if args.best_frame is not None and not 0 <= args.best_frame < self.info.num_frames:
            raise UserError(f"--best_frame {args.best_frame} is outside the driving video's "
                            f"{self.info.num_frames} frames (0..{self.info.num_frames - 1})")
        self.fps = args.fps if args.fps is not None else self.info.fps
        # validates the output folder, extension and fps; creates nothing before the first frame
        self.writer = VideoWriter(args.result_video, fps=self.fps, audio_from=self.driving_path, flag="--result_video",
                                  timestamps=frame_times(self.driving_path))  # keeps variable-rate timing
        self.apply_stages, self.stage_names = _stages_hook(args.stages)

        if args.runtime == "onnxruntime":
            self.animator = _onnx_animator(args)
            self.model = self.animator.model
        else:
            if args.onnx is not None:
                raise UserError("--onnx is for --runtime onnxruntime; add --runtime onnxruntime or drop --onnx")
            self.model = self._load_model()
            self.animator = Animator(self.model, relative=args.relative, adapt_scale=args.adapt_scale,
                                     relative_jacobian=args.relative, batch_size=args.batch_size,
                                     dtype="bf16" if args.bf16 else "fp32", channels_last=True, compile=args.compile)
        if args.stage_overrides and self.apply_stages is None:
            raise UserError("--set changes stage options: pass --stages too "
                            "(e.g. --stages style --set style.strength=0.5)")
        if self.apply_stages is not None:
            from stylize import load_stage_params

            self.stage_params = load_stage_params(None, args.stage_overrides,
                                                  base=self.model.config.get("stages_params", {}))
        self.model_h, self.model_w = self.animator.frame_shape
        print(f"device: {self.model.device} ({self.animator.dtype}), model {self.model.checkpoint} at "
              f"{self.model_w}x{self.model_h}")

        self.backend = None
        if args.crop != "no" or args.find_best_frame:
            from faces import get_backend

            # dlib: HOG, and its CNN detector on images where HOG finds no face (more poses)
            self.backend = get_backend("auto", landmarks=args.find_best_frame, detector="hog+cnn")
            print(self.backend.describe())
        self.source_box = self._source_box()
        self.crop = self.source_box is not None
        if args.personalize or args.save_personalized:
            from engine.personalize import personalize_demo

            personalize_demo(self.animator, self.model, self.source_image, self.source_box, args.personalize,
                             args.save_personalized, inputs={"--source": self.source_path,
                                                             "--driving": self.driving_path})
        if self.crop:
            fix = "pass a video showing a face, or --no_crop" if args.crop == "auto" else \
                "pass a video showing a face or drop --crop"
            from faces import get_backend

            # the driving video: HOG alone (its CNN fallback costs 1-3 s for every frame without a face)
            self.follower = FaceFollower(get_backend("auto", landmarks=False), scale=args.crop_scale,
                                         every=args.track_every)
            self.follow_fix = fix
        if self.crop or self.fullres:
            self.out_size = (self.source_image.shape[1], self.source_image.shape[0])
        else:
            self.out_size = (args.size or self.model_w, args.size or self.model_h)
        # fullres keeps the photo's own pixels: only a crop far below the model's input (a thumbnail) matters
        small = small_source_warning(self.source_image.shape, self.source_box, self.model_h, self.source_path,
                                     below=self.model_h // 4 if self.fullres else None)
        if small:
            print(f"warning: {small}", file=sys.stderr)
        what = "the face crop, pasted back into the photo" if self.crop else "the whole frame"
        how = "full resolution (the photo warped by the model's motion)" if self.fullres else "the generator's frames"
        print(f"animating {what}; output {self.out_size[0]}x{self.out_size[1]}, {how}")
        self.composer = None

    def _output_photo(self, photo: np.ndarray) -> np.ndarray:
        """The source photo at the size the full-resolution output is made at (--size: its longer side)."""
        if not self.fullres:
            return photo
        height, width = photo.shape[:2]
        longest = max(height, width)
        side = self.args.size
        if side is None:
            if longest <= MAX_DEFAULT_SIDE:
                return photo
            side = MAX_DEFAULT_SIDE
            print(f"the source photo is {width}x{height}; the output is scaled to {side} px on its longer side "
                  "(--size chooses)")
        elif side > longest:
            print(f"--size {side} is larger than the source photo ({width}x{height}); the output keeps the "
                  "photo's own size")
            return photo
        scale = side / longest  # even sides: 4:2:0 video needs them (the writer would pad an odd one)
        return resize_image(photo, max(2, 2 * round(width * scale / 2)), max(2, 2 * round(height * scale / 2)))

    def _source_box(self):
        """The source face's crop box (snapped to whole pixels), or None to animate the whole frame."""
        from engine.animate import source_face_box
        from faces.crop import pixel_box

        args = self.args
        if args.crop == "no":
            return None
        fix = None if args.crop == "auto" else "pass a photo with a clearly visible face or drop --crop"
        box = source_face_box(self.source_image, self.backend, args.crop_scale, index=args.face,
                              name=f"the source image {self.source_path}", report=print, fix=fix)
        if box is None:
            print(f"no face found in the source image {self.source_path}; animating the whole frame "
                  "(--crop makes this an error, --no_crop skips the search)")
            return None
        return tuple(float(v) for v in pixel_box(box))

    def _load_model(self):
        from engine.inference import load_model

        args = self.args
        checkpoint = args.checkpoint
        if checkpoint is None:
            checkpoint = str(ROOT / DEFAULT_CHECKPOINT)
            if not os.path.isfile(checkpoint):
                raise UserError(f"the bundled model {DEFAULT_CHECKPOINT} is not here; pass --checkpoint PATH "
                                "(with --config for a published FOMM checkpoint such as vox-cpk.pth.tar)")
        return load_model(checkpoint, config_path=args.config, device=args.device)

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

        args = self.args
        if args.find_best_frame:
            inputs = (model_input for _, model_input, _ in self.driving(crop_size=LANDMARK_SIZE))
            index = best_frame(self.source_input(LANDMARK_SIZE), inputs, self.backend, size=LANDMARK_SIZE)
        elif args.best_frame is not None:
            index = args.best_frame
        else:
            return None
        print(f"start frame: {index}")
        if not self.crop:
            frame = read_frames(self.driving_path, [index], size=(self.model_w, self.model_h))[0]
            return self.animator.initial_keypoints(frame)
        for position, (_, model_input, _) in enumerate(self.driving()):
            if position == index:
                return self.animator.initial_keypoints(model_input)
        raise UserError(f"driving frame {index} could not be read from {self.driving_path}")

    # ------------------------------------------------------------------ output frames

    def _composer(self, source: np.ndarray):
        """The full-resolution composer for this source (engine.fullres), or None in generator mode."""
        if not self.fullres:
            return None
        from engine.fullres import FullResComposer

        # the generator's redraw of the source with no motion: its fixed colour error on this face
        reference = next(self.animator.run([source], initial=self.animator.source_kp, return_motion=True))
        return FullResComposer(self.source_image, self.source_box, source, reference.image,
                               reference_occlusion=reference.occlusion)

    def output_frame(self, animated) -> np.ndarray:
        """The output image of one animated frame: composed at full resolution or the generator's, pasted
        back into the photo when a face crop was animated."""
        if self.composer is not None:
            image = self.composer.compose(animated.image, animated.deformation, animated.occlusion)
        else:
            image = animated.image if self.crop else resize_image(animated.image, *self.out_size)
        return _paste(self.source_image, image, self.source_box) if self.crop else image

    def run(self) -> None:
        from tqdm import tqdm

        from engine.visualize import Visualizer

        args = self.args
        initial = self.initial()
        source = self.source_input()
        self.animator.set_source(source)
        self.composer = self._composer(source)
        source_kp = self.animator.source_kp_array
        inputs = collections.deque()  # each driving frame's (frame, model input, box) until its result is out
        pending = collections.deque()  # what --visualize needs of each result, until the stages return it
        motions = collections.deque()  # each result's motion, for the stages' 'motion' flow

        def driving_inputs():
            for frame, model_input, box in self.driving():
                inputs.append((frame, model_input, box))
                yield model_input

        def results():
            want_motion = self.fullres or self.apply_stages is not None
            for animated in self.animator.run(driving_inputs(), initial=initial, return_motion=want_motion):
                frame, model_input, box = inputs.popleft()
                image = self.output_frame(animated)
                if self.apply_stages is not None and not self.crop:
                    motions.append(animated)
                if args.visualize:
                    pending.append((animated, frame, model_input, box))
                yield image

        frames = results()
        if self.apply_stages is not None:
            # the animation's motion maps the model's frame onto the source: it fits the output only
            # without a crop (with one, the stages estimate optical flow on the pasted frames instead)
            frames = self.apply_stages(frames, self.stage_names, self.stage_params,
                                       device=self.model.device, report=print, total=self.info.num_frames,
                                       motions=None if self.crop else iter(motions.popleft, None))
        stage_run = frames if self.apply_stages is not None else None  # seconds per frame per stage, for the bar
        params = dict(self.model.config.get("visualizer_params", {}))
        if args.visualize:  # keypoint discs sized for the panels (the config's size is for 256 pixels)
            scale = max(1.0, self.out_size[1] / max(self.model_h, 256))
            params["kp_size"] = max(1, round(params.get("kp_size", 5) * scale))
        visualizer = Visualizer(**params)
        frames = iter(frames)
        first = next(frames, None)  # the first batch: face and stage problems surface before the bar
        if first is None:
            raise UserError(f"video {self.driving_path} gave no frames; pass another driving video")
        bar = tqdm(total=self.info.num_frames, unit="frame", desc="animating", dynamic_ncols=True)
        with self.writer as writer, bar:
            for image in itertools.chain([first], frames):
                if args.visualize:
                    image = self._visualize(visualizer, image, source, source_kp, *pending.popleft())
                writer.write(image)
                if stage_run is not None:
                    bar.set_postfix_str(stage_run.summary(), refresh=False)
                bar.update(1)
        print(f"wrote {writer.num_frames} frames at {float(writer.fps):.3f} fps to {args.result_video}")

    def _visualize(self, visualizer, image, source, source_kp, animated, frame, model_input, box):
        height, width = image.shape[:2]
        if not self.crop:
            photo = self.source_image if self.fullres else source
            columns = [(resize_image(photo, width, height), source_kp),
                       (resize_image(model_input.astype(np.float32) / 255, height, height), animated.kp_driving),
                       (image, animated.kp)]
            return visualizer.row(columns)
        frame_width = max(1, round(frame.shape[1] * height / frame.shape[0]))
        columns = [(self.source_image, _kp_in_image(source_kp, self.source_box, self.source_image.shape)),
                   (resize_image(frame.astype(np.float32) / 255, frame_width, height),
                    _kp_in_image(animated.kp_driving, box, frame.shape)),
                   (image, _kp_in_image(animated.kp, self.source_box, self.source_image.shape))]
        return visualizer.row(columns)


def _paste(photo: np.ndarray, face: np.ndarray, box) -> np.ndarray:
    from faces.crop import paste_back

    return paste_back(photo, np.clip(face, 0.0, 1.0), box, feather=0.1)


def main(argv=None) -> int:
    return run_cli(lambda a: Demo(parse_args(a)).run(), argv)


if __name__ == "__main__":
    sys.exit(main())
