"""Opinion dynamics: members who hold an opinion on a topic, LLM and rule alike.

Every member answers how much it agrees with a claim on a five-point scale whose labels are
``"1"`` (strongly disagree) to ``"5"`` (strongly agree); as an opinion, label ``k`` is the
level ``k - 3`` in -2..+2, as in Chuang et al. [1]_.

The classic opinion-dynamics rules keep a *continuous* opinion ``x`` in [0, 1] (the scale
of Deffuant et al. [3]_ and Hegselmann & Krause [4]_) as the member's state
(:attr:`Member.value`): they read the states of the members they see
(:attr:`Observation.values`), update their own, and report the label of the fifth of
[0, 1] their opinion falls in. On the Likert scale that is the level nearest to the
continuous position ``5 x - 2.5`` (in [-2.5, 2.5]), so LLM and rule members answer the
same question with the same labels, and a rule reads an LLM neighbour (who has no
continuous state) at the centre of its label's fifth. The rules are deterministic given
what they see; the randomness of Deffuant's model is in who meets whom (the
``"encounters"`` schedule).

- :class:`DeGroot`: the average of its own and its neighbours' opinions (equal weights)
  [2]_;
- :class:`HegselmannKrause`: the average of the opinions within ``eps`` of its own,
  its own included [4]_;
- :class:`Deffuant`: moves a fraction ``mu`` towards the opinion it meets when that is
  closer than ``d`` (towards their mean when it sees several) [3]_.

An :class:`OpinionTask` renders the claim, the scale, the member's current opinion and its
neighbours' opinions (and, optionally, their short messages) into the prompt; an
:class:`OpinionSociety` gives every member its initial opinion, records it as step 0, and
can let members post a short message before each round.

Topics ship as data (``workbench/data/topics.json``): factual claims in an accurate and an
inaccurate framing (science, history, common sense, after [1]_) and value-laden claims
without ground truth.

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
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from workbench.errors import ConfigError
from workbench.llm.types import Decision, GenerateRequest
from workbench.society import library
from workbench.society.checks import MAX_ROWS, ROWS_WHY, whole_number
from workbench.society.personas import Persona, resolve_persona
from workbench.society.persons import RulePerson, register_rule
from workbench.society.society import Society
from workbench.society.task import Observation, Round, Task, chat, recollection_text

__all__ = [
    "LABELS",
    "LEVELS",
    "MEANINGS",
    "OPINION_PERSONAS",
    "DeGroot",
    "Deffuant",
    "HegselmannKrause",
    "OpinionRule",
    "OpinionSociety",
    "OpinionTask",
    "Topic",
    "label_of",
    "level_of",
    "load_topics",
    "position_of",
    "resolve_opinion_persona",
    "resolve_topic",
]

#: The answer labels, from strongly disagree to strongly agree.
LABELS: tuple[str, ...] = ("1", "2", "3", "4", "5")
#: The opinion level of each label (Chuang et al.'s -2..+2).
LEVELS: tuple[int, ...] = (-2, -1, 0, 1, 2)
#: What each label means, as the prompt explains it.
MEANINGS: tuple[str, ...] = ("strongly disagree", "disagree", "neutral", "agree", "strongly agree")

#: Personas of the opinion studies: Chuang et al.'s strong and weak confirmation bias
#: (paraphrased) and an open-minded one. They extend the persona library for these studies.
OPINION_PERSONAS: dict[str, Persona] = {
    "confirmation_bias": Persona(
        "confirmation_bias",
        "You are a real person with a strong confirmation bias: you only believe information "
        "that supports what you already think, and you dismiss anything that contradicts it.",
        "Strong confirmation bias (after Chuang et al. 2024)",
    ),
    "weak_confirmation_bias": Persona(
        "weak_confirmation_bias",
        "You are a real person with a confirmation bias: you are more likely to believe "
        "information that supports what you already think, and less likely to believe "
        "information that contradicts it.",
        "Weak confirmation bias (after Chuang et al. 2024)",
    ),
    "open_minded": Persona(
        "open_minded",
        "You are a real person and you are open-minded: you weigh what others say on its "
        "merits and change your mind when they give you good reason to.",
        "Open-minded",
    ),
}


def resolve_opinion_persona(persona: str | Persona, path: str | Path | None = None) -> Persona:
    """A persona by name from :data:`OPINION_PERSONAS`, else as :func:`resolve_persona`."""
    if isinstance(persona, str) and persona.strip() in OPINION_PERSONAS:
        return OPINION_PERSONAS[persona.strip()]
    return resolve_persona(persona, path)


# -- the scale ----------------------------------------------------------------------------


def label_index(x: float, k: int = len(LABELS)) -> int:
    """Index of the label whose ``1/k``-wide bin holds the continuous opinion ``x``."""
    return min(max(int(x * k), 0), k - 1)


def label_of(x: float, options: Sequence[str] = LABELS) -> str:
    """The label a continuous opinion ``x`` in [0, 1] is reported as."""
    return options[label_index(x, len(options))]


def centre_of(index: int, k: int = len(LABELS)) -> float:
    """The continuous opinion at the centre of label ``index``'s bin."""
    return (index + 0.5) / k


