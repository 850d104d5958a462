"""Faults of the result store: broken rows, read-only files, leases, unencodable text.

- A row whose metadata or table is not what the store wrote (random text, random JSON,
  a mutated valid payload, a blob) never gives a traceback: ``runs()`` still lists every
  run (the broken one as "unreadable"), and ``load``/``export``/``workbench results``
  give one line naming the store and the run.
- A store in a folder (and a file) the user may not write is still readable. Tests run
  as root, who ignores permissions, so the reads run in a forked child that has dropped
  to the ``nobody`` user first.
- Leases keep two processes from computing one run; a dead owner's lease is taken over.
- Persona and topic files holding a lone surrogate are refused when read.
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from functools import cache
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import workbench.store as store_module
from workbench import cli
from workbench.errors import ConfigError, WorkbenchError
from workbench.store import ResultStore, RunRecord

ROOT = Path(__file__).resolve().parents[1]


def invoke(argv: list[str]) -> tuple[int, str, str]:
    """Run ``workbench argv`` in-process; its exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


def victim_record() -> RunRecord:
    """A run with every kind of cell, index and dtype the encoder writes."""
    decisions = pd.DataFrame(
        {
            "step": [0, 1, 2],
            "member": ["a", None, "c"],
            "probs": [(0.25, 0.75), (1.0, 0.0), (float("nan"), 0.5)],
            "extra": [{"k": (1, 2), 3: [None]}, float("nan"), "text"],
            "count": pd.array([1, None, 3], dtype="Int64"),
            "arm": pd.Categorical(["ctl", "treat", "ctl"]),
            "at": pd.to_datetime(["2026-01-01", None, "2026-01-03"], utc=True),
            "label": pd.array(["x", None, "z"], dtype="string"),
        }
    )
    summary = decisions.groupby(["arm", "step"], observed=True).agg(n=("member", "size"))
    metadata = {
        "seed": 7,
        "model": "local/smollm2-135m",
        "config": {"norms": ("a", "b"), "rate": float("nan")},
        "llm": {"by_step": {0: 1}},
        "when": pd.Timestamp("2026-01-01"),
    }
    return RunRecord("victim-1", "asch", "2026-01-02T00:00:00+00:00", metadata, decisions, summary)


@cache
def valid_store() -> tuple[bytes, dict[str, str]]:
    """The bytes of a store holding the victim and one other run; the victim's texts."""
    with tempfile.TemporaryDirectory() as tmp:
        store = ResultStore(Path(tmp) / "base.sqlite")
        store.save(victim_record())
        other = pd.DataFrame({"x": [1]})
        store.save(RunRecord("other-1", "asch", "2026-01-01T00:00:00+00:00", {}, other))
        with sqlite3.connect(store.path) as conn:
            (metadata,) = conn.execute(
                "SELECT metadata FROM runs WHERE run_id = 'victim-1'"
            ).fetchone()
            texts = dict(conn.execute("SELECT name, payload FROM frames WHERE run_id = 'victim-1'"))
        conn.close()
        texts["metadata"] = metadata
        return store.path.read_bytes(), texts


# -- corrupt rows ------------------------------------------------------------------------

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=10,
)
tags = st.dictionaries(st.sampled_from(store_module._TAGS), json_values, min_size=1, max_size=1)
dtypes = st.sampled_from(
    [
        "int64",
        "float32",
        "object",
        "bool",
        "category",
        "Int64",
        "string",
        "datetime64[ns]",
        "datetime64[ns, UTC]",
        "timedelta64[ns]",
        "complex128",
        "S5",
        "U3",
        "V8",
        "S99999999999",
        "Sparse[float64]",
        "Sparse[S9999999999]",
        "interval[int64, right]",
        "period[D]",
        "bogus",
    ]
)
replacements = json_values | tags | dtypes | st.integers(-(2**70), 2**70)


@st.composite
def mutated(draw: st.DrawFn, value: object) -> object:
    """``value`` with one node replaced, dropped or duplicated, anywhere in the tree."""
    if isinstance(value, dict) and value and draw(st.integers(0, 3)):
        key = draw(st.sampled_from(sorted(value)))
        out = dict(value)
        action = draw(st.sampled_from(["descend", "descend", "drop", "rename"]))
        if action == "drop":
            del out[key]
        elif action == "rename":
            out[draw(text)] = out.pop(key)
        else:
            out[key] = draw(mutated(value[key]))
        return out
    if isinstance(value, list) and value and draw(st.integers(0, 3)):
        i = draw(st.integers(0, len(value) - 1))
        out = list(value)
        action = draw(st.sampled_from(["descend", "descend", "drop", "repeat"]))
        if action == "drop":
            del out[i]
        elif action == "repeat":
            out.insert(i, out[i])
        else:
            out[i] = draw(mutated(value[i]))
        return out
    return draw(similar(value) | replacements)


