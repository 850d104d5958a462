"""Factorial person x situation designs, the emergent effect, and the persistence probe.

Rule persons make the expected numbers exact: ``rule:truthful`` ignores the others, so
interaction adds nothing (emergent effect 0); ``rule:majority`` always follows the majority
it sees, so beside a committed majority it ends on the wrong answer (effect -1);
``rule:conformist:0.3`` follows the majority 30% of the time (a negative effect in
between). A fake gateway stands in for an LLM whose answer depends on its prompt.
"""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from support.scripted import ScriptedGateway, leaning  # noqa: E402

from workbench.analysis.decomposition import COMPONENTS, Decomposition  # noqa: E402
from workbench.analysis.factorial import (  # noqa: E402
    ISOLATED,
    choice_share,
    decompose_design,
    emergent_effect,
)
from workbench.analysis.persistence import (  # noqa: E402
    PROBE_COLUMNS,
    persistence_probe,
    persistence_summary,
)
from workbench.design import FACTORS, CellConfig, Design, DesignStudy  # noqa: E402
from workbench.errors import ConfigError  # noqa: E402
from workbench.society import Round, Situation, Society, Task, Topology, make_person  # noqa: E402
from workbench.store import ResultStore  # noqa: E402
from workbench.studies import check_study  # noqa: E402

PERSONS = ("rule:truthful", "rule:conformist:0.3", "rule:majority")
NORMS = ("none", "harmony")
TOPOLOGIES = ("complete", Topology("ring", k=2))
SEEDS = 4


@pytest.fixture(scope="module")
def design() -> Design:
    return Design(
        persons=PERSONS,
        norms=NORMS,
        topologies=TOPOLOGIES,
        others=("rule:committed:B",) * 3,
        members=3,
        rounds=3,
        seeds=SEEDS,
    )


@pytest.fixture(scope="module")
def table(design: Design) -> pd.DataFrame:
    return design.run()


# --- the design ------------------------------------------------------------------------


def test_design_crosses_every_cell_and_adds_the_isolated_condition(table):
    for column in (*FACTORS, "run_id", "outcome", "invalid"):
        assert column in table.columns, column
    social = table[table.condition == "social"]
    alone = table[table.condition == ISOLATED]
    assert len(social) == len(PERSONS) * len(NORMS) * len(TOPOLOGIES) * SEEDS
    assert len(alone) == len(PERSONS) * len(NORMS) * SEEDS
    cells = social.groupby(["person", "norm", "topology", "exchange", "memory"]).seed.apply(sorted)
    assert len(cells) == len(PERSONS) * len(NORMS) * len(TOPOLOGIES)
    assert all(seeds == list(range(SEEDS)) for seeds in cells)
    assert set(social.topology) == {"complete", "ring(k=2)"}
    assert set(alone.topology) == {ISOLATED} and set(alone.exchange) == {"none"}
    assert set(alone.groupby(["person", "norm"]).size()) == {SEEDS}
    assert table.run_id.is_unique
    assert set(table.model) == set(PERSONS) and set(table.persona) == {"none"}
    assert (table.invalid == 0).all()


def test_plan_matches_what_ran(design, table):
    plan = design.plan()
    assert list(plan.columns) == ["run_id", *FACTORS]
    assert set(plan.run_id) == set(table.run_id)


def test_isolated_members_see_nobody_and_others_are_absent(design):
    decisions = design.decisions()
    alone = decisions[decisions.condition == ISOLATED]
    assert (alone.saw == "").all()
    assert set(alone.role) == {"focal"}
    social = decisions[(decisions.condition == "social") & (decisions.step > 1)]
    assert (social.saw != "").all()
    assert set(social.role) == {"focal", "other"}
    # the outcome counts focal members only: 3 per run
    assert set(
        decisions.groupby(["run_id", "step"]).role.apply(lambda r: (r == "focal").sum())
    ) == {3}


