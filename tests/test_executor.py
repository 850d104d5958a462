"""``workbench.sweep.executor``: its process pool's workers and its Dask address check."""

from __future__ import annotations

import multiprocessing
import os
import threading

import pytest

from workbench import _lifeline
from workbench.cli import main
from workbench.errors import ConfigError
from workbench.sweep import executor


def _worker_view() -> tuple[int, list[str]]:
    """In a worker: its parent pid and its threads' names."""
    return os.getppid(), [t.name for t in threading.enumerate()]


def test_process_workers_start_on_entry_and_watch_their_parent():
    before = set(multiprocessing.active_children())
    with executor("process", workers=2) as pool:
        started = set(multiprocessing.active_children()) - before
        assert len(started) == 2  # all started by the thread entering, before any submit
        parent, threads = pool.submit(_worker_view).result(timeout=300)
    assert parent == os.getpid() and _lifeline.THREAD_NAME in threads


def test_a_scheduler_that_is_not_an_address_is_a_config_error():
    pytest.importorskip("distributed")
    with pytest.raises(ConfigError) as info:
        with executor(scheduler="not-an-address"):
            pass
    assert str(info.value) == "--scheduler takes tcp://HOST:PORT, got 'not-an-address'"


def test_the_cli_says_so_in_one_line(tmp_path, capsys):
    pytest.importorskip("distributed")
    argv = ["sweep", "asch", "--model", "rule:conformist:0.3", "--no-progress"]
    argv += ["--scheduler", "not-an-address", "--store", str(tmp_path / "runs.sqlite")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == "workbench: error: --scheduler takes tcp://HOST:PORT, got 'not-an-address'\n"
