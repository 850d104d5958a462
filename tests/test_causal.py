"""Causal estimates under interference: exposure mappings, probabilities, HT/Hajek estimators.

The estimators are validated by Monte Carlo on a rule-based society whose true direct and
spillover effects are known (outcome = base + tau_direct * Z + tau_spill * exposed + noise,
the exposure mapping correctly specified), under Bernoulli and graph cluster randomization,
and exactly, by enumerating every assignment of a tiny graph.
"""

from __future__ import annotations

import itertools
import warnings

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from workbench.analysis.causal import (
    CONDITIONS,
    RESULT_COLUMNS,
    BernoulliDesign,
    ClusterDesign,
    ExposureMapping,
    PositivityWarning,
    SparseConditionWarning,
    estimate_effects,
    exposure,
    exposure_probabilities,
    graph_clusters,
)
from workbench.errors import ConfigError

TAU_DIRECT, TAU_SPILL, THRESHOLD = 1.0, 0.5, 0.5
TRUTH = {"direct": TAU_DIRECT, "spillover": TAU_SPILL, "total": TAU_DIRECT + TAU_SPILL}
REPS = 300
BLOCKS, BLOCK_SIZE = 25, 8


# ------------------------------------------------------------------ the simulated society


@pytest.fixture(scope="module")
def society() -> tuple[nx.Graph, list[set[int]], np.ndarray]:
    """A 200-node block-model network of 25 tight groups of 8, and fixed base outcomes."""
    p = np.full((BLOCKS, BLOCKS), 0.015) + np.eye(BLOCKS) * (0.4 - 0.015)
    graph = nx.Graph(nx.stochastic_block_model([BLOCK_SIZE] * BLOCKS, p.tolist(), seed=3))
    blocks = [set(range(b * BLOCK_SIZE, (b + 1) * BLOCK_SIZE)) for b in range(BLOCKS)]
    base = np.random.default_rng(11).normal(1.0, 0.5, graph.number_of_nodes())
    return graph, blocks, base


def _simulate(graph: nx.Graph, design, base: np.ndarray, seed: int) -> pd.DataFrame:
    """``REPS`` re-randomisations on the fixed graph; one tidy table of all estimates."""
    mapping = ExposureMapping("fraction", THRESHOLD)
    probs = exposure_probabilities(graph, design, mapping, draws=10_000, seed=seed)
    rng = np.random.default_rng(seed + 1)
    nodes = list(graph)
    adjacency = nx.to_scipy_sparse_array(graph, nodelist=nodes, weight=None)
    tables = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PositivityWarning)
        for rep in range(REPS):
            zz = design.sample(graph, 1, rng)[0]
            exposed = mapping.codes(adjacency, zz) % 2
            y = base + TAU_DIRECT * zz + TAU_SPILL * exposed + rng.normal(0.0, 0.5, len(nodes))
            table = estimate_effects(
                graph,
                pd.Series(zz, index=nodes),
                pd.Series(y, index=nodes),
                design,
                probabilities=probs,
                estimands=("direct", "spillover", "total"),
                means=False,
                interval="normal",  # these tests check the estimates and standard errors
            )
            table["rep"] = rep
            table["gap"] = exposed[zz == 1].mean() - exposed[zz == 0].mean()
            tables.append(table)
    return pd.concat(tables, ignore_index=True)


def _summary(runs: pd.DataFrame) -> pd.DataFrame:
    out = runs.groupby(["estimand", "estimator"]).agg(
        mean=("estimate", "mean"),
        sd=("estimate", "std"),
        n=("estimate", "count"),
        mean_se=("se", "mean"),
    )
    out["truth"] = [TRUTH[estimand] for estimand, _ in out.index]
    out["mc_se"] = out["sd"] / np.sqrt(out["n"])
    out["z"] = (out["mean"] - out["truth"]) / out["mc_se"]
    out["se_ratio"] = out["mean_se"] / out["sd"]
    return out


