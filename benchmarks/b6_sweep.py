"""B6: a 16-run sweep, serial vs a Dask LocalCluster with 2 worker processes.

Two workloads, each 2 conditions x 8 seeds = 16 runs of the Asch study, stored as they
finish in a fresh result store:

- ``rule`` (CPU-bound): a ``rule:conformist:0.3`` subject, 8 subjects per condition, all
  five default conditions: pure Python work, so 2 workers can at best use both cores;
- ``llm`` (latency-bound): an ``openai/test-model`` subject through the gateway to the test
  server (100 ms a call, its own process), 2 subjects per condition, 18 sequential trials
  each: runs mostly wait on the model, so workers overlap their waits.

``dask_s`` includes starting the cluster; ``dask_run_s`` is the sweep alone.

Run: ``python benchmarks/b6_sweep.py [--workloads rule llm]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _bench import MODEL, Clock, machine, table, test_server


def sweep(workload: str):
    from workbench.llm import GatewayConfig
    from workbench.studies.asch import AschConfig
    from workbench.sweep import Sweep

    if workload == "rule":
        config = AschConfig(model="rule:conformist:0.3", subjects=8)
        return Sweep("asch", {"norms": ["public", "private"]}, 8, config=config)
    config = AschConfig(model=MODEL, subjects=2, majority=(1, 3), ally=())
    gateway = GatewayConfig(concurrency=16, timeout=30)
    return Sweep("asch", {"norms": ["public", "private"]}, 8, config=config, gateway=gateway)


def measure(workload: str, folder: Path) -> dict:
    from workbench.sweep import executor

    with Clock() as serial:
        result = sweep(workload).run(store=folder / f"{workload}-serial.sqlite", progress=False)
    assert (result.runs.status == "ran").sum() == 16
    with Clock() as dask:
        start = time.perf_counter()
        with executor("dask", workers=2) as pool:
            up = time.perf_counter() - start
            with Clock() as run:
                result = sweep(workload).run(
                    pool, folder / f"{workload}-dask.sqlite", progress=False
                )
    assert (result.runs.status == "ran").sum() == 16
    return {
        "workload": workload,
        "runs": 16,
        "serial_s": round(serial.wall, 1),
        "dask_s": round(dask.wall, 1),
        "cluster_start_s": round(up, 1),
        "dask_run_s": round(run.wall, 1),
        "speed-up": round(serial.wall / dask.wall, 2),
        "speed-up_run": round(serial.wall / run.wall, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", default=["rule", "llm"])
    args = parser.parse_args()
    print(f"# B6 on {machine()}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for workload in args.workloads:
            if workload == "llm":
                with test_server(latency=0.1):
                    rows.append(measure(workload, Path(tmp)))
            else:
                rows.append(measure(workload, Path(tmp)))
    print(table(rows))
    print(f"# after: {machine()}")


if __name__ == "__main__":
    main()
