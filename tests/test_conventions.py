"""Convention emergence: the coordination game, naming-game and memory rules, scaling."""

import matplotlib

matplotlib.use("Agg")

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from support.invalid import spoil
from support.scripted import ScriptedGateway, always, leaning, one_hot

from workbench.errors import ConfigError
from workbench.society import (
    LLMPerson,
    Observation,
    Recollection,
    Round,
    Situation,
    Society,
    make_person,
)
from workbench.society.checks import check_policy
from workbench.society.coordination import (
    convergence,
    coordination_game,
    game_network,
    interactions,
    name_pool,
    per_round,
    run_outcomes,
    timeline,
)
from workbench.society.games import MemoryMajority, NamingGame, inventory
from workbench.studies import STUDIES, check_study, get_study
from workbench.studies.conventions import ConventionsConfig, ConventionsStudy

RULES = ("rule:naming_game", "rule:memory")


def preferring(prefer=None, weight=0.9):
    """Answers with a fixed preference: ``prefer``, or the first listed option."""
    return ScriptedGateway(
        lambda r: (top := prefer or _listed(r)[0], leaning(r.options, top, weight))
    )


def _listed(request):
    line = request.messages[-1]["content"].splitlines()[-1]
    return line.split(": ", 1)[1].rstrip(".").replace(" or ", ", ").split(", ")


def test_study_registered_and_passes_the_conformance_check():
    assert get_study("conventions") is ConventionsStudy and "conventions" in STUDIES
    cfg = ConventionsConfig(populations=RULES, sizes=(10,), topologies=("complete", "ring"), runs=2)
    result = check_study(ConventionsStudy(cfg, seed=3))
    assert set(result.summary.population) == set(RULES)
    assert (result.decisions[result.decisions.part == "prior"].role == "prior").all()


@pytest.mark.parametrize("policy", [NamingGame(), MemoryMajority()], ids=lambda p: p.model)
def test_game_policies_pass_the_policy_check_and_round_trip(policy):
    check_policy(policy)
    assert make_person(policy.model) == policy


ROUND = Round("Pick.", ("A", "B", "C", "D"))


def test_naming_game_inventory_follows_the_minimal_rules():
    def memory(*events):
        return Observation(ROUND, memory=tuple(Recollection(i, *e) for i, e in enumerate(events)))

    assert inventory(memory()) == ()
    # a failed speaker keeps its (invented) word; a failed hearer adds the heard word
    obs = memory(("C", "", "A", "speaker"), ("B", "", "D", "hearer"))
    assert inventory(obs) == ("C", "D")
    # a success collapses the inventory to the agreed word, whatever came before
    obs = memory(("C", "", "A", "speaker"), ("B", "", "B", "hearer"), ("A", "", "D", "hearer"))
    assert inventory(obs) == ("B", "D")
    speaker = NamingGame().probabilities(obs)
    assert speaker == (0.0, 0.5, 0.0, 0.5)
    heard_known = Observation(ROUND, seen=(("P1", "D"),), memory=obs.memory)
    assert NamingGame().probabilities(heard_known) == (0.0, 0.0, 0.0, 1.0)
    heard_new = Observation(ROUND, seen=(("P1", "C"),), memory=obs.memory)
    assert NamingGame().probabilities(heard_new) == (0.0, 0.5, 0.0, 0.5)  # failure
    blank_hearer = Observation(ROUND, seen=(("P1", "C"),))
    assert NamingGame().probabilities(blank_hearer)[2] == 0.0  # never "knows" it by chance


def test_memory_rule_best_responds_to_partners():
    mem = tuple(Recollection(i, "A", "", other) for i, other in enumerate("BBCA"))
    assert MemoryMajority().probabilities(Observation(ROUND, memory=mem)) == (0, 1, 0, 0)
    tie = Observation(ROUND, memory=mem[2:])
    assert MemoryMajority().probabilities(tie) == (0.5, 0.0, 0.5, 0.0)
    assert MemoryMajority().probabilities(Observation(ROUND)) == (0.25,) * 4


