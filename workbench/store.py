"""The result store: completed runs in one SQLite file.

A run is written when it completes, in one transaction, so a store never holds half a run.
Each run is a :class:`RunRecord`: its metadata (config, seed, package versions, model, LLM
accounting), its tidy decisions table (one row per decision) and an optional per-condition
summary table. Tables round-trip exactly: the same columns, index, dtypes and cell values,
including tuples, lists, dicts, ``None`` and ``NaN`` held in object columns.

Several processes may write to one store at once (a sweep over local processes): the
store uses SQLite's write-ahead log, a 30 s busy timeout and ``BEGIN IMMEDIATE``
transactions, so concurrent writers queue rather than fail or lose runs.

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
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import WorkbenchError

__all__ = [
    "ResultStore",
    "RunRecord",
    "default_store_path",
    "new_run_id",
    "utc_now",
]

#: Environment variable naming the default store file.
STORE_ENV = "WORKBENCH_STORE"
#: Store file used when :data:`STORE_ENV` is unset.
DEFAULT_STORE_NAME = "workbench-results.sqlite"
#: Seconds a writer waits for another writer before giving up.
BUSY_TIMEOUT_S = 30.0
_FRAME_FORMAT = 1
_SCHEMA_VERSION = 1
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
"""
_RUN_COLUMNS = ["run_id", "study", "created", "n_decisions", "seed", "model"]


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
    """One completed run, as saved to and loaded from a :class:`ResultStore`.

    Parameters
    ----------
    run_id : str
        Unique id of the run, see :func:`new_run_id`.
    study : str
        Name of the study that produced the run.
    created : str
        ISO 8601 UTC time the run completed.
    metadata : dict
        Config, seed, package versions, model, LLM accounting: any JSON-like values
        (tuples, numpy scalars, NaN and timestamps are kept too).
    decisions : pandas.DataFrame
        Tidy table, one row per decision; columns vary by study.
    summary : pandas.DataFrame or None
        Per-condition table, if the study makes one.
    """

    run_id: str
    study: str
    created: str
    metadata: dict
    decisions: pd.DataFrame
    summary: pd.DataFrame | None = None

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
    """Completed runs in one SQLite file, safe for concurrent writers.

    The constructor only records the path; the file is created by the first
    :meth:`save`. Reading a store that does not exist yet finds no runs.

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
        """Write a whole run in one transaction.

        Parameters
        ----------
        record : RunRecord
            The run to store.
        overwrite : bool, default False
            Replace a stored run with the same id instead of raising.

        Raises
        ------
        WorkbenchError
            If the run id is already stored and ``overwrite`` is false, or the record
            holds a value the store cannot keep exactly. Nothing of the run is stored then.
        """
        _check_record(record)
        metadata = _dumps(_encode(record.metadata, "metadata"))
        frames = {"decisions": _encode_frame(record.decisions, "decisions")}
        if record.summary is not None:
            frames["summary"] = _encode_frame(record.summary, "summary")
        with self._write() as conn:
            exists = conn.execute(
                "SELECT 1 FROM runs WHERE run_id = ?", (record.run_id,)
            ).fetchone()
            if exists and not overwrite:
                raise WorkbenchError(
                    f"run '{record.run_id}' is already in {self.path}; "
                    "pass overwrite=True to replace it or save under a new run id"
                )
            if exists:
                _delete_run(conn, record.run_id)
            conn.execute(
                "INSERT INTO runs (run_id, study, created, n_decisions, metadata) "
                "VALUES (?, ?, ?, ?, ?)",
                (record.run_id, record.study, record.created, len(record.decisions), metadata),
            )
            for name, payload in frames.items():
                _insert_frame(conn, record.run_id, name, payload)

    def delete(self, run_id: str) -> None:
        """Remove a run; ``run_id`` must be the exact id.

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

    # -- reading -------------------------------------------------------------------------

    def has(self, run_id: str) -> bool:
        """Return whether a run with exactly this id is stored."""
        if not self._readable():
            return False
        with self._read() as conn:
            row = conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return row is not None

    def resolve(self, run_id: str) -> str:
        """Return the full id of the run ``run_id`` names exactly or by unique prefix.

        Raises
        ------
        WorkbenchError
            If the store does not exist, no run matches, or the prefix is ambiguous.
        """
        if not self._readable():
            raise WorkbenchError(
                f"no result store at {self.path}; run a study first or pass --store"
            )
        if not run_id:
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
        shown = ", ".join(r[0] for r in rows[:3]) + (", ..." if len(rows) > 3 else "")
        raise WorkbenchError(
            f"run id prefix '{run_id}' matches {len(rows)} runs ({shown}); "
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
            If no run, or more than one, matches.
        """
        full = self.resolve(run_id)
        with self._read() as conn:
            row = conn.execute(
                "SELECT study, created, metadata FROM runs WHERE run_id = ?", (full,)
            ).fetchone()
            frames = dict(
                conn.execute("SELECT name, payload FROM frames WHERE run_id = ?", (full,))
            )
        if row is None or "decisions" not in frames:  # deleted between the two reads
            raise self._unknown(run_id)
        study, created, metadata = row
        summary = frames.get("summary")
        return RunRecord(
            run_id=full,
            study=study,
            created=created,
            metadata=_decode(json.loads(metadata)),
            decisions=_decode_frame(json.loads(frames["decisions"])),
            summary=None if summary is None else _decode_frame(json.loads(summary)),
        )

    def runs(self, study: str | None = None) -> pd.DataFrame:
        """List stored runs, oldest first.

        Parameters
        ----------
        study : str, optional
            Only runs of this study.

        Returns
        -------
        pandas.DataFrame
            Columns ``run_id, study, created, n_decisions, seed, model``; ``seed`` and
            ``model`` come from the metadata (top level, else its ``config``) and are
            ``None`` when absent.
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
            metadata = _decode(json.loads(meta))
            out.append(
                (
                    run_id,
                    run_study,
                    created,
                    n,
                    _meta_field(metadata, "seed"),
                    _meta_field(metadata, "model"),
                )
            )
        frame = pd.DataFrame(out, columns=_RUN_COLUMNS, dtype=object)
        return frame.astype({"run_id": str, "study": str, "created": str, "n_decisions": int})

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
            Unknown run or suffix, a run without a summary, or an unwritable path.
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
            raise WorkbenchError(f"run '{record.run_id}' has no summary table")
        if not isinstance(frame.index, pd.RangeIndex) or frame.index.name is not None:
            frame = frame.reset_index()
        if not out.parent.is_dir():
            raise WorkbenchError(f"cannot export to '{out}': folder '{out.parent}' does not exist")
        tmp = out.with_name(f".{out.name}.{secrets.token_hex(4)}.tmp")
        try:
            if suffix == ".csv":
                _flatten_for_csv(frame).to_csv(tmp, index=False)
            else:
                _flatten_for_parquet(frame).to_parquet(tmp, index=False)
            os.replace(tmp, out)
        except OSError as exc:
            raise WorkbenchError(f"cannot write '{out}': {exc.strerror or exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)
        return out

    # -- internals -----------------------------------------------------------------------

    def _unknown(self, run_id: str) -> WorkbenchError:
        listing = "workbench results list"
        if self.path != default_store_path():
            listing += f" --store {self.path}"
        return WorkbenchError(f"no run '{run_id}' in {self.path}; see '{listing}'")

    def _readable(self) -> bool:
        """Return whether the store file exists and holds the run tables."""
        if not self.path.is_file():
            return False
        with self._read() as conn:
            row = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs'"
            ).fetchone()
        return row is not None

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise WorkbenchError(f"cannot open result store {self.path}: {exc}") from exc
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with closing(self._connect()) as conn:
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
        with closing(self._connect()) as conn:
            try:
                _enable_wal(conn)
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise WorkbenchError(f"cannot write result store {self.path}: {exc}") from exc
            try:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:  # SQLite already rolled back
                    pass
                if isinstance(exc, sqlite3.Error):
                    raise WorkbenchError(f"cannot write result store {self.path}: {exc}") from exc
                raise


# -- SQLite helpers ----------------------------------------------------------------------


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


def _check_record(record: RunRecord) -> None:
    if not isinstance(record, RunRecord):
        raise WorkbenchError(f"can only save a RunRecord, not {type(record).__name__}")
    if not isinstance(record.run_id, str) or not record.run_id:
        raise WorkbenchError("a run needs a non-empty string run_id; use new_run_id(study)")
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
    return json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


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


def _decode(obj: Any) -> Any:
    """Invert :func:`_encode`."""
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
            return pd.Timedelta(body, unit="ns")
        if tag == "__na__":
            return pd.NA
        if tag == "__nat__":
            return pd.NaT
        if tag == "__ndarray__":
            data = [_decode(v) for v in body["data"]]
            return np.array(data, dtype=np.dtype(body["dtype"])).reshape(body["shape"])
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
        return pd.api.types.pandas_dtype(spec)
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
        return pd.MultiIndex(
            levels=[_decode_index(level) for level in spec["levels"]],
            codes=spec["codes"],
            names=[_decode(n) for n in spec["names"]],
            verify_integrity=False,
        )
    values = _decode_values(spec)
    return pd.Index(
        values.array, dtype=values.dtype, name=_decode(spec["name"]), tupleize_cols=False
    )


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
    if spec.get("format") != _FRAME_FORMAT:
        raise WorkbenchError(
            f"stored table has format {spec.get('format')}; upgrade workbench to read it"
        )
    index = _decode_index(spec["index"])
    columns = _decode_index(spec["columns"])
    data = [_decode_values(c) for c in spec["data"]]
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
