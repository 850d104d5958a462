"""Tests for :mod:`workbench.store` and ``workbench results``."""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import workbench.store as store_module
from workbench.commands import results
from workbench.errors import WorkbenchError
from workbench.store import ResultStore, RunRecord, default_store_path, new_run_id


def make_decisions(n: int = 4) -> pd.DataFrame:
    """A decisions table with every kind of cell a study produces."""
    probs = [(0.25, 0.75), (1.0, 0.0), (float("nan"), 0.5), (1 / 3, 2 / 3)]
    return pd.DataFrame(
        {
            "step": np.arange(n, dtype="int64"),
            "member": [f"m{i}" for i in range(n)],
            "valid": [True, False, True, True][:n],
            "p_choice": [0.1, float("nan"), 1e-300, -0.0][:n],
            "options": [("A", "B"), ("A", "B", "C"), [], ["x", 1]][:n],
            "probs": probs[:n],
            "extra": [None, {"k": (1, 2), 3: [None]}, float("nan"), "text"][:n],
            "note": ["a", None, "c", "d"][:n],
            "choice": pd.Series(["A", "B", None, "A"][:n], dtype=object),
            "count": pd.array([1, None, 3, 4][:n], dtype="Int64"),
            "arm": pd.Categorical(["ctl", "treat", "ctl", "treat"][:n], ordered=True),
            "at": pd.to_datetime(["2026-01-01T00:00:00.123456", None] * 2, utc=True)[:n],
        }
    )


def make_summary(decisions: pd.DataFrame) -> pd.DataFrame:
    return decisions.groupby(["arm", "valid"], observed=True, dropna=False).agg(
        n=("step", "size"), mean_p=("p_choice", "mean")
    )


def make_record(study: str = "asch", run_id: str | None = None, **meta) -> RunRecord:
    decisions = make_decisions()
    metadata = {
        "seed": 12345678901234567890123,
        "model": "local/smollm2-135m",
        "config": {"n": 4, "norms": ("a", "b"), "rate": float("nan")},
        "versions": {"mesa": "3.3.1"},
        "llm": {"calls": 4, "cost": 0.0, "by_step": {0: 1, 1: 3}},
        **meta,
    }
    record = RunRecord.new(study, metadata, decisions, make_summary(decisions))
    if run_id is not None:
        record = RunRecord(run_id, study, record.created, metadata, decisions, record.summary)
    return record


def assert_same_cells(a: pd.Series, b: pd.Series) -> None:
    """Cell-by-cell identity: same type, and equal (NaN equals NaN) all the way down."""

    def same(x, y) -> bool:
        if type(x) is not type(y):
            return False
        if isinstance(x, float):
            return (math.isnan(x) and math.isnan(y)) or (x == y and str(x) == str(y))
        if isinstance(x, list | tuple):
            return len(x) == len(y) and all(same(u, v) for u, v in zip(x, y, strict=True))
        if isinstance(x, dict):
            return list(x) == list(y) and all(same(x[k], y[k]) for k in x)
        return x is y or x == y

    assert len(a) == len(b)
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        assert same(x, y), (x, y)


@pytest.fixture
def store(tmp_path: Path) -> ResultStore:
    return ResultStore(tmp_path / "results.sqlite")


# -- the store ---------------------------------------------------------------------------


def test_constructor_does_no_work(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "new.sqlite")
    assert not store.path.exists()
    assert store.runs().empty
    assert not store.has("anything")
    assert not store.path.exists()


def test_default_store_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("WORKBENCH_STORE", raising=False)
    assert default_store_path() == Path("workbench-results.sqlite")
    monkeypatch.setenv("WORKBENCH_STORE", str(tmp_path / "x.sqlite"))
    assert default_store_path() == tmp_path / "x.sqlite"
    assert ResultStore().path == tmp_path / "x.sqlite"


def test_new_run_id() -> None:
    a, b = new_run_id("asch"), new_run_id("asch")
    assert a != b
    study, stamp, suffix = a.rsplit("-", 2)
    assert study == "asch" and stamp.endswith("Z") and len(suffix) == 6
    int(suffix, 16)


