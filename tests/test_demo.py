"""Tests for demo.py end to end on real media: frame count, fps and audio kept, --crop, --find_best_frame, bad input."""
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import demo
from tests.conftest import ROOT, write_random_checkpoint
from video import load_image, probe, read_frames
from video.reader import ffmpeg_exe


def ffmpeg(*args):
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", *map(str, args)], check=True)


@pytest.fixture(scope="module")
def files(tmp_path_factory, media_dir):
    """A random-weight golden-64 checkpoint in our format and short real clips (cut with ffmpeg)."""
    folder = tmp_path_factory.mktemp("demo_inputs")
    write_random_checkpoint(folder / "model.pth.tar")
    clip = folder / "wolfgang.mp4"  # 1 s with its AAC audio
    ffmpeg("-i", media_dir / "WolfgangLanger_Pexels.mp4", "-t", 1, "-c:v", "libx264", "-c:a", "aac", clip)
    # 2 frames of a faceless clip at half size (480x270): --find_best_frame searches every frame for a face, and
    # dlib's CNN detector (run where HOG finds none) costs by the pixel, over a second a frame at full size
    ffmpeg("-i", media_dir / "no_face.mp4", "-frames:v", 2, "-vf", "scale=480:-2", "-an", "-c:v", "libx264",
           folder / "no_face.mp4")
    ffmpeg("-ss", 10, "-i", clip, "-an", "-c", "copy", folder / "no_frames.mp4")  # a video stream, 0 frames
    ffmpeg("-f", "lavfi", "-i", "sine=d=1", "-c:a", "aac", folder / "audio_only.mp4")
    (folder / "not_an_image.jpg").write_text("hello")
    Image.new("RGB", (200, 160), (128, 128, 128)).save(folder / "blank.png")
    return folder


def animate(files, tmp_path, *extra, source=None):
    result = tmp_path / "result.mp4"
    argv = ["--source", str(source or files.parent / "unused"), "--driving", str(files / "wolfgang.mp4"),
            "--checkpoint", str(files / "model.pth.tar"), "--result_video", str(result), "--device", "cpu", *extra]
    return demo.main(argv), result


def test_demo_keeps_every_frame_the_fps_and_the_audio(files, media_dir, tmp_path, capsys):
    code, result = animate(files, tmp_path, "--batch_size", "5", "--no_crop", "--output_mode", "generator",
                           source=media_dir / "audrey.jpg")
    out = capsys.readouterr().err
    assert code == 0
    driving, info = probe(files / "wolfgang.mp4"), probe(result)
    assert info.num_frames == driving.num_frames >= 20
    assert abs(info.fps - driving.fps) < 1e-3
    assert driving.has_audio and info.has_audio
    assert (info.width, info.height) == (64, 64)  # the generator's own frames: the model's frame size
    assert "device: cpu (fp32)" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.mp4"]  # no temp files left


