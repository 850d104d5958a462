"""The situation: the social context every member of a society shares.

A :class:`Situation` holds the norm text (a preset or any sentence), the network
topology, the exchange rule (what of the others reaches a member's prompt), the memory
window (how many earlier rounds a member recalls) and the schedule (who answers when).
In the terms of the interactionist programme the exchange rule is the
information-exchange function and the memory window the (in-context) learning function.

References
----------
.. [1] K. Lewin, Principles of Topological Psychology, McGraw-Hill (1936): behaviour as a
   function of the person and the environment, B = f(P, E).
.. [2] S. E. Asch, "Studies of independence and conformity: I. A minority of one against a
   unanimous majority", Psychological Monographs 70(9), 1-70 (1956). Public versus
   written (private) answers.
.. [3] M. Deutsch and H. B. Gerard, "A study of normative and informational social
   influences upon individual judgment", J. Abnormal and Social Psychology 51(3),
   629-636 (1955). Accuracy incentives and anonymity.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from workbench.errors import ConfigError
from workbench.society.schedules import SCHEDULES
from workbench.society.topology import Topology

__all__ = ["EXCHANGES", "NORMS", "SCHEDULES", "Situation", "norm_text"]

#: Norm presets; any sentence may be used instead.
NORMS: dict[str, str] = {
    "none": "",
    "accuracy": "Accuracy is rewarded: you earn a bonus for every correct answer.",
    "harmony": "Group harmony matters: the group is rewarded when its members agree.",
    "public": "Answers are public: you say your answer aloud, in front of the group.",
    "private": "Answers are private: you write your answer down and no one else will see it.",
}

#: Exchange rules: what a member sees of the others' answers.
EXCHANGES: dict[str, str] = {
    "answers": "each visible neighbour's answer, by name, in the order given",
    "counts": "only how many visible neighbours chose each option",
}


def norm_text(norm: str) -> str:
    """The text of a norm preset, or the norm itself if it is a sentence.

    Raises
    ------
    ConfigError
        For a single word that names no preset.
    """
    key = norm.strip()
    if key in NORMS:
        return NORMS[key]
    if any(c.isspace() for c in key):
        return key
    raise ConfigError(f"unknown norm {norm!r}; use one of {', '.join(NORMS)} or a sentence")


@dataclass(frozen=True)
class Situation:
    """The social context of a society.

    Parameters
    ----------
    norm : str
        A preset from :data:`NORMS` (``"none"``, ``"accuracy"``, ``"harmony"``,
        ``"public"``, ``"private"``) or any sentence; shown to LLM members as a system
        message after their persona.
    topology : Topology, str or networkx.Graph
        The network; a kind name uses that kind's default parameters.
    exchange : {"answers", "counts"}
        What a member sees of its neighbours' answers, see :data:`EXCHANGES`.
    memory : int
        How many earlier rounds a member recalls in its prompt (0: none).
    schedule : str
        Who answers when: the name of a registered schedule (``"synchronous"``,
        ``"sequential"``, ``"pairwise"``, ``"encounters"``, ``"speaker_hearer"`` or one
        registered since), see :data:`~workbench.society.schedules.SCHEDULES`.
    shuffle : bool
        List the options in a fresh random order in every LLM prompt (drawn from the
        society's generator), so that position cannot decide the answer.
    """

    norm: str = "none"
    topology: Topology | str | nx.Graph = "complete"
    exchange: str = "answers"
    memory: int = 0
    schedule: str = "synchronous"
    shuffle: bool = False

    def __post_init__(self) -> None:
        norm_text(self.norm)
        if isinstance(self.topology, str):
            object.__setattr__(self, "topology", Topology(self.topology))
        if self.exchange not in EXCHANGES:
            raise ConfigError(
                f"unknown exchange rule {self.exchange!r}; choose one of {', '.join(EXCHANGES)}"
            )
        if self.memory < 0:
            raise ConfigError(f"memory window must be 0 or more rounds, got {self.memory}")
        SCHEDULES.get(self.schedule)  # a one-line ConfigError naming every schedule

    @property
    def norm_text(self) -> str:
        """The norm as members read it."""
        return norm_text(self.norm)
