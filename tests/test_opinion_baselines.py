"""DeGroot's model in general and Deffuant's cluster reference, against exact results.

- DeGroot 1974: ``lim W^t x(0)`` is ``pi . x(0)`` on a strongly connected aperiodic trust
  graph; one limit per closed class otherwise, by absorption outside them.
- Deffuant et al. 2000 and Weisbuch et al. 2002: about ``floor(1 / (2 d))`` major
  clusters, an asymptotic figure. The printed reference is checked by Monte Carlo at the
  study's documented Deffuant setting (200 members, uniform start, complete mixing,
  mu = 0.5, 100 rounds of random encounters), with an independent simulation written here
  (numpy only, no project code) and the project's own runs.

Monte Carlo sizes and tolerances: the independent simulation runs 400 societies per
threshold; the project 16 per threshold. A reference count "agrees" when the mean
major-cluster count rounds to it: ``|mean - reference| + 4 SE < 0.5``. The project's mean
must lie within 4 combined standard errors of the independent one. Seeds are fixed, so the
tests are deterministic; the 4-SE margins make a failure by chance with another seed
rarer than one in ten thousand (normal approximation).
"""

import math
import warnings

import networkx as nx
import numpy as np
import pytest

from workbench.society import Situation
from workbench.society.opinion import (
    NO_TOPIC,
    DeGroot,
    OpinionSociety,
    OpinionTask,
    degroot_classes,
    degroot_limit,
    degroot_matrix,
)
from workbench.studies.polarization import PolarizationConfig, PolarizationStudy

# -- DeGroot ------------------------------------------------------------------------------


def stationary(w):
    """pi with pi W = pi, sum 1: the eigenvector of W^T for its eigenvalue nearest 1."""
    values, vectors = np.linalg.eig(w.T)
    pi = np.real(vectors[:, np.argmin(np.abs(values - 1))])
    return pi / pi.sum()


def random_trust(n, rng, density=0.3):
    """A random row-stochastic W whose graph is strongly connected (a directed cycle plus
    random edges) and aperiodic (self-weights)."""
    mask = (rng.random((n, n)) < density) | np.eye(n, dtype=bool)
    order = rng.permutation(n)
    mask[order, np.roll(order, -1)] = True  # a Hamiltonian cycle
    w = np.where(mask, rng.random((n, n)) + 0.05, 0.0)
    return w / w.sum(axis=1, keepdims=True)


def society(n, x0, topology, trust=None, rounds=400):
    return OpinionSociety(
        [DeGroot()] * n,
        OpinionTask.about(NO_TOPIC, rounds),
        Situation(topology=topology, schedule="synchronous"),
        initial=x0,
        trust=trust,
        seed=7,
    )


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_degroot_limit_is_pi_dot_x0_for_strongly_connected_weights(seed):
    rng = np.random.default_rng(seed)
    n = 12
    w = random_trust(n, rng)
    assert nx.is_strongly_connected(nx.from_numpy_array(w > 0, create_using=nx.DiGraph))
    x0 = rng.random(n)
    pi = stationary(w)
    limit = degroot_limit(w, x0)
    assert limit == pytest.approx(np.full(n, pi @ x0), abs=1e-9)
    assert np.linalg.matrix_power(w, 2000) @ x0 == pytest.approx(limit, abs=1e-9)
    # the society's weighted DeGroot members follow W (a directed W on its undirected support)
    run = society(n, x0, "complete", trust=w, rounds=300)
    assert run.components == 1 and run.degroot_limit == pytest.approx(5 * (pi @ x0) - 2.5)
    run.run()
    final = np.array([m.value for m in run.members])
    assert final == pytest.approx(np.full(n, pi @ x0), abs=1e-6)
    assert abs(pi @ x0 - x0.mean()) > 1e-4  # the weights matter


def test_degroot_matrix_reads_edge_weights_directed_and_self_weights():
    g = nx.DiGraph()
    g.add_weighted_edges_from([(0, 1, 3.0), (0, 0, 1.0), (1, 2, 1.0), (2, 0, 2.0), (2, 2, 2.0)])
    w = degroot_matrix(g, weight="weight")
    assert w == pytest.approx(np.array([[0.25, 0.75, 0], [0, 0, 1], [0.5, 0, 0.5]]))
    equal = degroot_matrix(nx.path_graph(3))  # the default: (A + I) / (degree + 1)
    assert equal == pytest.approx(np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1]]) / [[2], [3], [2]])


