"""B9: the voter model against its exact results on a complete graph, at Monte Carlo size.

Runs ``rule:voter`` societies through the project's API (:class:`OpinionSociety` on a
complete network, two opinions: ``k`` members on label 1, the rest on label 5) until
consensus, and prints per update order, N and k the share of runs that opinion 1 won and
the mean consensus time beside their exact values, with Monte Carlo standard errors and
the difference in SEs. The exact values come from ``tests/support/voter.py``, sharing no
code with the project (the chains ``tests/test_voter.py`` checks against, at a smaller
size):

- asynchronous updates (one uniformly random member per update copies a uniformly random
  other member; time in updates): ``k -> k +- 1`` each with probability
  ``k (N - k) / (N (N - 1))``; win probability ``k / N``, mean time from the tridiagonal
  system;
- synchronous rounds (every member copies at once; time in rounds):
  ``k' = Bin(k, (k-1)/(N-1)) + Bin(N-k, k/(N-1))``; win probability ``k / N``, mean time
  from the transition matrix.

``python benchmarks/b9_voter.py [--runs 4000] [--runs-large 1500] [--runs-sync 2000]``
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent / "tests"))
from _bench import machine  # noqa: E402
from support.voter import exact_consensus_time, exact_synchronous_consensus_time  # noqa: E402

from workbench.society import Situation  # noqa: E402
from workbench.society.opinion import NO_TOPIC, OpinionSociety, OpinionTask, Voter  # noqa: E402


def simulate(order: str, n: int, k: int, runs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(won by opinion 1?, consensus time) of ``runs`` runs."""
    won, times = np.zeros(runs, bool), np.zeros(runs)
    asynchronous = order == "asynchronous"
    for run in range(runs):
        society = OpinionSociety(
            [Voter()] * n,
            OpinionTask.about(NO_TOPIC, 1),
            Situation(topology="complete", schedule="synchronous"),
            initial=[0.1] * k + [0.9] * (n - k),
            seed=seed + run,
            updates="asynchronous" if asynchronous else "rounds",
            per_step=1 if asynchronous else None,  # a step is one update, or one round
        )
        society.run(10**7, until=lambda s: len({m.answer for m in s.members}) == 1)
        won[run] = society.members[0].answer == "1"
        times[run] = society.steps
    return won, times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4000, help="runs per N = 20 start")
    parser.add_argument("--runs-large", type=int, default=1500, help="runs at N = 50")
    parser.add_argument("--runs-sync", type=int, default=2000, help="synchronous runs")
    args = parser.parse_args(argv)
    cells = [
        ("asynchronous", 20, 5, args.runs, "updates"),
        ("asynchronous", 20, 10, args.runs, "updates"),
        ("asynchronous", 50, 25, args.runs_large, "updates"),
        ("synchronous", 20, 10, args.runs_sync, "rounds"),
    ]
    print("| order | N | k | runs | P(win) | exact | z | mean time | exact | z | unit | s/run |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for i, (order, n, k, runs, unit) in enumerate(cells):
        start = time.perf_counter()
        won, times = simulate(order, n, k, runs, seed=1_000_000 * (i + 1))
        per_run = (time.perf_counter() - start) / runs
        exact_time = (
            exact_consensus_time if order == "asynchronous" else exact_synchronous_consensus_time
        )
        exact = exact_time(n)[k]
        share = k / n
        se_p = math.sqrt(share * (1 - share) / runs)
        se_t = times.std(ddof=1) / math.sqrt(runs)
        print(
            f"| {order} | {n} | {k} | {runs} | {won.mean():.4f} ±{se_p:.4f} | {share:.4f} | "
            f"{(won.mean() - share) / se_p:+.2f} | {times.mean():.2f} ±{se_t:.2f} | "
            f"{exact:.2f} | {(times.mean() - exact) / se_t:+.2f} | {unit} | {per_run:.3f} |",
            flush=True,
        )
    print()
    print(machine())


if __name__ == "__main__":
    main()
