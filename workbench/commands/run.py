"""``workbench run STUDY``: run a canonical study, print its table, save plot and tables.

Every field of the study's config dataclass is a flag (``--majority 0,1,3,8``); the
common flags choose the seed, the output folder, the cassette, the gateway's concurrency
and the result store. The run shows a progress bar, prints the summary table, writes
``<study>_summary.csv``, ``<study>_decisions.csv`` and ``<study>.png`` into ``--out`` and
stores the run in the result store. On Ctrl-C the subjects that finished are written to
CSV (never to the store, which only holds complete runs).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import types
import typing
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError

CASSETTE_MODES = ("off", "record", "replay", "auto")
_METAVARS = {int: "N", float: "X", str: "TEXT"}


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``run`` and one sub-parser per study, with flags from its config fields."""
    from workbench.studies import STUDIES

    p = sub.add_parser(
        "run",
        help="run a canonical study (e.g. asch)",
        description="Run a canonical study and print its table beside the published numbers.",
    )
    studies = p.add_subparsers(dest="study", metavar="STUDY")
    studies.required = True
    for name, study in STUDIES.items():
        doc = (study.__doc__ or name).strip().splitlines()[0]
        sp = studies.add_parser(name, help=doc, description=doc)
        add_config_arguments(sp, study.Config)
        add_run_arguments(sp)
        sp.set_defaults(handler=_run)


def _list_of(cast: type):
    def parse(text: str) -> tuple:
        if text.strip().lower() in ("", "none") and cast is int:
            return ()
        try:
            return tuple(cast(v.strip()) for v in text.split(",") if v.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {cast.__name__} values, got {text!r}"
            ) from None

    return parse


def add_config_arguments(parser: argparse.ArgumentParser, config: type) -> None:
    """Add one ``--flag`` per field of the dataclass ``config`` (defaults from the class).

    ``int``, ``float`` and ``str`` fields take one value; ``tuple[X, ...]`` fields take a
    comma-separated list (``none`` for an empty list of numbers); ``bool`` fields take
    ``--flag`` / ``--no-flag``.
    """
    hints = typing.get_type_hints(config)
    for f in dataclasses.fields(config):
        flag = "--" + f.name.replace("_", "-")
        hint = hints[f.name]
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        help_ = f.metadata.get("help", "")
        args = typing.get_args(hint)
        if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
            hint = next(a for a in args if a is not type(None))
            args = typing.get_args(hint)
        if hint is bool:
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=default, help=help_
            )
        elif typing.get_origin(hint) is tuple:
            shown = ",".join(str(v) for v in default) or "none"
            parser.add_argument(
                flag,
                type=_list_of(args[0]),
                default=default,
                metavar="A,B,..",
                help=f"{help_} (default: {shown})",
            )
        else:
            parser.add_argument(
                flag,
                type=hint,
                default=default,
                metavar=_METAVARS.get(hint, "VALUE"),
                help=f"{help_} (default: {default})",
            )


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every study run shares."""
    parser.add_argument("--seed", type=int, default=None, help="seed (drawn when omitted)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder for the plot and CSV tables (default: workbench-out/<run id>)",
    )
    parser.add_argument("--cassette", default=None, metavar="PATH", help="cassette file")
    parser.add_argument(
        "--cassette-mode",
        choices=CASSETTE_MODES,
        default=None,
        help="off, record, replay or auto (default: auto with --cassette, else off)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=8,
        metavar="N",
        help="model calls in flight and subjects run at once (default: 8)",
    )
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        metavar="PATH",
        help="result store (default: $WORKBENCH_STORE or ./workbench-results.sqlite)",
    )
    parser.add_argument("--no-store", action="store_true", help="do not store the run")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def config_from_args(config: type, args: argparse.Namespace) -> Any:
    """Build the dataclass ``config`` from parsed flags."""
    return config(**{f.name: getattr(args, f.name) for f in dataclasses.fields(config)})


def make_gateway(args: argparse.Namespace):
    """The gateway the flags describe."""
    from workbench.llm import Gateway, GatewayConfig

    mode = args.cassette_mode or ("auto" if args.cassette else "off")
    return Gateway(
        GatewayConfig(concurrency=args.concurrency, cassette=args.cassette, cassette_mode=mode)
    )


def _run(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from workbench.store import ResultStore
    from workbench.studies import StudyInterrupted, get_study

    if args.concurrency < 1:
        raise ConfigError(f"--concurrency must be at least 1, got {args.concurrency}")
    study_cls = get_study(args.study)
    study = study_cls(config_from_args(study_cls.Config, args), seed=args.seed)
    gateway = make_gateway(args)
    try:
        result = study.run(gateway, progress=not args.no_progress)
    except StudyInterrupted as stop:
        partial = stop.result
        out = args.out or Path("workbench-out") / partial.run_id
        if partial.metadata["units_done"]:
            paths = partial.save(out)
            print(
                f"workbench: kept {partial.metadata['units_done']} of "
                f"{partial.metadata['units']} finished units in {paths['decisions'].parent} "
                f"(seed {partial.seed}); not stored",
                file=sys.stderr,
            )
        raise
    finally:
        gateway.close()
    out = args.out or Path("workbench-out") / result.run_id
    paths = result.save(out)
    fig = study.plot(result)
    paths["plot"] = out / f"{study.name}.png"
    fig.savefig(paths["plot"], dpi=120)
    plt.close(fig)
    print(study.table(result.summary).to_string(index=False))
    seconds = result.metadata["seconds"]
    print(f"\nrun {result.run_id}  seed {result.seed}  {seconds:.0f} s")
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    if not args.no_store:
        store = ResultStore(args.store)
        store.save(result.to_record())
        print(f"stored in {store.path}")
    return 0