def similar(value: object) -> st.SearchStrategy:
    """Values of the same JSON type as ``value``: a table that may still decode, oddly."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers(-2, 6) | st.integers()
    if isinstance(value, float):
        return st.floats()
    if isinstance(value, str):
        return text | dtypes
    return st.none()


@st.composite
def corruptions(draw: st.DrawFn) -> tuple[str, object]:
    """Which column of the victim to break, and the value to put there."""
    target = draw(st.sampled_from(["metadata", "decisions", "summary"]))
    valid = valid_store()[1][target]
    kind = draw(st.sampled_from(["mutated", "mutated", "mutated", "text", "json", "cut", "blob"]))
    if kind == "mutated":
        value: object = json.dumps(draw(mutated(json.loads(valid))))
    elif kind == "text":
        value = draw(text)
    elif kind == "json":
        value = json.dumps(draw(json_values | tags))
    elif kind == "cut":
        value = valid[: draw(st.integers(0, len(valid) - 1))]
    else:
        value = draw(st.binary(max_size=40) | st.just(valid.encode()))
    return target, value


def corrupt(path: Path, target: str, value: object) -> None:
    """Write ``value`` into the victim's ``target`` column with plain sqlite3."""
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        if target == "metadata":
            conn.execute("UPDATE runs SET metadata = ? WHERE run_id = 'victim-1'", (value,))
        else:
            conn.execute(
                "UPDATE frames SET payload = ? WHERE run_id = 'victim-1' AND name = ?",
                (value, target),
            )


def assert_one_line(code: int, err: str) -> None:
    assert code in (0, 2), err
    if code == 2:
        assert err.startswith("workbench: error: ") and err.count("\n") == 1, err


@settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    corruption=corruptions(),
    export=st.sampled_from([(".csv", "decisions"), (".parquet", "decisions"), (".csv", "summary")]),
    command=st.sampled_from(["list", "show", "export", "export-summary"]),
)
def test_corrupt_rows_never_traceback(
    corruption: tuple[str, object], export: tuple[str, str], command: str
) -> None:
    target, value = corruption
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "store.sqlite"
        path.write_bytes(valid_store()[0])
        corrupt(path, target, value)
        store = ResultStore(path)

        runs = store.runs().set_index("run_id")  # never raises for a broken row
        assert list(runs.index) == ["other-1", "victim-1"]
        assert runs.loc["other-1", "status"] == "complete"
        if runs.loc["victim-1", "status"] == "unreadable":
            assert runs.loc["victim-1", "seed"] is None and runs.loc["victim-1", "model"] is None

        try:
            store.load("victim")
            event(f"{target}: loads")
        except WorkbenchError as exc:
            message = str(exc)
            assert "\n" not in message and "victim-1" in message and str(path) in message
            event(f"{target}: {'newer' if 'newer' in message else 'unreadable'}")
        suffix, table = export
        try:
            store.export("victim", Path(tmp) / f"out{suffix}", table=table)
        except WorkbenchError as exc:
            assert "\n" not in str(exc) and "victim-1" in str(exc)
        assert not [p for p in Path(tmp).iterdir() if p.name.startswith(".")]  # no temp left

        argv = {
            "list": ["results", "list"],
            "show": ["results", "show", "victim-1"],
            "export": ["results", "export", "victim-1", str(Path(tmp) / "o.parquet")],
            "export-summary": ["results", "export", "vic", str(Path(tmp) / "o.csv"), "--table"],
        }[command]
        if command == "export-summary":
            argv.append("summary")
        code, out, err = invoke([*argv, "--store", str(path)])
        assert_one_line(code, err)
        if command == "list":
            assert code == 0 and "other-1" in out and "victim-1" in out, err


