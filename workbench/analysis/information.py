"""Information measures for discrete social data: entropy, mutual information, transfer entropy.

The paper behind the workbench asks how much information flows through a society of agents.
This module answers with plug-in (maximum-likelihood) estimators on discrete labels, an
optional Miller-Madow bias correction and permutation-test p-values:

* :func:`entropy` -- Shannon entropy of a sample of labels (Shannon 1948).
* :func:`collective_entropy` -- entropy of the members' choices at each step, a time series
  of how concentrated the collective state is (0 bits = consensus).
* :func:`mutual_information` and :func:`mutual_information_table` -- how much a person
  attribute (persona, model, ...) tells about the choices.
* :func:`transfer_entropy`, :func:`transfer_entropy_matrix` and
  :func:`group_transfer_entropy` -- directed information flow from one member's (or
  community's) past to another's next choice, beyond what the target's own past predicts
  (Schreiber 2000).

Every estimate comes back as an :class:`InfoResult` (or a tidy frame of them) holding the
plug-in value, the Miller-Madow value, the one selected by ``correction`` and, when
``permutations > 0``, the permutation p-value and the null distribution's mean and sd.

Units are set by ``base``: 2 gives bits (the default), ``math.e`` nats, 10 hartleys.
Labels may be any hashable values (strings, ints, tuples, ...); missing labels (``None``,
``NaN``) are refused with a :class:`~workbench.errors.ConfigError` rather than silently
dropped, so every count is of what the caller passed.

Randomness (the permutation surrogates) enters as ``seed``, which becomes one
:class:`numpy.random.Generator` at the public entry point and is passed down from there;
the same seed gives the same p-values.

Examples
--------
>>> entropy(["a", "b", "c", "d"])
2.0
>>> mutual_information([0, 1, 0, 1], [0, 1, 0, 1]).value
1.0
>>> wide = decisions.pivot(index="step", columns="member", values="choice")  # doctest: +SKIP
>>> transfer_entropy_matrix(wide.ffill().dropna(), permutations=200, seed=1)  # doctest: +SKIP

References
----------
.. [1] C. E. Shannon, "A mathematical theory of communication", Bell System Technical
   Journal 27(3), 379-423 (1948).
.. [2] T. Schreiber, "Measuring information transfer", Physical Review Letters 85(2),
   461-464 (2000).
.. [3] G. A. Miller, "Note on the bias of information estimates", in H. Quastler (ed.),
   Information Theory in Psychology: Problems and Methods, 95-100, Free Press (1955).
.. [4] L. Paninski, "Estimation of entropy and mutual information", Neural Computation
   15(6), 1191-1253 (2003).
.. [5] T. M. Cover and J. A. Thomas, Elements of Information Theory, 2nd ed., Wiley (2006).
.. [6] J. T. Lizier, "JIDT: An information-theoretic toolkit for studying the dynamics of
   complex systems", Frontiers in Robotics and AI 1:11 (2014) -- source-shuffling
   surrogates for transfer entropy.
.. [7] B. Phipson and G. K. Smyth, "Permutation p-values should never be zero",
   Statistical Applications in Genetics and Molecular Biology 9(1), article 39 (2010).
.. [8] Y. Benjamini and Y. Hochberg, "Controlling the false discovery rate", Journal of
   the Royal Statistical Society B 57(1), 289-300 (1995).
"""

# Why the estimators are hand-written on numpy/scipy rather than imported: scipy has the
# entropy of a distribution (used below) but no mutual information or transfer entropy for
# discrete series, and no permutation tests for them; the PyPI package ``infomeasure``
# implements the same plug-in and Miller-Madow estimators, but it is only a development
# dependency that the tests use as an independent cross-check (to ~1e-9), it is slow to
# import, and its surrogates do not let us choose circular shifts or cluster-level
# permutations. Everything here reduces to counting joint states (numpy.unique) and
# scipy.special.entr on the frequencies, which is short enough to own.

from __future__ import annotations

import functools
import math
import numbers
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict, Unpack

import numpy as np
import pandas as pd
from scipy import special

from workbench.errors import ConfigError
from workbench.random import SeedLike, generator

__all__ = [
    "InfoResult",
    "TransferEntropyOptions",
    "collective_entropy",
    "entropy",
    "group_transfer_entropy",
    "majority_state",
    "mutual_information",
    "mutual_information_table",
    "transfer_entropy",
    "transfer_entropy_matrix",
]

Correction = Literal["none", "miller_madow"]
Surrogate = Literal["shuffle", "circular"]


class TransferEntropyOptions(TypedDict, total=False):
    """The estimator options of :func:`transfer_entropy_matrix`, passed on by
    :func:`group_transfer_entropy`; each as in :func:`transfer_entropy`."""

    history: int
    source_history: int | None
    base: float
    correction: Correction
    permutations: int
    seed: SeedLike
    surrogate: Surrogate


_CORRECTIONS = ("none", "miller_madow")
_SURROGATES = ("shuffle", "circular")
#: Relative tolerance under which a null value counts as a tie with the observed one.
_TIE_RTOL = 1e-10


