"""Opinion dynamics: the rules against published behaviour, the study, the LLM path."""

import json
import math

import matplotlib

matplotlib.use("Agg")

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from support.invalid import spoil
from support.scripted import always

from workbench import cli
from workbench.errors import ConfigError
from workbench.society import (
    Deffuant,
    DeGroot,
    HegselmannKrause,
    OpinionSociety,
    OpinionTask,
    Situation,
    load_topics,
    make_person,
    resolve_topic,
)
from workbench.society.checks import check_policy
from workbench.society.opinion import (
    LABELS,
    NO_TOPIC,
    bimodality_coefficient,
    community_distance,
    initial_opinions,
    label_of,
    level_of,
    opinion_clusters,
    opinion_measures,
    position_of,
)
from workbench.society.opinion.rules import Voter
from workbench.studies import check_study, get_study
from workbench.studies.polarization import PolarizationConfig, PolarizationStudy

RULES = ("rule:degroot", "rule:deffuant:0.3", "rule:hk:0.25")


def final_clusters(study, result):
    """Clusters at the last step, one list per population (one count per replicate)."""
    series = study.series(result.decisions)
    last = series[series.step == series.step.max()]
    return last.groupby("population", sort=False).clusters.apply(list).to_dict()


def from_uniform(populations, members, rounds, seed):
    """Run ``populations`` on a complete graph from a uniform start, two replicates each.

    Returns the run's result and its final clusters (:func:`final_clusters`).
    """
    config = PolarizationConfig(
        populations=tuple(populations),
        topologies=("complete",),
        members=members,
        rounds=rounds,
        runs=2,
        initial="uniform",
    )
    study = PolarizationStudy(config, seed=seed)
    result = study.run()
    return result, final_clusters(study, result)


# -- the rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "policy", [DeGroot(), HegselmannKrause(0.3), Deffuant(0.2), Deffuant(0.15, 0.3), Voter()]
)
def test_opinion_rules_pass_the_policy_conformance_check(policy):
    check_policy(policy)


def test_rule_specs_round_trip_and_reject_bad_parameters():
    assert make_person("rule:deffuant:0.2") == Deffuant(0.2, 0.5)
    assert make_person("rule:deffuant:0.2:0.3") == Deffuant(0.2, 0.3)
    assert make_person("rule:hk:0.25") == HegselmannKrause(0.25)
    assert make_person("rule:hk") == HegselmannKrause()
    assert make_person(Deffuant(0.123456789).model) == Deffuant(0.123456789)
    for bad in ("rule:deffuant:0", "rule:deffuant:0.2:0.9", "rule:hk:x", "rule:degroot:1"):
        with pytest.raises(ConfigError) as info:
            make_person(bad)
        assert "\n" not in str(info.value)


def test_labels_are_the_fifths_of_the_continuous_opinion():
    assert [label_of(x) for x in (0.0, 0.19, 0.2, 0.5, 0.79, 0.8, 1.0)] == list("1123455")
    assert [level_of(o) for o in LABELS] == [-2, -1, 0, 1, 2]
    assert position_of(0.5) == 0 and position_of(0.9) == pytest.approx(2.0)


def encounter(a, b, rule):
    society = OpinionSociety(
        [rule, rule],
        OpinionTask.about(NO_TOPIC, 1),
        Situation(topology="complete", schedule="encounters"),
        initial=[a, b],
        seed=1,
    )
    society.run()
    return [m.value for m in society.members], society.decisions


def test_deffuant_encounter_moves_both_halfway_only_within_the_threshold():
    (x, y), rows = encounter(0.1, 0.25, Deffuant(0.2))
    assert x == pytest.approx(0.175) and y == pytest.approx(0.175)
    assert rows[rows.step == 1].partner.tolist() in ([2, 1], [1, 2])
    assert rows.saw.iloc[-1].startswith("Participant")
    (x, y), _ = encounter(0.1, 0.35, Deffuant(0.2))
    assert (x, y) == (0.1, 0.35)
    (x, y), rows = encounter(0.1, 0.3, Deffuant(0.25, mu=0.3))
    assert x == pytest.approx(0.16) and y == pytest.approx(0.24)
    assert rows.value.tolist()[:2] == [0.1, 0.3] and set(rows.method) == {"initial", "rule"}