def test_emergent_effect_is_zero_for_a_person_who_ignores_others(table):
    effect = emergent_effect(table).set_index("person")
    truthful = effect.loc["rule:truthful"]
    assert (truthful.effect == 0).all()
    assert (truthful.social == 1).all() and (truthful.isolated == 1).all()
    assert (truthful.ci_low == 0).all() and (truthful.ci_high == 0).all()


def test_emergent_effect_of_conformity_points_towards_the_majority(table):
    effect = emergent_effect(table).set_index(["person", "norm", "topology"])
    majority = effect.loc["rule:majority"]
    conformist = effect.loc["rule:conformist:0.3"]
    # alone, both answer correctly; beside three committed B members they drift to B
    assert (majority.isolated == 1).all() and (conformist.isolated == 1).all()
    assert majority.loc[("none", "complete"), "effect"] == -1
    assert (conformist.effect < 0).all()
    assert (conformist.effect > majority.effect).all()
    # the cell means are the design's runs averaged
    runs = table[(table.person == "rule:conformist:0.3") & (table.condition == "social")]
    means = runs.groupby(["norm", "topology"]).outcome.mean()
    np.testing.assert_allclose(conformist.social.sort_index(), means.sort_index())


def test_emergent_effect_intervals(table):
    t = emergent_effect(table, level=0.9)
    boot = emergent_effect(table, method="bootstrap", n_boot=500, seed=3)
    assert list(t.effect) == list(boot.effect)
    spread = t[t.se > 0]
    assert len(spread) > 0
    assert (spread.ci_low < spread.effect).all() and (spread.effect < spread.ci_high).all()
    wider = emergent_effect(table, level=0.99)
    assert ((wider.ci_high - wider.ci_low) >= (t.ci_high - t.ci_low) - 1e-12).all()
    with pytest.raises(ConfigError, match="isolated"):
        emergent_effect(table[table.condition == "social"])


def test_decomposition_runs_on_the_design(table):
    result = decompose_design(table, n_boot=50, seed=1)
    assert isinstance(result, Decomposition)
    assert list(result.table.component) == list(COMPONENTS)
    assert result.n_persons == len(PERSONS)
    assert result.n_situations == len(NORMS) * len(TOPOLOGIES)
    assert result.balanced
    shares = result.shares
    assert np.isfinite(shares).all()
    # rules ignore the norm, and who the person is matters more than where it is
    assert shares["person"] > shares["situation"]
    with_isolated = decompose_design(table, n_boot=0, isolated=True)
    assert with_isolated.n_situations == len(NORMS) * len(TOPOLOGIES) + len(NORMS)
    assert with_isolated.shares["situation"] > shares["situation"]
    ax = result.plot()
    assert len(ax.patches) >= len(COMPONENTS)


def test_design_is_deterministic_and_resumes_from_a_store(design, table, tmp_path):
    store = tmp_path / "design.sqlite"
    first = design.run(store=store)
    pd.testing.assert_frame_equal(first, table)
    runs = ResultStore(store).runs()
    assert len(runs) == len(table)
    again = design.run(store=store)  # everything is loaded, nothing re-run
    pd.testing.assert_frame_equal(again, table)
    assert len(ResultStore(store).runs()) == len(table)


def test_custom_outcome_and_option():
    design = Design(
        persons=("rule:conformist:0.5",),
        norms=("none", "harmony"),
        others=("rule:committed:B",) * 2,
        members=2,
        seeds=2,
        option="B",
        outcome=lambda d: {
            "share_b": choice_share(d, "B"),
            "ever_b": float((d.choice == "B").any()),
        },
    )
    table = design.run()
    assert {"share_b", "ever_b"} <= set(table.columns) and "outcome" not in table.columns
    assert (table.loc[table.condition == ISOLATED, "share_b"] == 0).all()
    assert design.counted == "B"


def test_design_study_honours_the_study_contract():
    config = CellConfig(
        person=("rule:conformist:0.5", "none"), others=("rule:committed:B",), members=3
    )
    result = check_study(DesignStudy(config))
    assert set(result.decisions.role) == {"focal", "other"}
    assert len(result.decisions) == (3 + 1) * config.rounds
    assert set(result.summary.columns) == {"step", "option", "share"}


