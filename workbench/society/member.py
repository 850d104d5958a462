"""Members: persons placed on the nodes of a society's network.

A :class:`Member` is a Mesa cell agent. It holds its :class:`~workbench.society.persons.Person`
(immutable), its latest answer and its memory of the last ``k`` rounds (the situation's
memory window), and it knows which members it can see: those on neighbouring cells.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from mesa.discrete_space import CellAgent

from workbench.society.persons import Person
from workbench.society.task import Observation, Recollection, Round

if TYPE_CHECKING:
    from mesa.discrete_space import Cell

    from workbench.society.society import Society

__all__ = ["Member"]


class Member(CellAgent):
    """One agent of a society: a person on a network node, with memory.

    Parameters
    ----------
    model : Society
        The society the member belongs to.
    person : Person
        What the member brings: an LLM person or a rule policy.
    cell : mesa.discrete_space.Cell
        The network cell (node) the member sits on.
    role : str
        A label for analysis (``"subject"``, ``"confederate"``, ...).

    Attributes
    ----------
    answer : str or None
        The member's latest answer.
    memory : tuple of Recollection
        The last ``situation.memory`` rounds, oldest first (read-only; see
        :class:`~workbench.society.task.Recollection` for the fields).
    value : float or None
        A continuous state, kept by rule policies that have one (the opinion of
        :mod:`workbench.society.opinion` rules); None otherwise.
    """

    def __init__(self, model: Society, person: Person, cell: Cell, role: str = "member") -> None:
        super().__init__(model)
        self.person = person
        self.cell = cell
        self.role = role
        self.answer: str | None = None
        self._memory: deque[Recollection] = deque(maxlen=model.situation.memory)
        self.value: float | None = None

    @property
    def memory(self) -> tuple[Recollection, ...]:
        """The remembered rounds, oldest first, as structured records."""
        return tuple(self._memory)

    @property
    def label(self) -> str:
        """How the others refer to this member in their prompts."""
        return f"Participant {self.unique_id}"

    @property
    def node(self):
        """The network node the member sits on."""
        return self.cell.coordinate

    def neighbours(self) -> list[Member]:
        """The members this one can see, by id."""
        found = (a for c in self.cell.neighborhood for a in c.agents if isinstance(a, Member))
        return sorted(found, key=lambda m: m.unique_id)

    def observe(
        self,
        round_: Round,
        seen: tuple[tuple[str, str], ...] = (),
        values: tuple[float | None, ...] = (),
    ) -> Observation:
        """What this member sees of ``round_`` given the answers ``seen``.

        ``values`` are the seen members' continuous states, aligned with ``seen``; the
        observation also carries this member's own answer and state. When the situation
        shuffles options, an LLM member's observation lists them in a fresh random order.
        """
        situation = self.model.situation
        order = ()
        if situation.shuffle and not self.person.is_rule:
            order = tuple(self.model.random.sample(round_.options, len(round_.options)))
        return Observation(
            round_,
            seen,
            tuple(self._memory),
            situation.exchange,
            answer=self.answer,
            value=self.value,
            values=tuple(values),
            order=order,
        )

    def learn(self, record: Recollection, value: float | None = None) -> None:
        """Take ``record.choice`` as the latest answer and remember ``record`` (the memory
        window drops the oldest); ``value`` is the new continuous state, if the member's
        person keeps one."""
        self.answer = record.choice
        if value is not None:
            self.value = float(value)
        self._memory.append(record)
