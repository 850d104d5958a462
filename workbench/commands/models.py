"""``workbench models``: list and fetch the local models of the catalogue.

``workbench models list`` shows the catalogue (name, size, default, cached, path);
``workbench models pull NAME`` fetches one model, or re-verifies the full sha256 of a
cached one (fetching it again if it does not match), then prints its path.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``models`` subcommand to the CLI's subparsers.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The subparsers object of the ``workbench`` parser.
    """
    from workbench.commands.run import add_group

    actions = add_group(
        sub,
        "models",
        "list or fetch the local models",
        "List the local models of the catalogue, or fetch one.",
        dest="models_command",
        metavar="ACTION",
    )
    p_list = actions.add_parser("list", help="show the catalogue and what is cached")
    p_list.set_defaults(handler=_list)
    p_pull = actions.add_parser("pull", help="fetch (or re-verify) a model, then print its path")
    p_pull.add_argument("name", metavar="NAME", help="catalogue name, e.g. smollm2-135m")
    p_pull.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    p_pull.set_defaults(handler=_pull)


def _list(args: argparse.Namespace) -> int:
    from workbench.llm.catalogue import list_models

    header = ("NAME", "SIZE", "DEFAULT", "CACHED", "PATH")
    rows = [
        (
            f"local/{m['name']}",
            m["size"],
            "yes" if m["default"] else "",
            "yes" if m["cached"] else "no",
            m["path"],
        )
        for m in list_models()
    ]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _pull(args: argparse.Namespace) -> int:
    from workbench.llm.catalogue import model_path

    name = args.name.removeprefix("local/")
    # A pull hashes a cached file in full (loading only compares its size with the
    # sidecar's), so a damaged file is replaced here.
    print(model_path(name, progress=not args.no_progress, verify=True))
    return 0
