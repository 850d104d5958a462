"""B2: the B1 task written naively (one ``litellm.completion`` per member, in turn) vs ours.

The naive loop is what a first agent-based model usually does: each round, each member in
turn builds its prompt from its neighbours' previous answers and calls
``litellm.completion``, then the next member, and so on. Same server (100 ms latency, in
its own process), same ring (k = 4), same distinct personas, same rounds as B1, at a size
that finishes in about a minute. ``speed-up`` is the naive wall time over ours.

Run: ``python benchmarks/b2_naive.py [--members 40] [--rounds 10]``.
"""

from __future__ import annotations

import argparse

from _bench import MODEL, Clock, machine, question, table, test_server
from b1_floor import society_run, warm

OPTIONS = ("A", "B", "C")


def naive(n: int, rounds: int) -> dict:
    import networkx as nx

    from workbench.llm import _litellm

    litellm = _litellm.get()
    graph = nx.watts_strogatz_graph(n, 4, 0.0)
    answers: list[str | None] = [None] * n
    calls = 0
    with Clock() as clock:
        for _ in range(rounds):
            new = list(answers)
            for i in range(n):
                seen = [f"Participant {j} answered: {answers[j]}" for j in graph[i] if answers[j]]
                messages = [
                    {"role": "system", "content": f"You are participant {i}."},
                    {
                        "role": "user",
                        "content": "\n\n".join([question(0), *seen, "Answer: A, B or C."]),
                    },
                ]
                response = litellm.completion(
                    model=MODEL, messages=messages, max_tokens=16, temperature=1.0
                )
                calls += 1
                text = (response.choices[0].message.content or "").strip()
                new[i] = next((o for o in OPTIONS if text.startswith(o)), None)
            answers = new
    assert all(a in OPTIONS for a in answers)
    return {
        "what": "naive litellm.completion loop",
        "members": n,
        "rounds": rounds,
        "calls": calls,
        "wall_s": round(clock.wall, 2),
        "cpu_ms/call": round(1000 * clock.cpu / calls, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    print(f"# B2 on {machine()}")
    with test_server(latency=0.1):
        warm()
        slow = naive(args.members, args.rounds)
        ours = society_run(args.members, args.rounds)
    ours = {k: ours[k] for k in slow}
    ours["what"] = "workbench society (B1 path)"
    rows = [slow, ours]
    for r in rows:
        r["speed-up"] = round(slow["wall_s"] / r["wall_s"], 1)
    print(table(rows))
    print(f"# after: {machine()}")


if __name__ == "__main__":
    main()