@pytest.mark.parametrize(
    ("target", "value", "reason"),
    [
        ("metadata", "{not json", "unreadable metadata (not JSON"),
        ("metadata", "[1, 2]", "unreadable metadata (JSON list, not an object)"),
        ("metadata", b"\xff\xfe", "unreadable metadata (UnicodeDecodeError"),
        ("metadata", 42, "unreadable metadata (JSON int, not an object)"),  # TEXT affinity
        ("metadata", '{"a": {"__tuple__": 5}}', "unreadable metadata (TypeError"),
        ("metadata", '{"a": {"__ndarray__": {"dtype": "S99", "data": [], "shape": [0]}}}', "S99"),
        ("decisions", '{"format": 1, "index": {"range": [0, 3, 1], "name": null}}', "no field"),
        ("decisions", '{"format": 2}', "in format 2, newer than this workbench"),
        ("decisions", '{"format": "x"}', "unknown table format"),
        ("summary", "null", "unreadable summary table (JSON NoneType, not an object)"),
    ],
)
def test_broken_row_messages(tmp_path: Path, target: str, value: object, reason: str) -> None:
    path = tmp_path / "store.sqlite"
    path.write_bytes(valid_store()[0])
    corrupt(path, target, value)
    store = ResultStore(path)
    with pytest.raises(WorkbenchError) as info:
        store.load("victim-1")
    message = str(info.value)
    assert reason in message and "\n" not in message
    assert message.startswith(f"run 'victim-1' in {path} ")
    if "newer" not in reason:
        assert f"'workbench results delete victim-1 --store {path}'" in message
    with pytest.raises(WorkbenchError, match="victim-1"):
        store.export("victim-1", tmp_path / "out.csv")
    listed = dict(zip(store.runs().run_id, store.runs().status, strict=True))
    assert listed["other-1"] == "complete"
    assert listed["victim-1"] == ("unreadable" if target == "metadata" else "complete")


