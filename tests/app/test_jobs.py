"""webapp.jobs: the form -> demo.py / stylize.py argument lists, the upload limits, temp folders and kept results."""
import numpy as np
import pytest

import demo
import stylize
from errors import UserError
from stages.params import load_stage_params
from video import load_image, probe, read_frames
from webapp.jobs import AnimateOptions, Jobs, Limits, StageOptions, animate_argv, stylize_argv


def test_animate_argv_is_what_demo_py_parses():
    stages = StageOptions(("depth", "style"), style_strength=0.4, dream_iterations=3, smoothing=0.5)
    options = AnimateOptions(crop=False, find_best_frame=True, relative=False, stages=stages, size="256", bf16=True,
                             visualize=True)
    args = demo.parse_args(animate_argv("p.jpg", "d.mp4", "out.mp4", options, checkpoint="m.pth.tar", device="cpu"))
    assert (args.source, args.driving, args.result_video, args.checkpoint) == ("p.jpg", "d.mp4", "out.mp4", "m.pth.tar")
    assert args.crop == "no" and args.find_best_frame and args.relative is False
    assert args.size == 256 and args.bf16 and args.visualize and args.device == "cpu"
    assert args.stages == "depth,style"
    assert args.stage_overrides == ["smoothing.strength=0.5", "style.strength=0.4"]  # no dream option: not chosen
    args = demo.parse_args(animate_argv("p.jpg", "d.mp4", "out.mp4", AnimateOptions(size="512",
                                                                                    output_mode="generator")))
    assert args.crop == "yes" and args.relative is True and not args.find_best_frame  # crop on: a face is needed
    assert args.size == 512 and args.output_mode == "generator"
    args = demo.parse_args(animate_argv("p.jpg", "d.mp4", "out.mp4", AnimateOptions()))
    assert args.size is None and args.output_mode == "fullres"  # demo.py's defaults: the photo's own size
    assert args.stages is None and args.stage_overrides == [] and not args.bf16 and not args.visualize
    assert load_stage_params(None, args.stage_overrides) == {}


def test_stylize_argv_is_what_stylize_py_parses():
    argv = stylize_argv("in.mp4", "out.mp4", StageOptions(("dream",), dream_iterations=4, smoothing=0), max_side=128)
    args = stylize.parse_args(argv)
    assert (args.input, args.output, args.stages, args.max_side) == ("in.mp4", "out.mp4", "dream", 128)
    params = load_stage_params(None, args.overrides)
    assert params == {"smoothing": {"strength": 0}, "dream": {"num_iterations": 4}}
    with pytest.raises(UserError, match="at least one stage"):
        stylize_argv("in.mp4", "out.mp4", StageOptions())


def test_an_animation_keeps_frames_fps_and_audio_and_leaves_no_job_folder(uploads, media_dir, tmp_path):
    jobs = Jobs(tmp_path, keep_results=2, device="cpu")
    results = []
    for crop, mode in ((False, "fullres"), (True, "fullres"), (False, "generator")):
        path, log = jobs.animate(str(media_dir / "audrey.jpg"), str(uploads / "wolfgang.mp4"),
                                 AnimateOptions(crop=crop, output_mode=mode))
        results.append(path)
        info, driving = probe(path), probe(uploads / "wolfgang.mp4")
        assert info.num_frames == driving.num_frames and abs(info.fps - driving.fps) < 1e-3
        assert info.has_audio and driving.has_audio
        assert path.name == "audrey-wolfgang.mp4"
        assert "wrote 12 frames" in log and str(tmp_path) not in log  # the page sees no server paths of the job
        assert list((tmp_path / "jobs").iterdir()) == []
    photo = load_image(media_dir / "audrey.jpg")
    assert (probe(results[1]).height, probe(results[1]).width) == photo.shape[:2]  # crop: the photo's size
    assert (probe(results[2]).width, probe(results[2]).height) == (128, 128)  # generator, no crop: the model's size
    # only the newest two results are kept; the others are gone, folder and all
    assert not results[0].exists() and results[1].exists() and results[2].exists()
    assert sorted(p.parent for p in (tmp_path / "results").glob("*/*.mp4")) == sorted(p.parent for p in results[1:])
    assert results[1].parent != results[2].parent


def test_stylize_applies_a_stage_to_a_video(uploads, tmp_path):
    jobs = Jobs(tmp_path, device="cpu")
    path, log = jobs.stylize(str(uploads / "wolfgang.mp4"), StageOptions(("depth",), smoothing=0), max_side=64)
    info = probe(path)
    assert (info.width, info.height, info.num_frames, info.has_audio) == (64, 36, 12, True)
    frame = read_frames(path, [0])[0]
    assert np.ptp(frame) > 50  # a depth colour map, not a blank frame
    assert "depth" in log and "wrote 12 frames" in log and str(tmp_path) not in log
    assert list((tmp_path / "jobs").iterdir()) == []


@pytest.mark.parametrize("photo, video, crop, expected", [
    ("not_an_image.jpg", "wolfgang.mp4", False, "cannot read image not_an_image.jpg: "),
    ("no_face.png", "wolfgang.mp4", True, "no face"),
    ("huge.jpg", "wolfgang.mp4", False, "photo huge.jpg is 6000x4000 (24.0 megapixels); the app takes at most 16"),
    (None, "no_frames.mp4", False, "video no_frames.mp4 has no frames"),
    (None, "ten_minutes.mp4", False, "video ten_minutes.mp4 is 600 s long; the app takes at most 60 s"),
])
def test_bad_uploads_get_one_line_errors_and_leave_nothing(uploads, tmp_path, photo, video, crop, expected):
    jobs = Jobs(tmp_path, Limits(), device="cpu")
    with pytest.raises(UserError) as caught:
        jobs.animate(photo and str(uploads / photo), str(uploads / video), AnimateOptions(crop=crop))
    message = str(caught.value)
    assert expected in message and "\n" not in message
    assert str(uploads) not in message and str(tmp_path) not in message  # file names only, no server paths
    assert list((tmp_path / "jobs").iterdir()) == [] and list((tmp_path / "results").iterdir()) == []


def test_limits_are_configurable(uploads, tmp_path):
    jobs = Jobs(tmp_path, Limits(max_upload_mb=0.01, max_video_seconds=700), device="cpu")
    with pytest.raises(UserError, match=r"video wolfgang.mp4 is 0.\d+ MB; the app takes at most 0.01 MB") as caught:
        jobs.animate(str(uploads / "no_face.png"), str(uploads / "wolfgang.mp4"), AnimateOptions(crop=False))
    assert "--max_upload_mb" in str(caught.value)
    with pytest.raises(UserError, match=r"video ten_minutes.mp4 is 600 s long; the app takes at most 500 s"):
        Jobs(tmp_path, Limits(max_video_seconds=500)).animate(None, str(uploads / "ten_minutes.mp4"), AnimateOptions())