def test_degroot_on_a_disconnected_network_has_one_limit_per_component():
    graph = nx.disjoint_union_all([nx.path_graph(5), nx.star_graph(4), nx.cycle_graph(6)])
    n = graph.number_of_nodes()
    rng = np.random.default_rng(11)
    x0 = rng.random(n)
    w = degroot_matrix(graph)
    classes, transient = degroot_classes(w)
    assert [len(c) for c in classes] == [5, 5, 6] and transient == []
    limit = degroot_limit(w, x0)
    for part in nx.connected_components(graph):
        c = sorted(part)
        weights = np.array([graph.degree(v) + 1 for v in c], float)
        assert limit[c] == pytest.approx(np.full(len(c), weights @ x0[c] / weights.sum()))
    run = society(n, x0, graph, rounds=400)
    assert run.components == 3 and math.isnan(run.degroot_limit)
    assert run.degroot_limits == pytest.approx(5 * limit - 2.5)
    assert len(run.conditions["degroot_limits"].split(";")) == 3
    run.run()
    assert np.array([m.value for m in run.members]) == pytest.approx(limit, abs=1e-6)
    assert np.ptp(limit) > 0.05  # the components really end apart


def test_degroot_transient_members_end_at_the_absorption_mix():
    """Two closed classes {0, 1} and {2, 3}; 4 and 5 listen to both and to each other."""
    w = np.array(
        [
            [0.5, 0.5, 0, 0, 0, 0],
            [0.3, 0.7, 0, 0, 0, 0],
            [0, 0, 0.6, 0.4, 0, 0],
            [0, 0, 0.5, 0.5, 0, 0],
            [0.2, 0, 0.1, 0, 0.4, 0.3],
            [0, 0.1, 0, 0.3, 0.2, 0.4],
        ]
    )
    x0 = np.array([0.1, 0.2, 0.8, 0.9, 0.5, 0.0])
    classes, transient = degroot_classes(w)
    assert classes == [[0, 1], [2, 3]] and transient == [4, 5]
    limit = degroot_limit(w, x0)
    a, b = stationary(w[:2, :2]) @ x0[:2], stationary(w[2:4, 2:4]) @ x0[2:4]
    assert limit[:4] == pytest.approx([a, a, b, b])
    # absorption: x_T = (I - W_TT)^-1 W_TC x_C, checked against W^t x0
    assert np.linalg.matrix_power(w, 3000) @ x0 == pytest.approx(limit, abs=1e-9)
    assert a < limit[4] < b and a < limit[5] < b
    graph = nx.Graph([(0, 1), (2, 3), (4, 0), (4, 2), (4, 5), (5, 1), (5, 3)])
    run = society(6, x0, graph, trust=w, rounds=300)
    assert run.components == 2
    run.run()
    assert np.array([m.value for m in run.members]) == pytest.approx(limit, abs=1e-6)


