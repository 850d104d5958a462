"""One conformance suite over every registered study and rule (cf. scikit-learn's
``parametrize_with_checks``): a study or rule that is registered is checked here, with no
test of its own needed for the contract. Each study runs its own ``example`` setting."""

from __future__ import annotations

import dataclasses
import typing

import matplotlib
import pandas as pd
import pytest

from workbench import config
from workbench.cli import main
from workbench.errors import ConfigError
from workbench.society import make_person
from workbench.society.checks import check_policy
from workbench.society.persons import RULES, RulePerson, is_rule, rule_examples
from workbench.studies import STUDIES, check_study
from workbench.sweep import Sweep

matplotlib.use("Agg")

STUDY_NAMES = list(STUDIES)
RULE_SPECS = rule_examples()


def example(study_cls, **more):
    return study_cls(config.make(study_cls.Config, {**study_cls.example, **more}), seed=3)


@pytest.mark.parametrize("name", STUDY_NAMES)
def test_study_config_follows_the_field_rules(name):
    study_cls = STUDIES[name]
    cfg = study_cls.Config
    assert dataclasses.is_dataclass(cfg) and cfg.__dataclass_params__.frozen
    specs = config.fields_of(cfg)
    hints = typing.get_type_hints(cfg)
    for field, spec in specs.items():
        assert spec.help, f"{name}.{field} has no help text"
        if field in config.SHARED:  # shared fields: one name, one type in every study
            assert hints[field] == config.SHARED[field][0], f"{name}.{field}: {hints[field]}"
        # every default survives the trip through its text form (the CLI, a printed command)
        assert config.parse(config.to_text(spec.default), spec) == spec.default, field
    assert study_cls.example, f"{name} needs an example setting"
    assert set(study_cls.example) <= set(specs)


@pytest.mark.parametrize("name", STUDY_NAMES)
def test_study_example_runs_and_repeats(name):
    study = example(STUDIES[name])
    assert all(is_rule(m) for m in study.models()), f"{name}.example must be rule-only"
    result = check_study(study)  # seed reproducibility, unit contract, tidy columns
    assert not result.summary.empty
    assert isinstance(study.table(result.summary), pd.DataFrame)
    fig = study.plot(result)
    if fig is not None:  # a plot or a sensible no-plot path
        import matplotlib.pyplot as plt

        assert fig.axes
        plt.close(fig)


@pytest.mark.parametrize("name", STUDY_NAMES)
def test_study_cites_its_source(name):
    study_cls = STUDIES[name]
    module = __import__(study_cls.__module__, fromlist=["_"])
    assert "References" in (module.__doc__ or "") + (study_cls.__doc__ or ""), name


@pytest.mark.parametrize("name", STUDY_NAMES)
def test_study_is_reachable_from_cli_and_sweep(name, tmp_path, capsys):
    study_cls = STUDIES[name]
    cfg = example(study_cls).config
    argv = ["run", name, *config.to_argv(cfg), "--seed=3", "--no-progress"]
    assert main([*argv, "--out", str(tmp_path), "--no-store"]) == 0
    printed = pd.read_csv(tmp_path / f"{name}_summary.csv")
    in_process = example(study_cls).run().summary
    assert list(printed.columns) == list(in_process.columns)
    assert len(printed) == len(in_process)
    field = next(iter(study_cls.example))
    sweep = Sweep(name, {field: [study_cls.example[field]]}, seeds=1, config=cfg)
    result = sweep.run(progress=False)
    assert result.complete and len(result.runs) == 1


@pytest.mark.parametrize("spec", RULE_SPECS)
def test_rule_conforms(spec):
    person = make_person(spec)
    assert isinstance(person, RulePerson)
    assert make_person(person.model) == person  # the spec round-trips
    check_policy(person)


def test_every_registered_rule_has_a_buildable_example():
    assert [s.removeprefix("rule:").split(":")[0] for s in RULE_SPECS] == list(RULES)


def test_registering_inside_a_scope_leaves_no_trace():
    @dataclasses.dataclass(frozen=True)
    class Contrarian(RulePerson):
        kind: typing.ClassVar[str] = "contrarian_test"

        def probabilities(self, observation):
            return tuple(1.0 / len(observation.options) for _ in observation.options)

    with RULES.scope():
        RULES.register(Contrarian)
        assert make_person("rule:contrarian_test") == Contrarian()
    assert "contrarian_test" not in RULES
    with pytest.raises(ConfigError, match="unknown rule 'contrarian_test'"):
        make_person("rule:contrarian_test")


def test_a_taken_name_cannot_be_replaced():
    @dataclasses.dataclass(frozen=True)
    class Impostor(RulePerson):
        kind: typing.ClassVar[str] = "truthful"

        def probabilities(self, observation):
            return ()

    with pytest.raises(ConfigError, match="rule 'truthful' is already registered"):
        RULES.register(Impostor)
    assert RULES["truthful"] is not Impostor
