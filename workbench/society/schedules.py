"""Schedules: who answers when within one step of a society.

A schedule is a :class:`Schedule` subclass registered in :data:`SCHEDULES` under its
:attr:`~Schedule.name`; :class:`~workbench.society.Situation` accepts any registered name
and :class:`~workbench.society.Society` plays each step through the schedule's
:meth:`~Schedule.step`. A schedule uses only the society's public step helpers:

- :meth:`Society.ask <workbench.society.Society.ask>`: a group of members decides in one
  batch, each remembers what it saw, and one row per decision is recorded;
- :meth:`Society.decide <workbench.society.Society.decide>`,
  :meth:`Society.remember <workbench.society.Society.remember>` and
  :meth:`Society.record <workbench.society.Society.record>`, the three parts of
  :meth:`~workbench.society.Society.ask`, for schedules whose members learn more than
  they saw (a partner's answer after the fact);
- :meth:`Society.random_matching <workbench.society.Society.random_matching>`, a random
  maximal matching along the network's edges;

and the society's :attr:`~workbench.society.Society.members`,
:attr:`~workbench.society.Society.order`, :attr:`~mesa.Model.random` and
:attr:`~workbench.society.Society.network`. A new schedule is a new class:

>>> from workbench.society import SCHEDULES, Schedule
>>> with SCHEDULES.scope():
...     @SCHEDULES.register
...     class Alone(Schedule):
...         name = "alone"
...         description = "every member answers at once, seeing nobody"
...
...         def step(self, society, round_):
...             society.ask([(m, m.observe(round_)) for m in society.members])
...     "alone" in SCHEDULES
True

Every random number a schedule draws comes from the society's generators
(``society.random`` for pairing and roles, ``society.rng`` for choices, through
:meth:`~workbench.society.Society.decide`), so a seed replays a run exactly.

References
----------
.. [1] S. E. Asch, "Studies of independence and conformity: I. A minority of one against a
   unanimous majority", Psychological Monographs 70(9), 1-70 (1956).
.. [2] A. Baronchelli et al., "Sharp transition towards shared vocabularies in multi-agent
   systems", J. Stat. Mech. P06014 (2006).
.. [3] A. F. Ashery, L. M. Aiello and A. Baronchelli, "Emergent social conventions and
   collective bias in LLM populations", Science Advances 11, eadu9368 (2025).
.. [4] G. Deffuant, D. Neau, F. Amblard and G. Weisbuch, "Mixing beliefs among interacting
   agents", Advances in Complex Systems 3, 87-98 (2000).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

from workbench.registry import Registry

if TYPE_CHECKING:
    from workbench.society.member import Member
    from workbench.society.society import Society
    from workbench.society.task import Observation, Round

__all__ = [
    "SCHEDULES",
    "Encounters",
    "Pairwise",
    "RandomPair",
    "Schedule",
    "Sequential",
    "SpeakerHearer",
    "Synchronous",
]


class Schedule(ABC):
    """Who answers when within one step: the protocol every schedule follows.

    A society makes one instance of its situation's schedule and calls :meth:`step` once
    per step, after mesa has counted the step (``society.steps`` is the step being
    played) and before the step's data are collected.

    Attributes
    ----------
    name : str
        The name a :class:`~workbench.society.Situation` selects it by (its registry key).
    description : str
        One line saying who answers when, for help texts.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""

    @abstractmethod
    def step(self, society: Society, round_: Round) -> None:
        """Play one step of ``society`` on ``round_``: every member that answers decides,
        learns and is recorded (through the society's step helpers)."""


#: The registered schedules by name; iterating gives the names, in registration order.
SCHEDULES: Registry[type[Schedule]] = Registry("schedule", key=lambda cls: cls.name)


