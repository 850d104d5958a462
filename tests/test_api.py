"""The public top level, named random streams, and testing a user's study without a model."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

import workbench
from workbench.errors import ConfigError
from workbench.random import STREAMS, generator, seed_for
from workbench.society import Round, Situation, Society, Task, make_person
from workbench.studies import Study, Unit, unit_seed
from workbench.testing import ScriptedGateway, always, leaning


def test_import_workbench_loads_nothing_else():
    code = (
        "import sys, workbench; print(sorted(m for m in sys.modules"
        " if m.startswith(('workbench.', 'litellm', 'mesa', 'pandas'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_top_level_names_resolve_and_are_listed():
    assert set(workbench.__all__) <= set(dir(workbench))
    assert "importlib" not in dir(workbench) and "logging" not in dir(workbench)
    for name in workbench.__all__:
        assert getattr(workbench, name) is not None
    assert workbench.Design is __import__("workbench.design").design.Design
    assert "asch" in workbench.STUDIES
    with pytest.raises(AttributeError):
        workbench.Nothing  # noqa: B018


def test_run_builds_the_config_from_keywords():
    first = workbench.run("asch", model="rule:conformist:0.3", subjects=3, seed=5)
    again = workbench.run(
        workbench.STUDIES.get("asch"), model="rule:conformist:0.3", subjects="3", seed=5
    )
    assert isinstance(first, workbench.StudyResult) and first.status == "complete"
    assert first.config.subjects == 3
    pd.testing.assert_frame_equal(
        first.decisions.drop(columns="run_id"), again.decisions.drop(columns="run_id")
    )


@pytest.mark.parametrize(
    ("study", "fields", "match"),
    [("nosuch", {}, "nosuch"), ("asch", {"colour": "red"}, "unknown field 'colour'")],
)
def test_run_refuses_unknown_studies_and_fields(study, fields, match):
    with pytest.raises(ConfigError, match=match):
        workbench.run(study, seed=1, **fields)


# --- named random streams --------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 7, 2**40 + 3])
def test_named_streams_keep_the_seeds_of_their_integer_keys(seed):
    assert seed_for(seed, "unit", 4) == unit_seed(seed, 4)
    assert seed_for(seed, "network") == unit_seed(seed, 7)
    assert seed_for(seed, "minority.order") == unit_seed(seed, 3)
    assert seed_for(seed, "conventions.game", 2) == unit_seed(seed, 0, 2)
    assert seed_for(seed, "conventions.prior", 1) == unit_seed(seed, 1, 1)
    assert seed_for(seed, "design.cell", 123456) == unit_seed(seed, 123456)
    for name, key in [("asch.stimuli", (1,)), ("polarization.redraw", (2, 5))]:
        ours = generator(seed, name, *key[1:]).random(3)
        theirs = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key)).random(3)
        np.testing.assert_array_equal(ours, theirs)


def test_generator_without_names_is_default_rng():
    rng = np.random.default_rng(3)
    assert generator(rng) is rng
    assert generator(3).random() == np.random.default_rng(3).random()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: seed_for(1, "nosuch"), "unknown random stream 'nosuch'"),
        (lambda: seed_for(1, -2), "non-negative integer"),
        (lambda: seed_for(-1, "unit"), "non-negative integer seed"),
        (lambda: generator(np.random.default_rng(1), "unit"), "integer seed"),
        (lambda: generator("1"), "seed must be"),
    ],
)
def test_stream_errors_are_one_line(call, match):
    with pytest.raises(ConfigError, match=match) as info:
        call()
    assert "\n" not in str(info.value)


def test_every_stream_name_has_a_key():
    assert all(
        isinstance(k, tuple) and all(isinstance(i, int) for i in k) for k in STREAMS.values()
    )


# --- a user's study on the scripted gateway -----------------------------------------


@dataclass(frozen=True)
class JuryConfig:
    """A jury of LLM members beside two rule members who always answer B."""

    model: str = "my-provider/my-model"
    jurors: int = 3
    rounds: int = 2


class JuryStudy(Study):
    """A study as a user writes one: not registered, built from the library's parts."""

    name = "jury"
    Config = JuryConfig

    def models(self) -> list[str]:
        return [self.config.model]

    def units(self, seed: int) -> list[Unit]:
        return [Unit(i, {"jury": i}, 0, seed_for(seed, "unit", i)) for i in range(2)]

    def build(self, unit, gateway=None, run_id=""):
        cfg = self.config
        persons = [make_person(cfg.model)] * cfg.jurors + [make_person("rule:committed:B")] * 2
        task = Task(
            [Round("Guilty (A) or not guilty (B)?\nA: guilty\nB: not guilty", options=("A", "B"))]
            * cfg.rounds,
            name="jury",
        )
        return Society(
            persons,
            task,
            Situation(),
            seed=unit.seed,
            gateway=gateway,
            conditions=unit.conditions,
            run_id=run_id,
        )

    def summarize(self, decisions: pd.DataFrame, seed: int) -> pd.DataFrame:
        return decisions.groupby("jury")["choice"].apply(lambda c: (c == "A").mean()).reset_index()


def test_a_users_study_runs_on_the_scripted_gateway():
    gateway = always("A")
    assert isinstance(gateway, workbench.Gateway)
    result = JuryStudy(seed=3).run(gateway)
    assert result.status == "complete"
    llm = result.decisions[result.decisions["model"] == "my-provider/my-model"]
    assert len(llm) == 2 * 3 * 2 and set(llm["choice"]) == {"A"}
    assert len(gateway.requests) == len(llm)  # rule members never reach the gateway
    assert result.summary["choice"].tolist() == [0.6, 0.6]  # 3 of 5 answer A


def test_a_scripted_answer_can_read_the_prompt():
    def answer(request):
        top = "B" if "B" in request.messages[-1]["content"].split("answered")[-1] else "A"
        return top, leaning(request.options, top, 0.8)

    gateway = ScriptedGateway(answer)
    out = JuryStudy(JuryConfig(jurors=2, rounds=1), seed=1).run(gateway)
    assert len(gateway.batches) == 2  # one batch per society step (2 units x 1 round)
    assert out.decisions["valid"].all()
