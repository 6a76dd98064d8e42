"""Tests for demo.py --runtime onnxruntime: the torch path's frames, frame count, fps and audio on a real clip."""
import subprocess

import numpy as np
import pytest

import demo
from tests.conftest import ROOT
from video import VideoWriter, probe, read_frames
from video.reader import ffmpeg_exe

WRITE = VideoWriter.write  # the writer's own method, before any test wraps it


@pytest.fixture(scope="module")
def clip(tmp_path_factory, media_dir):
    """1 s of WolfgangLanger_Pexels.mp4 with its AAC audio."""
    path = tmp_path_factory.mktemp("demo_onnx") / "wolfgang.mp4"
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", "-i",
                    str(media_dir / "WolfgangLanger_Pexels.mp4"), "-t", "1", "-c:v", "libx264", "-c:a", "aac",
                    str(path)], check=True)
    return path


def run_demo(monkeypatch, tmp_path, name, *extra, source, driving):
    """demo.main's exit code, the frames it handed to the video writer (before encoding) and the file."""
    written = []

    def recording_write(self, frame):
        written.append(np.array(frame, dtype=np.float32, copy=True))
        return WRITE(self, frame)

    monkeypatch.setattr(VideoWriter, "write", recording_write)
    result = tmp_path / name
    # without the mouth retarget: it runs after either runtime, on their frames (dlib's landmarks and thresholds
    # would only turn a 1e-4 difference into a jump; tests/engine/test_mouth_retarget.py covers it)
    code = demo.main(["--source", str(source), "--driving", str(driving), "--result_video", str(result),
                      "--device", "cpu", "--batch_size", "5", "--no-mouth_retarget", *extra])
    return code, written, result


def test_onnxruntime_demo_matches_the_torch_demo(bundled_onnx, clip, media_dir, tmp_path, monkeypatch, capsys):
    inputs = {"source": media_dir / "audrey.jpg", "driving": clip}
    code, torch_frames, torch_file = run_demo(monkeypatch, tmp_path, "torch.mp4", **inputs)
    assert code == 0
    code, ort_frames, ort_file = run_demo(monkeypatch, tmp_path, "ort.mp4", "--runtime", "onnxruntime",
                                          "--onnx", str(bundled_onnx), **inputs)
    assert code == 0
    assert "runtime: onnxruntime (CPUExecutionProvider)" in capsys.readouterr().err
    driving = probe(clip)
    assert len(ort_frames) == len(torch_frames) == driving.num_frames >= 20
    worst = max(float(np.abs(a - b).max()) for a, b in zip(ort_frames, torch_frames))
    assert worst <= 4e-4  # floats in [0, 1]: the same picture to a tenth of one 8-bit level (1/255)
    assert np.abs(torch_frames[0] - torch_frames[-1]).max() > 0.05  # the clip moves: a mix-up would show
    for path in (torch_file, ort_file):
        info = probe(path)
        assert info.num_frames == driving.num_frames and abs(info.fps - driving.fps) < 1e-3 and info.has_audio
    # after H.264 the two files still show the same video (encoder decisions may differ a little)
    last = driving.num_frames - 1
    a, b = (read_frames(p, [0, last]) for p in (torch_file, ort_file))
    assert max(np.abs(x.astype(np.int16) - y.astype(np.int16)).mean() for x, y in zip(a, b)) < 1.5


@pytest.mark.parametrize("extra, message", [
    (["--runtime", "onnxruntime"], "--runtime onnxruntime needs --onnx FOLDER"),
    (["--onnx", "x"], "--onnx is for --runtime onnxruntime"),
    (["--runtime", "onnxruntime", "--onnx", "BUNDLED", "--bf16"], "--bf16 is for --runtime torch"),
    (["--runtime", "onnxruntime", "--onnx", "BUNDLED", "--checkpoint", "m.pth.tar"],
     "--checkpoint is for --runtime torch"),
    (["--runtime", "onnxruntime", "--onnx", str(ROOT / "config")], "is not an ONNX export"),
])
def test_bad_runtime_options_are_one_line_errors(extra, message, bundled_onnx, clip, media_dir, tmp_path, capsys):
    extra = [str(bundled_onnx) if e == "BUNDLED" else e for e in extra]
    code = demo.main(["--source", str(media_dir / "audrey.jpg"), "--driving", str(clip),
                      "--result_video", str(tmp_path / "out.mp4"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert list(tmp_path.iterdir()) == []
