"""Monte Carlo coverage of the causal intervals in small societies (N = 24 and 60).

Outcomes come from this file's own generator, sharing no code with the estimator:
``y_i = base_i + 1.0 * z_i + 0.5 * exposed_i + noise * e_i`` with ``exposed_i`` computed
here from the graph (at least half of the neighbours treated), ``base_i`` fixed per node
and ``e_i`` fresh each run (noise 0: deterministic members; 1: members sampling at a
temperature). The true direct, spillover and total effects are 1.0, 0.5 and 1.5.

Monte Carlo size and tolerance: each configuration runs ``SIMS = 400`` experiments; a
contrast is scored over the ``n`` runs in which its conditions hold at least 2 units
(``min_units``), ``n >= 200``. With a true coverage of 0.95 the observed coverage has
standard deviation ``sqrt(0.95 * 0.05 / n)`` (0.0109 at n = 400, 0.0154 at n = 200), so
the pass threshold ``0.95 - 3.1 * sd`` (0.916 at n = 400, 0.902 at n = 200) is missed
by chance with probability ``Phi(-3.1) < 0.001``. The seeds are fixed, so the test is
deterministic anyway. The full-size check (more runs, more sizes; every cell >= 0.93)
is ``benchmarks/b8_causal_coverage.py``.
"""

from __future__ import annotations

import math
import warnings

import networkx as nx
import numpy as np
import pytest

from workbench.analysis.causal import (
    BernoulliDesign,
    ClusterDesign,
    SparseConditionWarning,
    estimate_effects,
    exposure_probabilities,
)

SIMS = 400
RESAMPLES = 120  # re-randomisations per interval: exact p-values need no more
TRUTH = {"direct": 1.0, "spillover": 0.5, "total": 1.5}


def _outcomes(graph: nx.Graph, z: dict, base: np.ndarray, noise: float, rng) -> dict:
    out = {}
    for i, v in enumerate(graph):
        treated = sum(z[u] for u in graph[v])
        exposed = graph.degree(v) > 0 and treated >= 0.5 * graph.degree(v)
        out[v] = base[i] + TRUTH["direct"] * z[v] + TRUTH["spillover"] * exposed
        out[v] += noise * rng.normal()
    return out


def _coverage(n_nodes: int, kind: str, noise: float, seed: int) -> dict:
    graph = nx.watts_strogatz_graph(n_nodes, 4, 0.1, seed=seed)
    if kind == "bernoulli":
        design = BernoulliDesign(0.5)
    else:  # pairs of ring neighbours: direct and spillover stay estimable
        design = ClusterDesign(0.5, {v: v // 2 for v in graph})
    probs = exposure_probabilities(graph, design, "fraction", 0.5, seed=seed)
    rng = np.random.default_rng(seed)
    base = rng.normal(1.0, 1.0, n_nodes)
    hits: dict[tuple[str, str], list[bool]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SparseConditionWarning)
        for _ in range(SIMS):
            z = design.draw(graph, rng)
            table = estimate_effects(
                graph,
                z,
                _outcomes(graph, z, base, noise, rng),
                design,
                probabilities=probs,
                estimands=tuple(TRUTH),
                means=False,
                naive=False,
                resamples=RESAMPLES,
                seed=rng,
            )
            for row in table.itertuples():
                if np.isfinite(row.estimate):
                    covered = row.ci_low <= TRUTH[row.estimand] <= row.ci_high
                    hits.setdefault((row.estimand, row.estimator), []).append(covered)
    return hits


@pytest.mark.parametrize("noise", [0.0, 1.0], ids=["deterministic", "noisy"])
@pytest.mark.parametrize("kind", ["bernoulli", "cluster"])
@pytest.mark.parametrize("n_nodes", [24, 60])
def test_randomization_intervals_cover(n_nodes, kind, noise):
    hits = _coverage(n_nodes, kind, noise, seed=1000 + n_nodes + (kind == "cluster"))
    assert len(hits) == 6  # direct, spillover, total x HT, Hajek
    for key, covered in hits.items():
        n = len(covered)
        assert n >= 200, (key, n)
        threshold = 0.95 - 3.1 * math.sqrt(0.95 * 0.05 / n)
        assert np.mean(covered) >= threshold, (key, np.mean(covered), n)
