"""The output loop of a photo animation: animated frames -> full-resolution or generator images -> stages ->
--visualize panels -> the video writer, with a progress bar."""
from __future__ import annotations

import collections
import itertools
import logging

import numpy as np

from engine.animate_photo import PhotoAnimation
from errors import UserError
from faces.crop import paste_back, resize_image
from video.image import to_float

log = logging.getLogger(__name__)


def _kp_in_image(kp: np.ndarray, box, shape) -> np.ndarray:
    """Keypoints given in [-1, 1] over a crop `box` of an image, expressed in [-1, 1] over the whole image."""
    x0, y0, x1, y1 = box
    height, width = shape[:2]
    x = x0 + (kp[:, 0] + 1) / 2 * (x1 - x0)
    y = y0 + (kp[:, 1] + 1) / 2 * (y1 - y0)
    return np.stack([x / width * 2 - 1, y / height * 2 - 1], axis=1)


def _composer(job: PhotoAnimation, source: np.ndarray):
    """The full-resolution composer for this source (engine.fullres), or None in generator mode."""
    if not job.fullres:
        return None
    from engine.fullres import FullResComposer

    # the generator's redraw of the source with no motion: its fixed colour error on this face
    reference = next(job.animator.run([source], initial=job.animator.source_kp, return_motion=True))
    return FullResComposer(job.source_image, job.source_box, source, reference.image,
                           reference_occlusion=reference.occlusion)


def _mouth_retarget(job: PhotoAnimation):
    """The source photo's mouth retarget (engine.mouth_retarget), or None (generator mode, switched off,
    or no landmarks found on the source face: one line says so)."""
    if not job.retarget_mouth:
        return None
    from engine.mouth_retarget import MouthRetarget

    retarget = MouthRetarget.for_photo(job.source_image, job.backend, box=job.source_box)
    if retarget is None:
        log.info("mouth: no landmarks found on the source face; the mouth moves with the model alone")
    return retarget


def output_frame(job: PhotoAnimation, animated, driving=None, box=None) -> np.ndarray:
    """The output image of one animated frame: composed at full resolution or the generator's, pasted
    back into the photo when a face crop was animated. driving, box: the driving frame and its crop box
    (None: the model input is the whole frame), for the mouth retarget."""
    if job.composer is not None:
        if job.mouth is not None and driving is not None:
            image = job.mouth.compose(job.composer, animated.image, animated.deformation, animated.occlusion,
                                      driving, box)
        else:
            image = job.composer.compose(animated.image, animated.deformation, animated.occlusion)
    else:
        image = animated.image if job.crop else resize_image(animated.image, *job.out_size)
    if not job.crop:
        return image
    return paste_back(job.source_image, np.clip(image, 0.0, 1.0), job.source_box, feather=0.1)


def _visualizer(job: PhotoAnimation):
    from engine.visualize import Visualizer

    params = dict(job.model.config.get("visualizer_params", {}))
    if job.options.visualize:  # keypoint discs sized for the panels (the config's size is for 256 pixels)
        scale = max(1.0, job.out_size[1] / max(job.model_h, 256))
        params["kp_size"] = max(1, round(params.get("kp_size", 5) * scale))
    return Visualizer(**params)


def _panels(job: PhotoAnimation, visualizer, image, source, source_kp, animated, frame, model_input, box):
    """--visualize: source | driving | result side by side, keypoints drawn."""
    height, width = image.shape[:2]
    if not job.crop:
        photo = job.source_image if job.fullres else source
        columns = [(resize_image(photo, width, height), source_kp),
                   (resize_image(to_float(model_input), height, height), animated.kp_driving),
                   (image, animated.kp)]
        return visualizer.row(columns)
    frame_width = max(1, round(frame.shape[1] * height / frame.shape[0]))
    columns = [(job.source_image, _kp_in_image(source_kp, job.source_box, job.source_image.shape)),
               (resize_image(to_float(frame), frame_width, height),
                _kp_in_image(animated.kp_driving, box, frame.shape)),
               (image, _kp_in_image(animated.kp, job.source_box, job.source_image.shape))]
    return visualizer.row(columns)


def _animated(job: PhotoAnimation, initial, pending: collections.deque, motions: collections.deque):
    """The output image of every driving frame, in order. What --visualize needs of each goes to `pending`,
    its motion (for the stages' 'motion' flow) to `motions`: the stages may hold frames back."""
    inputs = collections.deque()  # each driving frame's (frame, model input, box) until its result is out

    def driving_inputs():
        for frame, model_input, box in job.driving():
            inputs.append((frame, model_input, box))
            yield model_input

    want_motion = job.fullres or job.apply_stages is not None
    for animated in job.animator.run(driving_inputs(), initial=initial, return_motion=want_motion):
        frame, model_input, box = inputs.popleft()
        image = output_frame(job, animated, frame if job.crop else model_input, box)
        if job.apply_stages is not None and not job.crop:
            motions.append(animated)
        if job.options.visualize:
            pending.append((animated, frame, model_input, box))
        yield image


def write_animation(job: PhotoAnimation) -> None:
    """Animate every driving frame of `job` and write the output video."""
    from tqdm import tqdm

    visualize = job.options.visualize
    initial = job.initial()
    source = job.source_input()
    job.animator.set_source(source)
    job.composer = _composer(job, source)
    job.mouth = _mouth_retarget(job)
    source_kp = job.animator.source_kp_array
    pending = collections.deque()  # what --visualize needs of each result, until the stages return it
    motions = collections.deque()  # each result's motion, for the stages' 'motion' flow
    frames = _animated(job, initial, pending, motions)
    stage_run = None  # with stages: their run, which gives seconds per frame per stage for the bar
    if job.apply_stages is not None:
        # the animation's motion maps the model's frame onto the source: it fits the output only
        # without a crop (with one, the stages estimate optical flow on the pasted frames instead)
        frames = stage_run = job.apply_stages(frames, job.stage_names, job.stage_params,
                                              device=job.model.device, total=job.info.num_frames,
                                              motions=None if job.crop else iter(motions.popleft, None))
    visualizer = _visualizer(job)
    frames = iter(frames)
    first = next(frames, None)  # the first batch: face and stage problems surface before the bar
    if first is None:
        raise UserError(f"video {job.driving_path} gave no frames; pass another driving video")
    bar = tqdm(total=job.info.num_frames, unit="frame", desc="animating", dynamic_ncols=True)
    with job.writer as writer, bar:
        for image in itertools.chain([first], frames):
            if visualize:
                image = _panels(job, visualizer, image, source, source_kp, *pending.popleft())
            writer.write(image)
            if stage_run is not None:
                bar.set_postfix_str(stage_run.summary(), refresh=False)
            bar.update(1)
    log.info("wrote %d frames at %.3f fps to %s", writer.num_frames, float(writer.fps), job.options.result_video)
