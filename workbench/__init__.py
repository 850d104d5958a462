"""Interactionist Workbench: LLM societies on Mesa networks, canonical studies, analysis.

The top level holds the few names most work starts from; everything else lives in its
module (``workbench.society``, ``workbench.analysis``, ``workbench.llm``...). Names load on
first use, so ``import workbench`` stays cheap (no model library is imported).

- :func:`run`: one study by name, its config from keyword arguments;
- :data:`STUDIES`: the study registry (names -> :class:`Study` classes);
- :class:`Study`, :class:`StudyResult`: a canonical experiment and what a run returns;
- :class:`Society`, :func:`make_person`: a society of LLM and rule members, and a person;
- :class:`Design`: the person x situation factorial, isolated vs social;
- :class:`Sweep`: a grid x seeds of any study, on any executor, resumable;
- :class:`ResultStore`: the SQLite store of runs;
- :class:`Gateway`, :class:`GatewayConfig`: the road to a model.

Examples
--------
>>> import workbench
>>> result = workbench.run("asch", model="rule:conformist:0.3", seed=1)  # doctest: +SKIP
>>> result.summary  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import logging
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.design import Design
    from workbench.llm import Gateway, GatewayConfig
    from workbench.society import Society, make_person
    from workbench.store import ResultStore
    from workbench.studies import STUDIES, Study, StudyResult
    from workbench.sweep import Sweep

# A library's warnings go to the handlers its user configures, not to stderr by default:
# the front ends print the one line that matters.
logging.getLogger("workbench").addHandler(logging.NullHandler())

#: Each lazily loaded top-level name -> the module it comes from.
_HOME: dict[str, str] = {
    "Design": "workbench.design",
    "Gateway": "workbench.llm",
    "GatewayConfig": "workbench.llm",
    "ResultStore": "workbench.store",
    "STUDIES": "workbench.studies",
    "Society": "workbench.society",
    "Study": "workbench.studies",
    "StudyResult": "workbench.studies",
    "Sweep": "workbench.sweep",
    "make_person": "workbench.society",
}

__all__ = [
    "STUDIES",
    "Design",
    "Gateway",
    "GatewayConfig",
    "ResultStore",
    "Society",
    "Study",
    "StudyResult",
    "Sweep",
    "make_person",
    "run",
]


def run(
    study: str | type[Study],
    *,
    seed: int | None = None,
    gateway: Gateway | GatewayConfig | None = None,
    progress: bool = False,
    **fields: Any,
) -> StudyResult:
    """Run one study, its config built from keyword arguments.

    Parameters
    ----------
    study : str or Study subclass
        A name of :data:`STUDIES` (``"asch"``, ``"conventions"``...) or a study class.
    seed : int or None
        The run's seed (None: a fresh one, recorded in the result).
    gateway : Gateway, GatewayConfig or None
        A live gateway the run goes through (shared, as is), a config to build one for
        this run (closed at the end), or None: the study's default gateway.
    progress : bool
        Show a progress bar.
    **fields
        Config fields of the study, in any form the command line or a sweep accepts
        (``model="local/smollm2-135m"``, ``sizes=[3, 5]``, ``sizes="3,5"``); unset
        fields keep their defaults. An unknown field is a one-line
        :class:`~workbench.errors.ConfigError` naming the study's fields.

    Returns
    -------
    StudyResult
        Its ``decisions``, ``summary``, ``metadata`` (seed, config, versions, accounting).

    Raises
    ------
    ConfigError
        For an unknown study or field, or a value the field does not accept.
    StudyFailed
        When the run did not complete (its ``result`` holds what finished).

    Examples
    --------
    >>> workbench.run("asch", model="rule:conformist:0.3", subjects=4, seed=1)  # doctest: +SKIP
    """
    from workbench import config as config_
    from workbench.studies import get_study

    cls = get_study(study) if isinstance(study, str) else study
    config = config_.make(cls.Config, fields)
    own = None
    if isinstance(gateway, _load("GatewayConfig")):
        gateway = own = _load("Gateway")(gateway)
    try:
        return cls(config, seed=seed).run(gateway, progress=progress)
    finally:
        if own is not None:
            own.close()


def _load(name: str) -> Any:
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return _load(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    # the public names and the loaded submodules, not this module's own helpers
    loaded = [
        name
        for name, value in globals().items()
        if name.startswith("__")
        or (isinstance(value, ModuleType) and value.__name__.startswith(f"{__name__}."))
    ]
    return sorted({*__all__, *loaded})
