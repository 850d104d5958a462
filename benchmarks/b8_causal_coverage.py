"""B8: do the causal intervals cover in small societies?

Re-randomises experiments on Watts-Strogatz societies (degree 4, rewiring 0.1) whose
direct (1.0) and spillover (0.5) effects are known exactly, through
:func:`workbench.analysis.diagnosis.diagnose` (``y_i = base_i + 1.0 z_i + 0.5 exposed_i +
noise e_i``, exposure: at least half of the neighbours treated; the Monte Carlo check in
``tests/support/coverage.py`` that ``tests/test_causal_coverage.py`` runs at a smaller
size), and prints per size N, design, noise and interval method the coverage of the 95%
intervals of both estimators for the direct, spillover and total effects, with the share
of runs in which the contrast is defined (its conditions hold at least 2 units) and the
Monte Carlo standard error, then the load average. Designs: Bernoulli(0.5) over nodes; clusters of
two ring neighbours treated with probability 0.5. ``noise`` 0 = deterministic members,
1 = members sampling at a temperature (base sd 1).

``python benchmarks/b8_causal_coverage.py [--sims 1000] [--sizes 20 24 40 60]
[--resamples 300] [--intervals randomization normal]``
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent / "tests"))
from _bench import machine  # noqa: E402
from support.coverage import EFFECTS, coverage_cells  # noqa: E402

TRUTH = {**EFFECTS, "total": sum(EFFECTS.values())}


def cell(n: int, kind: str, noise: float, interval: str, sims: int, resamples: int, seed: int):
    """(estimand, estimator) -> (coverage, runs with an interval), and seconds per run
    (the exposure probabilities included)."""
    start = time.perf_counter()
    cells = coverage_cells(n, kind, noise, seed, sims=sims, resamples=resamples, interval=interval)
    return cells, (time.perf_counter() - start) / sims


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sims", type=int, default=1000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 24, 40, 60])
    parser.add_argument("--resamples", type=int, default=300)
    parser.add_argument("--intervals", nargs="+", default=["randomization", "normal"])
    args = parser.parse_args()
    print(machine())
    print(f"{args.sims} runs per cell, {args.resamples} re-randomisations per interval")
    head = "| interval | N | design | noise | estimator | direct | spillover | total | ms/run |"
    print(head)
    print("|" + " --- |" * (head.count("|") - 1))
    worst = 1.0
    for interval in args.intervals:
        for n in args.sizes:
            for kind in ("bernoulli", "cluster"):
                for noise in (0.0, 1.0):
                    seed = 7000 + n + 10 * (kind == "cluster") + int(noise)
                    found, per = cell(n, kind, noise, interval, args.sims, args.resamples, seed)
                    for estimator in ("horvitz_thompson", "hajek"):
                        cells = []
                        for estimand in TRUTH:
                            cov, runs = found.get((estimand, estimator), (math.nan, 0))
                            if not runs:
                                cells.append("-")
                                continue
                            if interval == "randomization":
                                worst = min(worst, cov)
                            mcse = math.sqrt(max(cov * (1 - cov), 0.0475) / runs)
                            cells.append(f"{cov:.3f} ±{mcse:.3f} ({runs / args.sims:.0%})")
                        name = "HT" if estimator == "horvitz_thompson" else "Hajek"
                        print(
                            f"| {interval} | {n} | {kind} | {noise:g} | {name} | "
                            + " | ".join(cells)
                            + f" | {1000 * per:.0f} |",
                            flush=True,
                        )
    print(f"lowest randomization coverage: {worst:.3f}")
    print(machine())


if __name__ == "__main__":
    main()
