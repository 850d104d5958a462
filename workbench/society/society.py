"""The society: members on a network, stepped by a schedule, deciding through one gateway.

One :meth:`Society.step`:

1. the task gives the round (question, options, correct answer);
2. each member's observation is gathered by the exchange rule (what of its neighbours'
   answers reaches it) plus its memory window;
3. each LLM member's request is built; all requests that can go together are sent to the
   gateway as **one concurrent batch** (rule members decide locally);
4. decisions are applied, memories updated, and one row per decision is collected.

Schedules: ``"synchronous"`` (everyone answers at once, seeing the neighbours' previous
answers), ``"sequential"`` (members answer in a given order and see the earlier answers of
the same round, as in Asch's experiment [1]_; LLM members that cannot see each other are
still batched together), ``"pairwise"`` (random maximal matching along edges, partners
answer at once and then learn each other's answer, as in the naming game [2]_, [3]_),
``"encounters"`` (random maximal matching along edges; each partner first sees the other's
current answer and continuous state, then both answer at once: the random binary
encounters of bounded-confidence models [5]_), ``"speaker_hearer"`` (random maximal
matching along edges; in each pair one member, at random, speaks first and the other
answers having heard it: the speaker-hearer interaction of the naming game [2]_). In both
pairwise schedules a member remembers its partner's answer
(:attr:`Recollection.other <workbench.society.task.Recollection>`) and its role.

Members may keep a continuous state besides their answer (:attr:`Member.value`, e.g. an
opinion in [0, 1]): rule policies that keep one return it in ``Decision.extra["value"]``,
see neighbours' states in :attr:`Observation.values`, and the state is recorded in the
``value`` column.

All randomness comes from the model's generators, which are seeded from ``seed``; a seed
is always drawn and recorded when none is given, so every run can be replayed.

References
----------
.. [1] S. E. Asch, "Studies of independence and conformity: I. A minority of one against a
   unanimous majority", Psychological Monographs 70(9), 1-70 (1956).
.. [2] A. Baronchelli et al., "Sharp transition towards shared vocabularies in multi-agent
   systems", J. Stat. Mech. P06014 (2006).
.. [3] A. F. Ashery, L. M. Aiello and A. Baronchelli, "Emergent social conventions and
   collective bias in LLM populations", Science Advances 11, eadu9368 (2025).
.. [4] J. Kazil, D. Masad and A. Crooks, "Utilizing Python for agent-based modeling: the
   Mesa framework", SBP-BRiMS (2020).
.. [5] G. Deffuant, D. Neau, F. Amblard and G. Weisbuch, "Mixing beliefs among interacting
   agents", Advances in Complex Systems 3, 87-98 (2000).
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import mesa
import pandas as pd
from mesa.discrete_space import Network

from workbench.errors import ConfigError
from workbench.llm.types import Decision
from workbench.society.member import Member
from workbench.society.persons import Person
from workbench.society.situation import Situation
from workbench.society.task import Observation, Round, Task
from workbench.society.topology import build_graph

if TYPE_CHECKING:
    from workbench.llm import Gateway

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

    Attributes
    ----------
    seed : int
        The seed actually used.
    network : mesa.discrete_space.Network
        The space the members sit on; ``network.G`` is the networkx graph.
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
    ) -> None:
        seed = draw_seed() if seed is None else int(seed)
        super().__init__(seed=seed)
        self.seed = seed
        self.task = task
        self.situation = situation or Situation()
        self.conditions = dict(conditions or {})
        self.run_id = run_id
        self.lean = lean
        self._gateway = gateway
        persons = list(persons)
        roles = list(roles) if roles is not None else ["member"] * len(persons)
        if len(roles) != len(persons):
            raise ConfigError(f"got {len(roles)} roles for {len(persons)} members")
        graph = build_graph(self.situation.topology, len(persons), self.rng)
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
        self._adjacency: dict[Member, list[Member]] | None = None  # for "encounters"

    # -- running ----------------------------------------------------------------------

    @property
    def gateway(self) -> Gateway:
        """The gateway LLM members decide through (created on first use)."""
        if self._gateway is None:
            self._gateway = _shared_gateway()
        return self._gateway

    def run(self, steps: int | None = None) -> pd.DataFrame:
        """Run ``steps`` steps (one pass over the task's rounds by default).

        Returns
        -------
        pandas.DataFrame
            :attr:`decisions` so far.
        """
        for _ in range(len(self.task) if steps is None else steps):
            self.step()
        return self.decisions

    def step(self) -> None:
        """One round: observe, request, decide in one batch, learn, collect."""
        round_ = self.task.round(self.steps)
        self._step_choices = []
        schedule = self.situation.schedule
        if schedule == "sequential":
            self._step_sequential(round_)
        elif schedule == "synchronous":
            self._step_synchronous(round_)
        elif schedule == "encounters":
            self._step_encounters(round_)
        elif schedule == "speaker_hearer":
            self._step_speaker_hearer(round_)
        else:
            self._step_pairwise(round_)
        self.datacollector.collect(self)

    def _step_synchronous(self, round_: Round) -> None:
        batch = []
        for member in self.members:
            visible = [n for n in member.neighbours() if n.answer]
            seen = tuple((n.label, n.answer) for n in visible)
            batch.append((member, member.observe(round_, seen, tuple(n.value for n in visible))))
        decisions = self._decide(batch)
        for (member, observation), decision in zip(batch, decisions, strict=True):
            member.learn(
                self.steps, decision.choice, observation.brief(), decision.extra.get("value")
            )
            self._record(member, observation, decision)

    def _step_sequential(self, round_: Round) -> None:
        answers: dict[Member, str] = {}  # this round's answers, in the order given
        pending: list[tuple[Member, Observation]] = []

        def flush() -> None:
            for (member, observation), decision in zip(pending, self._decide(pending), strict=True):
                self._apply(member, observation, decision, answers)
            pending.clear()

        for member in self.order:
            visible = set(member.neighbours())
            if any(m in visible for m, _ in pending):
                flush()  # this member must see a pending neighbour's answer
            earlier = [m for m in answers if m in visible]
            seen = tuple((m.label, answers[m]) for m in earlier)
            observation = member.observe(round_, seen, tuple(m.value for m in earlier))
            pending.append((member, observation))
        flush()

    def _step_pairwise(self, round_: Round) -> None:
        edges = sorted(tuple(sorted(e)) for e in self.network.G.edges)
        self.random.shuffle(edges)
        by_node = {m.node: m for m in self.members}
        matched: set = set()
        pairs = []
        for u, v in edges:
            if u not in matched and v not in matched:
                matched |= {u, v}
                pairs.append((by_node[u], by_node[v]))
        batch = [(m, m.observe(round_)) for pair in pairs for m in pair]
        decisions = self._decide(batch)
        for i, (a, b) in enumerate(pairs):
            (_, obs_a), (_, obs_b) = batch[2 * i], batch[2 * i + 1]
            dec_a, dec_b = decisions[2 * i], decisions[2 * i + 1]
            saw_a = f"{b.label} answered {dec_b.choice or 'nothing'}"
            saw_b = f"{a.label} answered {dec_a.choice or 'nothing'}"
            a.learn(self.steps, dec_a.choice, saw_a, dec_a.extra.get("value"), other=dec_b.choice)
            b.learn(self.steps, dec_b.choice, saw_b, dec_b.extra.get("value"), other=dec_a.choice)
            self._record(a, obs_a, dec_a, partner=b)
            self._record(b, obs_b, dec_b, partner=a)

    def _step_speaker_hearer(self, round_: Round) -> None:
        pairs = [
            (a, b) if self.random.random() < 0.5 else (b, a) for a, b in self._random_matching()
        ]
        spoken = [(speaker, speaker.observe(round_)) for speaker, _ in pairs]
        words = self._decide(spoken)
        heard = [
            (hearer, hearer.observe(round_, ((speaker.label, word.choice),)))
            if word.choice is not None
            else (hearer, hearer.observe(round_))
            for (speaker, hearer), word in zip(pairs, words, strict=True)
        ]
        answers = self._decide(heard)
        for (speaker, hearer), (_, obs_s), word, (_, obs_h), answer in zip(
            pairs, spoken, words, heard, answers, strict=True
        ):
            saw_s = f"{hearer.label} answered {answer.choice or 'nothing'}"
            speaker.learn(
                self.steps,
                word.choice,
                saw_s,
                word.extra.get("value"),
                other=answer.choice,
                role="speaker",
            )
            hearer.learn(
                self.steps,
                answer.choice,
                obs_h.brief(),
                answer.extra.get("value"),
                other=word.choice,
                role="hearer",
            )
            self._record(speaker, obs_s, word, partner=hearer)
            self._record(hearer, obs_h, answer, partner=speaker)

    def _step_encounters(self, round_: Round) -> None:
        batch, partners = [], []
        for a, b in self._random_matching():
            for member, partner in ((a, b), (b, a)):
                seen = ((partner.label, partner.answer),) if partner.answer else ()
                values = (partner.value,) if partner.answer else ()
                batch.append((member, member.observe(round_, seen, values)))
                partners.append(partner)
        decisions = self._decide(batch)
        for (member, observation), decision, partner in zip(
            batch, decisions, partners, strict=True
        ):
            member.learn(
                self.steps, decision.choice, observation.brief(), decision.extra.get("value")
            )
            self._record(member, observation, decision, partner=partner)

    def _random_matching(self) -> list[tuple[Member, Member]]:
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

    def _apply(self, member, observation, decision, answers) -> None:
        if decision.choice is not None:
            answers[member] = decision.choice
        member.learn(self.steps, decision.choice, observation.brief(), decision.extra.get("value"))
        self._record(member, observation, decision)

    def _decide(self, batch: Sequence[tuple[Member, Observation]]) -> list[Decision]:
        """Decisions for ``batch``: LLM requests in one gateway call, then rules, in order."""
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
        for i, (member, observation) in enumerate(batch):
            if member.person.is_rule:
                decisions[i] = member.person.decide(observation, self.rng)
        return decisions

    # -- results ----------------------------------------------------------------------

    def _record(
        self,
        member: Member,
        observation: Observation,
        decision: Decision,
        partner: Member | None = None,
    ) -> None:
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

    @staticmethod
    def _consensus(model: Society) -> float:
        choices = model._step_choices
        return Counter(choices).most_common(1)[0][1] / len(choices) if choices else float("nan")

    @property
    def decisions(self) -> pd.DataFrame:
        """The tidy decisions table: one row per decision, in the order they were made."""
        return self.datacollector.get_table_dataframe("decisions")
