"""Tests for the ONNX export and the onnxruntime Animator: graphs load, dynamic batch, torch parity on real frames."""
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from engine.animate import Animator
from engine.animate_onnx import OnnxAnimator
from engine.build import build_networks
from engine.checkpoint import save_checkpoint
from engine.config import load_config
from engine.export import BUNDLED
from engine.export import _main as export_main
from engine.inference import load_model
from engine.onnx_export import GRAPHS
from errors import UserError, run_cli
from tests.conftest import ROOT
from video import iter_frames, load_image

TOLERANCE = 1e-4  # the parity bound: onnxruntime vs torch fp32, max abs difference


@pytest.fixture(scope="module")
def vox256(tmp_path_factory):
    """A published-FOMM-layout checkpoint (no config inside) with random vox-256 weights, and its export.

    The Jacobian head starts at zero weights (every Jacobian the identity): small random weights there make
    the Jacobian path of the graphs matter. The output layer is scaled up 30x so the frames have contrast
    (a fresh generator's sigmoid output is 0.5 +- 0.003). The graphs bake the 256x256 size in, so this is
    the full size (~25 s of export on 2 cores)."""
    folder = tmp_path_factory.mktemp("vox256")
    config = load_config(ROOT / "config" / "vox-256.yaml")
    torch.manual_seed(0)
    nets = build_networks(config["model_params"])
    with torch.no_grad():
        nets.kp_detector.jacobian.weight.normal_(0, 0.01)
        nets.generator.final.weight.mul_(30)
    checkpoint = folder / "vox-cpk.pth.tar"
    save_checkpoint(checkpoint, {name: net.state_dict() for name, net in nets.items()} | {"epoch": 0})
    out = folder / "onnx"
    assert run_cli(export_main, ["--onnx", str(out), "--checkpoint", str(checkpoint),
                                 "--config", str(ROOT / "config" / "vox-256.yaml")]) == 0
    return checkpoint, out


def real_frames(media_dir, size, count=7, step=8):
    """audrey.jpg as the source and `count` frames of franck.mp4 (a different person, every `step`-th frame
    from 1.25 s on) as the driving video."""
    frames = list(iter_frames(media_dir / "franck.mp4", start=30, stop=30 + count * step, size=(size, size)))
    return load_image(media_dir / "audrey.jpg"), frames[::step]


def assert_parity(torch_animator, onnx_animator, source, frames):
    torch_animator.set_source(source)
    onnx_animator.set_source(source)
    np.testing.assert_allclose(onnx_animator.source_kp_array, torch_animator.source_kp_array, atol=TOLERANCE)
    expected = list(torch_animator.run(frames, return_motion=True))
    got = list(onnx_animator.run(frames, return_motion=True))
    assert [f.index for f in got] == list(range(len(frames)))
    for name in ("image", "kp", "kp_driving", "deformation", "occlusion"):
        worst = max(float(np.abs(getattr(a, name) - getattr(b, name)).max()) for a, b in zip(expected, got))
        assert worst <= TOLERANCE, (name, worst)
    # the frames differ from each other more than the two runtimes may: a frame mix-up would not pass
    assert np.abs(expected[0].image - expected[-1].image).max() > 10 * TOLERANCE


