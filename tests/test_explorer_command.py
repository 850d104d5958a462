"""The command the Explorer prints runs as printed and gives the panel's decisions."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from workbench.studies import STUDIES
from workbench.widgets import Explorer

SENTENCE = "Be honest, always."


def set_sandbox(panel: Explorer) -> None:
    """Rule members only, a norm sentence with a comma, a non-default mix (a list)."""
    c = panel.controls
    c["mix"].value = ("rule:majority=3", "rule:committed:B=1", "rule:conformist:0.3=1")
    c["members"].value = 9
    c["k"].value = 2
    c["norm"].value = SENTENCE
    c["question"].value = "park"
    c["rounds"].value = 3
    c["replicates"].value = 2


def set_asch(panel: Explorer) -> None:
    """A rule subject, a list of norms one of which has a comma, non-default sizes."""
    c = panel.controls
    c["model"].value = "rule:conformist:0.3"
    c["subjects"].value = 1
    c["majority"].value = "0,2"
    norms = next(c[f] for f in ("norms", "norm") if f in c)
    norms.value = (SENTENCE, "private")


def decisions(folder: Path, study: str) -> pd.DataFrame:
    """A run's decisions table as written to CSV, without its run id."""
    return pd.read_csv(folder / f"{study}_decisions.csv").drop(columns="run_id")


@pytest.mark.parametrize(("study", "settle"), [("sandbox", set_sandbox), ("asch", set_asch)])
def test_the_printed_command_runs_and_gives_the_panels_decisions(study, settle, tmp_path):
    panel = Explorer(studies={study: STUDIES[study]})
    settle(panel)
    panel.seed.value = "7"
    config = panel.config()
    assert SENTENCE in str(config)  # the comma survived into the config
    argv = shlex.split(panel.command_line())
    assert argv[:3] == ["workbench", "run", study] and "--seed=7" in argv

    out = tmp_path / "cli"
    done = subprocess.run(
        [sys.executable, "-m", "workbench.cli", *argv[1:]]
        + ["--no-store", "--out", str(out), "--no-progress"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr

    panel.run_button.click()
    result = panel.wait(120)
    assert panel.error is None, panel.status.value
    assert result.config == config and result.seed == 7 and result.complete
    result.save(tmp_path / "panel")
    pd.testing.assert_frame_equal(decisions(out, study), decisions(tmp_path / "panel", study))
    assert len(result.decisions) > 0
