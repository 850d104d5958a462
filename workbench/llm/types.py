"""Requests to a model and the decisions that come back.

A :class:`DecisionRequest` is a forced choice among labelled options; a :class:`Decision`
is what the gateway (or a rule policy) returns for it. Both are plain frozen data so they
can cross threads, processes and cassettes unchanged.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

Message = dict[str, str]


def _freeze_messages(messages: Any) -> tuple[Message, ...]:
    return tuple({"role": str(m["role"]), "content": str(m["content"])} for m in messages)


def stable_hash(payload: Any) -> str:
    """Hex sha256 of a JSON-serialisable payload, independent of key order."""
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class DecisionRequest:
    """One forced choice for a model.

    Parameters
    ----------
    model : str
        A litellm model string (``"local/smollm2-135m"``, ``"openai/gpt-4o-mini"``, ...).
    messages : sequence of dict
        Chat messages (``role``, ``content``); the last one asks the question.
    options : sequence of str
        The option labels the model must answer with, e.g. ``("A", "B", "C")``. Labels
        should be short and start with distinct characters (single letters are best).
    temperature : float
        Sampling temperature applied when the choice is drawn from the option
        probabilities (0 means argmax).
    seed : int or None
        Passed to providers that accept it (only used when the backend samples).
    """

    model: str
    messages: tuple[Message, ...]
    options: tuple[str, ...]
    temperature: float = 1.0
    seed: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "messages", _freeze_messages(self.messages))
        object.__setattr__(self, "options", tuple(str(o) for o in self.options))

    @property
    def hash(self) -> str:
        """Stable hash of everything that determines the model's answer."""
        return stable_hash(
            {
                "kind": "decide",
                "model": self.model,
                "messages": list(self.messages),
                "options": list(self.options),
                "temperature": self.temperature,
                "seed": self.seed,
            }
        )


@dataclass(frozen=True)
class GenerateRequest:
    """A free-text completion request."""

    model: str
    messages: tuple[Message, ...]
    max_tokens: int = 128
    temperature: float = 0.7
    seed: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "messages", _freeze_messages(self.messages))

    @property
    def hash(self) -> str:
        return stable_hash(
            {
                "kind": "generate",
                "model": self.model,
                "messages": list(self.messages),
                "max_tokens": self.max_tokens,
                "temperature": self.temperature,
                "seed": self.seed,
            }
        )


@dataclass(frozen=True)
class Decision:
    """The outcome of one forced choice.

    Attributes
    ----------
    options : tuple of str
        The labels offered.
    probabilities : tuple of float
        Probability of each option, aligned with ``options``; sums to 1 when valid.
        With logprobs this is the model's distribution renormalised over the options;
        when the backend only samples, it is one-hot on the parsed answer.
    choice : str or None
        The option drawn (``None`` when the decision is invalid).
    valid : bool
        False when no option could be read from the model, even after one repair retry.
    method : str
        ``"logprobs"``, ``"sample"`` or ``"rule"``.
    request_hash : str
        Hash of the request (empty for rule decisions).
    """

    options: tuple[str, ...]
    probabilities: tuple[float, ...]
    choice: str | None
    valid: bool
    method: str
    request_hash: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    from_cassette: bool = False
    retries: int = 0
    raw: str = ""
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def probability(self, option: str) -> float:
        """Probability of ``option`` (0 when it was not offered)."""
        try:
            return self.probabilities[self.options.index(option)]
        except ValueError:
            return 0.0

    @classmethod
    def from_rule(cls, options: tuple[str, ...], probabilities: tuple[float, ...], choice: str):
        """A decision made by a rule policy, not a model."""
        return cls(
            options=tuple(options),
            probabilities=tuple(float(p) for p in probabilities),
            choice=choice,
            valid=True,
            method="rule",
        )