@pytest.fixture(scope="module")
def bernoulli_runs(society) -> pd.DataFrame:
    graph, _, base = society
    return _simulate(graph, BernoulliDesign(0.5), base, seed=20)


@pytest.fixture(scope="module")
def cluster_runs(society) -> pd.DataFrame:
    graph, blocks, base = society
    return _simulate(graph, ClusterDesign(0.5, blocks), base, seed=40)


@pytest.mark.parametrize("runs", ["bernoulli_runs", "cluster_runs"])
def test_ht_and_hajek_are_unbiased_for_direct_and_spillover(runs, request):
    summary = _summary(request.getfixturevalue(runs))
    for estimand in ("direct", "spillover", "total"):
        for estimator in ("horvitz_thompson", "hajek"):
            row = summary.loc[(estimand, estimator)]
            assert row["n"] >= 0.97 * REPS  # Hajek is undefined when a condition is empty
            assert abs(row["z"]) < 3, (estimand, estimator, row.to_dict())


@pytest.mark.parametrize("runs", ["bernoulli_runs", "cluster_runs"])
def test_standard_errors_match_or_exceed_the_spread(runs, request):
    summary = _summary(request.getfixturevalue(runs))
    for estimand in ("direct", "spillover", "total"):
        for estimator in ("horvitz_thompson", "hajek"):
            ratio = summary.loc[(estimand, estimator), "se_ratio"]
            assert 0.85 < ratio < 2.5, (estimand, estimator, ratio)


def test_naive_difference_is_biased_under_cluster_randomization(cluster_runs):
    summary = _summary(cluster_runs)
    naive = summary.loc[("direct", "naive")]
    assert naive["z"] > 10  # far beyond its Monte Carlo standard error
    # the bias is the spillover times the exposure gap between treated and control
    gap = cluster_runs.loc[cluster_runs["estimator"] == "naive", "gap"].mean()
    assert gap > 0.3
    assert naive["mean"] - TAU_DIRECT == pytest.approx(TAU_SPILL * gap, abs=4 * naive["mc_se"])
    # the interference-aware estimators are not
    assert abs(summary.loc[("direct", "hajek"), "z"]) < 3


def test_naive_difference_is_unbiased_under_bernoulli(bernoulli_runs):
    # own treatment is independent of the neighbours' under Bernoulli: no exposure gap
    naive = _summary(bernoulli_runs).loc[("direct", "naive")]
    assert abs(naive["z"]) < 3
    assert 0.85 < naive["se_ratio"] < 1.2


# --------------------------------------------------------------- exact checks by enumeration

# two 4-cycles (one with a diagonal) joined by two edges: 8 nodes, 2**8 assignments
TINY_EDGES = [(0, 1), (1, 2), (2, 3), (3, 0), (0, 2), (3, 4), (4, 5), (5, 6), (6, 7), (7, 4)]
TINY_EDGES += [(1, 7)]


