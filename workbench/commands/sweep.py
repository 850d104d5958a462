"""``workbench sweep STUDY``: every (condition x seed) of a study, resumable, on any executor.

``workbench sweep asch --model rule:conformist:0.3 --grid majority=1,3 --grid
temperature=0,1 --seeds 8`` runs 2 x 2 conditions x 8 seeds = 32 runs. The study's config
flags (as for ``workbench run``) set the base config; each ``--grid key=v1,v2`` sweeps a
config field. Each run is stored in the result store as it finishes, under an id derived
from (study, config, seed): running the same command again skips the stored runs, so an
interrupted sweep resumes where it stopped.

Executors: ``--executor serial`` (default, this process), ``process`` (``--workers N``
local processes; ``--workers`` alone implies it) or ``dask`` (an embedded local cluster
of ``--workers N`` processes), or ``--scheduler tcp://HOST:PORT`` to join a running Dask
cluster (every worker needs workbench installed). Recording a cassette needs the serial
executor; replaying one works with any.
"""

from __future__ import annotations

import argparse
import time

from workbench.errors import ConfigError

_KEEP = ("run_id", "seed", "status", "seconds")  # error is shown in the closing line


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``sweep`` and one sub-parser per study, with flags from its config fields."""
    from workbench.commands.run import add_config_arguments, add_group, add_model_arguments
    from workbench.studies import STUDIES

    studies = add_group(
        sub,
        "sweep",
        "run a study over a grid of conditions and seeds (resumable)",
        __doc__.splitlines()[0],
        dest="study",
        metavar="STUDY",
    )
    for name, study in STUDIES.items():
        doc = (study.__doc__ or name).strip().splitlines()[0]
        sp = studies.add_parser(name, help=doc, description=f"Sweep: {doc}")
        add_config_arguments(sp, study.Config)
        sweep = sp.add_argument_group("sweep")
        sweep.add_argument(
            "--grid",
            action="extend",
            nargs="+",
            default=[],
            metavar="KEY=V1,V2",
            help="a config field and its values; repeat for more fields",
        )
        sweep.add_argument(
            "--seeds", type=int, default=1, metavar="N", help="seeds per condition (default: 1)"
        )
        sweep.add_argument(
            "--first-seed", type=int, default=0, metavar="S", help="first seed (default: 0)"
        )
        add_executor_arguments(sweep)
        sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
        add_model_arguments(sp)
        sp.set_defaults(handler=_sweep)


def add_executor_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--executor``, ``--workers``, ``--scheduler`` and ``--store``: where the runs of a
    sweep (or a battery) execute and are kept; :func:`executor_kind` reads them back."""
    from workbench.commands.run import add_store_argument
    from workbench.sweep import EXECUTORS

    parser.add_argument(
        "--executor", choices=EXECUTORS, default=None, help="where runs execute (serial)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="processes (process, dask); alone, implies --executor process",
    )
    parser.add_argument(
        "--scheduler", default=None, metavar="tcp://HOST:PORT", help="join a running Dask cluster"
    )
    add_store_argument(parser)


def executor_kind(args: argparse.Namespace, gateway) -> str:
    """The executor the flags name; a one-line error when a cassette would be recorded
    by parallel runs (they would overwrite each other's recordings)."""
    kind = args.executor or (
        "dask" if args.scheduler else "process" if args.workers is not None else "serial"
    )
    if gateway.cassette_mode in ("record", "auto") and kind != "serial":
        raise ConfigError(
            f"recording a cassette needs --executor serial (parallel runs would overwrite "
            f"each other's recordings); use --cassette-mode replay with {kind}"
        )
    return kind


def _sweep(args: argparse.Namespace) -> int:
    from workbench.commands.run import (
        config_from_args,
        gateway_config_from_args,
        limits_from_args,
        store_for,
    )
    from workbench.studies import get_study
    from workbench.sweep import Sweep, SweepError, executor

    study_cls = get_study(args.study)
    if args.seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {args.seeds}")
    if args.first_seed < 0:
        raise ConfigError(f"--first-seed must be 0 or more, got {args.first_seed}")
    gateway = gateway_config_from_args(args)
    kind = executor_kind(args, gateway)
    sweep = Sweep(
        study_cls,
        args.grid,
        range(args.first_seed, args.first_seed + args.seeds),
        config=config_from_args(study_cls.Config, args),
        gateway=gateway,
        **limits_from_args(args),
    )
    sweep.runs()  # every combination is a valid config before anything starts
    store = store_for(args)
    start = time.perf_counter()
    with executor(kind, args.workers, args.scheduler) as pool:
        result = sweep.run(pool, store, progress=not args.no_progress)
    runs = result.runs
    shown = runs[[c for c in runs.columns if c not in (*_KEEP, "error")] + list(_KEEP)]
    print(shown.to_string(index=False))
    counts = runs.status.value_counts()
    ran, stored = int(counts.get("ran", 0)), int(counts.get("stored", 0))
    print(
        f"\nsweep {sweep.name}: {len(runs)} runs, {ran} ran now, {stored} already stored, "
        f"{time.perf_counter() - start:.1f} s ({kind})"
    )
    table, note = result.headline()
    if not table.empty:
        print(f"\nper condition, {note}:")
        print(table.to_string(index=False))
    where = "" if args.store is None else f" --store {store.path}"
    print(
        f"\nstored in {store.path} (the run ids above); list them with 'workbench results "
        f"list --study {sweep.name}{where}', open one with 'workbench results show RUN_ID"
        f"{where}'; run the same command again to resume or extend the sweep"
    )
    if not result.complete:
        bad = runs[~runs.status.isin(("ran", "stored"))]
        first = bad.iloc[0]
        raise SweepError(
            f"{len(bad)} of {len(runs)} runs are not complete (first: {first.run_id} "
            f"{first.status}: {first.error}); they are stored as such and run again when "
            "the sweep is run again"
        )
    return 0
