"""Granovetter's threshold model of collective behaviour: the riot that one person stops.

Each member of a crowd joins a protest once at least its *threshold* of the others have
joined. Granovetter's example [1]_: a hundred people with the thresholds 0, 1, 2, ..., 99
all end up rioting, one after the other; give the person of threshold 1 a threshold of 2
instead, and only the instigator riots. Two crowds that differ in one person's
disposition end in opposite collective outcomes, so the outcome says little about the
average disposition: the point of the paper, and a clean test of a society's mechanics.

This module is also the worked example of ``docs/adding-a-study.md``: one file, which
registers its rule (``rule:threshold:<k>``) and its study (``thresholds``), and is then
in ``workbench run``, ``workbench sweep`` and the Explorer without editing anything else.

References
----------
.. [1] M. Granovetter, "Threshold Models of Collective Behavior", American Journal of
   Sociology 83(6), 1420-1443 (1978). The hundred people with the thresholds 0 to 99
   are the paper's first illustration of the model; its two outcomes (all riot, or
   only the instigator) are exact consequences of the model, reproduced here exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pandas as pd

from workbench import config
from workbench.errors import ConfigError
from workbench.society import RulePerson, Situation, Society, make_person
from workbench.society.checks import MAX_MEMBERS, whole
from workbench.society.persons import is_rule, register_rule, uniform_over
from workbench.society.task import Observation, Round, Task
from workbench.studies import Study, Unit, register_study, unit_seed

JOIN, STAY = "join", "stay"
CONDITIONS = ("uniform", "perturbed")
QUESTION = (
    "A crowd has gathered in the square, and some of its members have started a protest. "
    "Do you join the protest, or stay where you are?"
)


@register_rule
@dataclass(frozen=True)
class Threshold(RulePerson):
    """Join once at least ``k`` of the others have joined [1]_; never leave.

    Parameters
    ----------
    k : int
        The member's threshold, counted in people (Granovetter's absolute form).
    """

    k: int = 0
    kind: ClassVar[str] = "threshold"
    example: ClassVar[str] = "rule:threshold:1"

    @classmethod
    def from_parameter(cls, text: str) -> Threshold:
        try:
            k = int(text or 0)
        except ValueError:
            raise ConfigError(f"threshold needs a whole number of people, got {text!r}") from None
        if k < 0:
            raise ConfigError(f"a threshold is 0 or more people, got {k}")
        return cls(k)

    @property
    def model(self) -> str:
        return f"rule:{self.kind}:{self.k}"

    def probabilities(self, observation: Observation) -> tuple[float, ...]:
        joined = observation.answer == JOIN or observation.counts().get(JOIN, 0) >= self.k
        if JOIN not in observation.options:  # another task's round: no opinion
            return uniform_over(observation.options, ())
        return uniform_over(observation.options, (JOIN if joined else STAY,))


def thresholds(members: int, condition: str) -> list[int]:
    """The thresholds of a crowd: ``0, 1, ..., N-1``; ``"perturbed"`` has 2 for 1."""
    ks = list(range(members))
    if condition == "perturbed" and members > 2:
        ks[1] = 2
    return ks


@dataclass(frozen=True)
class ThresholdsConfig:
    """Configuration of a threshold study; every field is a CLI flag.

    Parameters
    ----------
    model : str
        ``"rule:threshold"``: each member gets its threshold from the condition; or a
        litellm model string, for a crowd of LLM members who see how many have joined.
    members : int
        Crowd size N (Granovetter's example: 100).
    conditions : tuple of str
        ``"uniform"`` (thresholds 0 to N-1) and ``"perturbed"`` (the threshold 1 is 2).
    rounds : int
        Most rounds a crowd plays; it stops earlier once nobody changes.
    temperature : float
        Sampling temperature of LLM members.
    """

    model: str = config.model("rule:threshold", "rule:threshold or an LLM model string")
    members: int = config.members(100)
    conditions: tuple[str, ...] = config.factor(CONDITIONS, "uniform, perturbed")
    rounds: int = config.count(200, "most rounds a crowd plays")
    temperature: float = config.temperature(0.0)

    def __post_init__(self) -> None:
        config.normalise(self)
        whole(self, "members", 3, MAX_MEMBERS)
        for condition in self.conditions:
            if condition not in CONDITIONS:
                raise ConfigError(
                    f"unknown condition {condition!r}; choose from {', '.join(CONDITIONS)}"
                )


@register_study
class ThresholdsStudy(Study):
    """Granovetter's threshold model: one changed threshold stops a riot."""

    name = "thresholds"
    Config = ThresholdsConfig
    example: ClassVar[dict] = {"members": 20, "rounds": 30}

    def models(self) -> list[str]:
        return [self.config.model]

    def units(self, seed: int) -> list[Unit]:
        return [
            Unit(i, {"condition": c}, 0, unit_seed(seed, "unit", i))
            for i, c in enumerate(self.config.conditions)
        ]

    def build(self, unit: Unit, gateway=None, run_id: str = "") -> Society:
        cfg = self.config
        if is_rule(cfg.model) and cfg.model.split(":")[1] == Threshold.kind:
            ks = thresholds(cfg.members, unit.conditions["condition"])
            persons = [Threshold(k) for k in ks]
        else:
            persons = [make_person(cfg.model, temperature=cfg.temperature)] * cfg.members
        task = Task((Round(QUESTION, (JOIN, STAY)),), name="thresholds")
        situation = Situation(topology="complete", exchange="counts", schedule="synchronous")
        return self.society(unit, persons, task, situation, gateway, run_id)

    def play(self, society: Society, unit: Unit) -> pd.DataFrame:
        """Play until nobody changes their answer (or ``rounds`` are up)."""
        before = None
        for _ in range(self.config.rounds):
            society.step()
            now = [m.answer for m in society.members]
            if now == before:
                break
            before = now
        return society.decisions

    def summarize(self, decisions: pd.DataFrame, seed: int) -> pd.DataFrame:
        rows = []
        for condition, group in decisions.groupby("condition", sort=False):
            final = group[group.step == group.step.max()]
            joined = int((final.choice == JOIN).sum())
            published = len(final) if condition == "uniform" else 1
            rows.append(
                {
                    "condition": condition,
                    "members": len(final),
                    "joined": joined,
                    "rounds": int(group.step.max()),
                    "published_joined": published if is_rule(self.config.model) else None,
                }
            )
        return pd.DataFrame(rows)

    def plot(self, result):
        """Members who have joined, round by round, per condition."""
        import matplotlib.pyplot as plt
        import seaborn as sns

        d = result.decisions
        joined = (
            d.assign(joined=d.choice == JOIN)
            .groupby(["condition", "step"], sort=False)
            .joined.sum()
            .reset_index()
        )
        fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
        sns.lineplot(joined, x="step", y="joined", hue="condition", marker="o", ax=ax)
        ax.set(xlabel="round", ylabel="members who joined", title="Granovetter's riot")
        return fig

    def reference(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {"condition": "uniform", "joined": "all N", "source": "Granovetter 1978"},
                {"condition": "perturbed", "joined": "1", "source": "Granovetter 1978"},
            ]
        )