@pytest.mark.parametrize(
    "design",
    [BernoulliDesign(0.4), ClusterDesign(0.5, [{0, 1}, {2, 3}, {4, 5}, {6, 7}])],
    ids=["bernoulli", "cluster"],
)
def test_ht_is_exactly_unbiased_and_its_variance_conservative(design):
    graph = nx.Graph(TINY_EDGES)
    nodes = list(graph)
    mapping = ExposureMapping("fraction", 0.5)
    probs = exposure_probabilities(graph, design, mapping)
    assert probs.joint_method == "enumeration"
    base = np.random.default_rng(0).normal(1.0, 1.0, len(nodes))
    units = design.units(graph)
    estimates, variances, weights = [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PositivityWarning)
        warnings.simplefilter("ignore", SparseConditionWarning)
        for bits in itertools.product((0, 1), repeat=int(units.max()) + 1):
            z = np.array(bits)[units]
            weights.append(np.prod(np.where(np.array(bits) == 1, design.p, 1 - design.p)))
            treatment = dict(zip(nodes, z.tolist(), strict=True))
            exposed = exposure(graph, treatment, mapping)["exposed"].to_numpy()
            y = base + TAU_DIRECT * z + TAU_SPILL * exposed
            table = estimate_effects(
                graph,
                treatment,
                dict(zip(nodes, y, strict=True)),
                design,
                probabilities=probs,
                means=False,
                naive=False,
                interval="normal",
                min_units=0,  # HT of an empty condition is 0, which keeps HT unbiased
            )
            table = table[table["estimator"] == "horvitz_thompson"].set_index("estimand")
            estimates.append(table["estimate"])
            variances.append(table["se"] ** 2)
    w = np.array(weights)
    mean = sum(wi * e for wi, e in zip(w, estimates, strict=True))
    true_var = sum(wi * (e - mean) ** 2 for wi, e in zip(w, estimates, strict=True))
    mean_var = sum(wi * v for wi, v in zip(w, variances, strict=True))
    for estimand in ("direct", "direct_exposed", "spillover", "spillover_treated"):
        truth = TAU_SPILL if estimand.startswith("spillover") else TAU_DIRECT
        assert mean[estimand] == pytest.approx(truth, abs=1e-10)
    assert mean["total"] == pytest.approx(TAU_DIRECT + TAU_SPILL, abs=1e-10)
    assert (mean_var >= true_var * (1 - 1e-9)).all(), (mean_var / true_var).to_dict()


def test_hand_computed_estimates():
    # path 0-1-2 and an edge 3-4; Bernoulli(0.5), exposed with >= 1 treated neighbour
    graph = nx.Graph([(0, 1), (1, 2), (3, 4)])
    design = BernoulliDesign(0.5)
    probs = exposure_probabilities(graph, design, "count", 1)
    # degree 1: P(exposed) = 1/2; degree 2: 3/4
    expected = {0: [0.25, 0.25, 0.25, 0.25], 1: [0.125, 0.375, 0.125, 0.375]}
    np.testing.assert_allclose(probs.pi[0], expected[0])
    np.testing.assert_allclose(probs.pi[1], expected[1])
    z = {0: 1, 1: 0, 2: 0, 3: 0, 4: 0}  # conditions: c10, c01, c00, c00, c00
    y = {0: 3.0, 1: 2.0, 2: 4.0, 3: 1.0, 4: 5.0}
    with pytest.warns(SparseConditionWarning, match="fewer than 1 units"):
        table = estimate_effects(
            graph, z, y, design, probabilities=probs, interval="normal", min_units=1
        ).set_index(["estimand", "estimator"])
    ht_c01 = 2 / 0.375 / 5
    ht_c00 = (4 / 0.25 + 1 / 0.25 + 5 / 0.25) / 5
    ht_c10 = 3 / 0.25 / 5
    estimate = table["estimate"]
    assert estimate[("mean[c01]", "horvitz_thompson")] == pytest.approx(ht_c01)
    assert estimate[("spillover", "horvitz_thompson")] == pytest.approx(ht_c01 - ht_c00)
    assert estimate[("direct", "horvitz_thompson")] == pytest.approx(ht_c10 - ht_c00)
    # nobody in c11: no estimate and no standard error, rather than an SE of 0
    for estimator in ("horvitz_thompson", "hajek"):
        assert np.isnan(estimate[("mean[c11]", estimator)])
        assert np.isnan(table.loc[("mean[c11]", estimator), "se"])
    assert estimate[("spillover", "hajek")] == pytest.approx(2.0 - 10 / 3)
    assert estimate[("direct", "hajek")] == pytest.approx(3.0 - 10 / 3)
    assert estimate[("direct", "naive")] == pytest.approx(3.0 - 3.0)
    assert table.loc[("spillover", "horvitz_thompson"), "n_used"] == 4
    assert table.loc[("mean[c01]", "hajek"), "n_used"] == 1
    assert list(table.reset_index().columns) == list(RESULT_COLUMNS)
    row = table.loc[("spillover", "hajek")]
    assert row["ci_low"] < row["estimate"] < row["ci_high"]
    assert row["ci_high"] - row["estimate"] == pytest.approx(1.959964 * row["se"], rel=1e-5)


