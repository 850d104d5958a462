"""Design diagnosis before tokens: simulate a planned experiment under interference.

Before spending model calls on a society, simulate the experiment many times with
outcomes whose direct and spillover effects are known, analyse every simulated run
exactly as the real one will be analysed (:func:`~workbench.analysis.causal.estimate_effects`)
and read off, per estimand and estimator, the bias, the coverage of the intervals, the
power to detect the effect and the expected interval width: the "diagnosands" of
Blair, Cooper, Coppock & Humphreys [1]_. Run it for a few society sizes, designs and
noise levels and choose the smallest that gives the power you need.

The simulated outcome of node ``i`` is (Aronow & Samii [2]_'s exposure model)::

    y_i = base_i + direct * z_i + spillover * exposed_i + noise * e_i

with ``base_i`` fixed over the simulations (heterogeneous members), ``exposed_i`` from the
exposure mapping and ``e_i`` a fresh standard normal each run (a member that samples at a
temperature above 0 answers differently each time). The true effects are then
``direct`` for ``direct`` and ``direct_exposed``, ``spillover`` for ``spillover`` and
``spillover_treated`` and ``direct + spillover`` for ``total``.

Example
-------
>>> import networkx as nx
>>> from workbench.analysis.causal import BernoulliDesign
>>> G = nx.watts_strogatz_graph(24, 4, 0.1, seed=1)
>>> table = diagnose(G, BernoulliDesign(0.5), n_sims=20, resamples=200, seed=2)
>>> list(table.columns[:5])
['estimand', 'estimator', 'truth', 'mean_estimate', 'bias']

References
----------
.. [1] G. Blair, J. Cooper, A. Coppock and M. Humphreys, "Declaring and diagnosing
   research designs", American Political Science Review 113(3), 838-859 (2019).
.. [2] P. M. Aronow and C. Samii, "Estimating average causal effects under general
   interference, with application to a social network experiment", Annals of Applied
   Statistics 11(4), 1912-1947 (2017).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Literal

import networkx as nx
import numpy as np
import pandas as pd

from workbench.analysis.causal import (
    ESTIMANDS,
    Design,
    ExposureMapping,
    ExposureProbabilities,
    PositivityWarning,
    Seed,
    SparseConditionWarning,
    _check_graph,
    _mapping,
    estimate_effects,
    exposure_probabilities,
)
from workbench.errors import ConfigError
from workbench.random import generator

__all__ = ["DIAGNOSANDS", "diagnose"]

#: Columns of the table :func:`diagnose` returns.
DIAGNOSANDS: tuple[str, ...] = (
    "estimand",
    "estimator",
    "truth",
    "mean_estimate",
    "bias",
    "sd",
    "rmse",
    "coverage",
    "coverage_mcse",
    "power",
    "mean_width",
    "median_width",
    "defined",
    "n_sims",
)


def _truth(estimand: str, direct: float, spillover: float) -> float:
    return {
        "direct": direct,
        "direct_exposed": direct,
        "spillover": spillover,
        "spillover_treated": spillover,
        "total": direct + spillover,
    }[estimand]


def diagnose(
    G: nx.Graph,
    design: Design,
    effects: Mapping[str, float] | None = None,
    *,
    n_sims: int = 500,
    seed: Seed = None,
    noise: float = 1.0,
    base: float | Mapping[object, float] = 1.0,
    mapping: ExposureMapping | Literal["fraction", "count"] | None = None,
    threshold: float | None = None,
    probabilities: ExposureProbabilities | None = None,
    estimands: Sequence[str] = ("direct", "spillover", "total"),
    level: float = 0.95,
    interval: Literal["randomization", "normal"] = "randomization",
    resamples: int = 500,
    min_units: int = 2,
    naive: bool = True,
) -> pd.DataFrame:
    """Bias, coverage, power and interval width of a planned design, by simulation.

    Parameters
    ----------
    G : networkx.Graph
        The planned society's network.
    design : Design
        The planned randomization (:class:`~workbench.analysis.causal.BernoulliDesign` or
        :class:`~workbench.analysis.causal.ClusterDesign` for ``G``).
    effects : Mapping, optional
        ``{"direct": ..., "spillover": ...}``, the effects to detect, in outcome units
        (default 1.0 and 0.5; a missing key is 0).
    n_sims : int
        Simulated experiments. Coverage has a Monte Carlo standard error of about
        ``sqrt(0.05 * 0.95 / n_sims)`` (0.01 at 500).
    seed : int, numpy.random.Generator or None
        Randomness of the baselines, the assignments, the noise and the intervals.
    noise : float
        Standard deviation of each member's fresh noise per run (0: deterministic members).
    base : float or Mapping
        Baselines: a node -> value Mapping, or the standard deviation of normal baselines
        drawn once around 0.
    mapping, threshold
        The exposure mapping (default ``"fraction"`` at 0.5), used both to simulate and
        to estimate.
    probabilities : ExposureProbabilities, optional
        Precomputed by :func:`~workbench.analysis.causal.exposure_probabilities` for
        ``G``, ``design`` and the mapping; pass it to diagnose one design at several noise
        levels or sizes of effect without drawing them again (None: drawn here, from
        ``seed``).
    estimands : sequence of str
        Contrasts from :data:`~workbench.analysis.causal.ESTIMANDS`.
    level : float
        Confidence level.
    interval, resamples, min_units
        Passed to :func:`~workbench.analysis.causal.estimate_effects`.
    naive : bool
        Also diagnose the naive difference in means (for ``"direct"``).

    Returns
    -------
    pandas.DataFrame
        One row per estimand and estimator, columns :data:`DIAGNOSANDS`: ``truth``;
        ``mean_estimate``, ``bias``, ``sd`` and ``rmse`` over the runs with an estimate;
        ``coverage`` (share of the intervals holding the truth, among runs with an
        interval) and its Monte Carlo standard error ``coverage_mcse``; ``power``
        (share of *all* runs whose interval excludes 0, so runs without an estimate
        count as failures); ``mean_width`` and ``median_width`` of the intervals;
        ``defined`` (share of runs with an interval) and ``n_sims``.

    Raises
    ------
    ConfigError
        For bad input.

    Notes
    -----
    The simulated outcomes satisfy the exposure mapping; a real society may not, and
    then all estimators are biased. The estimand covered is the effect averaged over
    the members' noise for these nodes on this network (see the
    :mod:`~workbench.analysis.causal` notes).
    """
    nodes, adjacency = _check_graph(G)
    if isinstance(n_sims, bool) or not isinstance(n_sims, int | np.integer) or n_sims < 1:
        raise ConfigError(f"n_sims must be a positive integer, got {n_sims!r}")
    if not (isinstance(noise, int | float) and noise >= 0 and math.isfinite(noise)):
        raise ConfigError(f"noise must be a non-negative number, got {noise!r}")
    effects = dict(effects or {"direct": 1.0, "spillover": 0.5})
    unknown = set(effects) - {"direct", "spillover"}
    if unknown:
        raise ConfigError(
            f"unknown effect {sorted(unknown)[0]!r}; give 'direct' and/or 'spillover'"
        )
    direct, spillover = float(effects.get("direct", 0.0)), float(effects.get("spillover", 0.0))
    bad = [e for e in estimands if e not in ESTIMANDS]
    if isinstance(estimands, str) or bad:
        raise ConfigError(
            f"unknown estimand {estimands if isinstance(estimands, str) else bad[0]!r}; "
            f"give a list from {', '.join(ESTIMANDS)}"
        )
    rng = generator(seed)
    m = _mapping(mapping, threshold)
    if isinstance(base, Mapping):
        missing = [v for v in nodes if v not in base]
        if missing:
            raise ConfigError(f"base has no value for node {missing[0]!r}")
        baseline = np.array([float(base[v]) for v in nodes])
    elif isinstance(base, int | float) and base >= 0:
        baseline = rng.normal(0.0, float(base), len(nodes))
    else:
        raise ConfigError(
            f"base must be a node -> value Mapping or a standard deviation >= 0, not {base!r}"
        )
    probs = (
        exposure_probabilities(G, design, m, seed=rng) if probabilities is None else probabilities
    )

    records: list[dict[str, object]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PositivityWarning)
        warnings.simplefilter("ignore", SparseConditionWarning)
        for _ in range(int(n_sims)):
            z = design.sample(G, 1, rng)[0]
            exposed = m.codes(adjacency, z) % 2
            y = baseline + direct * z + spillover * exposed + noise * rng.normal(size=len(nodes))
            table = estimate_effects(
                G,
                dict(zip(nodes, z.tolist(), strict=True)),
                dict(zip(nodes, y.tolist(), strict=True)),
                design,
                probabilities=probs,
                estimands=list(estimands),
                means=False,
                naive=naive and "direct" in estimands,
                level=level,
                interval=interval,
                resamples=resamples,
                min_units=min_units,
                seed=rng,
            )
            records.extend(table.to_dict("records"))
    runs = pd.DataFrame(records)
    rows = []
    for (estimand, estimator), group in runs.groupby(["estimand", "estimator"], sort=False):
        truth = _truth(str(estimand), direct, spillover)
        estimate = group["estimate"].to_numpy(dtype=float)
        low, high = group["ci_low"].to_numpy(dtype=float), group["ci_high"].to_numpy(dtype=float)
        has = np.isfinite(estimate)
        ok = has & ~np.isnan(low) & ~np.isnan(high)
        covered = (low[ok] <= truth) & (truth <= high[ok])
        width = high[ok] - low[ok]
        coverage = float(covered.mean()) if ok.any() else math.nan
        error = estimate[has] - truth
        rows.append(
            {
                "estimand": estimand,
                "estimator": estimator,
                "truth": truth,
                "mean_estimate": float(estimate[has].mean()) if has.any() else math.nan,
                "bias": float(error.mean()) if has.any() else math.nan,
                "sd": float(estimate[has].std(ddof=1)) if has.sum() > 1 else math.nan,
                "rmse": float(np.sqrt(np.mean(error**2))) if has.any() else math.nan,
                "coverage": coverage,
                "coverage_mcse": math.sqrt(coverage * (1 - coverage) / ok.sum())
                if ok.any()
                else math.nan,
                "power": float(np.sum((low[ok] > 0) | (high[ok] < 0)) / len(group)),
                "mean_width": float(width.mean()) if ok.any() else math.nan,
                "median_width": float(np.median(width)) if ok.any() else math.nan,
                "defined": float(ok.mean()),
                "n_sims": len(group),
            }
        )
    out = pd.DataFrame(rows, columns=list(DIAGNOSANDS))
    out.attrs.update(n_nodes=len(nodes), design=repr(design), noise=noise, interval=interval)
    return out
