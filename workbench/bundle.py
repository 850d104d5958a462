"""Replication bundles: one archive that rebuilds a run's tables with no key and no model.

:func:`pack` writes stored runs into one ``.tar.gz``:

``manifest.json``
    the bundle's format and version, the runs it holds and the sha256 of every other file;
``runs.json``
    per run: study, seed, config, status, package versions, Python, and each model with
    the sha256 of its weights where the workbench knows them (``local/`` models);
``store.sqlite``
    a result store holding exactly those runs: their metadata and decisions and summary
    tables, as stored;
``calls.jsonl``
    a cassette of exactly the model calls the runs made, with their replies.

:func:`replay` checks every sha256, runs each study again from its config and seed with
the cassette in ``replay`` mode (so no model is loaded or called, and none need be
cached), and compares the tables it gets with the stored ones, value for value. It says
that they are identical, or names the first row and column that differ.

Secrets never enter a bundle: the store and the cassette hold no keys (requests carry
only model, messages and sampling parameters, and both are redacted when written), and
every text file is checked against the credentials in the environment before it is
packed. A bundle of a newer format than this workbench reads is refused in one line,
before anything of it is used.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import tarfile
import tempfile
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.errors import ConfigError, WorkbenchError

__all__ = ["BUNDLE_FORMAT", "BUNDLE_VERSION", "Comparison", "pack", "replay"]

BUNDLE_FORMAT = "workbench-bundle"
BUNDLE_VERSION = 1
_FILES = ("runs.json", "store.sqlite", "calls.jsonl")
_MAX_MEMBER = 2 * 2**30  # bytes; a bundle member larger than this is not one of ours


def pack(store: Any, run_ids: Sequence[str], path: str | os.PathLike[str]) -> Path:
    """Write the stored runs ``run_ids`` (ids or unique prefixes) into a bundle at ``path``.

    Parameters
    ----------
    store : ResultStore
        Where the runs are.
    run_ids : sequence of str
        The runs to pack (a sweep's or a design's runs together, if you like).
    path : path
        The archive to write (``.tar.gz``); replaced atomically.

    Returns
    -------
    pathlib.Path
        The archive written.

    Raises
    ------
    WorkbenchError
        For an unknown run, a run that did not complete all its units, a model run stored
        without its calls, a credential found in what would be packed, or an unwritable
        path.
    """
    from workbench.llm.cassette import Cassette, secrets_in_environment
    from workbench.store import ResultStore

    if not run_ids:
        raise ConfigError("name at least one run to pack (see 'workbench results list')")
    out = Path(path)
    from workbench.society.persons import is_rule

    records = []
    for run_id in dict.fromkeys(store.resolve(r) for r in run_ids):
        record = store.load(run_id)
        status = record.metadata.get("status", "complete")
        if status == "incomplete":
            raise WorkbenchError(
                f"run {record.run_id} is incomplete ({record.metadata.get('error')}); only "
                "runs whose units all finished replay: run it again, then pack it"
            )
        models = [m for m in record.metadata.get("models", []) if not is_rule(m)]
        if models and not record.calls:
            raise WorkbenchError(
                f"run {record.run_id} was stored without its model calls (by an older "
                "workbench); run it again to pack it"
            )
        records.append(record)
    with tempfile.TemporaryDirectory(prefix="workbench-pack-") as tmp:
        folder = Path(tmp)
        bundle_store = ResultStore(folder / "store.sqlite")
        cassette = Cassette(folder / "calls.jsonl", "record")
        for record in records:
            bundle_store.save(record)
            for entry in record.calls or []:
                cassette.put(
                    entry["key"], entry["call"], entry["response"], valid=not entry.get("invalid")
                )
        cassette.save()
        (folder / "calls.jsonl").touch()
        _checkpoint(folder / "store.sqlite")
        runs = [_describe(record) for record in records]
        _write_json(folder / "runs.json", runs)
        for name in ("runs.json", "calls.jsonl"):
            text = (folder / name).read_text("utf-8", errors="replace")
            if any(secret in text for secret in secrets_in_environment()):
                raise WorkbenchError(
                    f"a credential from the environment is in the bundle's {name}; nothing "
                    "was written (remove it from the persona, norm or topic text)"
                )
        manifest = {
            "format": BUNDLE_FORMAT,
            "version": BUNDLE_VERSION,
            "runs": [r.run_id for r in records],
            "files": {name: _sha256(folder / name) for name in _FILES},
        }
        _write_json(folder / "manifest.json", manifest)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            partial = out.with_name(f".{out.name}.{os.getpid()}.tmp")
            with tarfile.open(partial, "w:gz") as archive:
                for name in ("manifest.json", *_FILES):
                    _add(archive, folder / name, name)
            os.replace(partial, out)
        except OSError as exc:
            raise WorkbenchError(f"cannot write bundle {out} ({exc.strerror or exc})") from None
    return out


@dataclass(frozen=True)
class Comparison:
    """How one replayed run compares with its stored tables.

    Attributes
    ----------
    run_id : str
        The stored run.
    identical : bool
        Whether the decisions and summary tables came out the same, value for value.
    rows : int
        Decisions compared.
    difference : str or None
        The first difference: table, row and column with both values.
    """

    run_id: str
    identical: bool
    rows: int
    difference: str | None = None


def replay(path: str | os.PathLike[str]) -> list[Comparison]:
    """Rebuild every run of the bundle at ``path`` offline and compare it with the stored one.

    Returns
    -------
    list of Comparison
        One per run, in the bundle's order.

    Raises
    ------
    WorkbenchError
        For a file that is not a bundle, a bundle of a newer format, a file whose sha256
        does not match the manifest, or a run whose study this workbench does not have.
    """
    from workbench.llm import Gateway, GatewayConfig
    from workbench.store import ResultStore
    from workbench.studies import StudyFailed, get_study

    source = Path(path)
    with tempfile.TemporaryDirectory(prefix="workbench-replay-") as tmp:
        folder = Path(tmp)
        manifest = _unpack(source, folder)
        store = ResultStore(folder / "store.sqlite")
        comparisons = []
        for run_id in manifest["runs"]:
            record = store.load(run_id)
            study_cls = get_study(record.study)
            config = config_from_dict(study_cls.Config, record.metadata.get("config", {}))
            study = study_cls(config, seed=record.metadata["seed"])
            gateway = Gateway(
                GatewayConfig(cassette=str(folder / "calls.jsonl"), cassette_mode="replay")
            )
            try:
                result = study.run(gateway, max_invalid=1.0)
            except StudyFailed as failed:  # the stored run may have failed the same way
                result = failed.result
            finally:
                gateway.close()
            comparisons.append(_compare(record, result))
        return comparisons


def config_from_dict(config_cls: type, data: dict[str, Any]) -> Any:
    """A study config rebuilt from its stored plain form (lists back to tuples).

    Raises
    ------
    WorkbenchError
        When the stored config has fields this workbench's config does not.
    """
    hints = typing.get_type_hints(config_cls)
    names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise WorkbenchError(
            f"the stored {config_cls.__name__} has fields this workbench does not know "
            f"({', '.join(unknown)}); replay it with the workbench version that made it"
        )
    values = {}
    for name, value in data.items():
        hint = hints.get(name)
        if isinstance(value, list) and _is_tuple(hint):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        values[name] = value
    return config_cls(**values)


def _is_tuple(hint: Any) -> bool:
    if typing.get_origin(hint) is tuple:
        return True
    return any(typing.get_origin(a) is tuple for a in typing.get_args(hint))


# -- comparing ---------------------------------------------------------------------------


def _compare(record: Any, result: Any) -> Comparison:
    recorded, replayed = record.decisions, result.decisions.copy()
    if "run_id" in replayed.columns:
        replayed["run_id"] = record.run_id
    difference = _first_difference("decisions", recorded, replayed)
    if difference is None and record.summary is not None:
        difference = _first_difference("summary", record.summary, result.summary)
    return Comparison(record.run_id, difference is None, len(recorded), difference)


def _first_difference(table: str, recorded: pd.DataFrame, replayed: pd.DataFrame) -> str | None:
    """Where two tables first differ ("table row R column C: X recorded, Y replayed")."""
    from workbench.store import _encode

    if list(recorded.columns) != list(replayed.columns):
        columns = f"{list(recorded.columns)} recorded, {list(replayed.columns)} replayed"
        return f"{table}: columns differ ({columns})"
    if len(recorded) != len(replayed):
        return f"{table}: {len(recorded)} rows recorded, {len(replayed)} replayed"
    for column in recorded.columns:
        if recorded[column].dtype != replayed[column].dtype:
            return (
                f"{table} column {column!r}: dtype {recorded[column].dtype} recorded, "
                f"{replayed[column].dtype} replayed"
            )
    for row, (a, b) in enumerate(
        zip(recorded.itertuples(index=False), replayed.itertuples(index=False), strict=True)
    ):
        for column, x, y in zip(recorded.columns, a, b, strict=True):
            # The store's exact encoding: NaN equals NaN, 0.1 + 0.2 does not equal 0.3.
            if json.dumps(_encode(x, ""), sort_keys=True) != json.dumps(
                _encode(y, ""), sort_keys=True
            ):
                return f"{table} row {row} column {column!r}: {x!r} recorded, {y!r} replayed"
    return None


# -- the archive -------------------------------------------------------------------------


def _describe(record: Any) -> dict[str, Any]:
    meta = record.metadata
    return {
        "run_id": record.run_id,
        "study": record.study,
        "seed": meta.get("seed"),
        "config": meta.get("config"),
        "status": meta.get("status", "complete"),
        "versions": meta.get("versions"),
        "python": meta.get("python"),
        "platform": meta.get("platform"),
        "models": {m: _model_hash(m) for m in meta.get("models", [])},
        "calls": len(record.calls or []),
    }


def _model_hash(model: str) -> str | None:
    """The sha256 of a ``local/`` model's weights (None for remote models and rules)."""
    from workbench.llm import catalogue, local

    if not model.startswith(f"{local.PROVIDER}/"):
        return None
    name = model.split("/", 1)[1]
    try:
        return catalogue._lookup(name).sha256
    except WorkbenchError:  # a GGUF path: hash the file if it is here
        file = Path(name).expanduser()
        return _sha256(file) if file.is_file() else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", "utf-8")


