"""Tasks: the forced choice put to every member, and how its prompt is rendered.

A :class:`Task` hands the society one :class:`Round` per step (the question, its option
labels, the correct answer if there is one). A member sees the round through an
:class:`Observation`: the answers of others that the exchange rule lets through and its
memory of earlier rounds. :meth:`Task.messages` renders both, with the person's persona and
the situation's norm, into the chat messages an LLM member is asked.

A member's memory is a tuple of :class:`Recollection` records, frozen data (its answer,
what it saw, its partner, the partner's answer, the payoff); only the rendering functions
here (:func:`recollection_text`, :func:`recalled`, :func:`brief`) turn it into prompt text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.errors import ConfigError

__all__ = [
    "WORDINGS",
    "Observation",
    "Recollection",
    "Round",
    "Task",
    "Wording",
    "brief",
    "recalled",
    "recollection_text",
]


@dataclass(frozen=True)
class Wording:
    """The sentences every forced-choice prompt shares, in one paraphrase.

    A task's own text (its preamble and question) is the study's; these are the parts
    around it: how the others' answers are shown, how earlier rounds are recalled and how
    the member is told to answer. :data:`WORDINGS` holds the paraphrases a task can be
    put in (:attr:`Task.wording`); wording 0 is the original, which every recorded
    cassette was made with, so it never changes. The interactionist battery asks every
    question in each wording, so that an effect carried by one sentence shows up as a
    spread across wordings instead of passing for a property of the model.
    """

    answered: str = "{who} answered: {answer}"
    counts: str = "Answers so far: {counts}."
    chose: str = "{count} chose {option}"
    earlier: str = "Earlier rounds:"
    recalled: str = "Round {step}: you answered {choice}"
    instruction: str = "Answer with {unit}: {listed}."
    letter: str = "one letter"
    one_of: str = "one of"


#: The paraphrases of the shared prompt sentences; index = :attr:`Task.wording`.
WORDINGS: tuple[Wording, ...] = (
    Wording(),
    Wording(
        answered="{who} said {answer}",
        counts="So far: {counts}.",
        chose="{count} said {option}",
        earlier="What happened in earlier rounds:",
        recalled="In round {step} you said {choice}",
        instruction="Reply with {unit} only: {listed}.",
        letter="a single letter",
        one_of="exactly one of",
    ),
    Wording(
        answered="The answer of {who}: {answer}",
        counts="The answers given so far: {counts}.",
        chose="{option} was given {count} times",
        earlier="Your previous rounds:",
        recalled="Round {step}: your answer was {choice}",
        instruction="Give your answer as {unit}, nothing else: {listed}.",
        letter="one letter",
        one_of="one option of",
    ),
)


@dataclass(frozen=True)
class Round:
    """One question, as put to every member in a step.

    Parameters
    ----------
    question : str
        The question text, options included.
    options : tuple of str
        The labels a member answers with (``("A", "B", "C")``).
    correct : str or None
        The correct label, when the task has one.
    planted : str or None
        The answer a scripted member (a confederate) is told to give, if any.
    info : mapping
        Structured facts about the round, copied into every result row (e.g. ``trial``,
        ``critical``).
    """

    question: str
    options: tuple[str, ...]
    correct: str | None = None
    planted: str | None = None
    info: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", tuple(self.options))
        if len(self.options) < 2 or len(set(self.options)) != len(self.options):
            raise ConfigError(f"a round needs at least two distinct options, got {self.options}")
        for name in ("correct", "planted"):
            value = getattr(self, name)
            if value is not None and value not in self.options:
                raise ConfigError(f"{name} answer {value!r} is not one of {self.options}")


@dataclass(frozen=True, slots=True)
class Recollection:
    """What a member remembers of one earlier round: structured data, not prompt text.

    A member's memory (:attr:`Member.memory <workbench.society.Member.memory>`,
    :attr:`Observation.memory`) is a tuple of these, oldest first, so a rule or a measure
    reads a member's history as data; the task renders it into a prompt
    (:func:`recollection_text`, :func:`recalled`).

    Parameters
    ----------
    step : int
        The step of the round.
    choice : str or None
        The member's own answer (None when it gave none).
    seen : tuple of (str, str)
        ``(who, answer)`` for each answer of the others the member saw before answering,
        as in :attr:`Observation.seen`. A one-line string ``"who: answer; ..."`` (what
        :meth:`Observation.brief` writes) is read back into pairs.
    other : str or None
        In the pairwise schedules, the partner's answer of that round (None otherwise, or
        when the partner gave none).
    role : str
        In the ``"speaker_hearer"`` schedule, ``"speaker"`` or ``"hearer"``; empty otherwise.
    partner : str or None
        The partner's label (``"Participant 3"``), in the schedules that pair members.
    told : bool
        True when the member was told its partner's answer after answering (``"pairwise"``
        and the speaker of ``"speaker_hearer"``): what it saw of the others is then that
        answer, not ``seen``.
    payoff : float or None
        What the round paid the member, when the task defines a payoff
        (:meth:`Task.payoff` of its answer and the partner's); None otherwise.
    exchange : {"answers", "counts"}
        How the member saw ``seen`` (by name, or as counts per option).
    options : tuple of str
        The round's options, in the order counts are listed; empty: order of appearance.
    """

    step: int
    choice: str | None
    seen: tuple[tuple[str, str], ...] = ()
    other: str | None = None
    role: str = ""
    partner: str | None = None
    told: bool = False
    payoff: float | None = None
    exchange: str = "answers"
    options: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.seen, str):
            object.__setattr__(self, "seen", _read_brief(self.seen))


def _read_brief(line: str) -> tuple[tuple[str, str], ...]:
    """``"who: answer; ..."`` back into ``(who, answer)`` pairs."""
    pairs = []
    for part in line.split("; ") if line else ():
        who, sep, answer = part.rpartition(": ")
        if not sep:
            raise ConfigError(f"cannot read {part!r} as 'who: answer'")
        pairs.append((who, answer))
    return tuple(pairs)


def brief(
    seen: Sequence[tuple[str, str]], exchange: str = "answers", options: Sequence[str] = ()
) -> str:
    """Answers ``seen`` on one line: ``"who: answer; ..."``, or with ``exchange="counts"``
    ``"option: count, ..."`` in ``options`` order (options never chosen left out)."""
    if exchange == "counts":
        tally = Counter(answer for _, answer in seen)
        listed = options or tuple(tally)
        return ", ".join(f"{o}: {tally[o]}" for o in listed if tally[o])
    return "; ".join(f"{who}: {answer}" for who, answer in seen)


@dataclass(frozen=True)
class Observation:
    """What one member sees before it answers.

    Parameters
    ----------
    round : Round
        The question of this step.
    seen : tuple of (str, str)
        ``(who, answer)`` for each answer the exchange rule lets through, in the order
        they were given.
    memory : tuple of Recollection
        The member's last rounds, oldest first, as structured records.
    exchange : {"answers", "counts"}
        Whether the member sees who answered what, or only how many chose each option.
    answer : str or None
        The member's own latest answer (its current opinion), if it has one.
    value : float or None
        The member's own continuous state, for rules that keep one (opinion dynamics).
    values : tuple of float or None
        The continuous state of each seen member, aligned with ``seen`` (None for members
        without one); empty when the schedule passes none.
    order : tuple of str
        The order in which the prompt lists the options (a permutation of ``options``,
        drawn per prompt when the situation shuffles them); empty: ``options`` order.
    """

    round: Round
    seen: tuple[tuple[str, str], ...] = ()
    memory: tuple[Recollection, ...] = ()
    exchange: str = "answers"
    answer: str | None = None
    value: float | None = None
    values: tuple[float | None, ...] = ()
    order: tuple[str, ...] = ()

    @property
    def options(self) -> tuple[str, ...]:
        return self.round.options

    @property
    def listed(self) -> tuple[str, ...]:
        """The options in the order the prompt lists them."""
        return self.order or self.round.options

    def counts(self) -> dict[str, int]:
        """Number of seen answers per option, in option order."""
        tally = Counter(answer for _, answer in self.seen)
        return {option: tally[option] for option in self.options}

    def majority(self) -> tuple[str, ...]:
        """The most common seen answer(s); empty when nothing was seen."""
        counts = self.counts()
        top = max(counts.values())
        return tuple(o for o, c in counts.items() if c == top) if top else ()

    def text(self, wording: Wording = WORDINGS[0]) -> str:
        """The others' answers as the member reads them, in ``wording`` (empty when none)."""
        if not self.seen:
            return ""
        if self.exchange == "counts":
            parts = [wording.chose.format(count=c, option=o) for o, c in self.counts().items() if c]
            return wording.counts.format(counts=", ".join(parts))
        return "\n".join(wording.answered.format(who=who, answer=a) for who, a in self.seen)

    def brief(self) -> str:
        """The others' answers on one line, for result rows (see :func:`brief`)."""
        return brief(self.seen, self.exchange, self.options)


@dataclass(frozen=True)
class Task:
    """A forced-choice task: a sequence of rounds and a prompt renderer.

    Parameters
    ----------
    rounds : sequence of Round
        The round of each step; step ``t`` (1-based) gets ``rounds[(t - 1) % len(rounds)]``,
        so a one-round task repeats the same question every step (coordination games).
    name : str
        Short name, copied into results.
    preamble : str
        Text put before every question (what the member is taking part in).
    wording : int
        Which paraphrase of the shared prompt sentences (:data:`WORDINGS`) the prompts
        use; 0, the original, by default.
    """

    rounds: tuple[Round, ...]
    name: str = "task"
    preamble: str = ""
    wording: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "rounds", tuple(self.rounds))
        if not self.rounds:
            raise ConfigError("a task needs at least one round")
        if not 0 <= self.wording < len(WORDINGS):
            raise ConfigError(
                f"wording must be 0 to {len(WORDINGS) - 1} (one of the paraphrases), "
                f"got {self.wording}"
            )

    @property
    def words(self) -> Wording:
        """The shared prompt sentences in this task's wording."""
        return WORDINGS[self.wording]

    def __len__(self) -> int:
        return len(self.rounds)

    def round(self, step: int) -> Round:
        """The round of ``step`` (1-based, as :attr:`mesa.Model.steps` counts)."""
        return self.rounds[(step - 1) % len(self.rounds)]

    def payoff(self, choice: str | None, other: str | None) -> float | None:
        """What answering ``choice`` to a partner answering ``other`` pays; None: the task
        defines no payoff (a game task overrides this). Kept in
        :attr:`Recollection.payoff` by the pairwise schedules."""
        return None

    def messages(self, observation: Observation, persona: str = "", norm: str = "") -> list[dict]:
        """Chat messages asking one member this round.

        Parameters
        ----------
        observation : Observation
            What the member sees.
        persona : str
            Persona prompt (system message).
        norm : str
            Norm text of the situation (system message, after the persona).

        Returns
        -------
        list of dict
            ``[{"role": "system", ...}]`` when there is a persona or a norm, then the user
            message: memory, preamble, question, others' answers, the answer instruction.
        """
        options = observation.listed
        listed = ", ".join(options[:-1]) + " or " + options[-1]
        words = self.words
        unit = words.letter if all(len(o) == 1 for o in options) else words.one_of
        return chat(
            persona,
            norm,
            [
                recollection_text(observation.memory, wording=words),
                self.preamble,
                observation.round.question,
                observation.text(words),
                words.instruction.format(unit=unit, listed=listed),
            ],
        )