# ---------------------------------------------------------------------- exposure mappings


def test_fraction_and_count_mappings_on_a_star():
    # centre 0 with leaves 1..4; leaf 5 hangs off leaf 4; node 6 is isolated
    graph = nx.Graph([(0, 1), (0, 2), (0, 3), (0, 4), (4, 5)])
    graph.add_node(6)
    z = {0: 1, 1: 1, 2: 0, 3: 0, 4: 0, 5: 1, 6: 1}
    frac = exposure(graph, z, "fraction", 0.5)
    assert frac.loc[0, "treated_neighbours"] == 1
    assert frac.loc[0, "fraction"] == pytest.approx(0.25)
    assert frac["condition"].to_dict() == {
        0: "c10",  # 1 of 4 neighbours treated
        1: "c11",  # its only neighbour (0) is treated
        2: "c01",
        3: "c01",
        4: "c01",  # neighbours 0 and 5 both treated
        5: "c10",  # neighbour 4 untreated
        6: "c10",  # isolated: never exposed
    }
    assert np.isnan(frac.loc[6, "fraction"])
    assert exposure(graph, z, "fraction", 0.25).loc[0, "condition"] == "c11"
    assert exposure(graph, z, "fraction", 1.0).loc[4, "condition"] == "c01"
    count = exposure(graph, z, "count", 2)
    assert count["condition"].to_dict() == {
        0: "c10", 1: "c10", 2: "c00", 3: "c00", 4: "c01", 5: "c10", 6: "c10"
    }  # fmt: skip
    assert exposure(graph, z, ExposureMapping("count")).loc[0, "condition"] == "c11"


def test_mapping_rounding_and_self_loops():
    mapping = ExposureMapping("fraction", 1 / 3)
    np.testing.assert_array_equal(mapping.minimum(np.array([0, 1, 3, 6, 10])), [1, 1, 1, 2, 4])
    assert ExposureMapping().threshold == 0.5 and ExposureMapping("count").threshold == 1
    graph = nx.Graph([(0, 0), (0, 1)])  # a self-loop does not make 0 its own neighbour
    assert exposure(graph, {0: 1, 1: 0}).loc[0, "condition"] == "c10"


def test_series_and_mapping_inputs_agree():
    graph = nx.path_graph(["a", "b", "c", "d"])
    z = {"a": 1, "b": 0, "c": 1, "d": 0}
    y = {"a": 1.0, "b": 2.0, "c": 0.5, "d": 3.0}
    design = BernoulliDesign(0.5)
    kwargs = {"seed": 0, "min_units": 1}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SparseConditionWarning)
        one = estimate_effects(graph, z, y, design, **kwargs)
        two = estimate_effects(
            graph, pd.Series(z).astype(bool), pd.Series(y)[::-1], design, **kwargs
        )
    pd.testing.assert_frame_equal(one, two)


# ----------------------------------------------------------------- exposure probabilities


@pytest.mark.parametrize("kind,threshold", [("fraction", 0.5), ("fraction", 0.3), ("count", 2)])
def test_exact_probabilities_agree_with_monte_carlo(society, kind, threshold):
    graph, blocks, _ = society
    for design in (BernoulliDesign(0.3), ClusterDesign(0.5, blocks)):
        exact = exposure_probabilities(graph, design, kind, threshold, joint=False)
        mc = exposure_probabilities(
            graph, design, kind, threshold, method="monte-carlo", draws=20_000, seed=1, joint=False
        )
        assert exact.method == "exact" and mc.method == "monte-carlo"
        np.testing.assert_allclose(exact.pi.sum(axis=1), 1.0)
        tolerance = 5 * np.sqrt(exact.pi * (1 - exact.pi) / 20_000) + 1e-9
        assert (np.abs(exact.pi - mc.pi) <= tolerance).all()
        assert ((exact.pi == 0) == (mc.pi == 0)).all()


