"""The Society model: schedules, exchange, memory, batching, seeds, results."""

import networkx as nx
import pandas as pd
import pytest
from support.scripted import always

from workbench.errors import ConfigError
from workbench.society import (
    Committed,
    Conformist,
    LLMPerson,
    Majority,
    Round,
    Situation,
    Society,
    Task,
    Topology,
    Truthful,
)
from workbench.society.task import recalled

TASK = Task([Round("Which?", ("A", "B", "C"), correct="A", info={"item": 1})])


LLM = LLMPerson("fake/model")


def test_sequential_members_see_earlier_answers_of_the_round():
    persons = [Committed("C"), Committed("C"), Truthful(), Majority()]
    society = Society(persons, TASK, Situation(schedule="sequential"), seed=1)
    df = society.run(1)
    assert df.saw.tolist() == [
        "",
        "Participant 1: C",
        "Participant 1: C; Participant 2: C",
        "Participant 1: C; Participant 2: C; Participant 3: A",
    ]
    assert df.choice.tolist() == ["C", "C", "A", "C"]


def test_sequential_order_is_respected():
    persons = [Majority(), Committed("B")]
    society = Society(persons, TASK, Situation(schedule="sequential"), seed=1, order=[1, 0])
    df = society.run(1)
    assert df.member.tolist() == [2, 1]
    assert df.choice.tolist() == ["B", "B"]


def test_sequential_llm_prompt_holds_earlier_answers_and_batches_non_neighbours():
    gateway = always("B")
    # two pairs, 0-1 and 2-3: the LLM members 2 and 4 cannot see each other, so after the
    # confederates have answered one batch serves both
    persons = [Committed("C"), LLM, Committed("C"), LLM]
    pairs = Situation(schedule="sequential", topology=nx.Graph([(0, 1), (2, 3)]))
    society = Society(persons, TASK, pairs, seed=1, gateway=gateway, order=[0, 2, 1, 3])
    society.step()
    prompts = [r.messages[-1]["content"] for batch in gateway.batches for r in batch]
    assert "Participant 1 answered: C" in prompts[0]
    assert "Participant 3 answered: C" in prompts[1]
    assert [len(b) for b in gateway.batches] == [2]
    # complete graph: the second LLM member must see the first one's answer
    gateway = always("B")
    society = Society(persons, TASK, Situation(schedule="sequential"), seed=1, gateway=gateway)
    society.step()
    assert [len(b) for b in gateway.batches] == [1, 1]
    assert "Participant 2 answered: B" in gateway.batches[1][0].messages[-1]["content"]


def test_synchronous_members_see_last_round_only_and_llms_go_in_one_batch():
    gateway = always("B")
    persons = [Committed("C"), Majority(), LLM, LLM, LLM]
    society = Society(persons, TASK, Situation(schedule="synchronous"), seed=1, gateway=gateway)
    df = society.run(2)
    first, second = df[df.step == 1], df[df.step == 2]
    assert (first.saw == "").all()
    assert first.choice.tolist() == ["C", "A", "B", "B", "B"]
    assert second.choice.iloc[1] == "B"  # majority of C, B, B, B from round 1
    assert [len(b) for b in gateway.batches] == [3, 3]


def test_pairwise_matching_pairs_neighbours_and_partners_learn():
    gateway = always("B")
    persons = [Committed("A"), LLM] * 3
    situation = Situation(schedule="pairwise", memory=1)
    society = Society(persons, TASK, situation, seed=2, gateway=gateway)
    df = society.run(3)
    assert len(df) == 18 and df.partner.notna().all()
    for _, step in df.groupby("step"):
        partner = dict(zip(step.member, step.partner, strict=True))
        assert all(partner[partner[m]] == m for m in partner)
    assert len(gateway.batches) == 3 and all(len(b) == 3 for b in gateway.batches)
    member = society.members[1]
    (record,) = member.memory
    assert record.told and record.partner.startswith("Participant") and record.other
    assert "answered" in recalled(record)


def test_memory_window_keeps_the_last_k_rounds_in_the_prompt():
    gateway = always("B")
    society = Society([Committed("C"), LLM], TASK, Situation(memory=2), seed=1, gateway=gateway)
    society.run(4)
    assert [r.step for r in society.members[1].memory] == [3, 4]
    prompt = gateway.batches[-1][0].messages[-1]["content"]
    assert "Earlier rounds:\nRound 2: you answered B" in prompt and "Round 1" not in prompt


def test_counts_exchange_hides_who_answered():
    gateway = always("B")
    persons = [Committed("C"), Committed("C"), Committed("A"), LLM]
    situation = Situation(schedule="sequential", exchange="counts")
    Society(persons, TASK, situation, seed=1, gateway=gateway).step()
    prompt = gateway.batches[0][0].messages[-1]["content"]
    assert "Answers so far: 1 chose A, 2 chose C." in prompt and "Participant" not in prompt


def test_invalid_decisions_are_recorded_not_fatal():
    society = Society([Truthful(), LLM], TASK, seed=1, gateway=always(None))
    df = society.run(2)
    assert df.valid.tolist() == [True, False, True, False]
    assert df.choice.isna().tolist() == [False, True, False, True]


def test_same_seed_same_table_and_seed_is_drawn_when_missing():
    persons = [Conformist(0.5)] * 6

    def run(seed):
        return Society(persons, TASK, Situation(topology="erdos_renyi"), seed=seed).run(5)

    pd.testing.assert_frame_equal(run(11), run(11))
    society = Society(persons, TASK)
    assert isinstance(society.seed, int)
    again = Society(persons, TASK, seed=society.seed)
    pd.testing.assert_frame_equal(society.run(3), again.run(3))


def test_rows_carry_conditions_round_info_and_person():
    society = Society(
        [Truthful()], TASK, seed=1, conditions={"norm": "x"}, run_id="r1", roles=["subject"]
    )
    row = society.run(1).iloc[0]
    assert (row.run_id, row.norm, row["item"], row.role, row.model, row.persona) == (
        "r1",
        "x",
        1,
        "subject",
        "rule:truthful",
        "none",
    )
    assert row.options == ("A", "B", "C") and row.correct and row.truth == "A"
    assert society.datacollector.get_model_vars_dataframe().consensus.tolist() == [1.0]


def test_members_sit_on_network_nodes():
    society = Society([Truthful()] * 5, TASK, Situation(topology=Topology("ring", k=2)), seed=1)
    assert [m.node for m in society.members] == [0, 1, 2, 3, 4]
    assert {n.node for n in society.members[0].neighbours()} == {1, 4}


def test_bad_society_inputs():
    with pytest.raises(ConfigError, match="order"):
        Society([Truthful()] * 2, TASK, order=[0, 0])
    with pytest.raises(ConfigError, match="roles"):
        Society([Truthful()] * 2, TASK, roles=["a"])
    for bad in (
        dict(schedule="random"),
        dict(exchange="all"),
        dict(memory=-1),
        dict(norm="vibes"),
        dict(topology="cube"),
    ):
        with pytest.raises(ConfigError):
            Situation(**bad)