def test_encounters_match_each_member_at_most_once_a_step_along_edges():
    n = 31
    society = OpinionSociety(
        [Deffuant(0.3)] * n,
        OpinionTask.about(NO_TOPIC, 20),
        Situation(topology="watts_strogatz", schedule="encounters"),
        initial=np.linspace(0, 1, n),
        seed=3,
    )
    rows = society.run()
    rows = rows[rows.step > 0]
    assert not rows.duplicated(["step", "member"]).any()
    graph = society.network.G
    node = {m.unique_id: m.node for m in society.members}
    assert all(
        graph.has_edge(node[a], node[b]) for a, b in zip(rows.member, rows.partner, strict=True)
    )
    assert rows.groupby("step").size().between(2, n - 1).all()


# -- published behaviour of the rules ---------------------------------------------------


def test_deffuant_cluster_count_is_about_floor_of_one_over_two_d():
    """Deffuant et al. 2000: about floor(1/(2d)) clusters from a uniform start (asymptotic;
    within one of it here, see test_opinion_baselines for the Monte Carlo check)."""
    ds = (0.1, 0.15, 0.2, 0.25)
    result, clusters = from_uniform(
        (f"rule:deffuant:{d}" for d in ds), members=200, rounds=80, seed=2000
    )
    means = []
    for d in ds:
        expected = math.floor(1 / (2 * d))
        found = clusters[f"rule:deffuant:{d}"]
        assert all(abs(c - expected) <= 1 for c in found), (d, expected, found)
        means.append(np.mean(found))
    assert means == sorted(means, reverse=True) and means[0] > means[-1]  # fewer as d grows
    summary = result.summary.set_index("population")
    assert summary.loc["rule:deffuant:0.1", "published_clusters"] == 5
    assert (summary.variance < summary.variance_start).all()


def test_deffuant_reaches_consensus_for_d_from_0_3():
    """Consensus from d = 0.3 (with 500 members the finite-size threshold is below it)."""
    result, clusters = from_uniform(("rule:deffuant:0.3",), members=500, rounds=30, seed=2000)
    for found in clusters.values():
        assert found == [1, 1]
    summary = result.summary
    assert (summary.diversity < 0.15 * summary.diversity_start).all()  # one tight cluster


def test_hegselmann_krause_consensus_above_0_2_and_fragments_below():
    """Hegselmann & Krause 2002: consensus for eps above about 0.2 (uniform start).

    Near 0.2 small populations often end in two clusters (the threshold is a large-N
    figure), so consensus is checked clearly above it.
    """
    result, clusters = from_uniform(
        ("rule:hk:0.1", "rule:hk:0.3", "rule:hk:0.4"), members=60, rounds=12, seed=2002
    )
    assert clusters["rule:hk:0.3"] == [1, 1] and clusters["rule:hk:0.4"] == [1, 1]
    assert min(clusters["rule:hk:0.1"]) >= 3
    summary = result.summary.set_index("population")
    assert summary.loc["rule:hk:0.3", "diversity"] < 1e-6
    assert summary.loc["rule:hk:0.3", "published_clusters"] == 1
    assert pd.isna(summary.loc["rule:hk:0.1", "published_clusters"])


@pytest.mark.parametrize("topology", ["small_world", "sbm"])
def test_degroot_converges_to_the_stationary_weighted_average(topology):
    """DeGroot 1974: consensus at pi @ x(0), pi the stationary distribution of W."""
    config = PolarizationConfig(
        populations=("rule:degroot",), topologies=(topology,), members=30, degree=6, rounds=200
    )
    study = PolarizationStudy(config, seed=1974)
    unit = study.units(1974)[0]
    society = study.build(unit)
    graph = society.network.G
    assert nx.is_connected(graph)
    x0 = np.array([m.value for m in society.members])
    nodes = [m.node for m in society.members]
    trust = nx.to_numpy_array(graph, nodelist=nodes) + np.eye(len(nodes))
    trust /= trust.sum(axis=1, keepdims=True)
    eigenvalues, vectors = np.linalg.eig(trust.T)
    pi = np.real(vectors[:, np.argmin(np.abs(eigenvalues - 1))])
    pi /= pi.sum()
    society.run()
    final = np.array([m.value for m in society.members])
    assert np.ptp(final) < 1e-7
    assert final == pytest.approx(np.full(len(final), pi @ x0), abs=1e-7)
    assert abs(pi @ x0 - x0.mean()) > 1e-4  # the weighting matters on this network
    assert society.degroot_limit == pytest.approx(position_of(pi @ x0))


