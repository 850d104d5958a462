"""Schedules as registered classes, structured memory records, and Society.run's stop rule."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from support.scripted import always

from workbench.errors import ConfigError
from workbench.society import (
    SCHEDULES,
    Conformist,
    LLMPerson,
    Majority,
    MemoryMajority,
    NamingGame,
    Observation,
    Recollection,
    Round,
    Schedule,
    Situation,
    Society,
    Task,
    Topology,
    Truthful,
)
from workbench.society.coordination import coordination_game, play
from workbench.society.schedules import (
    Encounters,
    Pairwise,
    RandomPair,
    Sequential,
    SpeakerHearer,
    Synchronous,
)
from workbench.society.task import brief, recalled, recollection_text

TASK = Task(
    [
        Round("Which? A, B or C", ("A", "B", "C"), correct="B"),
        Round("Pick.", ("A", "B", "C"), correct="A", planted="C"),
    ]
)
BUILT_IN = (
    "synchronous",
    "sequential",
    "pairwise",
    "encounters",
    "speaker_hearer",
    "random_pair",
)


def table_checksum(schedule: str, seed: int = 11) -> str:
    """A short hash of the decisions table of a seeded rule society on a ring."""
    persons = [Truthful(), Majority(), Conformist(), NamingGame(), MemoryMajority()] * 2
    society = Society(
        persons,
        TASK,
        Situation(topology=Topology("ring"), memory=2, schedule=schedule),
        seed=seed,
        order=list(range(9, -1, -1)),
    )
    df = society.run(6)
    cols = ["step", "member", "node", "choice", "correct", "saw", "partner", "probabilities"]
    rows = repr([tuple(r) for r in df[cols].itertuples(index=False)])
    return hashlib.sha256(rows.encode()).hexdigest()[:16]


# Computed with the if/elif Society.step of commit f8a2438, BEFORE schedules became
# registered classes: the refactor must not move a single random draw.
CHECKSUMS_BEFORE_REFACTOR = {
    "synchronous": "75e89f885fe9c53c",
    "sequential": "1b51bfc24fe9e1dd",
    "pairwise": "bede588d26d521df",
    "encounters": "964e67608290b72f",
    "speaker_hearer": "106b226f4b274f05",
    # added later (not in f8a2438): frozen when the schedule was written
    "random_pair": "824ca74a9296f902",
}


# -- the registry -----------------------------------------------------------------------


def test_the_built_in_schedules_are_registered_classes_behind_the_names():
    assert tuple(SCHEDULES) == BUILT_IN
    classes = (Synchronous, Sequential, Pairwise, Encounters, SpeakerHearer, RandomPair)
    for name, cls in zip(BUILT_IN, classes, strict=True):
        assert name in SCHEDULES and SCHEDULES[name] is cls and cls.name == name
        assert issubclass(cls, Schedule) and cls.description


@pytest.mark.parametrize("schedule", list(SCHEDULES))
def test_every_registered_schedule_runs(schedule):
    persons = [Truthful(), Majority(), LLMPerson("scripted/x"), Conformist()] * 2
    society = Society(
        persons, TASK, Situation(schedule=schedule, memory=2), seed=3, gateway=always("B")
    )
    df = society.run(3)
    assert isinstance(society.schedule, SCHEDULES[schedule])
    assert len(df) > 0 and set(df.step) == {1, 2, 3} and df.valid.all()
    assert all(len(m.memory) <= 2 for m in society.members)


@pytest.mark.parametrize("schedule", BUILT_IN)
def test_decision_tables_are_unchanged_by_the_refactor(schedule):
    assert table_checksum(schedule) == CHECKSUMS_BEFORE_REFACTOR[schedule]


def test_a_schedule_registered_in_a_scope_plays_and_is_gone_after():
    class Alone(Schedule):
        """Everyone answers at once, seeing nobody."""

        name = "alone_for_test"
        description = "every member answers at once, seeing nobody"

        def step(self, society, round_):
            society.ask([(m, m.observe(round_)) for m in society.members])

    with SCHEDULES.scope():
        SCHEDULES.register(Alone)
        assert "alone_for_test" in SCHEDULES
        society = Society(
            [Majority(), Majority(), Majority()],
            TASK,
            Situation(schedule="alone_for_test", memory=1),
            seed=1,
        )
        df = society.run(2)
        assert isinstance(society.schedule, Alone)
        assert len(df) == 6 and (df.saw == "").all()
        assert all(m.memory[0].seen == () for m in society.members)
    assert "alone_for_test" not in SCHEDULES and tuple(SCHEDULES) == BUILT_IN
    with pytest.raises(ConfigError, match="unknown schedule 'alone_for_test'; choose one of"):
        Situation(schedule="alone_for_test")


def test_a_taken_schedule_name_cannot_be_registered_again():
    class Impostor(Schedule):
        name = "pairwise"

        def step(self, society, round_):
            raise AssertionError("never played")

    with SCHEDULES.scope(), pytest.raises(ConfigError, match="already registered"):
        SCHEDULES.register(Impostor)
    assert SCHEDULES["pairwise"] is Pairwise


def test_the_schedule_protocol_is_abstract():
    with pytest.raises(TypeError):
        Schedule()


# -- structured memory ------------------------------------------------------------------


def test_synchronous_memory_holds_what_was_seen_as_data():
    society = Society([Truthful(), Majority(), Majority()], TASK, Situation(memory=3), seed=1)
    society.run(2)
    member = society.members[1]
    assert isinstance(member.memory, tuple) and [r.step for r in member.memory] == [1, 2]
    first, second = member.memory
    assert first.seen == () and first.partner is None and first.payoff is None
    assert second.seen == (("Participant 1", "B"), ("Participant 3", first.choice))
    assert second.options == ("A", "B", "C") and second.exchange == "answers"
    assert not second.told and second.other is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        second.choice = "C"


def test_pairwise_memory_holds_partner_answer_and_the_games_payoff():
    game = coordination_game(("F", "J"))
    society = Society(
        [MemoryMajority(), MemoryMajority(), MemoryMajority(), MemoryMajority()],
        game,
        Situation(schedule="pairwise", memory=5),
        seed=4,
    )
    df = society.run(4)
    for member in society.members:
        rows = df[df.member == member.unique_id]
        assert [r.step for r in member.memory] == rows.step.tolist()
        for record, (_, row) in zip(member.memory, rows.iterrows(), strict=True):
            partner = society.members[int(row.partner) - 1]
            assert record.partner == partner.label and record.told and record.seen == ()
            assert record.choice == row.choice
            theirs = df[(df.step == row.step) & (df.member == row.partner)].choice.item()
            assert record.other == theirs
            assert record.payoff == game.payoff(record.choice, record.other)
    # a task without payoffs keeps none
    plain = Society([Truthful(), Majority()], TASK, Situation(schedule="pairwise", memory=1))
    plain.run(1)
    assert all(r.payoff is None for m in plain.members for r in m.memory)


def test_speaker_hearer_memory_holds_roles_and_the_heard_word():
    society = Society(
        [NamingGame()] * 6,
        coordination_game(("F", "J", "K")),
        Situation(schedule="speaker_hearer", memory=3),
        seed=2,
    )
    society.run(3)
    for member in society.members:
        for r in member.memory:
            assert r.role in {"speaker", "hearer"} and r.partner is not None
            if r.role == "hearer":
                assert r.seen == ((r.partner, r.other),) and not r.told
            else:
                assert r.seen == () and r.told


def test_encounters_memory_names_the_partner():
    society = Society([Majority()] * 4, TASK, Situation(schedule="encounters", memory=2), seed=5)
    df = society.run(2)
    for member in society.members:
        rows = df[df.member == member.unique_id]
        partners = [society.members[int(p) - 1].label for p in rows.partner]
        assert [r.partner for r in member.memory] == partners
        assert all(r.other is None and not r.told for r in member.memory)


def test_records_render_as_the_prompt_always_did():
    told = Recollection(2, "A", (), "B", partner="Participant 4", told=True)
    nothing = Recollection(3, None, (), None, partner="Participant 4", told=True)
    seen = Recollection(4, "B", (("P1", "A"), ("P2", "B")))
    counts = Recollection(
        5, "C", (("P1", "B"), ("P2", "A"), ("P3", "B")), exchange="counts", options=("A", "B", "C")
    )
    assert recalled(told) == "Participant 4 answered B"
    assert recalled(nothing) == "Participant 4 answered nothing"
    assert recalled(seen) == "P1: A; P2: B"
    assert recalled(counts) == "A: 1, B: 2"
    assert recollection_text([seen, Recollection(6, "A")], saw_label="others: ") == (
        "Earlier rounds:\nRound 4: you answered B; others: P1: A; P2: B\nRound 6: you answered A."
    )
    obs = Observation(TASK.rounds[0], seen=counts.seen, exchange="counts")
    assert obs.brief() == brief(counts.seen, "counts", counts.options) == "A: 1, B: 2"


def test_a_one_line_seen_string_is_read_back_into_pairs():
    assert Recollection(1, "A", "P1: A; Participant 2: B").seen == (
        ("P1", "A"),
        ("Participant 2", "B"),
    )
    assert Recollection(1, "A", "").seen == ()
    assert Recollection(1, "A", "", "B").other == "B"  # the positional form of the notebooks
    with pytest.raises(ConfigError, match="who: answer"):
        Recollection(1, "A", "nonsense")


# -- Society.run's stop rule ------------------------------------------------------------


def test_run_until_stops_after_the_step_the_rule_says_stop():
    society = Society([Truthful(), Truthful()], TASK, seed=1)
    calls = []

    def three(s):
        calls.append(s.steps)
        return s.steps == 3

    df = society.run(until=three)
    assert calls == [1, 2, 3] and df.step.max() == 3 and society.steps == 3
    capped = Society([Truthful(), Truthful()], TASK, seed=1)
    assert capped.run(2, until=lambda s: False).step.max() == 2
    assert Society([Truthful()], TASK, seed=1).run().step.max() == len(TASK)


def test_a_stop_rule_as_a_function_plays_as_the_coordination_loop():
    """The coordination game's stop rule (``play``) written as an ``until`` function."""

    def converged(society, max_interactions=40, streak_rounds=3):
        need = streak_rounds * len(society.members)
        table = society.datacollector.tables["decisions"]
        state = {"seen": 0, "streak": 0}

        def until(s):
            choices, valid = table["choice"], table["valid"]
            if len(choices) == state["seen"]:
                return True  # nobody could be matched
            for i in range(state["seen"], len(choices), 2):
                if valid[i] and valid[i + 1]:
                    ok = choices[i] == choices[i + 1]
                    state["streak"] = state["streak"] + 1 if ok else 0
            state["seen"] = len(choices)
            return state["seen"] // 2 >= max_interactions or state["streak"] >= need

        return until

    def society():
        return Society(
            [MemoryMajority()] * 6,
            coordination_game(("F", "J", "K")),
            Situation(schedule="pairwise", memory=3),
            seed=8,
        )

    looped, stopped = society(), society()
    play(looped, 40)
    stopped.run(until=converged(stopped))
    assert stopped.steps == looped.steps
    assert stopped.decisions.equals(looped.decisions)


def test_play_stops_as_its_own_loop_did():
    # the loop play() had before it ran through Society.run(until=...), kept verbatim
    def old_play(society, max_interactions):
        need = 3 * len(society.members)
        table = society.datacollector.tables["decisions"]
        choices, valid = table["choice"], table["valid"]
        seen = start = len(choices)
        streak = 0
        while (seen - start) // 2 < max_interactions and streak < need:
            society.step()
            if len(choices) == seen:
                break
            for i in range(seen, len(choices), 2):
                if not (valid[i] and valid[i + 1]):
                    continue
                streak = streak + 1 if choices[i] == choices[i + 1] else 0
            seen = len(choices)
        return (seen - start) // 2

    for schedule, cap in (("pairwise", 40), ("speaker_hearer", 7), ("random_pair", 500)):
        made = [
            Society(
                [MemoryMajority() if schedule == "pairwise" else NamingGame()] * 6,
                coordination_game(("F", "J", "K")),
                Situation(schedule=schedule, memory=1000),
                seed=8,
            )
            for _ in range(2)
        ]
        assert play(made[0], cap) == old_play(made[1], cap)
        assert made[0].steps == made[1].steps
        assert made[0].decisions.equals(made[1].decisions)