@SCHEDULES.register
class Synchronous(Schedule):
    """All members answer at once, each seeing its neighbours' previous answers."""

    name = "synchronous"
    description = "all members answer at once, seeing their neighbours' previous answers"

    def step(self, society: Society, round_: Round) -> None:
        batch = []
        for member in society.members:
            visible = [n for n in member.neighbours() if n.answer]
            seen = tuple((n.label, n.answer) for n in visible)
            batch.append((member, member.observe(round_, seen, tuple(n.value for n in visible))))
        society.ask(batch)


@SCHEDULES.register
class Sequential(Schedule):
    """Members answer in ``society.order``, each seeing the earlier answers of its
    neighbours in the same round (Asch's procedure [1]_).

    Members that cannot see each other's answers are still asked in one batch: a batch is
    sent only when the next member must see a pending neighbour's answer.
    """

    name = "sequential"
    description = "members answer in a fixed order, seeing earlier answers of the same round"

    def step(self, society: Society, round_: Round) -> None:
        answers: dict[Member, str] = {}  # this round's answers, in the order given
        pending: list[tuple[Member, Observation]] = []

        def flush() -> None:
            for (member, _), decision in zip(pending, society.ask(pending), strict=True):
                if decision.choice is not None:
                    answers[member] = decision.choice
            pending.clear()

        for member in society.order:
            visible = set(member.neighbours())
            if any(m in visible for m, _ in pending):
                flush()  # this member must see a pending neighbour's answer
            earlier = [m for m in answers if m in visible]
            seen = tuple((m.label, answers[m]) for m in earlier)
            observation = member.observe(round_, seen, tuple(m.value for m in earlier))
            pending.append((member, observation))
        flush()


@SCHEDULES.register
class Pairwise(Schedule):
    """A random maximal matching along edges; partners answer at once, then each is told
    the other's answer (the simultaneous coordination game [3]_).

    The matching takes the edges in a shuffled order (``society.random``), which is not
    :meth:`~workbench.society.Society.random_matching`'s procedure: runs recorded with
    this schedule replay only with this one.
    """

    name = "pairwise"
    description = "members are matched in random pairs along edges; partners answer at once"

    def step(self, society: Society, round_: Round) -> None:
        edges = sorted(tuple(sorted(e)) for e in society.network.G.edges)
        society.random.shuffle(edges)
        by_node = {m.node: m for m in society.members}
        matched: set = set()
        pairs = []
        for u, v in edges:
            if u not in matched and v not in matched:
                matched |= {u, v}
                pairs.append((by_node[u], by_node[v]))
        batch = [(m, m.observe(round_)) for pair in pairs for m in pair]
        decisions = society.decide(batch)
        payoff = society.task.payoff
        for i, (a, b) in enumerate(pairs):
            (_, obs_a), (_, obs_b) = batch[2 * i], batch[2 * i + 1]
            dec_a, dec_b = decisions[2 * i], decisions[2 * i + 1]
            for member, obs, dec, partner, other in (
                (a, obs_a, dec_a, b, dec_b),
                (b, obs_b, dec_b, a, dec_a),
            ):
                society.remember(
                    member,
                    obs,
                    dec,
                    partner=partner.label,
                    other=other.choice,
                    told=True,
                    payoff=payoff(dec.choice, other.choice),
                )
            society.record(a, obs_a, dec_a, partner=b)
            society.record(b, obs_b, dec_b, partner=a)


@SCHEDULES.register
class Encounters(Schedule):
    """Random binary encounters along edges: each partner sees the other's current answer
    and continuous state, then both answer at once (bounded-confidence models [4]_)."""

    name = "encounters"
    description = "random pairs along edges; each sees the other's answer, then both answer"

    def step(self, society: Society, round_: Round) -> None:
        batch, partners = [], []
        for a, b in society.random_matching():
            for member, partner in ((a, b), (b, a)):
                seen = ((partner.label, partner.answer),) if partner.answer else ()
                values = (partner.value,) if partner.answer else ()
                batch.append((member, member.observe(round_, seen, values)))
                partners.append(partner)
        society.ask(batch, partners)