# -- measures ---------------------------------------------------------------------------


def test_bimodality_coefficient_of_known_shapes():
    rng = np.random.default_rng(0)
    assert bimodality_coefficient(np.linspace(0, 1, 2001)) == pytest.approx(5 / 9, abs=0.005)
    assert bimodality_coefficient(rng.normal(size=20000)) == pytest.approx(1 / 3, abs=0.02)
    assert bimodality_coefficient([0] * 50 + [1] * 50) > 0.9
    assert math.isnan(bimodality_coefficient([1, 1, 1, 1, 1]))
    assert math.isnan(bimodality_coefficient([1, 2, 3]))
    wide = np.stack([np.linspace(0, 1, 101), np.r_[[0.0] * 50, [1.0] * 51]], axis=1)
    both = bimodality_coefficient(wide, axis=0)
    assert both[0] == pytest.approx(bimodality_coefficient(wide[:, 0]))
    assert both[1] > 0.9


def test_clusters_and_community_distance():
    assert opinion_clusters([0.0, 0.01, 0.02, 1.0, 1.01, 2.0]) == 3
    assert opinion_clusters([-2, -2, -1, 2]) == 3  # every occupied level is a cluster
    assert opinion_clusters(np.r_[np.zeros(99), 1.0], min_share=0.05) == 1  # one outlier
    assert opinion_clusters([]) == 0
    assert community_distance([1, 2, -1, -2], ["A", "A", "B", "B"]) == 3.0


def test_initial_opinions():
    rng = np.random.default_rng(1)
    balanced = initial_opinions("balanced", 10, rng)
    assert sorted(label_of(x) for x in balanced) == sorted(LABELS * 2)
    split = initial_opinions("split", 10, rng)
    assert (split[:5] < 0.5).all() and (split[5:] >= 0.5).all()
    with pytest.raises(ConfigError):
        initial_opinions("bimodal", 10, rng)


# -- the study --------------------------------------------------------------------------


def test_polarization_passes_the_study_conformance_check():
    config = PolarizationConfig(
        populations=RULES, topologies=("sbm", "small_world"), members=12, rounds=6
    )
    result = check_study(PolarizationStudy(config, seed=11))
    assert get_study("polarization") is PolarizationStudy
    assert set(result.decisions.role) == {"A", "B"}
    assert (result.decisions[result.decisions.step == 0].method == "initial").all()


def test_populations_share_networks_and_initial_opinions_and_the_summary_sets_published_beside():
    config = PolarizationConfig(populations=RULES, members=20, rounds=12, runs=2)
    study = PolarizationStudy(config, seed=5)
    result = study.run()
    start = result.decisions[result.decisions.step == 0]
    starts = start.groupby(["population", "replicate"]).value.apply(tuple).unstack("population")
    assert all(starts[c].equals(starts[RULES[0]]) for c in RULES)  # same start everywhere
    assert not starts.loc[0].equals(starts.loc[1])  # replicates differ
    summary = result.summary.set_index("population")
    assert summary.loc["rule:degroot", "diversity"] < summary.loc["rule:degroot", "diversity_start"]
    assert (
        summary.loc["rule:degroot", "published_mean"]
        == summary.loc["rule:degroot", "degroot_limit"]
    )
    assert "Deffuant" in summary.loc["rule:deffuant:0.3", "published_source"]
    assert pd.isna(summary.loc["rule:deffuant:0.3", "published_clusters"])  # not complete
    assert {"clusters", "clusters pub", "sd (D)", "B pub"} <= set(study.table(result.summary))
    series = study.series(result.decisions)
    assert len(series) == 3 * 2 * 13 and series.step.max() == 12
    assert list(study.reference().columns) == ["model", "setting", "published", "source"]
    fig = study.plot(result)
    assert [ax.get_ylabel() for ax in fig.axes][:3] == [
        "opinion sd (diversity D)",
        "final opinion (-2..+2)",
        "final clusters",
    ]


def test_split_start_on_a_homophilous_block_model_keeps_the_communities_apart_longer():
    def gap(homophily):
        config = PolarizationConfig(
            populations=("rule:degroot",),
            members=40,
            degree=6,
            homophily=homophily,
            rounds=3,
            runs=3,
            initial="split",
        )
        return PolarizationStudy(config, seed=8).run().summary.distance.iloc[0]

    assert gap(0.95) > gap(0.5) + 0.3


