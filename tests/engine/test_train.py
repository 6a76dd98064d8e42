"""Training engine: it trains, resumes exactly, survives a kill mid-checkpoint, guards non-finite steps."""
import os
import re
import subprocess
import sys

import pytest
import torch

from engine.checkpoint import read_checkpoint
from engine.train import TrainOptions, train
from errors import UserError
from tests.conftest import ROOT
from tests.engine.conftest import small_config


def args_for(run_dir, checkpoint=None):
    return TrainOptions(device="cpu", checkpoint=checkpoint, run_dir=str(run_dir), log_dir=str(run_dir.parent),
                        config=str(ROOT / "config/golden-64.yaml"))


def assert_same_state(a, b):
    for name in ("generator", "kp_detector", "discriminator"):
        for k, v in a[name].items():
            assert torch.equal(v, b[name][k]), f"{name}.{k} differs"
    for name in ("optimizer_generator", "optimizer_kp_detector", "optimizer_discriminator"):
        sa, sb = a[name]["state"], b[name]["state"]
        assert sa.keys() == sb.keys()
        for i in sa:
            for k in sa[i]:
                assert torch.equal(torch.as_tensor(sa[i][k]), torch.as_tensor(sb[i][k])), f"{name}[{i}].{k} differs"


@pytest.fixture(scope="module", autouse=True)
def one_random_vgg_build():
    """The trainings here all ask for the same seeded random VGG19 loss network (small_config: vgg_weights=random):
    engine.perceptual.build_vgg builds it once per (seed, weights) for the module, and each training gets its own
    copy. Building a whole torchvision vgg19 takes ~1.5 s, longer than most of these trainings' steps;
    build_vgg's random weights are the same for the same seed (tests/engine/test_perceptual.py)."""
    import copy

    import engine.train as T

    real, built = T.build_vgg, {}

    def build_once(train_params, seed=0):
        if train_params.get("vgg_weights") != "random" or train_params.get("perceptual_network", "vgg19") != "vgg19":
            return real(train_params, seed=seed)
        key = (seed, tuple(train_params["loss_weights"]["perceptual"]))
        if key not in built:
            built[key] = real(train_params, seed=seed)
        vgg, line = built[key]
        return copy.deepcopy(vgg), line

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(T, "build_vgg", build_once)
        yield


@pytest.fixture(scope="module")
def six_step_run(tiny_dataset, tmp_path_factory):
    """One 6-step training (2 epochs of 3 steps, golden-64 on the tiny dataset), shared by the tests that
    only read what it wrote."""
    return train(small_config(tiny_dataset), args_for(tmp_path_factory.mktemp("six_steps") / "run"))


def test_training_writes_original_format_checkpoints_and_logs(six_step_run):
    run_dir = six_step_run
    names = sorted(p.name for p in run_dir.iterdir())
    assert "00000000-checkpoint.pth.tar" in names and "00000001-checkpoint.pth.tar" in names
    assert "last-checkpoint.pth.tar" in names and "config.yaml" in names
    assert any(n.startswith("events.out.tfevents") for n in names)
    state = read_checkpoint(run_dir / "last-checkpoint.pth.tar")
    for key in ("generator", "kp_detector", "discriminator", "optimizer_generator", "optimizer_kp_detector",
                "optimizer_discriminator", "epoch"):
        assert key in state
    assert state["epoch"] == 1  # last finished epoch, 0-based, as the original writes it
    ours = state["stillmotion"]
    assert ours["step"] == 6 and ours["steps_per_epoch"] == 3  # 3 videos x 2 repeats / batch 2
    assert ours["config"]["train_params"]["batch_size"] == 2