@dataclass(frozen=True)
class InfoResult:
    """One information estimate with its bias correction and permutation test.

    Attributes
    ----------
    value : float
        The estimate selected by ``correction``: equal to :attr:`bias_corrected` when
        ``correction == "miller_madow"``, else to :attr:`plugin`. Report this one.
    plugin : float
        The plug-in (maximum-likelihood) estimate from the empirical distribution; never
        negative, biased upwards for mutual information and transfer entropy.
    bias_corrected : float
        The Miller-Madow estimate: every entropy term gets ``(K - 1) / (2 N)`` nats, with
        ``K`` the number of occupied states and ``N`` the sample size [3]_. May be
        slightly negative for mutual information or transfer entropy near zero.
    correction : str
        ``"none"`` or ``"miller_madow"``: which of the two :attr:`value` is.
    n : int
        Number of observations the estimate used (for transfer entropy: the number of
        embedded time points, the series length minus the longest history).
    p_value : float or None
        Permutation p-value ``(1 + #{null >= value}) / (1 + permutations)`` [7]_, or
        ``None`` when no permutations were run.
    null_mean, null_sd : float or None
        Mean and standard deviation (ddof=1) of the estimate over the surrogates, or
        ``None`` when no permutations were run. ``value - null_mean`` is the
        "effective" (shuffle-corrected) estimate.
    permutations : int
        Number of surrogates drawn.
    base : float
        Logarithm base of the units (2 = bits).

    References
    ----------
    .. [3] G. A. Miller, "Note on the bias of information estimates" (1955).
    .. [7] B. Phipson and G. K. Smyth, Stat. Appl. Genet. Mol. Biol. 9(1) (2010).
    """

    value: float
    plugin: float
    bias_corrected: float
    correction: str
    n: int
    p_value: float | None = None
    null_mean: float | None = None
    null_sd: float | None = None
    permutations: int = 0
    base: float = 2.0


# -- validation -----------------------------------------------------------------------


def _check_base(base: float) -> float:
    if (
        isinstance(base, bool)
        or not isinstance(base, numbers.Real)
        or not math.isfinite(base)
        or base <= 0
        or base == 1
    ):
        raise ConfigError(
            f"base must be a positive number other than 1 (2 for bits, math.e for nats), "
            f"got {base!r}."
        )
    return float(base)


def _check_choice(value: str, name: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}.")
    return value