def test_round_trip_is_exact(store: ResultStore) -> None:
    record = make_record()
    store.save(record)
    loaded = store.load(record.run_id)
    assert (loaded.run_id, loaded.study, loaded.created) == (
        record.run_id,
        record.study,
        record.created,
    )
    # pandas compares a NaN inside a tuple by identity, so "probs" is checked cell by cell
    pd.testing.assert_frame_equal(
        loaded.decisions.drop(columns="probs"),
        record.decisions.drop(columns="probs"),
        check_exact=True,
    )
    pd.testing.assert_frame_equal(loaded.summary, record.summary, check_exact=True)
    assert list(loaded.decisions.columns) == list(record.decisions.columns)
    assert list(loaded.decisions.dtypes) == list(record.decisions.dtypes)
    for column in record.decisions.columns:
        assert_same_cells(loaded.decisions[column], record.decisions[column])
    assert loaded.decisions["probs"][0] == (0.25, 0.75)
    assert isinstance(loaded.decisions["options"][2], list)
    assert loaded.decisions["extra"][0] is None
    assert loaded.decisions["extra"][1] == {"k": (1, 2), 3: [None]}
    # metadata: big ints, tuples, int keys and NaN survive
    meta = loaded.metadata
    assert meta["seed"] == record.metadata["seed"]
    assert meta["config"]["norms"] == ("a", "b")
    assert math.isnan(meta["config"]["rate"])
    assert meta["llm"]["by_step"] == {0: 1, 1: 3}


def test_round_trip_edge_frames(store: ResultStore) -> None:
    frames = {
        "empty": pd.DataFrame({"a": pd.Series([], dtype="int64"), "o": []}),
        "no_columns": pd.DataFrame(index=pd.Index([3, 1], name="k")),
        "tuple_index": pd.DataFrame(
            {"v": [1.5, 2.5]}, index=pd.Index([(1, 2), (3, 4)], tupleize_cols=False)
        ),
        "numpy_cells": pd.DataFrame({"x": [np.float32(0.5), np.int64(7), np.bool_(True)]}),
        "float32": pd.DataFrame({"x": np.array([0.1, np.nan], dtype="float32")}),
        "tag_like": pd.DataFrame({"d": [{"__tuple__": [1]}, {"__float__": "nan"}]}),
    }
    for name, frame in frames.items():
        record = RunRecord(name, "edge", "2026-01-01T00:00:00+00:00", {}, frame, frame)
        store.save(record)
        loaded = store.load(name)
        pd.testing.assert_frame_equal(loaded.decisions, frame, check_exact=True)
        pd.testing.assert_frame_equal(loaded.summary, frame, check_exact=True)
    assert store.load("tag_like").decisions["d"][0] == {"__tuple__": [1]}


def test_unstorable_value_is_a_clear_error(store: ResultStore) -> None:
    bad = pd.DataFrame({"x": [object()]})
    record = RunRecord("bad", "s", "2026", {}, bad)
    with pytest.raises(WorkbenchError, match="column 'x'"):
        store.save(record)
    assert not store.has("bad")


def test_save_is_one_transaction(store: ResultStore, monkeypatch: pytest.MonkeyPatch) -> None:
    kept = make_record(run_id="kept")
    store.save(kept)
    real_insert = store_module._insert_frame

    def fail_on_summary(conn: sqlite3.Connection, run_id: str, name: str, payload: str):
        if name == "summary":  # the run row and the decisions are written by now
            raise RuntimeError("disk on fire")
        real_insert(conn, run_id, name, payload)

    monkeypatch.setattr(store_module, "_insert_frame", fail_on_summary)
    with pytest.raises(RuntimeError, match="disk on fire"):
        store.save(make_record(run_id="doomed"))
    # overwriting fails midway too: the old run must survive intact
    with pytest.raises(RuntimeError):
        store.save(make_record(run_id="kept", model="other"), overwrite=True)
    monkeypatch.setattr(store_module, "_insert_frame", real_insert)

    assert not store.has("doomed")
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT count(*) FROM runs WHERE run_id='doomed'").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM frames WHERE run_id='doomed'").fetchone() == (0,)
    again = store.load("kept")
    assert again.metadata["model"] == "local/smollm2-135m"
    pd.testing.assert_frame_equal(again.summary, kept.summary)
    assert list(store.runs()["run_id"]) == ["kept"]


def test_duplicate_run_id(store: ResultStore) -> None:
    record = make_record(run_id="dup")
    store.save(record)
    with pytest.raises(WorkbenchError, match="already in .*overwrite=True"):
        store.save(record)
    replacement = make_record(run_id="dup", model="openai/gpt-4o-mini")
    store.save(replacement, overwrite=True)
    assert store.load("dup").metadata["model"] == "openai/gpt-4o-mini"
    assert len(store.runs()) == 1