def test_joint_probabilities_enumeration_vs_monte_carlo():
    graph = nx.Graph(TINY_EDGES)
    design = BernoulliDesign(0.4)
    exact = exposure_probabilities(graph, design)
    mc = exposure_probabilities(graph, design, method="monte-carlo", draws=40_000, seed=3)
    assert mc.joint_method == "monte-carlo" and mc.draws == 40_000
    np.testing.assert_array_equal(exact.pairs, mc.pairs)
    np.testing.assert_allclose(exact.joint, mc.joint, atol=0.012)
    # pairs at distance > 2 are independent; dependent pairs share a neighbourhood unit
    assert (0, 6) not in set(map(tuple, exact.pairs.tolist()))
    assert (0, 4) in set(map(tuple, exact.pairs.tolist()))
    for c, d in itertools.product(CONDITIONS, repeat=2):
        joint = exact.pairwise(c, d)
        np.testing.assert_allclose(joint, exact.pairwise(d, c).T)
        np.testing.assert_allclose(np.diag(joint), exact.to_frame()[c] if c == d else 0.0)
    # rows of P(C_i = c, C_j = .) sum to pi_i(c) off the diagonal
    total = sum(exact.pairwise("c10", d) for d in CONDITIONS)
    off = ~np.eye(len(graph), dtype=bool)
    np.testing.assert_allclose(total[off], np.repeat(exact.pi[:, 2], len(graph))[off.ravel()])


