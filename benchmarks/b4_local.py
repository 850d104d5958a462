"""B4: the embedded model against its bound, by llama.cpp thread count and machine load.

A society of members with the embedded model (distinct personas, a ring, synchronous
rounds, so prompts carry memory and grow) runs through the gateway in the default
``reproducible`` mode. Every configuration runs in a fresh process (the thread count is
read when the model loads), one after another in one run: ``WORKBENCH_LOCAL_THREADS`` =
1, 2 (and ``auto``), first as the machine is, then with one extra busy-loop process
(``python -c "while True: pass"``) started for the row and killed after it.

Per row: prompt tokens per decision, tokens llama.cpp actually evaluated per decision
(the rest came from the prompt cache), cache reuse, prompt-evaluation rate (tokens/s, from
llama.cpp's own timings), decisions/s, and the bound = prompt-evaluation rate / evaluated
tokens of the run, per decision (the decisions/s if nothing but prompt evaluation took
time; identical calls within a run are answered once), with the
1-minute load average before and after the row. ``max_dp`` is the largest difference of an
option probability from the first row's same decision (the thread count must not change
answers beyond floating-point noise).

``--check-cassette PATH`` also sends recorded embedded-model calls of a cassette again in
``exact`` mode with 1 and 2 threads and prints the largest option-probability differences
(1 vs 2 threads, and each vs the recording).

Run: ``python benchmarks/b4_local.py [--members 8] [--rounds 4] [--threads 1 2 auto]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _bench import machine, table

MODEL = "local/smollm2-135m"


def _timed() -> list[dict]:
    """Patch the local provider so every llama.cpp reply's timings are kept."""
    from workbench.llm import local

    timings: list[dict] = []
    original = local._complete

    def complete(model, messages, optional_params):
        reply = original(model, messages, optional_params)
        timings.append({**reply.get("timings", {}), **(reply.get("usage") or {})})
        return reply

    local._complete = complete
    return timings


def one(model: str, members: int, rounds: int) -> dict:
    from workbench.llm import Gateway, _litellm, local
    from workbench.society import LLMPerson, Persona, Round, Situation, Society, Task, Topology

    _litellm.get()  # importing litellm (seconds) is not the model's time
    load0 = os.getloadavg()[0]
    threads = local.threads()
    start = time.perf_counter()
    local.server(model)
    load_s = time.perf_counter() - start
    timings = _timed()
    question = "Which colour do you pick for the team flag? A) red B) blue C) green"
    task = Task([Round(question, ("A", "B", "C"))], name="b4")
    persons = [
        LLMPerson(model, Persona(f"p{i}", f"You are participant {i}, aged {20 + 3 * i}."))
        for i in range(members)
    ]
    situation = Situation(topology=Topology("ring", k=2), schedule="synchronous")
    with Gateway() as gateway:
        society = Society(persons, task, situation, seed=1, gateway=gateway)
        start = time.perf_counter()
        decisions = society.run(rounds)
        wall = time.perf_counter() - start
    n = len(decisions)
    evaluated = sum(t.get("prompt_n", 0) for t in timings)
    cached = sum(t.get("cache_n", 0) for t in timings)
    prompt_s = sum(t.get("prompt_ms", 0.0) for t in timings) / 1000
    rate = evaluated / prompt_s if prompt_s else float("nan")
    per = evaluated / len(timings) if timings else float("nan")
    # Decisions/s if prompt evaluation were all the time took: the unique tokens of the
    # run's calls (the identical calls a run repeats are answered once) at the measured
    # prompt-evaluation rate.
    bound = n / prompt_s if prompt_s else float("nan")
    return {
        "threads": threads,
        "load_before": round(load0, 1),
        "load_s": round(load_s, 2),
        "decisions": n,
        "calls": len(timings),
        "prompt_tok/call": round(sum(t.get("prompt_tokens", 0) for t in timings) / len(timings), 1),
        "prompt_s": round(prompt_s, 2),
        "evaluated_tok/call": round(per, 1),
        "cache_reuse": round(cached / (cached + evaluated), 2) if cached + evaluated else 0.0,
        "prompt_tok/s": round(rate, 1),
        "wall_s": round(wall, 2),
        "decisions/s": round(n / wall, 2),
        "bound/s": round(bound, 2),
        "share_of_bound": round(n / wall / bound, 2),
        "load_after": round(os.getloadavg()[0], 1),
        "probabilities": [list(p) for p in decisions.sort_values(["step", "member"]).probabilities]
        if "probabilities" in decisions
        else [],
        "choices": list(decisions.sort_values(["step", "member"]).choice),
    }