def test_prefix_lookup_and_unknown_ids(store: ResultStore) -> None:
    for run_id in ("asch-1-aaa", "asch-1-abb", "milgram-2-ccc", "asch"):
        store.save(make_record(run_id=run_id))
    assert store.load("milg").run_id == "milgram-2-ccc"
    assert store.load("asch-1-ab").run_id == "asch-1-abb"
    assert store.load("asch").run_id == "asch"  # an exact id wins over a prefix
    with pytest.raises(WorkbenchError, match="matches 2 runs"):
        store.load("asch-1-a")
    with pytest.raises(WorkbenchError, match="workbench results list") as info:
        store.load("nope")
    assert "\n" not in str(info.value)
    with pytest.raises(WorkbenchError):
        store.load("")
    with pytest.raises(WorkbenchError):
        store.load("_sch")  # no LIKE wildcards
    assert store.has("asch") and not store.has("asc")


def test_missing_store_load_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(WorkbenchError, match="no result store"):
        ResultStore(tmp_path / "absent.sqlite").load("x")


def test_runs_listing(store: ResultStore) -> None:
    store.save(make_record("asch", run_id="a1"))
    store.save(make_record("milgram", run_id="m1", seed=None, model=None, config={"seed": 9}))
    store.save(RunRecord("bare", "asch", "2099-01-01T00:00:00+00:00", {}, pd.DataFrame({"x": [1]})))
    runs = store.runs()
    assert list(runs.columns) == [
        "run_id",
        "study",
        "created",
        "n_decisions",
        "seed",
        "model",
        "status",
    ]
    assert list(runs["run_id"]) == ["a1", "m1", "bare"]
    assert list(runs["status"]) == ["complete"] * 3
    assert list(runs["n_decisions"]) == [4, 4, 1]
    row = runs.set_index("run_id")
    assert row.loc["a1", "seed"] == 12345678901234567890123
    assert row.loc["a1", "model"] == "local/smollm2-135m"
    assert row.loc["m1", "seed"] is None  # explicit None at the top wins
    assert row.loc["bare", "model"] is None
    assert list(store.runs(study="asch")["run_id"]) == ["a1", "bare"]
    assert store.runs(study="nobody").empty


def test_status_column_and_status(store: ResultStore) -> None:
    cases = {
        "plain": {},
        "flag-true": {"complete": True},
        "flag-false": {"complete": False},
        "flag-zero": {"complete": 0},
        "said-complete": {"status": "complete", "complete": False},  # status wins
        "said-incomplete": {"status": "incomplete"},
        "failed": {"status": "failed", "error": "model went away"},
        "odd-status": {"status": 3},
    }
    for run_id, meta in cases.items():
        store.save(RunRecord(run_id, "st", "2026", meta, pd.DataFrame({"x": [1]})))
    listed = dict(zip(store.runs()["run_id"], store.runs()["status"], strict=True))
    expected = {
        "plain": "complete",
        "flag-true": "complete",
        "flag-false": "incomplete",
        "flag-zero": "incomplete",
        "said-complete": "complete",
        "said-incomplete": "incomplete",
        "failed": "failed",
        "odd-status": "unreadable",
    }
    assert listed == expected
    assert {run_id: store.status(run_id) for run_id in cases} == expected
    assert store.status("pla") is None  # exactly that id, no prefix
    assert store.status("absent") is None
    assert ResultStore(store.path.with_name("none.sqlite")).status("x") is None


def test_complete_ids_is_chunked(store: ResultStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "_CHUNK", 2)
    for i in range(5):
        meta = {"complete": i % 2 == 0}
        store.save(RunRecord(f"r{i}", "c", "2026", meta, pd.DataFrame({"x": [i]})))
    wanted = [f"r{i}" for i in range(7)] + ["r0", "r2"]  # repeats and unknown ids
    assert store.complete_ids(wanted) == {"r0", "r2", "r4"}
    assert store.complete_ids(iter(["r1", "r4"])) == {"r4"}
    assert store.complete_ids([]) == set()
    assert ResultStore(store.path.with_name("none.sqlite")).complete_ids(["r0"]) == set()
    with pytest.raises(WorkbenchError, match="list of run ids"):
        store.complete_ids("r0")
    with pytest.raises(WorkbenchError, match="non-empty string"):
        store.complete_ids(["r0", 7])


