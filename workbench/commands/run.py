"""``workbench run STUDY``: run a canonical study, print its table, save plot and tables.

Every field of the study's config dataclass is a flag (``--majority 0,1,3,8``); the
common flags choose the seed, the output folder, the cassette, the gateway's concurrency
and the result store. The run shows a progress bar, prints the summary table, writes
``<study>_summary.csv``, ``<study>_decisions.csv`` and ``<study>.png`` (``--format svg``
or ``pdf``; ``--dpi``, 200 by default) into ``--out`` and
stores the run in the result store. Everything that can be checked (flags, ``--out``,
the store's folder, then each remote model) is checked before the first model call. The
run is stored before its outputs are written, so a full disk or a bad ``--out`` loses
nothing. A run that did not complete (Ctrl-C, a model error, its ``--deadline``, more
invalid answers than ``--max-invalid``) is stored with its status and error, and its
finished units are written to CSV; the command then exits with status 2 (130 on Ctrl-C).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError

CASSETTE_MODES = ("off", "record", "replay", "auto")
_METAVARS = {int: "N", float: "X", str: "TEXT"}


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``run`` and one sub-parser per study, with flags from its config fields."""
    from workbench.studies import STUDIES

    studies = add_group(
        sub,
        "run",
        "run a canonical study (e.g. asch)",
        "Run a canonical study and print its table beside the published numbers.",
        dest="study",
        metavar="STUDY",
    )
    for name, study in STUDIES.items():
        doc = (study.__doc__ or name).strip().splitlines()[0]
        sp = studies.add_parser(name, help=doc, description=doc)
        add_config_arguments(sp, study.Config)
        add_run_arguments(sp)
        add_figure_arguments(sp)
        sp.set_defaults(handler=_run)


def add_group(
    sub: argparse._SubParsersAction,
    name: str,
    help: str,
    description: str,
    *,
    dest: str,
    metavar: str,
) -> argparse._SubParsersAction:
    """Add the command ``name`` whose own subcommands (one required) go under ``dest``."""
    parser = sub.add_parser(name, help=help, description=description)
    actions = parser.add_subparsers(dest=dest, metavar=metavar)
    actions.required = True
    return actions


def _parser_of(spec):
    """An argparse ``type`` reading a flag's text with :func:`workbench.config.parse`."""
    from workbench import config

    def parse(text: str) -> Any:
        try:
            return config.parse(text, spec)
        except ConfigError as exc:  # argparse prefixes the flag and exits 2
            raise argparse.ArgumentTypeError(str(exc).removeprefix(spec.flag + " ")) from None

    parse.__name__ = spec.kind.__name__  # argparse names the type in its messages
    return parse


#: The one name a flag has across studies, for config fields that some studies call
#: otherwise: the field keeps its own flag too (``--replicates`` and ``--runs``).
FLAG_ALIASES = {
    "replicates": "--runs",  # sandbox: societies per condition, --runs everywhere else
    "k": "--degree",  # sandbox: neighbours per node, --degree everywhere else
    "sizes": "--members",  # conventions: population sizes, --members everywhere else
}


