"""Embedded-model speed: load time, first call, decisions per second.

Prints one row per (model, concurrency): how long the server took to load, the first
decision after load, and the throughput of a batch of distinct forced-choice decisions
through the gateway. Run: ``python benchmarks/local_models.py [--models ...] [--n 32]``.
Each model is measured in its own process so every row starts from a cold server.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time


def measure(model: str, n: int, concurrency: int) -> dict:
    import numpy as np

    from workbench.llm import DecisionRequest, Gateway, GatewayConfig, local

    start = time.perf_counter()
    local.server(model)
    load = time.perf_counter() - start
    gateway = Gateway(GatewayConfig(concurrency=concurrency))

    def ask(i: int) -> DecisionRequest:
        return DecisionRequest(
            model,
            [
                {"role": "system", "content": "You judge line lengths. Answer with one letter."},
                {
                    "role": "user",
                    "content": f"Reference line: {10 + i % 7} cm. Which line matches it? "
                    f"A) {4 + i % 5} cm B) {10 + i % 7} cm C) {20 + i % 3} cm",
                },
            ],
            ("A", "B", "C"),
        )

    rng = np.random.default_rng(0)
    start = time.perf_counter()
    gateway.decide([ask(-1)], rng)
    first = time.perf_counter() - start
    start = time.perf_counter()
    decisions = gateway.decide([ask(i) for i in range(n)], rng)
    wall = time.perf_counter() - start
    gateway.close()
    correct = sum(d.choice == "B" for d in decisions) / n
    return {
        "model": model,
        "slots": local.slots(),
        "concurrency": concurrency,
        "load_s": round(load, 2),
        "first_call_s": round(first, 2),
        "decisions": n,
        "wall_s": round(wall, 2),
        "decisions_per_s": round(n / wall, 2),
        "s_per_decision": round(wall / n, 3),
        "share_correct": round(correct, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", nargs="+", default=["local/smollm2-135m", "local/qwen2.5-coder-1.5b"]
    )
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.n, args.concurrency)))
        return
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}"
    )
    rows = []
    for model in args.models:
        for slots, concurrency in ((1, 1), (4, 8)):
            env = {**os.environ, "WORKBENCH_LOCAL_SLOTS": str(slots)}
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--one",
                    model,
                    "--n",
                    str(args.n),
                    "--concurrency",
                    str(concurrency),
                ],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
    import pandas as pd

    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
