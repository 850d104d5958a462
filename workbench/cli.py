"""The ``workbench`` command line.

Each subcommand lives in its own module under :mod:`workbench.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``handler`` (a function taking the
parsed arguments and returning an exit status). This module only dispatches and turns
user errors into one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys

from workbench.errors import WorkbenchError


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad input as one line and exit status 2."""

    def error(self, message: str) -> None:  # noqa: D401 - argparse API
        self.exit(2, f"workbench: error: {message} (see 'workbench --help')\n")


def build_parser() -> argparse.ArgumentParser:
    from workbench.commands import COMMANDS

    parser = _Parser(prog="workbench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for command in COMMANDS:
        command.register(sub)
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
