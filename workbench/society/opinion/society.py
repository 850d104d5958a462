"""The opinion society: members start from given opinions and may talk before each round.

Members update in one of two orders (:data:`UPDATES`): in rounds played by the
situation's schedule (everyone at once under ``"synchronous"``, random pairs under
``"encounters"``, ...), or asynchronously, one uniformly random member at a time
(:class:`Asynchronous`), the classic order of the voter model [2]_.

References
----------
.. [1] Y.-S. Chuang, A. Goyal, N. Harlalka, S. Suresh, R. Hawkins, S. Yang, D. Shah,
   J. Hu and T. T. Rogers, "Simulating opinion dynamics with networks of LLM-based
   agents", Findings of NAACL (2024). The message round before each opinion round.
.. [2] P. Clifford and A. Sudbury, "A model for spatial conflict", Biometrika 60(3),
   581-588 (1973).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from workbench.errors import ConfigError
from workbench.llm.types import Decision, GenerateRequest
from workbench.society.opinion.rules import DeGroot, degroot_classes, degroot_limit, degroot_matrix
from workbench.society.opinion.scale import label_of, level_of, one_hot, position_of
from workbench.society.opinion.task import OpinionTask
from workbench.society.schedules import Schedule
from workbench.society.society import Society
from workbench.society.task import Observation, Round

__all__ = [
    "COMMUNITIES",
    "INITIALS",
    "UPDATES",
    "Asynchronous",
    "OpinionSociety",
    "initial_opinions",
]

#: The update orders of an opinion society.
UPDATES: dict[str, str] = {
    "rounds": "each step is a round played by the situation's schedule",
    "asynchronous": "one uniformly random member at a time answers, seeing its neighbours' "
    "current answers; a step is a number of such updates (one sweep of N by default)",
}

#: How initial opinions are drawn (continuous, in [0, 1]).
INITIALS: dict[str, str] = {
    "balanced": "evenly spread: one per 1/N-wide stratum, in random order (N/5 per level)",
    "uniform": "independent and uniform on [0, 1] (Deffuant et al., Hegselmann-Krause)",
    "split": "community A below the midpoint, community B above it (a polarized start)",
}
#: The two communities (halves) of a society: members ``0 .. n//2 - 1`` are A, the rest B.
COMMUNITIES = ("A", "B")


class Asynchronous(Schedule):
    """Asynchronous updates: one uniformly random member at a time [2]_.

    Each update draws one member uniformly (with replacement, from ``society.random``);
    it sees its neighbours' current answers and states, as under the synchronous
    schedule, answers, and its answer counts at once for the next update. A step is
    ``updates`` such updates (with ``N`` members, ``N`` updates make one sweep, the
    voter model's unit of time). Not in :data:`~workbench.society.SCHEDULES`: an
    :class:`OpinionSociety` plays it when built with ``updates="asynchronous"``.

    Parameters
    ----------
    updates : int
        Updates per step, at least 1.
    """

    name = "asynchronous"
    description = UPDATES["asynchronous"]

    def __init__(self, updates: int) -> None:
        if isinstance(updates, bool) or not isinstance(updates, int) or updates < 1:
            raise ConfigError(f"updates per step must be a whole number >= 1, got {updates!r}")
        self.updates = updates
        self._neighbours: dict[Any, list] = {}

    def step(self, society: Society, round_: Round) -> None:
        members = society.members
        for _ in range(self.updates):
            member = members[society.random.randrange(len(members))]
            if member not in self._neighbours:  # the network does not change
                self._neighbours[member] = member.neighbours()
            visible = [n for n in self._neighbours[member] if n.answer]
            seen = tuple((n.label, n.answer) for n in visible)
            values = tuple(n.value for n in visible)
            society.ask([(member, member.observe(round_, seen, values))])


def initial_opinions(how: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Initial continuous opinions of ``n`` members, see :data:`INITIALS`.

    Members ``0 .. n//2 - 1`` are community A (the block model's first block), the rest B.
    ``"uniform"`` is the start of Deffuant et al. (2000) and Hegselmann & Krause (2002).
    """
    u = rng.random(n)
    if how == "uniform":
        return u
    if how == "balanced":
        return (rng.permutation(n) + u) / n
    if how == "split":
        half = n // 2
        return np.r_[0.5 * u[:half], 0.5 + 0.5 * u[half:]]
    raise ConfigError(f"unknown initial opinions {how!r}; choose one of {', '.join(INITIALS)}")


class OpinionSociety(Society):
    """A society discussing a topic, each member starting from a given opinion.

    Parameters
    ----------
    persons, task, situation
        As :class:`~workbench.society.Society`; ``task`` is an :class:`OpinionTask`.
    initial : sequence of float
        Each member's initial continuous opinion in [0, 1]. A member starts answering the
        label of its bin; rule members also keep it as their state.
    talk : bool
        Before each round, every LLM member writes a short message (one batch of
        :meth:`Gateway.generate <workbench.llm.Gateway.generate>` calls) that the
        members who see it read in their prompts; rule members post their label's
        meaning. Off by default.
    talk_tokens : int
        Most tokens of a message.
    trust : numpy.ndarray, networkx.Graph or None
        DeGroot's trust weights, when not equal: a row-stochastic matrix over the members
        (in order), or a graph on the network's nodes, possibly directed, whose ``weight``
        edge attribute gives ``w_ij`` and self-loops ``w_ii`` (:func:`degroot_matrix`).
        Every :class:`DeGroot` member then applies its row (:meth:`DeGroot.rows`); each
        trusted member must be a neighbour on the network. None: equal weights on the
        network (``W = D^-1 (A + I)``).
    updates : {"rounds", "asynchronous"}
        The update order (:data:`UPDATES`): ``"rounds"`` (default) plays each step with
        the situation's schedule; ``"asynchronous"`` plays it as ``per_step`` updates of
        one uniformly random member each (:class:`Asynchronous`), the situation's
        schedule then unused. The voter model's exact complete-graph results (win
        probability = initial share, the birth-death chain's mean consensus time) are
        for this order; see :class:`~workbench.society.opinion.Voter`.
    per_step : int or None
        Asynchronous updates per step; None: one sweep (as many as members). With 1,
        steps count updates and ``run(until=...)`` stops at the exact update.
    **kwargs
        Passed to :class:`~workbench.society.Society` (``seed``, ``gateway``, ``roles``,
        ``conditions``, ``run_id``, ``order``).

    Attributes
    ----------
    updates : str
        The update order.
    degroot_limit : float
        Where DeGroot's averaging ends when it ends in one consensus (one closed class of
        the trust graph, e.g. a connected network): the initial positions on the Likert
        scale weighted by the stationary distribution (with equal weights: by degree plus
        one). NaN when there are several limits. Also a ``degroot_limit`` column.
    degroot_limits : numpy.ndarray
        Every member's DeGroot limit position (:func:`degroot_limit`): per connected
        component (per closed class, by absorption outside them).
    components : int
        Connected components of the network (with ``trust``: closed classes), also a
        column; more than one means no global consensus.
    degroot_clusters : int
        Opinion clusters of the DeGroot limits (:func:`~workbench.society.opinion.measures.
        opinion_clusters`, the measured clusters' definition), also a column; the limits of
        the classes are in the ``degroot_limits`` column (sorted, ``;``-separated).
    degroot_minor_clusters : int
        Minor clusters of the DeGroot limits (:func:`~workbench.society.opinion.measures.
        minor_clusters`: e.g. an isolated member's own limit), also a column.
    posts : list of dict
        Every message posted: ``step``, ``member``, ``message``.

    Notes
    -----
    Step 0 of the results holds the initial opinions (``method`` ``"initial"``). With
    ``talk`` the results gain a ``message`` column: what the member posted before
    answering.
    """

    def __init__(
        self,
        persons: Sequence[Any],
        task: OpinionTask,
        situation: Any = None,
        *,
        initial: Sequence[float],
        talk: bool = False,
        talk_tokens: int = 48,
        trust: np.ndarray | nx.Graph | None = None,
        updates: str = "rounds",
        per_step: int | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(task, OpinionTask):
            raise ConfigError("an opinion society needs an OpinionTask")
        if updates not in UPDATES:
            raise ConfigError(f"unknown updates {updates!r}; choose one of {', '.join(UPDATES)}")
        if per_step is not None and updates != "asynchronous":
            raise ConfigError('per_step is for updates="asynchronous" only')
        initial = [float(x) for x in initial]
        if len(initial) != len(persons):
            raise ConfigError(f"got {len(initial)} initial opinions for {len(persons)} members")
        if any(not 0.0 <= x <= 1.0 for x in initial):
            raise ConfigError("initial opinions must be in [0, 1]")
        conditions = {
            **(kwargs.pop("conditions", None) or {}),
            **dict.fromkeys(
                ("degroot_limit", "degroot_limits", "degroot_clusters", "degroot_minor_clusters")
            ),
            "components": None,
        }
        super().__init__(persons, task, situation, conditions=conditions, **kwargs)
        self.updates = updates
        if updates == "asynchronous":
            self.schedule = Asynchronous(len(persons) if per_step is None else per_step)
        nodes = [m.node for m in self.members]
        graph = self.network.G
        matrix = None
        if trust is not None:
            matrix = self._trust(trust, nodes)
            rows = DeGroot.rows(matrix, [m.label for m in self.members])
            for member, rule in zip(self.members, rows, strict=True):
                if isinstance(member.person, DeGroot):
                    member.person = rule
        self.talk = talk
        self.talk_tokens = talk_tokens
        self.posts: list[dict] = []
        round_ = task.rounds[0]
        options = round_.options
        positions = []
        for member, x in zip(self.members, initial, strict=True):
            member.answer = label_of(x, options)
            keeps = getattr(member.person, "keeps_value", False)
            member.value = x if keeps else None
            positions.append(position_of(x) if keeps else level_of(member.answer, options))
        positions = np.asarray(positions, dtype=float)
        if matrix is None:
            # equal weights: pi of each component is proportional to degree plus one
            weights = np.array([graph.degree(node) + 1 for node in nodes], float)
            index = {node: i for i, node in enumerate(nodes)}
            parts = [[index[v] for v in c] for c in nx.connected_components(graph)]
            if len(parts) == 1:
                limits = np.full(len(nodes), np.dot(weights, positions) / weights.sum())
            else:
                limits = np.empty(len(nodes))
                for c in parts:
                    limits[c] = np.dot(weights[c], positions[c]) / weights[c].sum()
        else:
            parts = degroot_classes(matrix)[0]
            limits = degroot_limit(matrix, positions)
        from workbench.society.opinion.measures import minor_clusters, opinion_clusters

        self.degroot_limits = limits
        self.components = len(parts)
        self.degroot_limit = float(limits[parts[0][0]]) if len(parts) == 1 else float("nan")
        self.degroot_clusters = opinion_clusters(limits)
        self.degroot_minor_clusters = minor_clusters(limits)
        self.conditions.update(
            degroot_limit=self.degroot_limit,
            degroot_limits=";".join(
                f"{v:+.4f}" for v in sorted({float(limits[c[0]]) for c in parts})
            ),
            degroot_clusters=self.degroot_clusters,
            degroot_minor_clusters=self.degroot_minor_clusters,
            components=self.components,
        )
        for member in self.members:
            index = options.index(member.answer)
            start = Decision(
                options=options,
                probabilities=one_hot(index, len(options)),
                choice=member.answer,
                valid=True,
                method="initial",
                extra={"value": member.value},
            )
            self._record(member, Observation(round_, answer=member.answer), start)

    def _trust(self, trust: np.ndarray | nx.Graph, nodes: list) -> np.ndarray:
        """The trust matrix over the members, checked against the network."""
        if isinstance(trust, nx.Graph):
            if set(trust.nodes) != set(nodes):
                raise ConfigError("the trust graph must have the network's nodes")
            matrix = degroot_matrix(trust, weight="weight", nodelist=nodes)
        else:
            matrix = np.asarray(trust, dtype=float)
            if matrix.shape != (len(nodes), len(nodes)):
                raise ConfigError(f"a trust matrix for {len(nodes)} members must be square")
        graph = self.network.G
        for i, j in zip(*np.nonzero(matrix), strict=True):
            if i != j and not graph.has_edge(nodes[i], nodes[j]):
                raise ConfigError(
                    f"member {i} trusts member {j}, who is not its neighbour on the network"
                )
        return matrix

    def step(self) -> None:
        """One step: (members post messages,) then they read and answer: all in one round
        of the situation's schedule, or in ``per_step`` asynchronous updates."""
        if self.talk:
            self._post()
        super().step()

    def _post(self) -> None:
        task: OpinionTask = self.task
        norm = self.situation.norm_text
        llm = [m for m in self.members if not m.person.is_rule]
        requests = [
            GenerateRequest(
                model=m.person.model,
                messages=task.talk_messages(m.answer, m.person.persona.text, norm),
                max_tokens=self.talk_tokens,
                temperature=0.7,
                seed=int(self.rng.integers(2**31)),
            )
            for m in llm
        ]
        texts = {m: g.text for m, g in zip(llm, self.gateway.generate(requests), strict=True)}
        task.board.clear()
        step = self.steps  # mesa counts the step before it runs it
        for member in self.members:
            if member in texts:
                text = " ".join(texts[member].split())[:300] or "(no message)"
            else:
                text = f"My view: {task.meaning(member.answer)}." if member.answer else ""
            task.board[member.label] = text
            self.posts.append({"step": step, "member": member.unique_id, "message": text})

    @property
    def decisions(self) -> pd.DataFrame:
        """The decisions table; with talk, each row's ``message`` is what the member posted."""
        table = super().decisions
        if not self.talk:
            return table
        posts = pd.DataFrame(self.posts, columns=["step", "member", "message"])
        return table.merge(posts, on=["step", "member"], how="left")
