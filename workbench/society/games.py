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

from collections import Counter
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from workbench.llm.types import Decision
from workbench.society.persons import RulePerson, register_rule
from workbench.society.task import Observation

__all__ = ["MemoryMajority", "NamingGame", "inventory"]


_INDEX: dict[int, tuple[tuple[str, ...], dict[str, int]]] = {}


def _index(options: tuple[str, ...]) -> dict[str, int]:
    """Position of each option; cached by identity (a round's options tuple is reused)."""
    hit = _INDEX.get(id(options))
    if hit is not None and hit[0] is options:
        return hit[1]
    index = {o: i for i, o in enumerate(options)}
    if len(_INDEX) > 256:
        _INDEX.clear()
    _INDEX[id(options)] = (options, index)
    return index


def _uniform(options: tuple[str, ...], chosen: tuple[str, ...]) -> tuple[float, ...]:
    """Uniform over ``chosen`` (a subset of ``options``), in O(len(chosen)) plus one copy."""
    probabilities = [0.0] * len(options)
    weight = 1.0 / len(chosen)
    index = _index(options)
    for option in chosen:
        probabilities[index[option]] = weight
    return tuple(probabilities)


class _UniformChoice(RulePerson):
    """A policy that is uniform over a subset of the options it computes per observation.

    Deciding costs O(subset) plus one copy of the probability vector, so populations of
    hundreds of members over hundreds of names stay fast.
    """

    def support(self, observation: Observation) -> tuple[str, ...]:
        """The options the policy picks among, uniformly (in option order)."""
        raise NotImplementedError

    def probabilities(self, observation: Observation) -> tuple[float, ...]:
        return _uniform(observation.options, self.support(observation))

    def decide(self, observation: Observation, rng: np.random.Generator) -> Decision:
        options = observation.options
        chosen = self.support(observation)
        u = rng.random()
        choice = chosen[min(int(u * len(chosen)), len(chosen) - 1)]
        return Decision(
            options=options,
            probabilities=_uniform(options, chosen),
            choice=choice,
            valid=True,
            method="rule",
        )


def inventory(observation: Observation) -> tuple[str, ...]:
    """A naming-game member's inventory, rebuilt from its memory (in option order).

    Walking back from the latest interaction: a success (own answer equal to the
    partner's) leaves only that word and ends the walk; a failed hearer had added the word
    it heard; a failed speaker keeps the word it said (an invented word enters that way).
    A recollection without a role counts as the member having said its answer.
    """
    words = set()
    for r in reversed(observation.memory):
        if r.choice is not None and r.choice == r.other:
            words.add(r.choice)
            break
        if r.role == "hearer":
            if r.other is not None:
                words.add(r.other)
        elif r.choice is not None:
            words.add(r.choice)
    index = _index(observation.options)
    return tuple(sorted((w for w in words if w in index), key=index.__getitem__))


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

    def support(self, observation: Observation) -> tuple[str, ...]:
        words = inventory(observation)
        if observation.seen:  # hearer
            heard = observation.seen[-1][1]
            if heard in words:
                return (heard,)
            if words:
                return words
            return tuple(o for o in observation.options if o != heard)
        return words or observation.options


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

    def support(self, observation: Observation) -> tuple[str, ...]:
        offered = _index(observation.options)
        counts = Counter(r.other for r in observation.memory if r.other in offered)
        if not counts:
            return observation.options
        top = max(counts.values())
        return tuple(o for o in observation.options if counts.get(o) == top)