def test_design_refuses_bad_input():
    with pytest.raises(ConfigError, match="distinct"):
        Design(persons=("rule:truthful", ("rule:truthful", "none")))
    with pytest.raises(ConfigError, match="isolated"):
        Design(persons=("rule:truthful",), topologies=("complete", "isolated"))
    with pytest.raises(ConfigError, match="exchange"):
        Design(persons=("rule:truthful",), exchanges=("gossip",))
    with pytest.raises(ConfigError, match="topology"):
        Design(persons=("rule:truthful",), topologies=("hypercube",))
    with pytest.raises(ConfigError, match="option"):
        Design(persons=("rule:truthful",), option="Z")
    with pytest.raises(ConfigError):
        Design(persons=(("rule:truthful", "none", "extra"),))
    with pytest.raises(ConfigError, match="repeated"):
        Design(persons=("rule:truthful",), memories=(1, 1))


# --- an LLM stand-in -------------------------------------------------------------------

_SEEN = re.compile(r"^Participant \d+ answered: (\w+)$", re.MULTILINE)


def conformist(request):
    """Answers like a conformist reading its prompt: the majority of the answers the
    prompt shows (this round's, else the remembered ones), ``A`` when it shows none.
    Remembered answers weigh one half each; the answer distribution is 0.9 / 0.1."""
    text = request.messages[-1]["content"]
    earlier, _, now = text.partition("Which line is longer?")
    votes = {o: 0.0 for o in request.options}
    for answer in _SEEN.findall(now):
        votes[answer] += 1.0
    for answer in re.findall(r"Participant \d+: (\w+)", earlier):
        votes[answer] += 0.5
    top = max(votes, key=lambda o: (votes[o], o == "A")) if any(votes.values()) else "A"
    return top, leaning(request.options, top, 0.9)


def test_llm_design_through_a_live_gateway_keeps_isolated_prompts_asocial():
    gateway = ScriptedGateway(conformist)
    design = Design(
        persons=(("fake/model", "team_player"), ("fake/model", "none")),
        norms=("harmony",),
        others=("rule:committed:B",) * 3,
        members=2,
        rounds=2,
        seeds=2,
    )
    table = design.run(gateway)
    assert set(table.person) == {"fake/model / team_player", "fake/model"}
    assert set(table.persona) == {"team_player", "none"}
    # 2 persons x 2 seeds x (social + isolated) x 2 members x 2 rounds
    assert len(gateway.requests) == 2 * 2 * 2 * 2 * 2
    social = [r for r in gateway.requests if _SEEN.search(r.messages[-1]["content"])]
    assert len(social) == 2 * 2 * 2  # the second round of every social run
    harmony = "Group harmony matters"
    assert all(harmony in r.messages[0]["content"] for r in gateway.requests)
    effect = emergent_effect(table)
    assert (effect.isolated == 1).all() and (effect.effect == -1).all()
    with pytest.raises(ConfigError, match="GatewayConfig"):
        design.decisions(gateway, executor=object())
    # the path follows the type of what is passed, never what it happens to have
    with pytest.raises(ConfigError, match="a Gateway, a GatewayConfig or None, not dict"):
        design.decisions({"decide": None})


# --- persistence probe -----------------------------------------------------------------

NAMES = Task([Round("Pick a name.\nA: Oak\nB: River", ("A", "B"))])


def memory_society(seed: int = 3, window: int = 3) -> Society:
    persons = [make_person("rule:memory")] * 4 + [make_person("rule:committed:B")] * 2
    situation = Situation(memory=window, schedule="pairwise")
    return Society(persons, NAMES, situation, seed=seed, roles=["focal"] * 4 + ["other"] * 2)


