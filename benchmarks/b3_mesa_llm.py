"""B3: the B1 task with mesa-llm 0.2.0 agents and its parallel stepping, vs ours.

Each mesa-llm ``LLMAgent`` asks its model once per step through mesa-llm's own async path
(``ModuleLLM.agenerate``: ``litellm.acompletion`` with tenacity retries), reading its ring
neighbours' previous answers; the model turns on mesa-llm's automatic parallel stepping
(``enable_automatic_parallel_stepping("asyncio")`` and ``parallel_stepping = True``), so
all agents of a step run concurrently, as in mesa-llm's examples. Two memory set-ups:
``ShortTermMemory(display=False)`` (mesa-llm's lightest) and the default ``STLTMemory``
(display off). Ours is the B1 path (which also asks for and reads 20 top logprobs per
call; mesa-llm asks for text only). Same server, latency, ring, personas.
``wall_vs_ours`` is a row's wall time over ours (the first K of ``--workers``); with
``--workers 1 2`` ours also runs with two gateway worker processes, started before the
clock as in B1.

Then both run once more with 20% injected faults of every kind (429, 500, dropped
connection, timeout, malformed JSON, empty answer, answer outside the options): does the
run complete, and how many decisions are unusable?

mesa-llm is not a workbench dependency. Install it beside workbench in its own
environment (it pulls solara and ipyvue 3, which the main environment keeps out)::

    python -m venv venv-mesa-llm
    venv-mesa-llm/bin/pip install -e . mesa-llm==0.2.0
    venv-mesa-llm/bin/python benchmarks/b3_mesa_llm.py [--members 100] [--rounds 10] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import traceback

from _bench import MODEL, Clock, machine, question, table, test_server
from b1_floor import society_run, warm

OPTIONS = ("A", "B", "C")


def mesa_llm_run(n: int, rounds: int, memory: str) -> dict:
    import mesa
    import networkx as nx
    from mesa_llm.llm_agent import LLMAgent
    from mesa_llm.memory.st_memory import ShortTermMemory
    from mesa_llm.parallel_stepping import (
        disable_automatic_parallel_stepping,
        enable_automatic_parallel_stepping,
    )
    from mesa_llm.reasoning.cot import CoTReasoning

    class Member(LLMAgent):
        def __init__(self, model, i):
            super().__init__(
                model,
                reasoning=CoTReasoning,
                llm_model=MODEL,
                system_prompt=f"You are participant {i}.",
            )
            if memory == "short":
                self.memory = ShortTermMemory(agent=self, n=5, display=False)
            else:
                self.memory.display = False
            self.index, self.answer, self.next_answer = i, None, None

        async def astep(self):
            seen = [
                f"Participant {j} answered: {self.model.members[j].answer}"
                for j in self.model.graph[self.index]
                if self.model.members[j].answer
            ]
            prompt = "\n\n".join([question(0), *seen, "Answer: A, B or C."])
            response = await self.llm.agenerate(prompt)
            text = (response.choices[0].message.content or "").strip()
            self.next_answer = next((o for o in OPTIONS if text.startswith(o)), None)
            self.model.calls += 1

    class Poll(mesa.Model):
        def __init__(self):
            super().__init__(seed=1)
            self.parallel_stepping = True
            self.graph = nx.watts_strogatz_graph(n, 4, 0.0)
            self.members = [Member(self, i) for i in range(n)]
            self.calls = 0

        def step(self):
            self.agents.shuffle_do("step")
            for m in self.members:  # synchronous: answers become visible after the step
                m.answer = m.next_answer

    enable_automatic_parallel_stepping("asyncio")
    error = ""
    with contextlib.redirect_stdout(io.StringIO()):  # one "no function calling" note per agent
        model = Poll()
    try:
        with Clock() as clock:
            try:
                for _ in range(rounds):
                    model.step()
            except Exception as exc:  # a fault mesa-llm does not handle ends the run
                error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:80]}"
                if os.environ.get("B3_TRACEBACK"):
                    traceback.print_exc()
    finally:
        disable_automatic_parallel_stepping()
    unusable = sum(m.answer is None for m in model.members)
    return {
        "what": f"mesa-llm 0.2.0, {'ShortTermMemory' if memory == 'short' else 'STLTMemory'}",
        "members": n,
        "rounds_done": model.steps if not error else model.steps - 1,
        "calls_ok": model.calls,
        "wall_s": round(clock.wall, 2),
        "unusable_last_round": unusable,
        "completed": not error,
        "error": error,
    }


def ours(n: int, rounds: int, faults: bool, workers: int = 1) -> dict:
    what = "workbench society" + (f", K = {workers} gateway workers" if workers > 1 else "")
    try:
        result = society_run(
            n, rounds, timeout=2.0 if faults else 60.0, check=not faults, workers=workers
        )
    except Exception as exc:  # noqa: BLE001 - reported in the table
        return {"what": what, "members": n, "completed": False, "error": repr(exc)}
    return {
        "what": what,
        "members": n,
        "rounds_done": rounds,
        "calls_ok": result["calls"],
        "wall_s": result["wall_s"],
        "unusable_last_round": result.get("invalid_last_round", 0),
        "completed": True,
        "error": "",
        "retries": result.get("retries", 0),
        "invalid": result.get("invalid", 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--fault-rounds", type=int, default=3)
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1],
        help="gateway worker processes K of our rows, one row per K (1: in-process)",
    )
    args = parser.parse_args()
    print(f"# B3 on {machine()}")
    rows = []
    with test_server(latency=0.1):
        warm()
        for workers in args.workers:
            rows.append({**ours(args.members, args.rounds, False, workers), "faults": "none"})
        for memory in ("short", "default"):
            rows.append({**mesa_llm_run(args.members, args.rounds, memory), "faults": "none"})
        clean = len(rows)
    with test_server(latency=0.1, fault_rate=0.2, hang=3.0, seed=11):
        rows.append({**ours(args.members, args.fault_rounds, True), "faults": "20%"})
        rows.append({**mesa_llm_run(args.members, args.fault_rounds, "short"), "faults": "20%"})
    base = rows[0]["wall_s"]
    for r in rows[:clean]:
        r["wall_vs_ours"] = round(r["wall_s"] / base, 2)
    print(table(rows))
    print(f"# after: {machine()}")


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    main()