def test_speaker_hearer_schedule_hearer_hears_and_both_remember():
    task = coordination_game(name_pool(5))
    situation = Situation(schedule="speaker_hearer", memory=100)
    society = Society([NamingGame()] * 6, task, situation, seed=4)
    df = society.run(3)
    assert len(df) == 18  # 3 pairs a step, speaker then hearer
    speakers, hearers = df.iloc[0::2], df.iloc[1::2]
    assert (speakers.saw == "").all() and hearers.saw.str.contains("Participant").all()
    assert (hearers.partner.to_numpy() == speakers.member.to_numpy()).all()
    for member in society.members:
        roles = {r.role for r in member.memory}
        assert roles <= {"speaker", "hearer"} and len(member.memory) == 3
        assert all(r.other is not None for r in member.memory)
    # roles are drawn at random: both roles happen to low and high member ids
    first = interactions(df.assign(part="game", population="x", members=6, run=0))
    assert (first.a < first.b).any() and (first.a > first.b).any()


def test_pairwise_memory_holds_partner_choice_and_prompt_shows_payoffs():
    gateway = preferring(prefer="J")
    society = Society(
        [LLMPerson("fake/model")] * 4,
        coordination_game(name_pool(2)),
        Situation(schedule="pairwise", memory=5, shuffle=True),
        seed=1,
        gateway=gateway,
    )
    society.run(3)
    assert all(r.other == "J" for m in society.members for r in m.memory)
    prompt = gateway.requests[-1].messages[-1]["content"]
    assert "your partner picked J (+100 points)" in prompt and "Your last 2 rounds" in prompt
    assert "no history" in gateway.requests[0].messages[-1]["content"]
    assert {tuple(_listed(r)) for r in gateway.requests} == {("F", "J"), ("J", "F")}
    assert all(r.options == ("F", "J") for r in gateway.requests)  # labels, not the order


def test_name_order_is_shuffled_per_prompt_so_position_bias_cancels():
    # an LLM that always takes the first listed name: with shuffling, no name is favoured
    cfg = ConventionsConfig(populations=("fake/model",), sizes=(8,), runs=1, horizon=4, memory=3)
    study = ConventionsStudy(cfg, seed=2)
    result = study.run(preferring(weight=0.99))
    priors = study.priors(result.decisions)
    assert np.allclose(priors.prior, 0.5)  # asked in both orders
    games = result.decisions[result.decisions.part == "game"]
    assert 0.3 < (games.choice == "F").mean() < 0.7


def test_isolated_prior_and_collective_bias_with_a_biased_model():
    cfg = ConventionsConfig(
        populations=("fake/model",), sizes=(6,), names=10, runs=2, horizon=5, personas=("none",)
    )
    study = ConventionsStudy(cfg, seed=1)
    result = study.run(preferring(prefer="Q", weight=0.6))
    priors = study.priors(result.decisions).set_index("name")
    assert len(priors) == 10 and priors.prior.idxmax() == "Q"
    assert priors.loc["Q", "raw"] == pytest.approx(0.6)
    assert priors.loc["Q", "prior"] > 0.6  # temperature 0.5 sharpens the choice
    bias = study.bias(result).set_index("name")
    assert bias.loc["Q", "won"] == 1.0
    row = result.summary.iloc[0]
    assert row.winner == "Q" and row.converged == 2 and row.winner_prior > 0.6
    assert row.reference.startswith("median 7-18")
    assert "winner" in study.table(result.summary)


def test_convergence_needs_3n_successes_in_a_row():
    ok = [True] * 11 + [False] + [True] * 12
    assert convergence(np.array(ok), 4) == (24.0, 12.0)
    assert np.isnan(convergence(np.array(ok[:20]), 4)[0])


def test_networks_ring_random_complete():
    ring = game_network("ring", 12, 4, seed=1)
    assert dict(ring.degree()) == dict.fromkeys(range(12), 4)
    rnd = game_network("random", 12, 4, seed=1)
    assert set(dict(rnd.degree()).values()) == {4} and nx.is_connected(rnd)
    assert not nx.is_isomorphic(ring, rnd)
    assert game_network("complete", 12, 4, seed=1).kind == "complete"


