"""Opinion-dynamics rules: members with a continuous opinion in [0, 1].

The classic opinion-dynamics rules keep a *continuous* opinion ``x`` in [0, 1] (the scale
of Deffuant et al. [3]_ and Hegselmann & Krause [4]_) as the member's state
(:attr:`Member.value`): they read the states of the members they see
(:attr:`Observation.values`), update their own, and report the label of the fifth of
[0, 1] their opinion falls in (:mod:`workbench.society.opinion.scale`), so LLM and rule
members answer the same question with the same labels, and a rule reads an LLM neighbour
(who has no continuous state) at the centre of its label's fifth. The rules are
deterministic given what they see; the randomness of Deffuant's model is in who meets whom
(the ``"encounters"`` schedule).

- :class:`DeGroot`: the average of its own and its neighbours' opinions (equal weights)
  [2]_;
- :class:`HegselmannKrause`: the average of the opinions within ``eps`` of its own,
  its own included [4]_;
- :class:`Deffuant`: moves a fraction ``mu`` towards the opinion it meets when that is
  closer than ``d`` (towards their mean when it sees several) [3]_.

References
----------
.. [1] Y.-S. Chuang, A. Goyal, N. Harlalka, S. Suresh, R. Hawkins, S. Yang, D. Shah,
   J. Hu and T. T. Rogers, "Simulating opinion dynamics with networks of LLM-based
   agents", Findings of NAACL (2024).
.. [2] M. H. DeGroot, "Reaching a consensus", Journal of the American Statistical
   Association 69(345), 118-121 (1974).
.. [3] G. Deffuant, D. Neau, F. Amblard and G. Weisbuch, "Mixing beliefs among interacting
   agents", Advances in Complex Systems 3, 87-98 (2000).
.. [4] R. Hegselmann and U. Krause, "Opinion dynamics and bounded confidence: models,
   analysis and simulation", Journal of Artificial Societies and Social Simulation 5(3)
   (2002).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from workbench.errors import ConfigError
from workbench.llm.types import Decision
from workbench.society.opinion.scale import centre_of, label_index, one_hot
from workbench.society.persons import RulePerson, register_rule
from workbench.society.task import Observation

__all__ = ["DeGroot", "Deffuant", "HegselmannKrause", "OpinionRule"]


def _number(text: str, name: str, low: float, high: float, *, open_low: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {text!r}") from None
    if not (low < value <= high if open_low else low <= value <= high):
        bracket = "(" if open_low else "["
        raise ConfigError(f"{name} must be in {bracket}{low:g}, {high:g}], got {value:g}")
    return value


class OpinionRule(RulePerson):
    """A rule policy that keeps a continuous opinion in [0, 1].

    Subclasses implement :meth:`update`. :meth:`decide` reads the member's own opinion
    (its state; else the centre of its current answer's bin; else 0.5) and the seen
    opinions (their states; else the centres of their answers' bins), updates, and
    reports the label of the new opinion with probability one; the new opinion travels in
    ``Decision.extra["value"]`` to become the member's state. It draws exactly one number
    from the generator, as every policy does, though the choice does not depend on it.
    """

    keeps_value: ClassVar[bool] = True

    @abstractmethod
    def update(self, own: float, others: Sequence[float]) -> float:
        """The new opinion, given the own opinion and the seen ones (all in [0, 1])."""

    def opinions(self, observation: Observation) -> tuple[float, list[float]]:
        """The own and the seen opinions this policy reads from ``observation``."""
        options = observation.options
        k = len(options)
        own = observation.value
        if own is None:
            answer = observation.answer
            own = centre_of(options.index(answer), k) if answer in options else 0.5
        values = observation.values or (None,) * len(observation.seen)
        others = [
            float(v) if v is not None else centre_of(options.index(a), k)
            for (_, a), v in zip(observation.seen, values, strict=True)
            if v is not None or a in options
        ]
        return float(own), others

    def opinion(self, observation: Observation) -> float:
        """The member's new continuous opinion after ``observation``."""
        own, others = self.opinions(observation)
        return min(max(float(self.update(own, others)), 0.0), 1.0)

    def probabilities(self, observation: Observation) -> tuple[float, ...]:
        k = len(observation.options)
        return one_hot(label_index(self.opinion(observation), k), k)

    def decide(self, observation: Observation, rng: np.random.Generator) -> Decision:
        x = self.opinion(observation)
        options = observation.options
        index = label_index(x, len(options))
        rng.random()  # one draw per decision, whatever the policy
        return Decision(
            options=options,
            probabilities=one_hot(index, len(options)),
            choice=options[index],
            valid=True,
            method="rule",
            extra={"value": x},
        )


@register_rule
@dataclass(frozen=True)
class DeGroot(OpinionRule):
    """DeGroot's averaging: the mean of the own and the seen opinions, equal weights [2]_.

    On a connected network under the synchronous schedule the trust matrix is
    ``W = D^-1 (A + I)`` with ``D`` the degrees plus one; opinions converge to the
    average of the initial opinions weighted by its stationary distribution, here
    proportional to degree plus one.
    """

    kind: ClassVar[str] = "degroot"

    def update(self, own: float, others: Sequence[float]) -> float:
        return (own + sum(others)) / (1 + len(others))


@register_rule
@dataclass(frozen=True)
class HegselmannKrause(OpinionRule):
    """Hegselmann-Krause bounded confidence: the mean of the opinions within ``eps`` [4]_.

    Parameters
    ----------
    eps : float
        Confidence bound, in [0, 1]: seen opinions farther than ``eps`` are ignored.
        With opinions uniform on [0, 1], a complete network reaches consensus for ``eps``
        above about 0.2.
    """

    eps: float = 0.2
    kind: ClassVar[str] = "hk"

    def __post_init__(self) -> None:
        _number(str(self.eps), "hk eps", 0.0, 1.0)

    @property
    def model(self) -> str:
        return f"rule:hk:{self.eps!r}"

    @classmethod
    def from_parameter(cls, text: str) -> HegselmannKrause:
        return cls(_number(text, "hk eps", 0.0, 1.0)) if text else cls()

    def update(self, own: float, others: Sequence[float]) -> float:
        close = [x for x in others if abs(x - own) <= self.eps]
        return (own + sum(close)) / (1 + len(close))


@register_rule
@dataclass(frozen=True)
class Deffuant(OpinionRule):
    """Deffuant bounded confidence: move ``mu`` of the way to an opinion closer than ``d`` [3]_.

    Meant for the ``"encounters"`` schedule (one partner per step); with several seen
    opinions it moves ``mu`` of the way towards the mean of those closer than ``d``.

    Parameters
    ----------
    d : float
        Threshold, in (0, 1]. With opinions uniform on [0, 1] and random encounters,
        about ``floor(1 / (2 d))`` clusters remain; consensus for ``d`` above about 0.3.
    mu : float
        Convergence parameter, in (0, 0.5].
    """

    d: float = 0.2
    mu: float = 0.5
    kind: ClassVar[str] = "deffuant"

    def __post_init__(self) -> None:
        _number(str(self.d), "deffuant d", 0.0, 1.0, open_low=True)
        _number(str(self.mu), "deffuant mu", 0.0, 0.5, open_low=True)

    @property
    def model(self) -> str:
        spec = f"rule:deffuant:{self.d!r}"
        return spec if self.mu == 0.5 else f"{spec}:{self.mu!r}"

    @classmethod
    def from_parameter(cls, text: str) -> Deffuant:
        if not text:
            return cls()
        d, _, mu = text.partition(":")
        return cls(
            _number(d, "deffuant d", 0.0, 1.0, open_low=True),
            _number(mu, "deffuant mu", 0.0, 0.5, open_low=True) if mu else 0.5,
        )

    def update(self, own: float, others: Sequence[float]) -> float:
        close = [x for x in others if abs(x - own) < self.d]
        return own + self.mu * (sum(close) / len(close) - own) if close else own
