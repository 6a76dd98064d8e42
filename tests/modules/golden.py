"""Loading the reference FOMM golden file and building our networks from its stored configs and weights."""
import copy
from functools import lru_cache

import torch

from modules.discriminator import MultiScaleDiscriminator
from modules.generator import OcclusionAwareGenerator
from modules.keypoint_detector import KPDetector
from tests.conftest import GOLDEN

# Tolerance: |ours - reference| <= ATOL + RTOL * |reference|, element by element.
# The golden tensors were made with one torch build; another build (another BLAS/oneDNN kernel, another
# summation order) rounds float32 differently. A value of 0.99 carries a float32 rounding step of 6e-8,
# and a few hundred accumulated steps reach 1e-5 with no model difference at all (torch 2.14.1 misses a
# pure 1e-5 bound by up to 1.4e-5 on values near 1). The relative term scales the allowance with the
# value, as float32 rounding does; a real model difference (a wrong layer, a missing term) is orders of
# magnitude larger and still fails.
ATOL = 1e-5
RTOL = 1e-5
TOL = ATOL
# Where float32 itself cannot hold 1e-5: the discriminator's instance norm divides by a channel's standard
# deviation, and on a nearly flat channel (the generator's smooth prediction) that multiplies a float32
# rounding step by up to 1e3. The reference's own float32 values are then 7e-4 from the float64 result, and
# ours, on another CPU's kernels, as far on the other side. `float32_noise` measures that floor on this
# machine (the same network run in float64); only a tensor whose floor exceeds ATOL gets NOISE_FACTOR times
# it on top. A real difference (a wrong eps, slope or layer) moves these maps by 1e-2 to 1 and still fails.
NOISE_FACTOR = 3


@lru_cache(maxsize=1)
def golden():
    return torch.load(GOLDEN / "fomm_reference_small.pt", weights_only=True)


def build(model_params, state_dicts=None, **extra_common):
    """(kp_detector, generator, discriminator) from model_params, loaded with the given state_dicts."""
    common = dict(model_params["common_params"], **extra_common)
    torch.manual_seed(0)
    generator = OcclusionAwareGenerator(**model_params["generator_params"], **common)
    discriminator = MultiScaleDiscriminator(**model_params["discriminator_params"], **common)
    kp_detector = KPDetector(**model_params["kp_detector_params"], **common)
    if state_dicts is not None:
        for name, net in (("kp_detector", kp_detector), ("generator", generator), ("discriminator", discriminator)):
            net.load_state_dict(copy.deepcopy(state_dicts[name]), strict=True)
    return kp_detector, generator, discriminator


def fresh(mode="eval", variant=None, **extra_common):
    g = golden() if variant is None else golden()["variants"][variant]
    nets = build(g["model_params"] if variant else golden()["config"]["model_params"], g["state_dicts"], **extra_common)
    for net in nets:
        net.train(mode == "train")
    return nets


def _to_double(value):
    if isinstance(value, dict):
        return {k: _to_double(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_double(v) for v in value)
    return value.double() if isinstance(value, torch.Tensor) and value.is_floating_point() else value


def _gap(a, b):
    if isinstance(a, dict):
        return {k: _gap(a[k], b[k]) for k in a}
    if isinstance(a, (list, tuple)):
        return [_gap(x, y) for x, y in zip(a, b)]
    return (a.double() - b).abs().max().item() if isinstance(a, torch.Tensor) and a.is_floating_point() else 0.0


def float32_noise(net, *args, **kwargs):
    """Per tensor of net's output: max |float32 - float64|, the rounding floor of this computation here."""
    with torch.no_grad():
        out32 = net(*args, **kwargs)
        out64 = copy.deepcopy(net).double()(*_to_double(args), **_to_double(kwargs))
    return _gap(out32, out64)


def assert_close(actual, expected, name, tol=ATOL, rtol=RTOL, noise=None):
    """Recursively compare dicts/lists/tensors to tol + rtol * |expected|; names the first mismatch.

    noise: float32_noise's structure for `actual`; a tensor whose float32 floor exceeds tol may differ by
    NOISE_FACTOR times that floor more."""
    if isinstance(expected, dict):
        for key in expected:
            assert key in actual, f"{name}: missing key {key!r} (have {sorted(actual)})"
            assert_close(actual[key], expected[key], f"{name}.{key}", tol, rtol, None if noise is None else noise[key])
        return
    if isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), f"{name}: length {len(actual)} != {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_close(a, e, f"{name}[{i}]", tol, rtol, None if noise is None else noise[i])
        return
    if noise is not None and noise > tol:
        tol = tol + NOISE_FACTOR * noise
    if isinstance(expected, torch.Tensor):
        actual = torch.as_tensor(actual)
        assert actual.shape == expected.shape, f"{name}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
        if expected.dtype in (torch.int64, torch.int32, torch.bool):
            assert torch.equal(actual.to(expected.dtype), expected), f"{name}: integer values differ"
            return
        if not expected.numel():
            return
        diff = (actual.double() - expected.double()).abs()
        excess = (diff - (tol + rtol * expected.double().abs())).max().item()
        assert excess <= 0, (f"{name}: max abs diff {diff.max().item():.3g} exceeds {tol:g} + {rtol:g} x |reference| "
                             f"by {excess:.3g}")
        return
    bound = tol + rtol * abs(float(expected))
    assert abs(float(actual) - float(expected)) <= bound, f"{name}: {actual} != {expected} (bound {bound:.3g})"