def test_llm_population_prompt_drift_and_chuang_reference():
    config = PolarizationConfig(
        populations=("fake/model", "rule:degroot"),
        topic=("flat_earth", "four_day_week"),
        personas=("confirmation_bias",),
        members=10,
        rounds=3,
        runs=1,
    )
    study = PolarizationStudy(config, seed=3)
    gateway = always("1")
    result = study.run(gateway, workers=1)
    summary = result.summary.set_index(["population", "topic"])
    flat = summary.loc[("fake/model", "flat_earth")]
    assert flat["mean"] == -2 and flat.mean_start == pytest.approx(0)
    assert flat.drift == pytest.approx(2)  # all the way to the accurate end
    assert flat.published_mean == -0.90 and flat.published_diversity == 1.24
    assert "strong confirmation bias" in flat.published_source
    value = summary.loc[("fake/model", "four_day_week")]
    assert pd.isna(value.drift) and pd.isna(value.published_mean)
    assert len(gateway.requests) == 2 * 10 * 3
    prompt = gateway.requests[0].messages
    assert "strong confirmation bias" in prompt[0]["content"]
    text = prompt[-1]["content"]
    assert '"The Earth is flat."' in text and "1 = strongly disagree" in text
    assert "Your opinion so far:" in text and "The others' opinions:" in text
    assert gateway.requests[0].options == LABELS
    assert gateway.requests[0].temperature == 0.7


def test_messages_are_generated_read_by_neighbours_and_recorded():
    config = PolarizationConfig(
        populations=("fake/model",),
        topic=("vaccines_safe",),
        personas=("open_minded",),
        topologies=("complete",),
        members=4,
        rounds=2,
        runs=1,
        messages=True,
    )
    gateway = always("5")
    result = PolarizationStudy(config, seed=1).run(gateway)
    assert len(gateway.generated) == 4 * 2
    assert "Write one short message" in gateway.generated[0].messages[-1]["content"]
    assert (
        'What they wrote:\nParticipant 2: "message 1"'
        in gateway.requests[0].messages[-1]["content"]
    )
    rows = result.decisions[result.decisions.step > 0]
    assert rows.message.str.startswith("message").all()


def test_rule_members_read_llm_neighbours_at_their_labels_centre():
    observation_task = OpinionTask.about(NO_TOPIC, 1)
    society = OpinionSociety(
        [DeGroot(), make_person("fake/model")],
        observation_task,
        Situation(topology="complete"),
        initial=[0.1, 0.9],
        seed=1,
        gateway=always("5"),
    )
    society.run()
    rule, llm = society.members
    assert rule.value == pytest.approx((0.1 + 0.9) / 2)  # 0.9 is the centre of label 5
    assert llm.value is None and llm.answer == "5"


# -- data, config and CLI ---------------------------------------------------------------


def test_topics_ship_factual_pairs_and_value_claims(tmp_path):
    topics = load_topics()
    factual = [t for t in topics.values() if t.truth is not None]
    assert sum(t.truth for t in factual) == sum(not t.truth for t in factual) >= 5
    assert {t.category for t in topics.values()} >= {"science", "history", "value"}
    assert resolve_topic("flat_earth").truth is False
    custom = resolve_topic("Cats are better than dogs.")
    assert custom.name == "custom" and custom.truth is None
    path = tmp_path / "topics.json"
    path.write_text(json.dumps({"topics": [{"name": "mine", "claim": "X is Y.", "truth": True}]}))
    assert load_topics(path)["mine"].accurate == 2
    path.write_text(json.dumps([{"name": "bad", "claim": "X.", "truth": "yes"}]))
    with pytest.raises(ConfigError):
        load_topics(path)


@pytest.mark.parametrize(
    "bad",
    [
        dict(populations=("rule:nope",)),
        dict(topic=("atlantis",)),
        dict(personas=("wizard",)),
        dict(norms=("vibes",)),
        dict(topologies=("cube",)),
        dict(initial="bimodal"),
        dict(schedule="whenever"),
        dict(members=3),
        dict(rounds=0),
        dict(homophily=0.99, degree=9),
        dict(populations=()),
    ],
)
def test_bad_config_is_a_one_line_config_error(bad):
    with pytest.raises(ConfigError) as info:
        PolarizationConfig(**{"populations": RULES, **bad})
    assert "\n" not in str(info.value)