def level_of(label: str | None, options: Sequence[str] = LABELS) -> float:
    """The opinion level of a label (-2..+2 for five labels); NaN for no answer."""
    if label is None or label not in options:
        return float("nan")
    return options.index(label) - (len(options) - 1) / 2


def position_of(x: float, k: int = len(LABELS)) -> float:
    """A continuous opinion ``x`` in [0, 1] on the Likert scale (``k x - k / 2``)."""
    return k * x - k / 2


# -- topics -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Topic:
    """A claim a society discusses.

    Parameters
    ----------
    name : str
        Short identifier (``"global_warming"``); ``"custom"`` for free text.
    claim : str
        The claim members say how much they agree with.
    truth : bool or None
        Whether the claim is accurate; None for value-laden claims (no ground truth).
    category : str
        ``"science"``, ``"history"``, ``"common_sense"``, ``"value"`` or free text.
    """

    name: str
    claim: str
    truth: bool | None = None
    category: str = ""

    @property
    def accurate(self) -> int | None:
        """The accurate opinion level: +2 for a true claim, -2 for a false one."""
        return None if self.truth is None else (2 if self.truth else -2)


#: A placeholder for rule populations, which do not read the claim.
NO_TOPIC = Topic("none", "(no claim: rule members do not read it)")


def _parse_topics(data: object, source: str) -> dict[str, Topic]:
    topics = {}
    for i, (name, item) in enumerate(library.entries(data, source, "topic", "claim")):
        if item.get("truth") not in (True, False, None):
            raise ConfigError(f"{source}: topic {i + 1} needs a 'truth' of true, false or null")
        topics[name] = Topic(
            name, item["claim"].strip(), item.get("truth"), str(item.get("category", ""))
        )
    return topics


@cache
def _builtin_topics() -> dict[str, Topic]:
    return _parse_topics(library.builtin("topics.json"), "built-in topics")


def load_topics(path: str | Path | None = None) -> dict[str, Topic]:
    """The topic library, optionally extended by a user file of the same format.

    Parameters
    ----------
    path : str, pathlib.Path or None
        A JSON file: ``{"topics": [{"name", "claim", "truth", "category"}, ...]}``, a
        list of such objects, or a ``{name: claim}`` mapping; its topics are added to the
        built-in ones and override those of the same name.

    Returns
    -------
    dict of str to Topic

    Raises
    ------
    ConfigError
        When the file is missing, is not JSON, or holds a malformed topic.
    """
    topics = dict(_builtin_topics())
    if path is not None:
        data = library.read_file(path, "topic")
        topics.update(_parse_topics(data, f"topic file {path}"))
    return topics


def resolve_topic(topic: str | Topic, path: str | Path | None = None) -> Topic:
    """A topic by name, or free text (anything with a space) as a claim without truth.

    Raises
    ------
    ConfigError
        For a single word that names no topic.
    """
    if isinstance(topic, Topic):
        return topic
    key = topic.strip()
    if key == NO_TOPIC.name:
        return NO_TOPIC
    library = load_topics(path)
    if key in library:
        return library[key]
    if any(c.isspace() for c in key):
        return Topic("custom", key)
    raise ConfigError(
        f"unknown topic {key!r}; use one of {', '.join(library)} or a sentence (a claim)"
    )


# -- rule policies with a continuous opinion ----------------------------------------------