def test_positivity_exclusions_are_reported():
    graph = nx.path_graph(6)
    graph.add_node(6)  # isolated: can never be exposed
    design = BernoulliDesign(0.5)
    z = {v: int(v % 2 == 0) for v in graph}
    y = {v: float(v) for v in graph}
    with pytest.warns(PositivityWarning, match="1 of 7 nodes can never be in c01"):
        table = estimate_effects(graph, z, y, design, seed=0, min_units=0)
    spill = table[table["estimand"] == "spillover"]
    assert (spill["n_excluded"] == 1).all()
    assert (table.loc[table["estimand"] == "mean[c00]", "n_excluded"] == 0).all()
    with pytest.raises(ConfigError, match="positivity"):
        estimate_effects(graph, z, y, design, seed=0, on_positivity="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        estimate_effects(graph, z, y, design, seed=0, on_positivity="ignore", min_units=0)


# ------------------------------------------------------------------- designs and clusters


@pytest.mark.parametrize(
    "method", ["louvain", "greedy_modularity", "label_propagation", "three_net", "components"]
)
def test_graph_clusters_partition_the_graph(method):
    graph = nx.watts_strogatz_graph(60, 4, 0.1, seed=2)
    clusters = graph_clusters(graph, method, seed=5)
    assert sorted(v for c in clusters for v in c) == list(range(60))
    assert graph_clusters(graph, method, seed=5) == clusters
    design = ClusterDesign(0.5, clusters)
    z = design.draw(graph, 1)
    for cluster in clusters:
        assert len({z[v] for v in cluster}) == 1


def test_three_net_centres_are_far_apart():
    graph = nx.cycle_graph(40)
    clusters = graph_clusters(graph, "three_net", seed=0)
    # on a ring every centre claims the nodes within 1-2 hops: clusters of 3 to 7 nodes
    assert all(3 <= len(c) <= 7 for c in clusters)
    assert all(nx.is_connected(graph.subgraph(c)) for c in clusters)


def test_designs_draw_reproducibly():
    graph = nx.path_graph(50)
    design = BernoulliDesign(0.3)
    assert design.draw(graph, 4) == design.draw(graph, 4)
    draws = design.sample(graph, 4000, np.random.default_rng(0))
    assert draws.shape == (4000, 50)
    assert draws.mean() == pytest.approx(0.3, abs=0.01)
    by_label = ClusterDesign(0.5, {v: v // 10 for v in graph})
    assert by_label.n_clusters == 5 and "n_clusters=5" in repr(by_label)
    assert by_label == ClusterDesign(0.5, [set(range(k, k + 10)) for k in range(0, 50, 10)])


# ------------------------------------------------------------------------------- errors


def test_bad_input_raises_one_line_config_errors():
    graph = nx.path_graph(4)
    design = BernoulliDesign(0.5)
    z = {0: 1, 1: 0, 2: 1, 3: 0}
    y = {0: 1.0, 1: 2.0, 2: 3.0, 3: 4.0}
    cases = [
        (lambda: BernoulliDesign(1.0), "strictly between 0 and 1"),
        (lambda: ExposureMapping("share"), "unknown exposure mapping"),
        (lambda: ExposureMapping("fraction", 1.5), r"in \(0, 1\]"),
        (lambda: ExposureMapping("count", 0.5), "positive integer"),
        (lambda: exposure(nx.DiGraph(graph), z), "undirected"),
        (lambda: exposure(graph, [1, 0, 1, 0]), "keyed by node"),
        (lambda: exposure(graph, {0: 1, 1: 0, 2: 1}), "no value for node 3"),
        (lambda: exposure(graph, {**z, 9: 1}), "9, which is not a node"),
        (lambda: exposure(graph, {**z, 0: 2}), "must be 0/1"),
        (lambda: estimate_effects(graph, z, {**y, 2: float("nan")}, design), "not a finite"),
        (lambda: estimate_effects(graph, z, {**y, 2: "high"}, design), "must be numbers"),
        (lambda: estimate_effects(graph, z, y, "bernoulli"), "design must be"),
        (lambda: estimate_effects(graph, z, y, design, estimands=["overall"]), "unknown estimand"),
        (lambda: estimate_effects(graph, z, y, design, level=95), "level"),
        (lambda: estimate_effects(graph, z, y, design, interval="bootstrap"), "interval must"),
        (lambda: estimate_effects(graph, z, y, design, resamples=10), "resamples must"),
        (lambda: estimate_effects(graph, z, y, design, min_units=-1), "min_units must"),
        (
            lambda: estimate_effects(graph, z, y, ClusterDesign(0.5, [{0, 1}, {2, 3}])),
            "varies within the cluster",
        ),
        (
            lambda: estimate_effects(
                graph,
                z,
                y,
                design,
                "fraction",
                probabilities=exposure_probabilities(graph, design, "count"),
            ),
            "another exposure mapping",
        ),
        (
            lambda: estimate_effects(
                graph,
                z,
                y,
                design,
                probabilities=exposure_probabilities(graph, BernoulliDesign(0.4)),
            ),
            "another design",
        ),
        (lambda: ClusterDesign(0.5, [{0, 1}, {1, 2}]), "in two clusters"),
        (lambda: ClusterDesign(0.5, [{0, 1}]).draw(graph), "node 2 is in no cluster"),
        (lambda: graph_clusters(graph, "spectral"), "unknown clustering method"),
        (lambda: exposure_probabilities(graph, design, draws=10), "at least 100"),
        (lambda: exposure_probabilities(graph, design, method="mc"), "method must be"),
    ]
    for call, message in cases:
        with pytest.raises(ConfigError, match=message) as info:
            call()
        assert "\n" not in str(info.value)


# ------------------------------------------------------- sparse and flat conditions


def _ring_experiment() -> tuple[nx.Graph, dict, BernoulliDesign]:
    graph = nx.cycle_graph(12)
    z = {v: int(v in (0, 6)) for v in graph}  # c10: 0, 6; c01: 1, 5, 7, 11; c11 empty
    return graph, z, BernoulliDesign(0.5)


def test_an_empty_condition_gives_nan_and_a_warning_never_an_se_of_zero():
    graph, z, design = _ring_experiment()
    y = {v: float(v) for v in graph}
    with pytest.warns(SparseConditionWarning, match="fewer than 2 units"):
        table = estimate_effects(graph, z, y, design, seed=1).set_index(["estimand", "estimator"])
    for estimator in ("horvitz_thompson", "hajek"):
        for estimand in ("total", "mean[c11]", "spillover_treated"):  # c11 is empty
            row = table.loc[(estimand, estimator)]
            assert np.isnan(row["estimate"]) and np.isnan(row["se"]), (estimand, row)
            assert np.isnan(row["ci_low"]) and np.isnan(row["ci_high"])
        assert np.isfinite(table.loc[("direct", estimator), "se"])


@pytest.mark.parametrize("interval", ["randomization", "normal"])
def test_a_condition_whose_outcomes_are_all_equal_has_a_positive_width(interval):
    graph, z, design = _ring_experiment()
    codes = exposure(graph, z)["condition"]
    rng = np.random.default_rng(0)
    # every c10 node has outcome 1.0, the others vary
    y = {v: 1.0 if codes[v] == "c10" else float(rng.normal()) for v in graph}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SparseConditionWarning)
        table = estimate_effects(graph, z, y, design, interval=interval, seed=2)
    rows = table[table["estimand"].isin(["direct", "mean[c10]"])]
    assert (rows["se"] > 0).all() and (rows["ci_high"] - rows["ci_low"] > 0).all(), rows


def test_all_outcomes_equal_gives_nan_intervals_with_a_warning():
    graph, z, design = _ring_experiment()
    with pytest.warns(SparseConditionWarning, match="all outcomes are equal"):
        table = estimate_effects(graph, z, dict.fromkeys(graph, 1.0), design, seed=3)
    direct = table[(table["estimand"] == "direct") & (table["estimator"] != "naive")]
    hajek = direct[direct["estimator"] == "hajek"].iloc[0]
    assert hajek["estimate"] == 0 and np.isnan(hajek["se"]) and np.isnan(hajek["ci_low"])
    # HT is not location-invariant: its estimate and variance are not 0 here
    ht = direct[direct["estimator"] == "horvitz_thompson"].iloc[0]
    assert ht["se"] > 0 and ht["ci_low"] < ht["ci_high"]


def test_randomization_intervals_are_reproducible_and_contain_the_estimate():
    graph = nx.watts_strogatz_graph(40, 4, 0.1, seed=4)
    design = BernoulliDesign(0.5)
    z = design.draw(graph, 5)
    rng = np.random.default_rng(6)
    y = {v: float(rng.normal()) + z[v] for v in graph}
    one = estimate_effects(graph, z, y, design, seed=7, means=False)
    two = estimate_effects(graph, z, y, design, seed=7, means=False)
    pd.testing.assert_frame_equal(one, two)
    normal = estimate_effects(graph, z, y, design, seed=7, means=False, interval="normal")
    pd.testing.assert_series_equal(one["estimate"], normal["estimate"])
    pd.testing.assert_series_equal(one["se"], normal["se"])
    assert (one["ci_low"] < one["estimate"]).all() and (one["estimate"] < one["ci_high"]).all()


def test_diagnose_reports_every_diagnosand():
    from workbench.analysis import diagnose
    from workbench.analysis.diagnosis import DIAGNOSANDS

    graph = nx.watts_strogatz_graph(30, 4, 0.1, seed=8)
    table = diagnose(graph, BernoulliDesign(0.5), n_sims=30, resamples=100, seed=9)
    assert list(table.columns) == list(DIAGNOSANDS)
    assert set(table["estimand"]) == {"direct", "spillover", "total"}
    assert set(table["estimator"]) == {"horvitz_thompson", "hajek", "naive"}
    assert (table["n_sims"] == 30).all()
    truth = table.set_index(["estimand", "estimator"])["truth"]
    assert truth[("total", "hajek")] == 1.5 and truth[("spillover", "hajek")] == 0.5
    assert table["coverage"].between(0, 1).all() and (table["mean_width"] > 0).all()
    again = diagnose(graph, BernoulliDesign(0.5), n_sims=30, resamples=100, seed=9)
    pd.testing.assert_frame_equal(table, again)
    with pytest.raises(ConfigError, match="unknown effect"):
        diagnose(graph, BernoulliDesign(0.5), effects={"indirect": 1.0})
