"""B5: the minimal naming game: interactions per second at N = 10^3, 10^4 and 10^5.

The minimal naming game of Baronchelli et al. 2006 (one random speaker-hearer pair per
interaction on a complete graph, a brand-new word per invention), through the fast path
:func:`workbench.society.coordination.minimal_naming_game`: a fixed number of
interactions per size (``--interactions``, not to convergence), O(1) per decision. For
comparison, the same interaction order in a :class:`~workbench.society.Society`
(``random_pair`` schedule, ``rule:naming_game`` members over 64 names, every decision
row collected): member by member at the smallest size (with ``--before-tree DIR ...`` also
from the source of earlier commits, each in a subprocess of the same run), and with
``arrays=True`` (:mod:`workbench.society.engine`) at every size.
``--check`` also runs the scaling check: mean
t_conv and N_w^max of the project's game and of the independent simulation of
``tests/test_naming_game.py`` at N = 24, 100, 316, 1000.

Run: ``python benchmarks/b5_naming_game.py [--sizes 1000 10000 100000]
[--interactions 1000000] [--before-tree DIR ...] [--check]``.
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


def society(n: int, interactions: int, arrays: bool = False) -> dict:
    """The random_pair schedule in a Society of rule:naming_game members (64 names):
    member by member, or with ``arrays=True``. ``interactions/s`` is the stepping with
    the rows collected (without the final DataFrame); ``table_s`` the one DataFrame build
    of ``society.decisions`` after it; ``cpu/s`` counts this process's CPU seconds."""
    from workbench.society import NamingGame, Situation, Society
    from workbench.society.coordination import coordination_game, name_pool

    s = Society(
        [NamingGame()] * n,
        coordination_game(name_pool(64)),
        Situation(schedule="random_pair", memory=1_000_000),
        seed=1,
        lean=True,
        **({"arrays": True} if arrays else {}),  # a tree from before arrays has no flag
    )
    engine = s.engine if arrays else None  # built (and checked) before the clock starts
    with Clock() as clock:
        if engine is not None:
            engine.run(interactions)
        else:
            for _ in range(interactions):
                s.step()
    with Clock() as built:
        table = s.decisions
    assert len(table) == 2 * interactions
    return {
        "what": "Society, arrays=True (after)" if arrays else "Society, per member (after)",
        "members": n,
        "interactions": interactions,
        "wall_s": round(clock.wall, 2),
        "interactions/s": round(interactions / clock.wall),
        "cpu/s": round(interactions / clock.cpu),
        "us/interaction": round(1e6 * clock.wall / interactions, 2),
        "table_s": round(built.wall, 2),
        "with table/s": round(interactions / (clock.wall + built.wall)),
    }


def before(tree: str, n: int, interactions: int) -> dict:
    """:func:`society` member by member with the package imported from ``tree`` (the
    source of an earlier commit, e.g. a ``git worktree``), in a subprocess of this run;
    the row is labelled with the tree's commit."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(tree).resolve())}
    command = [sys.executable, __file__, "--per-member-json", str(n), str(interactions)]
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    row = json.loads(out.stdout.strip().splitlines()[-1])
    commit = subprocess.run(
        ["git", "-C", tree, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    row["what"] = f"Society, per member, tree {commit or tree} (before)"
    return row


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
    parser.add_argument("--array-interactions", type=int, default=1_000_000)
    parser.add_argument(
        "--before-tree",
        nargs="+",
        default=[],
        help="also run the per-member Society from these source trees (e.g. git worktrees)",
    )
    parser.add_argument("--per-member-json", type=int, nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if args.per_member_json:
        import json

        print(json.dumps(society(*args.per_member_json)))
        return
    print(f"# B5 on {machine()}")
    rows = [fast(n, args.interactions) for n in args.sizes]
    # the per-member Society lists a complete graph's edges, so it runs at the smallest
    # size only (10^5 members would need 5 x 10^9 edges); arrays=True at every size
    for tree in args.before_tree:
        rows.append(before(tree, args.sizes[0], args.society_interactions))
    rows.append(society(args.sizes[0], args.society_interactions))
    rows += [society(n, args.array_interactions, arrays=True) for n in args.sizes]
    print(table(rows))
    if args.check:
        print(table(check({24: 4000, 100: 1000, 316: 300, 1000: 100})))
    print(f"# after: {machine()}")


if __name__ == "__main__":
    main()
