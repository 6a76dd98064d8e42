"""The metric registry and the image metrics: L1, PSNR, SSIM and LPIPS, computed frame by frame.

A metric is a small class registered by name (`@register_metric("l1")`). It compares one generated frame
with the real one and returns a value per column it reports (`frame(generated, real) -> {column: value}`),
or None for a column when the frame does not count (e.g. no face found). Frames are HxWx3 float32 RGB
in [0, 1] (numpy). `Stats` accumulates the frame values into per-video and per-run mean/std/count, so
memory does not grow with video length. A metric that cannot run here (a package or weights missing)
says why in `unavailable()` and is reported as unavailable, never faked.

Columns (lower is better unless marked):
    l1     mean |generated - real| over pixels and channels on [0, 1] images (FOMM's L1)
    psnr   peak signal-to-noise ratio in dB, data range 1 (higher is better; capped at 100 dB for identical
           frames, so that a frame reconstructed exactly does not make the mean infinite)
    ssim   structural similarity (Wang et al. 2004: Gaussian window sigma 1.5, as the papers report it; over the
           colour channels; higher is better)
    lpips  LPIPS v0.1 with the AlexNet trunk (the `lpips` package's linear layers + torchvision's ImageNet
           AlexNet weights, which must already be in torch.hub's cache: nothing is downloaded)
    warping_error  temporal warping error of the generated video (Lai et al. 2018, evaluation.warping_error):
           each generated frame warped onto the previous one along the optical flow (Farneback) of the real
           frames, occluded pixels left out; one value per consecutive pair, none for a video's first frame
"""
from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from errors import UserError
from evaluation.warping_error import WarpingError
from registry import Registry

PSNR_CAP_DB = 100.0

# name -> class, in registration order (which is the column order of reports)
METRICS: Registry = Registry("metric")


def register_metric(name: str) -> Callable[[type[Metric]], type[Metric]]:
    """Class decorator: make a Metric subclass available as `name` (its columns default to (name,))."""

    def add(cls: type[Metric]) -> type[Metric]:
        METRICS.register(name)(cls)
        if not cls.columns:
            cls.columns = (name,)
        return cls

    return add


def metric_names() -> list[str]:
    """Every registered metric, in report order."""
    return list(METRICS)


class MetricContext:
    """What metrics share during one evaluation: the torch device and lazily built shared resources
    (e.g. one face analyser used by both AKD and AED, so each frame is searched for a face once)."""

    def __init__(self, device="cpu"):
        self.device = device
        self._shared: dict[str, object] = {}

    def shared(self, key: str, factory: Callable[[], object]):
        """The resource stored under `key`, built by `factory()` on first use."""
        if key not in self._shared:
            self._shared[key] = factory()
        return self._shared[key]


class Metric:
    """One registered metric: compares a generated frame with the real one, frame by frame.

    Subclasses set `columns` (the values they report; default: the metric's name), `higher_is_better`
    (the columns where bigger is better), override `unavailable()` when they need something that may be
    absent, and implement `frame()`. Temporal metrics override `start_video()` to drop their state.
    """

    name: str = ""
    columns: tuple[str, ...] = ()
    higher_is_better: frozenset[str] = frozenset()

    def __init__(self, context: MetricContext):
        self.context = context

    @classmethod
    def unavailable(cls, context: MetricContext) -> str | None:
        """None when the metric can run here, else one line naming what is missing and how to get it."""
        return None

    def describe(self) -> str | None:
        """One line about what the metric runs on (e.g. its face backend), for the report; None if nothing."""
        return None

    def start_video(self) -> None:
        """Called before the first frame of every video."""

    def frame(self, generated: np.ndarray, real: np.ndarray) -> dict[str, float | None]:
        raise NotImplementedError


def build_metrics(names: Iterable[str] | None = None,
                  context: MetricContext | None = None) -> tuple[list[Metric], dict[str, str]]:
    """Instances of the metrics that can run here, and {name: reason} for those that cannot.

    names: which metrics (default: every registered one); an unknown name is a UserError.
    """
    context = context or MetricContext()
    names = metric_names() if names is None else list(names)
    for name in names:
        METRICS.get(name)  # an unknown name fails before anything is built
    ready, skipped = [], {}
    for name in names:
        cls = METRICS[name]
        reason = cls.unavailable(context)
        if reason is None:
            try:
                ready.append(cls(context))
                continue
            except UserError as exc:  # e.g. no face backend can give what it needs
                reason = str(exc)
        skipped[name] = reason
    return ready, skipped


def check_pair(generated: np.ndarray, real: np.ndarray) -> None:
    """Both frames HxWx3 of the same size."""
    if generated.shape != real.shape or generated.ndim != 3 or generated.shape[2] != 3:
        raise ValueError(f"metrics compare two HxWx3 frames of one size, got {generated.shape} and {real.shape}")


# ----------------------------------------------------------------------------------------- aggregation


