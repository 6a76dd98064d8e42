"""Shared pytest fixtures: where the golden data and the real media live."""
import logging
import os
from pathlib import Path

import pytest
import torch

if os.environ.get("PYTEST_XDIST_WORKER"):
    # pytest-xdist runs one worker per core (pyproject.toml addopts): torch's default of one thread per core
    # in every worker would oversubscribe the cores. The programs the tests start inherit the setting.
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)

# face_alignment decodes its heatmaps with two numba-jitted loops over the 68 points; compiling them costs
# 6 s of the one test that runs FAN (random weights, plumbing only), running them as Python a few ms. Set
# before face_alignment imports numba (at collection).
os.environ.setdefault("NUMBA_DISABLE_JIT", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
GOLDEN = SHARED / "golden"
MEDIA = SHARED / "media"


@pytest.fixture(scope="session")
def media_dir() -> Path:
    if not MEDIA.is_dir():
        pytest.fail(f"real media missing: expected {MEDIA} (the shared folder beside the checkout)")
    return MEDIA


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    if not GOLDEN.is_dir():
        pytest.fail(f"golden data missing: expected {GOLDEN}")
    return GOLDEN


@pytest.fixture(autouse=True)
def restored_logging():
    """A CLI run in-process sets the root logger's level and handler (reporting.console); put them back, so
    that what one test's CLI turned on does not add lines to the next test's captured output."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.setLevel(level)
    root.handlers[:] = handlers


@pytest.fixture(scope="session", autouse=True)
def isolated_torch_home(tmp_path_factory):
    """Tests never read or write the user's torch hub cache: TORCH_HOME points at an empty folder."""
    previous = os.environ.get("TORCH_HOME")
    os.environ["TORCH_HOME"] = str(tmp_path_factory.mktemp("torch_home"))
    yield
    if previous is None:
        os.environ.pop("TORCH_HOME", None)
    else:
        os.environ["TORCH_HOME"] = previous


@pytest.fixture(scope="session")
def bundled_onnx(tmp_path_factory) -> Path:
    """The bundled model exported to ONNX once per session (python -m engine.export --onnx; ~10 s)."""
    from filelock import FileLock

    from engine.export import BUNDLED
    from engine.inference import load_model
    from engine.onnx_export import export_onnx

    # once per run, not once per xdist worker: the workers' temp folders sit in this run's own folder
    # (without xdist the base is this run's folder itself; its parent holds earlier runs)
    base = tmp_path_factory.getbasetemp()
    run = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = run / "onnx-vox-128"
    with FileLock(str(run / "onnx-vox-128.lock")):
        if not (run / "onnx-vox-128.done").is_file():
            export_onnx(load_model(BUNDLED, device="cpu"), folder)
            (run / "onnx-vox-128.done").touch()
    return folder


def write_random_checkpoint(path, config_path=ROOT / "config" / "golden-64.yaml", seed: int = 0):
    """A checkpoint in our format with seeded random weights of `config_path`'s networks (the config stored in
    it, so it loads without --config); returns the networks."""
    import torch

    from engine.build import build_networks
    from engine.checkpoint import save_checkpoint
    from engine.config import load_config

    config = load_config(config_path)
    torch.manual_seed(seed)
    nets = build_networks(config["model_params"])
    save_checkpoint(path, {"kp_detector": nets.kp_detector.state_dict(), "generator": nets.generator.state_dict(),
                           "epoch": 0, "stillmotion": {"config": config}})
    return nets