def test_resume_is_exact(tiny_dataset, six_step_run, tmp_path):
    cfg = small_config(tiny_dataset, **{"train_params.num_epochs": 2})
    full = six_step_run  # the same config and seed, trained without a stop
    half_cfg = small_config(tiny_dataset, **{"train_params.num_epochs": 2, "train_params.max_steps": 4})
    first = train(half_cfg, args_for(tmp_path / "half"))
    assert read_checkpoint(first / "last-checkpoint.pth.tar")["stillmotion"]["step"] == 4  # mid-epoch stop
    # what a checkpoint write killed mid-way leaves (atomic.atomic_open's temp file; tests/test_atomic.py kills
    # a real write): the resumed run in that directory clears it
    stale = first / ".last-checkpoint.pth.tar.0123abcd.tmp"
    stale.write_bytes(b"partial")
    second = train(cfg, args_for(tmp_path / "half", checkpoint=str(first / "last-checkpoint.pth.tar")))
    assert not stale.exists()
    a = read_checkpoint(full / "last-checkpoint.pth.tar")
    b = read_checkpoint(second / "last-checkpoint.pth.tar")
    assert b["stillmotion"]["step"] == a["stillmotion"]["step"] == 6
    assert_same_state(a, b)
    for k in a["stillmotion"]["schedulers"]:
        assert a["stillmotion"]["schedulers"][k]["last_epoch"] == b["stillmotion"]["schedulers"][k]["last_epoch"]


def test_resume_from_original_format_starts_after_its_epoch(tiny_dataset, six_step_run, tmp_path):
    state = read_checkpoint(six_step_run / "00000000-checkpoint.pth.tar")  # after epoch 0 (3 steps)
    assert state["epoch"] == 0
    original = {k: v for k, v in state.items() if k != "stillmotion"}  # what the original tools write
    torch.save(original, tmp_path / "fomm.pth.tar")
    cfg2 = small_config(tiny_dataset, **{"train_params.num_epochs": 2})
    run2 = train(cfg2, args_for(tmp_path / "b", checkpoint=str(tmp_path / "fomm.pth.tar")))
    resumed = read_checkpoint(run2 / "last-checkpoint.pth.tar")
    assert resumed["stillmotion"]["step"] == 6  # epoch 0 was not repeated: only epoch 1 (3 steps) ran
    assert resumed["epoch"] == 1


def test_checkpoints_are_written_through_the_atomic_writer(monkeypatch, tmp_path):
    """Training saves every checkpoint with engine.checkpoint.save_checkpoint, which writes through
    atomic.atomic_open (whose kill-safety tests/test_atomic.py checks with a real SIGKILL)."""
    import atomic
    import engine.checkpoint as ck
    import engine.train_hooks as T

    assert T.save_checkpoint is ck.save_checkpoint
    opened = []
    real = atomic.atomic_open
    monkeypatch.setattr(ck, "atomic_open", lambda path, *a, **k: opened.append(path) or real(path, *a, **k))
    ck.save_checkpoint(tmp_path / "x.pth.tar", {"generator": {}})
    assert opened == [tmp_path / "x.pth.tar"] and (tmp_path / "x.pth.tar").exists()


def test_nonfinite_loss_stops_with_a_clear_error_or_skips(tiny_dataset, tmp_path, monkeypatch):
    import engine.train as T

    real = T.Trainer.step

    def poisoned(self, batch):
        batch = dict(batch, driving=batch["driving"] * float("nan"))
        return real(self, batch)

    monkeypatch.setattr(T.Trainer, "step", poisoned)
    with pytest.raises(UserError, match="not finite at step 0.*nonfinite=skip"):
        train(small_config(tiny_dataset), args_for(tmp_path / "stop"))
    run = train(small_config(tiny_dataset, **{"train_params.nonfinite": "skip", "train_params.num_epochs": 1}),
                args_for(tmp_path / "skip"))
    state = read_checkpoint(run / "last-checkpoint.pth.tar")
    assert state["stillmotion"]["skipped_steps"] == 3
    assert all(torch.isfinite(v).all() for v in state["generator"].values() if v.is_floating_point())


def test_imagenet_vgg_is_required_unless_random_is_asked(tiny_dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))
    with pytest.raises(UserError, match="ImageNet VGG19 weights.*vgg19-dcbb9e9d.pth.*'random'"):
        train(small_config(tiny_dataset, **{"train_params.vgg_weights": "imagenet"}), args_for(tmp_path / "r"))
    assert not (tmp_path / "r").exists()