def test_probe_shape_and_truncation_to_zero_is_no_memory():
    society = memory_society()
    society.run(5)
    probe = persistence_probe(society)
    assert list(probe.columns) == list(PROBE_COLUMNS)
    window = 3
    assert len(probe) == 6 * (window + 1) * 2  # members x k x options
    assert sorted(probe.k.unique()) == list(range(window + 1))
    zero = probe[probe.k == 0]
    np.testing.assert_allclose(zero.p, zero.p_none)
    assert (zero["shift"] == 0).all() and zero.oldest.isna().all()
    # memory majority with nothing remembered is uniform; with memory it is not
    assert (zero.loc[zero.role == "focal", "p"] == 0.5).all()
    focal = probe[(probe.role == "focal") & (probe.k == window)]
    assert (focal["shift"].abs() > 0).all()
    # committed members ignore memory
    assert (probe.loc[probe.role == "other", "shift"] == 0).all()
    # k keeps the k most recent rounds: the oldest kept is step 5 - k + 1
    kept = probe[probe.k > 0].drop_duplicates(["member", "k"])
    assert (kept.oldest == 5 - kept.k + 1).all()
    # probabilities sum to one per member and k
    np.testing.assert_allclose(probe.groupby(["member", "k"]).p.sum(), 1.0)


def test_probe_asks_llm_members_with_truncated_memory_in_one_batch():
    gateway = ScriptedGateway(conformist)
    persons = [make_person("fake/model")] * 3 + [make_person("rule:committed:B")] * 3
    society = Society(
        persons, Design(persons=("x",)).task, Situation(memory=2), seed=1, gateway=gateway
    )
    society.run(3)
    before = len(gateway.requests)
    probe = persistence_probe(society, roles=("member",))
    asked = gateway.requests[before:]
    assert len(asked) == 3 * (1 + 3)  # LLM members only: no memory, then k = 0, 1, 2
    remembered = [len(re.findall(r"^Round \d+:", r.messages[-1]["content"], re.M)) for r in asked]
    assert sorted(remembered) == [0] * 6 + [1] * 3 + [2] * 3
    assert not any(_SEEN.search(r.messages[-1]["content"]) for r in asked)  # isolated
    llm = probe[probe.model == "fake/model"]
    zero = llm[llm.k == 0]
    np.testing.assert_allclose(zero.p, zero.p_none)
    # remembering a B majority pulls the isolated answer to B; alone it is A
    full = llm[(llm.k == 2) & (llm.option == "B")]
    np.testing.assert_allclose(full.p_none, 0.1)
    np.testing.assert_allclose(full.p, 0.9)
    summary = persistence_summary(probe)
    fake = summary[summary.model == "fake/model"].set_index("k")
    assert fake.loc[0, "tv"] == 0 and fake.loc[2, "tv"] == pytest.approx(0.8)
    assert fake.loc[2, "retained"] == pytest.approx(1.0)
    assert fake.loc[2, "toward_answer"] == pytest.approx(0.8)
    assert fake.loc[2, "share_toward"] == 1.0


def test_probe_leaves_the_society_stream_alone():
    probed, plain = memory_society(seed=11), memory_society(seed=11)
    probed.run(3)
    plain.run(3)
    persistence_probe(probed, seed=99)
    probed.run(3)
    plain.run(3)
    pd.testing.assert_frame_equal(probed.decisions, plain.decisions)


def test_probe_refuses_what_it_cannot_probe():
    with pytest.raises(ConfigError, match="memory window 0"):
        society = Society([make_person("rule:truthful")] * 2, NAMES, Situation(), seed=1)
        society.run(2)
        persistence_probe(society)
    with pytest.raises(ConfigError, match="run the society"):
        persistence_probe(memory_society())
    society = memory_society()
    society.run(2)
    with pytest.raises(ConfigError, match="role"):
        persistence_probe(society, roles=("nobody",))
    probe = persistence_probe(society, ks=(0, 1, 9))
    assert sorted(probe.k.unique()) == [0, 1, 2]  # 9 is clipped to the 2 rounds remembered
