"""Causal effects under interference: designs, exposure mappings, HT and Hajek estimators.

When members of a society influence each other, a member's outcome depends on its own
treatment (e.g. a nudge added to its prompt, or being a committed member) *and* on its
neighbours' treatments. Following Aronow & Samii [1]_, an **exposure mapping** reduces the
whole assignment to one of four conditions per node:

========  ====================  ==========================================================
label     own treatment         neighbours
========  ====================  ==========================================================
``c11``   treated               exposed (treated neighbours reach the threshold)
``c10``   treated               not exposed
``c01``   control               exposed
``c00``   control               not exposed
========  ====================  ==========================================================

With the ``"fraction"`` mapping a node is exposed when the fraction of its treated
neighbours is at least ``threshold``; with ``"count"`` when their number is. A node without
neighbours is never exposed. The mapping must be correctly specified for the estimates to
be unbiased: outcomes may depend on the assignment only through the condition.

Designs draw the assignment at random on the graph; both are independent Bernoulli
draws over *units*: :class:`BernoulliDesign` treats each node on its own,
:class:`ClusterDesign` treats whole clusters of the graph at once (graph cluster
randomization, Ugander et al. [3]_; Eckles, Karrer & Ugander [4]_), which makes treated
nodes tend to have treated neighbours and so gives the conditions ``c11`` and ``c00``
more weight. :func:`graph_clusters` builds a clustering.

From the design follow the **exposure probabilities** ``pi_i(c)`` (exactly: a binomial over
the neighbours for Bernoulli designs, a convolution over the clusters touching the
neighbourhood for cluster designs; or by Monte Carlo) and the joint probabilities
``pi_ij(c, d)`` that the variance estimators need (by enumeration of all assignments for
designs with few units, otherwise by Monte Carlo; pairs of nodes whose neighbourhoods
share no randomization unit are independent and get the exact product).

The estimators (Aronow & Samii [1]_) of the mean outcome under condition
``c`` over the ``N`` nodes for which ``pi_i(c) > 0``:

- Horvitz-Thompson: ``sum_i 1[C_i = c] Y_i / pi_i(c) / N``, unbiased;
- Hajek: ``sum_i 1[C_i = c] Y_i / pi_i(c) / sum_i 1[C_i = c] / pi_i(c)``, nearly unbiased,
  usually with much smaller variance;

and their contrasts, named after Hudgens & Halloran [2]_: ``direct`` (``c10 - c00``),
``direct_exposed`` (``c11 - c01``), ``spillover`` (``c01 - c00``), ``spillover_treated``
(``c11 - c10``) and ``total`` (``c11 - c00``, the global effect of treating everyone,
the target of cluster randomization). Variances are Aronow & Samii's estimator:
unbiased terms where ``pi_ij > 0`` and Young's-inequality bounds for pairs with
``pi_ij = 0`` (which include every node with itself across two conditions); it is
conservative *in expectation*, but in small societies it is too noisy to be used with
normal quantiles. The Hajek variance is the same estimator applied to the residuals
from the Hajek means (linearisation). Both are floored at the variance the estimate
would have if its conditions' units were as variable as the whole society (the pooled
within-condition variance over the conditions' Kish effective sizes): without the floor
a condition whose few outcomes happen to be equal gets a variance of 0 and a zero-width
interval. The naive difference in means between treated and control
nodes is reported beside them: it mixes the direct effect with spillover whenever treated
nodes have more treated neighbours than control nodes.

**Intervals** (``interval="randomization"``, the default) invert a studentized
randomization test (Fisher; Rosenbaum [5]_) by re-randomising the *actual* design:
for a hypothesised contrast ``theta`` the outcomes of every node under every condition
are imputed under constant effects (the observed outcome minus the effect of its
observed condition, the other conditions' effects at their Hajek estimates),
``resamples`` assignments are drawn from the design, and ``theta`` is kept when
``|estimate - theta| / se`` is not in the upper ``1 - level`` tail of the same statistic
over the draws. Why this method: a normal interval with the Aronow-Samii standard
error covers 0.63-0.90 of the time at N = 24-60 (a handful of units per condition, a
few clusters, skewed estimators), and variance bounds or t-quantiles only patch the
width; the randomization test instead uses the design's own distribution, including
its empty-condition draws and its few clusters. It is exact under constant effects
(any ``resamples``, counting the observed assignment, Phipson & Smyth [7]_), and being
studentized it remains asymptotically valid for the *average* effect when effects
vary (Wu & Ding [6]_), as it does with the conservative standard error. The nuisance
effects are plugged in, so it is not exact in general; see
``benchmarks/b8_causal_coverage.py`` and ``benchmarks/RESULTS.md`` (B8) for the coverage
at N = 20-60, both estimators, Bernoulli and cluster designs, deterministic and noisy
members. Means
(``mean[c]``) use the studentized quantile at the plug-in imputation.
The interval reported is the hull of the inverted test and ``estimate +- 1.96 se``: with
the nuisance effects plugged in, the test alone covered only 0.91-0.93 in some cells at
N = 20-24. ``interval="normal"`` gives ``estimate +- 1.96 se`` alone, the intervals of
earlier versions (now with the floor).

Estimand covered: the average effect over the nodes of this network, averaged over the
members' own randomness. A member that samples at a temperature has a random outcome
under each condition; as long as that noise does not depend on the assignment the
observed data are distributed as if each member's noise were fixed once and shared by
all its potential outcomes, so the intervals cover the expected (over the noise) effect
for these members. It is not a superpopulation of other networks or other members.

A contrast whose observed conditions hold fewer than ``min_units`` units (default 2)
gets NaN for its estimate, standard error and interval, with a
:class:`SparseConditionWarning`; so does a Hajek standard error when all outcomes are
equal (nothing to estimate a variance from).

Nodes with ``pi_i(c) == 0`` for a condition (e.g. isolated nodes can never be exposed;
under cluster randomization a node whose neighbours all share its cluster can never be in
``c10`` or ``c01``) are excluded from every estimand using that condition (positivity):
column ``n_excluded`` counts them and a :class:`PositivityWarning` says so.

Example
-------
>>> import networkx as nx
>>> G = nx.watts_strogatz_graph(60, 4, 0.1, seed=1)
>>> design = BernoulliDesign(0.5)
>>> z = design.draw(G, rng=2)
>>> y = {i: 1.0 + 0.5 * z[i] for i in G}
>>> table = estimate_effects(G, z, y, design, seed=3)
>>> list(table.columns[:7])
['estimand', 'estimator', 'estimate', 'se', 'ci_low', 'ci_high', 'n_used']

References
----------
.. [1] P. M. Aronow and C. Samii, "Estimating average causal effects under general
   interference, with application to a social network experiment", Annals of Applied
   Statistics 11(4), 1912-1947 (2017).
.. [2] M. G. Hudgens and M. E. Halloran, "Toward causal inference with interference",
   Journal of the American Statistical Association 103(482), 832-842 (2008).
.. [3] J. Ugander, B. Karrer, L. Backstrom and J. Kleinberg, "Graph cluster randomization:
   network exposure to multiple universes", Proc. 19th ACM SIGKDD (KDD '13), 329-337
   (2013).
.. [4] D. Eckles, B. Karrer and J. Ugander, "Design and analysis of experiments in
   networks: reducing bias from interference", Journal of Causal Inference 5(1),
   20150021 (2017).
.. [5] P. R. Rosenbaum, "Interference between units in randomized experiments", Journal
   of the American Statistical Association 102(477), 191-200 (2007).
.. [6] J. Wu and P. Ding, "Randomization tests for weak null hypotheses in randomized
   experiments", Journal of the American Statistical Association 116(536), 1898-1913
   (2021).
.. [7] B. Phipson and G. K. Smyth, "Permutation p-values should never be zero",
   Statistical Applications in Genetics and Molecular Biology 9(1), 39 (2010).
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from workbench.errors import ConfigError
from workbench.random import generator

__all__ = [
    "CLUSTER_METHODS",
    "CONDITIONS",
    "ESTIMANDS",
    "MAPPINGS",
    "RESULT_COLUMNS",
    "BernoulliDesign",
    "ClusterDesign",
    "Design",
    "ExposureMapping",
    "INTERVALS",
    "ExposureProbabilities",
    "PositivityWarning",
    "SparseConditionWarning",
    "estimate_effects",
    "exposure",
    "exposure_probabilities",
    "graph_clusters",
]

Node = Hashable
Seed = int | np.random.Generator | None

#: Condition labels, indexed by their code ``2 * own_treatment + exposed``.
CONDITIONS: tuple[str, ...] = ("c00", "c01", "c10", "c11")

#: The contrasts: estimand -> (condition, reference condition).
ESTIMANDS: dict[str, tuple[str, str]] = {
    "direct": ("c10", "c00"),
    "direct_exposed": ("c11", "c01"),
    "spillover": ("c01", "c00"),
    "spillover_treated": ("c11", "c10"),
    "total": ("c11", "c00"),
}

#: Exposure mapping kinds.
MAPPINGS: tuple[str, ...] = ("fraction", "count")

#: Clustering methods of :func:`graph_clusters`.
CLUSTER_METHODS: tuple[str, ...] = (
    "louvain",
    "greedy_modularity",
    "label_propagation",
    "three_net",
    "components",
)

#: Columns of the table :func:`estimate_effects` returns.
RESULT_COLUMNS: tuple[str, ...] = (
    "estimand",
    "estimator",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "n_used",
    "n_excluded",
    "conditions",
)

#: Interval methods of :func:`estimate_effects`.
INTERVALS: tuple[str, ...] = ("randomization", "normal")

_ENUMERATE_UNITS = 14  # designs with at most this many units get exact joint probabilities
_CHUNK = 1024  # draws per Monte Carlo chunk


class PositivityWarning(UserWarning):
    """Some nodes can never be in a condition an estimand uses; they are excluded."""


class SparseConditionWarning(UserWarning):
    """An exposure condition holds too few units (or no spread) to estimate from."""


# --------------------------------------------------------------------------- graph helpers


def _check_graph(G: object) -> tuple[tuple[Node, ...], sp.csr_array]:
    """Validate ``G``; return its nodes and its 0/1 adjacency without self-loops."""
    if not isinstance(G, nx.Graph):
        raise ConfigError(f"the network must be a networkx.Graph, not {type(G).__name__}")
    if G.is_directed():
        raise ConfigError("the network must be undirected; pass G.to_undirected()")
    nodes = tuple(G.nodes)
    n = len(nodes)
    if n < 2:
        raise ConfigError(f"the network needs at least 2 nodes, got {n}")
    index = {v: i for i, v in enumerate(nodes)}
    ends = np.fromiter(
        (index[x] for edge in G.edges() for x in edge),
        dtype=np.int64,
        count=2 * G.number_of_edges(),
    ).reshape(-1, 2)
    ends = ends[ends[:, 0] != ends[:, 1]]  # self-loops do not count
    rows = np.concatenate([ends[:, 0], ends[:, 1]])
    cols = np.concatenate([ends[:, 1], ends[:, 0]])
    adjacency = sp.csr_array((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    adjacency.sum_duplicates()
    adjacency.data[:] = 1.0  # parallel edges of a multigraph count once
    return nodes, adjacency


# ------------------------------------------------------------------------ exposure mapping


@dataclass(frozen=True)
class ExposureMapping:
    """Own treatment x whether enough neighbours are treated.

    Parameters
    ----------
    kind : {"fraction", "count"}
        ``"fraction"``: exposed when the fraction of treated neighbours is at least
        ``threshold`` (in (0, 1]); ``"count"``: exposed when at least ``threshold``
        (a positive integer) neighbours are treated.
    threshold : float or int, optional
        Defaults to 0.5 for ``"fraction"`` and 1 for ``"count"``.

    Notes
    -----
    Self-loops and edge weights are ignored; a node without neighbours is never exposed.
    """

    kind: Literal["fraction", "count"] = "fraction"
    threshold: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in MAPPINGS:
            raise ConfigError(
                f"unknown exposure mapping {self.kind!r}; choose one of {', '.join(MAPPINGS)}"
            )
        t = self.threshold
        if t is None:
            object.__setattr__(self, "threshold", 0.5 if self.kind == "fraction" else 1)
            return
        if isinstance(t, bool) or not isinstance(t, int | float | np.integer | np.floating):
            raise ConfigError(f"exposure threshold must be a number, got {t!r}")
        if self.kind == "fraction" and not 0.0 < t <= 1.0:
            raise ConfigError(f"a fraction threshold must be in (0, 1], got {t}")
        if self.kind == "count":
            if t != int(t) or t < 1:
                raise ConfigError(f"a count threshold must be a positive integer, got {t}")
            object.__setattr__(self, "threshold", int(t))

    def minimum(self, degree: np.ndarray) -> np.ndarray:
        """Number of treated neighbours a node of each ``degree`` needs to be exposed.

        Nodes that can never be exposed (no neighbours, or fewer than a count threshold)
        get ``degree + 1``.
        """
        degree = np.asarray(degree, dtype=np.int64)
        if self.kind == "count":
            m = np.full(degree.shape, int(self.threshold), dtype=np.int64)
        else:
            m = np.ceil(float(self.threshold) * degree - 1e-9).astype(np.int64)
            m = np.maximum(m, 1)
        return np.where(m > degree, degree + 1, m)

    def codes(self, adjacency: sp.csr_array, treatment: np.ndarray) -> np.ndarray:
        """Condition codes (``2 * own + exposed``, see :data:`CONDITIONS`).

        Parameters
        ----------
        adjacency : scipy.sparse.csr_array
            Symmetric 0/1 adjacency without self-loops, ``(n, n)``.
        treatment : numpy.ndarray
            0/1 assignments, ``(n,)`` or ``(draws, n)``.

        Returns
        -------
        numpy.ndarray
            ``uint8`` codes of the same shape as ``treatment``.
        """
        z = np.asarray(treatment)
        degree = np.asarray(adjacency.sum(axis=1)).ravel()
        treated = (adjacency @ z.astype(np.float64).T).T  # treated neighbours
        exposed = treated >= self.minimum(degree) - 0.5
        return (2 * z.astype(np.uint8) + exposed).astype(np.uint8)


def _mapping(mapping: ExposureMapping | str | None, threshold: float | None) -> ExposureMapping:
    if isinstance(mapping, ExposureMapping):
        if threshold is not None and threshold != mapping.threshold:
            raise ConfigError(
                "give the threshold either in the ExposureMapping or as threshold=, not both"
            )
        return mapping
    if mapping is None:
        mapping = "fraction"
    if not isinstance(mapping, str):
        raise ConfigError(
            f"mapping must be 'fraction', 'count' or an ExposureMapping, not {mapping!r}"
        )
    return ExposureMapping(mapping, threshold)  # type: ignore[arg-type]


def _values(values: object, nodes: Sequence[Node], name: str, *, binary: bool) -> np.ndarray:
    """Align a node-keyed Mapping or Series with ``nodes``; validate the values."""
    if isinstance(values, pd.Series):
        if values.index.has_duplicates:
            raise ConfigError(f"{name} has duplicated nodes in its index; give one per node")
        values = values.to_dict()
    if not isinstance(values, Mapping):
        raise ConfigError(
            f"{name} must be a Mapping or pandas Series keyed by node, not {type(values).__name__}"
        )
    missing = [v for v in nodes if v not in values]
    if missing:
        raise ConfigError(
            f"{name} has no value for node {missing[0]!r}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            + "; give one for every node of the network"
        )
    if len(values) != len(nodes):
        node_set = set(nodes)
        extra = next(k for k in values if k not in node_set)
        raise ConfigError(f"{name} has a value for {extra!r}, which is not a node of the network")
    raw = [values[v] for v in nodes]
    try:
        out = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        bad = next(x for x in raw if not _is_number(x))
        raise ConfigError(f"{name} values must be numbers, got {bad!r}") from None
    if out.ndim != 1 or not np.all(np.isfinite(out)):
        i = int(np.flatnonzero(~np.isfinite(out))[0]) if out.ndim == 1 else 0
        raise ConfigError(f"{name} for node {nodes[i]!r} is not a finite number: {raw[i]!r}")
    if binary:
        bad = np.flatnonzero((out != 0) & (out != 1))
        if bad.size:
            i = int(bad[0])
            raise ConfigError(f"{name} must be 0/1 (or bool); node {nodes[i]!r} has {raw[i]!r}")
        return out.astype(np.int8)
    return out


def _is_number(x: object) -> bool:
    try:
        float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


def exposure(
    G: nx.Graph,
    treatment: Mapping[Node, int] | pd.Series,
    mapping: ExposureMapping | Literal["fraction", "count"] = "fraction",
    threshold: float | None = None,
) -> pd.DataFrame:
    """Each node's exposure condition under one assignment.

    Parameters
    ----------
    G : networkx.Graph
        Undirected network.
    treatment : Mapping or pandas.Series
        0/1 (or bool) treatment of every node, keyed by node.
    mapping : {"fraction", "count"} or ExposureMapping
        See :class:`ExposureMapping`.
    threshold : float or int, optional
        The mapping's threshold (default 0.5 for fractions, 1 for counts).

    Returns
    -------
    pandas.DataFrame
        Indexed by node (in ``G``'s order): ``treated``, ``degree``, ``treated_neighbours``,
        ``fraction`` (NaN without neighbours), ``exposed`` and ``condition`` (one of
        :data:`CONDITIONS`).

    Raises
    ------
    ConfigError
        For a directed graph, a bad mapping or treatment values.
    """
    nodes, adjacency = _check_graph(G)
    m = _mapping(mapping, threshold)
    z = _values(treatment, nodes, "treatment", binary=True)
    codes = m.codes(adjacency, z)
    degree = np.asarray(adjacency.sum(axis=1)).ravel().astype(np.int64)
    treated = np.rint(adjacency @ z.astype(np.float64)).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(degree > 0, treated / np.maximum(degree, 1), np.nan)
    return pd.DataFrame(
        {
            "treated": z.astype(np.int64),
            "degree": degree,
            "treated_neighbours": treated,
            "fraction": fraction,
            "exposed": (codes % 2).astype(bool),
            "condition": np.asarray(CONDITIONS, dtype=object)[codes],
        },
        index=pd.Index(nodes, name="node"),
    )


# ---------------------------------------------------------------------------------- designs


@dataclass(frozen=True)
class Design(ABC):
    """Independent Bernoulli(``p``) treatment of randomization units of the graph.

    Subclasses say what the units are (:meth:`units`).
    """

    p: float

    def __post_init__(self) -> None:
        p = self.p
        if isinstance(p, bool) or not isinstance(p, int | float | np.floating) or not 0 < p < 1:
            raise ConfigError(
                f"treatment probability p must be strictly between 0 and 1, got {p!r}"
            )

    @abstractmethod
    def units(self, G: nx.Graph) -> np.ndarray:
        """Unit index (``0 .. n_units - 1``) of every node, in ``G``'s node order."""

    def sample(self, G: nx.Graph, size: int, rng: Seed = None) -> np.ndarray:
        """``size`` assignments as a ``(size, n)`` 0/1 ``int8`` array (``G``'s node order)."""
        unit = self.units(G)
        gen = generator(rng)
        return (gen.random((int(size), int(unit.max()) + 1)) < self.p).astype(np.int8)[:, unit]

    def draw(self, G: nx.Graph, rng: Seed = None) -> dict[Node, int]:
        """One assignment: node -> 0/1.

        Parameters
        ----------
        G : networkx.Graph
        rng : numpy.random.Generator, int or None
            A generator is used as is (so successive draws differ); an int seeds a new one.
        """
        z = self.sample(G, 1, rng)[0]
        return {v: int(x) for v, x in zip(G.nodes, z, strict=True)}

    def check(self, G: nx.Graph, treatment: np.ndarray) -> None:
        """Raise :class:`ConfigError` when ``treatment`` could not come from this design."""
        unit = self.units(G)
        lo = np.full(int(unit.max()) + 1, 2)
        hi = np.full(int(unit.max()) + 1, -1)
        np.minimum.at(lo, unit, treatment)
        np.maximum.at(hi, unit, treatment)
        mixed = np.flatnonzero(lo != hi)
        if mixed.size:
            node = next(v for v, u in zip(G.nodes, unit, strict=True) if u == mixed[0])
            raise ConfigError(
                f"treatment varies within the cluster of node {node!r}, so it was not drawn "
                f"by this {type(self).__name__}; pass the design that produced it"
            )

    def probabilities(
        self,
        G: nx.Graph,
        mapping: ExposureMapping | Literal["fraction", "count"] = "fraction",
        threshold: float | None = None,
        **kwargs: object,
    ) -> ExposureProbabilities:
        """Exposure probabilities under this design; see :func:`exposure_probabilities`."""
        return exposure_probabilities(G, self, mapping, threshold, **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class BernoulliDesign(Design):
    """Each node treated independently with probability ``p``.

    Parameters
    ----------
    p : float
        Treatment probability, in (0, 1).
    """

    def units(self, G: nx.Graph) -> np.ndarray:
        return np.arange(G.number_of_nodes())


@dataclass(frozen=True)
class ClusterDesign(Design):
    """Graph cluster randomization: each cluster treated independently with probability ``p``.

    Parameters
    ----------
    p : float
        Treatment probability of a cluster, in (0, 1).
    clusters : sequence of node collections, or Mapping node -> label
        A partition of the graph's nodes, e.g. from :func:`graph_clusters`. Stored as a
        tuple of frozensets.

    References
    ----------
    Ugander et al. (2013); Eckles, Karrer & Ugander (2017): see the module references.
    """

    clusters: tuple[frozenset[Node], ...] = field(repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "clusters", _partition(self.clusters))

    @property
    def n_clusters(self) -> int:
        """Number of clusters."""
        return len(self.clusters)

    def __repr__(self) -> str:
        return f"ClusterDesign(p={self.p!r}, n_clusters={self.n_clusters})"

    def units(self, G: nx.Graph) -> np.ndarray:
        index = {}
        for k, cluster in enumerate(self.clusters):
            for v in cluster:
                index[v] = k
        missing = [v for v in G.nodes if v not in index]
        if missing:
            raise ConfigError(
                f"node {missing[0]!r} is in no cluster of the design; build the clusters "
                "from this graph (graph_clusters(G))"
            )
        if len(index) != G.number_of_nodes():
            extra = next(v for v in index if v not in G)
            raise ConfigError(
                f"the design's clusters hold {extra!r}, which is not a node of the network"
            )
        return np.fromiter((index[v] for v in G.nodes), dtype=np.int64, count=len(index))


def _partition(clusters: object) -> tuple[frozenset[Node], ...]:
    if isinstance(clusters, pd.Series):
        clusters = clusters.to_dict()
    if isinstance(clusters, Mapping):
        groups: dict[Hashable, set[Node]] = {}
        for node, label in clusters.items():
            groups.setdefault(label, set()).add(node)
        parts = [frozenset(g) for g in groups.values()]
    elif isinstance(clusters, Iterable) and not isinstance(clusters, str | bytes):
        parts = []
        for c in clusters:
            if not isinstance(c, Collection) or isinstance(c, str | bytes):
                raise ConfigError(
                    "clusters must be node collections (e.g. sets) or a Mapping node -> label, "
                    f"got an item {c!r}"
                )
            parts.append(frozenset(c))
    else:
        raise ConfigError(
            "clusters must be a sequence of node sets or a Mapping node -> label, "
            f"not {type(clusters).__name__}"
        )
    parts = [c for c in parts if c]
    if not parts:
        raise ConfigError("clusters are empty; give a partition of the network's nodes")
    seen: set[Node] = set()
    for c in parts:
        twice = c & seen
        if twice:
            raise ConfigError(f"node {next(iter(twice))!r} is in two clusters; give a partition")
        seen |= c
    return tuple(parts)


def graph_clusters(
    G: nx.Graph,
    method: Literal[
        "louvain", "greedy_modularity", "label_propagation", "three_net", "components"
    ] = "louvain",
    *,
    seed: Seed = None,
    resolution: float = 1.0,
) -> tuple[frozenset[Node], ...]:
    """Partition the graph into clusters for :class:`ClusterDesign`.

    Parameters
    ----------
    G : networkx.Graph
    method : str
        ``"louvain"`` and ``"greedy_modularity"`` (modularity, ``resolution`` > 1 gives
        smaller clusters), ``"label_propagation"``, ``"three_net"`` (Ugander et al.'s
        3-net clustering: a maximal set of centres pairwise more than 3 hops apart, in
        random order, each node joining its nearest centre; good for graphs of restricted
        growth such as lattices and rings) or ``"components"``.
    seed : int, numpy.random.Generator or None
        Randomness of the randomized methods.
    resolution : float
        Modularity resolution for ``"louvain"`` and ``"greedy_modularity"``.

    Returns
    -------
    tuple of frozenset
        The clusters, ordered by their first node in ``G``'s order.
    """
    nodes, _ = _check_graph(G)
    if method not in CLUSTER_METHODS:
        raise ConfigError(
            f"unknown clustering method {method!r}; choose one of {', '.join(CLUSTER_METHODS)}"
        )
    if not resolution > 0:
        raise ConfigError(f"resolution must be positive, got {resolution}")
    rng = generator(seed)
    nx_seed = int(rng.integers(2**31))
    if method == "louvain":
        parts = nx.community.louvain_communities(G, resolution=resolution, seed=nx_seed)
    elif method == "greedy_modularity":
        parts = nx.community.greedy_modularity_communities(G, resolution=resolution)
    elif method == "label_propagation":
        parts = nx.community.asyn_lpa_communities(G, seed=nx_seed)
    elif method == "components":
        parts = nx.connected_components(G)
    else:
        parts = _three_net(G, nodes, rng)
    position = {v: i for i, v in enumerate(nodes)}
    out = [frozenset(c) for c in parts]
    return tuple(sorted(out, key=lambda c: min(position[v] for v in c)))


def _three_net(G: nx.Graph, nodes: Sequence[Node], rng: np.random.Generator) -> list[set[Node]]:
    blocked: set[Node] = set()
    centres: list[Node] = []
    for i in rng.permutation(len(nodes)):
        v = nodes[i]
        if v in blocked:
            continue
        centres.append(v)
        blocked.update(nx.single_source_shortest_path_length(G, v, cutoff=3))
    _, paths = nx.multi_source_dijkstra(G, centres, weight=lambda u, v, d: 1)
    groups: dict[Node, set[Node]] = {c: set() for c in centres}
    for v, path in paths.items():
        groups[path[0]].add(v)
    return list(groups.values())


# ------------------------------------------------------------------- exposure probabilities


@dataclass(frozen=True, eq=False)
class ExposureProbabilities:
    """Marginal and joint exposure probabilities of every node under a design.

    Attributes
    ----------
    nodes : tuple
        The nodes, in the graph's order.
    design : Design
    mapping : ExposureMapping
    pi : numpy.ndarray
        ``(n, 4)``: ``pi[i, c]`` is the probability that node ``i`` is in condition ``c``
        (columns in the order of :data:`CONDITIONS`).
    pairs : numpy.ndarray
        ``(P, 2)`` node indices ``i < j`` of the *dependent* pairs (their neighbourhoods
        share a randomization unit). All other pairs are independent:
        ``pi_ij(c, d) = pi_i(c) pi_j(d)``.
    joint : numpy.ndarray or None
        ``(P, 4, 4)``: ``joint[p, c, d] = P(C_i = c, C_j = d)`` for ``(i, j) = pairs[p]``.
    method : str
        How ``pi`` was computed: ``"exact"`` or ``"monte-carlo"``.
    joint_method : str
        How ``joint`` was computed: ``"enumeration"``, ``"monte-carlo"`` or ``"none"``.
    draws : int
        Monte Carlo draws used (0 when none).
    """

    nodes: tuple[Node, ...]
    design: Design
    mapping: ExposureMapping
    pi: np.ndarray
    pairs: np.ndarray
    joint: np.ndarray | None
    method: str
    joint_method: str
    draws: int
    _cache: dict[tuple[int, int, bytes], tuple[sp.csr_array, np.ndarray, np.ndarray]] = field(
        default_factory=dict, init=False, repr=False
    )

    def to_frame(self) -> pd.DataFrame:
        """``pi`` as a DataFrame indexed by node, one column per condition."""
        return pd.DataFrame(self.pi, index=pd.Index(self.nodes, name="node"), columns=CONDITIONS)

    def pairwise(self, c: str, d: str) -> np.ndarray:
        """Dense ``(n, n)`` matrix of ``pi_ij(c, d) = P(C_i = c, C_j = d)``.

        The diagonal holds ``pi_i(c)`` when ``c == d`` and 0 otherwise.
        """
        if self.joint is None:
            raise ConfigError("joint probabilities were not computed; pass joint=True")
        k, m = _condition(c), _condition(d)
        out = np.outer(self.pi[:, k], self.pi[:, m])
        i, j = self.pairs[:, 0], self.pairs[:, 1]
        out[i, j] = self.joint[:, k, m]
        out[j, i] = self.joint[:, m, k]
        np.fill_diagonal(out, self.pi[:, k] if k == m else 0.0)
        return out


def _condition(c: str) -> int:
    if c not in CONDITIONS:
        raise ConfigError(f"unknown condition {c!r}; choose one of {', '.join(CONDITIONS)}")
    return CONDITIONS.index(c)


def exposure_probabilities(
    G: nx.Graph,
    design: Design,
    mapping: ExposureMapping | Literal["fraction", "count"] = "fraction",
    threshold: float | None = None,
    *,
    method: Literal["exact", "monte-carlo"] = "exact",
    draws: int = 10_000,
    seed: Seed = None,
    joint: bool = True,
) -> ExposureProbabilities:
    """Probabilities ``pi_i(c)`` and joint ``pi_ij(c, d)`` of the exposure conditions.

    Parameters
    ----------
    G : networkx.Graph
    design : Design
    mapping : {"fraction", "count"} or ExposureMapping
    threshold : float or int, optional
    method : {"exact", "monte-carlo"}
        Marginals: ``"exact"`` computes ``pi_i(c)`` in closed form (a binomial over the
        neighbours for a Bernoulli design, a convolution over the clusters touching the
        neighbourhood for a cluster design); ``"monte-carlo"`` estimates them from
        ``draws`` assignments. Joint probabilities of dependent pairs come from enumerating
        all assignments when the design has at most 14 units, otherwise from ``draws``
        Monte Carlo assignments.
    draws : int
        Monte Carlo draws.
    seed : int, numpy.random.Generator or None
        Randomness of the Monte Carlo draws.
    joint : bool
        Compute the joint probabilities (needed for variances).

    Returns
    -------
    ExposureProbabilities

    Notes
    -----
    A Monte Carlo estimate of 0 for a probability that is in truth tiny makes the node
    count as never in that condition (it is excluded); use more draws if that matters.
    """
    nodes, adjacency = _check_graph(G)
    if not isinstance(design, Design):
        raise ConfigError(
            f"design must be a BernoulliDesign or ClusterDesign, not {type(design).__name__}"
        )
    m = _mapping(mapping, threshold)
    if method not in ("exact", "monte-carlo"):
        raise ConfigError(f"method must be 'exact' or 'monte-carlo', got {method!r}")
    if isinstance(draws, bool) or not isinstance(draws, int | np.integer) or draws < 100:
        raise ConfigError(f"draws must be an integer of at least 100, got {draws!r}")
    unit = design.units(G)
    n, n_units = len(nodes), int(unit.max()) + 1
    rng = generator(seed)

    # pairs whose exposures depend on a common unit: closed neighbourhoods share a unit
    membership = sp.csr_array(
        (np.ones(n), (np.arange(n), unit)), shape=(n, n_units), dtype=np.float64
    )
    touches = ((adjacency + sp.eye_array(n, format="csr")) @ membership) > 0
    touches = sp.csr_array(touches, dtype=np.float64)
    shared = sp.triu(touches @ touches.T, k=1, format="coo")
    pairs = np.column_stack([shared.row, shared.col]).astype(np.int64)
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    pairs = pairs[order]

    pi = _exact_pi(adjacency, unit, design.p, m) if method == "exact" else None
    joint_p: np.ndarray | None = None
    joint_method, used = "none", 0
    need_draws = method == "monte-carlo" or (joint and n_units > _ENUMERATE_UNITS)
    if joint and n_units <= _ENUMERATE_UNITS and method == "exact":
        grid = ((np.arange(2**n_units)[:, None] >> np.arange(n_units)) & 1).astype(np.int8)
        k = grid.sum(axis=1)
        weight = design.p**k * (1 - design.p) ** (n_units - k)
        codes = m.codes(adjacency, grid[:, unit])
        joint_p = _accumulate_joint(codes, weight, pairs)
        joint_method = "enumeration"
    if need_draws:
        counts = np.zeros((n, 4))
        acc = np.zeros((len(pairs), 4, 4)) if joint else None
        for start in range(0, draws, _CHUNK):
            size = min(_CHUNK, draws - start)
            z = (rng.random((size, n_units)) < design.p).astype(np.int8)[:, unit]
            codes = m.codes(adjacency, z)
            for c in range(4):
                counts[:, c] += (codes == c).sum(axis=0)
            if acc is not None:
                acc += _accumulate_joint(codes, None, pairs)
        used = draws
        if pi is None:
            pi = counts / draws
        if acc is not None and joint_p is None:
            joint_p = acc / draws
            joint_method = "monte-carlo"
    assert pi is not None
    pi.setflags(write=False)
    pairs.setflags(write=False)
    if joint_p is not None:
        joint_p.setflags(write=False)
    return ExposureProbabilities(
        nodes=nodes,
        design=design,
        mapping=m,
        pi=pi,
        pairs=pairs,
        joint=joint_p,
        method=method,
        joint_method=joint_method,
        draws=used,
    )


def _accumulate_joint(
    codes: np.ndarray, weight: np.ndarray | None, pairs: np.ndarray
) -> np.ndarray:
    """Sum over draws of ``weight * 1[C_i = c, C_j = d]`` for each pair: ``(P, 4, 4)``.

    ``weight=None`` counts the draws.
    """
    n_pairs = len(pairs)
    out = np.zeros(n_pairs * 16)
    if n_pairs == 0:
        return out.reshape(0, 4, 4)
    step = max(1, 4_000_000 // n_pairs)
    base = (np.arange(n_pairs, dtype=np.intp) * 16)[:, None]
    first, second = pairs[:, 0], pairs[:, 1]
    for s in range(0, len(codes), step):
        block = np.ascontiguousarray(codes[s : s + step].T)  # (n, draws): rows are nodes
        cell = (4 * block[first] + block[second]).astype(np.intp)
        cell += base
        w = None if weight is None else np.tile(weight[s : s + step], n_pairs)
        out += np.bincount(cell.ravel(), weights=w, minlength=n_pairs * 16)
    return out.reshape(n_pairs, 4, 4)


def _exact_pi(
    adjacency: sp.csr_array, unit: np.ndarray, p: float, mapping: ExposureMapping
) -> np.ndarray:
    """Closed-form ``pi_i(c)`` for independent Bernoulli(p) units."""
    n = adjacency.shape[0]
    degree = np.asarray(adjacency.sum(axis=1)).ravel().astype(np.int64)
    need = mapping.minimum(degree)
    if np.array_equal(np.sort(unit), np.arange(n)):
        # own treatment independent of the Binomial(degree, p) count of treated neighbours
        sf_exposed = stats.binom.sf(need - 1, degree, p)  # P(S >= need)
        sf_own = sf_exposed
    else:
        own_share = np.zeros(n, dtype=np.int64)
        sf_exposed = np.empty(n)
        sf_own = np.empty(n)
        indptr, indices = adjacency.indptr, adjacency.indices
        for i in range(n):
            nbr_units = unit[indices[indptr[i] : indptr[i + 1]]]
            u, w = np.unique(nbr_units, return_counts=True)
            own = u == unit[i]
            own_share[i] = int(w[own].sum())
            dist = np.ones(1)
            for weight in w[~own]:  # S = sum of weight * Bernoulli(p) over other units
                new = np.zeros(len(dist) + int(weight))
                new[: len(dist)] += (1 - p) * dist
                new[int(weight) :] += p * dist
                dist = new
            tail = np.concatenate([np.cumsum(dist[::-1])[::-1], [0.0]])
            sf_exposed[i] = tail[min(int(need[i]), len(dist))]
            sf_own[i] = tail[min(max(int(need[i]) - own_share[i], 0), len(dist))]
    pi = np.empty((n, 4))
    pi[:, 0] = (1 - p) * (1 - sf_exposed)
    pi[:, 1] = (1 - p) * sf_exposed
    pi[:, 2] = p * (1 - sf_own)
    pi[:, 3] = p * sf_own
    pi[np.abs(pi) < 1e-15] = 0.0
    return pi


# ------------------------------------------------------------------------------ estimators


def _weights(
    probs: ExposureProbabilities, k: int, m: int, support: np.ndarray
) -> tuple[sp.csr_array, np.ndarray, np.ndarray]:
    """Pair weights of conditions ``(k, m)`` within ``support``, cached on ``probs``.

    Over the ordered dependent pairs ``i != j`` (independent pairs have weight 0 and
    ``pi_ij > 0``, so they need no entry): the sparse ``W[i, j] = 1 - pi_i(k) pi_j(m) /
    pi_ij(k, m)`` where ``pi_ij(k, m) > 0``; and, for each node, how many nodes of the
    support it has a zero joint probability with, as first (``k``) and second (``m``)
    member of the pair.
    """
    key = (k, m, support.tobytes())
    if key not in probs._cache:
        assert probs.joint is not None
        n = len(probs.nodes)
        i, j = probs.pairs[:, 0], probs.pairs[:, 1]
        rows = np.concatenate([i, j])
        cols = np.concatenate([j, i])
        joint = np.concatenate([probs.joint[:, k, m], probs.joint[:, m, k]])
        positive = joint > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(positive, 1.0 - probs.pi[rows, k] * probs.pi[cols, m] / joint, 0.0)
        weights = sp.csr_array((w, (rows, cols)), shape=(n, n))
        weights.eliminate_zeros()
        zero = ~positive & support[rows] & support[cols]
        as_first = np.bincount(rows[zero], minlength=n).astype(np.float64)
        as_second = np.bincount(cols[zero], minlength=n).astype(np.float64)
        probs._cache[key] = (weights, as_first, as_second)
    return probs._cache[key]


def _variance_sum(
    k: int,
    m: int,
    u_k: np.ndarray,
    u_m: np.ndarray,
    codes: np.ndarray,
    probs: ExposureProbabilities,
    support: np.ndarray,
) -> np.ndarray:
    """Aronow & Samii's variance (``k == m``) or covariance sum, one per column.

    ``codes`` are ``(n, s)`` condition codes (one assignment per column) and ``u_k``,
    ``u_m`` the ``(n, s)`` outcomes (or residuals) used for conditions ``k`` and ``m``;
    each sum is to be divided by ``N**2``. Nodes outside ``support`` contribute nothing.
    """
    pi_k, pi_m = probs.pi[:, k, None], probs.pi[:, m, None]
    in_k = (codes == k) & support[:, None]
    in_m = (codes == m) & support[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(in_k, u_k / pi_k, 0.0)
        b = np.where(in_m, u_m / pi_m, 0.0)
    q_k, q_m = a * u_k, b * u_m  # 1[C = c] u**2 / pi
    weights, as_first, as_second = _weights(probs, k, m, support)
    total = np.sum(a * (weights @ b), axis=0)
    # Young's bound for pairs with pi_ij = 0: half of u_i**2 / pi_i + u_j**2 / pi_j each
    bound = 0.5 * (as_first @ q_k + as_second @ q_m)
    if k == m:
        return total + bound + np.sum((1.0 - pi_k) * a * a, axis=0)
    # pi_ii(k, m) = 0 for k != m: the diagonal always takes the bound
    return total - bound - 0.5 * np.sum(q_k + q_m, axis=0)


def _pooled_variance(codes: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Within-condition variance of the outcomes, pooled over the conditions, per column.

    Where no condition has any spread (every condition's outcomes are equal) the total
    variance of the outcomes is used instead; it is 0 only when all outcomes are equal.
    """
    n = y.shape[0]
    ss = np.zeros(y.shape[1])
    groups = np.zeros(y.shape[1])
    for c in range(len(CONDITIONS)):
        hit = codes == c
        count = hit.sum(axis=0)
        mean = np.where(hit, y, 0.0).sum(axis=0) / np.maximum(count, 1)
        ss += np.where(hit, (y - mean) ** 2, 0.0).sum(axis=0)
        groups += count > 0
    pooled = np.where(n > groups, ss / np.maximum(n - groups, 1), 0.0)
    total = y.var(axis=0, ddof=1) if n > 1 else np.zeros(y.shape[1])
    return np.where(pooled > 1e-300, pooled, total)


def _condition_mean(
    codes: np.ndarray, y: np.ndarray, probs: ExposureProbabilities, k: int, support: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per column: HT and Hajek means of condition ``k``, Hajek residuals, units, Kish size."""
    pi = np.where(probs.pi[:, k] > 0, probs.pi[:, k], 1.0)[:, None]
    hit = (codes == k) & support[:, None]
    w = np.where(hit, 1.0 / pi, 0.0)
    total, denominator = (w * y).sum(axis=0), w.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        hajek = np.where(denominator > 0, total / denominator, np.nan)
        kish = np.where(denominator > 0, denominator**2 / (w * w).sum(axis=0), 0.0)
    residual = y - np.nan_to_num(hajek)[None, :]
    return total / int(support.sum()), hajek, residual, hit.sum(axis=0), kish


def _evaluate(
    codes: np.ndarray,
    y: np.ndarray,
    probs: ExposureProbabilities,
    k: int,
    m: int | None,
    support: np.ndarray,
    pooled: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """HT and Hajek estimates and floored variances of ``mean[k] - mean[m]`` (or ``mean[k]``).

    ``codes`` and ``y`` hold one assignment and its outcomes per column, ``(n, s)``.
    Returns ``(2, s)`` estimates, ``(2, s)`` Aronow-Samii variances and ``(s,)`` floors
    (rows: HT, Hajek; the variance to use is the larger of the two) and the ``(s,)``
    number of units in the smaller of the two conditions.
    """
    n = int(support.sum())
    ht_k, hajek_k, r_k, count, kish = _condition_mean(codes, y, probs, k, support)
    floor_size = 1.0 / np.maximum(kish, 1.0)

    def var(u_k: np.ndarray, u_m: np.ndarray | None) -> np.ndarray:
        v = _variance_sum(k, k, u_k, u_k, codes, probs, support)
        if m is not None:
            assert u_m is not None
            v = v + _variance_sum(m, m, u_m, u_m, codes, probs, support)
            v = v - 2 * _variance_sum(k, m, u_k, u_m, codes, probs, support)
        return v / n**2

    if m is None:
        estimate = np.vstack([ht_k, hajek_k])
        variance = np.vstack([var(y, None), var(r_k, None)])
    else:
        ht_m, hajek_m, r_m, count_m, kish_m = _condition_mean(codes, y, probs, m, support)
        count = np.minimum(count, count_m)
        floor_size = floor_size + 1.0 / np.maximum(kish_m, 1.0)
        estimate = np.vstack([ht_k - ht_m, hajek_k - hajek_m])
        variance = np.vstack([var(y, y), var(r_k, r_m)])
    # The floor: the variance the estimate would have if the units in its conditions
    # were as variable as the whole society's (pooled within-condition variance over the
    # Kish effective sizes). The Aronow-Samii estimator is 0 whenever a condition's
    # outcomes are all equal, which with a handful of units per condition is common.
    return estimate, variance, pooled * floor_size, count


def _row(
    estimand: str,
    estimator: str,
    estimate: float,
    se: float,
    low: float,
    high: float,
    n_used: int,
    n_excluded: int,
    conditions: str,
) -> dict[str, object]:
    return {
        "estimand": estimand,
        "estimator": estimator,
        "estimate": estimate,
        "se": se,
        "ci_low": low,
        "ci_high": high,
        "n_used": n_used,
        "n_excluded": n_excluded,
        "conditions": conditions,
    }


def _invert(
    est_obs: float,
    se_obs: float,
    truth0: float,
    ref_est: np.ndarray,
    ref_var: np.ndarray,
    ref_floor: np.ndarray,
    ok: np.ndarray,
    h: float,
    level: float,
) -> tuple[float, float]:
    """Invert the studentized randomization test over the hypothesised effect.

    The hypothesis ``theta = truth0 + s`` shifts the imputed outcomes by ``s * D``; the
    ``(3, R)`` reference estimates, variances and floors were computed at ``s = -h, 0, h``.
    Estimates are linear in ``s`` and variances quadratic, so three points give them for
    every ``s``. Returns the hull of the ``s`` not rejected at ``1 - level``, as ``theta``.
    """
    e0, slope = ref_est[1], (ref_est[2] - ref_est[0]) / (2 * h)

    def quad(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return v[1], (v[2] - v[0]) / (2 * h), (v[2] + v[0] - 2 * v[1]) / (2 * h * h)

    va, vb, vc = quad(ref_var)
    fa, fb, fc = quad(ref_floor)
    n_ok = int(ok.sum())

    def accepted(shift: np.ndarray) -> np.ndarray:
        s = shift[:, None]
        v = np.maximum(va + (vb + vc * s) * s, fa + (fb + fc * s) * s)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_ref = np.abs(e0 + (slope - 1.0) * s - truth0) / np.sqrt(np.maximum(v, 0.0))
        t_obs = np.abs(est_obs - truth0 - shift) / se_obs
        extreme = ok & ~(t_ref < t_obs[:, None] * (1 - 1e-9))  # a NaN counts as extreme
        return (1 + extreme.sum(axis=1)) / (1 + n_ok) > 1 - level

    centre = est_obs - truth0  # accepted: every draw is at least as extreme as t_obs = 0
    for reach in (10.0, 60.0):
        grid = centre + se_obs * np.linspace(-reach, reach, 81)
        keep = np.flatnonzero(accepted(grid))
        if keep[0] > 0 and keep[-1] < len(grid) - 1:
            break
    else:
        return -math.inf, math.inf
    ends = []
    for inside, outside in (
        (grid[keep[0]], grid[keep[0] - 1]),
        (grid[keep[-1]], grid[keep[-1] + 1]),
    ):
        for _ in range(14):  # bisection to 1e-4 of the grid step
            mid = 0.5 * (inside + outside)
            if accepted(np.array([mid]))[0]:
                inside = mid
            else:
                outside = mid
        ends.append(inside)
    return truth0 + ends[0], truth0 + ends[1]


def _quantile(t: np.ndarray, level: float) -> float:
    """The randomization critical value: the ``ceil(level * (R + 1))``-th smallest ``|T_r|``.

    Counting the observed assignment among the ``R`` draws makes the test exact for a
    sharp null (Phipson & Smyth); with too few usable draws the value is infinite.
    """
    t = np.sort(t[np.isfinite(t)])
    rank = math.ceil(level * (len(t) + 1))
    return float(t[rank - 1]) if 0 < rank <= len(t) else math.inf


def _estimate(
    codes: np.ndarray,
    z: np.ndarray,
    y: np.ndarray,
    probs: ExposureProbabilities,
    estimands: Sequence[str],
    means: bool,
    naive: bool,
    level: float,
    interval: str,
    min_units: int,
    reference: np.ndarray | None,
) -> pd.DataFrame:
    """All rows of :func:`estimate_effects`; ``reference`` holds ``(n, R)`` drawn codes."""
    q_normal = float(stats.norm.ppf(0.5 + level / 2))
    positive = probs.pi > 0
    estimators = ("horvitz_thompson", "hajek")
    rows: list[dict[str, object]] = []
    sparse: list[str] = []
    flat: list[str] = []

    targets: list[tuple[str, int, int | None, str]] = []
    for name in estimands:
        c, d = ESTIMANDS[name]
        targets.append((name, CONDITIONS.index(c), CONDITIONS.index(d), f"{c} - {d}"))
    if means:
        targets += [(f"mean[{c}]", k, None, c) for k, c in enumerate(CONDITIONS)]

    obs_codes, obs_y = codes[:, None], y[:, None]
    pooled = _pooled_variance(obs_codes, obs_y)
    if reference is not None:
        # the science table under constant effects, at the observed Hajek condition means
        mu = np.full(len(CONDITIONS), float(y.mean()))
        for k in range(len(CONDITIONS)):
            hajek = _condition_mean(obs_codes, obs_y, probs, k, positive[:, k])[1][0]
            if np.isfinite(hajek):
                mu[k] = hajek
        y0 = y - mu[codes]
        ref_y = y0[:, None] + mu[reference]
        ref_pooled = _pooled_variance(reference, ref_y)

    for name, k, m, label in targets:
        support = positive[:, k] & (positive[:, m] if m is not None else True)
        n = int(support.sum())
        in_conditions = (codes == k) | (codes == m) if m is not None else codes == k
        used = int((in_conditions & support).sum())
        if n == 0:
            for e in estimators:
                rows.append(_row(name, e, *[math.nan] * 4, 0, len(y), label))
            continue
        est, var, floor, count = _evaluate(obs_codes, obs_y, probs, k, m, support, pooled)
        estimate, variance = est[:, 0], np.maximum(var[:, 0], floor[0])
        if count[0] < min_units:
            sparse.append(name)
            estimate = np.full(2, math.nan)
        with np.errstate(invalid="ignore"):
            se = np.where(np.isfinite(estimate) & (variance > 0), np.sqrt(variance), math.nan)
        if np.isfinite(estimate).any() and not (variance > 0).all():
            flat.append(name)
        low, high = estimate - q_normal * se, estimate + q_normal * se
        if interval == "randomization" and reference is not None and np.isfinite(se).any():
            if m is None:  # means: studentized quantile at the imputed science table
                ref_est, ref_var, ref_floor, ref_count = _evaluate(
                    reference, ref_y, probs, k, None, support, ref_pooled
                )
                truth = float(y0[support].mean()) + mu[k]
                ref_var = np.maximum(ref_var, ref_floor)
                ok = (ref_count >= max(min_units, 1))[None, :] & (ref_var > 0)
                with np.errstate(divide="ignore", invalid="ignore"):
                    t = np.where(ok, np.abs(ref_est - truth) / np.sqrt(ref_var), np.nan)
                half = np.array([_quantile(t[e], level) for e in range(2)]) * se
                low, high = estimate - half, estimate + half
            else:
                # test inversion over the contrast: hypothesised effects shift the imputed
                # outcomes of the units observed, or drawn, in condition k
                h = float(np.nanmax(se))
                shift = (reference == k).astype(np.float64) - (codes == k)[:, None]
                stack = np.concatenate([ref_y - h * shift, ref_y, ref_y + h * shift], axis=1)
                stack_codes = np.concatenate([reference] * 3, axis=1)
                ref_est, ref_var, ref_floor, ref_count = _evaluate(
                    stack_codes, stack, probs, k, m, support, _pooled_variance(stack_codes, stack)
                )
                r = reference.shape[1]
                ok = ref_count[:r] >= max(min_units, 1)
                for e in range(2):
                    if np.isfinite(se[e]):
                        low[e], high[e] = _invert(
                            float(estimate[e]),
                            float(se[e]),
                            float(mu[k] - mu[m]),
                            ref_est[e].reshape(3, r),
                            ref_var[e].reshape(3, r),
                            ref_floor.reshape(3, r),
                            ok,
                            h,
                            level,
                        )
        if interval == "randomization":
            # never narrower than the normal interval: the test is exact only when the
            # plugged-in nuisance effects are right, and at N ~ 20 they are far from it
            low = np.fmin(low, estimate - q_normal * se)
            high = np.fmax(high, estimate + q_normal * se)
        for e, name_e in enumerate(estimators):
            rows.append(
                _row(
                    name,
                    name_e,
                    float(estimate[e]),
                    float(se[e]),
                    float(low[e]),
                    float(high[e]),
                    used,
                    len(y) - n,
                    label,
                )
            )
        if naive and name == "direct":
            rows.append(_naive(z, y, q_normal))
    if naive and "direct" not in estimands:
        rows.append(_naive(z, y, q_normal))
    if sparse:
        warnings.warn(
            f"{', '.join(sparse)}: an exposure condition has fewer than {min_units} units under "
            "this assignment, so the estimate and its standard error are NaN; use more nodes, "
            "another design or a smaller min_units",
            SparseConditionWarning,
            stacklevel=3,
        )
    if flat:
        warnings.warn(
            f"{', '.join(flat)}: all outcomes are equal, so there is no variance to estimate "
            "from; the standard error and interval are NaN",
            SparseConditionWarning,
            stacklevel=3,
        )
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


def _naive(z: np.ndarray, y: np.ndarray, q: float) -> dict[str, object]:
    treated, control = y[z == 1], y[z == 0]
    label = "treated - control"
    if treated.size == 0 or control.size == 0:
        return _row("direct", "naive", *[math.nan] * 4, len(y), 0, label)
    estimate = float(treated.mean() - control.mean())
    if treated.size > 1 and control.size > 1:
        se = math.sqrt(treated.var(ddof=1) / treated.size + control.var(ddof=1) / control.size)
    else:
        se = math.nan
    return _row(
        "direct", "naive", estimate, se, estimate - q * se, estimate + q * se, len(y), 0, label
    )


def estimate_effects(
    G: nx.Graph,
    treatment: Mapping[Node, int] | pd.Series,
    outcome: Mapping[Node, float] | pd.Series,
    design: Design,
    mapping: ExposureMapping | Literal["fraction", "count"] | None = None,
    threshold: float | None = None,
    *,
    probabilities: ExposureProbabilities | None = None,
    estimands: Sequence[str] = tuple(ESTIMANDS),
    means: bool = True,
    naive: bool = True,
    level: float = 0.95,
    interval: Literal["randomization", "normal"] = "randomization",
    resamples: int = 1000,
    min_units: int = 2,
    draws: int = 10_000,
    seed: Seed = None,
    on_positivity: Literal["warn", "ignore", "raise"] = "warn",
) -> pd.DataFrame:
    """Horvitz-Thompson and Hajek estimates of direct and spillover effects, with the naive one.

    Parameters
    ----------
    G : networkx.Graph
        The society's network.
    treatment : Mapping or pandas.Series
        0/1 treatment per node (e.g. 1 for members whose prompt carried the nudge), as
        drawn by ``design``.
    outcome : Mapping or pandas.Series
        Numeric outcome per node (e.g. the share of a member's answers that were correct:
        ``decisions.groupby("node")["correct"].mean()``).
    design : Design
        The design that drew ``treatment``.
    mapping : {"fraction", "count"} or ExposureMapping, optional
        Exposure mapping (default ``"fraction"`` at 0.5, or the one of ``probabilities``).
    threshold : float or int, optional
        Its threshold.
    probabilities : ExposureProbabilities, optional
        Precomputed by :func:`exposure_probabilities` for this graph, design and mapping;
        pass it when estimating many times on the same design.
    estimands : sequence of str
        Contrasts from :data:`ESTIMANDS`.
    means : bool
        Also report the mean outcome under each condition (estimands ``"mean[c11]"``...).
    naive : bool
        Also report the naive difference in means, treated minus control (estimand
        ``"direct"``, estimator ``"naive"``, Welch standard error).
    level : float
        Confidence level of the intervals.
    interval : {"randomization", "normal"}
        ``"randomization"`` (default): the contrasts not rejected by a studentized
        randomization test over ``resamples`` re-randomisations of ``design``, outcomes
        imputed under constant effects (see the module notes), widened where needed to
        ``estimate +- 1.96 se``. ``"normal"``: ``estimate +- q * se`` with the normal
        quantile, the intervals of earlier versions, which cover too rarely in small
        societies.
    resamples : int
        Re-randomisations for ``interval="randomization"``.
    min_units : int
        A contrast (or mean) whose observed conditions hold fewer units than this gets a
        NaN estimate, standard error and interval, with a :class:`SparseConditionWarning`.
        Re-randomisations with fewer units are left out of the reference distribution.
    draws : int
        Monte Carlo draws for the joint probabilities when ``probabilities`` is not given.
    seed : int, numpy.random.Generator or None
        Randomness of those draws and of the re-randomisations; pass one for reproducible
        intervals.
    on_positivity : {"warn", "ignore", "raise"}
        What to do when some nodes can never be in a condition an estimand uses.

    Returns
    -------
    pandas.DataFrame
        One row per estimand and estimator (``"horvitz_thompson"``, ``"hajek"``,
        ``"naive"``), columns :data:`RESULT_COLUMNS`: ``n_used`` counts the nodes whose
        outcome enters the estimate, ``n_excluded`` the nodes left out for positivity,
        ``conditions`` names the compared conditions. ``se`` is Aronow & Samii's
        variance estimate (conservative in expectation for the sample estimand) floored
        as described in the module notes; the intervals are ``estimate +- q * se``. The
        naive row has a Welch standard error and a normal interval.

    Warns
    -----
    PositivityWarning
        Some nodes can never be in a condition an estimand uses.
    SparseConditionWarning
        A condition holds fewer than ``min_units`` units, or all outcomes are equal.

    Raises
    ------
    ConfigError
        For bad input: a treatment not drawn by ``design``, missing or non-numeric
        values, unknown estimands, probabilities computed for another design.
    """
    nodes, adjacency = _check_graph(G)
    if not isinstance(design, Design):
        raise ConfigError(
            f"design must be a BernoulliDesign or ClusterDesign, not {type(design).__name__}"
        )
    unknown = [e for e in estimands if e not in ESTIMANDS]
    if isinstance(estimands, str) or unknown:
        bad = estimands if isinstance(estimands, str) else unknown[0]
        raise ConfigError(f"unknown estimand {bad!r}; give a list from {', '.join(ESTIMANDS)}")
    if not 0 < level < 1:
        raise ConfigError(f"level must be in (0, 1), got {level}")
    if interval not in INTERVALS:
        raise ConfigError(f"interval must be one of {', '.join(INTERVALS)}, not {interval!r}")
    for value, what, least in ((resamples, "resamples", 100), (min_units, "min_units", 0)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < least:
            raise ConfigError(f"{what} must be an integer of at least {least}, got {value!r}")
    if on_positivity not in ("warn", "ignore", "raise"):
        raise ConfigError(
            f"on_positivity must be 'warn', 'ignore' or 'raise', not {on_positivity!r}"
        )
    z = _values(treatment, nodes, "treatment", binary=True)
    y = _values(outcome, nodes, "outcome", binary=False)
    design.check(G, z)
    rng = generator(seed)
    if probabilities is None:
        m = _mapping(mapping, threshold)
        probabilities = exposure_probabilities(G, design, m, draws=draws, seed=rng)
    else:
        if not isinstance(probabilities, ExposureProbabilities):
            raise ConfigError("probabilities must come from exposure_probabilities()")
        if mapping is None and threshold is None:
            m = probabilities.mapping
        else:
            m = _mapping(probabilities.mapping.kind if mapping is None else mapping, threshold)
        if probabilities.nodes != nodes:
            raise ConfigError("probabilities were computed for another graph; recompute them")
        if probabilities.design != design:
            raise ConfigError("probabilities were computed for another design; recompute them")
        if probabilities.mapping != m:
            raise ConfigError(
                "probabilities were computed for another exposure mapping; recompute them"
            )
        if probabilities.joint is None:
            raise ConfigError("probabilities lack joint probabilities; compute with joint=True")
    codes = m.codes(adjacency, z)

    used = {c for e in estimands for c in ESTIMANDS[e]} | (set(CONDITIONS) if means else set())
    never = {c: int((probabilities.pi[:, CONDITIONS.index(c)] == 0).sum()) for c in sorted(used)}
    never = {c: k for c, k in never.items() if k}
    if never and on_positivity != "ignore":
        message = (
            "positivity: "
            + ", ".join(f"{k} of {len(nodes)} nodes can never be in {c}" for c, k in never.items())
            + " under this design and mapping; they are excluded from the estimands using "
            "those conditions (column n_excluded)"
        )
        if on_positivity == "raise":
            raise ConfigError(message)
        warnings.warn(message, PositivityWarning, stacklevel=2)
    reference = None
    if interval == "randomization":
        reference = np.ascontiguousarray(m.codes(adjacency, design.sample(G, resamples, rng)).T)
    return _estimate(
        codes,
        z,
        y,
        probabilities,
        list(estimands),
        means,
        naive,
        level,
        interval,
        min_units,
        reference,
    )
