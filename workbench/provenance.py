"""Run metadata: everything needed to tell how a result was produced.

:func:`provenance` gathers the seed, the config (as plain data), the models, the package
versions that shape results, the Python version and the platform. Studies put it in every
stored run's metadata, with the gateway's LLM accounting.
"""

from __future__ import annotations

import dataclasses
import platform
import sys
from collections.abc import Iterable, Mapping
from importlib import metadata
from typing import Any

__all__ = ["PACKAGES", "config_dict", "provenance", "versions"]

#: Distributions whose versions are recorded (name shown -> distribution name).
PACKAGES: dict[str, str] = {
    "workbench": "interactionist-workbench",
    "mesa": "mesa",
    "litellm": "litellm",
    "xllamacpp": "xllamacpp",
    "networkx": "networkx",
    "numpy": "numpy",
    "pandas": "pandas",
}


def versions() -> dict[str, str | None]:
    """Installed versions of :data:`PACKAGES` (None when one is missing)."""
    found: dict[str, str | None] = {}
    for name, dist in PACKAGES.items():
        try:
            found[name] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def config_dict(config: Any) -> dict[str, Any]:
    """A config dataclass (or mapping) as JSON-friendly plain data (tuples become lists)."""
    data = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)

    def plain(value: Any) -> Any:
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        if isinstance(value, Mapping):
            return {str(k): plain(v) for k, v in value.items()}
        if value is None or isinstance(value, bool | int | float | str):
            return value
        return repr(value)

    return plain(data)


def provenance(
    *,
    seed: int,
    config: Any = None,
    models: Iterable[str] = (),
    accounting: Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Metadata of one run.

    Parameters
    ----------
    seed : int
        The seed the run actually used (drawn if the user gave none).
    config : dataclass, mapping or None
        The run's configuration.
    models : iterable of str
        Model strings of the persons in the run (rule specs included).
    accounting : mapping or None
        LLM accounting totals (calls, cache hits, tokens, latency, cost).
    **extra
        Further fields (e.g. ``complete=False`` for an interrupted run).

    Returns
    -------
    dict
        ``seed``, ``config``, ``models``, ``versions``, ``python``, ``platform``,
        ``accounting`` and the extra fields.
    """
    return {
        "seed": int(seed),
        "config": config_dict(config) if config is not None else {},
        "models": sorted(set(models)),
        "versions": versions(),
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
        "executable": sys.executable,
        "accounting": dict(accounting or {}),
        **extra,
    }