def test_rule_populations_converge_and_spatial_networks_slow_them():
    cfg = ConventionsConfig(
        populations=RULES, sizes=(24,), topologies=("complete", "ring"), runs=6, horizon=40
    )
    result = ConventionsStudy(cfg, seed=11).run()
    s = result.summary.set_index(["population", "topology"])
    for rule in RULES:
        assert s.loc[(rule, "complete"), "converged"] == 6
        assert 3 < s.loc[(rule, "complete"), "rounds"] < 20
    ng = s.loc["rule:naming_game"]
    slower = ng.loc["ring", "rounds"] > ng.loc["complete", "rounds"]
    assert ng.loc["ring", "converged"] < 6 or slower
    lines = timeline(result.decisions[result.decisions.part == "game"])
    assert lines.dominant_share.between(0, 1).all() and lines.success.between(0, 1).all()
    grid = per_round(lines, cfg.horizon)
    assert grid.groupby(["population", "topology", "run"]).size().eq(40).all()
    fig = ConventionsStudy(cfg).plot(result)
    assert len(fig.axes) == 3


def test_the_per_round_naming_game_is_lean_and_prints_no_baronchelli_reference():
    # rule:naming_game here pairs everyone each step over a pool of W names: it is not
    # the minimal game of Baronchelli et al. 2006, so its N^1.5 laws are not printed
    # beside it (they are beside ConventionsStudy.minimal_game, tests/test_naming_game.py)
    sizes = (32, 64)
    cfg = ConventionsConfig(
        populations=("rule:naming_game",), sizes=sizes, names=512, runs=4, horizon=400
    )
    study = ConventionsStudy(cfg, seed=3)
    result = study.run()
    assert (result.summary.converged == 4).all()
    games = result.decisions[result.decisions.part == "game"]
    assert games.probabilities.isna().all()  # the lean path keeps no probability vectors
    assert (result.summary.reference == "").all() and (result.summary.source == "").all()
    assert not study.table(result.summary).published.str.contains("1.5").any()
    binary = ConventionsStudy(ConventionsConfig(populations=RULES, sizes=(8,), runs=1), seed=1)
    assert (binary.run().summary.reference == "").all()
    refs = study.reference()
    minimal = refs[refs.result.str.contains("N\\^1.5")]
    assert len(minimal) == 1 and "one random speaker-hearer pair" in minimal.setup.iloc[0]


def test_unit_seeds_are_unchanged_by_the_named_streams():
    # before: unit_seed(seed, 0, r), unit_seed(seed, 1, j), unit_seed(unit.seed, 7)
    from workbench.studies import unit_seed

    cfg = ConventionsConfig(populations=RULES, sizes=(8, 12), topologies=("complete", "ring"))
    units = ConventionsStudy(cfg).units(2025)
    games = [u for u in units if u.conditions["part"] == "game"]
    priors = [u for u in units if u.conditions["part"] == "prior"]
    assert [u.seed for u in games] == [unit_seed(2025, 0, u.replicate) for u in games]
    assert [u.seed for u in priors] == [unit_seed(2025, 1, u.replicate) for u in priors]
    assert unit_seed(games[0].seed, "network") == unit_seed(games[0].seed, 7)
    assert [u.seed for u in games[:3]] == [3486250439, 3188979832, 2319351544]


def test_config_validation():
    with pytest.raises(ConfigError, match="at most 26 names"):
        ConventionsConfig(populations=("local/smollm2-135m",), names=30)
    with pytest.raises(ConfigError, match="unknown topology"):
        ConventionsConfig(populations=RULES, topologies=("moebius",))
    with pytest.raises(ConfigError, match="unknown rule"):
        ConventionsConfig(populations=("rule:nope",))
    cfg = ConventionsConfig(populations="rule:memory,rule:naming_game", sizes="8,16", runs=1)
    assert cfg.populations == ("rule:memory", "rule:naming_game") and cfg.sizes == (8, 16)
    assert name_pool(2) == ("F", "J") and len(set(n[0] for n in name_pool(26))) == 26
    assert name_pool(30)[0] == "n1"


def test_same_seed_same_tables():
    cfg = ConventionsConfig(populations=RULES, sizes=(12,), runs=2)
    a, b = ConventionsStudy(cfg, seed=8).run(), ConventionsStudy(cfg, seed=8).run()
    pd.testing.assert_frame_equal(a.summary, b.summary)
    c = ConventionsStudy(cfg, seed=9).run()
    assert not a.decisions.choice.equals(c.decisions.choice)


# -- invalid answers ----------------------------------------------------------------------


def unit_decisions(study, gateway=None, seed=2):
    """Every unit's decisions, as a run gathers them (without its check on invalid answers)."""
    units = study.units(seed)
    return pd.concat([study._run_unit(u, gateway, "test") for u in units], ignore_index=True)


