"""Analysis toolkit: person vs situation, information flow, causal effects under interference.

The public API, by module (names load on first use, so importing one module stays light):

- :mod:`~workbench.analysis.factorial`: the outcome tables of a person x situation
  factorial with the isolated condition (run by :class:`workbench.Design`):
  :func:`emergent_effect`, :func:`decompose_design`, :func:`choice_share`;
- :mod:`~workbench.analysis.decomposition`: :func:`decompose`, :class:`Decomposition`;
- :mod:`~workbench.analysis.persistence`: :func:`persistence_probe`,
  :func:`persistence_summary`;
- :mod:`~workbench.analysis.causal`: :class:`BernoulliDesign`, :class:`ClusterDesign`,
  :class:`ExposureMapping`, :func:`exposure`, :func:`exposure_probabilities`,
  :func:`estimate_effects`, :func:`graph_clusters` (its randomization base class is
  ``workbench.analysis.causal.Design``; the factorial experiment runner is
  :class:`workbench.Design`);
- :mod:`~workbench.analysis.diagnosis`: :func:`diagnose` (bias, coverage, power and
  interval width of a planned causal design, by simulation);
- :mod:`~workbench.analysis.information`: :func:`entropy`, :func:`collective_entropy`,
  :func:`mutual_information`, :func:`mutual_information_table`, :func:`transfer_entropy`,
  :func:`transfer_entropy_matrix`, :func:`group_transfer_entropy`, :class:`InfoResult`.
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULES: dict[str, tuple[str, ...]] = {
    "factorial": ("choice_share", "decompose_design", "emergent_effect"),
    "decomposition": ("Decomposition", "decompose"),
    "persistence": ("persistence_probe", "persistence_summary"),
    "causal": (
        "BernoulliDesign",
        "ClusterDesign",
        "ExposureMapping",
        "estimate_effects",
        "exposure",
        "exposure_probabilities",
        "graph_clusters",
    ),
    "diagnosis": ("diagnose",),
    "information": (
        "InfoResult",
        "collective_entropy",
        "entropy",
        "group_transfer_entropy",
        "mutual_information",
        "mutual_information_table",
        "transfer_entropy",
        "transfer_entropy_matrix",
    ),
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name in _HOME:
        value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
