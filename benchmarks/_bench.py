"""Shared pieces of the benchmarks: the machine line, the test server in its own process.

The OpenAI-compatible test server (``tests/support/openai_server.py``) is imported by path
and run in a separate process, so its request handling does not compete with the client
for the GIL. The wrapper turns on ``TCP_NODELAY`` for the server's sockets: the server
writes headers and body separately, and with Nagle's algorithm on, the body waits for the
client's delayed ACK (about 40 ms on Linux), which would add to every call's latency.
"""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "tests" / "support" / "openai_server.py"
MODEL = "openai/test-model"

_SERVE = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("openai_server", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules["openai_server"] = module
spec.loader.exec_module(module)
module._Handler.disable_nagle_algorithm = True
module.main(sys.argv[2:])
"""


def machine() -> str:
    """One line: CPU, cores, memory, Python, load averages now."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{cpu}, {os.cpu_count()} cores{mem}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; load average {load} (1, 5, 15 min)"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def test_server(
    latency: float = 0.1,
    fault_rate: float = 0.0,
    seed: int = 0,
    hang: float = 5.0,
    fault_kinds: str | None = None,
) -> Iterator[str]:
    """Run the test server in its own process; yield its base URL (environment set)."""
    port = free_port()
    argv = [sys.executable, "-c", _SERVE, str(SERVER), "--port", str(port)]
    argv += ["--latency", str(latency), "--fault-rate", str(fault_rate), "--seed", str(seed)]
    argv += ["--hang", str(hang)]
    if fault_kinds:
        argv += ["--fault-kinds", fault_kinds]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        if "serving" not in line:
            raise RuntimeError(f"the test server did not start: {line!r}")
        base = f"http://127.0.0.1:{port}/v1"
        old = {
            k: os.environ.get(k) for k in ("OPENAI_BASE_URL", "OPENAI_API_BASE", "OPENAI_API_KEY")
        }
        os.environ.update(OPENAI_BASE_URL=base, OPENAI_API_BASE=base, OPENAI_API_KEY="sk-test")
        try:
            yield base
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Clock:
    """Wall and CPU time of this process over a block."""

    def __enter__(self) -> Clock:
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0


def question(i: int) -> str:
    return f"Question {i}: which colour do you pick? A) red B) blue C) green"


def table(rows: list[dict]) -> str:
    import pandas as pd

    return pd.DataFrame(rows).to_string(index=False)
