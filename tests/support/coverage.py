"""The Monte Carlo coverage check of the causal intervals, shared by
``tests/test_causal_coverage.py`` and ``benchmarks/b8_causal_coverage.py``.

Watts-Strogatz societies (degree 4, rewiring 0.1) with known direct (1.0) and spillover
(0.5) effects, analysed by :func:`~workbench.analysis.diagnosis.diagnose`.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from workbench.analysis.causal import (
    BernoulliDesign,
    ClusterDesign,
    Design,
    exposure_probabilities,
)
from workbench.analysis.diagnosis import diagnose

#: The true effects; the total is their sum.
EFFECTS = {"direct": 1.0, "spillover": 0.5}


def society(n_nodes: int, kind: str, seed: int) -> tuple[nx.Graph, Design]:
    """A small-world society and its design: ``"bernoulli"`` (p = 0.5 per node) or
    ``"cluster"`` (pairs of ring neighbours treated together, so direct and spillover
    stay estimable)."""
    graph = nx.watts_strogatz_graph(n_nodes, 4, 0.1, seed=seed)
    if kind == "bernoulli":
        return graph, BernoulliDesign(0.5)
    return graph, ClusterDesign(0.5, {v: v // 2 for v in graph})


def coverage_cells(
    n_nodes: int,
    kind: str,
    noise: float,
    seed: int,
    *,
    sims: int,
    resamples: int,
    interval: str = "randomization",
) -> dict[tuple[str, str], tuple[float, int]]:
    """(estimand, estimator) -> (coverage, runs with an interval) over ``sims`` runs.

    ``y_i = base_i + 1.0 z_i + 0.5 exposed_i + noise e_i``, exposure: at least half of the
    neighbours treated; ``base_i`` is drawn once per node, ``e_i`` fresh each run.
    """
    graph, design = society(n_nodes, kind, seed)
    probs = exposure_probabilities(graph, design, "fraction", 0.5, seed=seed)
    rng = np.random.default_rng(seed)
    base = dict(zip(graph, rng.normal(1.0, 1.0, n_nodes), strict=True))
    table = diagnose(
        graph,
        design,
        EFFECTS,
        n_sims=sims,
        seed=rng,
        noise=noise,
        base=base,
        mapping="fraction",
        threshold=0.5,
        probabilities=probs,
        interval=interval,
        resamples=resamples,
        naive=False,
    )
    return {
        (row.estimand, row.estimator): (row.coverage, round(row.defined * row.n_sims))
        for row in table.itertuples()
    }
