"""B5: the minimal naming game: interactions per second at N = 10^3, 10^4 and 10^5.

The minimal naming game of Baronchelli et al. 2006 (one random speaker-hearer pair per
interaction on a complete graph, a brand-new word per invention), through the fast path
:func:`workbench.society.coordination.minimal_naming_game`: a fixed number of
interactions per size (``--interactions``, not to convergence), O(1) per decision. For
comparison, the same interaction order in a :class:`~workbench.society.Society`
(``random_pair`` schedule, ``rule:naming_game`` members over 64 names, every decision
row collected) at the smallest size. ``--check`` also runs the scaling check: mean
t_conv and N_w^max of the project's game and of the independent simulation of
``tests/test_naming_game.py`` at N = 24, 100, 316, 1000.

Run: ``python benchmarks/b5_naming_game.py [--sizes 1000 10000 100000]
[--interactions 1000000] [--check]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
from pathlib import Path

import numpy as np
from _bench import Clock, machine, table

ROOT = Path(__file__).resolve().parents[1]


def fast(n: int, interactions: int) -> dict:
    from workbench.society.coordination import minimal_naming_game

    with Clock() as clock:
        run = minimal_naming_game(n, 1, max_interactions=interactions, stop=False)
    return {
        "what": "minimal game, fast path (open vocabulary)",
        "members": n,
        "interactions": run.interactions,
        "wall_s": round(clock.wall, 2),
        "interactions/s": round(run.interactions / clock.wall),
        "us/interaction": round(1e6 * clock.wall / run.interactions, 2),
    }


def society(n: int, interactions: int) -> dict:
    from workbench.society import NamingGame, Situation, Society
    from workbench.society.coordination import coordination_game, name_pool

    s = Society(
        [NamingGame()] * n,
        coordination_game(name_pool(64)),
        Situation(schedule="random_pair", memory=1_000_000),
        seed=1,
        lean=True,
    )
    with Clock() as clock:
        s.run(interactions)
    return {
        "what": "random_pair schedule in a Society (64 names)",
        "members": n,
        "interactions": interactions,
        "wall_s": round(clock.wall, 2),
        "interactions/s": round(interactions / clock.wall),
        "us/interaction": round(1e6 * clock.wall / interactions, 2),
    }


def check(runs: dict[int, int]) -> list[dict]:
    from workbench.society.coordination import minimal_game_runs

    spec = importlib.util.spec_from_file_location("tng", ROOT / "tests" / "test_naming_game.py")
    tng = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tng)
    rows = []
    for n, k in runs.items():
        ours = minimal_game_runs((n,), k, seed=29)
        theirs = np.array([tng.independent_run(n, 77_000 * n + r) for r in range(k)])
        s = n**1.5
        for name, a, b in (
            ("t_conv", ours.t_conv.to_numpy(float), theirs[:, 0]),
            ("N_w^max", ours.peak_words.to_numpy(float), theirs[:, 1]),
        ):
            se_a, se_b = a.std(ddof=1) / math.sqrt(k), b.std(ddof=1) / math.sqrt(k)
            rows.append(
                {
                    "N": n,
                    "runs": k,
                    "quantity": name,
                    "project": f"{a.mean():.1f} +- {se_a:.1f}",
                    "independent": f"{b.mean():.1f} +- {se_b:.1f}",
                    "diff/SE": round((a.mean() - b.mean()) / math.hypot(se_a, se_b), 2),
                    "project/N^1.5": round(a.mean() / s, 3),
                    "independent/N^1.5": round(b.mean() / s, 3),
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--society-interactions", type=int, default=20_000)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    print(f"# B5 on {machine()}")
    rows = [fast(n, args.interactions) for n in args.sizes]
    rows.append(society(args.sizes[0], args.society_interactions))
    print(table(rows))
    if args.check:
        print(table(check({24: 4000, 100: 1000, 316: 300, 1000: 100})))
    print(f"# after: {machine()}")


if __name__ == "__main__":
    main()
