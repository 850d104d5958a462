"""Bad input never gives a traceback: property tests of the CLI and the config constructors.

Hypothesis drives ``workbench.cli.main`` in-process with malformed values (negative sizes,
unknown topologies, models and rules, malformed persona files, bad grid syntax): the answer
must always be one line on stderr starting ``workbench: error:`` and exit status 2. The
config constructors must raise :class:`~workbench.errors.ConfigError` with a one-line
message. Last, two sweep processes writing to one result store at once lose nothing.
"""

from __future__ import annotations

import contextlib
import io
import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import workbench.commands
from workbench import cli
from workbench.commands import run as run_command
from workbench.errors import ConfigError
from workbench.llm import GatewayConfig
from workbench.society import (
    EXCHANGES,
    KINDS,
    RULES,
    SCHEDULES,
    Situation,
    Topology,
    make_person,
    resolve_persona,
)
from workbench.store import ResultStore
from workbench.studies.asch import AschConfig
from workbench.sweep import Sweep, parse_grid

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
RULE = ["--model", "rule:truthful", "--subjects", "1"]


@pytest.fixture(autouse=True)
def _run_registered(monkeypatch):
    if run_command not in workbench.commands.COMMANDS:  # until the dispatcher lists it
        monkeypatch.setattr(
            workbench.commands, "COMMANDS", [*workbench.commands.COMMANDS, run_command]
        )


def invoke(argv: list[str]) -> tuple[int, str]:
    """Run ``workbench argv`` in-process; its exit status and stderr."""
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            status = cli.main(argv)
        except SystemExit as exc:  # argparse's own errors
            status = exc.code
    return status, err.getvalue()


def assert_one_line_error(argv: list[str]) -> str:
    status, err = invoke(argv)
    assert "Traceback" not in err, err
    assert status == 2, (argv, status, err)
    assert err.startswith("workbench: error:") and err.count("\n") == 1, err
    return err


# -- strategies ----------------------------------------------------------------------------

negative = st.integers(max_value=-1)
words = st.text(string.ascii_letters + string.digits + "_-:.", min_size=1, max_size=12)
anything = st.text(min_size=1, max_size=20).filter(lambda s: not s.startswith("-"))


KNOWN = {*KINDS, *SCHEDULES, *EXCHANGES, *RULES}
COMMANDS = {"demo", "models", "results", "run", "sweep"}


def not_a_topology(text: str) -> bool:
    return text not in KNOWN and not text.startswith("-")


def unknown_rule(word: str) -> str:
    return f"rule:{word}"


# -- the command line ----------------------------------------------------------------------


@SETTINGS
@given(
    flag=st.sampled_from(
        ["--subjects", "--memory", "--majority", "--ally", "--concurrency", "--gateway-workers"]
    ),
    value=negative,
)
def test_run_with_negative_sizes(flag, value):
    assert_one_line_error(["run", "asch", *RULE, flag, str(value), "--no-store"])


@SETTINGS
@given(
    flag=st.sampled_from(["--seeds", "--workers", "--concurrency", "--first-seed"]),
    value=st.integers(max_value=0),
)
def test_sweep_with_non_positive_counts(tmp_path, flag, value):
    if flag == "--first-seed" and value == 0:
        value = -1
    extra = ["--executor", "process"] if flag == "--workers" else []
    argv = ["sweep", "asch", *RULE, flag, str(value), *extra, "--store", str(tmp_path / "s")]
    assert_one_line_error(argv)


@SETTINGS
@given(kind=anything.filter(not_a_topology))
def test_unknown_topology(kind):
    err = assert_one_line_error(["run", "asch", *RULE, "--topology", kind, "--no-store"])
    assert "unknown topology" in err or "invalid" in err


@SETTINGS
@given(
    model=st.one_of(
        words.map(unknown_rule).filter(lambda m: m.split(":")[1] not in RULES),
        st.sampled_from(["rule:conformist:2", "rule:conformist:x", "rule:committed:", ""]),
        st.from_regex(r"local/[a-z][a-z0-9_]{0,10}", fullmatch=True),
    )
)
def test_unknown_model_or_rule(tmp_path, model):
    argv = ["run", "asch", "--model", model, "--subjects", "1", "--majority", "1"]
    argv += ["--ally", "none", "--no-store", "--no-progress", "--out", str(tmp_path)]
    assert_one_line_error(argv)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


def malformed_persona_files() -> st.SearchStrategy[bytes]:
    """Bytes that are not a valid persona file (every one of them is malformed)."""
    not_utf8 = st.binary(min_size=1, max_size=40).map(lambda b: b"\xff" + b)
    not_json = st.text(min_size=1, max_size=40).filter(_not_json).map(_encode)
    scalar = (st.none() | st.booleans() | st.integers() | st.text()).map(_dump)
    bad_item = json_values.filter(lambda v: not (isinstance(v, dict) and _good_item(v))).map(
        lambda v: _dump([{"name": "ok", "text": "fine"}, v])
    )
    bad_mapping = st.dictionaries(
        st.text(min_size=1).filter(lambda k: k != "personas"),
        json_values.filter(lambda v: not isinstance(v, str)),
        min_size=1,
        max_size=3,
    ).map(_dump)
    return st.one_of(not_utf8, not_json, scalar, bad_item, bad_mapping)


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate is not UTF-8: also bad


