"""Monte Carlo coverage of the causal intervals in small societies (N = 24 and 60).

The experiments are simulated and analysed by
:func:`~workbench.analysis.diagnosis.diagnose` (the one Monte Carlo loop, shared with
``benchmarks/b8_causal_coverage.py``): ``y_i = base_i + 1.0 * z_i + 0.5 * exposed_i +
noise * e_i`` with ``exposed_i`` at least half of the neighbours treated, ``base_i`` drawn
here once per node and ``e_i`` fresh each run (noise 0: deterministic members; 1: members
sampling at a temperature). The true direct, spillover and total effects are 1.0, 0.5 and
1.5. The exposure the simulation uses is checked against one computed here from the graph
(:func:`test_simulated_exposure_is_the_graphs`), so the truth does not rest on the
estimator's own code alone.

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

import numpy as np
import pytest
from support.coverage import coverage_cells, society

from workbench.analysis.causal import exposure

SIMS = 400
RESAMPLES = 120  # re-randomisations per interval: exact p-values need no more


@pytest.mark.parametrize("kind", ["bernoulli", "cluster"])
def test_simulated_exposure_is_the_graphs(kind):
    graph, design = society(24, kind, seed=3)
    rng = np.random.default_rng(3)
    for _ in range(20):
        z = design.draw(graph, rng)
        table = exposure(graph, z, "fraction", 0.5)
        for v in graph:
            treated = sum(z[u] for u in graph[v])
            exposed = graph.degree(v) > 0 and treated >= 0.5 * graph.degree(v)
            assert table.loc[v, "condition"] == f"c{z[v]}{int(exposed)}", v


@pytest.mark.parametrize("noise", [0.0, 1.0], ids=["deterministic", "noisy"])
@pytest.mark.parametrize("kind", ["bernoulli", "cluster"])
@pytest.mark.parametrize("n_nodes", [24, 60])
def test_randomization_intervals_cover(n_nodes, kind, noise):
    seed = 1000 + n_nodes + (kind == "cluster")
    cells = coverage_cells(n_nodes, kind, noise, seed, sims=SIMS, resamples=RESAMPLES)
    assert len(cells) == 6  # direct, spillover, total x HT, Hajek
    for key, (coverage, n) in cells.items():
        assert n >= 200, (key, n)
        threshold = 0.95 - 3.1 * math.sqrt(0.95 * 0.05 / n)
        assert coverage >= threshold, (key, coverage, n)
