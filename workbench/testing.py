"""Test a study without a model: a gateway that answers from a script.

A study's logic (who sees what, what a unit counts, how a rule member reacts, what the
summary reports) can be checked against answers known in advance, in milliseconds and
with no model loaded, the way Concordia ships a no-language-model stand-in for its
agents. :class:`ScriptedGateway` is a :class:`~workbench.llm.Gateway` that never calls a
model: each request is answered by a function of the request, and every batch is kept so
a test can read the prompts the members were shown. It draws exactly one uniform number
per request from the caller's generator, like the real gateway, so a society's random
stream advances the same way with it as with a model.

What a real model answers is another question, tested through the embedded model and
recorded cassettes (:mod:`workbench.llm.cassette`).

Examples
--------
A user's study, run with every LLM member answering ``"A"``:

>>> from workbench.testing import ScriptedGateway, always, leaning
>>> gateway = always("A")
>>> result = MyStudy(MyStudy.Config(model="my/model"), seed=1).run(gateway)  # doctest: +SKIP
>>> len(gateway.requests)  # doctest: +SKIP
12

An answer that depends on the prompt: lean towards ``"B"`` when the prompt shows others:

>>> def answer(request):
...     top = "B" if "answered" in request.messages[-1]["content"] else "A"
...     return top, leaning(request.options, top, 0.9)
>>> gateway = ScriptedGateway(answer)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from workbench.llm.gateway import Gateway, GatewayConfig, Generation
from workbench.llm.types import Decision, DecisionRequest, GenerateRequest

__all__ = ["Answer", "ScriptedGateway", "always", "leaning", "one_hot"]

#: ``answer(request) -> (choice, probabilities)``; a ``None`` choice is an invalid answer.
Answer = Callable[[DecisionRequest], tuple[str | None, tuple[float, ...]]]


def one_hot(options: Sequence[str], choice: str) -> tuple[float, ...]:
    """Probability 1 on ``choice``, 0 on every other option."""
    return tuple(float(o == choice) for o in options)


def leaning(options: Sequence[str], top: str, weight: float) -> tuple[float, ...]:
    """``weight`` on ``top``, the rest spread evenly over the other options."""
    return tuple(weight if o == top else (1 - weight) / (len(options) - 1) for o in options)


class ScriptedGateway(Gateway):
    """A gateway whose answers come from ``answer``, never from a model.

    Parameters
    ----------
    answer : callable
        ``answer(request) -> (choice, probabilities)``: the option chosen (None: an
        invalid answer, as from a model that did not answer with an option) and the
        distribution over ``request.options`` reported with it.

    Attributes
    ----------
    batches : list of list of DecisionRequest
        Every :meth:`decide` batch, in order (one per society step and phase).
    requests : list of DecisionRequest
        Every decision request, in order.
    generated : list of GenerateRequest
        Every free-text request; each is answered ``"message i"``.

    Notes
    -----
    The choice is ``answer``'s, not drawn from the probabilities; one uniform is still
    drawn per request from the caller's generator, as :meth:`Gateway.decide` does, so the
    society's later draws are where they would be with a model. Nothing is ever in
    flight, so :meth:`halt`, :meth:`resume` and :meth:`reset` have nothing to do, and no
    call is recorded (:meth:`run_calls` is empty).
    """

    def __init__(self, answer: Answer) -> None:
        super().__init__(GatewayConfig(concurrency=2))
        self.answer = answer
        self.batches: list[list[DecisionRequest]] = []
        self.requests: list[DecisionRequest] = []
        self.generated: list[GenerateRequest] = []

    def decide(
        self, requests: Sequence[DecisionRequest], rng: np.random.Generator
    ) -> list[Decision]:
        """Answer each request by the script, in order; one uniform drawn per request."""
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

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        """Answer free-text request ``i`` of the batch with ``"message i"``."""
        self.generated += requests
        return [Generation(f"message {i}", r.hash) for i, r in enumerate(requests)]

    def check(self, models: Sequence[str]) -> None:
        """No model is reached, so there is nothing to check."""

    def halt(self, reason: str = "") -> None:
        """Nothing is ever in flight here: answers are immediate."""

    def resume(self) -> None:
        """See :meth:`halt`."""

    def reset(self) -> None:
        """See :meth:`halt`."""

    def run_calls(self) -> list:
        """No model is called, so no call replays a run."""
        return []


def always(answer: str | None) -> ScriptedGateway:
    """A gateway answering every request ``answer`` with certainty (None: all invalid)."""
    return ScriptedGateway(lambda r: (answer, one_hot(r.options, answer) if answer else ()))
