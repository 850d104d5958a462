"""The result store: runs in one SQLite file.

A run is written in one transaction, so a store never holds half a run. Each run is a
:class:`RunRecord`: its metadata (config, seed, package versions, model, LLM accounting),
its tidy decisions table (one row per decision) and an optional per-condition summary
table. Tables round-trip exactly: the same columns, index, dtypes and cell values,
including tuples, lists, dicts, ``None`` and ``NaN`` held in object columns.

A run has a status, read from its metadata: ``metadata["status"]`` if present (the values
used are ``"complete"``, ``"incomplete"`` and ``"failed"``), else ``"complete"`` unless
``metadata["complete"]`` is false. A run that is not complete is replaced by the next save
of the same id (a resumed sweep redoes it); a complete one only with ``overwrite=True``.

Several processes may write to one store at once (a sweep over local processes): the
store uses SQLite's write-ahead log, a 30 s busy timeout and ``BEGIN IMMEDIATE``
transactions, so concurrent writers queue rather than fail or lose runs. Concurrent
sweeps take a lease on a run before computing it (:meth:`ResultStore.claim`), so no run is
computed twice; a lease whose process is gone, or whose heartbeat is older than
:data:`LEASE_TTL_S`, is stale and may be taken over.

Reading never writes: a store on a read-only mount, or a file or folder the user may not
write, can be listed, shown and exported. Its reader opens the file read-only and, when
SQLite cannot create the write-ahead log's shared-memory file next to it, as immutable
(then the changes of a writer that is still running or that crashed are not seen). In a
folder it may write, SQLite's reader leaves an empty ``-wal`` and a ``-shm`` file beside
the store; the next writer to close removes them.

Leases live in the ``leases`` table (schema version 2): ``run_id, owner, host, pid,
claimed, heartbeat`` and ``pid_start`` (boot id and start time of the owner's process, to
tell it from a later process given the same pid). A store written by an older version
has no such table until its next write; reading it finds no leases.

A broken row (metadata or a table that is not the JSON the store wrote) never gives a
traceback: :meth:`ResultStore.load` and :meth:`ResultStore.export` raise a one-line
:class:`~workbench.errors.WorkbenchError` naming the store and the run, and
:meth:`ResultStore.runs` lists such a run with status ``"unreadable"``.

Examples
--------
>>> store = ResultStore("results.sqlite")  # doctest: +SKIP
>>> store.save(RunRecord.new("asch", {"seed": 7}, decisions))  # doctest: +SKIP
>>> store.runs()  # doctest: +SKIP
>>> store.load("asch-2026")  # a unique prefix is enough  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import os
import secrets
import socket
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import WorkbenchError

__all__ = [
    "LEASE_TTL_S",
    "UNREADABLE",
    "ResultStore",
    "RunRecord",
    "default_store_path",
    "new_run_id",
    "run_status",
    "utc_now",
]

#: Environment variable naming the default store file.
STORE_ENV = "WORKBENCH_STORE"
#: Store file used when :data:`STORE_ENV` is unset.
DEFAULT_STORE_NAME = "workbench-results.sqlite"
#: Seconds a writer waits for another writer before giving up.
BUSY_TIMEOUT_S = 30.0
#: Seconds after its last heartbeat that a lease is stale, whoever holds it.
LEASE_TTL_S = 600.0
#: Status of a run whose metadata cannot be read (see :meth:`ResultStore.runs`).
UNREADABLE = "unreadable"
_FRAME_FORMAT = 1
_SCHEMA_VERSION = 2  # 2: the leases table
#: Ids per ``IN (...)`` query: below SQLite's oldest limit of 999 bound variables.
_CHUNK = 500
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    study       TEXT NOT NULL,
    created     TEXT NOT NULL,
    n_decisions INTEGER NOT NULL,
    metadata    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_study ON runs (study, created);
CREATE TABLE IF NOT EXISTS frames (
    run_id  TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    name    TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (run_id, name)
);
CREATE TABLE IF NOT EXISTS leases (
    run_id    TEXT PRIMARY KEY,
    owner     TEXT NOT NULL,
    host      TEXT NOT NULL,
    pid       INTEGER NOT NULL,
    claimed   TEXT NOT NULL,
    heartbeat REAL NOT NULL,
    pid_start TEXT
);
"""
_RUN_COLUMNS = ["run_id", "study", "created", "n_decisions", "seed", "model", "status"]


def default_store_path() -> Path:
    """Return the store used when none is given.

    Returns
    -------
    pathlib.Path
        ``$WORKBENCH_STORE`` if set and non-empty, else ``./workbench-results.sqlite``.
    """
    return Path(os.environ.get(STORE_ENV) or DEFAULT_STORE_NAME)


