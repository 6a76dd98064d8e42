"""What the CPU offers (model name, AVX-512, bf16, VNNI, AMX) and whether bfloat16 runs natively on it."""
from __future__ import annotations

import platform
from functools import lru_cache

import torch

# /proc/cpuinfo flags worth knowing for inference speed, in the order they are printed
FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


@lru_cache(maxsize=1)
def _cpuinfo() -> tuple[str, frozenset]:
    """(model name, flags) from /proc/cpuinfo; (platform.processor(), {}) where there is none."""
    name, flags = "", frozenset()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and not name:
                    name = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = frozenset(value.split())
                if name and flags:
                    break
    except OSError:
        pass
    return name or platform.processor() or platform.machine() or "unknown CPU", flags


def bf16_native() -> bool:
    """True when this CPU computes bfloat16 in hardware (avx512_bf16 or AMX), as torch itself detects it.

    Without it, torch emulates bf16 matrix products, several times slower than fp32.
    """
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def cpu_summary() -> str:
    """One line naming the CPU and its capabilities, e.g.
    'AMD EPYC, 2 threads, torch AVX512; avx2 avx512f avx512_vnni avx512_bf16; bf16 native: yes'."""
    name, flags = _cpuinfo()
    present = [f for f in FLAGS if f in flags] or ["none of " + "/".join(FLAGS)]
    return (f"{name}, {torch.get_num_threads()} threads, torch {torch.backends.cpu.get_cpu_capability()}; "
            f"{' '.join(present)}; bf16 native: {'yes' if bf16_native() else 'no'}")
