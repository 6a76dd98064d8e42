"""evaluation: reconstruction metrics behind a registry (L1, PSNR, SSIM, LPIPS, AKD/MKR, AED) and their reports."""
from evaluation import face_metrics  # noqa: F401 - registers akd and aed
from evaluation.metrics import (
    METRICS,
    Metric,
    MetricContext,
    Stats,
    build_metrics,
    metric_names,
    register_metric,
)

__all__ = ["METRICS", "Metric", "MetricContext", "Stats", "build_metrics", "metric_names", "register_metric"]
