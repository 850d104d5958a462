"""``workbench run asch`` and ``workbench demo`` from the command line."""

import re

import pandas as pd
import pytest
from support.cli import asch_run, exit_status

import workbench.commands
from workbench import cli
from workbench.commands import run as run_command
from workbench.store import ResultStore
from workbench.studies.asch import AschStudy


@pytest.fixture(autouse=True)
def _run_registered(monkeypatch):
    if run_command not in workbench.commands.COMMANDS:  # until the dispatcher lists it
        monkeypatch.setattr(
            workbench.commands, "COMMANDS", [*workbench.commands.COMMANDS, run_command]
        )


def test_run_is_a_registered_command():
    assert "run" in cli.build_parser()._subparsers._group_actions[0].choices


def rule_run(tmp_path, *extra):
    return asch_run(tmp_path, "rule:conformist:0.3", *extra)


def test_run_asch_prints_the_table_writes_files_and_stores(tmp_path, capsys):
    assert cli.main(rule_run(tmp_path)) == 0
    out = capsys.readouterr().out
    assert "conformity %" in out and "Asch %" in out
    for name in ("asch_summary.csv", "asch_decisions.csv", "asch.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    runs = ResultStore(tmp_path / "s.sqlite").runs()
    assert len(runs) == 1 and runs.study.iloc[0] == "asch"
    first = pd.read_csv(tmp_path / "out" / "asch_summary.csv")
    assert cli.main(rule_run(tmp_path, "--no-store")) == 0
    pd.testing.assert_frame_equal(first, pd.read_csv(tmp_path / "out" / "asch_summary.csv"))


def test_unknown_study_exits_2(capsys):
    assert exit_status(["run", "milgram"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_ctrl_c_keeps_finished_subjects(tmp_path, capsys, monkeypatch):
    original = AschStudy._run_unit

    def interrupt_third(self, unit, gateway, run_id, **progress):
        if unit.index == 2:
            raise KeyboardInterrupt
        return original(self, unit, gateway, run_id, **progress)

    monkeypatch.setattr(AschStudy, "_run_unit", interrupt_third)
    assert cli.main(rule_run(tmp_path)) == 130
    err = capsys.readouterr().err
    kept = re.search(r"kept (\d) of 6 finished units", err)
    assert kept and err.endswith("finished work was kept\n")
    # Units 0 and 1 finished before the interrupt; the interrupted unit is lost; units
    # the worker picked up before the main thread saw the interrupt may also finish.
    decisions = pd.read_csv(tmp_path / "out" / "asch_decisions.csv")
    units = decisions[["majority", "ally", "subject"]].drop_duplicates()
    assert len(units) == int(kept.group(1))
    assert 2 <= len(units) < 6
    # Stored, but never as complete: a sweep or a rerun knows to do it again.
    [run] = ResultStore(tmp_path / "s.sqlite").runs().itertuples()
    assert run.status == "incomplete" and run.n_decisions == len(decisions)
