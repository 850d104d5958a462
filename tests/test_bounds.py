"""Sizes and numbers have bounds: a run too big for memory, or a number that is no number,
is one line on stderr and exit status 2 (a ConfigError in Python), never a MemoryError,
OverflowError or ValueError traceback, and nothing is stored."""

from __future__ import annotations

import contextlib
import io
import math

import pytest

import workbench.commands
from workbench import cli
from workbench.commands import run as run_command
from workbench.errors import ConfigError
from workbench.society.checks import (
    MAX_MEMBERS,
    MAX_ROWS,
    MAX_TIES,
    MEMORY_BUDGET,
    ROW_BYTES,
    check_network,
    check_rows,
    expected_ties,
    whole_number,
)
from workbench.society.opinion import NO_TOPIC, OpinionTask
from workbench.store import ResultStore
from workbench.studies.asch import AschConfig
from workbench.studies.conventions import ConventionsConfig
from workbench.studies.minority import MinorityConfig
from workbench.studies.polarization import PolarizationConfig
from workbench.studies.sandbox import SandboxConfig


@pytest.fixture(autouse=True)
def _run_registered(monkeypatch):
    if run_command not in workbench.commands.COMMANDS:  # until the dispatcher lists it
        monkeypatch.setattr(
            workbench.commands, "COMMANDS", [*workbench.commands.COMMANDS, run_command]
        )


#: A rule population per study, so that nothing would need a model.
RULE = {
    "asch": ["--model", "rule:truthful"],
    "conventions": ["--populations", "rule:memory"],
    "minority": ["--populations", "rule:naming_game"],
    "polarization": ["--populations", "rule:degroot"],
}

CRASHES = [
    ("conventions", ["--sizes", "10000000"], "--sizes 10000000 is more than 100,000"),
    ("minority", ["--members", "10000000"], "--members 10000000 is more than 100,000"),
    ("polarization", ["--members", "10000000"], "--members 10000000 is more than 100,000"),
    ("polarization", ["--rounds", "1e9"], "--rounds"),
    ("polarization", ["--rounds", "1000000000"], "--rounds at most 209,714"),
    ("asch", ["--subjects", "10000000"], "decision rows"),
    ("conventions", ["--sizes", "20000", "--horizon", "1"], "on a complete network"),
    ("polarization", ["--members=50000", "--topologies=complete", "--rounds=1"], "ties"),
    *(
        (study, [f"--horizon={value}"], message)
        for study in ("conventions", "minority")
        for value, message in (
            ("nan", "--horizon must be a finite number, got nan"),
            ("inf", "--horizon must be a finite number, got inf"),
            ("-inf", "--horizon must be a finite number, got -inf"),
            ("1e12", "decision rows"),
            ("0", "--horizon must be above 0"),
        )
    ),
    ("conventions", ["--temperature", "nan"], "--temperature must be a finite number"),
    ("minority", ["--takeover", "nan"], "--takeover must be a finite number"),
    ("polarization", ["--homophily", "inf"], "--homophily must be a finite number"),
    ("asch", ["--temperature", "1e300"], "--temperature must be at least 0 and at most"),
]


def invoke(argv: list[str]) -> tuple[int, str]:
    """Run ``workbench argv`` in-process: its exit status and stderr."""
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            status = cli.main(argv)
        except SystemExit as exc:  # argparse's own errors (an int flag given 1e9)
            status = exc.code
    return status, err.getvalue()


@pytest.mark.parametrize(
    ("study", "flags", "message"), CRASHES, ids=[f"{s} {' '.join(f)}" for s, f, _ in CRASHES]
)
def test_too_big_or_not_a_number_is_one_line_exit_2_and_nothing_stored(
    tmp_path, study, flags, message
):
    store = tmp_path / "s.sqlite"
    argv = ["run", study, *RULE[study], *flags, "--seed", "1", "--no-progress"]
    status, err = invoke([*argv, "--store", str(store), "--out", str(tmp_path / "out")])
    assert status == 2, err
    assert err.startswith("workbench: error:") and err.count("\n") == 1, err
    assert "Traceback" not in err and message in err, err
    assert not store.exists() or ResultStore(store).runs().empty


def test_the_bounds_say_where_they_come_from():
    assert MAX_ROWS == MEMORY_BUDGET // ROW_BYTES == 4_194_304
    _, err = invoke(["run", "conventions", *RULE["conventions"], "--horizon", "1e12"])
    assert "more than the 4,194,304 a run can hold in memory (8 GiB at ~2 KiB a row)" in err
    assert "--horizon at most" in err  # and how far to lower it
    _, err = invoke(["run", "conventions", *RULE["conventions"], "--sizes", "10000000"])
    assert "members a society can hold in memory" in err and "use at most 100,000" in err


# -- Python: the config constructors ------------------------------------------------------

CONFIGS = {
    "asch": (AschConfig, {"model": "rule:truthful"}),
    "conventions": (ConventionsConfig, {"populations": ("rule:memory",)}),
    "minority": (MinorityConfig, {"populations": ("rule:naming_game",)}),
    "polarization": (PolarizationConfig, {"populations": ("rule:degroot",)}),
    "sandbox": (SandboxConfig, {"mix": ("rule:majority=3", "rule:committed:B=1")}),
}

