"""Sweeps never store a failed run as complete, redo it on resume, and never compute a
run that another sweep on the same store holds."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading

from support.openai_server import OpenAIServer
from support.ports import closed_port

from workbench import cli
from workbench.store import ResultStore
from workbench.studies.asch import AschConfig
from workbench.sweep import Sweep, run_job

_PROVIDER_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE")


def test_a_sweep_against_a_dead_server_completes_on_resume(tmp_path, capsys, monkeypatch):
    for name in _PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    port = closed_port()
    argv = [
        "sweep", "asch", "--model", "openai/test-model", "--subjects", "1",
        "--api-base", f"http://127.0.0.1:{port}/v1",
        "--grid", "majority=0,3", "--seeds", "2",
        "--store", str(tmp_path / "s.sqlite"), "--no-progress",
    ]  # fmt: skip
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "connection refused" in err and "Traceback" not in err
    store = ResultStore(tmp_path / "s.sqlite")
    assert not (store.runs().status == "complete").any()
    with OpenAIServer(port=port) as server:
        assert cli.main(argv) == 0
        assert server.requests
    runs = store.runs()
    assert len(runs) == 4 and (runs.status == "complete").all()
    assert "4 runs, 4 ran now" in capsys.readouterr().out


def rule_sweep() -> Sweep:
    config = AschConfig(model="rule:conformist:0.3", subjects=1, ally=())
    return Sweep("asch", {"majority": [1, 3]}, seeds=2, config=config)


def hold(store_path, run_id: str) -> subprocess.Popen:
    """Another process that claims ``run_id`` and holds it until killed."""
    code = (
        "import sys\n"
        "from workbench.store import ResultStore\n"
        f"assert ResultStore({str(store_path)!r}).claim({run_id!r})\n"
        "print('claimed', flush=True)\n"
        "sys.stdin.read()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "claimed"
    return proc


def sweep_in_thread(sweep: Sweep, store: ResultStore):
    out: dict = {}
    thread = threading.Thread(
        target=lambda: out.setdefault("result", sweep.run(store=store, progress=False))
    )
    thread.start()
    return thread, out


def wait_for_complete(store: ResultStore, run_ids, thread) -> None:
    for _ in range(600):
        if store.complete_ids(run_ids) == set(run_ids) or not thread.is_alive():
            return
        threading.Event().wait(0.2)


@contextlib.contextmanager
def held_elsewhere(tmp_path):
    """A rule sweep running in a thread while another process holds its first run.

    Yields ``(sweep, store, held, others, thread, out)`` once every other run is
    complete (``held`` the held planned run, ``others`` the other run ids, ``out`` gets
    the sweep's ``"result"``); the holding process is killed on exit.
    """
    sweep, store = rule_sweep(), ResultStore(tmp_path / "s.sqlite")
    planned = sweep.runs()
    held, others = planned[0], [r.run_id for r in planned[1:]]
    holder = hold(store.path, held.run_id)
    try:
        thread, out = sweep_in_thread(sweep, store)
        wait_for_complete(store, others, thread)
        yield sweep, store, held, others, thread, out
    finally:
        holder.kill()
        holder.wait()


def test_a_run_another_sweep_holds_is_not_computed_twice(tmp_path):
    with held_elsewhere(tmp_path) as (sweep, store, held, others, thread, out):
        assert store.complete_ids(others) == set(others)
        assert store.status(held.run_id) is None  # waited for, not computed
        # The other sweep finishes its run: this one counts it as stored.
        store.save(run_job(sweep._job(held)))
        thread.join(120)
    runs = out["result"].runs.set_index("run_id").status
    assert runs[held.run_id] == "stored"
    assert (runs[others] == "ran").all()


def test_a_run_held_by_a_dead_sweep_is_taken_over(tmp_path):
    with held_elsewhere(tmp_path) as (_, _, held, _, thread, out):
        pass
    thread.join(120)
    result = out["result"]
    assert result.complete and result.runs.set_index("run_id").status[held.run_id] == "ran"