def recollection_text(
    memory: Sequence[Recollection], saw_label: str = "", wording: Wording = WORDINGS[0]
) -> str:
    """A member's remembered rounds as a prompt paragraph ("" when it remembers none).

    ``saw_label`` goes before what the member saw of the others in each round.
    """
    if not memory:
        return ""
    lines = []
    for r in memory:
        saw = recalled(r)
        lines.append(
            wording.recalled.format(step=r.step, choice=r.choice or "nothing")
            + (f"; {saw_label}{saw}" if saw else ".")
        )
    return wording.earlier + "\n" + "\n".join(lines)


def recalled(record: Recollection) -> str:
    """What the member saw of the others in a remembered round, on one line ("" when
    nothing): the partner's answer it was told (``"Participant 3 answered B"``), or the
    answers it saw before answering (see :func:`brief`)."""
    if record.told:
        return f"{record.partner} answered {record.other or 'nothing'}"
    return brief(record.seen, record.exchange, record.options)


def chat(persona: str, norm: str, parts: Sequence[str]) -> list[dict]:
    """Chat messages: persona and norm as the system message (if any), then the non-empty
    ``parts`` of the user message, separated by blank lines."""
    system = " ".join(part for part in (persona, norm) if part)
    user = "\n\n".join(p for p in parts if p)
    return [
        *([{"role": "system", "content": system}] if system else []),
        {"role": "user", "content": user},
    ]
