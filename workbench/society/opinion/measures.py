"""Opinion measures: diversity, bimodality, community distance and clusters of opinions.

They read opinions on the Likert scale (a rule member's continuous position, an LLM
member's level; :func:`positions`), one unit's members by steps at a time
(:func:`panels`). The standard deviation is Chuang et al.'s diversity *D* [1]_; Sarle's
bimodality coefficient above 5/9 suggests two modes [2]_.

References
----------
.. [1] Y.-S. Chuang, A. Goyal, N. Harlalka, S. Suresh, R. Hawkins, S. Yang, D. Shah,
   J. Hu and T. T. Rogers, "Simulating opinion dynamics with networks of LLM-based
   agents", Findings of the Association for Computational Linguistics: NAACL 2024,
   3326-3346 (2024).
.. [2] W. S. Sarle, SAS/STAT User's Guide, Version 6, 4th ed., SAS Institute (1990):
   the bimodality coefficient (see also R. Pfister et al., "Good things peak in pairs: a
   note on the bimodality coefficient", Frontiers in Psychology 4:700 (2013)).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from workbench.society.opinion.scale import LABELS, level_of, position_of
from workbench.society.opinion.society import COMMUNITIES

__all__ = [
    "CLUSTER_GAP",
    "CLUSTER_SHARE",
    "bimodality_coefficient",
    "community_distance",
    "minor_clusters",
    "opinion_clusters",
    "opinion_measures",
    "opinion_series",
    "panels",
    "positions",
]

#: Gap (in Likert levels) that separates two opinion clusters, and a major cluster's share.
#: A quarter level is 0.05 on Deffuant's [0, 1]; "major" clusters hold at least 5% of the
#: members, the smaller ones are "minor" (Weisbuch et al. 2002 count the large clusters
#: apart from the few agents stranded between or beside them).
CLUSTER_GAP, CLUSTER_SHARE = 0.25, 0.05


def bimodality_coefficient(x: Any, axis: int | None = None) -> Any:
    """Sarle's bimodality coefficient of a sample (NaN below 4 values or with no spread).

    ``BC = (g^2 + 1) / (k + 3 (n-1)^2 / ((n-2)(n-3)))`` with ``g`` the sample skewness and
    ``k`` the sample excess kurtosis, both bias-corrected (:func:`scipy.stats.skew` and
    :func:`scipy.stats.kurtosis` with ``bias=False``). A uniform distribution gives 5/9;
    values above suggest bimodality, two equal point masses give 1.

    Parameters
    ----------
    x : array-like of float
        The sample; NaNs are dropped. With ``axis``, one sample per slice along it (then
        the slices must be free of NaNs).
    axis : int or None
        Compute one coefficient per slice along this axis.

    Returns
    -------
    float or numpy.ndarray
    """
    x = np.asarray(x, dtype=float)
    if axis is None:
        x = x[~np.isnan(x)]
        return float(bimodality_coefficient(x[:, None], axis=0)[0]) if len(x) else float("nan")
    n = x.shape[axis]
    if n < 4:
        return np.full(np.delete(x.shape, axis), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        g = stats.skew(x, axis=axis, bias=False)
        k = stats.kurtosis(x, axis=axis, fisher=True, bias=False)
    bc = (g**2 + 1) / (k + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3)))
    return np.where(np.ptp(x, axis=axis) > 0, bc, np.nan)


def _cluster_sizes(x: Any, gap: float) -> tuple[np.ndarray, int]:
    x = np.sort(np.asarray(x, dtype=float)[~np.isnan(np.asarray(x, dtype=float))])
    cuts = np.flatnonzero(np.diff(x) > gap)
    return (np.diff(np.r_[0, cuts + 1, len(x)]) if len(x) else np.zeros(0, int)), len(x)


def opinion_clusters(x: Any, gap: float = CLUSTER_GAP, min_share: float = CLUSTER_SHARE) -> int:
    """Number of major opinion clusters in a sample.

    The sorted opinions are cut wherever two neighbours are more than ``gap`` apart; a
    group counts when it holds at least ``min_share`` of the opinions (and at least one).
    The groups below that share are :func:`minor_clusters`.

    References
    ----------
    .. [3] G. Weisbuch, G. Deffuant, F. Amblard and J.-P. Nadal, "Meet, discuss, and
       segregate!", Complexity 7(3), 55-63 (2002): major and minor clusters.
    """
    sizes, n = _cluster_sizes(x, gap)
    return int((sizes >= max(1.0, min_share * n - 1e-9)).sum()) if n else 0


def minor_clusters(x: Any, gap: float = CLUSTER_GAP, min_share: float = CLUSTER_SHARE) -> int:
    """Number of minor opinion clusters: groups (cut as :func:`opinion_clusters` cuts)
    holding less than ``min_share`` of the opinions."""
    sizes, n = _cluster_sizes(x, gap)
    return int((sizes < max(1.0, min_share * n - 1e-9)).sum()) if n else 0


def community_distance(x: Any, community: Any) -> float:
    """Absolute difference of the mean opinions of communities ``"A"`` and ``"B"``."""
    x, community = np.asarray(x, dtype=float), np.asarray(community)
    a, b = x[community == COMMUNITIES[0]], x[community == COMMUNITIES[1]]
    if not len(a) or not len(b):
        return float("nan")
    return float(abs(np.nanmean(a) - np.nanmean(b)))


def opinion_measures(x: Any, community: Any = None) -> dict[str, float]:
    """Mean, variance, diversity (sd), bimodality, community distance and clusters.

    ``clusters`` counts the major clusters, ``minor_clusters`` the minor ones.

    Parameters
    ----------
    x : array-like of float
        Opinions (NaN for members without one, ignored; with none at all, every measure
        is NaN).
    community : array-like of str or None
        Each member's community (``"A"`` or ``"B"``), for the distance.
    """
    x = np.asarray(x, dtype=float)
    ok = ~np.isnan(x)
    xs = x[ok]
    n = len(xs)
    return {
        "mean": float(xs.mean()) if n else float("nan"),
        "variance": float(xs.var(ddof=1)) if n > 1 else float("nan"),
        "diversity": float(xs.std(ddof=1)) if n > 1 else float("nan"),
        "bimodality": bimodality_coefficient(xs),
        "distance": float("nan")
        if community is None
        else community_distance(xs, np.asarray(community)[ok]),
        "clusters": opinion_clusters(xs) if n else float("nan"),  # none known: unknown
        "minor_clusters": minor_clusters(xs) if n else float("nan"),
    }


def positions(decisions: pd.DataFrame) -> pd.Series:
    """Each row's opinion on the Likert scale: a rule's continuous position, else the level."""
    value = pd.to_numeric(decisions["value"], errors="coerce")
    level = decisions["choice"].map(lambda c: level_of(c, LABELS))
    return value.map(position_of).where(value.notna(), level)


def panels(decisions: pd.DataFrame, keys: Sequence[str]) -> Iterator[tuple]:
    """(unit key, unit rows, members x steps positions, communities) for every unit.

    A unit is a group of rows with the same values of ``keys``; a member's community is
    its ``role``.

    A member's position carries over the steps it did not answer (it was not matched);
    after an invalid answer it is unknown (NaN) until the member's next valid answer, so
    invalid answers are left out of every measure rather than standing for an opinion.
    A member that answered several times in one step (asynchronous updates) is at its
    last answer of the step.
    """
    keys = list(keys)
    position = positions(decisions)
    valid = decisions["valid"].eq(True)
    # an invalid answer is marked (inf) so that it is carried over as "unknown"
    frame = decisions.assign(position=position.where(valid, np.inf))
    for key, unit in frame.groupby(keys, sort=False):
        last = unit.drop_duplicates(["member", "step"], keep="last")
        wide = last.pivot(index="member", columns="step", values="position")
        wide = wide.reindex(columns=range(int(unit.step.max()) + 1)).ffill(axis=1)
        wide = wide.replace(np.inf, np.nan)
        community = unit.groupby("member").role.first().reindex(wide.index)
        yield dict(zip(keys, key, strict=True)), unit, wide, community


def opinion_series(wide: pd.DataFrame, community: pd.Series) -> pd.DataFrame:
    """The measures of :func:`opinion_measures` at every step of one unit's panel.

    Parameters
    ----------
    wide : pandas.DataFrame
        Members by steps positions (NaN: unknown), as :func:`panels` gives them.
    community : pandas.Series
        Each member's community.

    Returns
    -------
    pandas.DataFrame
        ``step``, ``mean``, ``variance``, ``diversity``, ``bimodality``, ``distance``,
        ``clusters``, ``minor_clusters``; a step with no known opinion has NaN measures.
    """
    x = wide.to_numpy(dtype=float)
    in_a = (community == COMMUNITIES[0]).to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN steps
        return pd.DataFrame(
            {
                "step": wide.columns.astype(int),
                "mean": np.nanmean(x, axis=0),
                "variance": np.nanvar(x, axis=0, ddof=1),
                "diversity": np.nanstd(x, axis=0, ddof=1),
                "bimodality": bimodality_coefficient(x, axis=0)
                if not np.isnan(x).any()
                else [bimodality_coefficient(c) for c in x.T],
                "distance": np.abs(np.nanmean(x[in_a], axis=0) - np.nanmean(x[~in_a], axis=0)),
                "clusters": [opinion_clusters(c) if (~np.isnan(c)).any() else np.nan for c in x.T],
                "minor_clusters": [
                    minor_clusters(c) if (~np.isnan(c)).any() else np.nan for c in x.T
                ],
            }
        )
