"""Registries: the one list of studies, rules or schedules that every front end reads.

The CLI, the Explorer, sweeps and the conformance tests all read a :class:`Registry`, so
a study, rule or schedule registered once (a decorator or one line) is everywhere at once.
A name is registered once: registering another object under a taken name is an error, so
importing a module can never replace a built-in silently. :meth:`Registry.scope` undoes
every registration made inside it, which is how a test registers a throwaway entry
without leaving it behind for the next test.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from workbench.errors import ConfigError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind, in registration order.

    Parameters
    ----------
    kind : str
        What the entries are, as an error message names them (``"study"``, ``"rule"``).
    key : callable or None
        Reads an entry's name (e.g. ``lambda cls: cls.name``) for :meth:`register` used
        as a plain decorator.
    loader : callable or None
        Called once before the first read: it imports the modules that register entries
        (plugins), so registering stays a decorator in those modules.
    """

    def __init__(
        self,
        kind: str,
        key: Callable[[T], str] | None = None,
        loader: Callable[[], None] | None = None,
    ) -> None:
        self.kind = kind
        self._key = key
        self._entries: dict[str, T] = {}
        self._loader = loader

    def _load(self) -> None:
        """Run the loader once, before the first read (e.g. to import plugin modules)."""
        loader, self._loader = self._loader, None
        if loader is not None:
            loader()

    def register(self, entry: T | None = None, *, name: str | None = None):
        """Register ``entry`` under ``name`` (default: its key); usable as a decorator.

        Registering the same object twice is harmless (a module imported twice);
        another object under a taken name is a :class:`ConfigError`.
        """

        def add(obj: T) -> T:
            key = name if name is not None else self._key(obj) if self._key else None
            if not isinstance(key, str) or not key:
                raise ConfigError(f"a {self.kind} needs a name to be registered, got {key!r}")
            held = self._entries.get(key)
            if held is not None and held is not obj and _origin(held) != _origin(obj):
                raise ConfigError(
                    f"{self.kind} {key!r} is already registered ({_origin(held)}); "
                    "choose another name"
                )
            self._entries[key] = obj
            return obj

        return add if entry is None else add(entry)

    def get(self, name: str) -> T:
        """The entry called ``name``, or a one-line :class:`ConfigError` listing the names."""
        self._load()
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise ConfigError(
                f"unknown {self.kind} {name!r}; choose one of {', '.join(self._entries)}"
            ) from None

    @contextlib.contextmanager
    def scope(self) -> Iterator[Registry[T]]:
        """Within the block, registrations are allowed; on leaving it they are undone."""
        self._load()
        saved = dict(self._entries)
        try:
            yield self
        finally:
            self._entries.clear()
            self._entries.update(saved)

    # the read-only mapping protocol, so ``name in REG``, ``REG[name]``, ``list(REG)`` work
    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __getitem__(self, name: str) -> T:
        self._load()
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        self._load()
        return iter(list(self._entries))

    def __len__(self) -> int:
        self._load()
        return len(self._entries)

    def keys(self) -> list[str]:
        self._load()
        return list(self._entries)

    def values(self) -> list[T]:
        self._load()
        return list(self._entries.values())

    def items(self) -> list[tuple[str, T]]:
        self._load()
        return list(self._entries.items())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"


def _origin(obj: object) -> str:
    """Where ``obj`` was defined: a class re-created by reloading its module is the same."""
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}"
