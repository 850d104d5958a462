"""B10: how often the battery's 95% intervals cover a known answer, per budget.

Runs the conformity module of the battery on ``rule:conformist:p`` (it follows a wrong
majority with probability ``p`` whatever its size, and never errs alone) for many seeds,
and prints, per score, the share of seeds whose interval contains the true value: ``p``
for conformity at majority 1, 3 and 8 and for the excess over the lure rate alone, whose
true value is ``p - 0``. The interval is the one every card shows (score +- t(n - 1) x
the cluster bootstrap's standard error, widened by n / (n - 1)). The Monte Carlo standard
error of a coverage c over S seeds is sqrt(c (1 - c) / S).

``python benchmarks/b10_battery_coverage.py [--seeds 40] [--p 0.3] [--budget small]``
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench import machine  # noqa: E402

from workbench.battery import BUDGETS, Battery  # noqa: E402

SCORES = ("conformity_1", "conformity_3", "conformity_8", "excess_3")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--p", type=float, default=0.3)
    parser.add_argument("--budget", choices=sorted(BUDGETS), default="small")
    args = parser.parse_args(argv)
    print(f"# B10 on {machine()}")
    model = f"rule:conformist:{args.p}"
    rows = []
    for seed in range(args.seeds):
        card = Battery([model], args.budget, seed=seed, modules=["conformity"]).run(progress=False)[
            model
        ]
        for name in SCORES:
            s = card.score(name)
            covers = s.low <= args.p <= s.high
            rows.append(
                {
                    "seed": seed,
                    "score": name,
                    "value": s.value,
                    "covers": covers,
                    "width": s.high - s.low,
                }
            )
    table = pd.DataFrame(rows)
    summary = table.groupby("score").agg(
        coverage=("covers", "mean"), mean_width=("width", "mean"), mean_value=("value", "mean")
    )
    summary["mc_se"] = [math.sqrt(c * (1 - c) / args.seeds) for c in summary.coverage]
    units = 3 * BUDGETS[args.budget].subjects
    print(f"{model}, budget {args.budget} ({units} units a condition), {args.seeds} seeds")
    print(summary.round(3).to_string())
    print(f"lowest coverage: {summary.coverage.min():.3f}; # after: {machine()}")


if __name__ == "__main__":
    main()