def utc_now() -> str:
    """Return the current UTC time as an ISO 8601 string to the second."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def new_run_id(study: str) -> str:
    """Return a fresh run id: ``<study>-<UTC timestamp>-<6 hex digits>``.

    The random suffix comes from :mod:`secrets`, never from a simulation's RNG, so drawing
    an id does not perturb a seeded run.

    Parameters
    ----------
    study : str
        Name of the study the run belongs to.

    Returns
    -------
    str
        For example ``"asch-20260509T073525Z-3fa9c1"``.
    """
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{study}-{stamp}-{secrets.token_hex(3)}"


@dataclass(frozen=True, eq=False)
class RunRecord:
    """One run, as saved to and loaded from a :class:`ResultStore`.

    Parameters
    ----------
    run_id : str
        Unique id of the run, see :func:`new_run_id`.
    study : str
        Name of the study that produced the run.
    created : str
        ISO 8601 UTC time the run completed (or stopped).
    metadata : dict
        Config, seed, package versions, model, LLM accounting: any JSON-like values
        (tuples, numpy scalars, NaN and timestamps are kept too). Its ``"status"``
        (``"complete"``, ``"incomplete"``, ``"failed"``) or its ``"complete"`` flag give
        the run's status, see :meth:`ResultStore.runs`; an optional ``"error"`` says why
        a run failed.
    decisions : pandas.DataFrame
        Tidy table, one row per decision; columns vary by study.
    summary : pandas.DataFrame or None
        Per-condition table, if the study makes one.
    calls : list of dict or None
        The model calls the run made with their replies, as cassette entries (``key``,
        ``call``, ``response``): exactly what replays the run (see
        :mod:`workbench.bundle`). None or empty for a run that called no model.
    """

    run_id: str
    study: str
    created: str
    metadata: dict
    decisions: pd.DataFrame
    summary: pd.DataFrame | None = None
    calls: list | None = None

    @classmethod
    def new(
        cls,
        study: str,
        metadata: dict,
        decisions: pd.DataFrame,
        summary: pd.DataFrame | None = None,
    ) -> RunRecord:
        """Make a record with a fresh run id, created now.

        Parameters
        ----------
        study : str
            Name of the study.
        metadata : dict
            Run metadata.
        decisions : pandas.DataFrame
            Decisions table.
        summary : pandas.DataFrame or None, optional
            Per-condition table.

        Returns
        -------
        RunRecord
        """
        return cls(new_run_id(study), study, utc_now(), metadata, decisions, summary)

    @property
    def n_decisions(self) -> int:
        """Number of rows of the decisions table."""
        return len(self.decisions)


class ResultStore:
    """Runs in one SQLite file, safe for concurrent writers and readable read-only.

    The constructor only records the path; the file is created by the first write
    (:meth:`save` or :meth:`claim`). Reading a store that does not exist yet finds no
    runs and no leases.

    Parameters
    ----------
    path : str or os.PathLike, optional
        The SQLite file. Default: :func:`default_store_path`.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_store_path()

    def __repr__(self) -> str:
        return f"ResultStore({str(self.path)!r})"

    # -- writing -------------------------------------------------------------------------

    def save(self, record: RunRecord, *, overwrite: bool = False) -> None:
        """Write a whole run in one transaction, and drop any lease on it.

        Parameters
        ----------
        record : RunRecord
            The run to store.
        overwrite : bool, default False
            Replace a stored complete run with the same id instead of raising. A stored
            run whose status is not ``"complete"`` (incomplete, failed, unreadable) is
            always replaced.

        Raises
        ------
        WorkbenchError
            If a complete run with this id is stored and ``overwrite`` is false, or the
            record holds a value the store cannot keep exactly. Nothing of the run is
            stored then.
        """
        _check_record(record)
        metadata = _dumps(_encode(record.metadata, "metadata"))
        frames = {"decisions": _encode_frame(record.decisions, "decisions")}
        if record.summary is not None:
            frames["summary"] = _encode_frame(record.summary, "summary")
        if record.calls:
            frames["calls"] = _encode_calls(record.calls)
        with self._write() as conn:
            stored = conn.execute(
                "SELECT metadata FROM runs WHERE run_id = ?", (record.run_id,)
            ).fetchone()
            if stored and not overwrite and _row_status(stored[0]) == "complete":
                raise WorkbenchError(
                    f"run '{_one_line(record.run_id)}' is already in {self.path}; "
                    "pass overwrite=True to replace it or save under a new run id"
                )
            if stored:
                _delete_run(conn, record.run_id)
            conn.execute(
                "INSERT INTO runs (run_id, study, created, n_decisions, metadata) "
                "VALUES (?, ?, ?, ?, ?)",
                (record.run_id, record.study, record.created, len(record.decisions), metadata),
            )
            for name, payload in frames.items():
                _insert_frame(conn, record.run_id, name, payload)
            conn.execute("DELETE FROM leases WHERE run_id = ?", (record.run_id,))

    def delete(self, run_id: str) -> None:
        """Remove a run (readable or not); ``run_id`` must be the exact id.

        Raises
        ------
        WorkbenchError
            If no run has that id.
        """
        if not self.has(run_id):
            raise self._unknown(run_id)
        with self._write() as conn:
            if not _delete_run(conn, run_id):
                raise self._unknown(run_id)

    # -- leases --------------------------------------------------------------------------

    def claim(self, run_id: str) -> bool:
        """Take the lease on a run before computing it, so no other process computes it.

        In one ``BEGIN IMMEDIATE`` transaction: refuse if the run is stored complete or
        another owner holds a live lease on it; else write (or take over) the lease with
        this process as its owner. The owner is this process, ``host:pid:token`` with a
        token drawn once per process, so a forked or spawned child is another owner.

        A lease is stale, and is taken over, when its heartbeat is older than
        :data:`LEASE_TTL_S`, or when it was taken on this host by a process that is gone
        (no such pid, a zombie, or a pid reused by a later process).

        Parameters
        ----------
        run_id : str
            The exact run id.

        Returns
        -------
        bool
            True if this process now holds the lease (also when it already held it).

        Raises
        ------
        WorkbenchError
            If the store cannot be written (a read-only file or folder).
        """
        _check_id(run_id)
        me = _owner()
        with self._write() as conn:
            stored = conn.execute("SELECT metadata FROM runs WHERE run_id = ?", (run_id,))
            row = stored.fetchone()
            if row is not None and _row_status(row[0]) == "complete":
                return False
            lease = conn.execute(
                "SELECT owner, host, pid, heartbeat, pid_start FROM leases WHERE run_id = ?",
                (run_id,),
            ).fetchone()
            if lease is not None and lease[0] != me.owner and _lease_live(*lease[1:]):
                return False
            conn.execute(
                "INSERT OR REPLACE INTO leases "
                "(run_id, owner, host, pid, claimed, heartbeat, pid_start) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, me.owner, me.host, me.pid, utc_now(), time.time(), me.start),
            )
        return True

    def release(self, run_id: str) -> None:
        """Drop this process's lease on a run; nothing happens if it holds none.

        Parameters
        ----------
        run_id : str
            The exact run id.
        """
        _check_id(run_id)
        owner = _owner().owner
        if not self._has_leases():
            return
        with self._read() as conn:  # most often there is none: no write, so no write error
            sql = "SELECT 1 FROM leases WHERE run_id = ? AND owner = ?"
            if conn.execute(sql, (run_id, owner)).fetchone() is None:
                return
        with self._write() as conn:
            conn.execute("DELETE FROM leases WHERE run_id = ? AND owner = ?", (run_id, owner))

    def heartbeat(self, run_ids: Iterable[str]) -> None:
        """Refresh the heartbeat of this process's leases on ``run_ids``.

        A computation longer than :data:`LEASE_TTL_S` must call this in time, or another
        process may take its runs over. Ids this process holds no lease on are ignored.

        Parameters
        ----------
        run_ids : iterable of str
            Exact run ids.
        """
        ids = _check_ids(run_ids)
        if not ids or not self._has_leases():
            return
        owner, now = _owner().owner, time.time()
        with self._write() as conn:
            for chunk in _chunks(ids):
                conn.execute(
                    f"UPDATE leases SET heartbeat = ? WHERE owner = ? "
                    f"AND run_id IN ({_marks(chunk)})",
                    (now, owner, *chunk),
                )

    def claimed_elsewhere(self, run_ids: Iterable[str]) -> set[str]:
        """Return those of ``run_ids`` with a live lease held by another owner.

        Parameters
        ----------
        run_ids : iterable of str
            Exact run ids.

        Returns
        -------
        set of str
            Empty for a store that does not exist or has no leases table (an old store).
        """
        ids = _check_ids(run_ids)
        if not ids or not self._has_leases():
            return set()
        me = _owner().owner
        rows = self._select_ids(
            "SELECT run_id, owner, host, pid, heartbeat, pid_start FROM leases", ids
        )
        return {r[0] for r in rows if r[1] != me and _lease_live(*r[2:])}

    def _select_ids(self, select: str, ids: list[str]) -> list[tuple]:
        """The rows of ``select`` (a ``SELECT ... FROM table``) whose ``run_id`` is in ``ids``.

        The ids go to SQLite in chunks, below its limit on bound parameters.
        """
        rows: list[tuple] = []
        with self._read() as conn:
            for chunk in _chunks(ids):
                sql = f"{select} WHERE run_id IN ({_marks(chunk)})"
                rows += conn.execute(sql, chunk).fetchall()
        return rows

    # -- reading -------------------------------------------------------------------------

    def has(self, run_id: str) -> bool:
        """Return whether a run with exactly this id is stored (whatever its status)."""
        if not self._readable():
            return False
        with self._read() as conn:
            row = conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return row is not None

    def status(self, run_id: str) -> str | None:
        """Return the status of the run with exactly this id.

        Parameters
        ----------
        run_id : str
            The exact run id.

        Returns
        -------
        str or None
            ``"complete"``, ``"incomplete"``, ``"failed"`` (or another status its
            metadata names), ``"unreadable"`` for broken metadata; None if not stored.
        """
        _check_id(run_id)
        if not self._readable():
            return None
        with self._read() as conn:
            row = conn.execute("SELECT metadata FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else _row_status(row[0])

    def complete_ids(self, run_ids: Iterable[str]) -> set[str]:
        """Return those of ``run_ids`` stored with status ``"complete"``.

        Parameters
        ----------
        run_ids : iterable of str
            Exact run ids.

        Returns
        -------
        set of str
            Unreadable, incomplete and failed runs are not in it.
        """
        ids = _check_ids(run_ids)
        if not ids or not self._readable():
            return set()
        rows = self._select_ids("SELECT run_id, metadata FROM runs", ids)
        return {run_id for run_id, meta in rows if _row_status(meta) == "complete"}

    def resolve(self, run_id: str) -> str:
        """Return the full id of the run ``run_id`` names exactly or by unique prefix.

        Raises
        ------
        WorkbenchError
            If the store does not exist or cannot be read, no run matches, or the prefix
            is ambiguous.
        """
        if not self._readable():
            raise WorkbenchError(
                f"no result store at {self.path}; run a study first or pass --store"
            )
        if not isinstance(run_id, str) or not run_id:
            raise self._unknown(run_id)
        with self._read() as conn:
            if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone():
                return run_id
            rows = conn.execute(
                "SELECT run_id FROM runs WHERE substr(run_id, 1, ?) = ? ORDER BY run_id",
                (len(run_id), run_id),
            ).fetchall()
        if len(rows) == 1:
            return rows[0][0]
        if not rows:
            raise self._unknown(run_id)
        shown = ", ".join(_one_line(r[0]) for r in rows[:3]) + (", ..." if len(rows) > 3 else "")
        raise WorkbenchError(
            f"run id prefix '{_one_line(run_id)}' matches {len(rows)} runs ({shown}); "
            "give more characters of the id"
        )

    def load(self, run_id: str) -> RunRecord:
        """Load a run by its id or a unique prefix of it.

        Parameters
        ----------
        run_id : str
            Full run id, or a prefix matching exactly one stored run.

        Returns
        -------
        RunRecord
            Equal to the saved record: tables with the same columns, index, dtypes and
            values.

        Raises
        ------
        WorkbenchError
            If no run, or more than one, matches, or the run's metadata or a table of it
            cannot be read (the message names the run and how to remove it).
        """
        full = self.resolve(run_id)
        with self._read() as conn:
            row = conn.execute(
                "SELECT study, created, n_decisions, metadata FROM runs WHERE run_id = ?",
                (full,),
            ).fetchone()
            frames = dict(
                conn.execute("SELECT name, payload FROM frames WHERE run_id = ?", (full,))
            )
        if row is None:  # deleted between the two reads
            raise self._unknown(run_id)
        study, created, n_decisions, metadata = row
        if "decisions" not in frames:
            raise self._broken(full, "decisions table", "it is missing")
        if not isinstance(study, str) or not isinstance(created, str):
            raise self._broken(full, "run row", "study or created is not text")
        try:
            meta = _decode_metadata(metadata)
        except _Unreadable as exc:
            raise self._broken(full, "metadata", exc.reason) from None
        tables = {}
        for name in ("decisions", "summary"):
            if name not in frames:
                continue
            try:
                rows = n_decisions if name == "decisions" else None
                tables[name] = _decode_payload(frames[name], rows)
            except _NewerFormat as exc:
                raise WorkbenchError(
                    f"run '{_one_line(full)}' in {self.path} stores its {name} table in "
                    f"format {exc.format}, newer than this workbench reads; upgrade workbench"
                ) from None
            except _Unreadable as exc:
                raise self._broken(full, f"{name} table", exc.reason) from None
        calls = None
        if "calls" in frames:
            try:
                calls = _decode_calls(frames["calls"])
            except _Unreadable as exc:
                raise self._broken(full, "call log", exc.reason) from None
        return RunRecord(
            run_id=full,
            study=study,
            created=created,
            metadata=meta,
            decisions=tables["decisions"],
            summary=tables.get("summary"),
            calls=calls,
        )

    def runs(self, study: str | None = None) -> pd.DataFrame:
        """List stored runs, oldest first.

        A run whose metadata cannot be read is still listed, with ``seed`` and ``model``
        None and status ``"unreadable"``, so one broken row does not hide the others;
        :meth:`load` then says what is wrong with it. (Its tables are not read here: a
        run with a broken table is listed with its own status and fails on :meth:`load`.)

        Parameters
        ----------
        study : str, optional
            Only runs of this study.

        Returns
        -------
        pandas.DataFrame
            Columns ``run_id, study, created, n_decisions, seed, model, status``;
            ``seed`` and ``model`` come from the metadata (top level, else its
            ``config``) and are ``None`` when absent. ``status`` is
            ``metadata["status"]`` if present, else ``"complete"`` when
            ``metadata.get("complete", True)`` is true, else ``"incomplete"``;
            ``"unreadable"`` for broken metadata.
        """
        if not self._readable():
            return pd.DataFrame({c: pd.Series(dtype=object) for c in _RUN_COLUMNS})
        sql = "SELECT run_id, study, created, n_decisions, metadata FROM runs"
        params: tuple[str, ...] = ()
        if study is not None:
            sql += " WHERE study = ?"
            params = (study,)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY created, run_id", params).fetchall()
        out = []
        for run_id, run_study, created, n, meta in rows:
            try:
                if not isinstance(n, int):
                    raise _Unreadable("n_decisions is not an integer")
                metadata = _decode_metadata(meta)
                seed, model = _meta_field(metadata, "seed"), _meta_field(metadata, "model")
                status = run_status(metadata)
            except _Unreadable:
                seed, model, status = None, None, UNREADABLE
            n = n if isinstance(n, int) else 0
            out.append((str(run_id), str(run_study), str(created), n, seed, model, status))
        frame = pd.DataFrame(out, columns=_RUN_COLUMNS, dtype=object)
        return frame.astype(
            {"run_id": str, "study": str, "created": str, "n_decisions": int, "status": str}
        )

    def export(self, run_id: str, path: str | os.PathLike[str], table: str = "decisions") -> Path:
        """Write a run's decisions (or summary) table to CSV or Parquet.

        The format follows the suffix of ``path``: ``.csv`` or ``.parquet``. In CSV,
        non-scalar cells (tuples, lists, dicts) become JSON text; in Parquet, columns of
        uniform lists or tuples stay list columns and other non-scalar cells become JSON
        text. A non-default index is written as ordinary columns.

        Parameters
        ----------
        run_id : str
            Full run id or a unique prefix.
        path : str or os.PathLike
            Output file; replaced atomically if it exists.
        table : {"decisions", "summary"}, default "decisions"
            Which table to write.

        Returns
        -------
        pathlib.Path
            The file written.

        Raises
        ------
        WorkbenchError
            Unknown or unreadable run, unknown suffix, a run without a summary, a table
            the format cannot hold, or an unwritable path. No partial file is left.
        """
        out = Path(path)
        suffix = out.suffix.lower()
        if suffix not in (".csv", ".parquet"):
            raise WorkbenchError(
                f"cannot export to '{out}': unknown suffix '{out.suffix}'; use .csv or .parquet"
            )
        if table not in ("decisions", "summary"):
            raise WorkbenchError(f"unknown table '{table}'; use 'decisions' or 'summary'")
        record = self.load(run_id)
        frame = record.decisions if table == "decisions" else record.summary
        if frame is None:
            raise WorkbenchError(f"run '{_one_line(record.run_id)}' has no summary table")
        if not out.parent.is_dir():
            raise WorkbenchError(f"cannot export to '{out}': folder '{out.parent}' does not exist")
        tmp = out.with_name(f".{out.name}.{secrets.token_hex(4)}.tmp")
        try:
            if not isinstance(frame.index, pd.RangeIndex) or frame.index.name is not None:
                frame = frame.reset_index()
            if suffix == ".csv":
                _flatten_for_csv(frame).to_csv(tmp, index=False)
            else:
                _flatten_for_parquet(frame).to_parquet(tmp, index=False)
            os.replace(tmp, out)
        except OSError as exc:
            raise WorkbenchError(f"cannot write '{out}': {exc.strerror or exc}") from exc
        except Exception as exc:  # a table this format cannot hold (pandas, pyarrow errors)
            other = ".parquet" if suffix == ".csv" else ".csv"
            raise WorkbenchError(
                f"cannot export the {table} table of run '{_one_line(record.run_id)}' to "
                f"'{out}': {_reason(exc)}; try {other}"
            ) from exc
        finally:
            tmp.unlink(missing_ok=True)
        return out

    # -- internals -----------------------------------------------------------------------

    def _listing(self, command: str = "list") -> str:
        listing = f"workbench results {command}"
        if self.path != default_store_path():
            listing += f" --store {self.path}"
        return listing

    def _unknown(self, run_id: Any) -> WorkbenchError:
        shown = _one_line(run_id) if isinstance(run_id, str) else repr(run_id)
        return WorkbenchError(f"no run '{shown}' in {self.path}; see '{self._listing()}'")

    def _broken(self, run_id: str, what: str, reason: str) -> WorkbenchError:
        shown = _one_line(run_id)
        delete = self._listing(f"delete {shown}")
        return WorkbenchError(
            f"run '{shown}' in {self.path} has unreadable {what} ({reason}); "
            f"delete it with '{delete}' and run it again, or restore {self.path} from a backup"
        )

    def _readable(self) -> bool:
        """Return whether the store file exists and holds the run tables."""
        if not self.path.is_file():
            return False
        with self._read() as conn:
            return _has_table(conn, "runs")

    def _has_leases(self) -> bool:
        """Return whether the store file exists and has a leases table."""
        if not self.path.is_file():
            return False
        with self._read() as conn:
            return _has_table(conn, "leases")

    def _connect(self) -> sqlite3.Connection:
        """A read-write connection (it creates the file if need be)."""
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise WorkbenchError(f"cannot open result store {self.path}: {exc}") from exc
        return conn

    def _connect_read(self) -> sqlite3.Connection:
        """A read-only connection: ``mode=ro``, else ``immutable=1`` when ``-shm`` cannot be made.

        A reader of a write-ahead-log store needs its ``-shm`` file; in a folder it may not
        write, with no writer holding the file open, SQLite cannot create it and refuses
        (``SQLITE_READONLY_DIRECTORY`` or ``SQLITE_CANTOPEN``). Then the file cannot be
        changing under us either (nobody may write there, or the writer is gone), so it is
        opened as immutable: no locks, no log. A write-ahead log left behind by a crashed
        writer is not read then.
        """
        uri = self.path.absolute().as_uri()
        failure: sqlite3.Error | None = None
        for query in ("mode=ro", "mode=ro&immutable=1"):
            try:
                conn = sqlite3.connect(
                    f"{uri}?{query}", uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None
                )
            except sqlite3.Error as exc:
                failure = exc
                continue
            try:
                conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                return conn
            except sqlite3.OperationalError as exc:
                conn.close()
                if getattr(exc, "sqlite_errorcode", 0) & 0xFF not in (_SQLITE_READONLY, _CANTOPEN):
                    raise WorkbenchError(f"cannot read result store {self.path}: {exc}") from exc
                failure = exc
            except sqlite3.DatabaseError as exc:  # not a database, malformed
                conn.close()
                raise WorkbenchError(
                    f"cannot read result store {self.path}: {exc}; "
                    "is it a workbench result store? pass --store with the right file"
                ) from exc
        raise WorkbenchError(
            f"cannot open result store {self.path} for reading: {failure}; "
            "check that the file and its folder are readable"
        )

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with closing(self._connect_read()) as conn:
            try:
                yield conn
            except sqlite3.DatabaseError as exc:
                raise WorkbenchError(f"cannot read result store {self.path}: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """Yield a connection inside ``BEGIN IMMEDIATE``; commit, or roll back on any error."""
        if not self.path.parent.is_dir():
            raise WorkbenchError(
                f"cannot create result store {self.path}: folder '{self.path.parent}' "
                "does not exist"
            )
        cannot = (
            f"cannot write result store {self.path}: {{}}; check that you may write the "
            "file and its folder, or pass --store with another file"
        )
        with closing(self._connect()) as conn:
            try:
                _enable_wal(conn)
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise WorkbenchError(cannot.format(exc)) from exc
            try:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                (version,) = conn.execute("PRAGMA user_version").fetchone()
                if version < _SCHEMA_VERSION:
                    conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:  # SQLite already rolled back
                    pass
                if isinstance(exc, sqlite3.Error):
                    raise WorkbenchError(cannot.format(exc)) from exc
                raise


# -- SQLite helpers ----------------------------------------------------------------------

_SQLITE_READONLY = 8
_CANTOPEN = 14


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return row is not None


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch to write-ahead logging, waiting out writers that hold the file."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL").fetchone()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _insert_frame(conn: sqlite3.Connection, run_id: str, name: str, payload: str) -> None:
    conn.execute(
        "INSERT INTO frames (run_id, name, payload) VALUES (?, ?, ?)", (run_id, name, payload)
    )


def _delete_run(conn: sqlite3.Connection, run_id: str) -> bool:
    conn.execute("DELETE FROM frames WHERE run_id = ?", (run_id,))
    return conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,)).rowcount > 0


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def _marks(chunk: list[str]) -> str:
    return ", ".join("?" * len(chunk))


def _text_ok(text: str) -> bool:
    """Whether SQLite can store ``text`` (no lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_id(run_id: Any) -> None:
    if not isinstance(run_id, str) or not run_id or not _text_ok(run_id):
        raise WorkbenchError(
            f"a run id must be a non-empty string of text, not {run_id!r}; use new_run_id(study)"
        )


def _check_ids(run_ids: Iterable[str]) -> list[str]:
    if isinstance(run_ids, str):
        raise WorkbenchError(
            f"pass a list of run ids, not the single string {_one_line(run_ids)!r}"
        )
    try:
        ids = list(dict.fromkeys(run_ids))
    except TypeError as exc:
        raise WorkbenchError(f"run ids must be an iterable of strings: {exc}") from None
    for run_id in ids:
        _check_id(run_id)
    return ids


def _check_record(record: RunRecord) -> None:
    if not isinstance(record, RunRecord):
        raise WorkbenchError(f"can only save a RunRecord, not {type(record).__name__}")
    if not isinstance(record.run_id, str) or not record.run_id or not _text_ok(record.run_id):
        raise WorkbenchError("a run needs a non-empty string run_id; use new_run_id(study)")
    for field in ("study", "created"):
        value = getattr(record, field)
        if not isinstance(value, str) or not _text_ok(value):
            raise WorkbenchError(
                f"run {field} must be a string of text (no lone surrogates), not {value!r}"
            )
    if not isinstance(record.metadata, dict):
        raise WorkbenchError(f"run metadata must be a dict, not {type(record.metadata).__name__}")
    if not isinstance(record.decisions, pd.DataFrame):
        raise WorkbenchError("run decisions must be a pandas DataFrame")
    if record.summary is not None and not isinstance(record.summary, pd.DataFrame):
        raise WorkbenchError("run summary must be a pandas DataFrame or None")


def _meta_field(metadata: dict, key: str) -> Any:
    if key in metadata:
        return metadata[key]
    config = metadata.get("config")
    if isinstance(config, dict):
        return config.get(key)
    return None


def run_status(metadata: dict) -> str:
    """Return a run's status from its metadata.

    Parameters
    ----------
    metadata : dict
        A run's metadata.

    Returns
    -------
    str
        ``metadata["status"]`` if present (``"unreadable"`` if that is not a non-empty
        string), else ``"complete"`` when ``metadata.get("complete", True)`` is true,
        else ``"incomplete"``.
    """
    if "status" in metadata:
        status = metadata["status"]
        return status if isinstance(status, str) and status else UNREADABLE
    try:
        complete = bool(metadata.get("complete", True))
    except Exception:  # an NA or an array: completeness not established
        complete = False
    return "complete" if complete else "incomplete"


def _row_status(text: Any) -> str:
    """The status of a stored run from its metadata column."""
    try:
        return run_status(_decode_metadata(text))
    except _Unreadable:
        return UNREADABLE


# -- leases ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Owner:
    owner: str
    host: str
    pid: int
    start: str | None


_me: _Owner | None = None


def _owner() -> _Owner:
    """This process as a lease owner; a new one in a forked child (its pid differs)."""
    global _me
    if _me is None or _me.pid != os.getpid():
        host, pid = socket.gethostname(), os.getpid()
        _me = _Owner(f"{host}:{pid}:{secrets.token_hex(8)}", host, pid, _process_start(pid))
    return _me


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """``(state, start time in clock ticks since boot)`` of a process, from /proc."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()  # the name may hold spaces and parens
    return (fields[0], fields[19]) if len(fields) > 19 else None


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return ""


def _process_start(pid: int) -> str | None:
    """What tells this process from a later one with the same pid: boot id and start time."""
    stat = _proc_stat(pid)
    return None if stat is None else f"{_boot_id()}:{stat[1]}"


def _process_alive(pid: Any, start: Any) -> bool:
    """Whether the process that took a lease on this host still runs."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    if os.name == "nt":  # os.kill would terminate it: rely on the heartbeat
        return True
    if pid == os.getpid():  # this process, but another owner: an earlier process's pid
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        pass
    except (OSError, OverflowError):
        return False
    stat = _proc_stat(pid)
    if stat is None:
        return True  # no /proc (macOS): the pid is alive, trust it
    if stat[0] in ("Z", "X"):  # exited, not yet reaped
        return False
    return start is None or start == f"{_boot_id()}:{stat[1]}"


def _lease_live(host: Any, pid: Any, heartbeat: Any, start: Any) -> bool:
    """Whether a lease still holds: a fresh heartbeat and, on this host, a live owner."""
    if not isinstance(heartbeat, int | float) or not math.isfinite(heartbeat):
        return False
    if abs(time.time() - heartbeat) > LEASE_TTL_S:
        return False
    if host != socket.gethostname():
        return True
    return _process_alive(pid, start)


# -- reading stored rows -----------------------------------------------------------------


class _Unreadable(Exception):
    """A stored value is not what the store writes; ``reason`` says how, in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _NewerFormat(Exception):
    """A stored table in a format newer than this code reads."""

    def __init__(self, version: int) -> None:
        super().__init__(version)
        self.format = version


def _one_line(text: str, limit: int = 200) -> str:
    """``text`` on one printable line, cut to ``limit`` characters."""
    flat = "".join(
        c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode("ascii")
        for c in text[: limit + 1]
    )
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _reason(exc: BaseException) -> str:
    """One short line saying what a decoding error was."""
    if isinstance(exc, _Unreadable):
        return _one_line(exc.reason, 120)
    if isinstance(exc, KeyError) and exc.args:
        return f"no field {_one_line(repr(exc.args[0]), 60)}"
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    message = " ".join(str(exc).split())
    return _one_line(f"{type(exc).__name__}: {message}" if message else type(exc).__name__, 120)


def _load_json(text: Any) -> Any:
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if not isinstance(text, str):
        raise _Unreadable(f"a stored {type(text).__name__}, not JSON text")
    return json.loads(text)


def _decode_metadata(text: Any) -> dict:
    """Stored metadata text as the dict it was; :class:`_Unreadable` if it is not one."""
    try:
        metadata = _decode(_load_json(text))
    except Exception as exc:  # JSON, tags, types: all mean a broken row
        raise _Unreadable(_reason(exc)) from None
    if not isinstance(metadata, dict):
        raise _Unreadable(f"JSON {type(metadata).__name__}, not an object")
    return metadata


def _decode_payload(text: Any, rows: Any = None) -> pd.DataFrame:
    """A stored table; :class:`_Unreadable` (or :class:`_NewerFormat`) if it is not one.

    ``rows``, when given, is the row count the run row records (the decisions table).
    """
    try:
        spec = _load_json(text)
        if isinstance(spec, dict):
            version = spec.get("format")
            if isinstance(version, int) and not isinstance(version, bool):
                if version > _FRAME_FORMAT:
                    raise _NewerFormat(version)
        frame = _decode_frame(spec)
    except _NewerFormat:
        raise
    except Exception as exc:
        raise _Unreadable(_reason(exc)) from None
    if rows is not None and len(frame) != rows:
        raise _Unreadable(f"{len(frame)} rows where the run records {rows}")
    return frame


# -- the call log ------------------------------------------------------------------------


def _encode_calls(calls: list) -> str:
    """The run's calls as cassette JSON lines (secrets redacted), sorted by key."""
    from workbench.llm.cassette import redact_value

    lines = []
    for entry in sorted(calls, key=lambda e: e["key"]):
        clean = {k: (v if k == "key" else redact_value(v)) for k, v in entry.items()}
        lines.append(json.dumps(clean, sort_keys=True, ensure_ascii=False, allow_nan=False))
    return "\n".join(lines)


def _decode_calls(payload: Any) -> list:
    """Invert :func:`_encode_calls`, checking every entry as a cassette line."""
    from workbench.llm.cassette import _BadLine, _parse_line

    if not isinstance(payload, str):
        raise _Unreadable("it is not text")
    calls = []
    for number, line in enumerate(payload.split("\n"), 1):
        try:
            entry = _parse_line(line.encode("utf-8", "surrogatepass"))
        except _BadLine as exc:
            raise _Unreadable(f"line {number} {' '.join(str(exc).split())}") from None
        if entry is not None:
            calls.append(entry)
    return calls


# -- exact JSON encoding of values -------------------------------------------------------
#
# Plain JSON keeps str, int, bool, finite float, None, lists and str-keyed dicts. Anything
# else is a one-key dict tagged with one of the keys below, so it decodes to its own type.

_TAGS = (
    "__tuple__",
    "__dict__",
    "__float__",
    "__ndarray__",
    "__timestamp__",
    "__timedelta__",
    "__na__",
    "__nat__",
)


def _dumps(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    if not _text_ok(text):  # a lone surrogate: SQLite takes no such text, JSON escapes it
        text = json.dumps(obj, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return text


def _encode(value: Any, where: str) -> Any:
    """Turn ``value`` into strict JSON data that :func:`_decode` turns back into it."""
    if value is None or isinstance(value, str | bool):
        return str(value) if isinstance(value, np.str_) else value
    if isinstance(value, int | np.integer) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else {"__float__": repr(f)}
    if isinstance(value, list):
        return [_encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and not (len(value) == 1 and _is_tag(value)):
            return {k: _encode(v, f"{where}[{k!r}]") for k, v in value.items()}
        return {
            "__dict__": [
                [_encode(k, f"{where} key"), _encode(v, f"{where}[{k!r}]")]
                for k, v in value.items()
            ]
        }
    if value is pd.NaT:
        return {"__nat__": True}
    if value is pd.NA:
        return {"__na__": True}
    if isinstance(value, _dt.datetime):
        return {"__timestamp__": pd.Timestamp(value).isoformat()}
    if isinstance(value, _dt.timedelta):
        return {"__timedelta__": int(pd.Timedelta(value).value)}
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return {
            "__ndarray__": {
                "dtype": value.dtype.str,
                "shape": list(value.shape),
                "data": [_encode(v, where) for v in value.ravel().tolist()],
            }
        }
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encode(dataclasses.asdict(value), where)
    raise WorkbenchError(
        f"cannot store {where}: values of type {type(value).__name__} are not supported; "
        "convert them to str, numbers, lists, tuples or dicts first"
    )


def _is_tag(obj: dict) -> bool:
    return next(iter(obj)) in _TAGS


#: numpy dtype kinds a stored array or column may have (no fixed-width text: a dtype
#: string such as ``S99999999999`` in a broken row must not allocate gigabytes).
_ARRAY_KINDS = "biuf"
_COLUMN_KINDS = "biufcmMO"


def _decode(obj: Any) -> Any:
    """Invert :func:`_encode`; a malformed tag body raises (KeyError, TypeError, ...)."""
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if len(obj) == 1 and _is_tag(obj):
        ((tag, body),) = obj.items()
        if tag == "__tuple__":
            return tuple(_decode(v) for v in body)
        if tag == "__dict__":
            return {_decode(k): _decode(v) for k, v in body}
        if tag == "__float__":
            return float(body)
        if tag == "__timestamp__":
            return pd.Timestamp(body)
        if tag == "__timedelta__":
            if type(body) is not int:
                raise _Unreadable("a timedelta that is not a count of nanoseconds")
            return pd.Timedelta(body, unit="ns")
        if tag == "__na__":
            return pd.NA
        if tag == "__nat__":
            return pd.NaT
        if tag == "__ndarray__":
            dtype = np.dtype(body["dtype"])
            if dtype.kind not in _ARRAY_KINDS:
                raise _Unreadable(f"array dtype {dtype} is not one the store writes")
            data = [_decode(v) for v in body["data"]]
            return np.array(data, dtype=dtype).reshape(body["shape"])
    return {k: _decode(v) for k, v in obj.items()}


# -- exact encoding of DataFrames --------------------------------------------------------


def _encode_dtype(dtype: Any, where: str) -> Any:
    if isinstance(dtype, pd.CategoricalDtype):
        return {
            "category": {
                "categories": _encode_index(dtype.categories, where),
                "ordered": bool(dtype.ordered),
            }
        }
    if isinstance(dtype, pd.StringDtype):
        na = "nan" if isinstance(dtype.na_value, float) else "NA"
        return {"string": {"storage": dtype.storage, "na": na}}
    name = str(dtype)
    try:
        same = pd.api.types.pandas_dtype(name) == dtype
    except TypeError:
        same = False
    if not same:
        raise WorkbenchError(
            f"cannot store {where}: dtype {name} does not round-trip; "
            "convert the column with .astype(object) first"
        )
    return name


def _decode_dtype(spec: Any) -> Any:
    if isinstance(spec, str):
        dtype = pd.api.types.pandas_dtype(spec)
        inner = getattr(dtype, "subtype", dtype)  # sparse and interval dtypes wrap one
        for d in (dtype, inner):
            if isinstance(d, np.dtype) and d.kind not in _COLUMN_KINDS:
                raise _Unreadable(f"dtype {spec} is not one the store writes")
        return dtype
    if "category" in spec:
        body = spec["category"]
        return pd.CategoricalDtype(_decode_index(body["categories"]), ordered=body["ordered"])
    body = spec["string"]
    return pd.StringDtype(body["storage"], na_value=np.nan if body["na"] == "nan" else pd.NA)


def _encode_values(values: Any, dtype: Any, where: str) -> dict:
    return {
        "dtype": _encode_dtype(dtype, where),
        "values": [_encode(v, f"{where}[{i}]") for i, v in enumerate(values)],
    }


def _decode_values(spec: dict) -> pd.Series:
    if not isinstance(spec["values"], list):
        raise _Unreadable("values are not a list")
    decoded = [_decode(v) for v in spec["values"]]
    cells = np.empty(len(decoded), dtype=object)
    for i, v in enumerate(decoded):  # item by item, so list cells stay lists
        cells[i] = v
    series = pd.Series(cells, dtype=object)
    dtype = _decode_dtype(spec["dtype"])
    return series if dtype == np.dtype(object) else series.astype(dtype)


def _encode_index(index: pd.Index, where: str) -> dict:
    if type(index) is pd.RangeIndex:
        return {
            "range": [index.start, index.stop, index.step],
            "name": _encode(index.name, where),
        }
    if isinstance(index, pd.MultiIndex):  # levels and codes, so NaN levels stay as they are
        return {
            "names": [_encode(n, where) for n in index.names],
            "levels": [_encode_index(level, f"{where} level") for level in index.levels],
            "codes": [codes.tolist() for codes in index.codes],
        }
    return {
        "name": _encode(index.name, where),
        **_encode_values(index.tolist(), index.dtype, where),
    }


def _decode_index(spec: dict) -> pd.Index:
    if "range" in spec:
        return pd.RangeIndex(*spec["range"], name=_decode(spec["name"]))
    if "codes" in spec:
        levels = [_decode_index(level) for level in spec["levels"]]
        codes, names = spec["codes"], [_decode(n) for n in spec["names"]]
        _check_codes(levels, codes, names)
        return pd.MultiIndex(levels=levels, codes=codes, names=names, verify_integrity=False)
    values = _decode_values(spec)
    return pd.Index(
        values.array, dtype=values.dtype, name=_decode(spec["name"]), tupleize_cols=False
    )


def _check_codes(levels: list, codes: Any, names: list) -> None:
    """The checks ``verify_integrity`` would make, but NaN levels are fine."""
    if not isinstance(codes, list) or len(codes) != len(levels) or len(names) != len(levels):
        raise _Unreadable("a multi-index needs as many codes and names as levels")
    lengths = set()
    for level, level_codes in zip(levels, codes, strict=True):
        if not isinstance(level_codes, list):
            raise _Unreadable("multi-index codes are not lists")
        for code in level_codes:
            if type(code) is not int or not -1 <= code < len(level):
                raise _Unreadable(f"multi-index code {code!r} is out of range")
        lengths.add(len(level_codes))
    if len(lengths) > 1:
        raise _Unreadable("multi-index codes differ in length")


def _encode_frame(frame: pd.DataFrame, where: str) -> str:
    columns = []
    for i in range(frame.shape[1]):
        column = frame.iloc[:, i]
        columns.append(
            _encode_values(column.tolist(), column.dtype, f"{where} column {frame.columns[i]!r}")
        )
    return _dumps(
        {
            "format": _FRAME_FORMAT,
            "index": _encode_index(frame.index, f"{where} index"),
            "columns": _encode_index(frame.columns, f"{where} columns"),
            "data": columns,
        }
    )


def _decode_frame(spec: dict) -> pd.DataFrame:
    """Invert :func:`_encode_frame`; a malformed spec raises (KeyError, ValueError, ...)."""
    if not isinstance(spec, dict):
        raise _Unreadable(f"JSON {type(spec).__name__}, not an object")
    if spec.get("format") != _FRAME_FORMAT:
        raise _Unreadable(f"unknown table format {_one_line(repr(spec.get('format')), 40)}")
    index = _decode_index(spec["index"])
    columns = _decode_index(spec["columns"])
    if not isinstance(spec["data"], list):
        raise _Unreadable("data is not a list")
    data = [_decode_values(c) for c in spec["data"]]
    if len(columns) != len(data):
        raise _Unreadable(f"{len(columns)} column names for {len(data)} columns")
    if any(len(column) != len(index) for column in data):
        raise _Unreadable(f"a column's length differs from the index's ({len(index)})")
    if not data:
        return pd.DataFrame(index=index, columns=columns)
    frame = pd.DataFrame(dict(enumerate(data)))
    frame.index = index
    frame.columns = columns
    return frame


# -- export ------------------------------------------------------------------------------


def _plain_json(value: Any) -> Any:
    """JSON data for export: tuples become arrays, NaN becomes null, keys become text."""
    if isinstance(value, dict):
        return {str(k): _plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain_json(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, _dt.datetime | _dt.timedelta):
        return str(value)
    return value


def _is_nonscalar(value: Any) -> bool:
    return isinstance(value, list | tuple | dict | np.ndarray)


def _to_json_text(value: Any) -> Any:
    if _is_nonscalar(value):
        return json.dumps(_plain_json(value), ensure_ascii=False, default=str)
    return value


def _flatten_for_csv(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for i in range(out.shape[1]):
        column = out.iloc[:, i]
        if column.dtype == object and column.map(_is_nonscalar).any():
            out.isetitem(i, column.map(_to_json_text).astype(object))
    return out


def _flatten_for_parquet(frame: pd.DataFrame) -> pd.DataFrame:
    import pyarrow as pa

    out = frame.copy()
    out.columns = [str(c) for c in out.columns]
    for i in range(out.shape[1]):
        column = out.iloc[:, i]
        if column.dtype != object:
            continue
        cells = column.tolist()
        if all(isinstance(v, list | tuple) or v is None for v in cells):
            lists = [None if v is None else list(v) for v in cells]
            try:
                pa.array(lists)
                out.isetitem(i, pd.Series(lists, index=out.index, dtype=object))
                continue
            except (pa.ArrowException, TypeError, ValueError):
                pass
        if any(_is_nonscalar(v) for v in cells):
            out.isetitem(i, column.map(_to_json_text).astype(object))
            continue
        try:
            pa.array(cells, from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError):  # mixed scalars: keep as text
            out.isetitem(i, column.map(lambda v: v if v is None else str(v)).astype(object))
    return out