BAD = [
    ("conventions", {"sizes": (10**7,)}),
    ("minority", {"members": 10**7}),
    ("polarization", {"members": 10**7}),
    ("sandbox", {"members": 10**7}),
    ("polarization", {"rounds": 1e9}),  # a float, as Python or a sweep grid may give it
    ("polarization", {"rounds": 2.5}),
    ("polarization", {"rounds": 10**9}),
    ("sandbox", {"rounds": 1e9}),
    ("sandbox", {"replicates": 10**9}),
    ("asch", {"subjects": 1e9}),
    ("asch", {"subjects": 10**400}),  # no OverflowError converting it to a float
    ("conventions", {"runs": 10**400}),
    *((s, {"horizon": h}) for s in ("conventions", "minority") for h in (math.nan, math.inf)),
    *((s, {"horizon": h}) for s in ("conventions", "minority") for h in (1e12, 1e308, "1e12")),
    ("minority", {"establish": 10**12}),
    ("conventions", {"names": 10**9}),
    ("conventions", {"memory": math.inf}),
    ("polarization", {"memory": 2.5}),
    ("asch", {"majority": (2.5,)}),
    ("asch", {"majority": (math.inf,)}),
    ("asch", {"memory": True}),
    ("asch", {"subjects": "lots"}),
    ("polarization", {"rewire": math.nan}),
    ("polarization", {"degree": 10**9}),
    ("sandbox", {"p": math.nan}),
    ("sandbox", {"k": 10**9}),
    ("sandbox", {"temperature": math.inf}),
    ("sandbox", {"members": 50_000, "topology": "complete"}),
    ("minority", {"members": 50_000}),  # complete by default
]


@pytest.mark.parametrize(("study", "bad"), BAD, ids=[f"{s} {b}"[:60] for s, b in BAD])
def test_config_rejects_the_number_with_one_line_naming_the_flag(study, bad):
    config, base = CONFIGS[study]
    with pytest.raises(ConfigError) as info:
        config(**{**base, **bad})
    message = str(info.value)
    assert "\n" not in message and len(message) < 400, message
    named = [f"--{k.replace('_', '-')}" for k in bad]
    generic = ("decision rows", "ties", "at least")
    assert any(f in message for f in named) or any(g in message for g in generic), message


@pytest.mark.parametrize("study", list(CONFIGS))
def test_defaults_stay_valid_and_whole_floats_become_ints(study):
    config, base = CONFIGS[study]
    config(**base)
    whole = {
        "asch": "subjects",
        "conventions": "runs",
        "minority": "members",
        "polarization": "rounds",
        "sandbox": "rounds",
    }[study]
    made = config(**base, **{whole: 4.0})
    assert getattr(made, whole) == 4 and type(getattr(made, whole)) is int


def test_the_largest_examples_of_the_tests_and_notebooks_fit():
    ConventionsConfig(
        populations=("rule:naming_game",), sizes=(32, 64, 128, 256), names=512, runs=8, horizon=400
    )
    PolarizationConfig(
        populations=tuple(f"rule:deffuant:{d}" for d in (0.1, 0.15, 0.2, 0.25, 0.3)),
        topologies=("complete",),
        members=200,
        rounds=100,
        runs=1,
        initial="uniform",
    )
    MinorityConfig(populations=("rule:naming_game", "rule:memory"), members=24, runs=8, horizon=30)
    AschConfig(model="rule:truthful", subjects=100, majority=(0, 1, 2, 3, 4, 8, 15), ally=(3,))


def test_helpers():
    assert whole_number("12", "members") == 12 and whole_number(3.0, "members") == 3
    with pytest.raises(ConfigError, match="members must be at least 1, got 0"):
        whole_number(0, "members", 1)
    with pytest.raises(ConfigError, match=r"--top-k 1\.00e\+30 is more than 5; use at most 5"):
        whole_number(10**30, "top_k", 0, 5)
    check_rows(MAX_ROWS, "x", "y")
    with pytest.raises(ConfigError, match=r"--rounds at most 1,000 with the rest"):
        check_rows(MAX_ROWS + 1, "--rounds x 4194", "--rounds", most=("rounds", 4194, 0))
    assert expected_ties("complete", 10) == 45 and expected_ties("ring", 10, k=4) == 20
    assert expected_ties("erdos_renyi", 10, p=0.2) == 9
    check_network("ring", MAX_MEMBERS, k=4)
    n = math.isqrt(2 * MAX_TIES)
    with pytest.raises(ConfigError, match=f"use at most {n:,} members"):
        check_network("complete", 2 * n)
    with pytest.raises(ConfigError, match="--rounds must be a whole number"):
        OpinionTask.about(NO_TOPIC, 2.5)
    assert len(OpinionTask.about(NO_TOPIC, 3.0)) == 3


def test_a_sweep_grid_of_floats_is_bounded_too():
    from workbench.sweep import Sweep

    base = PolarizationConfig(populations=("rule:degroot",))
    with pytest.raises(ConfigError, match="decision rows"):
        Sweep("polarization", {"rounds": [4, 1e9]}, config=base).runs()
    runs = Sweep("polarization", {"rounds": [4.0]}, config=base).runs()
    assert runs[0].config.rounds == 4
