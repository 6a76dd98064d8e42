"""The stage registry: register_stage, get_stage, available_stages, and parsing a --stages list."""
from __future__ import annotations

import importlib
from collections.abc import Callable

from errors import UserError
from registry import Registry
from stages.base import Stage

_REGISTRY = Registry("stage")

# Built-in stages, imported by name only when asked for (each module registers its stage on import).
BUILTIN_MODULES = {"depth": "stages.depth", "dream": "stages.dream", "style": "stages.style"}


def register_stage(name: str) -> Callable[[type[Stage]], type[Stage]]:
    """Class decorator: make a Stage subclass available as `name`."""
    return _REGISTRY.register(name)


def _import_builtin(name: str) -> str | None:
    """Import the module of built-in stage `name`; None when it worked, else why it did not."""
    module = BUILTIN_MODULES.get(name)
    if module is None or name in _REGISTRY:
        return None
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name == module:
            return f"its module {module} is not in this checkout"
        return f"{module} needs the package {err.name!r} (pip install -r requirements.txt)"
    return None


def known_stage_names() -> set[str]:
    """Built-in stage names and every registered one, without importing anything."""
    return set(BUILTIN_MODULES) | set(_REGISTRY)


def available_stages() -> list[str]:
    """Names of the stages that can be used here (built-in modules that import, plus any registered)."""
    for name in BUILTIN_MODULES:
        _import_builtin(name)
    return sorted(_REGISTRY)


def get_stage(name: str) -> type[Stage]:
    """The Stage class registered as `name`; UserError naming the known stages when there is none."""
    problem = _import_builtin(name)
    if name in _REGISTRY:
        return _REGISTRY[name]
    if problem is not None:
        raise UserError(f"stage {name!r} is unavailable: {problem}")
    raise _REGISTRY.unknown(name, available_stages())


def parse_stage_list(text) -> list[str]:
    """'dream, style,depth' (or a list) -> ['dream', 'style', 'depth'], each checked with get_stage."""
    names = [n.strip() for n in text.split(",")] if isinstance(text, str) else [str(n).strip() for n in text]
    names = [n for n in names if n]
    if not names:
        raise UserError("no stage given; pass a comma-separated list such as --stages depth,style")
    for name in names:
        get_stage(name)
    return names
