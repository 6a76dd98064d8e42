"""The optical-flow registry: FlowMethod, register_flow, get_flow, available_flows, needs_motion."""
from __future__ import annotations

import inspect
from collections.abc import Callable

import numpy as np

from errors import UserError
from registry import Registry

# name -> a FlowMethod subclass (instantiated with options) or a plain function (a, b) -> flow. The modules
# that register the built-in ones are imported lazily: they may need more than OpenCV.
_REGISTRY = Registry("flow method", builtin_modules=("motion.flow", "motion.motion_field", "motion.ensemble"))


class FlowMethod:
    """An optical-flow method: flow = method(a, b), with a(x) ~ b(x + flow(x)) (so warp(b, flow) ~ a).

    a and b are HxWx3 frames (float32 in [0, 1], or uint8); flow is HxWx2 float32 in pixels, (dx, dy).
    needs_motion: True for methods computed from the animation's motion instead of from the images
    (they provide from_motion(prev_motion, cur_motion, size) instead of __call__).
    """

    name = ""
    needs_motion = False

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def with_reliability(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(flow, reliability HxW in [0, 1] or None when the method has no own estimate of it)."""
        return self(a, b), None

    def describe(self) -> str:
        return f"flow: {self.name}"


def register_flow(name: str) -> Callable:
    """Decorator: make a FlowMethod subclass or a function (a, b) -> flow available as `name`."""
    return _REGISTRY.register(name)


def available_flows() -> list[str]:
    """Registered flow method names, sorted."""
    _REGISTRY.load_builtins()
    return sorted(_REGISTRY)


def get_flow(name: str, **options):
    """A ready flow method: an instance of the registered class (with `options`) or the registered function."""
    if name not in available_flows():
        raise _REGISTRY.unknown(name, available_flows())
    obj = _REGISTRY[name]
    if inspect.isclass(obj):
        try:
            return obj(**options)
        except TypeError as err:
            raise UserError(f"bad options for flow method {name!r}: {err}") from None
    if options:
        raise UserError(f"flow method {name!r} takes no options, got {', '.join(options)}")
    return obj


def needs_motion(method) -> bool:
    """Whether a flow method (from get_flow) is computed from the animation's motion, not from images."""
    return bool(getattr(method, "needs_motion", False))
