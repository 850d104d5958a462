"""The voter model's exact results on a complete graph, sharing no code with workbench.

Used by ``tests/test_voter.py`` and ``benchmarks/b9_voter.py``. The number ``k`` of
members holding opinion A is a Markov chain absorbed at 0 and N:

- asynchronous updates (one uniformly random member per update copies a uniformly random
  *other* member): ``k -> k +- 1`` each with probability ``k (N - k) / (N (N - 1))``;
- synchronous rounds (every member copies at once, from the previous round):
  ``k' = Bin(k, (k-1)/(N-1)) + Bin(N-k, k/(N-1))``.

Opinion A wins with probability ``k / N`` under both.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = [
    "closed_form_consensus_time",
    "exact_consensus_time",
    "exact_synchronous_consensus_time",
]


def exact_consensus_time(n: int) -> np.ndarray:
    """Mean updates to absorption from every k = 0..n (the linear system of the chain)."""
    k = np.arange(1, n)
    p = k * (n - k) / (n * (n - 1))
    # T(k) = 1 + p T(k+1) + p T(k-1) + (1 - 2p) T(k), T(0) = T(n) = 0
    system = np.diag(2 * p) - np.diag(p[:-1], 1) - np.diag(p[1:], -1)
    return np.r_[0.0, np.linalg.solve(system, np.ones(n - 1)), 0.0]


def closed_form_consensus_time(n: int, k: int) -> float:
    """The same mean time in closed form (the neutral Moran chain's, rescaled)."""
    below = sum(1 / (n - j) for j in range(1, k + 1))
    above = sum(1 / j for j in range(k + 1, n))
    return (n - 1) * ((n - k) * below + k * above)


def exact_synchronous_consensus_time(n: int) -> np.ndarray:
    """Mean rounds to absorption from every k under synchronous rounds."""
    transition = np.zeros((n + 1, n + 1))
    for k in range(n + 1):
        stay = stats.binom.pmf(np.arange(k + 1), k, max(k - 1, 0) / (n - 1))
        join = stats.binom.pmf(np.arange(n - k + 1), n - k, k / (n - 1))
        transition[k] = np.convolve(stay, join)
    inner = transition[1:n, 1:n]
    return np.r_[0.0, np.linalg.solve(np.eye(n - 1) - inner, np.ones(n - 1)), 0.0]