def test_bad_dtype_and_wrong_lengths_are_broken_rows(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    path.write_bytes(valid_store()[0])
    spec = json.loads(valid_store()[1]["decisions"])
    for change, reason in [
        (lambda s: s["data"][0].update(dtype="bogus"), "TypeError"),
        (lambda s: s["data"][0].update(dtype="S5"), "dtype S5 is not one the store writes"),
        (lambda s: s["data"][0]["values"].pop(), "length differs"),
        (lambda s: s["data"].pop(), "column names for"),
        (lambda s: s["index"].update(range=[0, 2, 1]), "length differs"),
    ]:
        broken = json.loads(json.dumps(spec))
        change(broken)
        corrupt(path, "decisions", json.dumps(broken))
        with pytest.raises(WorkbenchError, match=reason):
            ResultStore(path).load("victim-1")
    # a consistent table with fewer rows than the run records is broken too
    small = json.loads(json.dumps(spec))
    small["index"]["range"] = [0, 2, 1]
    for column in small["data"]:
        column["values"].pop()
    corrupt(path, "decisions", json.dumps(small))
    with pytest.raises(WorkbenchError, match="2 rows where the run records 3"):
        ResultStore(path).load("victim-1")


def test_cli_on_a_broken_run(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    path.write_bytes(valid_store()[0])
    corrupt(path, "metadata", "{")
    code, out, err = invoke(["results", "list", "--store", str(path)])
    assert code == 0
    assert "unreadable" in out and "other-1" in out
    assert f"'workbench results show victim-1 --store {path}'" in err
    code, _, err = invoke(["results", "show", "victim", "--store", str(path)])
    assert code == 2 and err.count("\n") == 1 and "delete it with" in err
    code, out, _ = invoke(["results", "delete", "victim-1", "--store", str(path)])
    assert code == 0 and "deleted victim-1" in out
    assert list(ResultStore(path).runs().run_id) == ["other-1"]


def test_a_broken_run_is_replaced_by_a_new_save(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    path.write_bytes(valid_store()[0])
    corrupt(path, "metadata", "{")
    store = ResultStore(path)
    assert store.status("victim-1") == "unreadable"
    assert store.complete_ids(["victim-1", "other-1"]) == {"other-1"}
    assert store.claim("victim-1")
    store.save(victim_record())  # a resumed sweep redoes it: no overwrite needed
    assert store.status("victim-1") == "complete"
    assert store.load("victim-1").metadata["seed"] == 7


def test_lone_surrogates_round_trip(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "s.sqlite")
    frame = pd.DataFrame({"t": pd.Series(["a\ud800b", "ok"], dtype=object)})  # no str dtype
    store.save(RunRecord("sur", "s", "2026", {"note": "x\udfff"}, frame))
    loaded = store.load("sur")
    assert loaded.metadata == {"note": "x\udfff"}
    pd.testing.assert_frame_equal(loaded.decisions, frame)
    code, out, _ = invoke(["results", "show", "sur", "--store", str(store.path)])
    assert code == 0 and "note" in out
    with pytest.raises(WorkbenchError, match="run_id"):
        store.save(RunRecord("bad\ud800", "s", "2026", {}, frame))
    with pytest.raises(WorkbenchError, match="run study"):
        store.save(RunRecord("ok", "s\ud800", "2026", {}, frame))


# -- read-only stores --------------------------------------------------------------------


def _read_everything(path: str, out_dir: str) -> dict:
    store = ResultStore(path)
    exported = store.export("victim", Path(out_dir) / "victim.csv")
    return {
        "runs": store.runs().run_id.tolist(),
        "status": store.status("victim-1"),
        "complete": sorted(store.complete_ids(["victim-1", "other-1", "x"])),
        "elsewhere": sorted(store.claimed_elsewhere(["victim-1"])),
        "seed": store.load("victim").metadata["seed"],
        "rows": len(pd.read_csv(exported)),
        "has": store.has("other-1"),
    }


def _as_nobody(path: str, out_dir: str, pipe) -> None:
    """In a forked child: drop to ``nobody`` (when root), read, then try to write."""
    try:
        if os.geteuid() == 0:
            os.setgid(65534)
            os.setuid(65534)
        result = {"read": _read_everything(path, out_dir)}
        for name, attempt in [
            ("save", lambda: ResultStore(path).save(victim_record(), overwrite=True)),
            ("claim", lambda: ResultStore(path).claim("new-run")),
        ]:
            try:
                attempt()
                result[name] = "wrote"
            except WorkbenchError as exc:
                result[name] = str(exc)
        pipe.send(result)
    except BaseException as exc:  # report anything to the parent, which fails the test
        pipe.send({"error": f"{type(exc).__name__}: {exc}"})


def test_read_only_folder_and_file_can_be_read() -> None:
    """A store no one may write (0555 folder, 0444 file) lists, loads and exports.

    SQLite cannot create the ``-shm`` file a write-ahead-log reader needs in such a
    folder, so a plain connection fails with ``SQLITE_READONLY_DIRECTORY``; the store must
    fall back to an immutable read. Root ignores permissions, so the reading child drops
    to ``nobody`` first; a non-root user is bound by them already.
    """
    root = Path(tempfile.mkdtemp(prefix="wb-ro-"))  # under /tmp: ``nobody`` can reach it
    try:
        folder, outs = root / "ro", root / "out"
        folder.mkdir()
        outs.mkdir()
        path = folder / "store.sqlite"
        path.write_bytes(valid_store()[0])
        expected = _read_everything(str(path), str(outs))  # warm up: every import done
        assert sorted(p.name for p in folder.iterdir())[0] == "store.sqlite"
        for extra in folder.glob("store.sqlite-*"):  # a clean store, as a writer leaves it
            extra.unlink()
        path.chmod(0o444)
        folder.chmod(0o555)
        root.chmod(0o755)
        outs.chmod(0o777)
        ctx = multiprocessing.get_context("fork")
        receive, send = ctx.Pipe(duplex=False)
        child = ctx.Process(target=_as_nobody, args=(str(path), str(outs), send))
        child.start()
        send.close()
        result = receive.recv()
        child.join()
        assert "error" not in result, result["error"]
        assert result["read"] == expected
        assert expected["runs"] == ["other-1", "victim-1"] and expected["rows"] == 3
        for name in ("save", "claim"):
            assert result[name].startswith(f"cannot write result store {path}: "), result[name]
            assert "check that you may write" in result[name] and "\n" not in result[name]
        assert sorted(p.name for p in folder.iterdir()) == ["store.sqlite"]
    finally:
        for p in (root, *root.rglob("*")):
            p.chmod(0o755 if p.is_dir() else 0o644)
        shutil.rmtree(root)


def test_reads_do_not_write(tmp_path: Path) -> None:
    """Reading never creates, changes or upgrades the file (the connection is read-only)."""
    path = tmp_path / "store.sqlite"
    path.write_bytes(valid_store()[0])
    before = path.read_bytes()
    store = ResultStore(path)
    store.runs()
    store.load("victim")
    store.status("victim-1")
    store.claimed_elsewhere(["victim-1"])
    store.release("victim-1")  # no lease: nothing to write
    assert path.read_bytes() == before
    with contextlib.closing(store._connect_read()) as conn:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("DELETE FROM runs")


# -- old stores --------------------------------------------------------------------------

_V1_SCHEMA = """
CREATE TABLE runs (run_id TEXT PRIMARY KEY, study TEXT NOT NULL, created TEXT NOT NULL,
                   n_decisions INTEGER NOT NULL, metadata TEXT NOT NULL);
CREATE TABLE frames (run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
                     name TEXT NOT NULL, payload TEXT NOT NULL, PRIMARY KEY (run_id, name));
PRAGMA user_version = 1;
"""


def test_a_store_without_leases_reads_as_no_leases(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executescript(_V1_SCHEMA)
        conn.execute(
            "INSERT INTO runs VALUES ('old-1', 'asch', '2025', 0, '{\"seed\": 1}')",
        )
        conn.execute(
            "INSERT INTO frames VALUES ('old-1', 'decisions', ?)",
            (store_module._encode_frame(pd.DataFrame(), "decisions"),),
        )
        conn.commit()
    store = ResultStore(path)
    assert store.claimed_elsewhere(["old-1", "new-1"]) == set()
    store.release("new-1")
    store.heartbeat(["new-1"])
    assert store.runs().status.tolist() == ["complete"]
    with contextlib.closing(sqlite3.connect(path)) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "leases" not in tables  # reading did not upgrade it
    assert store.claim("new-1")  # the first write adds the table
    assert not store.claim("old-1")  # stored complete
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (2,)
        assert conn.execute("SELECT run_id FROM leases").fetchall() == [("new-1",)]


# -- leases ------------------------------------------------------------------------------

CLAIMER = textwrap.dedent(
    """
    import sys
    from workbench.store import ResultStore
    store = ResultStore(sys.argv[1])
    print(store.claim(sys.argv[2]), flush=True)
    sys.stdin.read()  # hold the lease until the parent closes stdin or kills us
    """
)


def test_two_processes_never_hold_one_lease(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "leases.sqlite")
    child = subprocess.Popen(
        [sys.executable, "-c", CLAIMER, str(store.path), "run-a"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert child.stdout.readline().strip() == "True"  # the child holds the lease now
        assert not store.claim("run-a")
        assert store.claimed_elsewhere(["run-a", "run-b"]) == {"run-a"}
        store.release("run-a")  # not ours: the child's lease stays
        assert not store.claim("run-a")
        assert store.claim("run-b")  # another run is free
    finally:
        child.kill()
        child.wait()
    assert store.claimed_elsewhere(["run-a"]) == set()  # its owner is gone
    assert store.claim("run-a")  # taken over
    with contextlib.closing(sqlite3.connect(store.path)) as conn:
        owners = dict(conn.execute("SELECT run_id, owner FROM leases"))
    assert owners["run-a"] == owners["run-b"] == store_module._owner().owner
    host, pid, token = owners["run-a"].split(":")
    assert host == socket.gethostname() and int(pid) == os.getpid() and len(token) == 16


def test_same_owner_release_and_save(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "leases.sqlite")
    assert store.claim("r")
    assert store.claim("r")  # again by the same owner
    assert store.claimed_elsewhere(["r"]) == set()  # our own lease is not elsewhere
    store.release("r")
    store.release("r")  # no error when absent
    store.release("never-claimed")
    assert store.claim("r")
    store.save(RunRecord("r", "s", "2026", {}, pd.DataFrame({"x": [1]})))
    with contextlib.closing(sqlite3.connect(store.path)) as conn:
        assert conn.execute("SELECT count(*) FROM leases").fetchone() == (0,)  # save dropped it
    assert not store.claim("r")  # complete runs cannot be claimed
    store.save(RunRecord("f", "s", "2026", {"status": "failed"}, pd.DataFrame({"x": [1]})))
    assert store.claim("f")  # a failed run can: a resume redoes it


def _write_lease(path: Path, run_id: str, **fields) -> None:
    row = {
        "owner": "elsewhere:1:abc",
        "host": "another-host",
        "pid": 1,
        "claimed": "2026",
        "heartbeat": time.time(),
        "pid_start": None,
        **fields,
    }
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "INSERT OR REPLACE INTO leases (run_id, owner, host, pid, claimed, heartbeat, "
            "pid_start) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (run_id, *row.values()),
        )


def test_stale_leases_are_taken_over(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "leases.sqlite")
    assert store.claim("setup")  # creates the file and the leases table
    host = socket.gethostname()
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()  # reaped: its pid names no process now
    this = store_module._owner()
    cases = {
        "remote-fresh": ({}, False),
        "remote-old": ({"heartbeat": time.time() - store_module.LEASE_TTL_S - 1}, True),
        "remote-future": ({"heartbeat": time.time() + 10 * store_module.LEASE_TTL_S}, True),
        "local-dead": ({"host": host, "pid": exited.pid}, True),
        "local-pid-reused": ({"host": host, "pid": os.getppid(), "pid_start": "boot:0"}, True),
        "local-our-pid": ({"host": host, "pid": this.pid}, True),
        "local-alive": ({"host": host, "pid": os.getppid()}, False),
    }
    for run_id, (fields, _) in cases.items():
        _write_lease(store.path, run_id, **fields)
    live = {run_id for run_id, (_, stale) in cases.items() if not stale}
    assert store.claimed_elsewhere(list(cases)) == live
    for run_id, (_, stale) in cases.items():
        assert store.claim(run_id) is stale, run_id


def test_heartbeat_refreshes_only_our_leases(tmp_path: Path, monkeypatch) -> None:
    store = ResultStore(tmp_path / "leases.sqlite")
    store.heartbeat(["a"])  # no store yet: nothing to do, nothing created
    assert not store.path.exists()
    assert store.claim("a") and store.claim("b")
    _write_lease(store.path, "theirs", heartbeat=1000.0)
    monkeypatch.setattr(store_module.time, "time", lambda: 5000.0)
    store.heartbeat(["a", "theirs", "unknown"])
    with contextlib.closing(sqlite3.connect(store.path)) as conn:
        beats = dict(conn.execute("SELECT run_id, heartbeat FROM leases"))
    assert beats["a"] == 5000.0 and beats["theirs"] == 1000.0 and beats["b"] != 5000.0


def _claim_in_child(path: str, pipe) -> None:
    pipe.send((ResultStore(path).claim("shared"), store_module._owner().owner))


def test_a_forked_child_is_another_owner(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "leases.sqlite")
    assert store.claim("shared")
    mine = store_module._owner().owner
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_claim_in_child, args=(str(store.path), send))
    child.start()
    claimed, owner = receive.recv()
    child.join()
    assert owner != mine and not claimed  # our lease holds against the child


# -- lone surrogates in library files ----------------------------------------------------

RULE = ["--model", "rule:truthful", "--subjects", "1"]


@pytest.fixture
def run_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    import workbench.commands
    from workbench.commands import run as run_command

    if run_command not in workbench.commands.COMMANDS:
        monkeypatch.setattr(
            workbench.commands, "COMMANDS", [*workbench.commands.COMMANDS, run_command]
        )


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ({"personas": [{"name": "bold", "text": "be \ud800 bold"}]}, "field 'text'"),
        ({"personas": [{"name": "b\udfff", "text": "be bold"}]}, "field 'name'"),
        ({"bold": "be \udc80 bold"}, "field 'text'"),
        ([{"name": "b", "text": "t", "tags": ["ok", "x\ud800"]}], "field 'tags'[1]"),
        ([{"name": "b", "text": "t", "d\ud800": 1}], "the key field 'd\\ud800'"),
    ],
)
def test_persona_file_with_a_lone_surrogate(
    tmp_path: Path, run_registered: None, content: object, where: str
) -> None:
    from workbench.society import resolve_persona

    path = tmp_path / "personas.json"
    path.write_text(json.dumps(content), encoding="ascii")  # the escapes, as a user writes them
    code, _, err = invoke(["run", "asch", *RULE, "--persona-file", str(path)])
    assert code == 2 and err.count("\n") == 1, err
    assert f"persona file {path}: persona 1 " in err and where in err
    assert "lone surrogate" in err and "replace the escape" in err
    with pytest.raises(ConfigError, match="lone surrogate"):
        resolve_persona("none", path)


def test_topic_file_with_a_lone_surrogate(tmp_path: Path, run_registered: None) -> None:
    path = tmp_path / "topics.json"
    topics = [
        {"name": "fine", "claim": "Water is wet.", "truth": True},
        {"name": "moon", "claim": "The moon \ud83c is cheese.", "truth": False},
    ]
    path.write_text(json.dumps({"topics": topics}), encoding="ascii")
    code, _, err = invoke(["run", "polarization", "--topic-file", str(path), "--topic", "fine"])
    assert code == 2 and err.count("\n") == 1, err
    assert f"topic file {path}: topic 2 ('moon')" in err and "field 'claim'" in err
    # a surrogate pair is one character, and fine
    topics[1]["claim"] = "The moon \U0001f315 is cheese."
    path.write_text(json.dumps({"topics": topics}), encoding="ascii")
    from workbench.society.opinion import load_topics

    assert load_topics(path)["moon"].claim == "The moon \U0001f315 is cheese."