UNIT = ["population", "topology", "members", "run"]


def test_invalid_answers_are_no_evidence_of_success_or_failure():
    cfg = ConventionsConfig(populations=RULES, sizes=(8,), runs=2, horizon=12)
    study = ConventionsStudy(cfg, seed=5)
    d = study.run().decisions
    games = d.part == "game"
    rows = games & (d.step > 1) & (np.random.default_rng(1).random(len(d)) < 0.25)
    bad = spoil(d, rows)
    pairs = interactions(bad[bad.part == "game"])
    assert (pairs.valid == ~pairs.success.isna()).all() and (~pairs.valid).sum() > 10
    ok = pairs[pairs.valid]
    assert (ok.success == (ok.choice_a == ok.choice_b)).all()
    # the success rates are those of the valid interactions alone
    lines = timeline(bad[bad.part == "game"]).set_index([*UNIT, "step"]).success
    alone = ok.groupby([*UNIT, "step"]).success.mean()
    pd.testing.assert_series_equal(lines.loc[alone.index], alone, check_names=False)
    assert lines.drop(alone.index).isna().all()  # steps with nothing valid
    runs = run_outcomes(bad[bad.part == "game"]).set_index(UNIT)
    last = pairs.groupby(UNIT).tail(8).groupby(UNIT).success.mean()  # NaN skipped
    pd.testing.assert_series_equal(runs.success, last.loc[runs.index], check_names=False)
    assert runs.invalid.sum() == rows.sum() and runs.measured.all()
    summary = study.summarize(bad, 5).set_index("population")
    spoiled = bad[rows].groupby("population").size()
    assert summary.invalid.to_dict() == spoiled.to_dict()
    means = runs.groupby("population").success.mean().to_dict()
    assert summary.success.to_dict() == pytest.approx(means)
    assert "invalid" in study.table(study.summarize(bad, 5))


def test_convergence_skips_invalid_interactions():
    ok = [1.0] * 11 + [np.nan] + [1.0] * 12
    # 3N = 12 valid successes: the invalid interaction neither breaks the streak nor
    # counts in it, but it took its time
    assert convergence(np.array(ok), 4) == (13.0, 0.0)
    broken = [1.0] * 11 + [0.0] + [1.0] * 12
    assert convergence(np.array(broken), 4) == (24.0, 12.0)
    assert all(np.isnan(convergence(np.array([np.nan] * 30), 4)))


def test_a_population_whose_answers_are_all_invalid_has_no_measures():
    cfg = ConventionsConfig(populations=("fake/model",), sizes=(4,), runs=2, horizon=3)
    study = ConventionsStudy(cfg)
    decisions = unit_decisions(study, always(None))
    runs = run_outcomes(decisions[decisions.part == "game"])
    assert not runs.measured.any() and not runs.converged.any()
    assert runs.success.isna().all() and runs.dominant_share.isna().all()
    assert runs.winner.isna().all() and (runs.invalid == 2 * 3 * 4).all()
    row = study.summarize(decisions, 2).iloc[0]
    assert np.isnan(row.success) and np.isnan(row.dominant_share) and row.winner is None
    assert row.measured == 0 and row.converged == 0 and row.invalid == 2 * 2 * 3 * 4
    table = study.table(study.summarize(decisions, 2)).iloc[0]
    assert table["success %"] == "" and table["on dominant %"] == ""
    assert table.converged == "0/0" and table.invalid == 48


def test_a_population_that_agrees_whenever_it_answers_succeeds_every_time():
    # a third of the answers are unreadable; the readable ones are all F: every valid
    # interaction succeeds and every member with a readable answer is on F
    gateway = ScriptedGateway(
        lambda r: (None, ()) if int(r.hash[:8], 16) % 3 == 0 else ("F", one_hot(r.options, "F"))
    )
    cfg = ConventionsConfig(populations=("fake/model",), sizes=(6,), runs=2, horizon=10)
    study = ConventionsStudy(cfg)
    decisions = unit_decisions(study, gateway)
    games = decisions[decisions.part == "game"]
    assert 0.1 < (~games.valid.astype(bool)).mean() < 0.6
    runs = run_outcomes(games)
    assert (runs.success == 1).all() and (runs.dominant_share == 1).all()
    assert runs.converged.all() and (runs.winner == "F").all()
    assert (timeline(games).success.dropna() == 1).all()
