"""The society: members on a network, stepped by a schedule, deciding through one gateway.

One :meth:`Society.step`:

1. the task gives the round (question, options, correct answer);
2. each member's observation is gathered by the exchange rule (what of its neighbours'
   answers reaches it) plus its memory window;
3. the situation's schedule (a :class:`~workbench.society.schedules.Schedule` from the
   :data:`~workbench.society.schedules.SCHEDULES` registry) decides who answers when; each
   LLM member's request is built and all requests that can go together are sent to the
   gateway as **one concurrent batch** (rule members decide locally), through
   :meth:`Society.ask` or its parts :meth:`Society.decide`, :meth:`Society.remember` and
   :meth:`Society.record`;
4. decisions are applied, memories (structured
   :class:`~workbench.society.task.Recollection` records) updated, and one row per
   decision is collected.

The schedules (``"synchronous"``, ``"sequential"``, ``"pairwise"``, ``"encounters"``,
``"speaker_hearer"``) and the experiments each comes from are described, with their
references, in :mod:`workbench.society.schedules`; a new schedule is a new registered
class there, not an edit of :meth:`Society.step`.

:meth:`Society.run` plays a number of steps or stops early on a rule
(``until(society) -> bool``, checked after every step).

Members may keep a continuous state besides their answer (:attr:`Member.value`, e.g. an
opinion in [0, 1]): rule policies that keep one return it in ``Decision.extra["value"]``,
see neighbours' states in :attr:`Observation.values`, and the state is recorded in the
``value`` column.

All randomness comes from the model's generators, which are seeded from ``seed``; a seed
is always drawn and recorded when none is given, so every run can be replayed.

References
----------
.. [1] J. Kazil, D. Masad and A. Crooks, "Utilizing Python for agent-based modeling: the
   Mesa framework", SBP-BRiMS (2020).
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import mesa
import networkx as nx
import pandas as pd
from mesa.discrete_space import Network

from workbench.errors import ConfigError
from workbench.llm.types import Decision
from workbench.society.member import Member
from workbench.society.persons import Person, decide_rules
from workbench.society.schedules import SCHEDULES, Schedule
from workbench.society.situation import Situation
from workbench.society.task import Observation, Recollection, Task
from workbench.society.topology import build_graph

if TYPE_CHECKING:
    from workbench.llm import Gateway
    from workbench.society.engine import ArrayEngine

__all__ = ["DECISION_COLUMNS", "Society", "draw_seed"]

#: Columns of every decisions table, before condition and round-info columns.
DECISION_COLUMNS = (
    "run_id",
    "step",
    "member",
    "node",
    "role",
    "model",
    "persona",
    "options",
    "probabilities",
    "choice",
    "truth",
    "correct",
    "planted",
    "saw",
    "partner",
    "request_hash",
    "valid",
    "method",
    "value",
)

_default_gateway = None
_default_gateway_lock = threading.Lock()


def draw_seed() -> int:
    """A fresh seed from the operating system's entropy (32 bits, easy to type back)."""
    return secrets.randbits(32)


def _shared_gateway() -> Gateway:
    global _default_gateway
    with _default_gateway_lock:
        if _default_gateway is None:
            from workbench.llm import Gateway

            _default_gateway = Gateway()
        return _default_gateway