def add_config_arguments(parser: argparse.ArgumentParser, config_cls: type) -> None:
    """Add one ``--flag`` per field of the dataclass ``config_cls`` (defaults from the class).

    Every flag's text is read by :func:`workbench.config.parse` (the one text-to-value
    conversion of the project): lists are comma-separated (``none`` for an empty list of
    numbers), booleans are ``--flag`` / ``--no-flag``. A field named otherwise than in
    the other studies also answers to the common name (:data:`FLAG_ALIASES`).
    """
    from workbench import config

    specs = config.fields_of(config_cls)
    flags = {spec.flag for spec in specs.values()}
    for spec in specs.values():
        help_ = spec.help
        if spec.kind is bool and not spec.many and not spec.optional:
            parser.add_argument(
                spec.flag, action=argparse.BooleanOptionalAction, default=spec.default, help=help_
            )
            continue
        shown = config.to_text(spec.default)
        alias = FLAG_ALIASES.get(spec.name)
        names = [spec.flag] if alias is None or alias in flags else [alias, spec.flag]
        parser.add_argument(
            *names,
            type=_parser_of(spec),
            default=spec.default,
            dest=spec.name,
            metavar="A,B,.." if spec.many else _METAVARS.get(spec.kind, "VALUE"),
            help=f"{help_} (default: {shown})",
        )


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every study run shares."""
    parser.add_argument("--seed", type=int, default=None, help="seed (drawn when omitted)")
    add_out_argument(parser, None, "the plot and CSV tables", "workbench-out/<run id>")
    add_model_arguments(parser)
    add_store_argument(parser)
    parser.add_argument("--no-store", action="store_true", help="do not store the run")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags saying how a run reaches its models and when it gives up.

    They are the fields of :class:`~workbench.llm.GatewayConfig` plus the run limits of
    :meth:`~workbench.studies.Study.run`; :func:`gateway_config_from_args` and
    :func:`limits_from_args` read them back.
    """
    from workbench.llm.gateway import GatewayConfig
    from workbench.llm.workers import AUTO_AFTER
    from workbench.studies import MAX_INVALID

    defaults = GatewayConfig()
    group = parser.add_argument_group("models")
    group.add_argument("--cassette", default=None, metavar="PATH", help="cassette file")
    group.add_argument(
        "--cassette-mode",
        choices=CASSETTE_MODES,
        default=None,
        help="off, record, replay or auto (default: auto with --cassette, else off)",
    )
    flags = [  # flag, type, default, metavar, help
        (
            "--concurrency",
            int,
            defaults.concurrency,
            "N",
            f"model calls in flight and subjects run at once (default: {defaults.concurrency})",
        ),
        (
            "--api-base",
            str,
            None,
            "URL",
            "OpenAI-compatible server for remote models, e.g. http://127.0.0.1:8000/v1",
        ),
        (
            "--api-key-env",
            str,
            None,
            "NAME",
            "environment variable holding the key (default: the provider's usual one)",
        ),
        (
            "--timeout",
            float,
            defaults.timeout,
            "S",
            f"seconds before a model call is retried (default: {defaults.timeout:g})",
        ),
        (
            "--retries",
            int,
            defaults.max_retries,
            "N",
            f"retries of a timed-out or failed call (default: {defaults.max_retries})",
        ),
        (
            "--deadline",
            float,
            None,
            "S",
            "seconds the whole run may take; then it stops, keeping what finished",
        ),
        (
            "--max-invalid",
            float,
            MAX_INVALID,
            "SHARE",
            f"share of invalid model answers that marks a run failed (default: {MAX_INVALID:g})",
        ),
    ]
    for flag, kind, default, metavar, help_ in flags:
        group.add_argument(flag, type=kind, default=default, metavar=metavar, help=help_)
    group.add_argument(
        "--gateway-workers",
        type=_worker_count,
        default=None,
        metavar="K",
        help="processes making remote model calls: a number, or auto (default: "
        f"$WORKBENCH_GATEWAY_WORKERS, else one per free core once a run has made {AUTO_AFTER} "
        "remote calls); embedded local/ models always run in this process",
    )


def _worker_count(value: str) -> int | None:
    """``--gateway-workers``: a whole number, or ``auto`` (None: the gateway decides)."""
    if value.strip().lower() == "auto":
        return None
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"takes a whole number of processes or auto, got {value!r}"
        ) from None


def add_out_argument(
    parser: argparse.ArgumentParser, default: Path | None, what: str, shown: str
) -> None:
    """``--out DIR``: the folder a command writes ``what`` into (checked before any work)."""
    parser.add_argument(
        "--out",
        type=Path,
        default=default,
        metavar="DIR",
        help=f"folder for {what} (default: {shown})",
    )


def add_store_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--store PATH``: the result store a command writes its runs to."""
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        metavar="PATH",
        help="result store (default: $WORKBENCH_STORE or ./workbench-results.sqlite)",
    )


def config_from_args(config: type, args: argparse.Namespace) -> Any:
    """Build the dataclass ``config`` from parsed flags (checked by its fields).

    A check that names a field by its Python name (``majority sizes must be ...``) is
    reported with the flag's name (``--majority sizes must be ...``).
    """
    try:
        return config(**{f.name: getattr(args, f.name) for f in dataclasses.fields(config)})
    except ConfigError as exc:
        raise ConfigError(_with_flag(str(exc), config)) from None


def _with_flag(message: str, config: type) -> str:
    from workbench import config as fields

    for name, spec in sorted(fields.fields_of(config).items(), key=lambda kv: -len(kv[0])):
        if message.startswith((f"{name} ", f"{name}:")):
            return spec.flag + message[len(name) :]
    return message


#: Figure formats of ``--format``; ``--dpi`` is the resolution of PNG (and of the raster
#: parts of SVG and PDF).
FIGURE_FORMATS = ("png", "svg", "pdf")
DEFAULT_DPI = 200


def add_figure_arguments(parser: argparse.ArgumentParser) -> None:
    """``--format`` and ``--dpi``: how a command writes its figures."""
    group = parser.add_argument_group("figures")
    group.add_argument(
        "--format",
        dest="figure_format",
        choices=FIGURE_FORMATS,
        default="png",
        help="file format of the figures (default: png)",
    )
    group.add_argument(
        "--dpi",
        type=int,
        default=DEFAULT_DPI,
        metavar="N",
        help=f"dots per inch of PNG figures, 50 to 1200 (default: {DEFAULT_DPI})",
    )


def check_figure_arguments(args: argparse.Namespace) -> None:
    """A one-line :class:`ConfigError` for a ``--dpi`` out of range."""
    dpi = getattr(args, "dpi", DEFAULT_DPI)
    if not 50 <= dpi <= 1200:
        raise ConfigError(f"--dpi must be from 50 to 1200, got {dpi}")


def save_figure(fig, out: Path, stem: str, args: argparse.Namespace | None = None) -> Path:
    """Write ``fig`` as ``out/<stem>.<format>`` at the flags' resolution and close it."""
    import matplotlib.pyplot as plt

    kind = getattr(args, "figure_format", "png") if args is not None else "png"
    dpi = getattr(args, "dpi", DEFAULT_DPI) if args is not None else DEFAULT_DPI
    path = out / f"{stem}.{kind}"
    try:
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def gateway_config_from_args(args: argparse.Namespace):
    """The :class:`~workbench.llm.GatewayConfig` the flags describe (checked)."""
    from workbench.llm import GatewayConfig

    mode = args.cassette_mode or ("auto" if args.cassette else "off")
    return GatewayConfig(
        concurrency=args.concurrency,
        cassette=args.cassette,
        cassette_mode=mode,
        max_retries=args.retries,
        timeout=args.timeout,
        api_base=args.api_base,
        api_key_env=args.api_key_env,
        workers=args.gateway_workers,
    )


