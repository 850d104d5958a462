"""Granovetter's threshold study: the worked example of docs/adding-a-study.md.

The study is one module (workbench/studies/thresholds.py) plus this test; the contract
(seeds, columns, CLI, sweep, references) is checked for it by tests/test_conformance.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from workbench.errors import ConfigError
from workbench.studies import STUDIES
from workbench.studies.thresholds import ThresholdsConfig, ThresholdsStudy, thresholds
from workbench.sweep import Sweep


@pytest.mark.parametrize(("condition", "joined"), [("uniform", 100), ("perturbed", 1)])
def test_granovetters_hundred_rioters(condition, joined):
    """Thresholds 0..99: all 100 riot; the threshold 1 made 2: only the instigator [1]."""
    result = ThresholdsStudy(ThresholdsConfig(conditions=(condition,)), seed=1).run()
    row = result.summary.iloc[0]
    assert row.joined == row.published_joined == joined
    # the cascade adds exactly one rioter a round, then one quiet round shows it stopped
    assert row.rounds == (joined + 1 if condition == "uniform" else 2)


def test_the_cascade_is_the_threshold_order():
    result = ThresholdsStudy(ThresholdsConfig(members=10, conditions=("uniform",)), seed=1).run()
    d = result.decisions
    first_join = d[d.choice == "join"].groupby("member").step.min().sort_values()
    assert list(first_join) == list(range(1, 11))  # threshold k joins in round k + 1
    assert thresholds(10, "perturbed")[:3] == [0, 2, 2]


def test_a_sweep_over_crowd_sizes():
    sweep = Sweep("thresholds", {"members": [5, 12]}, seeds=1)
    result = sweep.run(progress=False)
    summary = result.summaries()
    uniform = summary[summary.condition == "uniform"]
    assert sorted(uniform.joined) == [5, 12]


def test_bad_settings_are_one_line_errors():
    with pytest.raises(ConfigError, match="unknown condition 'riot'"):
        ThresholdsConfig(conditions=("riot",))
    with pytest.raises(ConfigError, match="members must be at least 3"):
        ThresholdsConfig(members=2)
    with pytest.raises(ConfigError, match="a threshold is 0 or more people"):
        ThresholdsConfig(model="rule:threshold:-1")


def test_a_study_outside_the_package_is_a_plugin(tmp_path):
    """A module named in $WORKBENCH_PLUGINS registers its study for the CLI."""
    plugin = tmp_path / "quiet_crowd.py"
    plugin.write_text(
        textwrap.dedent(
            '''
            """A crowd of ten: the thresholds study at another default size.

            References
            ----------
            .. [1] M. Granovetter, American Journal of Sociology 83(6), 1420-1443 (1978).
            """
            from workbench.studies import register_study
            from workbench.studies.thresholds import ThresholdsStudy


            @register_study
            class QuietCrowd(ThresholdsStudy):
                """The threshold model on a crowd of ten."""

                name = "quiet_crowd"
            '''
        )
    )
    env = {**os.environ, "WORKBENCH_PLUGINS": str(plugin)}
    argv = ["run", "quiet_crowd", "--members=10", "--no-store", "--no-progress"]
    out = subprocess.run(
        [sys.executable, "-m", "workbench.cli", *argv, "--out", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "uniform" in out.stdout and (tmp_path / "quiet_crowd_summary.csv").exists()
    assert "quiet_crowd" not in STUDIES  # this process never imported the plugin


def test_a_broken_plugin_is_one_line(tmp_path):
    env = {**os.environ, "WORKBENCH_PLUGINS": str(tmp_path / "missing.py")}
    out = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "run", "thresholds", "--help"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "plugin" in out.stderr and "missing.py" in out.stderr
