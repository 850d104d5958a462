"""B1: a synchronous LLM society against the latency floor.

N members (N = 100 and 1000) on a ring (k = 4) answer 10 synchronous rounds through the
gateway (concurrency 256) and litellm's ``openai/`` provider to the test server in its own
process, 100 ms latency per call. Every member has its own persona, so no two requests
are identical and none is deduplicated: N calls per round.

The floor is ``rounds x ceil(N / concurrency) x latency``; the target is wall <= 1.25 x floor.
The ``litellm only`` rows send the same number of distinct calls with ``litellm.acompletion``
under an ``asyncio.Semaphore(256)`` and nothing else: the cost of litellm alone. ``cpu ms
/call`` is this process's CPU time per call.

Each size is measured both ways in one run: ``before`` is litellm's ``openai/`` client
(``WORKBENCH_TRANSPORT=litellm``) with the garbage collector as Python leaves it (the
path before the lean provider), ``after`` the workbench's ``workbench_http`` provider
(one aiohttp POST, still through ``litellm.acompletion``) with litellm's import frozen out
of the collector (:func:`gc.freeze`), as the gateway now runs.

``--workers 1 2`` measures the ``after`` path once per K, side by side: K = 1 makes every
call in this process, K >= 2 spreads the calls' client work over K gateway worker
processes (``GatewayConfig.workers``), started and ready before the clock starts (their
start, mostly importing litellm, is the ``start_s`` column). ``cpu ms/call`` then adds
the workers' CPU time to this process's (``parent ms/call``); every other row is K = 1.

Run: ``python benchmarks/b1_floor.py [--sizes 100 1000] [--rounds 10] [--workers 1 2]
[--bare]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import math
import os
import time
from pathlib import Path

import numpy as np
from _bench import MODEL, Clock, machine, question, table, test_server

LATENCY = 0.1
CONCURRENCY = 256


def worker_cpu() -> float:
    """CPU seconds used so far by this process's gateway workers (Linux ``/proc``)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if b"workbench.llm.workers" not in (proc / "cmdline").read_bytes():
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        if int(fields[1]) == os.getpid():  # ppid; then utime and stime, in clock ticks
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def society_run(
    n: int, rounds: int, timeout: float = 60.0, check: bool = True, workers: int = 1
) -> dict:
    from workbench.llm import Gateway, GatewayConfig
    from workbench.society import LLMPerson, Persona, Round, Situation, Society, Task, Topology

    task = Task([Round(question(0), ("A", "B", "C"))], name="b1")
    persons = [LLMPerson(MODEL, Persona(f"p{i}", f"You are participant {i}.")) for i in range(n)]
    situation = Situation(topology=Topology("ring", k=4), schedule="synchronous")
    config = GatewayConfig(
        concurrency=CONCURRENCY, timeout=timeout, backoff=0.05, max_retries=8, workers=workers
    )
    with Gateway(config) as gateway:
        started = time.perf_counter()
        if gateway.start_workers():
            # Each worker's first litellm call imports more of litellm (about a second):
            # one distinct call per worker, untimed, as warm() does for this process.
            from workbench.llm.types import DecisionRequest

            warm_up = [
                DecisionRequest(MODEL, [{"role": "user", "content": f"warm {i}"}], ("A", "B"))
                for i in range(2 * workers)
            ]
            gateway.decide(warm_up, np.random.default_rng(0))
        start_s = time.perf_counter() - started
        society = Society(persons, task, situation, seed=1, gateway=gateway)
        cpu0 = worker_cpu()
        with Clock() as clock:
            decisions = society.run(rounds)
        cpu = worker_cpu() - cpu0
        totals = gateway.accounting.totals()
    assert len(decisions) == n * rounds and not decisions.duplicated(["step", "member"]).any()
    if check:
        assert decisions.valid.all()
    last = decisions[decisions.step == rounds]
    return {
        **row("workbench society", n, rounds, totals["calls"], clock, worker_cpu_s=cpu),
        "K": workers,
        "start_s": round(start_s, 2) if workers > 1 else None,
        "retries": totals["retries"],
        "invalid": totals["invalid"],
        "invalid_last_round": int((~last.valid.astype(bool)).sum()),
    }


def litellm_only(n: int, rounds: int, fast: bool = False) -> dict:
    from workbench.llm import _http, _litellm

    litellm = _litellm.get()
    route = {"model": MODEL}
    if fast:
        base = os.environ["OPENAI_BASE_URL"]
        route = _http.route(MODEL, "openai", base, {"api_key": os.environ["OPENAI_API_KEY"]})

    async def main() -> None:
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def one(i: int, r: int) -> None:
            async with semaphore:
                await litellm.acompletion(
                    **route,
                    messages=[{"role": "user", "content": f"member {i} round {r}. {question(r)}"}],
                    logprobs=True,
                    top_logprobs=20,
                    max_tokens=16,
                    timeout=60,
                    num_retries=0,
                    drop_params=True,
                )

        for r in range(rounds):  # rounds are synchronous: each waits for the last
            await asyncio.gather(*(one(i, r) for i in range(n)))
        await _http.aclose()  # the lean provider's connection pool on this loop

    with Clock() as clock:
        asyncio.run(main())
    what = "litellm only, workbench_http" if fast else "litellm only, openai/ client"
    return row(what, n, rounds, n * rounds, clock)