def limits_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """``deadline`` and ``max_invalid`` for :meth:`~workbench.studies.Study.run` (checked)."""
    from workbench.studies import check_limits

    check_limits(args.deadline, args.max_invalid)
    return {"deadline": args.deadline, "max_invalid": args.max_invalid}


def make_gateway(args: argparse.Namespace):
    """The gateway the flags describe."""
    from workbench.llm import Gateway

    return Gateway(gateway_config_from_args(args))


def writable_folder(path: Path, flag: str) -> Path:
    """Create ``path`` if needed and check that files can be written in it.

    Raises
    ------
    ConfigError
        One line naming ``flag``, when ``path`` is a file or cannot be written.
    """
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {path} is a file; give a folder (it is created if missing)")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ConfigError(
            f"{flag} {path} cannot be written ({exc.strerror or exc}); give a writable folder"
        ) from None
    return path


def store_for(args: argparse.Namespace):
    """The result store the flags name, its folder checked before any work."""
    from workbench.store import ResultStore

    store = ResultStore(args.store)
    if not store.path.parent.is_dir():
        raise ConfigError(
            f"--store {store.path}: folder {store.path.parent} does not exist; create it or "
            "give another path"
        )
    if store.path.is_dir():
        raise ConfigError(f"--store {store.path} is a folder; give a file path")
    return store


def _run(args: argparse.Namespace) -> int:
    from workbench.studies import StudyFailed, StudyInterrupted, check_seed, get_study

    study_cls = get_study(args.study)
    study = study_cls(config_from_args(study_cls.Config, args), seed=args.seed)
    if args.seed is not None:
        check_seed(args.seed)
    check_figure_arguments(args)
    limits = limits_from_args(args)
    gateway_config = gateway_config_from_args(args)
    # Everything that can be checked is checked before the first model call.
    out = writable_folder(args.out or Path("workbench-out"), "--out")
    store = None if args.no_store else store_for(args)
    from workbench.llm import Gateway

    gateway = Gateway(gateway_config)
    try:
        result = study.run(gateway, progress=not args.no_progress, **limits)
    except StudyInterrupted as stop:
        _keep(study, stop.result, store, out if args.out else out / stop.result.run_id, args)
        raise
    except StudyFailed as failed:
        _keep(study, failed.result, store, out if args.out else out / failed.result.run_id, args)
        raise
    finally:
        gateway.close()
    _keep(study, result, store, out if args.out else out / result.run_id, args)
    return 0


def _keep(study, result, store, out: Path, args: argparse.Namespace | None = None) -> None:
    """Store ``result`` first, then write its tables and plot into ``out`` and report.

    A run that did not complete is stored with its status and error, so nothing that
    finished is lost and a sweep knows to redo it; a failure to write the outputs is one
    line that names the stored run.
    """
    import matplotlib

    matplotlib.use("Agg")

    stored = ""
    if store is not None:
        store.save(result.to_record())
        stored = f"; stored in {store.path} as {result.run_id}"
    if not result.complete and result.decisions.empty:
        return  # the error line says why; nothing finished to write
    try:
        writable_folder(out, "--out")
        paths = result.save(out)
        fig = study.plot(result) if not result.summary.empty else None
        if fig is not None:  # a study may have no plot
            paths["plot"] = save_figure(fig, out, study.name, args)
    except (OSError, ConfigError) as exc:
        message = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise ConfigError(f"cannot write the outputs to {out} ({message}){stored}") from None
    if not result.summary.empty:
        print(study.table(result.summary).to_string(index=False))
    seconds = result.metadata["seconds"]
    status = "" if result.complete else f"  {result.status}"
    print(f"\nrun {result.run_id}  seed {result.seed}  {seconds:.0f} s{status}")
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    if stored:
        print(stored[2:])
    if not result.complete:
        done, units = result.metadata["units_done"], result.metadata["units"]
        print(
            f"workbench: kept {done} of {units} finished units in {out} (seed {result.seed})"
            f"{stored} ({result.status})",
            file=sys.stderr,
        )