def test_default_crops_the_face_and_keeps_the_photo_sharp_at_its_own_size(files, media_dir, tmp_path, capsys):
    photo = load_image(media_dir / "audrey.jpg")
    # the bundled trained model: a random one's occlusion map trusts nothing
    code, result = animate(files, tmp_path, "--checkpoint", str(ROOT / demo.DEFAULT_CHECKPOINT),
                           source=media_dir / "audrey.jpg")
    out = capsys.readouterr().err
    assert code == 0
    assert "animating the face crop, pasted back into the photo; output 540x720, full resolution" in out
    info = probe(result)
    assert (info.width, info.height) == (540, 720) and info.has_audio
    frames = [f.astype(np.float32) / 255 for f in read_frames(result, [0, info.num_frames - 1])]
    # the first frame has no motion (relative to itself): the photo, up to the video encoding
    face = np.s_[250:450, 170:370]
    assert np.abs(frames[0][face] - photo[face]).mean() < 0.01
    # a sharp result: the Laplacian's variance in the face stays near the photo's (the generator's own
    # 64x64 frames upscaled keep only a few per cent of it)
    import cv2

    def sharpness(image):
        return cv2.Laplacian(cv2.cvtColor((image * 255).astype(np.uint8), cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()

    assert sharpness(frames[-1][face]) > 0.5 * sharpness(photo[face])


def test_no_crop_animates_the_whole_frame_at_the_requested_size(files, media_dir, tmp_path, capsys):
    # (the mouth retarget, on by default, finds the face's landmarks even without a crop: off here)
    code, result = animate(files, tmp_path, "--no_crop", "--no-mouth_retarget", "--size", "100",
                           source=media_dir / "audrey.jpg")
    out = capsys.readouterr().err
    assert code == 0 and "faces:" not in out  # no face search at all
    assert "animating the whole frame; output 76x100" in out  # longer side 100, the photo's aspect, even sides
    assert (probe(result).width, probe(result).height) == (76, 100)


def test_size_above_the_photo_keeps_the_photo_size(files, media_dir, tmp_path, capsys):
    code, result = animate(files, tmp_path, "--size", "4000", source=media_dir / "audrey.jpg")
    out = capsys.readouterr().err
    assert code == 0 and "--size 4000 is larger than the source photo (540x720)" in out
    assert (probe(result).width, probe(result).height) == (540, 720)


def test_no_face_falls_back_to_the_whole_frame_unless_crop_is_asked_for(files, tmp_path, capsys):
    code, result = animate(files, tmp_path, source=files / "blank.png")
    out = capsys.readouterr().err
    assert code == 0
    assert "no face found in the source image" in out and "animating the whole frame" in out
    assert (probe(result).width, probe(result).height) == (200, 160)


def test_crop_pastes_the_face_back_into_the_full_photo(files, media_dir, tmp_path, capsys):
    photo = load_image(media_dir / "audrey.jpg")
    code, result = animate(files, tmp_path, "--crop", "--output_mode", "generator", source=media_dir / "audrey.jpg")
    out = capsys.readouterr().err
    assert code == 0
    info = probe(result)
    assert (info.width, info.height) == (photo.shape[1], photo.shape[0])
    assert info.num_frames == probe(files / "wolfgang.mp4").num_frames
    assert "faces: " in out
    # outside the enlarged face box the frames are the photo itself; inside, the animated face
    frame = read_frames(result, [info.num_frames - 1])[0].astype(np.float32) / 255
    corner, face = np.s_[-40:, :60], np.s_[300:360, 240:300]
    assert np.abs(frame[corner] - photo[corner]).mean() < 0.03
    assert np.abs(frame[face] - photo[face]).mean() > 0.05


def test_find_best_frame_still_writes_every_frame(files, media_dir, tmp_path, capsys):
    code, result = animate(files, tmp_path, "--find_best_frame", "--visualize", "--size", "72", "--no_crop",
                           "--output_mode", "generator", source=media_dir / "audrey.jpg")
    out = capsys.readouterr().err
    assert code == 0
    count = probe(files / "wolfgang.mp4").num_frames
    start = int(out.split("start frame: ")[1].split()[0])
    assert 0 <= start < count
    info = probe(result)
    assert info.num_frames == count
    assert (info.width, info.height) == (3 * 74, 74)  # source | driving | result at --size, each with a border


def test_set_changes_the_stage_options(files, media_dir, tmp_path, capsys):
    """--set reaches the stages: style at strength 0 with smoothing off gives the unstyled frames back."""
    source = media_dir / "audrey.jpg"
    outputs = {}
    for name, flags in {"plain": [], "style 0": ["--stages", "style", "--set", "style.strength=0", "--set",
                                                 "smoothing.strength=0"],
                        "style 1": ["--stages", "style", "--set", "smoothing.strength=0"]}.items():
        folder = tmp_path / name.replace(" ", "_")
        folder.mkdir()
        # 180 px output (the photo is 540x720): the stages cost per pixel, and --set reaches them at any size
        code, result = animate(files, folder, *flags, "--size", "180", source=source)
        assert code == 0, capsys.readouterr().err
        outputs[name] = np.stack(read_frames(result, range(5))).astype(np.int16)
    assert np.abs(outputs["style 0"] - outputs["plain"]).max() <= 1
    assert np.abs(outputs["style 1"] - outputs["plain"]).mean() > 10


BAD_INPUTS = {
    "missing source": (["--source", "{f}/missing.jpg"], "image file not found"),
    "unreadable source": (["--source", "{f}/not_an_image.jpg"], "cannot read image"),
    "missing driving": (["--driving", "{f}/missing.mp4"], "video file not found"),
    "driving without video": (["--driving", "{f}/audio_only.mp4"], "no video stream"),
    "driving without frames": (["--driving", "{f}/no_frames.mp4"], "has no frames"),
    "no face in the source for --crop": (["--source", "{f}/blank.png", "--crop"], "no face found in the source"),
    "no face in the driving video for --crop": (["--driving", "{f}/no_face.mp4", "--crop"],
                                                "no face found in the first"),
    "no face in the driving video, default crop": (["--driving", "{f}/no_face.mp4"], "or --no_crop"),
    "no face in the driving video for --find_best_frame": (["--driving", "{f}/no_face.mp4", "--find_best_frame",
                                                            "--no_crop"],
                                                           "no face found in any driving frame"),
    "checkpoint not fitting the config": (["--config", str(ROOT / "config" / "vox-256.yaml")], "does not fit"),
    "output folder missing": (["--result_video", "{t}/missing/result.mp4"], "does not exist"),
    "best frame out of range": (["--best_frame", "1000"], "outside the driving video"),
    "face index past the faces found": (["--face", "3"], "has 1 face(s) found"),
    "negative face index": (["--face", "-1"], "--face must be 0"),
    "unknown stage": (["--stages", "no_such_stage"], "unknown stage 'no_such_stage'"),
    "stage option without --stages": (["--set", "style.strength=0.5"], "pass --stages too"),
    "stage option without a value": (["--stages", "style", "--set", "style.strength"], "bad --set 'style.strength'"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_error_line_exit_2_and_no_file(case, files, media_dir, tmp_path, capsys):
    flags, message = BAD_INPUTS[case]
    flags = [f.format(f=files, t=tmp_path) for f in flags]
    code, result = animate(files, tmp_path, *flags, source=media_dir / "audrey.jpg")
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert code == 2
    assert len(errors) == 1 and message in errors[0], err
    assert list(tmp_path.iterdir()) == []  # no result, no temporary file, no folder


def test_missing_bundled_checkpoint(files, media_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(demo, "DEFAULT_CHECKPOINT", "checkpoints/no-such-model.pth.tar")
    code = demo.main(["--source", str(media_dir / "audrey.jpg"), "--driving", str(files / "wolfgang.mp4"),
                      "--result_video", str(tmp_path / "result.mp4")])
    assert code == 2
    assert "the bundled model checkpoints/no-such-model.pth.tar is not here" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_command_line_exit_code_and_stderr(files, tmp_path):
    result = tmp_path / "result.mp4"
    proc = subprocess.run([sys.executable, str(ROOT / "demo.py"), "--source", str(files / "missing.jpg"),
                           "--driving", str(files / "wolfgang.mp4"), "--checkpoint", str(files / "model.pth.tar"),
                           "--result_video", str(result)], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: image file not found: {files / 'missing.jpg'}; "
                                                "check the path"]
    assert not result.exists()


def test_group_photo_says_which_face_and_face_n_picks_another(files, media_dir, tmp_path, capsys):
    import cv2

    from video import save_image

    big = load_image(media_dir / "audrey.jpg")[100:580]  # 480x540, face ~320 px
    small = cv2.resize(load_image(media_dir / "franck_01829.jpg"), (300, 240))  # face ~90 px
    group = np.ones((480, 840, 3), np.float32)
    group[:, :540], group[120:360, 540:] = big, small
    save_image(tmp_path / "group.png", group)
    photo = load_image(tmp_path / "group.png")
    result = tmp_path / "out" / "result.mp4"
    result.parent.mkdir()
    argv = ["--source", str(tmp_path / "group.png"), "--driving", str(files / "wolfgang.mp4"), "--checkpoint",
            str(files / "model.pth.tar"), "--result_video", str(result), "--device", "cpu", "--output_mode",
            "generator", "--face", "1"]
    assert demo.main(argv) == 0
    out = capsys.readouterr().err
    assert "source face: 2 found; animating number 1 by size (0 = largest)" in out
    frame = read_frames(result, [probe(result).num_frames - 1])[0].astype(np.float32) / 255
    assert np.abs(frame[:, :400] - photo[:, :400]).mean() < 0.02  # the large face is left as it is
    assert np.abs(frame[150:330, 600:780] - photo[150:330, 600:780]).mean() > 0.05  # the small one is animated


@pytest.mark.parametrize("flags, relative, adapt_scale", [
    ([], True, True),
    (["--no-relative"], False, True), (["--absolute"], False, True), (["--relative"], True, True),
    (["--no-adapt_scale"], True, False), (["--no_adapt_scale"], True, False), (["--adapt_scale"], True, True),
    (["--no-relative", "--relative"], True, True),  # the last switch wins
])
def test_relative_and_adapt_scale_are_on_off_switches(flags, relative, adapt_scale):
    args = demo.parse_args(flags)
    assert (args.relative, args.adapt_scale) == (relative, adapt_scale)