class Society(mesa.Model):
    """LLM and rule members on a network, answering a task round after round.

    Parameters
    ----------
    persons : sequence of Person
        One person per member; member ``i`` sits on the ``i``-th node of the network.
    task : Task
        The forced choice and how its prompt is rendered.
    situation : Situation
        Norm, topology, exchange rule, memory window and schedule.
    seed : int or None
        Seed of all randomness (network, rule policies, sampled choices, pairing). When
        None, one is drawn from the operating system and recorded in :attr:`seed`.
    gateway : Gateway or None
        Where LLM members' requests go; a shared default gateway when None.
    order : sequence of int or None
        For the sequential schedule: member positions (0-based, as in ``persons``) in
        answering order; all members in ``persons`` order by default.
    roles : sequence of str or None
        A role label per member, copied into results (``"member"`` by default).
    conditions : mapping or None
        Condition fields (e.g. ``{"majority": 3}``) copied into every result row.
    run_id : str
        Id of the run the society belongs to, copied into every result row.
    lean : bool
        Do not keep the option probabilities of rule decisions (their ``probabilities``
        cell is None): for large rule populations choosing among many options, whose
        probability vectors would dominate memory and time.
    arrays : bool
        Step in array form (:class:`~workbench.society.engine.ArrayEngine`): every member
        must be a rule with an array form, on the ``"synchronous"``, ``"speaker_hearer"``
        or ``"random_pair"`` schedule. Each rule then decides for all its members in one
        call, the decisions table is appended column by column, and members keep no
        memory records. Synchronous and speaker-hearer steps make the same draws as the
        per-member path (the same seed gives the same table); ``random_pair`` plays the
        same game with other draws (the same distribution). Off by default; the engine
        is built, and the combination checked, at the first step. A pair game
        (``"random_pair"``, ``"speaker_hearer"``) on a ``"complete"`` topology then does
        not list the network's edges (:attr:`implicit_complete`: ``network.G`` has the
        members' nodes and no edges, and every member can meet every other), so 10^5
        members fit.

    Attributes
    ----------
    schedule : Schedule
        The situation's schedule, which plays every step.
    seed : int
        The seed actually used.
    network : mesa.discrete_space.Network
        The space the members sit on; ``network.G`` is the networkx graph.
    implicit_complete : bool
        The network is complete by declaration, its edges not listed (``arrays=True``
        pair games on a ``"complete"`` topology).
    members : list of Member
        In ``persons`` order.
    datacollector : mesa.DataCollector
        Holds the ``"decisions"`` table (one row per decision) and a per-step
        ``consensus`` reporter (share of the step's answers on the most common option).

    Examples
    --------
    >>> from workbench.society import Round, Task, Truthful, Majority
    >>> task = Task([Round("Which?", ("A", "B"), correct="A")])
    >>> s = Society([Truthful(), Majority()], task,
    ...             Situation(schedule="sequential"), seed=1)
    >>> s.run(2).choice.tolist()
    ['A', 'A', 'A', 'A']
    """

    def __init__(
        self,
        persons: Sequence[Person],
        task: Task,
        situation: Situation | None = None,
        *,
        seed: int | None = None,
        gateway: Gateway | None = None,
        order: Sequence[int] | None = None,
        roles: Sequence[str] | None = None,
        conditions: Mapping[str, Any] | None = None,
        run_id: str = "",
        lean: bool = False,
        arrays: bool = False,
    ) -> None:
        seed = draw_seed() if seed is None else int(seed)
        super().__init__(seed=seed)
        self.seed = seed
        self.task = task
        self.situation = situation or Situation()
        self.conditions = dict(conditions or {})
        self.run_id = run_id
        self.lean = lean
        self.arrays = bool(arrays)  # read before the network is built
        self._engine: ArrayEngine | None = None
        self._gateway = gateway
        persons = list(persons)
        roles = list(roles) if roles is not None else ["member"] * len(persons)
        if len(roles) != len(persons):
            raise ConfigError(f"got {len(roles)} roles for {len(persons)} members")
        topology = self.situation.topology
        kind = topology if isinstance(topology, str) else getattr(topology, "kind", None)
        #: an arrays=True pair game on a complete network: its edges are never listed
        self.implicit_complete = (
            self.arrays
            and kind == "complete"
            and self.situation.schedule in ("random_pair", "speaker_hearer")
        )
        if self.implicit_complete:
            if len(persons) < 1:
                raise ConfigError("a society needs at least one member, got 0")
            self.rng.integers(2**32)  # the draw build_graph makes, so the streams agree
            graph = nx.empty_graph(len(persons))
        else:
            graph = build_graph(topology, len(persons), self.rng)
        self.network = Network(graph, capacity=1, random=self.random)
        self.members = [
            Member(self, person, self.network[node], role)
            for person, node, role in zip(persons, list(graph.nodes), roles, strict=True)
        ]
        order = list(range(len(persons))) if order is None else list(order)
        if sorted(order) != list(range(len(persons))):
            raise ConfigError("order must list every member position exactly once")
        self.order = [self.members[i] for i in order]
        info_keys = dict.fromkeys(k for r in task.rounds for k in r.info)
        self._columns = list(dict.fromkeys([*DECISION_COLUMNS, *self.conditions, *info_keys]))
        self.datacollector = mesa.DataCollector(
            model_reporters={"consensus": Society._consensus},
            tables={"decisions": self._columns},
        )
        self._step_choices: list[str] = []
        self._adjacency: dict[Member, list[Member]] | None = None  # for random_matching
        self.schedule: Schedule = SCHEDULES.get(self.situation.schedule)()

    # -- running ----------------------------------------------------------------------

    @property
    def engine(self) -> ArrayEngine:
        """The array engine that plays the steps of an ``arrays=True`` society (built,
        and the society checked against what it plays, on first use)."""
        if self._engine is None:
            if not self.arrays:
                raise ConfigError("this society steps member by member (arrays=False)")
            from workbench.society.engine import ArrayEngine

            self._engine = ArrayEngine(self)
        return self._engine

    @property
    def gateway(self) -> Gateway:
        """The gateway LLM members decide through (created on first use)."""
        if self._gateway is None:
            self._gateway = _shared_gateway()
        return self._gateway

    def run(
        self,
        steps: int | None = None,
        *,
        until: Callable[[Society], bool] | None = None,
    ) -> pd.DataFrame:
        """Run ``steps`` steps, or fewer when ``until`` says stop.

        Parameters
        ----------
        steps : int or None
            At most this many steps. None: one pass over the task's rounds, or, when
            ``until`` is given, as many steps as it takes ``until`` to say stop.
        until : callable or None
            The stop rule: called with the society after every step (so
            ``society.steps`` and :attr:`decisions` include that step); the run stops
            once it returns True. It may keep state between calls (e.g. a streak of
            successes read from the new rows of the decisions table).

        Returns
        -------
        pandas.DataFrame
            :attr:`decisions` so far.

        Examples
        --------
        >>> from workbench.society import Round, Task, Truthful
        >>> s = Society([Truthful(), Truthful()], Task([Round("Which?", ("A", "B"))]),
        ...             seed=1)
        >>> s.run(100, until=lambda society: society.steps == 3).step.tolist()
        [1, 1, 2, 2, 3, 3]
        """
        if steps is None and until is None:
            steps = len(self.task)
        if self.arrays and until is None and self.schedule.name == "random_pair":
            self.engine.run(int(steps))  # many one-interaction steps at once
            return self.decisions
        done = 0
        while steps is None or done < steps:
            self.step()
            done += 1
            if until is not None and until(self):
                break
        return self.decisions

    def step(self) -> None:
        """One round, played by the situation's schedule (:attr:`schedule`): members
        observe, decide in batches, learn and are recorded; then the step is collected.
        With ``arrays``, the :attr:`engine` plays it."""
        if self.arrays:
            self.steps -= 1  # mesa counted it; the engine counts its own steps
            self.engine.run(1)
            return
        round_ = self.task.round(self.steps)
        self._step_choices = []
        self.schedule.step(self, round_)
        self.datacollector.collect(self)

    # -- what a schedule plays a step with --------------------------------------------

    def ask(
        self,
        batch: Sequence[tuple[Member, Observation]],
        partners: Sequence[Member | None] | None = None,
    ) -> list[Decision]:
        """Ask ``batch`` at once; each member learns its answer and remembers what it saw,
        and one row per decision is recorded.

        Parameters
        ----------
        batch : sequence of (Member, Observation)
            The members asked together and what each sees (LLM members in one gateway
            batch, see :meth:`decide`).
        partners : sequence of Member or None, optional
            Aligned with ``batch``: each member's partner, remembered
            (:attr:`Recollection.partner <workbench.society.task.Recollection>`) and
            recorded in the ``partner`` column.

        Returns
        -------
        list of Decision
            In ``batch`` order.
        """
        decisions = self.decide(batch)
        partners = [None] * len(batch) if partners is None else list(partners)
        for (member, observation), decision, partner in zip(
            batch, decisions, partners, strict=True
        ):
            label = partner.label if partner is not None else None
            self.remember(member, observation, decision, partner=label)
            self.record(member, observation, decision, partner=partner)
        return decisions

    def decide(self, batch: Sequence[tuple[Member, Observation]]) -> list[Decision]:
        """Decisions for ``batch``, in order: the LLM members' requests go to the gateway
        in one call, then the rule members decide (those of one array rule in one call,
        :func:`~workbench.society.persons.decide_rules`), all drawing from :attr:`rng`."""
        norm = self.situation.norm_text
        llm = [
            (i, m.person.request(o, self.task, norm))
            for i, (m, o) in enumerate(batch)
            if not m.person.is_rule
        ]
        decisions: list[Decision | None] = [None] * len(batch)
        if llm:
            answered = self.gateway.decide([r for _, r in llm], self.rng)
            for (i, _), decision in zip(llm, answered, strict=True):
                decisions[i] = decision
        rules = [i for i, (member, _) in enumerate(batch) if member.person.is_rule]
        decided = decide_rules([(batch[i][0].person, batch[i][1]) for i in rules], self.rng)
        for i, decision in zip(rules, decided, strict=True):
            decisions[i] = decision
        return decisions

    def remember(
        self,
        member: Member,
        observation: Observation,
        decision: Decision,
        **fields: Any,
    ) -> None:
        """``member`` takes ``decision`` (its answer and continuous state) and remembers
        this step as a :class:`~workbench.society.task.Recollection`: the step, its
        answer, what ``observation`` showed it, and ``fields`` (``partner``, ``other``,
        ``told``, ``role``, ``payoff``)."""
        record = Recollection(
            self.steps,
            decision.choice,
            observation.seen,
            exchange=observation.exchange,
            options=observation.options,
            **fields,
        )
        member.learn(record, decision.extra.get("value"))

    def random_matching(self) -> list[tuple[Member, Member]]:
        """A random maximal matching along the network's edges.

        Members are taken in random order; each unmatched one is paired with a uniformly
        drawn unmatched neighbour, if it has one. On a complete network this is a uniform
        random perfect matching (one member sits out when their number is odd).
        """
        if self._adjacency is None:
            by_node = {m.node: m for m in self.members}
            graph = self.network.G
            self._adjacency = {m: [by_node[v] for v in graph[m.node]] for m in self.members}
        order = list(self.members)
        self.random.shuffle(order)
        n = len(order)
        if self.implicit_complete:
            return [(order[i], order[i + 1]) for i in range(0, n - 1, 2)]
        if all(len(nbrs) == n - 1 for nbrs in self._adjacency.values()):  # complete
            return [(order[i], order[i + 1]) for i in range(0, n - 1, 2)]
        matched: set[Member] = set()
        pairs = []
        for a in order:
            if a in matched:
                continue
            nbrs = self._adjacency[a]
            partner = None
            for _ in range(4):  # a few uniform draws first: cheap while most are free
                if not nbrs:
                    break
                candidate = nbrs[int(self.random.random() * len(nbrs))]
                if candidate not in matched and candidate is not a:
                    partner = candidate
                    break
            if partner is None:
                free = [b for b in nbrs if b not in matched and b is not a]
                if free:
                    partner = free[int(self.random.random() * len(free))]
            if partner is not None:
                matched |= {a, partner}
                pairs.append((a, partner))
        return pairs

    # -- results ----------------------------------------------------------------------

    def record(
        self,
        member: Member,
        observation: Observation,
        decision: Decision,
        partner: Member | None = None,
    ) -> None:
        """Add one row to the decisions table: ``member``'s ``decision`` on what
        ``observation`` showed it, with ``partner``'s id, the conditions and the round's
        info (see :data:`DECISION_COLUMNS`)."""
        round_ = observation.round
        if decision.choice is not None:
            self._step_choices.append(decision.choice)
        row = {
            "run_id": self.run_id,
            "step": self.steps,
            "member": member.unique_id,
            "node": member.node,
            "role": member.role,
            "model": member.person.model,
            "persona": member.person.persona.name,
            "options": decision.options,
            "probabilities": None
            if self.lean and decision.method == "rule"
            else decision.probabilities,
            "choice": decision.choice,
            "truth": round_.correct,
            "correct": None
            if round_.correct is None or decision.choice is None
            else decision.choice == round_.correct,
            "planted": round_.planted,
            "saw": observation.brief(),
            "partner": partner.unique_id if partner is not None else None,
            "request_hash": decision.request_hash,
            "valid": decision.valid,
            "method": decision.method,
            "value": decision.extra.get("value"),
            **self.conditions,
            **round_.info,
        }
        self.datacollector.add_table_row("decisions", row, ignore_missing=True)

    def _record(self, *args: Any, **kwargs: Any) -> None:
        # the former name, still called by subclasses (OpinionSociety's step-0 rows)
        self.record(*args, **kwargs)

    @staticmethod
    def _consensus(model: Society) -> float:
        choices = model._step_choices
        return Counter(choices).most_common(1)[0][1] / len(choices) if choices else float("nan")

    @property
    def decisions(self) -> pd.DataFrame:
        """The tidy decisions table: one row per decision, in the order they were made."""
        return self.datacollector.get_table_dataframe("decisions")
