"""``workbench results``: list, show and export stored runs.

Subcommands (each takes ``--store PATH``, default ``$WORKBENCH_STORE`` or
``./workbench-results.sqlite``):

``workbench results list [--study S]``
    One line per stored run, with its status (complete, incomplete, failed, or
    unreadable for a run whose stored metadata is broken).
``workbench results show RUN_ID``
    The run's status (and error, if it failed), metadata as JSON, summary table and
    number of decisions.
``workbench results export RUN_ID OUT.csv|OUT.parquet [--table summary]``
    Write the decisions (or summary) table to a file.
``workbench results delete RUN_ID``
    Remove a run (the full id: no prefix), for instance one whose stored rows are broken.

A run id may be shortened to any unique prefix, except for ``delete``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import pandas as pd

from workbench.errors import WorkbenchError
from workbench.store import UNREADABLE, ResultStore, run_status


def register(sub: Any) -> None:
    """Add the ``results`` command and its subcommands to ``sub``.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The subparsers of the ``workbench`` parser.
    """
    from workbench.commands.run import add_group

    actions = add_group(
        sub,
        "results",
        "list, show and export stored runs",
        __doc__.splitlines()[0],
        dest="results_command",
        metavar="ACTION",
    )

    store_help = "result store file (default: $WORKBENCH_STORE or ./workbench-results.sqlite)"

    p_list = actions.add_parser("list", help="list stored runs")
    p_list.add_argument("--study", help="only runs of this study")
    p_list.add_argument("--store", metavar="PATH", help=store_help)
    p_list.set_defaults(handler=list_runs)

    p_show = actions.add_parser("show", help="show a run's metadata and summary")
    p_show.add_argument("run_id", metavar="RUN_ID", help="run id or a unique prefix of it")
    p_show.add_argument("--store", metavar="PATH", help=store_help)
    p_show.set_defaults(handler=show_run)

    p_export = actions.add_parser("export", help="write a run's decisions to CSV or Parquet")
    p_export.add_argument("run_id", metavar="RUN_ID", help="run id or a unique prefix of it")
    p_export.add_argument("out", metavar="OUT", help="output file ending in .csv or .parquet")
    p_export.add_argument(
        "--table",
        choices=("decisions", "summary"),
        default="decisions",
        help="which table to write (default: decisions)",
    )
    p_export.add_argument("--store", metavar="PATH", help=store_help)
    p_export.set_defaults(handler=export_run)

    p_pack = actions.add_parser(
        "pack",
        help="write runs into a replication bundle (config, seed, calls, rows, versions)",
    )
    p_pack.add_argument("run_ids", nargs="+", metavar="RUN_ID", help="run ids or prefixes")
    p_pack.add_argument(
        "--out", metavar="ARCHIVE", default=None, help="the bundle (default: RUN_ID.tar.gz)"
    )
    p_pack.add_argument("--store", metavar="PATH", help=store_help)
    p_pack.set_defaults(handler=pack_runs)

    p_replay = actions.add_parser(
        "replay", help="rebuild a bundle's tables offline and compare them with its own"
    )
    p_replay.add_argument("archive", metavar="ARCHIVE", help="a bundle from 'results pack'")
    p_replay.set_defaults(handler=replay_bundle)

    p_delete = actions.add_parser("delete", help="remove a run from the store")
    p_delete.add_argument("run_id", metavar="RUN_ID", help="the full run id")
    p_delete.add_argument("--store", metavar="PATH", help=store_help)
    p_delete.set_defaults(handler=delete_run)


def _jsonable(value: Any) -> Any:
    """Metadata as JSON can show it: text keys, tuples as arrays."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _say(text: str, file: Any = None) -> None:
    """Print stored text; a character the terminal cannot show becomes an escape."""
    file = file or sys.stdout
    encoding = getattr(file, "encoding", None) or "utf-8"
    print(text.encode(encoding, "backslashreplace").decode(encoding), file=file)


def _store(args: argparse.Namespace) -> ResultStore:
    return ResultStore(getattr(args, "store", None))


def list_runs(args: argparse.Namespace) -> int:
    """Print one line per stored run; an absent or empty store prints ``no runs in PATH``."""
    store = _store(args)
    runs = store.runs(study=getattr(args, "study", None))
    if runs.empty:
        which = f" of study '{args.study}'" if getattr(args, "study", None) else ""
        print(f"no runs{which} in {store.path}")
        return 0
    runs = runs.fillna("")  # absent seed/model print blank, not None
    _say(runs.to_string(index=False))
    broken = runs.run_id[runs.status == UNREADABLE].tolist()
    if broken:
        where = f" --store {store.path}" if getattr(args, "store", None) else ""
        _say(
            f"{len(broken)} run(s) have unreadable metadata; "
            f"'workbench results show {broken[0]}{where}' says what is wrong",
            file=sys.stderr,
        )
    return 0


def show_run(args: argparse.Namespace) -> int:
    """Print a run's id, status (and error), metadata (pretty JSON), summary and size."""
    store = _store(args)
    record = store.load(args.run_id)
    _say(f"run:       {record.run_id}")
    _say(f"study:     {record.study}")
    _say(f"created:   {record.created}")
    print(f"decisions: {record.n_decisions}")
    print(f"status:    {run_status(record.metadata)}")
    if "error" in record.metadata:
        _say(f"error:     {record.metadata['error']}")
    print("metadata:")
    _say(json.dumps(_jsonable(record.metadata), indent=2, default=str))
    if record.summary is None:
        print("summary:   none")
    else:
        print("summary:")
        with pd.option_context("display.width", 120, "display.max_columns", None):
            _say(record.summary.to_string())
    return 0


def export_run(args: argparse.Namespace) -> int:
    """Write a run's decisions (or summary) table to the CSV or Parquet file ``args.out``."""
    store = _store(args)
    out = store.export(args.run_id, args.out, table=args.table)
    _say(f"wrote {args.table} of {args.run_id} to {out}")
    return 0


def delete_run(args: argparse.Namespace) -> int:
    """Remove the run with exactly the id ``args.run_id`` from the store."""
    store = _store(args)
    store.delete(args.run_id)
    _say(f"deleted {args.run_id} from {store.path}")
    return 0


def pack_runs(args: argparse.Namespace) -> int:
    """Write the named runs into one replication bundle."""
    from workbench.bundle import pack

    store = _store(args)
    out = args.out or f"{store.resolve(args.run_ids[0])}.tar.gz"
    path = pack(store, args.run_ids, out)
    print(
        f"packed {len(args.run_ids)} run(s) into {path}; check it with "
        f"'workbench results replay {path}'"
    )
    return 0


def replay_bundle(args: argparse.Namespace) -> int:
    """Replay a bundle offline; exit status 2 when a table differs."""
    from workbench.bundle import replay

    comparisons = replay(args.archive)
    for c in comparisons:
        if c.identical:
            print(f"{c.run_id}: identical ({c.rows} decisions and the summary, bit for bit)")
        else:
            print(f"{c.run_id}: DIFFERS at {c.difference}")
    differ = [c for c in comparisons if not c.identical]
    if differ:
        raise WorkbenchError(
            f"{len(differ)} of {len(comparisons)} runs did not replay to their stored tables "
            f"(first: {differ[0].run_id}, {differ[0].difference})"
        )
    return 0
