"""B5: rule-based societies: naming-game interactions per second at N = 10^4 and 10^5.

The minimal naming game of the conventions study (``rule:naming_game`` members, the
``speaker_hearer`` schedule: each step a random maximal matching of the network, every pair
one speaker-hearer interaction) on a connected random 8-regular graph, through the same
:class:`~workbench.society.Society` as LLM members, decision rows collected as usual. The
table reports the time to build the society (graph and members) and the interactions per
second over the timed steps. When the conventions study is not installed, the pairwise
schedule with ``rule:majority`` members stands in (the table says so).

Run: ``python benchmarks/b5_naming_game.py [--sizes 10000 100000] [--steps 4]``.
"""

from __future__ import annotations

import argparse

from _bench import Clock, machine, table

DEGREE = 8


def build(n: int):
    import networkx as nx

    from workbench.society import Round, Situation, Society, Task, make_person

    try:
        from workbench.society.coordination import (
            NAMING_GAME_MEMORY,
            coordination_game,
            game_network,
            name_pool,
        )

        graph = game_network("random", n, DEGREE, seed=1)
        persons = [make_person("rule:naming_game")] * n
        task = coordination_game(name_pool(10))
        situation = Situation(topology=graph, memory=NAMING_GAME_MEMORY, schedule="speaker_hearer")
        what = "naming game (rule:naming_game, speaker_hearer)"
    except ImportError:
        graph = nx.random_regular_graph(DEGREE, n, seed=1)
        persons = [make_person("rule:majority")] * n
        task = Task([Round("Pick a name.", tuple("FJKMPQVWXZ"))])
        situation = Situation(topology=graph, memory=1, schedule="pairwise")
        what = "stand-in: rule:majority, pairwise"
    return Society(persons, task, situation, seed=1), what


def measure(n: int, steps: int) -> dict:
    with Clock() as built:
        society, what = build(n)
    society.step()  # warm: first step sizes the tables
    rows0 = len(society.datacollector.tables["decisions"]["choice"])
    with Clock() as clock:
        for _ in range(steps):
            society.step()
    rows = len(society.datacollector.tables["decisions"]["choice"]) - rows0
    interactions = rows // 2
    return {
        "what": what,
        "members": n,
        "build_s": round(built.wall, 1),
        "steps": steps,
        "interactions": interactions,
        "wall_s": round(clock.wall, 2),
        "interactions/s": round(interactions / clock.wall),
        "us/interaction": round(1e6 * clock.wall / interactions, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    print(f"# B5 on {machine()}")
    rows = [measure(n, args.steps) for n in args.sizes]
    print(table(rows))
    print(f"# after: {machine()}")


if __name__ == "__main__":
    main()
