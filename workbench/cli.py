"""The ``workbench`` command line.

Each subcommand lives in its own module under :mod:`workbench.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``handler`` (a function taking the
parsed arguments and returning an exit status). This module only dispatches, gives every
help page its examples and turns user errors into one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys

from workbench.errors import WorkbenchError

#: Examples shown under every help page, by the parser's ``prog``; the pages of the study
#: subcommands (``workbench run asch``) make theirs from the study's small example.
EXAMPLES: dict[str, list[str]] = {
    "workbench": [
        "workbench demo                       # a small study that explains itself",
        "workbench run asch --model local/qwen2.5-coder-1.5b --subjects 8 --seed 1",
        "workbench results list               # the runs stored so far",
    ],
    "workbench demo": [
        "workbench demo",
        "workbench demo --out demo-out --format svg",
        "workbench demo --no-replay --seed 3  # the live run only",
    ],
    "workbench models": ["workbench models list", "workbench models pull qwen2.5-coder-1.5b"],
    "workbench models list": ["workbench models list"],
    "workbench models pull": [
        "workbench models pull smollm2-135m",
        "workbench models pull local/qwen2.5-coder-1.5b --no-progress",
    ],
    "workbench results": [
        "workbench results list",
        "workbench results show RUN_ID",
        "workbench results export RUN_ID decisions.parquet",
    ],
    "workbench results list": [
        "workbench results list",
        "workbench results list --study asch --store runs.sqlite",
    ],
    "workbench results show": ["workbench results show asch-2026"],
    "workbench results export": [
        "workbench results export RUN_ID decisions.csv",
        "workbench results export RUN_ID summary.parquet --table summary",
    ],
    "workbench results pack": [
        "workbench results pack RUN_ID --out paper-runs.tar.gz",
        "workbench results pack RUN_A RUN_B --store runs.sqlite",
    ],
    "workbench results replay": ["workbench results replay paper-runs.tar.gz"],
    "workbench results delete": ["workbench results delete RUN_ID --store runs.sqlite"],
    "workbench run": [
        "workbench run asch --model rule:conformist:0.3 --subjects 4 --seed 1",
        "workbench run asch --model local/qwen2.5-coder-1.5b --out asch-out --format svg",
        "workbench run thresholds --members 20",
    ],
    "workbench sweep": [
        "workbench sweep asch --model rule:conformist:0.3 --grid majority=1,3 --seeds 4",
        "workbench sweep asch --model rule:conformist:0.3 --grid majority=1,3 --workers 2",
    ],
    "workbench battery": [
        "workbench battery --model local/qwen2.5-coder-1.5b --budget small --dry-run",
        "workbench battery --model local/smollm2-135m --model local/qwen2.5-coder-1.5b",
    ],
    "workbench battery compare": ["workbench battery compare cards/battery-v1/card-*.json"],
}

#: Sweep grids used in the examples of ``workbench sweep STUDY``.
SWEEP_GRIDS = {
    "asch": "majority=1,3",
    "polarization": "rounds=4,8",
    "conventions": "memory=3,5",
    "minority": "committed=0.1,0.3",
    "sandbox": "memory=0,2",
    "thresholds": "members=10,20",
}

_ROLE = re.compile(r":[\w.]+:`~?([^`<]*?)(?:\s*<[^>]*>)?`")  # :class:`x`, :meth:`~a.b`
_LITERAL = re.compile(r"``([^`]*)``")
_HEADING = re.compile(r"^(\s*)examples::?[ \t]*$", re.IGNORECASE | re.MULTILINE)


def plain(text: str) -> str:
    """``text`` without reStructuredText markup: ``x`` and :role:`x` become x."""
    text = _ROLE.sub(
        lambda m: m.group(1).rsplit(".", 1)[-1] if "~" in m.group(0) else m.group(1), text
    )
    text = _HEADING.sub(r"\1examples:", text)  # an RST "Examples::" heading
    return _LITERAL.sub(r"\1", text).replace("`", "")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps descriptions and epilogs as written (examples stay one per line) and shows
    no reStructuredText markup, in them or in a flag's help."""

    def _format_text(self, text: str) -> str:
        return super()._format_text(plain(text))

    def _expand_help(self, action: argparse.Action) -> str:
        return plain(super()._expand_help(action))


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad input as one line and exit status 2.

    A value that starts with a minus and reads as numbers (``-1``, ``-1,3``, ``-0.5``) is
    a value, not a flag, so the check of its field can say what range is allowed.
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(
            r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?(,\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)*,?$"
        )

    def error(self, message: str) -> None:  # noqa: D401 - argparse API
        self.exit(2, f"workbench: error: {message} (see '{self.prog} --help')\n")


def _study_examples(prog: str) -> list[str] | None:
    """Examples for ``workbench run STUDY`` / ``workbench sweep STUDY`` from its example."""
    words = prog.split()
    if len(words) != 3 or words[1] not in ("run", "sweep"):
        return None
    from workbench import config
    from workbench.studies import STUDIES

    study = STUDIES.get(words[2])
    try:
        small = config.make(study.Config, dict(study.example))
        flags = config.to_argv(small)
    except WorkbenchError:
        flags = []
    line = shlex.join([*words, *flags])
    if words[1] == "run":
        return [f"{line} --seed 1", f"{line} --out {words[2]}-out --format svg --dpi 300"]
    grid = SWEEP_GRIDS.get(words[2])
    first = f"{line} --seeds 3"
    return [first if grid is None else f"{line} --grid {grid} --seeds 3", f"{first} --workers 2"]


def _add_examples(parser: argparse.ArgumentParser) -> None:
    """Give ``parser`` and every parser under it an ``examples:`` epilog."""
    parser.formatter_class = _Formatter  # also for a parser that chose its own
    if not _HEADING.search(parser.epilog or ""):
        lines = EXAMPLES.get(parser.prog) or _study_examples(parser.prog)
        if lines is None:
            lines = [f"{parser.prog} --help"]
        examples = "examples:\n" + "\n".join(f"  {line}" for line in lines)
        parser.epilog = f"{parser.epilog.rstrip()}\n\n{examples}" if parser.epilog else examples
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                _add_examples(child)


def build_parser() -> argparse.ArgumentParser:
    """The ``workbench`` parser with every subcommand, each help page with examples."""
    from workbench.commands import COMMANDS

    parser = _Parser(
        prog="workbench",
        description="The Interactionist Workbench: societies of LLM and rule agents on a "
        "network,\ncanonical social-psychology studies, sweeps and a result store.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for command in COMMANDS:
        command.register(sub)
    _add_examples(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    try:
        parser = build_parser()  # reads the study registry, which imports the plugins
    except WorkbenchError as exc:
        print(f"workbench: error: {exc}", file=sys.stderr)
        return 2
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:  # a bare `workbench` is a request for help, not an error
        parser.print_help()
        return 0
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except WorkbenchError as exc:
        print(f"workbench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("workbench: interrupted; finished work was kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
