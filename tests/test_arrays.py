"""Array stepping (Society(arrays=True)) against the per-member path.

- synchronous and speaker-hearer steps make identical draws: the tables must be equal;
- random_pair draws differently: a Monte Carlo comparison of the naming game's
  interactions to convergence and names used, each within 4 standard errors;
- the voter model stepped in arrays: an opinion wins with its initial share (4 SE).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from workbench.errors import ConfigError
from workbench.society import NamingGame, Round, Situation, Society, Task
from workbench.society.arrays import RuleView
from workbench.society.coordination import coordination_game, name_pool, play
from workbench.society.engine import _levels
from workbench.society.opinion import NO_TOPIC, OpinionSociety, OpinionTask
from workbench.society.persons import RULES, make_person, rule_examples

TASK = Task(
    [
        Round("Which?", ("A", "B", "C"), correct="A", planted="B"),
        Round("Again?", ("A", "B", "C")),
    ]
)


def both(build, steps):
    tables = []
    for arrays in (False, True):
        society = build(arrays)
        society.run(steps)
        tables.append((society.decisions, society.datacollector.get_model_vars_dataframe()))
    return tables


@pytest.mark.parametrize(
    "spec",
    [
        "rule:truthful",
        "rule:majority",
        "rule:conformist:0.3",
        "rule:committed:C",
        "rule:confederate",
    ],
)
@pytest.mark.parametrize("lean", [False, True])
def test_synchronous_arrays_give_the_per_member_table(spec, lean):
    def build(arrays):
        persons = [make_person(spec) if i % 2 else make_person("rule:majority") for i in range(12)]
        situation = Situation(schedule="synchronous", topology="ring")
        return Society(persons, TASK, situation, seed=3, arrays=arrays, lean=lean)

    (a, ca), (b, cb) = both(build, 6)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    pd.testing.assert_frame_equal(ca, cb, check_exact=True)


@pytest.mark.parametrize("spec", ["rule:degroot", "rule:hk:0.3", "rule:deffuant:0.3", "rule:voter"])
def test_opinion_rules_in_arrays_give_the_per_member_table(spec):
    def build(arrays):
        initial = np.random.default_rng(1).random(15)
        return OpinionSociety(
            [make_person(spec)] * 15,
            OpinionTask.about(NO_TOPIC, 1),
            Situation(schedule="synchronous", topology="ring"),
            initial=initial,
            seed=4,
            arrays=arrays,
        )

    (a, _), (b, _) = both(build, 8)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert a[a.step > 0].value.notna().all() == (spec != "rule:voter")


def test_weighted_degroot_in_arrays_gives_the_per_member_table():
    n = 8
    trust = np.zeros((n, n))
    for i in range(n):
        trust[i, i], trust[i, (i + 1) % n], trust[i, (i - 1) % n] = 0.5, 0.3, 0.2

    def build(arrays):
        return OpinionSociety(
            [make_person("rule:degroot")] * n,
            OpinionTask.about(NO_TOPIC, 1),
            Situation(schedule="synchronous", topology="ring"),
            initial=np.linspace(0, 1, n),
            trust=trust,
            seed=1,
            arrays=arrays,
        )

    (a, _), (b, _) = both(build, 10)
    pd.testing.assert_frame_equal(a, b, check_exact=True)


@pytest.mark.parametrize("topology", ["complete", "ring"])
@pytest.mark.parametrize("lean", [False, True])
def test_speaker_hearer_arrays_give_the_per_member_game(topology, lean):
    def build(arrays):
        situation = Situation(schedule="speaker_hearer", memory=1000, topology=topology)
        game = coordination_game(name_pool(8))
        return Society([NamingGame()] * 20, game, situation, seed=5, arrays=arrays, lean=lean)

    (a, _), (b, _) = both(build, 30)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    played = []
    for arrays in (False, True):
        society = build(arrays)
        played.append((play(society, 5000), society.decisions))
    assert played[0][0] == played[1][0]
    pd.testing.assert_frame_equal(played[0][1], played[1][1], check_exact=True)


def test_every_registered_array_rule_decides_alone_through_its_array_form():
    # a lone decision is the one-row choose: the same choice and probabilities
    from workbench.society.checks import observations

    for spec in rule_examples():
        person = make_person(spec)
        if not person.arrays:
            continue
        for observation in observations():
            decision = person.decide(observation, np.random.default_rng([1]))
            u = np.random.default_rng([1]).random()
            chosen = person.choose(person.view(observation), np.array([u]))
            assert decision.choice == observation.options[int(chosen.index[0])], spec
            assert np.allclose(decision.probabilities, chosen.probabilities[0]), spec
    assert all(RULES[k]().arrays for k in ("truthful", "majority", "voter", "naming_game"))


def test_levels_separate_interactions_that_share_a_member():
    rng = np.random.default_rng(0)
    s, h = rng.integers(0, 30, 500), rng.integers(0, 30, 500)
    h = np.where(h == s, (h + 1) % 30, h)
    level = _levels(s, h)
    last: dict[int, int] = {}
    for i, (a, b) in enumerate(zip(s.tolist(), h.tolist(), strict=True)):
        expected = 1 + max(last.get(a, -1), last.get(b, -1))
        assert level[i] == expected
        last[a] = last[b] = expected


def _random_pair(arrays: bool, seed: int, n: int = 10) -> tuple[int, int]:
    society = Society(
        [NamingGame()] * n,
        coordination_game(name_pool(8)),
        Situation(schedule="random_pair", memory=100_000),
        seed=seed,
        lean=True,
        arrays=arrays,
    )
    played = play(society, 50_000)
    return played, society.decisions.choice.nunique()


def test_random_pair_arrays_play_the_same_game_in_distribution():
    """Interactions to convergence and names ever used, per-member vs arrays: the
    difference of the means within 4 standard errors (100 runs a path)."""
    runs = 100
    per_member = np.array([_random_pair(False, 1000 + r) for r in range(runs)], float)
    arrays = np.array([_random_pair(True, 5000 + r) for r in range(runs)], float)
    for j in range(2):
        a, b = per_member[:, j], arrays[:, j]
        se = math.hypot(a.std(ddof=1), b.std(ddof=1)) / math.sqrt(runs)
        assert abs(a.mean() - b.mean()) <= 4 * se, (j, a.mean(), b.mean(), se)
    # and not trivially: the game takes time and uses several names on both paths
    assert per_member[:, 0].mean() > 30 and arrays[:, 1].mean() > 1


def test_random_pair_arrays_replay_from_the_seed_and_count_one_interaction_a_step():
    tables = []
    for _ in range(2):
        society = Society(
            [NamingGame()] * 30,
            coordination_game(name_pool(8)),
            Situation(schedule="random_pair", memory=100_000),
            seed=9,
            arrays=True,
        )
        tables.append(society.run(400))
        assert society.steps == 400
    pd.testing.assert_frame_equal(tables[0], tables[1], check_exact=True)
    table = tables[0]
    assert table.step.tolist() == np.repeat(np.arange(1, 401), 2).tolist()
    hearers, speakers = table.iloc[1::2], table.iloc[0::2]
    assert (hearers.partner.to_numpy() == speakers.member.to_numpy()).all()
    said = [f"Participant {m}: {c}" for m, c in zip(speakers.member, speakers.choice, strict=True)]
    assert hearers.saw.tolist() == said
    assert (table.probabilities.map(lambda p: abs(sum(p) - 1) < 1e-12)).all()


def test_the_voter_in_arrays_wins_with_its_initial_share():
    """Synchronous voters on a complete graph: P(label "1" wins) = its initial share,
    within 4 standard errors (300 runs of 12 members, 3 holding it)."""
    n, k, runs = 12, 3, 300
    wins = 0
    for r in range(runs):
        initial = np.r_[np.full(k, 0.1), np.full(n - k, 0.9)]
        society = OpinionSociety(
            [make_person("rule:voter")] * n,
            OpinionTask.about(NO_TOPIC, 1),
            Situation(schedule="synchronous", topology="complete"),
            initial=initial,
            seed=r,
            arrays=True,
            lean=True,
        )
        society.run(10_000, until=lambda s: len({m.answer for m in s.members}) == 1)
        wins += society.members[0].answer == "1"
    share = k / n
    se = math.sqrt(share * (1 - share) / runs)
    assert abs(wins / runs - share) <= 4 * se, (wins, runs)


def test_what_arrays_do_not_play_is_a_one_line_config_error():
    with pytest.raises(ConfigError, match="array form"):
        Society([make_person("openai/gpt-4o-mini")], TASK, seed=1, arrays=True).step()
    sequential = Situation(schedule="sequential")
    with pytest.raises(ConfigError, match="schedules"):
        Society([make_person("rule:majority")] * 3, TASK, sequential, seed=1, arrays=True).step()
    with pytest.raises(ConfigError, match="naming_game"):
        Society(
            [make_person("rule:majority")] * 4,
            TASK,
            Situation(schedule="random_pair"),
            seed=1,
            arrays=True,
        ).step()
    short = Society(
        [NamingGame()] * 40,
        coordination_game(name_pool(30)),
        Situation(schedule="random_pair", memory=2),
        seed=1,
        arrays=True,
    )
    with pytest.raises(ConfigError, match="memory"):
        short.run(2000)
    with pytest.raises(ConfigError, match="arrays=False"):
        _ = Society([make_person("rule:majority")] * 2, TASK, seed=1).engine


def test_a_view_of_one_observation_reads_what_the_member_saw():
    from workbench.society.task import Observation

    round_ = Round("Q", ("A", "B"), correct="B")
    view = RuleView.of(Observation(round_, (("P1", "A"), ("P2", "Z")), answer="B", value=0.25))
    assert view.seen.tolist() == [[0, -1]] and view.answer.tolist() == [1]
    assert view.correct == 1 and view.planted == -1 and view.value.tolist() == [0.25]
    assert view.counts().tolist() == [[1, 0]]


def test_a_one_row_view_gives_the_arrays_and_reads_of_a_built_view():
    # the lazy view of RuleView.of against a view built from the same arrays: the same
    # heard() and counts() (which the lazy view reads from the observation directly)
    from workbench.society.checks import observations
    from workbench.society.task import Observation

    cases = [*observations(), Observation(TASK.rounds[0], (("P1", "Z"), ("P2", "C")))]
    for observation in cases:
        lazy = RuleView.of(observation)
        built = RuleView(
            lazy.options,
            lazy.seen,
            lazy.present,
            lazy.seen_value,
            lazy.answer,
            lazy.value,
            correct=lazy.correct,
            planted=lazy.planted,
            seen_who=lazy.seen_who,
        )
        assert lazy.m == built.m == 1
        assert lazy.seen.shape == (1, len(observation.seen))
        assert lazy.seen_who.tolist() == [[who for who, _ in observation.seen]]
        for got, expected in zip(lazy.heard(), built.heard(), strict=True):
            assert got.tolist() == expected.tolist() and got.dtype == expected.dtype
        assert lazy.counts().tolist() == built.counts().tolist()
        assert lazy.counts().tolist() == [list(observation.counts().values())]


@pytest.mark.parametrize("memory", [1, 3, 1000])
def test_a_naming_game_member_learns_one_record_as_its_whole_memory_says(memory, monkeypatch):
    # the per-member path keeps each member's last inventory and learns only the new
    # record: it must equal the inventory rebuilt from the whole memory, including when
    # the window forgets records since the last success
    from workbench.society import games

    learned, one_each = [], []
    real = games.learn

    def counted(inventory, member, *rest):
        learned.append(len(member))
        real(inventory, member, *rest)

    monkeypatch.setattr(games, "learn", counted)

    class Checked(NamingGame):
        def state(self, observation):
            return self.states([observation])

        def states(self, observations):
            learned.clear()
            kept = super().states(observations)
            remembering = sum(len(o.memory) > 0 for o in observations)
            one_each.append(learned == ([remembering] if remembering else []))
            saved = dict(games._REBUILT)
            for i, observation in enumerate(observations):
                games._REBUILT.clear()
                rebuilt = super().states([observation])
                assert kept[i].tolist() == rebuilt[0].tolist(), observation.memory
            games._REBUILT.clear()
            games._REBUILT.update(saved)  # the next decisions learn from ``kept``
            return kept

    for schedule in ("speaker_hearer", "random_pair"):
        society = Society(
            [Checked()] * 8,
            coordination_game(name_pool(5)),
            Situation(schedule=schedule, memory=memory),
            seed=2,
        )
        society.run(60)
    assert len(one_each) > 100
    if memory > 1:  # nothing forgotten: every decision learned its one new record
        assert all(one_each) == (memory == 1000) and any(one_each)
