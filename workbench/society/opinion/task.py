"""The opinion task: how much do you agree with the claim? Asked every round.

References
----------
.. [1] Y.-S. Chuang, A. Goyal, N. Harlalka, S. Suresh, R. Hawkins, S. Yang, D. Shah,
   J. Hu and T. T. Rogers, "Simulating opinion dynamics with networks of LLM-based
   agents", Findings of NAACL (2024).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.society.checks import MAX_ROWS, ROWS_WHY, whole_number
from workbench.society.opinion.scale import LABELS, MEANINGS
from workbench.society.opinion.topics import NO_TOPIC, Topic
from workbench.society.task import Observation, Round, Task, chat, recollection_text

__all__ = ["OpinionTask"]

_PREAMBLE = (
    "You are taking part in a discussion with other people about a claim. You cannot look "
    "anything up: your view can change only through what you already believe and what the "
    "others say."
)

#: The prompt's sentences in each wording (:attr:`Task.wording`); wording 0 is the
#: original, which the recorded cassettes were made with.
_WORDINGS: tuple[dict[str, str], ...] = (
    {
        "preamble": _PREAMBLE,
        "claim": 'The claim: "{claim}"',
        "scale": "Scale: {scale}.",
        "own": "Your opinion so far: {own}.",
        "alone": "No one else's opinion reached you this round.",
        "counts": "The others' opinions: {counts}.",
        "others": "The others' opinions:",
        "ask": 'How much do you agree with the claim "{claim}" now? Answer with one number: '
        "{listed}.",
    },
    {
        "preamble": "You are in a group conversation about a claim. You have no way to check "
        "facts; only your own beliefs and what the others tell you can change your mind.",
        "claim": 'The statement under discussion: "{claim}"',
        "scale": "Rating scale: {scale}.",
        "own": "Your current rating: {own}.",
        "alone": "You heard no other opinion this round.",
        "counts": "What the others think: {counts}.",
        "others": "What the others think:",
        "ask": 'How strongly do you agree with "{claim}" at this point? Reply with a single '
        "number: {listed}.",
    },
    {
        "preamble": "Several people, you among them, are talking about a claim. Nobody can "
        "look anything up, so opinions can only move through what each person already "
        "believes and hears from the rest.",
        "claim": 'Here is the claim: "{claim}"',
        "scale": "Use this scale: {scale}.",
        "own": "Where you stand so far: {own}.",
        "alone": "Nobody else's view reached you in this round.",
        "counts": "The views of the others: {counts}.",
        "others": "The views of the others:",
        "ask": 'Now, how much do you agree that "{claim}"? Give one number only: {listed}.',
    },
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
    def about(cls, topic: Topic, rounds: int, wording: int = 0) -> OpinionTask:
        """The task of discussing ``topic`` for ``rounds`` rounds (a whole number, at
        most :data:`~workbench.society.checks.MAX_ROWS`), its prompt in ``wording``."""
        rounds = whole_number(rounds, "rounds", 1, MAX_ROWS, ROWS_WHY)
        round_ = Round(
            topic.claim,
            LABELS,
            info={"claim_true": topic.truth},
        )
        return cls(
            (round_,) * rounds,
            name=f"opinion:{topic.name}",
            preamble=_WORDINGS[wording]["preamble"] if 0 <= wording < len(_WORDINGS) else "",
            wording=wording,
            topic=topic,
        )

    def scale(self) -> str:
        return ", ".join(f"{o} = {m}" for o, m in zip(LABELS, MEANINGS, strict=True))

    @staticmethod
    def meaning(label: str | None) -> str:
        return f"{label} ({MEANINGS[LABELS.index(label)]})" if label in LABELS else "none yet"

    def messages(self, observation: Observation, persona: str = "", norm: str = "") -> list[dict]:
        """Chat messages asking one member for its opinion this round."""
        words = _WORDINGS[self.wording]
        claim = observation.round.question
        parts = [
            recollection_text(observation.memory, saw_label="others: ", wording=self.words),
            self.preamble,
            words["claim"].format(claim=claim),
            words["scale"].format(scale=self.scale()),
            words["own"].format(own=self.meaning(observation.answer)),
        ]
        if not observation.seen:
            parts.append(words["alone"])
        elif observation.exchange == "counts":
            counts = [f"{c} chose {self.meaning(o)}" for o, c in observation.counts().items() if c]
            parts.append(words["counts"].format(counts=", ".join(counts)))
        else:
            parts.append(
                words["others"]
                + "\n"
                + "\n".join(f"{who}: {self.meaning(a)}" for who, a in observation.seen)
            )
        said = [(who, self.board[who]) for who, _ in observation.seen if who in self.board]
        if said:
            parts.append("What they wrote:\n" + "\n".join(f'{who}: "{t}"' for who, t in said))
        listed = ", ".join(LABELS[:-1]) + f" or {LABELS[-1]}"
        parts.append(words["ask"].format(claim=claim.rstrip("."), listed=listed))
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
