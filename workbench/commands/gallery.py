"""``workbench gallery``: every study and teaching notebook executed, as static HTML pages.

Each notebook of ``studies/`` and ``notebooks/`` runs from its committed cassettes (no
model is loaded) in a temporary copy, so the tracked notebooks stay without outputs; its
page, figures embedded, goes to ``DIR/<folder>/<name>.html`` and ``DIR/index.html`` links
every page. A notebook that fails is named with the cell and error that stopped it, the
others are still built, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import sys

from workbench.gallery import DEFAULT_TIMEOUT

_EXAMPLES = """examples:
  workbench gallery                                # all notebooks, to workbench-out/gallery
  workbench gallery --only asch_conformity --only 01_first_society
  workbench gallery --out site/gallery --timeout 300
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``gallery`` subcommand.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The subparsers of the ``workbench`` parser.
    """
    p = sub.add_parser(
        "gallery",
        help="execute the notebooks from their cassettes and write them as HTML pages",
        description=__doc__,
        epilog=_EXAMPLES,
    )
    p.add_argument(
        "--out",
        default="workbench-out/gallery",
        metavar="DIR",
        help="gallery folder (default: workbench-out/gallery)",
    )
    p.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="build only this notebook (file name without .ipynb, e.g. asch_conformity); "
        "repeat or separate with commas for several",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"seconds the cells of one notebook may take in all (default: {DEFAULT_TIMEOUT:g})",
    )
    p.add_argument(
        "--root",
        default=None,
        metavar="DIR",
        help="folder holding studies/ and notebooks/ (default: the current folder, else "
        "the checkout of this package)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=_gallery)


def _gallery(args: argparse.Namespace) -> int:
    from workbench.gallery import build_gallery

    only = None
    if args.only is not None:
        only = [name for value in args.only for name in value.split(",")]
    gallery = build_gallery(
        args.out,
        root=args.root,
        only=only,
        timeout=args.timeout,
        progress=not args.no_progress,
    )
    figures = sum(page.figures for page in gallery.pages)
    print(
        f"gallery: {len(gallery.pages)} pages, {figures} figures, "
        f"in {gallery.seconds:.0f} s: {gallery.index}"
    )
    for page in gallery.failed:
        notebook = page.notebook
        print(
            f"workbench: error: {notebook.section}/{notebook.path.name} failed at "
            f"{page.error} (its page shows the outputs up to there)",
            file=sys.stderr,
        )
    return 1 if gallery.failed else 0
