"""B7: what reproducible embedded runs cost, and whether they are reproducible.

Runs ``workbench run asch --model MODEL --subjects S --seed 7`` in fresh processes, the
modes alternating (reproducible, throughput, reproducible, throughput, ...) so that a
change of machine load falls on both alike, and prints each run's wall time, the ratio of
the modes' median times, and whether the runs of each mode gave byte-identical decision
tables. The model's load and the first call are included, as a user sees them.

``python benchmarks/b7_reproducible.py [--model local/smollm2-135m] [--subjects 2]
[--repeats 2]``
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench import machine  # noqa: E402

MODES = ("reproducible", "throughput")


def one_run(model: str, subjects: int, mode: str, out: Path) -> tuple[float, str]:
    argv = [
        sys.executable, "-m", "workbench.cli", "run", "asch", "--model", model,
        "--subjects", str(subjects), "--seed", "7", "--no-store", "--no-progress",
        "--out", str(out),
    ]  # fmt: skip
    env = {**os.environ, "WORKBENCH_LOCAL_MODE": mode}
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True)
    seconds = time.perf_counter() - start
    # Every table but the run id, which is new for every run.
    decisions = pd.read_csv(out / "asch_decisions.csv").drop(columns="run_id")
    tables = decisions.to_csv(index=False) + (out / "asch_summary.csv").read_text()
    digest = hashlib.sha256(tables.encode()).hexdigest()[:12]
    return seconds, digest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="local/smollm2-135m")
    parser.add_argument("--subjects", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(machine())
    times: dict[str, list[float]] = {m: [] for m in MODES}
    digests: dict[str, set[str]] = {m: set() for m in MODES}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for mode in MODES:
                seconds, digest = one_run(
                    args.model, args.subjects, mode, Path(tmp) / f"{mode}-{repeat}"
                )
                times[mode].append(seconds)
                digests[mode].add(digest)
                print(f"{mode:13s} run {repeat + 1}: {seconds:6.1f} s  tables {digest}")
    for mode in MODES:
        same = "identical" if len(digests[mode]) == 1 else f"{len(digests[mode])} different"
        print(f"{mode:13s} median {statistics.median(times[mode]):6.1f} s; tables {same}")
    ratio = statistics.median(times["reproducible"]) / statistics.median(times["throughput"])
    print(f"reproducible / throughput = {ratio:.2f}x  ({machine()})")


if __name__ == "__main__":
    main()
