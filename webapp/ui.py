"""The web app's page: Gradio Blocks with an "Animate a photo" tab (demo.py) and a "Stylize a video" tab (stylize)."""
from __future__ import annotations

import logging
import time

import gradio as gr

from errors import UserError
from webapp.jobs import (
    OUTPUT_MODES,
    OUTPUT_SIZES,
    SAMPLE_PHOTO,
    SAMPLE_VIDEO,
    STAGE_NAMES,
    AnimateOptions,
    Jobs,
    StageOptions,
)

log = logging.getLogger(__name__)

# System fonts only: Gradio's default theme fetches its fonts from the internet, and the app must not.
THEME = gr.themes.Default(font=["system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
                          font_mono=["ui-monospace", "Menlo", "Consolas", "monospace"])
TRACK_TQDM = gr.Progress(track_tqdm=True)  # as a default argument: Gradio follows the tqdm bars of the job
JOB_GROUP = "job"  # animation and stylizing share one queue slot: one job at a time


def _show_speed(progress: gr.Progress) -> None:
    """Add frames per second to the bar that Gradio follows (demo.py's tqdm bar, tracked by track_tqdm)."""
    update = progress.update
    starts: dict[int, tuple[float, float, str]] = {}

    def update_with_speed(n: float = 1) -> None:
        if progress.iterables:
            bar = progress.iterables[-1]
            now = time.perf_counter()
            start, first, desc = starts.setdefault(id(bar), (now, bar.index or 0, bar.desc or ""))
            done = (bar.index or 0) + n - first
            if now > start and done > 0:
                bar.desc = f"{desc} {done / (now - start):.1f} frames/s"
        update(n)

    progress.update = update_with_speed


def _run(job, *args):
    """Run a job; its UserError becomes the page's one-line error, anything else a short one (logged in full)."""
    try:
        path, text = job(*args)
    except UserError as err:
        raise gr.Error(str(err), title="error", print_exception=False) from None
    except Exception as err:  # a bug, not the user's input: keep the traceback in the server's log
        log.exception("job failed")
        raise gr.Error(f"the job failed: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}",
                       title="error", print_exception=False) from None
    return str(path), str(path), text.strip()


def _stage_controls():
    names = gr.CheckboxGroup(list(STAGE_NAMES), label="Post-processing stages", elem_id="stages")
    with gr.Row():
        style = gr.Slider(0, 1, value=1.0, step=0.05, label="style strength")
        dream = gr.Slider(1, 20, value=10, step=1, label="dream iterations")
        smoothing = gr.Slider(0, 1, value=0.8, step=0.05, label="temporal smoothing (0 = off)")
    return [names, style, dream, smoothing]


def _stages(names, style, dream, smoothing) -> StageOptions:
    return StageOptions(tuple(n for n in STAGE_NAMES if n in (names or [])), style, int(dream), smoothing)


def build(jobs: Jobs) -> gr.Blocks:
    limits = jobs.limits

    def animate(photo, driving, crop, best, motion, names, style, dream, smoothing, size, mode, bf16, visualize,
                progress=TRACK_TQDM):
        _show_speed(progress)
        options = AnimateOptions(crop=crop, find_best_frame=best, relative=motion == "relative",
                                 stages=_stages(names, style, dream, smoothing), size=size, output_mode=mode, bf16=bf16,
                                 visualize=visualize)
        return _run(jobs.animate, photo, driving, options)

    def stylize(video, names, style, dream, smoothing, max_side, progress=TRACK_TQDM):
        return _run(jobs.stylize, video, _stages(names, style, dream, smoothing), int(max_side or 0) or None)

    def preview(photo):
        from PIL import Image

        try:
            with Image.open(photo) as im:
                im.verify()
        except Exception:  # not an image: the animation says why
            return None
        return photo

    with gr.Blocks(title="stillmotion", analytics_enabled=False,
                   delete_cache=(600, 3600)) as page:  # Gradio's copies of uploads and results: 1 h at most
        gr.Markdown("# stillmotion\nAnimate a photo with the motion of a driving video, on this computer. "
                    f"Limits: uploads up to {limits.max_upload_mb:g} MB, photos up to "
                    f"{limits.max_photo_megapixels:g} megapixels, videos up to {limits.max_video_seconds:g} s.")
        with gr.Tab("Animate a photo"):
            with gr.Row():
                with gr.Column():
                    photo = gr.File(value=str(SAMPLE_PHOTO), label="Photo (the bundled sample until you upload one)",
                                    file_types=["image"], type="filepath", elem_id="photo")
                    shown = gr.Image(value=str(SAMPLE_PHOTO), label="Photo", interactive=False, height=200)
                    driving = gr.Video(value=str(SAMPLE_VIDEO), label="Driving video (the bundled sample until you "
                                       "upload one)", sources=["upload"], elem_id="driving", height=240)
                with gr.Column():
                    crop = gr.Checkbox(True, label="crop the face and paste it back into the photo")
                    best = gr.Checkbox(False, label="best frame: start from the driving frame closest to the "
                                       "photo's pose")
                    motion = gr.Radio(["relative", "absolute"], value="relative", label="motion")
                    stage_inputs = _stage_controls()
                    with gr.Row():
                        size = gr.Dropdown(list(OUTPUT_SIZES), value="default", label="output size (longer side, "
                                           "pixels; default: the photo's own)")
                        mode = gr.Dropdown(list(OUTPUT_MODES), value="fullres", label="output: fullres (the photo "
                                           "warped at its own resolution) or generator (the model's own frames)")
                        bf16 = gr.Checkbox(False, label="bf16 (faster only on CPUs with native bf16 and on GPUs)")
                    visualize = gr.Checkbox(False, label="side by side: source | driving | result")
                    run = gr.Button("Animate", variant="primary", elem_id="animate")
            with gr.Row():
                result = gr.Video(label="Result", interactive=False, elem_id="result", height=360)
                with gr.Column():
                    download = gr.File(label="Download (mp4, with the driving video's audio)", interactive=False,
                                       elem_id="download")
                    text = gr.Textbox(label="Log", lines=4, interactive=False, elem_id="log")
            photo.change(preview, photo, shown)
            run.click(animate, [photo, driving, crop, best, motion, *stage_inputs, size, mode, bf16, visualize],
                      [result, download, text], concurrency_limit=1, concurrency_id=JOB_GROUP)
        with gr.Tab("Stylize a video"):
            with gr.Row():
                with gr.Column():
                    video = gr.Video(value=str(SAMPLE_VIDEO), label="Video (the bundled sample until you upload "
                                     "one)", sources=["upload"], elem_id="stylize_input", height=240)
                with gr.Column():
                    stylize_inputs = _stage_controls()
                    max_side = gr.Number(256, label="shrink frames to this longest side first (0 = as they are)",
                                         precision=0, minimum=0)
                    go = gr.Button("Apply the stages", variant="primary", elem_id="stylize")
            with gr.Row():
                styled = gr.Video(label="Result", interactive=False, height=360)
                with gr.Column():
                    styled_file = gr.File(label="Download (mp4, audio kept)", interactive=False)
                    styled_log = gr.Textbox(label="Log", lines=4, interactive=False)
            go.click(stylize, [video, *stylize_inputs, max_side], [styled, styled_file, styled_log],
                     concurrency_limit=1, concurrency_id=JOB_GROUP)
    return page
