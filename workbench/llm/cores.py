"""How many cores this process may use, and how many of them are free.

One home for the count that both the embedded model's threads
(``WORKBENCH_LOCAL_THREADS=auto``) and the gateway's worker processes
(``WORKBENCH_GATEWAY_WORKERS=auto``) are derived from.
"""

from __future__ import annotations

import os

from workbench.errors import ConfigError

__all__ = ["cores", "count_from_env", "free_cores"]


def cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def free_cores() -> int:
    """Cores not already busy: :func:`cores` minus the rounded 1-minute load average, >= 1."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average on this platform
        load = 0.0
    return max(1, cores() - round(load))


def count_from_env(name: str, maximum: int, what: str) -> int | None:
    """The count set in environment variable ``name``; None when unset or ``auto``.

    Raises
    ------
    ConfigError
        In one line, for a value that is neither ``auto`` nor a whole number from 1 to
        ``maximum``; ``what`` names the count in the message.
    """
    text = os.environ.get(name, "").strip().lower()
    if text in ("", "auto"):
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= maximum:
        raise ConfigError(
            f"{name}={text!r} is not {what}; use auto (one per free core) or a whole "
            f"number from 1 to {maximum}"
        )
    return value