@pytest.mark.parametrize("which", ["bundled", "vox256"])
def test_the_three_graphs_load_with_dynamic_batch_and_grid_sample(which, bundled_onnx, vox256):
    folder = bundled_onnx if which == "bundled" else vox256[1]
    config = load_config(folder / "config.yaml")
    manifest = json.loads((folder / "export.json").read_text())
    assert sorted(p.name for p in folder.iterdir()) == sorted([*GRAPHS, "config.yaml", "export.json"])
    sessions = {}
    for name in GRAPHS:
        model = onnx.load(str(folder / name))
        onnx.checker.check_model(model)
        assert model.opset_import[0].version == manifest["opset"] >= 16  # GridSample needs opset 16
        sessions[name] = ort.InferenceSession(str(folder / name), providers=["CPUExecutionProvider"])
        for value in list(sessions[name].get_inputs()) + list(sessions[name].get_outputs()):
            assert isinstance(value.shape[0], str), (name, value.name, value.shape)  # a symbolic batch size
    grid_samples = [n for n in onnx.load(str(folder / "frame.onnx")).graph.node if n.op_type == "GridSample"]
    assert len(grid_samples) == 2  # the K+1 sparse motions and the feature warp (the "deformed" image is no output)
    align = config["model_params"]["generator_params"].get("align_corners", False)
    for node in grid_samples:
        attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert attributes["align_corners"] == int(align)
        assert attributes.get("mode", b"bilinear") == b"bilinear"
        assert attributes.get("padding_mode", b"zeros") == b"zeros"
    names = [i.name for i in sessions["frame.onnx"].get_inputs()]
    assert names == ["source", "source_features", "kp_source_value", "kp_source_jacobian", "kp_driving_value",
                     "kp_driving_jacobian"]
    assert [o.name for o in sessions["frame.onnx"].get_outputs()] == ["prediction", "deformation", "occlusion"]


def test_bundled_model_parity_on_real_frames(bundled_onnx, media_dir):
    """onnxruntime vs torch fp32 on audrey.jpg driven by franck.mp4, batch 3 over 7 frames (a partial batch)."""
    model = load_model(BUNDLED, device="cpu")
    source, frames = real_frames(media_dir, 128)
    assert_parity(Animator(model, batch_size=3), OnnxAnimator(bundled_onnx, batch_size=3, device="cpu"),
                  source, frames)


def test_random_vox256_parity_on_real_frames(vox256, media_dir):
    checkpoint, folder = vox256
    model = load_model(checkpoint, config_path=ROOT / "config" / "vox-256.yaml", device="cpu")
    source, frames = real_frames(media_dir, 256, count=4)
    assert_parity(Animator(model, batch_size=3), OnnxAnimator(folder, batch_size=3, device="cpu"), source, frames)


def test_absolute_motion_and_a_given_start_frame_match_torch(bundled_onnx, media_dir):
    model = load_model(BUNDLED, device="cpu")
    source, frames = real_frames(media_dir, 128, count=5)
    for options in ({"relative": False, "relative_jacobian": False}, {}):
        torch_animator = Animator(model, batch_size=2, **options)
        onnx_animator = OnnxAnimator(bundled_onnx, batch_size=2, **options)
        torch_animator.set_source(source)
        onnx_animator.set_source(source)
        initial = frames[3]
        expected = [f.image for f in torch_animator.run(frames, initial=initial)]
        got = [f.image for f in onnx_animator.run(frames, initial=onnx_animator.initial_keypoints(initial))]
        assert max(float(np.abs(a - b).max()) for a, b in zip(expected, got)) <= TOLERANCE


def test_export_refuses_a_folder_in_use_and_leaves_nothing_on_failure(tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    assert run_cli(export_main, ["--onnx", str(taken)]) == 2
    assert "already exists and is not an empty folder" in capsys.readouterr().err
    assert (taken / "keep.txt").read_text() == "mine" and len(list(taken.iterdir())) == 1
    assert run_cli(export_main, ["--onnx", str(tmp_path / "missing" / "out")]) == 2
    assert "does not exist; create it first" in capsys.readouterr().err
    not_a_checkpoint = tmp_path / "model.pth.tar"
    not_a_checkpoint.write_text("hello")
    assert run_cli(export_main, ["--onnx", str(tmp_path / "out"), "--checkpoint", str(not_a_checkpoint)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: cannot read checkpoint")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pth.tar", "taken"]


def test_onnx_animator_rejects_a_folder_that_is_not_an_export(tmp_path, bundled_onnx):
    with pytest.raises(UserError, match="not found"):
        OnnxAnimator(tmp_path / "nothing")
    with pytest.raises(UserError, match="frame.onnx missing"):
        OnnxAnimator(tmp_path)  # empty: everything missing
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("config.yaml", "keypoints.onnx", "source_encoder.onnx"):
        (broken / name).write_bytes((bundled_onnx / name).read_bytes())
    (broken / "frame.onnx").write_text("not a graph")
    with pytest.raises(UserError, match="onnxruntime cannot load"):
        OnnxAnimator(broken)