def _number(text: str, name: str, low: float, high: float, *, open_low: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {text!r}") from None
    if not (low < value <= high if open_low else low <= value <= high):
        bracket = "(" if open_low else "["
        raise ConfigError(f"{name} must be in {bracket}{low:g}, {high:g}], got {value:g}")
    return value


@cache
def _one_hot(index: int, k: int) -> tuple[float, ...]:
    return tuple(float(i == index) for i in range(k))


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
        return _one_hot(label_index(self.opinion(observation), k), k)

    def decide(self, observation: Observation, rng: np.random.Generator) -> Decision:
        x = self.opinion(observation)
        options = observation.options
        index = label_index(x, len(options))
        rng.random()  # one draw per decision, whatever the policy
        return Decision(
            options=options,
            probabilities=_one_hot(index, len(options)),
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


# -- the task -----------------------------------------------------------------------------

_PREAMBLE = (
    "You are taking part in a discussion with other people about a claim. You cannot look "
    "anything up: your view can change only through what you already believe and what the "
    "others say."
)


@dataclass(frozen=True)
class OpinionTask(Task):
    """How much do you agree with the claim? Asked every round, on a five-point scale.

    Build it with :meth:`about`. The prompt holds the member's memory window, the claim,
    the scale, the member's current opinion, the opinions of the neighbours it sees (by
    name, or as counts) and, when members talk, their messages of this round.

    Attributes
    ----------
    topic : Topic
        The claim under discussion.
    board : dict of str to str
        This round's messages by member label, filled by the :class:`OpinionSociety` that
        uses the task (so give each talking society its own task).
    """

    topic: Topic = NO_TOPIC
    board: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def about(cls, topic: Topic, rounds: int) -> OpinionTask:
        """The task of discussing ``topic`` for ``rounds`` rounds (a whole number, at
        most :data:`~workbench.society.checks.MAX_ROWS`)."""
        rounds = whole_number(rounds, "rounds", 1, MAX_ROWS, ROWS_WHY)
        round_ = Round(
            topic.claim,
            LABELS,
            info={"claim_true": topic.truth},
        )
        return cls(
            (round_,) * rounds, name=f"opinion:{topic.name}", preamble=_PREAMBLE, topic=topic
        )

    def scale(self) -> str:
        return ", ".join(f"{o} = {m}" for o, m in zip(LABELS, MEANINGS, strict=True))

    @staticmethod
    def meaning(label: str | None) -> str:
        return f"{label} ({MEANINGS[LABELS.index(label)]})" if label in LABELS else "none yet"

    def messages(self, observation: Observation, persona: str = "", norm: str = "") -> list[dict]:
        """Chat messages asking one member for its opinion this round."""
        parts = [
            recollection_text(observation.memory, saw_label="others: "),
            self.preamble,
            f'The claim: "{observation.round.question}"',
            f"Scale: {self.scale()}.",
            f"Your opinion so far: {self.meaning(observation.answer)}.",
        ]
        if not observation.seen:
            parts.append("No one else's opinion reached you this round.")
        elif observation.exchange == "counts":
            counts = [f"{c} chose {self.meaning(o)}" for o, c in observation.counts().items() if c]
            parts.append("The others' opinions: " + ", ".join(counts) + ".")
        else:
            parts.append(
                "The others' opinions:\n"
                + "\n".join(f"{who}: {self.meaning(a)}" for who, a in observation.seen)
            )
        said = [(who, self.board[who]) for who, _ in observation.seen if who in self.board]
        if said:
            parts.append("What they wrote:\n" + "\n".join(f'{who}: "{t}"' for who, t in said))
        parts.append(
            f'How much do you agree with the claim "{observation.round.question.rstrip(".")}" now? '
            "Answer with one number: " + ", ".join(LABELS[:-1]) + f" or {LABELS[-1]}."
        )
        return chat(persona, norm, parts)

    def talk_messages(
        self, member_answer: str | None, persona: str = "", norm: str = ""
    ) -> list[dict]:
        """Chat messages asking one member to write its short message to the others."""
        return chat(
            persona,
            norm,
            [
                self.preamble,
                f'The claim: "{self.topic.claim}"',
                f"Scale: {self.scale()}.",
                f"Your opinion so far: {self.meaning(member_answer)}.",
                "Write one short message (one or two sentences) telling the others what you "
                "think of the claim and why. Reply with the message only.",
            ],
        )


# -- the society --------------------------------------------------------------------------


class OpinionSociety(Society):
    """A society discussing a topic, each member starting from a given opinion.

    Parameters
    ----------
    persons, task, situation
        As :class:`~workbench.society.Society`; ``task`` is an :class:`OpinionTask`.
    initial : sequence of float
        Each member's initial continuous opinion in [0, 1]. A member starts answering the
        label of its bin; rule members also keep it as their state.
    talk : bool
        Before each round, every LLM member writes a short message (one batch of
        :meth:`Gateway.generate <workbench.llm.Gateway.generate>` calls) that the
        members who see it read in their prompts; rule members post their label's
        meaning. Off by default.
    talk_tokens : int
        Most tokens of a message.
    **kwargs
        Passed to :class:`~workbench.society.Society` (``seed``, ``gateway``, ``roles``,
        ``conditions``, ``run_id``, ``order``).

    Attributes
    ----------
    degroot_limit : float
        The average of the members' initial positions on the Likert scale, weighted by
        degree plus one: where DeGroot's averaging ends on a connected network. Also a
        ``degroot_limit`` column of the results.
    posts : list of dict
        Every message posted: ``step``, ``member``, ``message``.

    Notes
    -----
    Step 0 of the results holds the initial opinions (``method`` ``"initial"``). With
    ``talk`` the results gain a ``message`` column: what the member posted before
    answering.
    """

    def __init__(
        self,
        persons: Sequence[Any],
        task: OpinionTask,
        situation: Any = None,
        *,
        initial: Sequence[float],
        talk: bool = False,
        talk_tokens: int = 48,
        **kwargs: Any,
    ) -> None:
        if not isinstance(task, OpinionTask):
            raise ConfigError("an opinion society needs an OpinionTask")
        initial = [float(x) for x in initial]
        if len(initial) != len(persons):
            raise ConfigError(f"got {len(initial)} initial opinions for {len(persons)} members")
        if any(not 0.0 <= x <= 1.0 for x in initial):
            raise ConfigError("initial opinions must be in [0, 1]")
        conditions = {**(kwargs.pop("conditions", None) or {}), "degroot_limit": None}
        super().__init__(persons, task, situation, conditions=conditions, **kwargs)
        self.talk = talk
        self.talk_tokens = talk_tokens
        self.posts: list[dict] = []
        round_ = task.rounds[0]
        options = round_.options
        positions = []
        for member, x in zip(self.members, initial, strict=True):
            member.answer = label_of(x, options)
            keeps = getattr(member.person, "keeps_value", False)
            member.value = x if keeps else None
            positions.append(position_of(x) if keeps else level_of(member.answer, options))
        weights = np.array([self.network.G.degree(m.node) + 1 for m in self.members], float)
        self.degroot_limit = float(np.dot(weights, positions) / weights.sum())
        self.conditions["degroot_limit"] = self.degroot_limit
        for member in self.members:
            index = options.index(member.answer)
            start = Decision(
                options=options,
                probabilities=_one_hot(index, len(options)),
                choice=member.answer,
                valid=True,
                method="initial",
                extra={"value": member.value},
            )
            self._record(member, Observation(round_, answer=member.answer), start)

    def step(self) -> None:
        """One round: (members post messages,) then they read and answer."""
        if self.talk:
            self._post()
        super().step()

    def _post(self) -> None:
        task: OpinionTask = self.task
        norm = self.situation.norm_text
        llm = [m for m in self.members if not m.person.is_rule]
        requests = [
            GenerateRequest(
                model=m.person.model,
                messages=task.talk_messages(m.answer, m.person.persona.text, norm),
                max_tokens=self.talk_tokens,
                temperature=0.7,
                seed=int(self.rng.integers(2**31)),
            )
            for m in llm
        ]
        texts = {m: g.text for m, g in zip(llm, self.gateway.generate(requests), strict=True)}
        task.board.clear()
        step = self.steps  # mesa counts the step before it runs it
        for member in self.members:
            if member in texts:
                text = " ".join(texts[member].split())[:300] or "(no message)"
            else:
                text = f"My view: {task.meaning(member.answer)}." if member.answer else ""
            task.board[member.label] = text
            self.posts.append({"step": step, "member": member.unique_id, "message": text})

    @property
    def decisions(self) -> pd.DataFrame:
        """The decisions table; with talk, each row's ``message`` is what the member posted."""
        table = super().decisions
        if not self.talk:
            return table
        posts = pd.DataFrame(self.posts, columns=["step", "member", "message"])
        return table.merge(posts, on=["step", "member"], how="left")
