"""Topology factory: every kind, seeding, bad parameters."""

import networkx as nx
import numpy as np
import pytest

from workbench.errors import ConfigError
from workbench.society import TOPOLOGIES, Topology, build_graph


@pytest.mark.parametrize(
    ("topology", "n", "edges"),
    [
        (Topology("complete"), 6, 15),
        (Topology("ring", k=2), 6, 6),
        (Topology("ring", k=4), 10, 20),
        (Topology("watts_strogatz", k=4, p=0.3), 20, 40),
        (Topology("grid"), 12, 17),  # 3 x 4
        (Topology("grid", rows=3, periodic=True), 12, 24),  # a torus
    ],
)
def test_deterministic_kinds_have_known_sizes(topology, n, edges):
    graph = topology.build(n, seed=1)
    assert sorted(graph.nodes) == list(range(n))
    assert graph.number_of_edges() == edges


@pytest.mark.parametrize("kind", sorted(TOPOLOGIES))
def test_every_kind_builds_and_is_seeded(kind):
    a = Topology(kind).build(16, seed=3)
    b = Topology(kind).build(16, seed=3)
    assert a.number_of_nodes() == 16
    assert sorted(a.edges) == sorted(b.edges)


def test_generator_seed_is_reproducible():
    a = Topology("erdos_renyi", p=0.3).build(30, np.random.default_rng(5))
    b = Topology("erdos_renyi", p=0.3).build(30, np.random.default_rng(5))
    c = Topology("erdos_renyi", p=0.3).build(30, np.random.default_rng(6))
    assert sorted(a.edges) == sorted(b.edges) != sorted(c.edges)


def test_barabasi_albert_edges():
    assert Topology("barabasi_albert", m=2).build(20, seed=1).number_of_edges() == 2 * 18


def test_sbm_homophily_splits_the_society():
    graph = Topology("sbm", p=0.3, homophily=1.0).build(20, seed=1)
    blocks = nx.get_node_attributes(graph, "block")
    assert all(blocks[u] == blocks[v] for u, v in graph.edges)
    mixed = Topology("sbm", p=0.3, homophily=0.5).build(40, seed=1)
    blocks = nx.get_node_attributes(mixed, "block")
    assert any(blocks[u] != blocks[v] for u, v in mixed.edges)


def test_any_graph_is_accepted():
    graph = nx.path_graph(5)
    assert build_graph(graph, 5) is graph
    assert build_graph("complete", 4).number_of_edges() == 6


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Topology("hypercube"), "unknown topology"),
        (lambda: Topology("erdos_renyi", p=1.5), "p must be in"),
        (lambda: Topology("sbm", homophily=-0.1), "homophily"),
        (lambda: Topology("sbm", p=0.9, homophily=0.9), "above 1"),
        (lambda: Topology("ring", k=3).build(10), "even k"),
        (lambda: Topology("ring", k=4).build(4), "even k"),
        (lambda: Topology("barabasi_albert", m=5).build(5), "1 <= m < n"),
        (lambda: Topology("grid", rows=3).build(10), "does not divide"),
        (lambda: Topology().build(0), "at least one member"),
        (lambda: build_graph(nx.path_graph(3), 4), "has 3 nodes"),
        (lambda: build_graph(nx.DiGraph([(0, 1)]), 2), "undirected"),
    ],
)
def test_bad_parameters_raise_one_line_config_errors(make, message):
    with pytest.raises(ConfigError, match=message) as info:
        make()
    assert "\n" not in str(info.value)


def test_random_regular_is_connected_regular_and_seeded():
    a = Topology("random_regular", k=4).build(12, seed=7)
    assert nx.is_connected(a) and {d for _, d in a.degree} == {4}
    assert sorted(a.edges) == sorted(Topology("random", k=4).build(12, seed=7).edges)
    # the same networkx calls as ever: a generator of the seed draws each try's seed
    rng = np.random.default_rng(7)
    expected = nx.random_regular_graph(4, 12, seed=int(rng.integers(2**32)))
    assert sorted(a.edges) == sorted(expected.edges)


def test_aliases_name_the_same_kinds():
    assert Topology("random").kind == "random_regular"
    assert Topology("small_world", k=4, p=0.2) == Topology("watts_strogatz", k=4, p=0.2)


def test_of_degree_maps_a_mean_degree_to_each_kinds_parameters():
    assert Topology.of_degree("sbm", 11, 4, homophily=0.7) == Topology("sbm", p=0.4, homophily=0.7)
    assert Topology.of_degree("erdos_renyi", 11, 4).p == 0.4
    assert Topology.of_degree("barabasi_albert", 11, 4).m == 2
    assert Topology.of_degree("small_world", 11, 6, p=0.3) == Topology("watts_strogatz", k=6, p=0.3)


def test_unknown_kind_is_one_line_listing_every_kind():
    with pytest.raises(ConfigError) as info:
        Topology("hypercube")
    message = str(info.value)
    assert "\n" not in message
    assert all(kind in message for kind in (*TOPOLOGIES, "random", "small_world"))


def test_random_regular_rejects_an_odd_number_of_stubs():
    with pytest.raises(ConfigError, match="n k even"):
        Topology("random_regular", k=3).build(9, seed=1)
