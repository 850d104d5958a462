"""Network topologies: who can see whom in a society.

A :class:`Topology` is a frozen description (a kind and its parameters); :meth:`Topology.build`
turns it into a :class:`networkx.Graph` on ``n`` nodes, seeded from the society's
generator. Any ready-made ``networkx`` graph can be used instead of a :class:`Topology`.

References
----------
.. [1] D. J. Watts and S. H. Strogatz, "Collective dynamics of 'small-world' networks",
   Nature 393, 440-442 (1998).
.. [2] P. Erdos and A. Renyi, "On random graphs I", Publicationes Mathematicae 6,
   290-297 (1959).
.. [3] A.-L. Barabasi and R. Albert, "Emergence of scaling in random networks",
   Science 286, 509-512 (1999).
.. [4] P. W. Holland, K. B. Laskey and S. Leinhardt, "Stochastic blockmodels: first steps",
   Social Networks 5(2), 109-137 (1983).
.. [5] D. Centola and A. Baronchelli, "The spontaneous emergence of conventions: an
   experimental study of cultural evolution", PNAS 112(7), 1989-1994 (2015).
.. [6] A. Steger and N. C. Wormald, "Generating random regular graphs quickly",
   Combinatorics, Probability and Computing 8(4), 377-396 (1999).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx
import numpy as np

from workbench.errors import ConfigError

__all__ = ["ALIASES", "KINDS", "TOPOLOGIES", "Topology", "build_graph"]

#: Topology kinds and the parameters each one uses.
TOPOLOGIES: dict[str, tuple[str, ...]] = {
    "complete": (),
    "ring": ("k",),
    "watts_strogatz": ("k", "p"),
    "random_regular": ("k",),
    "erdos_renyi": ("p",),
    "barabasi_albert": ("m",),
    "sbm": ("p", "homophily"),
    "grid": ("rows", "periodic"),
}
#: Other names of kinds, as the studies' configs write them: ``"random"`` (the random
#: regular network of [5]_) and ``"small_world"`` (Watts-Strogatz).
ALIASES: dict[str, str] = {"random": "random_regular", "small_world": "watts_strogatz"}
#: Every name a topology kind goes by: the kinds, then their aliases.
KINDS: tuple[str, ...] = (*TOPOLOGIES, *ALIASES)
#: Tries at drawing a connected random regular graph before giving up.
_REGULAR_TRIES = 100


@dataclass(frozen=True)
class Topology:
    """A network topology, described by its kind and parameters.

    Parameters
    ----------
    kind : str
        One of :data:`TOPOLOGIES`: ``"complete"``, ``"ring"`` (ring lattice),
        ``"watts_strogatz"`` (small world [1]_), ``"random_regular"`` (a connected random
        ``k``-regular graph [6]_, the random network of [5]_), ``"erdos_renyi"`` (random
        graph [2]_),
        ``"barabasi_albert"`` (preferential attachment [3]_), ``"sbm"`` (two equal
        communities, a stochastic block model [4]_) or ``"grid"`` (2-D lattice, as in the
        spatial condition of [5]_). The aliases of :data:`ALIASES` (``"random"``,
        ``"small_world"``) name the same kinds; ``kind`` holds the kind they stand for.
    k : int
        Each node's number of neighbours in ``"ring"`` and ``"watts_strogatz"`` (even) and
        in ``"random_regular"`` (``n k`` even).
    p : float
        Rewiring probability (``"watts_strogatz"``), edge probability (``"erdos_renyi"``)
        or overall edge density (``"sbm"``).
    m : int
        Edges each new node brings (``"barabasi_albert"``).
    homophily : float
        In ``"sbm"``, the expected share of a node's ties that stay inside its community:
        0.5 mixes at random, 1 splits the society in two. Within-community edge
        probability is ``2 * homophily * p``, between-community ``2 * (1 - homophily) * p``.
    rows : int or None
        Rows of the ``"grid"``; ``n`` must be a multiple of it. ``None`` picks the most
        square shape.
    periodic : bool
        Wrap the ``"grid"`` into a torus.

    Examples
    --------
    >>> g = Topology("watts_strogatz", k=4, p=0.1).build(20, seed=1)
    >>> g.number_of_nodes(), g.number_of_edges()
    (20, 40)
    """

    kind: str = "complete"
    k: int = 4
    p: float = 0.1
    m: int = 2
    homophily: float = 0.8
    rows: int | None = None
    periodic: bool = False

    def __post_init__(self) -> None:
        kind = ALIASES.get(self.kind, self.kind)
        if kind not in TOPOLOGIES:
            raise ConfigError(f"unknown topology {self.kind!r}; choose one of {', '.join(KINDS)}")
        object.__setattr__(self, "kind", kind)
        if not 0.0 <= self.p <= 1.0:
            raise ConfigError(f"topology p must be in [0, 1], got {self.p}")
        if not 0.0 <= self.homophily <= 1.0:
            raise ConfigError(f"homophily must be in [0, 1], got {self.homophily}")
        if self.kind == "sbm" and 2 * self.p * max(self.homophily, 1 - self.homophily) > 1:
            raise ConfigError(
                f"sbm with p={self.p} and homophily={self.homophily} needs an edge "
                "probability above 1; lower p or homophily"
            )

    def build(self, n: int, seed: int | np.random.Generator | None = None) -> nx.Graph:
        """Build the graph on nodes ``0 .. n-1``.

        Parameters
        ----------
        n : int
            Number of nodes (members).
        seed : int, numpy.random.Generator or None
            Randomness for the random kinds; a generator is used to draw one integer seed.

        Returns
        -------
        networkx.Graph

        Raises
        ------
        ConfigError
            When the parameters do not fit ``n``.
        """
        if n < 1:
            raise ConfigError(f"a society needs at least one member, got {n}")
        if isinstance(seed, np.random.Generator):
            seed = int(seed.integers(2**32))
        kind = self.kind
        if kind == "complete":
            return nx.complete_graph(n)
        if kind in ("ring", "watts_strogatz"):
            if self.k < 2 or self.k % 2 or self.k >= n:
                raise ConfigError(f"{kind} needs an even k with 2 <= k < n; got k={self.k}, n={n}")
            p = 0.0 if kind == "ring" else self.p
            return nx.watts_strogatz_graph(n, self.k, p, seed=seed)
        if kind == "random_regular":
            return self._random_regular(n, seed)
        if kind == "erdos_renyi":
            return nx.gnp_random_graph(n, self.p, seed=seed)
        if kind == "barabasi_albert":
            if not 1 <= self.m < n:
                raise ConfigError(f"barabasi_albert needs 1 <= m < n; got m={self.m}, n={n}")
            return nx.barabasi_albert_graph(n, self.m, seed=seed)
        if kind == "sbm":
            if n < 2:
                raise ConfigError(f"sbm needs at least 2 members, got {n}")
            p_in, p_out = 2 * self.homophily * self.p, 2 * (1 - self.homophily) * self.p
            sizes = [n // 2, n - n // 2]
            graph = nx.stochastic_block_model(sizes, [[p_in, p_out], [p_out, p_in]], seed=seed)
            return nx.Graph(graph)  # drop the block-model's graph attributes' partition list
        rows = self.rows or max(r for r in range(1, math.isqrt(n) + 1) if n % r == 0)
        if rows < 1 or n % rows:
            raise ConfigError(f"grid rows={rows} does not divide n={n}")
        graph = nx.grid_2d_graph(rows, n // rows, periodic=self.periodic)
        return nx.convert_node_labels_to_integers(graph, ordering="sorted")

    def _random_regular(self, n: int, seed: int | None) -> nx.Graph:
        """A connected random ``k``-regular graph: up to 100 draws, each seeded from ``seed``."""
        if not 0 <= self.k < n or (n * self.k) % 2:
            raise ConfigError(
                f"random_regular needs 0 <= k < n and n k even; got k={self.k}, n={n}"
            )
        rng = np.random.default_rng(seed)
        for _ in range(_REGULAR_TRIES):
            graph = nx.random_regular_graph(self.k, n, seed=int(rng.integers(2**32)))
            if nx.is_connected(graph):
                return graph
        raise ConfigError(f"no connected random {self.k}-regular graph on {n} nodes")

    def check(self, n: int, name: str = "members") -> None:
        """Reject ``n`` members whose network would not fit in memory (one line naming the
        size field ``name``), see :func:`~workbench.society.checks.check_network`."""
        from workbench.society.checks import check_network

        check_network(self.kind, n, name, k=self.k, p=self.p, m=self.m)

    @classmethod
    def of_degree(
        cls, kind: str, n: int, degree: int, *, p: float = 0.1, homophily: float = 0.8
    ) -> Topology:
        """The topology of kind ``kind`` on ``n`` members with mean degree about ``degree``.

        The lattices and regular graphs (``"ring"``, ``"watts_strogatz"``,
        ``"random_regular"``) get ``k = degree``; ``"erdos_renyi"`` and ``"sbm"`` the
        density ``p = degree / (n - 1)`` (at most 1); ``"barabasi_albert"``
        ``m = degree // 2`` (at least 1). ``p`` is the rewiring probability of
        ``"watts_strogatz"``; ``homophily`` is the block model's.
        """
        kind = cls(kind).kind
        density = min(1.0, degree / max(n - 1, 1))
        if kind == "sbm":
            return cls("sbm", p=density, homophily=homophily)
        if kind == "erdos_renyi":
            return cls("erdos_renyi", p=density)
        if kind == "barabasi_albert":
            return cls("barabasi_albert", m=max(1, degree // 2))
        return cls(kind, k=degree, p=p)


def build_graph(
    topology: Topology | str | nx.Graph, n: int, seed: int | np.random.Generator | None = None
) -> nx.Graph:
    """Return the graph of a society of ``n`` members.

    Parameters
    ----------
    topology : Topology, str or networkx.Graph
        A :class:`Topology`, a kind name (default parameters), or a ready graph with
        exactly ``n`` nodes (used as is).
    n : int
        Number of members.
    seed : int, numpy.random.Generator or None
        Randomness for random topologies.

    Returns
    -------
    networkx.Graph
    """
    if isinstance(topology, nx.Graph):
        if topology.is_directed():
            raise ConfigError("the network must be an undirected networkx.Graph")
        if topology.number_of_nodes() != n:
            raise ConfigError(
                f"the network has {topology.number_of_nodes()} nodes but the society "
                f"has {n} members"
            )
        return topology
    if isinstance(topology, str):
        topology = Topology(topology)
    if not isinstance(topology, Topology):
        raise ConfigError(
            f"topology must be a Topology, a kind name or a networkx.Graph, "
            f"not {type(topology).__name__}"
        )
    return topology.build(n, seed)
