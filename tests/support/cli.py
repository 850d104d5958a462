"""Running the CLI in a test: a small asch run, its exit status and its one-line errors."""

from __future__ import annotations

from pathlib import Path

from workbench import cli


def asch_run(tmp_path: Path, model: str, *extra: str) -> list[str]:
    """``workbench run asch`` with ``model``: two subjects, seed 1, no progress bar, its
    outputs in ``tmp_path/out`` and its store ``tmp_path/s.sqlite``; ``extra`` flags last."""
    run = ["run", "asch", "--model", model, "--subjects", "2", "--seed", "1", "--no-progress"]
    return [*run, "--out", str(tmp_path / "out"), "--store", str(tmp_path / "s.sqlite"), *extra]


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
