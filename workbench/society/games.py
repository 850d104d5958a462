"""Rule policies for coordination games: the naming game and a memory best response.

Both read a member's memory of its pairwise interactions (each
:class:`~workbench.society.task.Recollection` holds the member's own answer, the partner's
answer in ``other`` and, in the ``"speaker_hearer"`` schedule, its ``role``), so they run
in the same :class:`~workbench.society.Society` as LLM members, through the same
observation/decision interface, and pass :func:`~workbench.society.checks.check_policy`.

- :class:`NamingGame` (``rule:naming_game``) is the minimal naming game [1]_: a speaker
  utters a word from its inventory (inventing one when the inventory is empty); if the
  hearer knows the word the interaction succeeds and both drop every other word, else the
  hearer adds it. Use it with the ``"speaker_hearer"`` schedule and a memory window long
  enough to hold every interaction since the member's last success (the inventory is
  rebuilt from memory). With two names it is the binary-agreement model of [2]_.
- :class:`MemoryMajority` (``rule:memory``) best-responds to memory: it plays the name its
  partners used most often in its remembered interactions (ties at random), which under the
  +100/-50 coordination payoff maximises expected payoff. Use it with the ``"pairwise"``
  schedule; the situation's memory window is the memory length, as in the memory-based
  models of [3]_, [4]_.

References
----------
.. [1] A. Baronchelli, M. Felici, V. Loreto, E. Caglioti and L. Steels, "Sharp transition
   towards shared vocabularies in multi-agent systems", J. Stat. Mech. P06014 (2006).
.. [2] J. Xie, S. Sreenivasan, G. Korniss, W. Zhang, C. Lim and B. K. Szymanski, "Social
   consensus through the influence of committed minorities", Phys. Rev. E 84, 011130
   (2011).
.. [3] D. Centola and A. Baronchelli, "The spontaneous emergence of conventions: an
   experimental study of cultural evolution", PNAS 112(7), 1989-1994 (2015).
.. [4] H. P. Young, "The evolution of conventions", Econometrica 61(1), 57-84 (1993).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from workbench.society.arrays import (
    NONE,
    Chosen,
    RuleView,
    option_index,
    pick_uniform,
)
from workbench.society.persons import RulePerson, register_rule
from workbench.society.task import Observation, Recollection

__all__ = ["MemoryMajority", "NamingGame", "inventory", "learn"]


def _uniform(options: tuple[str, ...], chosen: tuple[str, ...]) -> tuple[float, ...]:
    """Uniform over ``chosen`` (a subset of ``options``), in O(len(chosen)) plus one copy."""
    probabilities = [0.0] * len(options)
    weight = 1.0 / len(chosen)
    index = option_index(options)
    for option in chosen:
        probabilities[index[option]] = weight
    return tuple(probabilities)


class _UniformChoice(RulePerson):
    """A policy that is uniform over a subset of the options, the :meth:`support` its
    array form computes per member (m x K bool) from the member's :attr:`RuleView.state`."""

    def support(self, view: RuleView) -> np.ndarray:
        """The options each member picks among, uniformly (m x K bool, no row empty)."""
        raise NotImplementedError

    def choose(self, view: RuleView, u: np.ndarray, *, probabilities: bool = True) -> Chosen:
        return Chosen(*pick_uniform(self.support(view), u, probabilities=probabilities))


def _indices(names: list[str | None], index: dict[str, int]) -> np.ndarray:
    return np.array([NONE if w is None else index.get(w, NONE) for w in names], dtype=np.int64)


def learn(
    inventory: np.ndarray,
    member: np.ndarray,
    said: np.ndarray,
    other: np.ndarray,
    hearer: np.ndarray,
) -> None:
    """Update naming-game inventories in place with interactions taken in order.

    Record ``i`` is member ``member[i]``'s interaction: its answer ``said[i]``, its
    partner's ``other[i]`` (option indices, -1 for none) and whether it was the hearer.
    A success (``said == other``) leaves the member only that word; a failed hearer adds
    the word it heard (``other``), a failed speaker (or a record without a role) keeps the
    word it said (an invented word enters that way). Members may repeat: a member's
    records apply in order, as if one by one (only its last success and what follows it
    matter).

    Parameters
    ----------
    inventory : numpy.ndarray
        m x K bool, the inventories (rows are members).
    member, said, other : numpy.ndarray
        Per record: row, own word, partner's word.
    hearer : numpy.ndarray
        Per record: bool, the member was the hearer.
    """
    success = (said >= 0) & (said == other)
    word = np.where(hearer, other, said)  # what the record adds (a success's word is both)
    keep = word >= 0
    if success.any():  # from each member's last success on
        last = np.full(inventory.shape[0], -1, dtype=np.int64)
        position = np.arange(len(member))
        np.maximum.at(last, member[success], position[success])
        inventory[member[success]] = False
        keep &= position >= last[member]
    inventory[member[keep], word[keep]] = True


#: Per member, the inventory rebuilt at its latest decision, under the id of the latest
#: record it was rebuilt from: ``(options, records, row)``, ``records`` being the memory
#: from the last success on (all of it when none), so the next decision learns one record.
_REBUILT: dict[int, tuple[tuple[str, ...], tuple[Recollection, ...], np.ndarray]] = {}
_MAX_REBUILT = 1 << 16