def test_the_study_warns_about_disconnected_random_networks_and_can_redraw_them():
    base = dict(populations=("rule:degroot",), topologies=("erdos_renyi",), members=40)
    cfg = PolarizationConfig(**base, degree=4, rounds=2, runs=8)
    study = PolarizationStudy(cfg, seed=13)
    with pytest.warns(RuntimeWarning, match="components"):
        result = study.run()
    row = result.summary.iloc[0]
    assert row.connected < 1 and row.components > 1 and math.isnan(row.degroot_limit)
    assert "DISCONNECTED" in row.published_source
    assert row.published_clusters + row.published_minor_clusters > 1  # not "1 cluster"
    connected = PolarizationStudy(
        PolarizationConfig(**base, rounds=2, runs=8, connected=True), seed=13
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        row = connected.run().summary.iloc[0]
    assert row.connected == 1 and row.components == 1 and row.published_mean == row.degroot_limit


# -- Deffuant's reference -----------------------------------------------------------------

N, ROUNDS, SIMS = 200, 100, 400  # the study's documented Deffuant setting; sims per d


def independent_major_clusters(d, rng, n=N, rounds=ROUNDS, sims=SIMS, mu=0.5):
    """Major-cluster counts of ``sims`` Deffuant societies simulated here, all at once.

    Uniform start; each round a uniformly random perfect matching (the complete graph's
    random maximal matching); a pair closer than ``d`` both move ``mu`` of the way. A
    cluster is a run of the sorted opinions with gaps of at most 0.05 (a quarter Likert
    level) holding at least 5% of the members.
    """
    x = rng.random((sims, n))
    rows = np.arange(sims)[:, None]
    for _ in range(rounds):
        p = rng.permuted(np.tile(np.arange(n), (sims, 1)), axis=1)
        a, b = p[:, 0::2], p[:, 1::2]
        xa, xb = x[rows, a], x[rows, b]
        close = np.abs(xa - xb) < d
        x[rows, a] = np.where(close, xa + mu * (xb - xa), xa)
        x[rows, b] = np.where(close, xb + mu * (xa - xb), xb)
    counts = []
    for row in np.sort(x, axis=1):
        sizes = np.diff(np.r_[0, np.flatnonzero(np.diff(row) > 0.05) + 1, n])
        counts.append(int((sizes >= 0.05 * n).sum()))
    return np.array(counts)


def mean_se(x):
    x = np.asarray(x, float)
    return x.mean(), x.std(ddof=1) / math.sqrt(len(x))


DS = (0.15, 0.2, 0.25, 0.3)


@pytest.fixture(scope="module")
def independent():
    rng = np.random.default_rng(2002)
    return {d: independent_major_clusters(d, rng) for d in (0.1, *DS)}


@pytest.fixture(scope="module")
def printed():
    cfg = PolarizationConfig(
        populations=tuple(f"rule:deffuant:{d}" for d in (0.1, *DS)),
        topologies=("complete",),
        members=N,
        rounds=1,
        runs=1,
        initial="uniform",
    )
    study = PolarizationStudy(cfg, seed=1)
    summary = study.run().summary
    return study, summary.set_index("population")


@pytest.mark.parametrize("d", DS)
def test_the_printed_deffuant_reference_agrees_with_an_independent_simulation(
    d, independent, printed
):
    _, summary = printed
    reference = summary.loc[f"rule:deffuant:{d}", "published_clusters"]
    mean, se = mean_se(independent[d])
    assert abs(mean - reference) + 4 * se < 0.5, (d, reference, mean, se)


def test_floor_of_one_over_two_d_is_asymptotic_and_printed_as_such(independent, printed):
    """At d = 0.1 finite runs give fewer than floor(1/(2d)) = 5: the label must say so."""
    study, summary = printed
    mean, se = mean_se(independent[0.1])
    assert summary.loc["rule:deffuant:0.1", "published_clusters"] == 5
    assert mean + 4 * se < 5 - 0.25  # clearly fewer than 5 major clusters
    assert "asymptotic" in summary.loc["rule:deffuant:0.1", "published_source"]
    shown = study.table(summary.reset_index())
    assert shown["clusters pub"].str.contains("asymptotic").all()


@pytest.mark.parametrize("d", [0.2, 0.3])
def test_the_projects_deffuant_runs_match_the_independent_simulation(d, independent):
    runs = 16
    cfg = PolarizationConfig(
        populations=(f"rule:deffuant:{d}",),
        topologies=("complete",),
        members=N,
        rounds=ROUNDS,
        runs=runs,
        initial="uniform",
    )
    study = PolarizationStudy(cfg, seed=2000)
    series = study.series(study.run().decisions)
    ours = series[series.step == ROUNDS].clusters.to_numpy()
    assert len(ours) == runs
    m1, m2 = ours.mean(), independent[d].mean()
    # the run-to-run sd from the 400 independent runs (16 runs may all agree: sd 0)
    se1, se2 = independent[d].std(ddof=1) / math.sqrt(runs), mean_se(independent[d])[1]
    assert abs(m1 - m2) < 4 * math.hypot(se1, se2) + 1e-12, (d, m1, se1, m2, se2)
