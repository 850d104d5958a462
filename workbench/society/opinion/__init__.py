"""Opinion dynamics: members who hold an opinion on a topic, LLM and rule alike.

One concept a module:

- :mod:`~workbench.society.opinion.scale`: the five-point scale (:data:`LABELS`,
  :data:`LEVELS`, :data:`MEANINGS`, :func:`label_of`, :func:`level_of`,
  :func:`position_of`), after Chuang et al.;
- :mod:`~workbench.society.opinion.topics`: the claims (:class:`Topic`,
  :func:`load_topics`, :func:`resolve_topic`);
- :mod:`~workbench.society.opinion.rules`: the rules with a continuous opinion,
  :class:`DeGroot` (general row-stochastic weights; :func:`degroot_matrix`,
  :func:`degroot_limit` per closed class), :class:`HegselmannKrause`,
  :class:`Deffuant`; and the voter model, :class:`Voter` (copy one random neighbour's
  label);
- :mod:`~workbench.society.opinion.task`: :class:`OpinionTask`, which renders the claim,
  the scale, the member's current opinion and its neighbours' opinions (and, optionally,
  their short messages) into the prompt;
- :mod:`~workbench.society.opinion.society`: :class:`OpinionSociety`, which gives every
  member its initial opinion (:func:`initial_opinions`), records it as step 0, can let
  members post a short message before each round, and updates in rounds or
  asynchronously (:data:`UPDATES`, :class:`Asynchronous`: one random member at a time);
- :mod:`~workbench.society.opinion.measures`: diversity, bimodality, community distance
  and clusters (major and minor, Weisbuch et al.) of a decisions table's opinions.

The opinion personas (:data:`~workbench.society.personas.OPINION_PERSONAS`) live with the
persona library. Importing this package registers the rules ``rule:degroot``,
``rule:hk``, ``rule:deffuant`` and ``rule:voter``.

Each module cites its sources in its own References section.
"""

from workbench.society.opinion.measures import (
    CLUSTER_GAP,
    CLUSTER_SHARE,
    bimodality_coefficient,
    community_distance,
    minor_clusters,
    opinion_clusters,
    opinion_measures,
    opinion_series,
    panels,
    positions,
)
from workbench.society.opinion.rules import (
    Deffuant,
    DeGroot,
    HegselmannKrause,
    OpinionRule,
    Voter,
    degroot_classes,
    degroot_limit,
    degroot_matrix,
)
from workbench.society.opinion.scale import (
    LABELS,
    LEVELS,
    MEANINGS,
    centre_of,
    label_index,
    label_of,
    level_of,
    position_of,
)
from workbench.society.opinion.society import (
    COMMUNITIES,
    INITIALS,
    UPDATES,
    Asynchronous,
    OpinionSociety,
    initial_opinions,
)
from workbench.society.opinion.task import OpinionTask
from workbench.society.opinion.topics import NO_TOPIC, Topic, load_topics, resolve_topic
from workbench.society.personas import OPINION_PERSONAS, resolve_opinion_persona

__all__ = [
    "CLUSTER_GAP",
    "CLUSTER_SHARE",
    "COMMUNITIES",
    "INITIALS",
    "LABELS",
    "LEVELS",
    "MEANINGS",
    "NO_TOPIC",
    "OPINION_PERSONAS",
    "UPDATES",
    "Asynchronous",
    "DeGroot",
    "Deffuant",
    "HegselmannKrause",
    "OpinionRule",
    "OpinionSociety",
    "OpinionTask",
    "Topic",
    "Voter",
    "bimodality_coefficient",
    "centre_of",
    "community_distance",
    "degroot_classes",
    "degroot_limit",
    "degroot_matrix",
    "initial_opinions",
    "label_index",
    "label_of",
    "level_of",
    "load_topics",
    "minor_clusters",
    "opinion_clusters",
    "opinion_measures",
    "opinion_series",
    "panels",
    "position_of",
    "positions",
    "resolve_opinion_persona",
    "resolve_topic",
]