def test_save_replaces_a_run_that_is_not_complete(store: ResultStore) -> None:
    for status in ("incomplete", "failed"):
        run_id = f"resume-{status}"
        store.save(make_record(run_id=run_id, status=status))
        store.save(make_record(run_id=run_id, model="second"))  # no overwrite needed
        assert store.status(run_id) == "complete"
        assert store.load(run_id).metadata["model"] == "second"
    store.save(make_record(run_id="flagged", complete=False))
    store.save(make_record(run_id="flagged", model="second"))
    assert store.load("flagged").metadata["model"] == "second"
    # a complete run is kept unless overwrite=True, whatever the new one's status
    with pytest.raises(WorkbenchError, match="already in"):
        store.save(make_record(run_id="flagged", status="failed"))
    assert store.status("flagged") == "complete"
    assert len(store.runs()) == 3


def test_delete(store: ResultStore) -> None:
    store.save(make_record(run_id="gone"))
    store.save(make_record(run_id="stays"))
    store.delete("gone")
    assert not store.has("gone") and store.has("stays")
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT count(*) FROM frames WHERE run_id='gone'").fetchone() == (0,)
    with pytest.raises(WorkbenchError, match="no run 'gone'"):
        store.delete("gone")


def test_store_uses_wal(store: ResultStore) -> None:
    store.save(make_record(run_id="w"))
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def _save_many(path: str, worker: int, count: int, barrier) -> None:
    store = ResultStore(path)
    barrier.wait()
    for i in range(count):
        decisions = pd.DataFrame({"worker": [worker] * 50, "i": range(50), "p": [(0.5, 0.5)] * 50})
        store.save(RunRecord(f"w{worker}-{i:02d}", "conc", "2026", {"seed": i}, decisions))


def test_two_processes_writing_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite")  # created by the racing writers themselves
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_save_many, args=(path, w, 20, barrier)) for w in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0]
    store = ResultStore(path)
    runs = store.runs()
    assert len(runs) == 40
    assert set(runs["run_id"]) == {f"w{w}-{i:02d}" for w in (0, 1) for i in range(20)}
    assert set(runs["n_decisions"]) == {50}
    assert store.load("w1-19").decisions["p"][49] == (0.5, 0.5)


def test_export_csv_and_parquet(store: ResultStore, tmp_path: Path) -> None:
    record = make_record(run_id="exp")
    store.save(record)

    csv = store.export("ex", tmp_path / "out.csv")
    back = pd.read_csv(csv)
    assert list(back.columns) == list(record.decisions.columns)
    assert back["step"].tolist() == [0, 1, 2, 3]
    assert json.loads(back["probs"][0]) == [0.25, 0.75]
    assert json.loads(back["probs"][2]) == [None, 0.5]  # NaN inside JSON is null
    assert json.loads(back["options"][1]) == ["A", "B", "C"]
    assert json.loads(back["extra"][1]) == {"k": [1, 2], "3": [None]}

    parquet = store.export("exp", tmp_path / "out.parquet")
    back = pd.read_parquet(parquet)
    assert list(back.columns) == list(record.decisions.columns)
    assert back["valid"].tolist() == [True, False, True, True]
    assert list(back["probs"][0]) == [0.25, 0.75]  # uniform tuples stay a list column
    assert json.loads(back["extra"][1]) == {"k": [1, 2], "3": [None]}

    summary = pd.read_csv(store.export("exp", tmp_path / "summary.csv", table="summary"))
    assert list(summary.columns) == ["arm", "valid", "n", "mean_p"]

    with pytest.raises(WorkbenchError, match="unknown suffix '.xlsx'"):
        store.export("exp", tmp_path / "out.xlsx")
    with pytest.raises(WorkbenchError, match="does not exist"):
        store.export("exp", tmp_path / "nowhere" / "out.csv")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


# -- the command line --------------------------------------------------------------------


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    results.register(sub)
    args = parser.parse_args(argv)
    return args.handler(args)