class Stats:
    """Running count, mean and variance (Welford) per column; None values are skipped.

    Used per video (the CSV rows) and per run (the summary), so nothing grows with video length.
    """

    def __init__(self):
        self._n: dict[str, int] = {}
        self._mean: dict[str, float] = {}
        self._m2: dict[str, float] = {}

    def add(self, values: dict[str, float | None]) -> None:
        for key, value in values.items():
            if value is None:
                self._n.setdefault(key, 0)
                self._mean.setdefault(key, 0.0)
                self._m2.setdefault(key, 0.0)
                continue
            value = float(value)
            n = self._n.get(key, 0) + 1
            mean = self._mean.get(key, 0.0)
            delta = value - mean
            mean += delta / n
            self._m2[key] = self._m2.get(key, 0.0) + delta * (value - mean)
            self._mean[key] = mean
            self._n[key] = n

    def count(self, key: str) -> int:
        return self._n.get(key, 0)

    def mean(self, key: str) -> float | None:
        return self._mean[key] if self._n.get(key) else None

    def std(self, key: str) -> float | None:
        """Population standard deviation (0 for one value); None without values."""
        n = self._n.get(key, 0)
        return math.sqrt(max(self._m2[key], 0.0) / n) if n else None

    def summary(self, key: str) -> dict:
        return {"mean": self.mean(key), "std": self.std(key), "count": self.count(key)}

    def keys(self) -> list[str]:
        return list(self._n)


# ----------------------------------------------------------------------------------------- image metrics


def l1_distance(generated: np.ndarray, real: np.ndarray) -> float:
    """Mean absolute difference of two [0, 1] images."""
    return float(np.mean(np.abs(generated.astype(np.float32) - real.astype(np.float32))))


def psnr(generated: np.ndarray, real: np.ndarray) -> float:
    """PSNR in dB for data range 1, capped at PSNR_CAP_DB (identical images)."""
    from skimage.metrics import mean_squared_error

    mse = mean_squared_error(real.astype(np.float64), generated.astype(np.float64))
    return PSNR_CAP_DB if mse <= 10 ** (-PSNR_CAP_DB / 10) else float(10 * np.log10(1.0 / mse))


SSIM_SIGMA = 1.5  # Wang et al. 2004's Gaussian window (11x11), as the papers report it and as the SSIM loss uses


def ssim(generated: np.ndarray, real: np.ndarray) -> float:
    """Structural similarity as Wang et al. 2004 define it (skimage, Gaussian window sigma 1.5, population
    covariance), averaged over the colour channels, data range 1. Frames under 11 px a side are refused."""
    from skimage.metrics import structural_similarity

    if min(real.shape[0], real.shape[1]) < 11:
        raise ValueError(f"SSIM needs frames of at least 11x11 pixels (its Gaussian window), got {real.shape[:2]}")
    return float(structural_similarity(real.astype(np.float64), generated.astype(np.float64), channel_axis=2,
                                       data_range=1.0, gaussian_weights=True, sigma=SSIM_SIGMA,
                                       use_sample_covariance=False))


@register_metric("l1")
class L1(Metric):
    def frame(self, generated, real):
        check_pair(generated, real)
        return {"l1": l1_distance(generated, real)}


@register_metric("psnr")
class PSNR(Metric):
    higher_is_better = frozenset({"psnr"})

    def frame(self, generated, real):
        check_pair(generated, real)
        return {"psnr": psnr(generated, real)}


@register_metric("ssim")
class SSIM(Metric):
    higher_is_better = frozenset({"ssim"})

    def frame(self, generated, real):
        check_pair(generated, real)
        return {"ssim": ssim(generated, real)}


def alexnet_weights_file() -> Path:
    """Where torchvision looks for its ImageNet AlexNet weights (torch.hub cache); may not exist."""
    import torch
    from torchvision.models import AlexNet_Weights

    name = AlexNet_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[-1]
    return Path(torch.hub.get_dir()) / "checkpoints" / name


@register_metric("lpips")
class LPIPS(Metric):
    """LPIPS v0.1, AlexNet trunk, as in the `lpips` package; inputs scaled from [0, 1] to [-1, 1]."""

    @classmethod
    def unavailable(cls, context):
        if importlib.util.find_spec("lpips") is None:
            return "python package lpips is not installed; pip install lpips"
        weights = alexnet_weights_file()
        if not weights.is_file():
            return (f"torchvision's ImageNet AlexNet weights are not cached at {weights}; copy "
                    "alexnet-owt-7be5be79.pth there (nothing is downloaded at run time)")
        return None

    def __init__(self, context):
        super().__init__(context)
        import warnings

        import lpips

        def load():
            with warnings.catch_warnings():  # lpips passes torchvision's deprecated `pretrained=` argument
                warnings.simplefilter("ignore", UserWarning)
                return lpips.LPIPS(net="alex", version="0.1", verbose=False).to(context.device).eval()

        self.net = context.shared("lpips_alex", load)  # one network for every system scored

    def describe(self):
        return f"lpips: v0.1 alex, backbone {alexnet_weights_file()}"

    def frame(self, generated, real):
        import torch

        check_pair(generated, real)

        def tensor(image):
            t = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None]
            return t.to(self.context.device) * 2 - 1

        with torch.no_grad():
            value = self.net(tensor(generated), tensor(real))
        return {"lpips": float(value.reshape(-1)[0])}


@register_metric("warping_error")
class WarpingErrorMetric(Metric):
    """Lai et al.'s warping error of the generated frames, with the flow of the real frames."""

    def __init__(self, context):
        super().__init__(context)
        self.meter = WarpingError(flow="farneback")

    def describe(self):
        return self.meter.method.describe()

    def start_video(self):
        self.meter.reset()

    def frame(self, generated, real):
        check_pair(generated, real)
        return {"warping_error": self.meter.update(generated, reference=real)}
