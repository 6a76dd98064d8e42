"""The optical-flow registry: FlowMethod, register_flow, get_flow, available_flows, needs_motion."""
from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable

import numpy as np

from errors import UserError

# name -> a FlowMethod subclass (instantiated with options) or a plain function (a, b) -> flow.
_REGISTRY: dict[str, object] = {}

# Modules whose import registers more flow methods (imported lazily: they may need more than OpenCV).
_BUILTIN_MODULES = ("motion.flow", "motion.motion_field", "motion.ensemble")


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

    def add(obj):
        if name in _REGISTRY and _REGISTRY[name] is not obj:
            raise ValueError(f"flow method {name!r} is already registered")
        if inspect.isclass(obj):
            obj.name = name
        _REGISTRY[name] = obj
        return obj

    return add


def _load_builtins() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


def available_flows() -> list[str]:
    """Registered flow method names, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def get_flow(name: str, **options):
    """A ready flow method: an instance of the registered class (with `options`) or the registered function."""
    _load_builtins()
    if name not in _REGISTRY:
        raise UserError(f"unknown flow method {name!r}; choose one of: {', '.join(available_flows())}")
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
