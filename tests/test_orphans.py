"""No orphans: ``kill -9`` of a process sweep takes its workers and resource tracker along.

A real ``workbench sweep ... --executor process`` runs in its own session; once its two
workers are up (their watching thread, :data:`workbench._lifeline.THREAD_NAME`, is
running) the driver alone gets SIGKILL, and within 10 s (the issue's requirement) no
live process of that session may remain.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from workbench import _lifeline

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="reads the process table from /proc"
)

#: Four conditions x 50 seeds of 30 subjects: minutes of work on two workers, so the sweep
#: is still running whenever the workers come up, however slow the machine.
SWEEP = [
    "sweep", "asch", "--model", "rule:conformist:0.3", "--subjects", "30",
    "--grid", "majority=1,3,5,8", "--seeds", "50",
    "--executor", "process", "--workers", "2", "--no-progress",
]  # fmt: skip


def _stat(pid: int) -> tuple[str, int, int] | None:
    """``(state, parent pid, session id)`` of a process, None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
    return fields[0], int(fields[1]), int(fields[3])


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _alive_in_session(sid: int) -> list[int]:
    """Processes of session ``sid`` that are not zombies (a zombie has already exited)."""
    found = []
    for pid in _pids():
        stat = _stat(pid)
        if stat is not None and stat[2] == sid and stat[0] not in ("Z", "X"):
            found.append(pid)
    return found


def _watched_children(parent: int) -> list[int]:
    """Children of ``parent`` whose lifeline thread is running."""
    children = []
    for pid in _pids():
        stat = _stat(pid)
        if stat is None or stat[1] != parent:
            continue
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
            names = {Path(f"/proc/{pid}/task/{t}/comm").read_text().strip() for t in tasks}
        except OSError:
            continue
        if _lifeline.THREAD_NAME in names:
            children.append(pid)
    return children


def _wait_for(condition, seconds: float, step: float = 0.1):
    """Poll ``condition()`` until it is truthy or ``seconds`` pass; its last value."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        threading.Event().wait(step)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_sigkill_of_a_process_sweep_leaves_no_process_behind(tmp_path):
    command = [sys.executable, "-c", "from workbench.cli import main; raise SystemExit(main())"]
    log = (tmp_path / "sweep.log").open("w")
    proc = subprocess.Popen(
        [*command, *SWEEP, "--store", str(tmp_path / "runs.sqlite")],
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    sid = proc.pid  # a session leader's session id is its pid
    try:
        _wait_for(lambda: proc.poll() is not None or len(_watched_children(proc.pid)) >= 2, 60)
        assert proc.poll() is None, f"the sweep ended: {(tmp_path / 'sweep.log').read_text()}"
        assert len(_watched_children(proc.pid)) >= 2, "the workers did not come up in 60 s"
        assert len(_alive_in_session(sid)) >= 3  # the driver, its workers (and its tracker)
        proc.send_signal(signal.SIGKILL)
        proc.wait()  # reap the driver, so it leaves no zombie in the session
        left = _wait_for(lambda: not _alive_in_session(sid), 10)
        assert left, f"still alive 10 s after kill -9 of the driver: {_alive_in_session(sid)}"
    finally:
        try:
            os.killpg(sid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
        log.close()


def test_a_worker_whose_parent_is_gone_exits_at_once(tmp_path):
    """The fallback: a parent pid that is not this process's parent means it already died."""
    code = "from workbench import _lifeline; _lifeline.install(1); print('survived')"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 1 and "survived" not in out.stdout


def test_the_watch_leaves_a_living_parent_alone():
    code = (
        "import os, threading; from workbench import _lifeline\n"
        "_lifeline.install(os.getppid(), interval=0.01)\n"
        "assert any(t.name == _lifeline.THREAD_NAME for t in threading.enumerate())\n"
        "threading.Event().wait(0.1)\n"  # a few checks of the parent pass
        "print('alive')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0 and out.stdout.strip() == "alive", out.stderr