@SCHEDULES.register
class SpeakerHearer(Schedule):
    """The naming game's interaction [2]_: in each pair of a random maximal matching one
    member, at random, speaks (first batch) and the other answers having heard it (second
    batch); both remember their role and the partner's answer."""

    name = "speaker_hearer"
    description = (
        "random pairs along edges; one partner, at random, speaks and the other "
        "answers having heard it (the naming game)"
    )

    def step(self, society: Society, round_: Round) -> None:
        pairs = [
            (a, b) if society.random.random() < 0.5 else (b, a)
            for a, b in society.random_matching()
        ]
        _speak_and_hear(society, round_, pairs)


@SCHEDULES.register
class RandomPair(Schedule):
    """The minimal naming game's interaction order [2]_: each step is ONE interaction, a
    speaker drawn uniformly among the members and a hearer drawn uniformly among its
    neighbours; the speaker answers first, the hearer having heard it, and both remember
    their role and the partner's answer (as in :class:`SpeakerHearer`).

    Time is counted in interactions (one a step), as in [2]_; :class:`SpeakerHearer`
    plays N / 2 interactions a step instead, every member at most once (the per-round
    matching of Ashery et al. [3]_). With ``rule:naming_game`` members this is the
    minimal game over the task's names (a closed pool: an invention is drawn from the
    names); :func:`~workbench.society.coordination.minimal_naming_game` is the same
    interaction order with an open vocabulary and no Society. A member without a
    neighbour is drawn again.
    """

    name = "random_pair"
    description = (
        "one random speaker-hearer pair a step: the speaker answers, the hearer answers "
        "having heard it (the minimal naming game)"
    )

    def __init__(self) -> None:
        self._adjacency: dict[Member, list[Member]] | None = None  # built on first step

    def step(self, society: Society, round_: Round) -> None:
        if self._adjacency is None:  # the network is fixed: one pass over its edges
            by_node = {m.node: m for m in society.members}
            graph = society.network.G
            self._adjacency = {
                m: [by_node[v] for v in graph[m.node] if v != m.node] for m in society.members
            }
        adjacency = self._adjacency
        if not any(adjacency.values()):
            return  # nobody can be paired
        members = society.members
        while True:
            speaker = members[int(society.random.random() * len(members))]
            near = adjacency[speaker]
            if near:
                break
        hearer = near[int(society.random.random() * len(near))]
        _speak_and_hear(society, round_, [(speaker, hearer)])


def _speak_and_hear(society: Society, round_: Round, pairs: list[tuple[Member, Member]]) -> None:
    """Each (speaker, hearer) pair plays one interaction: the speakers answer in one
    batch, then the hearers, each having heard its speaker; both remember and are
    recorded."""
    spoken = [(speaker, speaker.observe(round_)) for speaker, _ in pairs]
    words = society.decide(spoken)
    heard = [
        (hearer, hearer.observe(round_, ((speaker.label, word.choice),)))
        if word.choice is not None
        else (hearer, hearer.observe(round_))
        for (speaker, hearer), word in zip(pairs, words, strict=True)
    ]
    answers = society.decide(heard)
    payoff = society.task.payoff
    for (speaker, hearer), (_, obs_s), word, (_, obs_h), answer in zip(
        pairs, spoken, words, heard, answers, strict=True
    ):
        society.remember(
            speaker,
            obs_s,
            word,
            partner=hearer.label,
            other=answer.choice,
            role="speaker",
            told=True,
            payoff=payoff(word.choice, answer.choice),
        )
        society.remember(
            hearer,
            obs_h,
            answer,
            partner=speaker.label,
            other=word.choice,
            role="hearer",
            payoff=payoff(answer.choice, word.choice),
        )
        society.record(speaker, obs_s, word, partner=hearer)
        society.record(hearer, obs_h, answer, partner=speaker)
