"""Persons: what a member brings to a society before any interaction.

A person is either an :class:`LLMPerson` (a litellm model string plus a persona prompt) or
a rule policy (a :class:`RulePerson`). Both are immutable and share one interface: a
``model`` string and a ``persona``; an LLM person builds a
:class:`~workbench.llm.types.DecisionRequest` for the gateway, a rule person returns the
:class:`~workbench.llm.types.Decision` itself. So LLM and rule members share a society, and
rule members serve as confederates, baselines and committed minorities.

Rule policies are distributions over the options; the choice is drawn with one uniform
number from the society's generator, exactly as the gateway draws an LLM's choice.
Every policy passes :func:`workbench.society.checks.check_policy`.

References
----------
.. [1] S. E. Asch, "Studies of independence and conformity: I. A minority of one against a
   unanimous majority", Psychological Monographs 70(9), 1-70 (1956). Confederates.
.. [2] J. Xie et al., "Social consensus through the influence of committed minorities",
   Phys. Rev. E 84, 011130 (2011). Committed agents.
.. [3] D. Centola, J. Becker, D. Brackbill and A. Baronchelli, "Experimental evidence for
   tipping points in social convention", Science 360(6393), 1116-1119 (2018).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from workbench.errors import ConfigError
from workbench.llm.types import Decision, DecisionRequest
from workbench.registry import Registry
from workbench.society.arrays import (
    NONE,
    Chosen,
    RuleView,
    draw_rows,
    option_index,
    uniform_rows,
)
from workbench.society.personas import NO_PERSONA, Persona, resolve_persona
from workbench.society.task import Observation, Round, Task

__all__ = [
    "RULES",
    "Committed",
    "Confederate",
    "Conformist",
    "LLMPerson",
    "Majority",
    "Person",
    "RulePerson",
    "Truthful",
    "check_model",
    "decide_rules",
    "is_rule",
    "make_person",
    "register_rule",
    "uniform_over",
]

#: The prefix of a rule spec, ``rule:<kind>[:<parameter>]``.
RULE_PREFIX = "rule:"


def is_rule(model: str) -> bool:
    """Whether a model string is a rule spec (``rule:...``) rather than a model to call."""
    return isinstance(model, str) and model.startswith(RULE_PREFIX)


@dataclass(frozen=True)
class LLMPerson:
    """A language model with a persona.

    Parameters
    ----------
    model : str
        A litellm model string, e.g. ``"local/smollm2-135m"``.
    persona : Persona
        The persona prompt (none by default).
    temperature : float
        Sampling temperature of the choice (0 takes the most likely option).
    """

    model: str
    persona: Persona = NO_PERSONA
    temperature: float = 1.0
    is_rule: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if not self.model or is_rule(self.model):
            raise ConfigError(f"an LLM person needs a litellm model string, got {self.model!r}")
        if not (math.isfinite(self.temperature) and self.temperature >= 0):
            raise ConfigError(
                f"temperature must be a finite non-negative number, got {self.temperature}"
            )

    def request(self, observation: Observation, task: Task, norm: str = "") -> DecisionRequest:
        """The forced-choice request for one observation (no I/O)."""
        return DecisionRequest(
            model=self.model,
            messages=task.messages(observation, persona=self.persona.text, norm=norm),
            options=observation.options,
            temperature=self.temperature,
        )


class RulePerson:
    """A rule policy: a distribution over the options, computed from the observation.

    Subclasses are frozen dataclasses. A policy written for arrays implements
    :meth:`choose` (what ``m`` members choose from a :class:`~workbench.society.arrays.
    RuleView`); :meth:`decide` and :meth:`probabilities` then call it with a one-row view,
    members asked together call it once on their stacked views (:func:`decide_rules`), so
    a member deciding alone and a society stepping in array form
    (:mod:`workbench.society.engine`) run the same code. A policy may instead implement
    :meth:`probabilities` only (a plugin's quick rule); it then decides member by member.
    Either way a choice is drawn with exactly one uniform number from the generator.
    """

    is_rule: ClassVar[bool] = True
    kind: ClassVar[str] = "rule"
    persona: ClassVar[Persona] = NO_PERSONA

    @property
    def model(self) -> str:
        """The spec string that :func:`make_person` parses back into this policy."""
        return f"rule:{self.kind}"

    @property
    def arrays(self) -> bool:
        """Whether the policy has an array form (its class implements :meth:`choose`)."""
        return type(self).choose is not RulePerson.choose

    def choose(self, view: RuleView, u: np.ndarray, *, probabilities: bool = True) -> Chosen:
        """What the ``m`` members of ``view`` choose, given one uniform number each.

        Parameters
        ----------
        view : RuleView
            What each member sees, one row each.
        u : numpy.ndarray
            ``m`` uniform numbers in [0, 1), one per member (its one draw).
        probabilities : bool
            Also return each row's probabilities (False: the caller keeps none).

        Returns
        -------
        Chosen
        """
        raise NotImplementedError(f"{type(self).__name__} has no array form")

    def state(self, observation: Observation) -> np.ndarray | None:
        """The one-row :attr:`RuleView.state` this policy reads, rebuilt from
        ``observation`` (None: the policy keeps no state of its own)."""
        return None

    def view(self, observation: Observation) -> RuleView:
        """The one-row view of ``observation`` this policy's :meth:`choose` reads."""
        return RuleView.of(observation, self.state(observation))

    def states(self, observations: Sequence[Observation]) -> np.ndarray | None:
        """The :meth:`state` rows of several observations, stacked (None: no state)."""
        states = [self.state(o) for o in observations]
        return None if states[0] is None else np.concatenate(states)

    def stacked(self, observations: Sequence[Observation]) -> RuleView:
        """The view of several members' ``observations`` of one round, one row each (what
        :meth:`view` gives each), for one call of :meth:`choose`."""
        return RuleView.stack(observations, self.states(observations))

    def probabilities(self, observation: Observation) -> tuple[float, ...]:
        """Probability of each option, aligned with ``observation.options``."""
        if not self.arrays:
            raise NotImplementedError(
                f"{type(self).__name__} implements neither probabilities nor choose"
            )
        chosen = self.choose(self.view(observation), np.zeros(1))
        return tuple(chosen.probabilities[0].tolist())

    def decide(self, observation: Observation, rng: np.random.Generator) -> Decision:
        """Draw this policy's choice for ``observation`` (its array form on one row)."""
        if self.arrays:
            view = self.view(observation)
            return self.choose(view, rng.random(1)).decision(0, observation.options)
        p = np.asarray(self.probabilities(observation), dtype=float)
        u = rng.random()
        index = int(draw_rows(p[None, :], np.array([u]))[0])
        return Decision.from_rule(observation.options, tuple(p), observation.options[index])


def _stacks(person: RulePerson) -> bool:
    """Whether ``person`` decides through :meth:`RulePerson.choose` on :meth:`RulePerson.view`
    (so several of its decisions can be one call on stacked views)."""
    cls = type(person)
    return person.arrays and cls.decide is RulePerson.decide and cls.view is RulePerson.view


def decide_rules(
    batch: Sequence[tuple[RulePerson, Observation]], rng: np.random.Generator
) -> list[Decision]:
    """The decisions of rule persons on their observations, in order, as their
    :meth:`RulePerson.decide` makes them one by one (each draws one uniform number, in
    ``batch`` order, so the draws and decisions are the same): when every person decides
    through its array form, the decisions of one policy on one round are one
    :meth:`RulePerson.choose` call on their stacked views (:meth:`RulePerson.stacked`).
    """
    if len(batch) < 2 or not all(_stacks(person) for person, _ in batch):
        return [person.decide(observation, rng) for person, observation in batch]
    u = rng.random(len(batch))
    groups: dict[tuple[RulePerson, Round], list[int]] = {}
    for i, (person, observation) in enumerate(batch):
        groups.setdefault((person, observation.round), []).append(i)
    decisions: list[Decision | None] = [None] * len(batch)
    for (person, round_), rows in groups.items():
        observations = [batch[i][1] for i in rows]
        chosen = person.choose(person.stacked(observations), u[rows])
        for j, i in enumerate(rows):
            decisions[i] = chosen.decision(j, round_.options)
    return decisions


def uniform_over(options: tuple[str, ...], choices: tuple[str, ...]) -> tuple[float, ...]:
    """Probabilities uniform over ``choices`` (all options when empty), aligned with ``options``.

    The building block of probabilities-only rule policies: a rule that picks "one of
    these" returns ``uniform_over(observation.options, these)`` from
    :meth:`RulePerson.probabilities`.
    """
    choices = choices or options
    return tuple(1.0 / len(choices) if o in choices else 0.0 for o in options)


def _given(view: RuleView, index: int) -> np.ndarray:
    """Rows putting everything on option ``index`` (uniform for :data:`NONE`, nothing for
    :data:`NOT_AN_OPTION`, as :func:`uniform_over` of a name that is not offered)."""
    k = view.k
    if index == NONE:
        row = np.full(k, 1.0 / k)
    else:
        row = np.zeros(k)
        if index >= 0:
            row[index] = 1.0
    return row[None, :] if view.m == 1 else np.tile(row, (view.m, 1))


def _truth(view: RuleView) -> np.ndarray:
    return _given(view, view.correct)


def _majority(view: RuleView) -> np.ndarray:
    counts = view.counts()
    top = counts.max(axis=1, initial=0)
    follow = uniform_rows(counts == top[:, None])
    return np.where((top > 0)[:, None], follow, _truth(view))


def _drawn(p: np.ndarray, u: np.ndarray, probabilities: bool) -> Chosen:
    return Chosen(draw_rows(p, u), np.asarray(p) if probabilities else None)


@dataclass(frozen=True)
class Truthful(RulePerson):
    """Always gives the correct answer (uniform at random when there is none)."""

    kind: ClassVar[str] = "truthful"

    def choose(self, view: RuleView, u: np.ndarray, *, probabilities: bool = True) -> Chosen:
        return _drawn(_truth(view), u, probabilities)


@dataclass(frozen=True)
class Majority(RulePerson):
    """Always agrees with the majority of the answers it sees.

    Ties are broken uniformly at random; with nothing seen it answers truthfully.
    """

    kind: ClassVar[str] = "majority"

    def choose(self, view: RuleView, u: np.ndarray, *, probabilities: bool = True) -> Chosen:
        return _drawn(_majority(view), u, probabilities)


@dataclass(frozen=True)
class Conformist(RulePerson):
    """Follows the majority with probability ``p``, otherwise answers truthfully.

    Parameters
    ----------
    p : float
        Probability of conforming, in [0, 1].
    """

    p: float = 0.5
    kind: ClassVar[str] = "conformist"

    def __post_init__(self) -> None:
        if not 0.0 <= self.p <= 1.0:
            raise ConfigError(f"conformist p must be in [0, 1], got {self.p}")

    @property
    def model(self) -> str:
        return f"rule:conformist:{self.p:g}"

    def choose(self, view: RuleView, u: np.ndarray, *, probabilities: bool = True) -> Chosen:
        return _drawn(self.p * _majority(view) + (1 - self.p) * _truth(view), u, probabilities)


@dataclass(frozen=True)
class Committed(RulePerson):
    """Always gives the same answer, whatever it sees (a committed minority member).

    Parameters
    ----------
    option : str
        The answer; it must be one of the options of every round.
    """

    option: str = "A"
    kind: ClassVar[str] = "committed"
    example: ClassVar[str] = "rule:committed:A"

    @property
    def model(self) -> str:
        return f"rule:committed:{self.option}"

    def choose(self, view: RuleView, u: np.ndarray, *, probabilities: bool = True) -> Chosen:
        index = option_index(view.options).get(self.option)
        if index is None:
            raise ConfigError(f"committed option {self.option!r} is not one of {view.options}")
        return _drawn(_given(view, index), u, probabilities)


@dataclass(frozen=True)
class Confederate(RulePerson):
    """Gives the round's planted answer when it has one, else the correct answer.

    Asch's confederates answered unanimously wrong on the critical trials and right on
    the neutral ones [1]_.
    """

    kind: ClassVar[str] = "confederate"

    def choose(self, view: RuleView, u: np.ndarray, *, probabilities: bool = True) -> Chosen:
        p = _truth(view) if view.planted == NONE else _given(view, view.planted)
        return _drawn(p, u, probabilities)


#: Rule policies by kind, as named in ``rule:<kind>[:<parameter>]`` specs: the registry
#: that :func:`make_person`, the Explorer's model list and the conformance tests read.
def _load_plugins() -> None:
    """Import the study modules and plugins (they may register rules) before a lookup."""
    import sys

    studies = sys.modules.get("workbench.studies")
    if studies is None or not hasattr(studies, "STUDIES"):
        import workbench.studies as studies  # noqa: PLC0415 (the layer above, on demand)
    if hasattr(studies, "STUDIES"):
        studies.STUDIES.keys()  # its loader imports every study module and plugin
    else:  # workbench.studies is being imported right now: look again next time
        RULES._loader = _load_plugins


RULES: Registry[type[RulePerson]] = Registry("rule", key=lambda cls: cls.kind, loader=_load_plugins)
for _cls in (Truthful, Majority, Conformist, Committed, Confederate):
    RULES.register(_cls)

Person = LLMPerson | RulePerson


def register_rule(cls: type[RulePerson]) -> type[RulePerson]:
    """Let :func:`make_person` build ``cls`` from ``rule:<kind>[:<parameter>]`` specs.

    Usable as a class decorator. A policy with parameters defines a classmethod
    ``from_parameter(text)`` that parses the text after the kind (``""`` when there is
    none) and a ``model`` property that writes it back, so the spec round-trips, and a
    class attribute ``example`` (a spec such as ``"rule:conformist:0.3"``) when the spec
    needs a parameter, so the Explorer and the conformance tests can build one. Another
    class under a taken kind is a :class:`ConfigError`; a test registers inside
    ``RULES.scope()`` so that its rule is gone afterwards.
    """
    return RULES.register(cls)


def check_model(model: str) -> None:
    """A one-line :class:`ConfigError` unless ``model`` is a model string or a valid rule spec."""
    if not isinstance(model, str) or not model.strip():
        raise ConfigError(f"a model must be a litellm model string or a rule spec, got {model!r}")
    if is_rule(model):
        make_person(model)


def rule_examples() -> list[str]:
    """One buildable spec of every registered rule (its ``example``, or ``rule:<kind>``)."""
    return [getattr(cls, "example", None) or f"{RULE_PREFIX}{kind}" for kind, cls in RULES.items()]


def make_person(
    model: str,
    persona: str | Persona = "none",
    *,
    temperature: float = 1.0,
    persona_file: str | None = None,
) -> Person:
    """Build a person from a model string.

    Parameters
    ----------
    model : str
        A litellm model string for an LLM person, or a rule spec: ``"rule:truthful"``,
        ``"rule:majority"``, ``"rule:conformist:0.3"``, ``"rule:committed:B"``,
        ``"rule:confederate"``.
    persona : str or Persona
        Persona name, custom text or ``"none"`` (LLM persons only; rules ignore it).
    temperature : float
        Sampling temperature of an LLM person.
    persona_file : str or None
        Optional user persona file, see :func:`~workbench.society.personas.load_personas`.

    Returns
    -------
    Person

    Raises
    ------
    ConfigError
        For an unknown rule or a malformed parameter.
    """
    if not is_rule(model):
        return LLMPerson(model, resolve_persona(persona, persona_file), temperature)
    kind, _, parameter = model.removeprefix(RULE_PREFIX).partition(":")
    RULES.get(kind)  # a one-line error naming the registered rules
    if kind == "conformist":
        try:
            return Conformist(float(parameter or 0.5))
        except ValueError:
            raise ConfigError(f"conformist needs a probability, got {parameter!r}") from None
    if kind == "committed":
        if not parameter:
            raise ConfigError("committed needs an option, e.g. rule:committed:A")
        return Committed(parameter)
    parse = getattr(RULES[kind], "from_parameter", None)
    if parse is not None:
        return parse(parameter)
    if parameter:
        raise ConfigError(f"rule {kind!r} takes no parameter, got {parameter!r}")
    return RULES[kind]()
