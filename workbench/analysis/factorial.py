"""The tables of a person x situation factorial: what interaction adds, and who vs where.

A factorial design (:class:`workbench.Design`, which runs it) observes every person in
every situation several times, and each person alone as well: the **isolated** condition,
on a network without edges, where no answer of anyone else reaches a prompt. Its outcome
table has one row per run, with the factor levels as columns (``condition``, ``person``,
``model``, ``persona``, :data:`SITUATION_FACTORS`, ``seed``) and the outcome column(s).
This module reads such tables and nothing else, so a table from anywhere with these
columns will do:

- :func:`choice_share`, the default outcome of one run's decisions;
- :func:`emergent_effect`, the social outcome minus the isolated outcome per person x
  situation cell, with an interval: what interaction adds to what the person does
  anyway (Mischel 1968; Funder & Ozer 1983; Fleeson 2004: the person-situation debate,
  with its references, in :mod:`workbench.design`);
- :func:`decompose_design`, the person vs situation decomposition of the outcome
  (:func:`~workbench.analysis.decomposition.decompose`).

References
----------
.. [1] Welch, B. L. (1947). The generalization of "Student's" problem when several
   different population variances are involved. *Biometrika*, 34(1-2), 28-35.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from workbench.analysis.decomposition import Decomposition, decompose
from workbench.errors import ConfigError
from workbench.random import generator

__all__ = [
    "ISOLATED",
    "SITUATION_FACTORS",
    "choice_share",
    "decompose_design",
    "emergent_effect",
]

#: The ``condition`` (and ``topology``) label of the isolated condition.
ISOLATED = "isolated"
#: The situation factor columns of a design's outcome table, in column order.
SITUATION_FACTORS: tuple[str, ...] = ("norm", "topology", "exchange", "memory")


def choice_share(decisions: pd.DataFrame, option: str, *, step: int | str = "last") -> float:
    """Share of the valid decisions of ``step`` that chose ``option``.

    Parameters
    ----------
    decisions : pandas.DataFrame
        Decisions of one run (a society's decisions table, or a slice of it).
    option : str
        The option counted.
    step : int or "last" or "all"
        Which round: a step number, the last step present, or every step pooled.

    Returns
    -------
    float
        NaN when the round has no valid decision.
    """
    if decisions.empty:
        return math.nan
    if step == "last":
        rows = decisions[decisions["step"] == decisions["step"].max()]
    elif step == "all":
        rows = decisions
    else:
        rows = decisions[decisions["step"] == step]
    valid = rows[rows["valid"].astype(bool) & rows["choice"].notna()]
    return float((valid["choice"] == option).mean()) if len(valid) else math.nan


def _check_table(results: pd.DataFrame, outcome: str) -> None:
    missing = [c for c in ("condition", "person", *SITUATION_FACTORS, outcome) if c not in results]
    if missing:
        raise ConfigError(
            f"the design table lacks column(s) {', '.join(map(repr, missing))}; "
            "pass the table Design.run or Design.outcomes returned"
        )


def emergent_effect(
    results: pd.DataFrame,
    outcome: str = "outcome",
    *,
    level: float = 0.95,
    method: Literal["t", "bootstrap"] = "t",
    n_boot: int = 2000,
    seed: int | None = None,
) -> pd.DataFrame:
    """Social outcome minus isolated outcome, per person x situation cell, with an interval.

    Parameters
    ----------
    results : pandas.DataFrame
        The tidy table of :meth:`workbench.Design.run` (social and isolated rows).
    outcome : str
        The outcome column.
    level : float
        Coverage of the interval.
    method : {"t", "bootstrap"}
        ``"t"``: Welch's interval for a difference of two means [1]_ (runs of the social
        cell vs runs of the person's isolated condition with the same norm and memory);
        ``"bootstrap"``: percentile interval of the difference, resampling the runs of
        each side independently.
    n_boot : int
        Bootstrap replicates (``method="bootstrap"``).
    seed : int or None
        Seed of the bootstrap generator.

    Returns
    -------
    pandas.DataFrame
        One row per social cell: ``person``, ``model``, ``persona``, the situation
        factors, ``social`` and ``isolated`` (mean outcomes), ``effect`` (their
        difference), ``se``, ``ci_low``, ``ci_high``, ``n_social``, ``n_isolated``.
        When both sides are constant the interval is the point; with a single run on a
        side it is NaN.

    References
    ----------
    .. [1] Mischel, W. (1968). *Personality and Assessment*. Wiley.
    .. [2] Funder, D. C., & Ozer, D. J. (1983). Behavior as a function of the situation.
       *Journal of Personality and Social Psychology*, 44(1), 107-112.
    .. [3] Fleeson, W. (2004). Moving personality beyond the person-situation debate.
       *Current Directions in Psychological Science*, 13(2), 83-87.
    .. [4] Welch, B. L. (1947). The generalization of "Student's" problem when several
       different population variances are involved. *Biometrika*, 34(1-2), 28-35.
    """
    _check_table(results, outcome)
    if method not in ("t", "bootstrap"):
        raise ConfigError(f"method must be 't' or 'bootstrap', not {method!r}")
    if not 0 < level < 1:
        raise ConfigError(f"level must be in (0, 1), got {level}")
    social = results[results["condition"] == "social"]
    alone = results[results["condition"] == ISOLATED]
    if social.empty or alone.empty:
        raise ConfigError("the table needs both social and isolated rows")
    rng = generator(seed)
    cell_keys = ["person", *SITUATION_FACTORS]
    extra = [c for c in ("model", "persona") if c in results]
    isolated = {
        k: g[outcome].dropna().to_numpy(float)
        for k, g in alone.groupby(["person", "norm", "memory"])
    }
    rows = []
    for key, cell in social.groupby(cell_keys, sort=False):
        levels = dict(zip(cell_keys, key, strict=True))
        a = cell[outcome].dropna().to_numpy(float)
        b = isolated.get((levels["person"], levels["norm"], levels["memory"]))
        if b is None:
            raise ConfigError(
                f"no isolated runs for person {levels['person']!r}, norm {levels['norm']!r}, "
                f"memory {levels['memory']!r}"
            )
        effect, se, low, high = _difference(a, b, level, method, n_boot, rng)
        rows.append(
            {
                "person": levels["person"],
                **{c: cell[c].iloc[0] for c in extra},
                **{f: levels[f] for f in SITUATION_FACTORS},
                "social": a.mean() if len(a) else math.nan,
                "isolated": b.mean() if len(b) else math.nan,
                "effect": effect,
                "se": se,
                "ci_low": low,
                "ci_high": high,
                "n_social": len(a),
                "n_isolated": len(b),
            }
        )
    return pd.DataFrame(rows)


def _difference(
    a: np.ndarray, b: np.ndarray, level: float, method: str, n_boot: int, rng: np.random.Generator
) -> tuple[float, float, float, float]:
    if len(a) == 0 or len(b) == 0:
        return (math.nan,) * 4
    effect = float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2:
        return effect, math.nan, math.nan, math.nan
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return effect, 0.0, effect, effect
    if method == "t":
        dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
        q = float(stats.t.ppf(0.5 + level / 2, dof))
        return effect, se, effect - q * se, effect + q * se
    ia = rng.integers(0, len(a), (n_boot, len(a)))
    ib = rng.integers(0, len(b), (n_boot, len(b)))
    diffs = a[ia].mean(axis=1) - b[ib].mean(axis=1)
    low, high = np.quantile(diffs, [0.5 - level / 2, 0.5 + level / 2])
    return effect, float(diffs.std(ddof=1)), float(low), float(high)


def decompose_design(
    results: pd.DataFrame,
    outcome: str = "outcome",
    *,
    situation: Sequence[str] = SITUATION_FACTORS,
    isolated: bool = False,
    **kwargs: Any,
) -> Decomposition:
    """Person vs situation decomposition of a design's outcome.

    Parameters
    ----------
    results : pandas.DataFrame
        The tidy table of :meth:`workbench.Design.run`.
    outcome : str
        The outcome column.
    situation : sequence of str
        Situation factor columns, crossed into one situation factor (all four by default;
        constant ones do not matter).
    isolated : bool
        Also count the isolated condition as situation levels (one per norm and memory
        window). Default: social cells only.
    **kwargs
        Passed to :func:`~workbench.analysis.decomposition.decompose` (``n_boot``,
        ``seed``, ``method``, ``level``).

    Returns
    -------
    Decomposition
        Its ``table`` holds the person, situation, person x situation and residual
        shares; ``plot()`` draws them. Each run is one observation (seeds are the
        replicates of a cell).

    References
    ----------
    .. [1] Mischel, W. (1968). *Personality and Assessment*. Wiley.
    .. [2] Funder, D. C., & Ozer, D. J. (1983). Behavior as a function of the situation.
       *Journal of Personality and Social Psychology*, 44(1), 107-112.
    .. [3] Fleeson, W. (2004). Moving personality beyond the person-situation debate.
       *Current Directions in Psychological Science*, 13(2), 83-87.
    """
    _check_table(results, outcome)
    data = results if isolated else results[results["condition"] == "social"]
    data = data.dropna(subset=[outcome])
    return decompose(data, outcome, person="person", situation=list(situation), **kwargs)