def _check_count(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _codes(values: Any, name: str) -> np.ndarray:
    """Integer codes ``0..K-1`` for a one-dimensional sample of hashable labels."""
    if isinstance(values, pd.DataFrame):
        raise ConfigError(f"{name} must be one-dimensional; pass a single column, not a frame.")
    if isinstance(values, pd.Series | pd.Index):
        array: Any = values
    elif isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise ConfigError(
                f"{name} must be one-dimensional, got an array of shape {values.shape}."
            )
        array = values
    elif isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ConfigError(
            f"{name} must be a sequence of labels (list, array or Series), "
            f"got {type(values).__name__}."
        )
    else:
        seq = list(values)
        # fromiter keeps tuples as single labels, where np.asarray would make them a 2-D array.
        array = np.fromiter(seq, dtype=object, count=len(seq))
    if len(array) == 0:
        raise ConfigError(f"{name} is empty; pass at least one observation.")
    codes, _ = pd.factorize(array, use_na_sentinel=True)
    missing = int(np.count_nonzero(codes < 0))
    if missing:
        raise ConfigError(
            f"{name} has {missing} missing label(s) (None/NaN); drop them or fill them with "
            f"an explicit label first."
        )
    return codes.astype(np.int64, copy=False)


def _same_length(a: np.ndarray, b: np.ndarray, names: str) -> None:
    if len(a) != len(b):
        raise ConfigError(
            f"{names} have different lengths ({len(a)} vs {len(b)}); pass paired "
            f"observations of equal length."
        )


# -- counting core ----------------------------------------------------------------------


def _joint(*codes: np.ndarray) -> np.ndarray:
    """Compact codes of the joint state of several equally long code arrays."""
    out = codes[0]
    for nxt in codes[1:]:
        # Both inputs are compact (< N), so the product stays far below int64 overflow.
        combined = out * (int(nxt.max()) + 1) + nxt
        out = np.unique(combined, return_inverse=True)[1].astype(np.int64, copy=False)
    return out


def _h(codes: np.ndarray) -> tuple[float, int]:
    """Plug-in entropy in nats and the number of occupied states of a code array."""
    counts = np.unique(codes, return_counts=True)[1]
    # scipy.special.entr is -p log p as a ufunc; scipy.stats.entropy computes the same but
    # its argument-checking wrapper costs ~1 ms a call, which dominates permutation tests.
    return float(special.entr(counts / len(codes)).sum()), len(counts)


def _mm(k: int, n: int) -> float:
    """Miller-Madow correction of one entropy term, in nats."""
    return (k - 1) / (2 * n)


def _p_value(observed: float, null: np.ndarray) -> float:
    tol = _TIE_RTOL * max(1.0, abs(observed))
    return float((1 + np.count_nonzero(null >= observed - tol)) / (1 + len(null)))


def _result(
    plugin_nats: float,
    mm_nats: float,
    *,
    correction: str,
    n: int,
    base: float,
    null_nats: np.ndarray | None,
) -> InfoResult:
    unit = math.log(base)
    plugin = max(plugin_nats, 0.0) / unit  # plug-in MI/CMI >= 0; clip float noise
    corrected = mm_nats / unit
    value = corrected if correction == "miller_madow" else plugin
    if null_nats is None or len(null_nats) == 0:
        return InfoResult(value, plugin, corrected, correction, n, base=base)
    null = null_nats / unit
    return InfoResult(
        value=value,
        plugin=plugin,
        bias_corrected=corrected,
        correction=correction,
        n=n,
        p_value=_p_value(value, null),
        null_mean=float(null.mean()),
        null_sd=float(null.std(ddof=1)) if len(null) > 1 else 0.0,
        permutations=len(null),
        base=base,
    )


# -- entropy ----------------------------------------------------------------------------


def entropy(
    states: Iterable[Hashable], *, base: float = 2, correction: Correction = "none"
) -> float:
    """Shannon entropy of a discrete sample.

    Parameters
    ----------
    states : array-like of hashable
        One label per observation (strings, ints, tuples, ...). No missing labels.
    base : float, default 2
        Logarithm base: 2 for bits, ``math.e`` for nats.
    correction : {"none", "miller_madow"}
        ``"none"`` gives the plug-in estimate ``-sum p log p`` over the empirical
        frequencies [1]_; ``"miller_madow"`` adds ``(K - 1) / (2 N)`` nats, with ``K`` the
        number of distinct labels seen and ``N`` the sample size [2]_, which removes the
        first-order downward bias of the plug-in estimate [3]_.

    Returns
    -------
    float
        The entropy in units of ``base``.

    Raises
    ------
    ConfigError
        If ``states`` is empty, not one-dimensional or holds missing labels, or ``base``
        or ``correction`` is invalid.

    References
    ----------
    .. [1] C. E. Shannon, Bell System Technical Journal 27, 379-423 (1948).
    .. [2] G. A. Miller, "Note on the bias of information estimates" (1955).
    .. [3] L. Paninski, Neural Computation 15(6), 1191-1253 (2003).

    Examples
    --------
    >>> entropy(["a", "b", "c", "d"])
    2.0
    >>> round(entropy([0, 0, 1, 1], correction="miller_madow"), 4)
    1.1803
    """
    base = _check_base(base)
    correction = _check_choice(correction, "correction", _CORRECTIONS)
    codes = _codes(states, "states")
    h, k = _h(codes)
    if correction == "miller_madow":
        h += _mm(k, len(codes))
    return h / math.log(base)


def collective_entropy(
    decisions: pd.DataFrame,
    *,
    step: str = "step",
    choice: str = "choice",
    base: float = 2,
    correction: Correction = "none",
) -> pd.DataFrame:
    """Entropy of the distribution of choices across members at each step.

    A time series of how concentrated the collective state is: 0 bits means every member
    chose the same option (consensus), ``log2(K)`` bits an even split over ``K`` options.

    Parameters
    ----------
    decisions : pandas.DataFrame
        A long (tidy) table with one row per decision, e.g. a society's decisions table.
    step, choice : str
        Names of the time-step column and the choice column.
    base : float, default 2
        Logarithm base (2 = bits).
    correction : {"none", "miller_madow"}
        As in :func:`entropy`, applied at each step with that step's ``N`` and ``K``.

    Returns
    -------
    pandas.DataFrame
        Columns ``step`` (named as the ``step`` argument), ``entropy`` and ``n`` (number
        of decisions at that step), one row per step in ascending order.

    Raises
    ------
    ConfigError
        If a column is missing, the frame is empty or a choice is missing (an invalid
        decision): drop those rows first, e.g. ``decisions.dropna(subset=["choice"])``.

    References
    ----------
    .. [1] C. E. Shannon, Bell System Technical Journal 27, 379-423 (1948).
    .. [2] G. A. Miller, "Note on the bias of information estimates" (1955).

    Examples
    --------
    >>> frame = pd.DataFrame({"step": [0, 0, 1, 1], "choice": ["A", "B", "A", "A"]})
    >>> collective_entropy(frame)
       step  entropy  n
    0     0      1.0  2
    1     1      0.0  2
    """
    base = _check_base(base)
    correction = _check_choice(correction, "correction", _CORRECTIONS)
    if not isinstance(decisions, pd.DataFrame):
        raise ConfigError(f"decisions must be a pandas DataFrame, got {type(decisions).__name__}.")
    absent = [c for c in (step, choice) if c not in decisions.columns]
    if absent:
        raise ConfigError(
            f"decisions has no column {absent[0]!r}; pass step=... and choice=... naming "
            f"its columns (it has {', '.join(map(str, decisions.columns))})."
        )
    if decisions.empty:
        raise ConfigError("decisions is empty; pass at least one decision.")
    for column in (step, choice):
        missing = int(decisions[column].isna().sum())
        if missing:
            raise ConfigError(
                f"decisions has {missing} missing value(s) in {column!r}; drop them first, "
                f"e.g. decisions.dropna(subset=[{column!r}])."
            )
    counts = decisions.groupby([step, choice], sort=False, observed=True).size()
    counts = counts[counts > 0].astype(float)
    by_step = counts.groupby(level=0, sort=True)
    n = by_step.sum()
    # H = log N - sum(c log c) / N, vectorised over steps (counts > 0, so c log c is finite).
    h = np.log(n) - (counts * np.log(counts)).groupby(level=0, sort=True).sum() / n
    if correction == "miller_madow":
        h = h + (by_step.size() - 1) / (2 * n)
    if correction == "none":
        h = h.clip(lower=0.0)  # a one-choice step gives log N - log N: clip float noise
    return pd.DataFrame(
        {
            step: n.index.to_numpy(),
            "entropy": (h / math.log(base)).to_numpy(),
            "n": n.to_numpy().astype(np.int64),
        }
    )


# -- mutual information -----------------------------------------------------------------


def _mi_core(
    xc: np.ndarray,
    yc: np.ndarray,
    *,
    base: float,
    correction: str,
    permutations: int,
    rng: np.random.Generator | None,
    clusters: np.ndarray | None,
) -> InfoResult:
    n = len(xc)
    hx, kx = _h(xc)
    hy, ky = _h(yc)

    def estimate(x: np.ndarray) -> tuple[float, float]:
        hxy, kxy = _h(_joint(x, yc))
        plugin = hx + hy - hxy
        return plugin, plugin + _mm(kx, n) + _mm(ky, n) - _mm(kxy, n)

    plugin, mm = estimate(xc)
    null = None
    if permutations:
        assert rng is not None
        pick = 1 if correction == "miller_madow" else 0
        null = np.empty(permutations)
        if clusters is None:
            for i in range(permutations):
                null[i] = estimate(xc[rng.permutation(n)])[pick]
        else:
            # x is constant within a cluster: permute the cluster -> x mapping, so rows of
            # one cluster (e.g. one member's many decisions) move together.
            first = np.unique(clusters, return_index=True)[1]
            per_cluster = xc[first]
            for i in range(permutations):
                null[i] = estimate(per_cluster[rng.permutation(len(per_cluster))][clusters])[pick]
    return _result(plugin, mm, correction=correction, n=n, base=base, null_nats=null)


def _cluster_codes(clusters: Any, xc: np.ndarray) -> np.ndarray:
    cc = _codes(clusters, "clusters")
    _same_length(xc, cc, "x and clusters")
    if len(np.unique(_joint(cc, xc))) != len(np.unique(cc)):
        raise ConfigError(
            "x varies within a cluster; cluster permutation needs a cluster-level "
            "attribute (e.g. a member's persona), or pass clusters=None."
        )
    return cc


def mutual_information(
    x: Iterable[Hashable],
    y: Iterable[Hashable],
    *,
    base: float = 2,
    correction: Correction = "none",
    permutations: int = 0,
    seed: SeedLike = None,
    clusters: Iterable[Hashable] | None = None,
) -> InfoResult:
    """Mutual information between two paired discrete samples.

    ``I(X;Y) = H(X) + H(Y) - H(X,Y)`` from the empirical joint frequencies [1]_ [2]_.

    Parameters
    ----------
    x, y : array-like of hashable
        Paired labels, one pair per observation, equal lengths, no missing labels. ``x``
        is the variable the permutation test shuffles (put the person attribute here).
    base : float, default 2
        Logarithm base (2 = bits).
    correction : {"none", "miller_madow"}
        Which estimate :attr:`InfoResult.value` holds. Miller-Madow corrects each entropy
        term by ``(K - 1) / (2 N)`` nats [3]_; for MI this subtracts about
        ``(K_x - 1)(K_y - 1) / (2 N)``, the plug-in estimator's positive bias under
        independence.
    permutations : int, default 0
        Number of surrogates for the permutation test of independence: ``x`` is shuffled
        against ``y`` (or, with ``clusters``, whole clusters are relabelled) and the
        estimate recomputed. 0 skips the test (``p_value`` is ``None``).
    seed : int, numpy Generator or None
        Seeds the one generator that draws the permutations.
    clusters : array-like of hashable, optional
        A cluster label per observation (e.g. the member who made each decision). When
        given, ``x`` must be constant within each cluster and the test permutes the
        cluster-to-``x`` assignment, which respects the dependence between one member's
        repeated decisions; plain row shuffling would overstate significance there.

    Returns
    -------
    InfoResult

    Raises
    ------
    ConfigError
        If the samples are empty or of different lengths, hold missing labels, or an
        option is invalid.

    References
    ----------
    .. [1] C. E. Shannon, Bell System Technical Journal 27, 379-423 (1948).
    .. [2] T. M. Cover and J. A. Thomas, Elements of Information Theory, 2nd ed. (2006).
    .. [3] G. A. Miller, "Note on the bias of information estimates" (1955).
    .. [4] B. Phipson and G. K. Smyth, Stat. Appl. Genet. Mol. Biol. 9(1) (2010).

    Examples
    --------
    >>> mutual_information(["a", "b", "a", "b"], [1, 2, 1, 2]).value
    1.0
    """
    estimate = _mi_estimator(base, correction, permutations, seed)
    xc = _codes(x, "x")
    yc = _codes(y, "y")
    _same_length(xc, yc, "x and y")
    cc = None if clusters is None else _cluster_codes(clusters, xc)
    return estimate(xc, yc, clusters=cc)


def _mi_estimator(
    base: Any, correction: Any, permutations: Any, seed: Any
) -> functools.partial[InfoResult]:
    """Check the mutual-information arguments once; return ``estimate(x_codes, y_codes,
    clusters=...)``, which runs :func:`_mi_core` with them (the checked values are in its
    ``keywords``)."""
    permutations = _check_count(permutations, "permutations", 0)
    return functools.partial(
        _mi_core,
        base=_check_base(base),
        correction=_check_choice(correction, "correction", _CORRECTIONS),
        permutations=permutations,
        rng=generator(seed) if permutations else None,
    )


def _columns(res: InfoResult, name: str) -> dict[str, Any]:
    """The columns of one estimate in a table, the estimate itself named ``name``."""
    return {
        name: res.value,
        "plugin": res.plugin,
        "bias_corrected": res.bias_corrected,
        "p_value": res.p_value,
        "null_mean": res.null_mean,
        "null_sd": res.null_sd,
        "n": res.n,
    }


def _with_q_values(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The table of ``rows`` with Benjamini-Hochberg q-values after the p-values."""
    out = pd.DataFrame(rows)
    out.insert(out.columns.get_loc("p_value") + 1, "q_value", _fdr(out["p_value"]))
    return out


def _fdr(p_values: pd.Series) -> pd.Series:
    """Benjamini-Hochberg q-values; NaN where there is no p-value."""
    p = pd.to_numeric(p_values, errors="coerce")
    out = pd.Series(np.nan, index=p.index, dtype=float)
    ok = p.notna()
    if ok.any():
        from scipy import stats  # imported here: scipy.stats takes ~1-2 s to import

        out[ok] = stats.false_discovery_control(p[ok].to_numpy(), method="bh")
    return out


def mutual_information_table(
    df: pd.DataFrame,
    attributes: Sequence[str | Sequence[str]],
    outcome: str,
    *,
    base: float = 2,
    correction: Correction = "none",
    permutations: int = 0,
    seed: SeedLike = None,
    cluster: str | None = None,
) -> pd.DataFrame:
    """Mutual information between each person attribute and an outcome, as a tidy table.

    For the question "how much do persona, model, ... tell about the choices?": one row
    per attribute with :func:`mutual_information` between it and ``outcome``.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per observation, e.g. a society's decisions table.
    attributes : sequence of str or of tuples of str
        Attribute columns. A tuple of columns, e.g. ``("model", "persona")``, is treated
        as one joint attribute (the person); its row is labelled ``"model x persona"``.
    outcome : str
        The outcome column, e.g. ``"choice"``.
    base, correction, permutations, seed
        As in :func:`mutual_information`; one generator, seeded once, serves all rows.
    cluster : str, optional
        Column naming the unit an attribute belongs to (e.g. ``"member"``); when given,
        the permutation test relabels whole clusters (see :func:`mutual_information`).

    Returns
    -------
    pandas.DataFrame
        Columns ``attribute``, ``mi`` (the value selected by ``correction``), ``plugin``,
        ``bias_corrected``, ``outcome_entropy`` (same correction), ``share``
        (``mi / outcome_entropy``, the uncertainty coefficient; NaN when the outcome
        never varies), ``p_value``, ``q_value`` (Benjamini-Hochberg over the rows [2]_),
        ``null_mean``, ``null_sd`` and ``n``.

    Raises
    ------
    ConfigError
        If a column is missing, ``attributes`` is empty, the frame is empty or a used
        column holds missing values.

    References
    ----------
    .. [1] T. M. Cover and J. A. Thomas, Elements of Information Theory, 2nd ed. (2006).
    .. [2] Y. Benjamini and Y. Hochberg, J. R. Stat. Soc. B 57(1), 289-300 (1995).
    .. [3] H. Theil, "On the estimation of relationships involving qualitative
       variables", American Journal of Sociology 76(1), 103-154 (1970).

    Examples
    --------
    >>> frame = pd.DataFrame({"persona": ["a", "a", "b", "b"], "choice": [0, 0, 1, 1]})
    >>> mutual_information_table(frame, ["persona"], "choice")[["attribute", "mi", "share"]]
      attribute   mi  share
    0   persona  1.0    1.0
    """
    estimate = _mi_estimator(base, correction, permutations, seed)
    base, correction = estimate.keywords["base"], estimate.keywords["correction"]
    if not isinstance(df, pd.DataFrame):
        raise ConfigError(f"df must be a pandas DataFrame, got {type(df).__name__}.")
    if isinstance(attributes, str):
        attributes = [attributes]
    if not attributes:
        raise ConfigError("attributes is empty; name at least one attribute column.")
    groups = [(a,) if isinstance(a, str) else tuple(a) for a in attributes]
    needed = [outcome, *(c for g in groups for c in g)]
    if cluster is not None:
        needed.append(cluster)
    absent = [c for c in needed if c not in df.columns]
    if absent:
        raise ConfigError(
            f"df has no column {absent[0]!r}; it has {', '.join(map(str, df.columns))}."
        )
    yc = _codes(df[outcome], f"column {outcome!r}")
    hy, ky = _h(yc)
    h_out = hy + (_mm(ky, len(yc)) if correction == "miller_madow" else 0.0)
    h_out /= math.log(base)
    rows = []
    for group in groups:
        if not group:
            raise ConfigError("an attribute tuple is empty; name at least one column in it.")
        xc = _joint(*(_codes(df[c], f"column {c!r}") for c in group))
        cc = None if cluster is None else _cluster_codes(df[cluster], xc)
        res = estimate(xc, yc, clusters=cc)
        rows.append(
            {
                "attribute": " x ".join(group),
                **_columns(res, "mi"),
                "outcome_entropy": h_out,
                "share": res.value / h_out if h_out > 0 else np.nan,
            }
        )
    return _with_q_values(rows)


# -- transfer entropy -------------------------------------------------------------------


def _te_estimator(
    history: Any,
    source_history: Any,
    base: Any,
    correction: Any,
    permutations: Any,
    surrogate: Any,
    seed: Any,
) -> tuple[Callable[[np.ndarray, np.ndarray], InfoResult], int, int]:
    """Check the transfer-entropy arguments once; return ``(estimate, k, l)``, where
    ``estimate(source_codes, target_codes)`` runs :func:`_te_core` with them."""
    k = _check_count(history, "history", 1)
    l_ = k if source_history is None else _check_count(source_history, "source_history", 1)
    permutations = _check_count(permutations, "permutations", 0)
    estimate = functools.partial(
        _te_core,
        k=k,
        l_=l_,
        base=_check_base(base),
        correction=_check_choice(correction, "correction", _CORRECTIONS),
        permutations=permutations,
        rng=generator(seed) if permutations else None,
        surrogate=_check_choice(surrogate, "surrogate", _SURROGATES),
    )
    return estimate, k, l_


def _check_length(n: int, k: int, l_: int, what: str) -> None:
    h = max(k, l_)
    if n < h + 2:
        raise ConfigError(
            f"{what} has {n} steps but history {h} needs at least {h + 2}; "
            f"use a shorter history or a longer series."
        )


def _te_core(
    xc: np.ndarray,
    yc: np.ndarray,
    *,
    k: int,
    l_: int,
    base: float,
    correction: str,
    permutations: int,
    rng: np.random.Generator | None,
    surrogate: str,
) -> InfoResult:
    """TE from codes; time t runs over h..n-1 with h = max(k, l) (as infomeasure does)."""
    n_total = len(yc)
    h = max(k, l_)
    n = n_total - h
    future = yc[h:]
    target_past = _joint(*(yc[h - j : n_total - j] for j in range(1, k + 1)))
    source_past = _joint(*(xc[h - j : n_total - j] for j in range(1, l_ + 1)))
    future_past = _joint(future, target_past)
    h_p, k_p = _h(target_past)
    h_fp, k_fp = _h(future_past)

    def estimate(src: np.ndarray) -> tuple[float, float]:
        # TE = I(Y_t ; X_past | Y_past) = H(Y_t,Y_past) + H(Y_past,X_past)
        #      - H(Y_t,Y_past,X_past) - H(Y_past)      (Schreiber 2000, eq. 4)
        h_ps, k_ps = _h(_joint(target_past, src))
        h_fps, k_fps = _h(_joint(future_past, src))
        plugin = h_fp + h_ps - h_fps - h_p
        mm = plugin + _mm(k_fp, n) + _mm(k_ps, n) - _mm(k_fps, n) - _mm(k_p, n)
        return plugin, mm

    plugin, mm = estimate(source_past)
    null = None
    if permutations:
        assert rng is not None
        pick = 1 if correction == "miller_madow" else 0
        null = np.empty(permutations)
        if surrogate == "circular":
            shift_min = h + 1
            if n < 2 * shift_min:
                raise ConfigError(
                    f"series too short for circular surrogates ({n} embedded steps, need "
                    f"{2 * shift_min}); use surrogate='shuffle' or a longer series."
                )
        for i in range(permutations):
            if surrogate == "shuffle":
                src = source_past[rng.permutation(n)]
            else:
                src = np.roll(source_past, int(rng.integers(shift_min, n - shift_min + 1)))
            null[i] = estimate(src)[pick]
    return _result(plugin, mm, correction=correction, n=n, base=base, null_nats=null)


def transfer_entropy(
    source: Iterable[Hashable],
    target: Iterable[Hashable],
    *,
    history: int = 1,
    source_history: int | None = None,
    base: float = 2,
    correction: Correction = "none",
    permutations: int = 0,
    seed: SeedLike = None,
    surrogate: Surrogate = "shuffle",
) -> InfoResult:
    """Transfer entropy from a source series to a target series of discrete states.

    ``TE(X -> Y) = I(Y_t ; X_{t-l..t-1} | Y_{t-k..t-1})``: how much the source's last
    ``l`` states tell about the target's next state beyond what the target's own last
    ``k`` states tell [1]_. Estimated by plug-in on the joint counts of the embedded
    states, for ``t = max(k, l), ..., n - 1`` (so ``n - max(k, l)`` samples; the same
    alignment as ``infomeasure``'s ``dest_hist_len=k, src_hist_len=l``, one-step lag).

    Parameters
    ----------
    source, target : array-like of hashable
        The two series, aligned step by step, equal lengths, no missing states.
    history : int, default 1
        ``k``, the number of past target states conditioned on.
    source_history : int, optional
        ``l``, the number of past source states; defaults to ``history``.
    base : float, default 2
        Logarithm base (2 = bits).
    correction : {"none", "miller_madow"}
        Which estimate :attr:`InfoResult.value` holds; Miller-Madow corrects each of the
        four entropy terms by ``(K - 1) / (2 N)`` nats [2]_.
    permutations : int, default 0
        Number of surrogates for the test of no information transfer; 0 skips it.
    seed : int, numpy Generator or None
        Seeds the one generator that draws the surrogates.
    surrogate : {"shuffle", "circular"}
        How a surrogate breaks the source -> target coupling. ``"shuffle"`` (default)
        permutes the source-history vectors across time points, keeping the target's
        (next, past) pairs and the distribution of source histories intact [3]_.
        ``"circular"`` rotates the source-history vectors by a random shift between
        ``max(k, l) + 1`` and ``N - max(k, l) - 1``, which also keeps the source's own
        serial dependence; prefer it for strongly autocorrelated series (choices that
        settle on a convention), where shuffling can overstate significance.

    Returns
    -------
    InfoResult
        ``n`` is the number of embedded time points, ``len(series) - max(k, l)``.

    Raises
    ------
    ConfigError
        If the series are empty or of different lengths, hold missing states, ``history``
        or ``source_history`` is below 1, or a series is shorter than
        ``max(k, l) + 2``.

    References
    ----------
    .. [1] T. Schreiber, "Measuring information transfer", Phys. Rev. Lett. 85(2),
       461-464 (2000).
    .. [2] G. A. Miller, "Note on the bias of information estimates" (1955).
    .. [3] J. T. Lizier, "JIDT", Frontiers in Robotics and AI 1:11 (2014).
    .. [4] B. Phipson and G. K. Smyth, Stat. Appl. Genet. Mol. Biol. 9(1) (2010).

    Examples
    --------
    >>> x = [0, 1, 1, 0, 1, 0, 0, 1, 0, 1]
    >>> y = [0] + x[:-1]  # y copies x with a one-step lag
    >>> round(transfer_entropy(x, y).value, 3)  # = H(y_t | y_t-1): y's next state is known
    0.9
    """
    estimate, k, l_ = _te_estimator(
        history, source_history, base, correction, permutations, surrogate, seed
    )
    xc = _codes(source, "source")
    yc = _codes(target, "target")
    _same_length(xc, yc, "source and target")
    _check_length(len(yc), k, l_, "the series")
    return estimate(xc, yc)


def _series_codes(series: pd.DataFrame, name: str) -> dict[Hashable, np.ndarray]:
    if not isinstance(series, pd.DataFrame):
        raise ConfigError(
            f"{name} must be a pandas DataFrame (index = step, one column per member), "
            f"got {type(series).__name__}."
        )
    if series.shape[1] < 2:
        raise ConfigError(f"{name} needs at least two columns (members) to pair up.")
    if series.empty:
        raise ConfigError(f"{name} is empty; pass at least one step.")
    if not series.columns.is_unique:
        raise ConfigError(f"{name} has duplicate columns; give every member one column.")
    if not series.index.is_unique:
        raise ConfigError(
            f"{name} has duplicate steps in its index; pass one row per step "
            f"(e.g. decisions.pivot(index='step', columns='member', values='choice'))."
        )
    missing = int(series.isna().sum().sum())
    if missing:
        raise ConfigError(
            f"{name} has {missing} missing state(s); carry each member's last choice "
            f"forward (series.ffill()) and drop the leading gaps (.dropna()), or fill them."
        )
    ordered = series.sort_index()
    return {col: _codes(ordered[col], f"column {col!r}") for col in ordered.columns}


def transfer_entropy_matrix(
    series: pd.DataFrame,
    *,
    history: int = 1,
    source_history: int | None = None,
    base: float = 2,
    correction: Correction = "none",
    permutations: int = 0,
    seed: SeedLike = None,
    surrogate: Surrogate = "shuffle",
) -> pd.DataFrame:
    """Transfer entropy for every ordered pair of members, as a tidy table.

    Parameters
    ----------
    series : pandas.DataFrame
        Index = step (sorted ascending before use), one column per member, cells = the
        member's state (choice) at that step, no missing cells. From a decisions table:
        ``decisions.pivot(index="step", columns="member", values="choice")``, then
        ``.ffill().dropna()`` if members do not decide at every step.
    history, source_history, base, correction, permutations, surrogate
        As in :func:`transfer_entropy`.
    seed : int, numpy Generator or None
        Seeds one generator that draws the surrogates of all pairs in turn.

    Returns
    -------
    pandas.DataFrame
        One row per ordered pair ``source != target``, columns ``source``, ``target``,
        ``te`` (the value selected by ``correction``), ``plugin``, ``bias_corrected``,
        ``p_value``, ``q_value`` (Benjamini-Hochberg over all pairs, as many pairs are
        tested at once [2]_), ``null_mean``, ``null_sd`` and ``n``.

    Raises
    ------
    ConfigError
        If ``series`` is not a frame with at least two columns, has duplicate steps or
        missing cells, is shorter than ``max(k, l) + 2`` steps, or an option is invalid.

    References
    ----------
    .. [1] T. Schreiber, Phys. Rev. Lett. 85(2), 461-464 (2000).
    .. [2] Y. Benjamini and Y. Hochberg, J. R. Stat. Soc. B 57(1), 289-300 (1995).
    """
    estimate, k, l_ = _te_estimator(
        history, source_history, base, correction, permutations, surrogate, seed
    )
    codes = _series_codes(series, "series")
    _check_length(len(series), k, l_, "series")
    rows = [
        {"source": src, "target": tgt, **_columns(estimate(xc, yc), "te")}
        for src, xc in codes.items()
        for tgt, yc in codes.items()
        if src != tgt
    ]
    return _with_q_values(rows)


def majority_state(states: pd.Series) -> Hashable:
    """A community's state at one step: its members' most common choice.

    A tie between several most common choices is its own state, the ``frozenset`` of the
    tied choices (a split community is informative, and no choice is favoured by an
    arbitrary tie-break).

    Parameters
    ----------
    states : pandas.Series
        The choices of the community's members at one step.

    Returns
    -------
    hashable
        The modal choice, or a ``frozenset`` of the tied modal choices.

    Examples
    --------
    >>> majority_state(pd.Series(["A", "A", "B"]))
    'A'
    >>> majority_state(pd.Series(["A", "B"])) == frozenset({"A", "B"})
    True
    """
    # Hand-written: pandas' mode() sorts the tied labels, which fails on mixed label types
    # and would still need a tie rule on top; a Counter gives the tie set directly.
    counts = Counter(states.tolist())
    top = max(counts.values())
    modes = [label for label, c in counts.items() if c == top]
    return modes[0] if len(modes) == 1 else frozenset(modes)


def group_transfer_entropy(
    series: pd.DataFrame,
    groups: Mapping[Hashable, Hashable],
    *,
    summary: Callable[[pd.Series], Hashable] = majority_state,
    **options: Unpack[TransferEntropyOptions],
) -> pd.DataFrame:
    """Transfer entropy between communities of members, as a tidy table.

    Each community's state at each step is a discrete summary of its members' states,
    by default :func:`majority_state` (the modal choice; a tie is its own state), and
    :func:`transfer_entropy_matrix` is run on the resulting one-column-per-community
    series.

    Parameters
    ----------
    series : pandas.DataFrame
        As in :func:`transfer_entropy_matrix`: index = step, one column per member.
    groups : mapping of member -> community
        Community of each member to include; members of ``series`` not in ``groups`` are
        left out. E.g. the communities found by ``networkx`` community detection.
    summary : callable, default :func:`majority_state`
        Maps the community's member states at one step (a Series) to a hashable state.
    **options
        ``history``, ``source_history``, ``base``, ``correction``, ``permutations``,
        ``seed``, ``surrogate``: passed on to :func:`transfer_entropy_matrix`
        (:class:`TransferEntropyOptions`).

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`transfer_entropy_matrix`, with communities as ``source``
        and ``target``.

    Raises
    ------
    ConfigError
        If ``groups`` is empty, names members absent from ``series`` or defines fewer
        than two communities, or as :func:`transfer_entropy_matrix`.

    References
    ----------
    .. [1] T. Schreiber, Phys. Rev. Lett. 85(2), 461-464 (2000).
    """
    _series_codes(series, "series")  # validates shape, index and missing cells up front
    if not isinstance(groups, Mapping) or not groups:
        raise ConfigError("groups must be a non-empty mapping of member -> community.")
    unknown = [m for m in groups if m not in series.columns]
    if unknown:
        raise ConfigError(
            f"groups names member {unknown[0]!r}, which is not a column of series; "
            f"map only members that have a series."
        )
    communities: dict[Hashable, list[Hashable]] = {}
    for member, community in groups.items():
        communities.setdefault(community, []).append(member)
    if len(communities) < 2:
        raise ConfigError(
            "groups defines fewer than two communities; transfer entropy needs a source "
            "and a target community."
        )
    ordered = series.sort_index()
    summarised = {}
    for community, members in communities.items():
        sub = ordered[members]
        states = [summary(row) for _, row in sub.iterrows()]
        summarised[community] = pd.Series(
            np.fromiter(states, dtype=object, count=len(states)), index=ordered.index
        )
    community_series = pd.DataFrame(summarised, index=ordered.index)
    return transfer_entropy_matrix(community_series, **options)
