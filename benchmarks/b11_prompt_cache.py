"""B11: how many prompt tokens the embedded model evaluates, and how many a fuller prompt
cache would save.

Replays a recorded battery from its cassette (no model is loaded; about 25 s) and logs the
cassette lookups in order: the calls the embedded model made when the cassette was
recorded, in the order it made them (the gateway sends local calls one at a time, in
request order). For each call it estimates the tokens llama.cpp had to evaluate:

``one slot`` (today's ``reproducible`` mode)
    the prompt minus its common prefix with the previous call's prompt, the only one the
    slot keeps;
``every earlier prompt``
    the prompt minus its longest common prefix with any earlier prompt of the run: what a
    host-memory prompt cache holding everything (llama.cpp's ``cache_ram``) could save at
    best, with prompts unchanged.

The common prefix is measured in characters of the chat messages and turned into tokens
in proportion to each prompt's recorded token count (no tokenizer is loaded); the chat
template's few tokens are left out, so both estimates are slightly low. Rows are grouped
by the first line of the user message (one study set-up and wording per group).

Run: ``python benchmarks/b11_prompt_cache.py [--model local/qwen2.5-coder-1.5b]``.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import tempfile
from collections import defaultdict
from pathlib import Path

from _bench import ROOT, machine, table


def lookups(model: str, cassette: Path) -> list[str]:
    """The cassette keys a replay of the small battery reads, in order."""
    from workbench import cli
    from workbench.llm import cassette as cassettes

    order: list[str] = []
    get = cassettes.Cassette.get

    def logged(self, key):
        order.append(key)
        return get(self, key)

    cassettes.Cassette.get = logged
    try:
        with tempfile.TemporaryDirectory() as tmp:
            argv = ["battery", "--model", model, "--budget", "small", "--no-progress"]
            argv += ["--cassette", str(cassette), "--cassette-mode", "replay"]
            argv += ["--out", f"{tmp}/cards", "--store", f"{tmp}/store.sqlite"]
            if cli.main(argv) != 0:
                raise SystemExit("the battery replay failed")
    finally:
        cassettes.Cassette.get = get
    return order


def text(call: dict) -> str:
    return "\x00".join(f"{m['role']}:{m['content']}" for m in call["messages"])


def estimate(order: list[str], entries: dict[str, dict]) -> list[dict]:
    # per group: calls, prompt tokens, tokens evaluated with one slot, with every prompt
    groups: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0])
    previous, earlier = "", []  # earlier: every prompt so far, sorted
    for key in order:
        entry = entries[key]
        prompt, tokens = text(entry["call"]), entry["response"]["prompt_tokens"]
        slot = len(os.path.commonprefix([previous, prompt]))
        # The longest common prefix with any earlier prompt is with a sorted neighbour.
        at = bisect.bisect_left(earlier, prompt)
        near = [earlier[i] for i in (at - 1, at) if 0 <= i < len(earlier)]
        best = max([slot, *(len(os.path.commonprefix([p, prompt])) for p in near)])
        group = groups[entry["call"]["messages"][-1]["content"].split("\n")[0][:48]]
        group[0] += 1
        group[1] += tokens
        group[2] += max(1.0, tokens * (1 - slot / len(prompt)))
        group[3] += max(1.0, tokens * (1 - best / len(prompt)))
        previous = prompt
        bisect.insort(earlier, prompt)
    ranked = sorted(groups.items(), key=lambda g: -g[1][1])
    total = [sum(g[i] for g in groups.values()) for i in range(4)]
    return [_row(name, *sums) for name, sums in [*ranked, ("all", total)]]


def _row(name: str, calls: float, tokens: float, slot: float, best: float) -> dict:
    return {
        "prompts starting": name,
        "calls": int(calls),
        "prompt_tokens": round(tokens),
        "one slot": round(slot),
        "one slot share": round(slot / tokens, 2),
        "every earlier prompt": round(best),
        "every earlier share": round(best / tokens, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="local/qwen2.5-coder-1.5b")
    args = parser.parse_args()
    name = args.model.split("/", 1)[1]
    cassette = ROOT / "notebooks" / "cassettes" / f"battery_{name}.jsonl"
    print(f"# B11 on {machine()}")
    with cassette.open() as lines:
        entries = {e["key"]: e for e in map(json.loads, lines)}
    rows = estimate(lookups(args.model, cassette), entries)
    print(f"# {args.model}, battery small, seed 0: estimated tokens evaluated")
    print(table(rows))


if __name__ == "__main__":
    main()
