"""Sweeps: grids, deterministic run ids, resuming, executors, and a real kill -9.

The ``tally`` study below is rule-only and fast; the subprocess tests write it into a
script, so its classes live in ``__main__`` as they would in a notebook.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest
from support.cli import one_line_error
from support.scripted import always

from workbench import cli
from workbench.errors import ConfigError
from workbench.store import ResultStore
from workbench.studies.asch import AschConfig
from workbench.sweep import Sweep, SweepError, executor, parse_grid, run_id_for

#: A notebook-style study: a few rule members answering three rounds; the summary sleeps
#: ``$TALLY_DELAY`` seconds so a sweep can be killed while runs are in flight.
TALLY = textwrap.dedent(
    '''
    import json, os, sys, time
    from dataclasses import dataclass

    from workbench.errors import ConfigError
    from workbench.society import Conformist, Round, Situation, Society, Task
    from workbench.studies import Study, Unit
    from workbench.sweep import Sweep


    @dataclass(frozen=True)
    class TallyConfig:
        members: int = 6
        p: float = 0.5

        def __post_init__(self):
            if self.members < 1:
                raise ConfigError(f"members must be at least 1, got {self.members}")


    class Tally(Study):
        """A toy study: conformists answering three rounds."""

        name = "tally"
        Config = TallyConfig

        def units(self, seed):
            return [Unit(0, {"p": self.config.p}, 0, seed)]

        def build(self, unit, gateway=None, run_id=""):
            task = Task([Round("Pick one.", ("A", "B"))] * 3)
            persons = [Conformist(self.config.p)] * self.config.members
            return Society(persons, task, Situation(), seed=unit.seed, gateway=gateway,
                           conditions=unit.conditions, run_id=run_id)

        def summarize(self, decisions, seed):
            time.sleep(float(os.environ.get("TALLY_DELAY", "0")))
            SUMMARIZED.append(1)
            if len(SUMMARIZED) > int(os.environ.get("TALLY_STALL_AFTER", "1000000")):
                while True:  # stalled here until the test kills the process
                    time.sleep(1)
            return decisions.groupby("choice").size().rename("n").reset_index()


    SUMMARIZED = []


    if __name__ == "__main__":
        store, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
        sweep = Sweep(Tally, {"p": [0.2, 0.8]}, range(first, first + n))
        result = sweep.run(store=store, progress=False)
        print(json.dumps(result.runs.status.value_counts().to_dict()))
    '''
)
DECISIONS_PER_RUN = 6 * 3


def tally_script(tmp_path) -> str:
    path = tmp_path / "tally.py"
    path.write_text(TALLY)
    return str(path)


def run_tally(script, store, first, n, delay=0.0, stall_after=None, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "TALLY_DELAY": str(delay)}
    if stall_after is not None:
        env["TALLY_STALL_AFTER"] = str(stall_after)
    return subprocess.Popen(
        [sys.executable, script, str(store), str(first), str(n)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def check_whole(store: ResultStore, run_ids=None) -> pd.DataFrame:
    """Every stored run (or those named) loads with all its decisions and its summary."""
    runs = store.runs()
    assert runs.run_id.is_unique
    for run_id in runs.run_id if run_ids is None else run_ids:
        record = store.load(run_id)
        assert len(record.decisions) == DECISIONS_PER_RUN
        assert (record.decisions.run_id == run_id).all()
        assert record.summary is not None and record.summary.n.sum() == DECISIONS_PER_RUN
    return runs


def local_tally():
    """The tally study defined in a function: pickled by value, as notebook classes are."""
    namespace: dict = {"__name__": "notebook"}
    exec(compile(TALLY, "notebook", "exec", dont_inherit=True), namespace)
    return namespace["Tally"], namespace["TallyConfig"]


# -- grids and ids -------------------------------------------------------------------------


def test_parse_grid_casts_to_field_types():
    grid = parse_grid(["majority=0,3", "temperature=0.5,1", "model=rule:truthful"], AschConfig)
    assert grid == {"majority": [(0,), (3,)], "temperature": [0.5, 1.0], "model": ["rule:truthful"]}
    assert parse_grid(["persona-file=none"], AschConfig) == {"persona_file": [None]}
    # from Python, a scalar for a list field is a list of one, as on the command line
    python = Sweep("asch", {"majority": [0, 3]}, 2).runs()
    assert [r.run_id for r in python] == [
        r.run_id for r in Sweep("asch", ["majority=0,3"], 2).runs()
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("majority", "write key=value1,value2"),
        ("wizard=1", "unknown grid key 'wizard'"),
        ("subjects=one", "takes a whole number"),
        ("subjects=1,,2", "must be non-empty"),
        ("subjects=", "must be non-empty"),
    ],
)
def test_bad_grid_is_a_config_error(spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_grid([spec], AschConfig)


def test_repeated_key_and_bad_seeds_are_config_errors():
    with pytest.raises(ConfigError, match="given twice"):
        parse_grid(["subjects=1", "subjects=2"], AschConfig)
    for seeds in (0, -2, [], [1, 1], [-1], "x"):
        with pytest.raises(ConfigError):
            Sweep("asch", seeds=seeds)


def test_run_ids_are_deterministic_and_distinct():
    a = AschConfig(model="rule:truthful", subjects=2)
    assert run_id_for("asch", a, 1) == run_id_for("asch", AschConfig("rule:truthful", 2), 1)
    assert run_id_for("asch", a, 1) != run_id_for("asch", a, 2)
    assert run_id_for("asch", a, 1) != run_id_for("asch", AschConfig("rule:truthful", 3), 1)
    runs = Sweep("asch", {"subjects": [1, 2]}, 3, config=a).runs()
    assert len(runs) == 6 and len({r.run_id for r in runs}) == 6
    assert [r.run_id for r in runs] == [
        r.run_id for r in Sweep("asch", ["subjects=1,2"], 3, config=a).runs()
    ]


def test_an_invalid_combination_names_itself():
    with pytest.raises(ConfigError, match=r"grid subjects=-1: subjects must be at least 1"):
        Sweep("asch", {"subjects": [2, -1]}).runs()


# -- running and resuming ------------------------------------------------------------------


def test_serial_sweep_stores_each_run_and_resumes(tmp_path):
    Tally, TallyConfig = local_tally()
    store = ResultStore(tmp_path / "s.sqlite")
    first = Sweep(Tally, {"p": [0.2, 0.8]}, 2).run(store=store, progress=False)
    assert first.complete and list(first.runs.status) == ["ran"] * 4
    assert len(check_whole(store)) == 4
    again = Sweep(Tally, {"p": [0.2, 0.8]}, 3).run(store=store, progress=False)
    assert again.runs.status.value_counts().to_dict() == {"stored": 4, "ran": 2}
    assert len(check_whole(store)) == 6
    decisions = again.decisions()
    assert len(decisions) == 6 * DECISIONS_PER_RUN
    assert set(decisions.seed) == {0, 1, 2} and set(decisions.p) == {0.2, 0.8}
    meta = store.load(again.runs.run_id[0]).metadata
    assert meta["sweep"] == {"conditions": {"p": 0.2}, "seed": 0} and meta["seed"] == 0


def test_a_failing_run_keeps_the_finished_ones(tmp_path):
    Tally, TallyConfig = local_tally()

    class Fragile(Tally):
        def build(self, unit, gateway=None, run_id=""):
            if unit.seed == 2:
                raise ConfigError("seed 2 is cursed")
            return super().build(unit, gateway, run_id)

    store = ResultStore(tmp_path / "s.sqlite")
    with pytest.raises(SweepError, match=r"p=0.5 seed=2 failed: seed 2 is cursed \(2 of 4"):
        Sweep(Fragile, {"p": [0.5]}, 4).run(store=store, progress=False)
    runs = store.runs()
    assert sorted(runs.status) == ["complete", "complete", "incomplete"]
    check_whole(ResultStore(tmp_path / "s.sqlite"), runs[runs.status == "complete"].run_id)
    failed = store.load(runs[runs.status == "incomplete"].run_id.iloc[0])
    assert failed.metadata["error"] == "seed 2 is cursed" and failed.decisions.empty
    # On resume the incomplete run is done again and replaces the stored one.
    again = Sweep(Tally, {"p": [0.5]}, 4).run(store=store, progress=False)
    assert sorted(again.runs.status) == ["ran", "ran", "stored", "stored"]
    assert again.complete and (store.runs().status == "complete").all()
    check_whole(store)


@pytest.mark.parametrize("kind", ["process", "dask"])
def test_parallel_executors_run_notebook_classes(tmp_path, kind):
    Tally, _ = local_tally()  # not importable: it travels by value, as notebook classes do
    store = ResultStore(tmp_path / "s.sqlite")
    with executor(kind, workers=1) as pool:
        result = Sweep(Tally, {"p": [0.2, 0.8]}, 1).run(pool, store, progress=False)
        if kind == "dask":  # the same cluster, joined from the command line
            address = pool._client.scheduler.address
            argv = sweep_args(tmp_path, "--scheduler", address, "--no-progress")
            assert cli.main(argv) == 0
            assert len(ResultStore(tmp_path / "s.sqlite").runs()) == 2 + 4
    assert list(result.runs.status) == ["ran"] * 2
    serial = Sweep(Tally, {"p": [0.2, 0.8]}, 1).run(progress=False)
    assert serial.store is None and len(serial.records) == 2
    for run_id, record in serial.records.items():
        pd.testing.assert_frame_equal(store.load(run_id).decisions, record.decisions)


def test_executor_rejects_bad_choices():
    for kwargs in (
        {"kind": "threads"},
        {"kind": "process", "workers": 0},
        {"kind": "process", "scheduler": "tcp://127.0.0.1:1"},
    ):
        with pytest.raises(ConfigError), executor(**kwargs):
            pass


# -- kill -9 -------------------------------------------------------------------------------


def test_kill_9_midway_loses_no_finished_run_and_resume_completes(tmp_path):
    script, path = tally_script(tmp_path), tmp_path / "s.sqlite"
    store = ResultStore(path)
    # The fourth run stalls before it is stored, so the kill comes midway at any speed.
    proc = run_tally(script, path, 0, 5, stall_after=3)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists() and len(store.runs()) >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    before = check_whole(store)
    assert len(before) == 3
    Tally, _ = local_tally()  # resume here: the same sweep, so the same run ids
    resumed = Sweep(Tally, {"p": [0.2, 0.8]}, range(5)).run(store=store, progress=False)
    counts = resumed.runs.status.value_counts().to_dict()
    assert counts == {"stored": len(before), "ran": 10 - len(before)}
    after = check_whole(store)
    assert len(after) == 10
    kept = after.set_index("run_id").loc[before.run_id, "created"]
    assert list(kept) == list(before.created)  # finished runs were not redone


# -- the command line ----------------------------------------------------------------------


def sweep_args(tmp_path, *extra):
    return [
        "sweep",
        "asch",
        "--model",
        "rule:conformist:0.3",
        "--subjects",
        "1",
        "--majority",
        "3",
        "--grid",
        "temperature=0,1",
        "--seeds",
        "2",
        "--store",
        str(tmp_path / "s.sqlite"),
        *extra,
    ]


def test_cli_sweep_prints_runs_stores_them_and_resumes(tmp_path, capsys):
    assert cli.main(sweep_args(tmp_path)) == 0
    captured = capsys.readouterr()
    assert "4 runs, 4 ran now, 0 already stored" in captured.out
    assert "sweep asch" in captured.err  # the progress bar
    assert len(ResultStore(tmp_path / "s.sqlite").runs()) == 4
    assert cli.main(sweep_args(tmp_path, "--seeds", "3", "--no-progress")) == 0
    captured = capsys.readouterr()
    assert "6 runs, 2 ran now, 4 already stored" in captured.out and captured.err == ""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--grid", "temperature"], "write key=value1,value2"),
        (["--grid", "colour=red"], "unknown grid key 'colour'"),
        (["--seeds", "0"], "--seeds must be at least 1"),
        (["--workers", "0", "--executor", "process"], "workers must be at least 1"),
        (["--executor", "dask", "--cassette", "c.jsonl"], "recording a cassette needs"),
        (["--grid", "subjects=0"], "subjects=0: subjects must be at least 1"),
    ],
)
def test_cli_sweep_bad_input_is_one_line(tmp_path, capsys, extra, message):
    assert message in one_line_error(capsys, sweep_args(tmp_path, "--no-progress", *extra))


def test_a_live_gateway_serves_every_run_in_this_process(tmp_path):
    gateway = always("B")
    config = AschConfig(model="fake/model", subjects=1, majority=(0,), ally=())
    sweep = Sweep("asch", {"norms": ["public", "private"]}, seeds=2, config=config)
    result = sweep.run(store=tmp_path / "s.sqlite", progress=False, gateway=gateway)
    assert result.complete and len(result.runs) == 4
    # 4 runs x 18 trials, every one answered by this gateway and stored as such
    assert len(gateway.requests) == 4 * 18
    assert (result.decisions().query("role == 'subject'").choice == "B").all()
    with pytest.raises(ConfigError, match="cannot travel to an executor"):
        with executor("process", workers=1) as pool:
            sweep.run(pool, progress=False, gateway=gateway)


def test_on_round_reports_every_round_of_a_serial_run():
    from workbench.sweep import Sweep

    events = []
    from workbench.studies.asch import AschConfig

    sweep = Sweep("asch", seeds=[0, 1], config=AschConfig(model="rule:truthful", subjects=1))
    sweep.run(progress=False, on_round=events.append)
    rounds = {(e.society.run_id, e.label, e.round) for e in events}
    assert len(events) == len(rounds) > 0  # one event per round
    assert all(e.decisions_done <= e.decisions_planned for e in events)