def _inventories(observations: Sequence[Observation]) -> np.ndarray:
    """The members' inventories (m x K bool, read-only), rebuilt from their memories by
    one :func:`learn` call, each from its latest success on (the earlier records no longer
    matter).

    The inventory a member had at its previous decision is kept (:data:`_REBUILT`): when
    its memory is that one's records plus one, only the new record is learned.
    """
    options = observations[0].options
    index = option_index(options)
    empty = _empty_row(len(options))
    rows, member, records, kept = [], [], [], []
    for i, observation in enumerate(observations):
        memory = observation.memory
        if not memory:
            rows.append(empty)
            kept.append(None)
            continue
        last = memory[-1]
        restart = last.choice is not None and last.choice == last.other
        previous = _REBUILT.pop(id(memory[-2]), None) if len(memory) > 1 else None
        n = len(previous[1]) if previous is not None else 0
        if (
            previous is not None
            and not restart
            and previous[0] == options
            and len(memory) > n
            and memory[-1 - n : -1] == previous[1]
        ):
            rows.append(previous[2])
            new: Sequence[Recollection] = (last,)
            kept.append((*previous[1], last))
        else:
            start = 0
            for j in range(len(memory) - 1, -1, -1):
                r = memory[j]
                if r.choice is not None and r.choice == r.other:
                    start = j
                    break
            rows.append(empty)
            new = memory[start:]
            kept.append(new)
        member += [i] * len(new)
        records += new
    inventory = np.concatenate(rows)
    if records:
        learn(
            inventory,
            np.array(member, dtype=np.int64),
            _indices([r.choice for r in records], index),
            _indices([r.other for r in records], index),
            np.array([r.role == "hearer" for r in records], dtype=bool),
        )
    inventory.flags.writeable = False
    if len(_REBUILT) + len(observations) > _MAX_REBUILT:
        _REBUILT.clear()
    for i, (observation, remembered) in enumerate(zip(observations, kept, strict=True)):
        if remembered is not None:
            _REBUILT[id(observation.memory[-1])] = (options, remembered, inventory[i : i + 1])
    return inventory


_EMPTY_ROWS: dict[int, np.ndarray] = {}


def _empty_row(k: int) -> np.ndarray:
    row = _EMPTY_ROWS.get(k)
    if row is None:
        row = _EMPTY_ROWS[k] = np.zeros((1, k), dtype=bool)
        row.flags.writeable = False
    return row


def inventory(observation: Observation) -> tuple[str, ...]:
    """A naming-game member's inventory, rebuilt from its memory (in option order).

    Replaying its remembered interactions with :func:`learn`: a success (own answer equal
    to the partner's) leaves only that word; a failed hearer had added the word it heard;
    a failed speaker keeps the word it said (an invented word enters that way). A
    recollection without a role counts as the member having said its answer.
    """
    row = _inventories([observation])[0]
    return tuple(observation.options[i] for i in np.flatnonzero(row))


@register_rule
@dataclass(frozen=True)
class NamingGame(_UniformChoice):
    """The minimal naming game (Baronchelli et al. 2006 [1]_), one member's policy.

    As the speaker (nothing heard yet this round) it says a word drawn uniformly from its
    inventory, or invents one (uniform over all names) when the inventory is empty. As the
    hearer (the speaker's word is in ``observation.seen``) it answers the heard word when
    it knows it (success: both then keep only that word), else a word of its own inventory
    (failure: it adds the heard word; with an empty inventory it names any other word,
    which it does not keep). The inventory is rebuilt from memory by :func:`inventory`.
    """

    kind: ClassVar[str] = "naming_game"

    def state(self, observation: Observation) -> np.ndarray:
        """The member's inventory (1 x K bool), rebuilt from memory (:func:`inventory`)."""
        return _inventories([observation])

    def states(self, observations: Sequence[Observation]) -> np.ndarray:
        """The members' inventories (m x K bool), rebuilt from memory in one call."""
        return _inventories(observations)

    def support(self, view: RuleView) -> np.ndarray:
        """Speakers: the inventory, or every name when it is empty; hearers: the heard word
        when they know it, else their inventory, else every name but the heard one."""
        words = view.state
        has = words.any(axis=1)[:, None]
        hearer, heard = view.heard()
        if not hearer.any():  # speakers only
            return np.where(has, words, True)
        said = heard[:, None] == np.arange(view.k)  # the heard word (none: no column)
        knows = (words & said).any(axis=1)[:, None]
        return np.where(knows, said, np.where(has, words, ~said))


@register_rule
@dataclass(frozen=True)
class MemoryMajority(_UniformChoice):
    """Plays the name its partners played most often in its memory (best response).

    Counts the partners' answers (``Recollection.other``) in the member's memory window;
    ties are broken uniformly at random; with nothing remembered it picks uniformly. Under
    the coordination payoff (+100 on a match, -50 otherwise) this maximises the expected
    payoff against a partner drawn from the remembered ones.
    """

    kind: ClassVar[str] = "memory"

    def state(self, observation: Observation) -> np.ndarray:
        """How often each name was a partner's answer in the memory window (1 x K)."""
        index = option_index(observation.options)
        counts = np.zeros((1, len(index)), dtype=np.int64)
        for r in observation.memory:
            i = index.get(r.other) if r.other is not None else None
            if i is not None:
                counts[0, i] += 1
        return counts

    def support(self, view: RuleView) -> np.ndarray:
        """The names partners used most (every name when nothing is remembered)."""
        counts = view.state
        top = counts.max(axis=1, keepdims=True)
        return (counts == top) | (top == 0)