def _dump(value) -> bytes:
    return json.dumps(value).encode()


def _not_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


def _good_item(item: dict) -> bool:
    name, text = item.get("name"), item.get("text")
    return isinstance(name, str) and isinstance(text, str) and bool(name.strip())


@SETTINGS
@given(content=malformed_persona_files())
def test_malformed_persona_file(tmp_path, content):
    path = tmp_path / "personas.json"
    path.write_bytes(content)
    err = assert_one_line_error(["run", "asch", *RULE, "--persona-file", str(path)])
    assert "persona" in err
    with pytest.raises(ConfigError):
        resolve_persona("none", path)


@SETTINGS
@given(
    spec=st.one_of(
        anything.filter(lambda s: "=" not in s),  # no '='
        st.builds(lambda k, v: f"{k}={v}", words.filter(lambda k: k not in _ASCH_FIELDS), words),
        st.builds(lambda v: f"subjects={v}", words.filter(lambda v: not _is_int(v))),
        st.builds(lambda v: f"majority=1,{v},3", st.sampled_from(["", " ", "x", "1.5"])),
        st.sampled_from(["subjects=", "=1,2", "temperature=hot", "subjects=0", "subjects=-4"]),
    )
)
def test_bad_grid_syntax(tmp_path, spec):
    argv = ["sweep", "asch", *RULE, "--grid", spec, "--store", str(tmp_path / "s.sqlite")]
    assert_one_line_error([*argv, "--no-progress"])
    assert not (tmp_path / "s.sqlite").exists()  # nothing ran


_ASCH_FIELDS = {f.replace("_", "-") for f in AschConfig.__dataclass_fields__} | set(
    AschConfig.__dataclass_fields__
)


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


@SETTINGS
@given(argv=st.lists(anything, min_size=1, max_size=4).filter(lambda a: a[0] not in COMMANDS))
def test_garbage_arguments(argv):
    status, err = invoke(argv)
    assert "Traceback" not in err
    assert status == 2 and err.count("\n") == 1


# -- the config constructors ---------------------------------------------------------------


def one_line(exc: pytest.ExceptionInfo) -> None:
    assert "\n" not in str(exc.value) and str(exc.value)


@SETTINGS
@given(
    field=st.sampled_from(["subjects", "memory", "temperature", "majority", "ally"]),
    value=negative,
)
def test_asch_config_rejects_negative_values(field, value):
    kwargs = {field: (value,) if field in ("majority", "ally") else value}  # an LLM subject
    with pytest.raises(ConfigError) as exc:
        AschConfig(**kwargs)
    one_line(exc)


@SETTINGS
@given(
    kind=anything.filter(not_a_topology),
    memory=negative,
    p=st.floats(allow_nan=False).filter(lambda p: not 0 <= p <= 1),
)
def test_society_constructors_reject_bad_values(kind, memory, p):
    for make in (
        lambda: Topology(kind),
        lambda: Topology("erdos_renyi", p=p),
        lambda: Situation(memory=memory),
        lambda: Situation(schedule=kind),
        lambda: Situation(exchange=kind),
        lambda: AschConfig(model="rule:truthful", topology=kind),
        lambda: make_person("rule:" + kind.replace(":", "")),
    ):
        with pytest.raises(ConfigError) as exc:
            make()
        one_line(exc)


@SETTINGS
@given(concurrency=st.integers(max_value=0), seeds=st.integers(max_value=0))
def test_gateway_and_sweep_constructors_reject_bad_values(concurrency, seeds):
    with pytest.raises(ConfigError):
        GatewayConfig(concurrency=concurrency)
    with pytest.raises(ConfigError):
        Sweep("asch", seeds=seeds)
    with pytest.raises(ConfigError):
        parse_grid([f"subjects{seeds}"], AschConfig)
    with pytest.raises(ConfigError):
        Sweep("asch", {"subjects": [seeds]}).runs()


# -- two writers, one store ----------------------------------------------------------------


def test_two_sweep_processes_on_one_store_lose_nothing(tmp_path):
    from test_sweep import DECISIONS_PER_RUN, check_whole, run_tally, tally_script

    script, path = tally_script(tmp_path), tmp_path / "shared.sqlite"
    first = run_tally(script, path, 0, 6, delay=0.02)  # seeds 0-5
    second = run_tally(script, path, 3, 6, delay=0.02)  # seeds 3-8: 3 seeds overlap
    counts = []
    for proc in (first, second):
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        counts.append(json.loads(out.strip().splitlines()[-1]))
    runs = check_whole(ResultStore(path))
    assert len(runs) == 2 * 9  # p in {0.2, 0.8} x seeds 0-8, each exactly once
    assert sum(c.get("ran", 0) for c in counts) == 18  # no run written twice
    assert all(sum(c.values()) == 12 for c in counts)
    assert runs.n_decisions.eq(DECISIONS_PER_RUN).all()


@pytest.mark.parametrize("value", ["nan", "inf", "-0.5"])
def test_temperature_must_be_a_finite_non_negative_number(value):
    status, err = invoke(["run", "asch", "--model", "local/smollm2-135m", "--temperature", value])
    assert status == 2 and err.count("\n") == 1 and "temperature" in err
