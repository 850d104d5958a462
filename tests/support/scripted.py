"""A scripted stand-in for the gateway, for tests of society and study mechanics.

These tests check bookkeeping (who saw what, what a study counts, how a rule reacts)
against answers that must be known in advance; what a real model answers is tested
through the embedded model and recorded cassettes elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from workbench.llm import GatewayConfig
from workbench.llm.accounting import Accounting
from workbench.llm.gateway import Generation
from workbench.llm.types import Decision, DecisionRequest

#: ``answer(request) -> (choice, probabilities)``; a ``None`` choice is an invalid answer.
Answer = Callable[[DecisionRequest], tuple[str | None, tuple[float, ...]]]


def one_hot(options: Sequence[str], choice: str) -> tuple[float, ...]:
    return tuple(float(o == choice) for o in options)


def leaning(options: Sequence[str], top: str, weight: float) -> tuple[float, ...]:
    """``weight`` on ``top``, the rest spread evenly over the other options."""
    return tuple(weight if o == top else (1 - weight) / (len(options) - 1) for o in options)


class ScriptedGateway:
    """Answers each request by ``answer`` and records every batch, like the real gateway's
    interface: one uniform drawn from the caller's generator per request."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.config = GatewayConfig(concurrency=2)
        self.accounting = Accounting()
        self.batches: list[list[DecisionRequest]] = []
        self.requests: list[DecisionRequest] = []
        self.generated: list = []

    def decide(self, requests, rng) -> list[Decision]:
        self.batches.append(list(requests))
        self.requests += requests
        out = []
        for r in requests:
            rng.random()
            choice, p = self.answer(r)
            if choice is None:
                out.append(
                    Decision(
                        r.options,
                        (0.0,) * len(r.options),
                        None,
                        False,
                        "invalid",
                        request_hash=r.hash,
                        error="unreadable",
                    )
                )
            else:
                out.append(Decision(r.options, p, choice, True, "logprobs", r.hash))
        return out

    def halt(self, reason: str = "") -> None:
        """Nothing is ever in flight here: answers are immediate."""

    def resume(self) -> None:
        """See :meth:`halt`."""

    def reset(self) -> None:
        """See :meth:`halt`."""

    def run_calls(self) -> list:
        """No model is called, so no call replays a run."""
        return []

    def generate(self, requests) -> list[Generation]:
        self.generated += requests
        return [Generation(f"message {i}", r.hash) for i, r in enumerate(requests)]


def always(answer: str | None) -> ScriptedGateway:
    """Every request answered ``answer`` with certainty (None: every answer invalid)."""
    return ScriptedGateway(lambda r: (answer, one_hot(r.options, answer) if answer else ()))
