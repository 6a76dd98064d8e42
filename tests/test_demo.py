"""Tests for demo.py end to end on real media: frame count, fps and audio kept, --crop, --find_best_frame, bad input."""
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import demo
from engine.build import build_networks
from engine.checkpoint import save_checkpoint
from engine.config import load_config
from tests.conftest import ROOT
from video import load_image, probe, read_frames
from video.reader import ffmpeg_exe


def ffmpeg(*args):
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", *map(str, args)], check=True)


@pytest.fixture(scope="module")
def files(tmp_path_factory, media_dir):
    """A random-weight golden-64 checkpoint in our format and short real clips (cut with ffmpeg)."""
    folder = tmp_path_factory.mktemp("demo_inputs")
    config = load_config(ROOT / "config" / "golden-64.yaml")
    torch.manual_seed(0)
    nets = build_networks(config["model_params"])
    save_checkpoint(folder / "model.pth.tar", {"kp_detector": nets.kp_detector.state_dict(),
                                               "generator": nets.generator.state_dict(), "epoch": 0,
                                               "stillmotion": {"config": config}})
    clip = folder / "wolfgang.mp4"  # 1 s with its AAC audio
    ffmpeg("-i", media_dir / "WolfgangLanger_Pexels.mp4", "-t", 1, "-c:v", "libx264", "-c:a", "aac", clip)
    ffmpeg("-i", media_dir / "no_face.mp4", "-t", 0.5, "-an", "-c:v", "libx264", folder / "no_face.mp4")
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
    code, result = animate(files, tmp_path, "--batch_size", "5", source=media_dir / "audrey.jpg")
    out = capsys.readouterr().out
    assert code == 0
    driving, info = probe(files / "wolfgang.mp4"), probe(result)
    assert info.num_frames == driving.num_frames >= 20
    assert abs(info.fps - driving.fps) < 1e-3
    assert driving.has_audio and info.has_audio
    assert (info.width, info.height) == (64, 64)  # the model's frame size
    assert "device: cpu (fp32)" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.mp4"]  # no temp files left


def test_crop_pastes_the_face_back_into_the_full_photo(files, media_dir, tmp_path, capsys):
    photo = load_image(media_dir / "audrey.jpg")
    code, result = animate(files, tmp_path, "--crop", source=media_dir / "audrey.jpg")
    out = capsys.readouterr().out
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
    code, result = animate(files, tmp_path, "--find_best_frame", "--visualize", "--size", "72",
                           source=media_dir / "audrey.jpg")
    out = capsys.readouterr().out
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
        code, result = animate(files, folder, *flags, source=source)
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
    "no face in the driving video for --find_best_frame": (["--driving", "{f}/no_face.mp4", "--find_best_frame"],
                                                           "no face found in any driving frame"),
    "checkpoint not fitting the config": (["--config", str(ROOT / "config" / "vox-256.yaml")], "does not fit"),
    "output folder missing": (["--result_video", "{t}/missing/result.mp4"], "does not exist"),
    "best frame out of range": (["--best_frame", "1000"], "outside the driving video"),
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