def test_cli_runs_polarization_prints_table_and_writes_files(tmp_path, capsys, monkeypatch):
    import workbench.commands
    from workbench.commands import run as run_command

    if run_command not in workbench.commands.COMMANDS:  # until the dispatcher lists it
        monkeypatch.setattr(
            workbench.commands, "COMMANDS", [*workbench.commands.COMMANDS, run_command]
        )
    out = tmp_path / "out"
    args = [
        "run",
        "polarization",
        "--populations",
        "rule:deffuant:0.3,rule:hk:0.25",
        "--members",
        "12",
        "--rounds",
        "5",
        "--runs",
        "1",
        "--topologies",
        "complete,small_world",
        "--seed",
        "1",
        "--out",
        str(out),
        "--no-store",
        "--no-progress",
    ]
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    assert "clusters pub" in printed and "deffuant:0.3" in printed
    for name in ("polarization_summary.csv", "polarization_decisions.csv", "polarization.png"):
        assert (out / name).stat().st_size > 0


# -- invalid answers ----------------------------------------------------------------------

END = ["mean", "variance", "diversity", "bimodality", "distance", "clusters"]


def test_invalid_answers_are_left_out_of_the_opinion_measures():
    config = PolarizationConfig(
        populations=("rule:degroot", "rule:hk:0.25"),
        topologies=("small_world",),
        members=12,
        rounds=4,
        runs=2,
        initial="uniform",
    )
    study = PolarizationStudy(config, seed=6)
    d = study.run().decisions
    rows = (d.step > 0) & (np.random.default_rng(2).random(len(d)) < 0.3)
    bad = spoil(d, rows, also=("value",))
    summary = study.summarize(bad, 6).set_index("population")
    # by hand: the final measures over the members whose last answer could be read
    expected = {}
    for (population, _), unit in bad.groupby(["population", "replicate"], sort=False):
        last = unit[(unit.step == unit.step.max()) & unit.valid.astype(bool)]
        x = 5 * last.value.astype(float) - 2.5
        measures = opinion_measures(x.to_numpy(), last.role.to_numpy())
        expected.setdefault(population, []).append(measures)
    for population, units in expected.items():
        for m in END:
            assert summary.loc[population, m] == pytest.approx(np.mean([u[m] for u in units]))
    counts = bad[rows].groupby("population").size().to_dict()
    assert summary.invalid.to_dict() == counts and min(counts.values()) > 0
    # the time series ends where the summary does
    series = study.series(bad)
    last = series[series.step == config.rounds].groupby("population")["mean"].mean()
    assert last.to_dict() == pytest.approx(summary["mean"].to_dict())


def unreadable(populations):
    """A study of ``populations`` (10 members, 2 rounds, seed 3) and its decisions when
    every model answer is unreadable (rule members still answer)."""
    config = PolarizationConfig(
        populations=populations,
        topic=("flat_earth",),
        personas=("open_minded",),
        members=10,
        rounds=2,
        runs=1,
    )
    study = PolarizationStudy(config, seed=3)
    decisions = pd.concat([study._run_unit(u, always(None), "t") for u in study.units(3)])
    return study, decisions


def test_a_population_whose_answers_are_all_invalid_has_no_final_opinions():
    study, decisions = unreadable(("fake/model",))
    row = study.summarize(decisions, 3).iloc[0]
    for m in END:
        assert np.isnan(row[m]), m
    assert np.isnan(row.drift) and row.invalid == 10 * 2
    assert row.mean_start == pytest.approx(0)  # the start is known
    series = study.series(decisions)
    assert series[series.step > 0][END].isna().all().all()
    shown = study.table(study.summarize(decisions, 3)).iloc[0]
    assert shown["clusters"] == "" and shown.drift == "" and shown.invalid == 20


def test_invalid_share_leaves_out_the_recorded_starting_opinions():
    from workbench.society.checks import invalid_share

    _, decisions = unreadable(("fake/model", "rule:degroot"))
    assert (decisions.method == "initial").sum() == 2 * 10  # step 0 of both populations
    assert invalid_share(decisions) == (10 * 2, 10 * 2)  # the LLM's, not the rules'