@pytest.mark.skipif(os.environ.get("STILLMOTION_SKIP_DDP") == "1", reason="DDP test disabled by env")
def test_two_process_ddp_matches_one_process(tiny_dataset, tmp_path):
    from tests.engine import ddp_worker

    worker = ROOT / "tests" / "engine" / "ddp_worker.py"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    threads = torch.get_num_threads()
    try:
        ddp_worker.main(tiny_dataset, tmp_path / "single")  # the one-process reference, here (no process to start)
    finally:
        torch.set_num_threads(threads)
    multi = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                            str(worker), str(tiny_dataset), str(tmp_path / "multi")],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert multi.returncode == 0, multi.stderr[-3000:]
    one = torch.load(tmp_path / "single" / "rank0.pt", weights_only=True)
    r0 = torch.load(tmp_path / "multi" / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "multi" / "rank1.pt", weights_only=True)
    assert one["steps"] == r0["steps"] == r1["steps"] == 3
    for k in one["params"]:
        assert torch.equal(r0["params"][k], r1["params"][k]), f"{k} differs between ranks"
    # Same global batches and transform draws, so the all-reduced gradients of the first step match the
    # one-process gradients up to floating-point reduction order. Gradients that are mathematically zero
    # are pure rounding noise and are skipped by structure: a conv bias feeding a norm layer (the norm
    # removes it), and the heatmap bias under the spatial softmax. (Parameters after several Adam steps
    # are not compared: Adam's first steps are about lr * sign(grad), which turns that noise into
    # lr-sized moves.)
    def structurally_zero(name, names):
        if name.endswith("conv.bias"):
            return name[: -len("conv.bias")] + "norm.weight" in names
        return name.endswith("conv1.bias") or name == "kp.bias"

    checked = 0
    for net, grads in one["grads"].items():
        for k, g in grads.items():
            g2 = r0["grads"][net][k]
            assert torch.equal(g2, r1["grads"][net][k]), f"{net}.{k}: rank gradients differ"
            if structurally_zero(k, grads):
                continue
            rel = ((g - g2).norm() / g.norm()).item()
            assert rel < 1e-3, f"{net}.{k}: relative gradient difference {rel:.2e}"
            checked += 1
    assert checked > 50
    moved = max((one["params"][k] - one["initial"][k]).abs().max().item() for k in one["params"])
    assert moved > 1e-3  # training really changed the weights


