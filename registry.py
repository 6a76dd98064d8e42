"""The one plug-in registry (name -> class or function) behind metrics, flows, stages, face and depth backends."""
from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterator, Mapping

from errors import UserError


class Registry(Mapping):
    """Names -> registered objects, in registration order; reads like a dict.

    kind: what is registered, as the messages name it ("metric", "flow method", ...).
    builtin_modules: modules whose import registers the built-in entries; load_builtins() imports them
    (lazily, so importing the family stays cheap).
    """

    def __init__(self, kind: str, builtin_modules: tuple[str, ...] = ()):
        self.kind = kind
        self.builtin_modules = tuple(builtin_modules)
        self._items: dict[str, object] = {}

    def register(self, name: str, **attributes) -> Callable:
        """Decorator: make a class (or a function) available as `name`; a class gets `name` and `attributes`
        set on it. A second, different object under one name is a ValueError (a re-import of the same
        class, which has the same qualified name, replaces it)."""

        def add(obj):
            old = self._items.get(name)
            if old is not None and old is not obj and old.__qualname__ != obj.__qualname__:
                raise ValueError(f"{self.kind} {name!r} is already registered by {old.__name__}")
            if inspect.isclass(obj):
                obj.name = name
                for key, value in attributes.items():
                    setattr(obj, key, value)
            self._items[name] = obj
            return obj

        return add

    def load_builtins(self) -> None:
        for module in self.builtin_modules:
            importlib.import_module(module)

    def get(self, name: str):
        """The object registered as `name`; UserError naming the choices when there is none."""
        if name not in self._items:
            raise self.unknown(name)
        return self._items[name]

    def unknown(self, name: str, choices=None) -> UserError:
        """The one-line error for a name nobody registered; choices: what to offer (default: every name)."""
        choices = list(self._items) if choices is None else list(choices)
        return UserError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(choices)}")

    def copy(self) -> Registry:
        """A registry with the same entries (tests add entries to a copy)."""
        other = Registry(self.kind, self.builtin_modules)
        other._items = dict(self._items)
        return other

    def __getitem__(self, name: str):
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)