ROW = (
    "what",
    "members",
    "rounds",
    "calls",
    "K",
    "wall_s",
    "floor_s",
    "wall/floor",
    "cpu_ms/call",
    "parent_ms/call",
    "start_s",
)


@contextlib.contextmanager
def before():
    """Today's path before the lean provider: litellm's own client, no frozen import."""
    old = os.environ.get("WORKBENCH_TRANSPORT")
    os.environ["WORKBENCH_TRANSPORT"] = "litellm"
    gc.unfreeze()
    try:
        yield
    finally:
        gc.freeze()
        if old is None:
            os.environ.pop("WORKBENCH_TRANSPORT")
        else:
            os.environ["WORKBENCH_TRANSPORT"] = old


@contextlib.contextmanager
def bare_client():
    """Diagnostic only: replace ``litellm.acompletion`` by a bare aiohttp POST.

    Not a supported path (the workbench always goes through litellm): it shows what the
    society and gateway cost when the per-call client cost is close to nothing.
    """
    from types import SimpleNamespace

    import aiohttp

    from workbench.llm import _litellm

    litellm = _litellm.get()
    original = litellm.acompletion
    sessions: dict = {}
    url = os.environ["OPENAI_BASE_URL"] + "/chat/completions"

    async def acompletion(
        model,
        messages,
        timeout=None,
        num_retries=0,
        drop_params=True,
        api_base=None,
        api_key=None,
        **kw,
    ):
        loop = asyncio.get_running_loop()
        if loop not in sessions:
            sessions[loop] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        body = {"model": model.split("/", 1)[1], "messages": messages, **kw}
        async with sessions[loop].post(url, json=body) as response:
            data = await response.json()
        choice = data["choices"][0]
        return SimpleNamespace(
            choices=[
                SimpleNamespace(
                    message=SimpleNamespace(content=choice["message"]["content"]),
                    logprobs=choice.get("logprobs"),
                )
            ],
            usage=SimpleNamespace(**data["usage"]),
        )

    litellm.acompletion = acompletion
    try:
        yield
    finally:
        litellm.acompletion = original


def row(
    what: str, n: int, rounds: int, calls: int, clock: Clock, worker_cpu_s: float = 0.0
) -> dict:
    floor = rounds * math.ceil(n / CONCURRENCY) * LATENCY
    return {
        "what": what,
        "members": n,
        "rounds": rounds,
        "calls": calls,
        "K": 1,
        "wall_s": round(clock.wall, 2),
        "floor_s": round(floor, 2),
        "wall/floor": round(clock.wall / floor, 2),
        "cpu_ms/call": round(1000 * (clock.cpu + worker_cpu_s) / calls, 2),
        "parent_ms/call": round(1000 * clock.cpu / calls, 2),
    }


def warm() -> None:
    import numpy as np

    from workbench.llm import Gateway, GatewayConfig, _litellm
    from workbench.llm.types import DecisionRequest

    _litellm.get()
    with Gateway(GatewayConfig(workers=1)) as gateway:
        req = DecisionRequest(MODEL, [{"role": "user", "content": question(0)}], ("A", "B", "C"))
        gateway.decide([req], np.random.default_rng(0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1],
        help="gateway worker processes K of the 'after' rows, one row per K (1: in-process)",
    )
    parser.add_argument(
        "--bare", action="store_true", help="also the diagnostic rows without litellm"
    )
    parser.add_argument(
        "--after-only",
        action="store_true",
        help="only the 'after' rows (one per K), without the before and litellm-only rows",
    )
    args = parser.parse_args()
    print(f"# B1 on {machine()}")
    rows = []
    with test_server(latency=LATENCY):
        warm()
        with before():
            warm()
        for n in args.sizes:
            if args.after_only:
                for workers in args.workers:
                    ours = society_run(n, args.rounds, workers=workers)
                    ours["what"] = "after: society, workbench_http + gc.freeze"
                    rows.append({k: v for k, v in ours.items() if k in ROW})
                    print(rows[-1], flush=True)
                continue
            with before():
                ours = society_run(n, args.rounds)
                ours["what"] = "before: society, openai/ client"
                rows.append({k: v for k, v in ours.items() if k in ROW})
                rows.append(litellm_only(n, args.rounds))
            for workers in args.workers:
                ours = society_run(n, args.rounds, workers=workers)
                ours["what"] = "after: society, workbench_http + gc.freeze"
                rows.append({k: v for k, v in ours.items() if k in ROW})
            rows.append(litellm_only(n, args.rounds, fast=True))
            if args.bare:
                with bare_client():
                    bare = society_run(n, args.rounds)
                bare["what"] = "diagnostic: society, bare aiohttp instead of litellm"
                rows.append({k: v for k, v in bare.items() if k in ROW})
    print(table(rows))
    print(f"# after: {machine()}")


if __name__ == "__main__":
    main()