def test_sigterm_to_the_process_group_writes_an_exit_checkpoint(tiny_dataset, tmp_path):
    import signal
    import time

    run_dir = tmp_path / "term"
    cmd = [sys.executable, "run.py", "--config", "config/golden-64.yaml", "--run_dir", str(run_dir), "--device", "cpu",
           "--set", f"dataset_params.root_dir={tiny_dataset}", "--set", "train_params.batch_size=2",
           "--set", "train_params.num_workers=1", "--set", "train_params.vgg_weights=random",
           "--set", "train_params.num_repeats=50", "--set", "train_params.num_epochs=1",
           "--set", "train_params.log_freq=1", "--set", "train_params.checkpoint_freq=100",
           "--set", "train_params.max_steps=null"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    # wait for an event, not a fixed time: the progress bar showing a finished step (so the DataLoader
    # worker runs and a step exists to save), however loaded the machine is
    seen = ""
    deadline = time.time() + 300
    while time.time() < deadline and not re.search(r"\b[1-9]\d*/\d+ \[", seen):
        chunk = proc.stdout.read1(4096)
        if not chunk:
            break
        seen += chunk.decode(errors="replace")
    assert re.search(r"\b[1-9]\d*/\d+ \[", seen), seen[-2000:]
    os.killpg(proc.pid, signal.SIGTERM)  # like a cluster scheduler: the whole group, workers included
    rest, _ = proc.communicate(timeout=300)
    out = seen + rest.decode(errors="replace")
    assert proc.returncode == 130, out[-2000:]
    state = read_checkpoint(run_dir / "last-checkpoint.pth.tar")
    assert 0 < state["stillmotion"]["step"] < 75


def test_mouth_loss_trains_from_landmark_files_and_asks_for_them(tiny_dataset, tmp_path):
    import shutil

    from footage.landmarks import annotate_dataset

    root = tmp_path / "data"
    shutil.copytree(tiny_dataset, root)
    cfg = small_config(root, **{"train_params.loss_weights.mouth": 3, "train_params.num_epochs": 1})
    with pytest.raises(UserError, match="has no landmark file .* --landmarks"):
        train(cfg, args_for(tmp_path / "without"))
    assert not (tmp_path / "without").exists()
    counts = annotate_dataset(str(root), progress=False)
    assert counts["written"] == 4 and counts["frames_without_face"] == 0
    run_dir = train(cfg, args_for(tmp_path / "run"))
    events = [p for p in run_dir.iterdir() if p.name.startswith("events.out.tfevents")]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    tags = EventAccumulator(str(events[0])).Reload().Tags()["scalars"]
    assert any("mouth" in t for t in tags)


def logged_steps(run_dir, tag="loss/perceptual"):
    """Steps of one scalar as tensorboard reads the folder back (all events files, purges applied)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return [e.step for e in acc.Scalars(tag)]


def test_resume_into_a_run_dir_with_a_space_keeps_one_folder(tiny_dataset, tmp_path):
    run_dir = tmp_path / "my run"
    first = train(small_config(tiny_dataset, **{"train_params.max_steps": 4}), args_for(run_dir))
    assert first == run_dir and (run_dir / "config.yaml").is_file()
    second = train(small_config(tiny_dataset), args_for(run_dir, checkpoint=str(run_dir / "last-checkpoint.pth.tar")))
    assert second == run_dir
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my run"]  # no my_run/ beside it
    assert read_checkpoint(run_dir / "last-checkpoint.pth.tar")["stillmotion"]["step"] == 6


def test_resume_after_a_kill_before_the_first_last_checkpoint(tiny_dataset, tmp_path, caplog):
    run_dir = tmp_path / "early"
    train(small_config(tiny_dataset, **{"train_params.max_steps": 5}), args_for(run_dir))
    # the run logged steps 1..5 and saved step 3 (end of epoch 0) and step 5; a kill during the first
    # write of last-checkpoint leaves only the numbered checkpoint
    (run_dir / "last-checkpoint.pth.tar").unlink()
    assert logged_steps(run_dir) == [1, 2, 3, 4, 5]
    for given in (run_dir, run_dir / "last-checkpoint.pth.tar"):  # the folder, or the README's missing file
        caplog.clear()
        out = train(small_config(tiny_dataset, **{"train_params.max_steps": 4}),
                    TrainOptions(device="cpu", checkpoint=str(given), run_dir=None, log_dir=str(tmp_path),
                                 config=str(ROOT / "config/golden-64.yaml")))
        assert out == run_dir  # resumed into the checkpoint's own run folder
        lines = [r.getMessage() for r in caplog.records if "resuming from" in r.getMessage()]
        assert len(lines) == 1 and "00000000-checkpoint.pth.tar (step 3)" in lines[0], lines
        assert "missing" in lines[0]
        assert read_checkpoint(run_dir / "last-checkpoint.pth.tar")["stillmotion"]["step"] == 4
        (run_dir / "last-checkpoint.pth.tar").unlink()
    # steps 4 and 5 of the first run were purged when the runs after step 3 logged them again
    assert logged_steps(run_dir) == [1, 2, 3, 4]


def test_frame_damaged_after_the_dataset_check_is_one_line_from_a_dataloader_worker(tiny_dataset, tmp_path,
                                                                                    monkeypatch):
    import shutil

    import footage.sources

    root = tmp_path / "data"
    shutil.copytree(tiny_dataset, root)
    for frame in (root / "train").glob("*/*.png"):  # every training frame damaged, so the first step meets one
        frame.write_bytes(b"not a png")
    monkeypatch.setattr(footage.sources, "frame_file_problem", lambda path: None)  # damage after the check
    cfg = small_config(root, **{"train_params.num_workers": 1})
    with pytest.raises(UserError) as caught:
        train(cfg, args_for(tmp_path / "run"))
    message = str(caught.value)
    assert "\n" not in message and "DataLoader" not in message, message
    assert message.startswith("frame ") and "of video" in message and "cannot read image" in message
