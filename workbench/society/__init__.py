"""Societies of LLM and rule members on a network.

The public API, by concept:

- :class:`Society` (the Mesa model) and :class:`Member` (a Mesa cell agent);
- persons: :class:`LLMPerson`, the rule policies :class:`Truthful`, :class:`Majority`,
  :class:`Conformist`, :class:`Committed`, :class:`Confederate`, and :func:`make_person`;
- personas: :class:`Persona`, :func:`load_personas`, :func:`resolve_persona`;
- the situation: :class:`Situation`, with :data:`NORMS`, :data:`EXCHANGES`,
  :data:`SCHEDULES` (registered :class:`Schedule` classes), and :class:`Topology`;
- the task: :class:`Task`, :class:`Round`, :class:`Observation`.
- opinion dynamics: :class:`OpinionSociety`, :class:`OpinionTask`, :class:`Topic`,
  :func:`load_topics`, :func:`resolve_topic`, and the rules :class:`DeGroot`,
  :class:`HegselmannKrause`, :class:`Deffuant`.
- coordination games: the rules :class:`NamingGame` and :class:`MemoryMajority`, and the
  game kit :mod:`workbench.society.coordination` (:class:`CoordinationGame`,
  :func:`coordination_game`, the play loop and the measures).
"""

from workbench.society.coordination import CoordinationGame, coordination_game

# importing games registers its rules: rule:naming_game, rule:memory
from workbench.society.games import MemoryMajority, NamingGame
from workbench.society.member import Member

# importing opinion registers its rules: rule:degroot, rule:hk, rule:deffuant
from workbench.society.opinion import (
    Deffuant,
    DeGroot,
    HegselmannKrause,
    OpinionSociety,
    OpinionTask,
    Topic,
    load_topics,
    resolve_topic,
)
from workbench.society.personas import NO_PERSONA, Persona, load_personas, resolve_persona
from workbench.society.persons import (
    RULES,
    Committed,
    Confederate,
    Conformist,
    LLMPerson,
    Majority,
    Person,
    RulePerson,
    Truthful,
    make_person,
)
from workbench.society.schedules import Schedule
from workbench.society.situation import EXCHANGES, NORMS, SCHEDULES, Situation
from workbench.society.society import Society, draw_seed
from workbench.society.task import WORDINGS, Observation, Recollection, Round, Task, Wording
from workbench.society.topology import KINDS, TOPOLOGIES, Topology, build_graph

__all__ = [
    "CoordinationGame",
    "KINDS",
    "coordination_game",
    "MemoryMajority",
    "NamingGame",
    "DeGroot",
    "Deffuant",
    "HegselmannKrause",
    "OpinionSociety",
    "OpinionTask",
    "Topic",
    "load_topics",
    "resolve_topic",
    "EXCHANGES",
    "NORMS",
    "NO_PERSONA",
    "RULES",
    "SCHEDULES",
    "TOPOLOGIES",
    "Committed",
    "Confederate",
    "Conformist",
    "LLMPerson",
    "Majority",
    "Member",
    "Observation",
    "Persona",
    "Person",
    "Recollection",
    "Round",
    "Schedule",
    "RulePerson",
    "Situation",
    "Society",
    "Task",
    "WORDINGS",
    "Wording",
    "Topology",
    "Truthful",
    "build_graph",
    "draw_seed",
    "load_personas",
    "make_person",
    "resolve_persona",
]
