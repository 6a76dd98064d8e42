"""Tests for engine/hardware.py (the CPU line benchmarks print) and the bf16 fallback where bf16 is not native."""
import pytest
import torch

from engine.animate import Animator
from engine.build import build_networks
from engine.config import load_config
from engine.hardware import FLAGS, bf16_native, cpu_summary
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    return build_networks(load_config(ROOT / "config" / "golden-64.yaml")["model_params"])


def no_native_bf16(monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)


def test_bf16_falls_back_to_fp32_with_one_notice_where_it_is_not_native(nets, monkeypatch, caplog):
    no_native_bf16(monkeypatch)
    assert not bf16_native()
    with caplog.at_level("WARNING", logger="engine.animate"):
        animator = Animator(kp_detector=nets.kp_detector, generator=nets.generator, frame_shape=(64, 64),
                            dtype="bf16")
    notices = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert animator.dtype == "fp32"
    assert len(notices) == 1 and notices[0].startswith("notice: ") and "fp32" in notices[0]
    assert "bf16 native: no" in cpu_summary()


@pytest.mark.parametrize("capability", ["_is_avx512_bf16_supported", "_is_amx_tile_supported"])
def test_bf16_stays_where_the_cpu_has_it(capability, nets, monkeypatch, caplog):
    no_native_bf16(monkeypatch)
    monkeypatch.setattr(torch.cpu, capability, lambda: True)
    animator = Animator(kp_detector=nets.kp_detector, generator=nets.generator, frame_shape=(64, 64), dtype="bf16")
    assert animator.dtype == "bf16" and not [r for r in caplog.records if r.levelname == "WARNING"]
    fp32 = Animator(kp_detector=nets.kp_detector, generator=nets.generator, frame_shape=(64, 64), dtype="fp32")
    assert fp32.dtype == "fp32"


def test_cpu_summary_names_the_cpu_and_the_flags_proc_cpuinfo_lists():
    line = cpu_summary()
    with open("/proc/cpuinfo") as f:
        text = f.read()
    name = next(row.split(":", 1)[1].strip() for row in text.splitlines() if row.startswith("model name"))
    flags = set(next(row.split(":", 1)[1] for row in text.splitlines() if row.startswith("flags")).split())
    assert line.startswith(name + ",")
    listed = line.split("; ")[1].split()
    assert [f for f in FLAGS if f in flags] == listed or (not flags & set(FLAGS) and listed[0] == "none")
    assert f"{torch.get_num_threads()} threads" in line
