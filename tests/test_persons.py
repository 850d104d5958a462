"""Persons, personas and the shared rule-policy conformance check."""

import json

import numpy as np
import pytest

from workbench.errors import ConfigError
from workbench.society import (
    RULES,
    Committed,
    Confederate,
    Conformist,
    LLMPerson,
    Majority,
    MemoryMajority,
    NamingGame,
    Observation,
    Round,
    Task,
    Truthful,
    load_personas,
    make_person,
    resolve_persona,
)
from workbench.society.checks import check_policy
from workbench.society.opinion import Deffuant, DeGroot, HegselmannKrause

POLICIES = [
    Truthful(),
    Majority(),
    Conformist(0.0),
    Conformist(0.4),
    Conformist(1.0),
    Committed("A"),
    Confederate(),
    NamingGame(),
    MemoryMajority(),
    DeGroot(),
    HegselmannKrause(),
    Deffuant(),
]


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.model)
def test_every_rule_policy_passes_the_conformance_check(policy):
    check_policy(policy)


def test_the_policies_here_are_registered():
    # every registered rule, wherever it was defined, is checked by tests/test_conformance.py;
    # these are the parameter variants worth checking besides each rule's example
    assert {type(p) for p in POLICIES} <= set(RULES.values())


ROUND = Round("Which?", ("A", "B", "C"), correct="B", planted="C")
SEEN = (("P1", "C"), ("P2", "C"), ("P3", "A"))


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (Truthful(), (0, 1, 0)),
        (Majority(), (0, 0, 1)),
        (Conformist(0.25), (0, 0.75, 0.25)),
        (Committed("A"), (1, 0, 0)),
        (Confederate(), (0, 0, 1)),
    ],
)
def test_policies_give_their_distribution(policy, expected):
    assert np.allclose(policy.probabilities(Observation(ROUND, SEEN)), expected)


def test_majority_without_answers_tells_the_truth():
    assert Majority().decide(Observation(ROUND), np.random.default_rng(0)).choice == "B"


def test_make_person_parses_specs_and_persons():
    assert make_person("rule:conformist:0.3") == Conformist(0.3)
    assert make_person("rule:committed:B") == Committed("B")
    person = make_person("local/smollm2-135m", "team_player", temperature=0.5)
    assert isinstance(person, LLMPerson) and person.persona.name == "team_player"
    for bad in (
        "rule:nope",
        "rule:conformist:x",
        "rule:conformist:2",
        "rule:committed",
        "rule:truthful:1",
    ):
        with pytest.raises(ConfigError):
            make_person(bad)


def test_llm_person_builds_a_request_without_io():
    person = make_person("local/smollm2-135m", "independent_thinker")
    task = Task([ROUND], preamble="A test.")
    request = person.request(Observation(ROUND, SEEN), task, norm="Answers are public.")
    system, user = request.messages
    assert system["content"].startswith("You are an independent thinker")
    assert system["content"].endswith("Answers are public.")
    assert "P1 answered: C" in user["content"] and user["content"].endswith("A, B or C.")
    assert request.options == ("A", "B", "C") and len(request.hash) == 64


def test_persona_library_has_at_least_a_dozen():
    library = load_personas()
    assert len(library) >= 13 and "none" in library
    assert all(p.text for name, p in library.items() if name != "none")


def test_custom_and_unknown_personas():
    assert resolve_persona("none").text == ""
    assert resolve_persona("You love triangles.").name == "custom"
    with pytest.raises(ConfigError, match="unknown persona 'wizard'"):
        resolve_persona("wizard")


def test_user_persona_file(tmp_path):
    good = tmp_path / "p.json"
    good.write_text(json.dumps({"wizard": "You are a wizard."}))
    assert resolve_persona("wizard", good).text == "You are a wizard."
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON") as info:
        load_personas(bad)
    assert "\n" not in str(info.value)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps([{"name": "x"}]))
    with pytest.raises(ConfigError, match="needs string fields"):
        load_personas(wrong)
    with pytest.raises(ConfigError, match="cannot read"):
        load_personas(tmp_path / "missing.json")
