"""The `workbench` dispatcher: help for a bare command, one line for bad input."""

from __future__ import annotations

from workbench.cli import main


def test_a_bare_workbench_prints_help(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: workbench") and "run" in out and "sweep" in out