def test_cli_list(store: ResultStore, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    missing = tmp_path / "missing.sqlite"
    assert run_cli(["results", "list", "--store", str(missing)]) == 0
    assert capsys.readouterr().out.strip() == f"no runs in {missing}"
    assert not missing.exists()

    store.save(make_record("asch", run_id="asch-1"))
    store.save(make_record("milgram", run_id="milgram-1"))
    assert run_cli(["results", "list", "--store", str(store.path)]) == 0
    out = capsys.readouterr().out
    assert "asch-1" in out and "milgram-1" in out and "local/smollm2-135m" in out
    assert run_cli(["results", "list", "--study", "milgram", "--store", str(store.path)]) == 0
    out = capsys.readouterr().out
    assert "milgram-1" in out and "asch-1" not in out
    assert run_cli(["results", "list", "--study", "zimbardo", "--store", str(store.path)]) == 0
    assert "no runs of study 'zimbardo'" in capsys.readouterr().out

    store.save(make_record("asch", run_id="asch-2", status="failed"))
    assert run_cli(["results", "list", "--store", str(store.path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[-1] == "status"
    status = {line.split()[0]: line.split()[-1] for line in lines[1:]}
    assert status == {"asch-1": "complete", "milgram-1": "complete", "asch-2": "failed"}


def test_cli_list_uses_env_store(
    store: ResultStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    store.save(make_record(run_id="from-env"))
    monkeypatch.setenv("WORKBENCH_STORE", str(store.path))
    assert run_cli(["results", "list"]) == 0
    assert "from-env" in capsys.readouterr().out


def test_cli_show(store: ResultStore, capsys: pytest.CaptureFixture) -> None:
    store.save(make_record(run_id="asch-show-1"))
    assert run_cli(["results", "show", "asch-sh", "--store", str(store.path)]) == 0
    out = capsys.readouterr().out
    assert "run:       asch-show-1" in out
    assert "decisions: 4" in out
    assert '"model": "local/smollm2-135m"' in out
    assert "mean_p" in out
    lines = out.splitlines()
    assert lines.index("status:    complete") < lines.index("metadata:")
    assert not any(line.startswith("error:") for line in lines)

    store.save(make_record(run_id="asch-failed", status="failed", error="rate limited"))
    assert run_cli(["results", "show", "asch-failed", "--store", str(store.path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines.index("status:    failed") < lines.index("error:     rate limited")
    assert lines.index("error:     rate limited") < lines.index("metadata:")


def test_cli_delete(store: ResultStore, capsys: pytest.CaptureFixture) -> None:
    store.save(make_record(run_id="asch-del-1"))
    with pytest.raises(WorkbenchError, match="no run 'asch-del'"):  # the full id only
        run_cli(["results", "delete", "asch-del", "--store", str(store.path)])
    assert run_cli(["results", "delete", "asch-del-1", "--store", str(store.path)]) == 0
    assert "deleted asch-del-1" in capsys.readouterr().out
    assert not store.has("asch-del-1")


def test_cli_export(store: ResultStore, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    store.save(make_record(run_id="asch-exp-1"))
    out = tmp_path / "d.parquet"
    assert run_cli(["results", "export", "asch-exp", str(out), "--store", str(store.path)]) == 0
    assert "wrote decisions" in capsys.readouterr().out
    assert len(pd.read_parquet(out)) == 4


def test_cli_errors(store: ResultStore, tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.sqlite")
    with pytest.raises(WorkbenchError, match="no result store"):
        run_cli(["results", "show", "x", "--store", missing])
    with pytest.raises(WorkbenchError, match="no result store"):
        run_cli(["results", "export", "x", str(tmp_path / "o.csv"), "--store", missing])
    store.save(make_record(run_id="r1"))
    with pytest.raises(WorkbenchError, match="no run 'zz'.*workbench results list"):
        run_cli(["results", "show", "zz", "--store", str(store.path)])
    with pytest.raises(WorkbenchError, match="unknown suffix"):
        run_cli(["results", "export", "r1", str(tmp_path / "o.txt"), "--store", str(store.path)])


def test_cli_main_reports_one_line(
    store: ResultStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """Through ``workbench.cli.main`` once ``results`` is registered there."""
    from workbench import cli, commands

    if results not in commands.COMMANDS:
        monkeypatch.setattr(commands, "COMMANDS", [*commands.COMMANDS, results])
    store.save(make_record(run_id="r1"))
    assert cli.main(["results", "show", "nope", "--store", str(store.path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("workbench: error: no run 'nope'") and err.count("\n") == 1
    assert cli.main(["results", "list", "--store", str(store.path)]) == 0
    assert "r1" in capsys.readouterr().out


def test_not_a_store_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_text("not a database, just notes\n" * 100)
    with pytest.raises(WorkbenchError, match="cannot read result store"):
        ResultStore(path).runs()