def _checkpoint(path: Path) -> None:
    """Fold the store's write-ahead log into the file, so one file holds every run."""
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode = DELETE")


def _add(archive: tarfile.TarFile, file: Path, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.size = file.stat().st_size
    info.mtime, info.mode, info.uid, info.gid = 0, 0o644, 0, 0
    with open(file, "rb") as fh:
        archive.addfile(info, fh)


def _unpack(source: Path, folder: Path) -> dict[str, Any]:
    """Check and extract a bundle; its manifest."""
    try:
        archive = tarfile.open(source, "r:gz")
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise WorkbenchError(
            f"{source} is not a workbench bundle ({exc}); make one with 'workbench results pack'"
        ) from None
    with archive:
        try:
            members = {m.name: m for m in archive.getmembers()}
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise WorkbenchError(f"bundle {source} is damaged ({exc}); pack it again") from None
        manifest = _json_member(archive, members, "manifest.json", source)
        if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
            raise WorkbenchError(
                f"{source} is not a workbench bundle (no {BUNDLE_FORMAT} manifest)"
            )
        version = manifest.get("version")
        if not isinstance(version, int) or version > BUNDLE_VERSION:
            raise WorkbenchError(
                f"bundle {source} has format version {version}, newer than this workbench "
                f"reads (up to {BUNDLE_VERSION}); upgrade workbench to replay it"
            )
        files = manifest.get("files")
        runs = manifest.get("runs")
        if not isinstance(files, dict) or set(files) != set(_FILES) or not isinstance(runs, list):
            raise WorkbenchError(f"bundle {source} has a damaged manifest; pack it again")
        for name in _FILES:
            data = _member_bytes(archive, members, name, source)
            if hashlib.sha256(data).hexdigest() != files[name]:
                raise WorkbenchError(
                    f"bundle {source}: {name} does not match its sha256 in the manifest; the "
                    "bundle was changed or damaged after packing"
                )
            (folder / name).write_bytes(data)
    return manifest


def _member_bytes(archive: tarfile.TarFile, members: dict, name: str, source: Path) -> bytes:
    member = members.get(name)
    if member is None or not member.isfile() or member.size > _MAX_MEMBER:
        raise WorkbenchError(f"bundle {source} lacks {name}; pack it again")
    handle = archive.extractfile(member)
    try:
        return handle.read()
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise WorkbenchError(
            f"bundle {source} is damaged at {name} ({exc}); pack it again"
        ) from None


def _json_member(archive: tarfile.TarFile, members: dict, name: str, source: Path) -> Any:
    try:
        return json.load(io.BytesIO(_member_bytes(archive, members, name, source)))
    except (ValueError, UnicodeDecodeError):
        raise WorkbenchError(f"bundle {source} has a damaged {name}; pack it again") from None