def check_cassette(path: str, n: int) -> dict:
    """Recorded calls sent again (exact mode); option probabilities per call."""
    from workbench.llm import gateway, local

    entries = []
    for line in Path(path).read_text().splitlines():
        entry = json.loads(line)
        if entry["call"]["model"].startswith(f"{local.PROVIDER}/") and not entry.get("invalid"):
            entries.append(entry)
        if len(entries) == n:
            break
    out = {"threads": local.threads(), "live": [], "recorded": []}
    for entry in entries:
        call = dict(entry["call"])
        model = call.pop("model").split("/", 1)[1]
        options = tuple(o.strip('"') for o in call["grammar"][len("root ::= ") :].split(" | "))
        reply = local._complete(model, call.pop("messages"), call)
        live = gateway._reply_from(local._to_model_response(reply, model))
        recorded = gateway._Reply(**entry["response"])
        out["live"].append(gateway._read_options(live, options)[0])
        out["recorded"].append(gateway._read_options(recorded, options)[0])
    return out


def child(args: list[str], env: dict, busy: bool) -> dict:
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        out = subprocess.run(
            [sys.executable, __file__, *args],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    return json.loads(out.strip().splitlines()[-1])


def max_diff(a: list, b: list) -> float:
    return max(
        (abs(x - y) for p, q in zip(a, b, strict=True) for x, y in zip(p, q, strict=True)),
        default=0.0,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=MODEL)
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--threads", nargs="+", default=["1", "2"])
    parser.add_argument("--loads", nargs="+", choices=("as-is", "busy"), default=["as-is", "busy"])
    parser.add_argument("--check-cassette", metavar="PATH")
    parser.add_argument("--check-n", type=int, default=20)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cassette-one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.model, args.members, args.rounds)))
        return
    if args.cassette_one:
        print(json.dumps(check_cassette(args.cassette_one, args.check_n)))
        return
    print(f"# B4 on {machine()}")
    rows, first = [], None
    common = ["--one", "--model", args.model, "--members", str(args.members)]
    common += ["--rounds", str(args.rounds)]
    for load in args.loads:
        for threads in args.threads:
            row = child(common, {"WORKBENCH_LOCAL_THREADS": threads}, load == "busy")
            probabilities, choices = row.pop("probabilities"), row.pop("choices")
            first = first or (probabilities, choices)
            row = {"extra_busy_process": load == "busy", "env_threads": threads, **row}
            row["max_dp"] = float(f"{max_diff(first[0], probabilities):.2g}")
            row["same_choices"] = choices == first[1]
            rows.append(row)
    print(table(rows))
    if args.check_cassette:
        runs = {}
        for threads in ("1", "2"):
            env = {"WORKBENCH_LOCAL_THREADS": threads, "WORKBENCH_LOCAL_MODE": "exact"}
            runs[threads] = child(
                ["--cassette-one", args.check_cassette, "--check-n", str(args.check_n)],
                env,
                False,
            )
        one_, two = runs["1"], runs["2"]
        print(
            f"# cassette {args.check_cassette}: {len(one_['live'])} calls; largest option-"
            f"probability difference 1 vs 2 threads {max_diff(one_['live'], two['live']):.3g}, "
            f"1 thread vs recorded {max_diff(one_['live'], one_['recorded']):.3g}, "
            f"2 threads vs recorded {max_diff(two['live'], two['recorded']):.3g}"
        )
    print(f"# after: {machine()}")


if __name__ == "__main__":
    main()
