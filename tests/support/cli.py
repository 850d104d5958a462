"""Running the CLI in a test: its exit status and its one-line errors."""

from __future__ import annotations

from workbench import cli


def exit_status(argv: list[str]) -> int:
    """The status ``workbench argv`` exits with (argparse errors raise SystemExit)."""
    try:
        return cli.main(argv)
    except SystemExit as exc:
        return exc.code


def one_line_error(capsys, argv: list[str]) -> str:
    """Run ``argv``, check it exits 2 with exactly one ``workbench: error:`` line on
    stderr, and return that stderr."""
    assert exit_status(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("workbench: error:"), (
        captured.err
    )
    return captured.err
