"""Accounting of model calls: one record per request, totals per run."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass

_prices: dict[str, tuple[float, float] | None] = {}
_prices_lock = threading.Lock()


def price_per_token(model: str) -> tuple[float, float] | None:
    """``(prompt, completion)`` USD per token of ``model`` from litellm's cost map, cached.

    None when the price depends on more than the token counts (tiered prices); a model
    missing from the cost map costs ``(0, 0)``: what we cannot know.
    """
    with _prices_lock:
        if model in _prices:
            return _prices[model]
    from workbench.llm import _litellm

    litellm = _litellm.get()
    try:
        info = litellm.get_model_info(model)
        if any("_above_" in k and v for k, v in info.items()):
            prices = None
        else:
            per_prompt = litellm.cost_per_token(model=model, prompt_tokens=1, completion_tokens=0)
            per_output = litellm.cost_per_token(model=model, prompt_tokens=0, completion_tokens=1)
            prices = (float(per_prompt[0]), float(per_output[1]))
    except Exception:  # models missing from litellm's cost map cost what we cannot know
        prices = (0.0, 0.0)
    with _prices_lock:
        _prices[model] = prices
    return prices


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    """What a call of ``model`` cost, from the cached per-token prices (litellm's cost map,
    or the prices a user registered with ``litellm.register_model`` before the first call).
    """
    prices = price_per_token(model)
    if prices is not None:
        return prices[0] * prompt_tokens + prices[1] * completion_tokens
    from workbench.llm import _litellm

    try:
        prompt, completion = _litellm.get().cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
        return float(prompt + completion)
    except Exception:  # models missing from litellm's cost map cost what we cannot know
        return 0.0


@dataclass(frozen=True)
class CallRecord:
    """What one request cost.

    ``source`` is ``"model"`` for a live call, ``"cassette"`` for a replayed one and
    ``"dedup"`` for a request answered by an identical one already in flight. ``repeat``:
    answered from the run's call log, asked before in the same run.
    """

    request_hash: str
    model: str
    kind: str
    source: str
    latency_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    retries: int = 0
    error: str | None = None
    repeat: bool = False


class Accounting:
    """Thread-safe log of calls with per-run totals."""

    def __init__(self) -> None:
        self._records: list[CallRecord] = []
        self._invalid = 0
        self._repairs = 0
        self._lock = threading.Lock()

    def add(self, record: CallRecord) -> None:
        with self._lock:
            self._records.append(record)

    def count_decision(self, *, valid: bool, repaired: bool) -> None:
        """Note a finished decision: whether it needed the repair retry, whether valid."""
        with self._lock:
            self._invalid += not valid
            self._repairs += repaired

    @property
    def records(self) -> list[CallRecord]:
        with self._lock:
            return list(self._records)

    def totals(self) -> dict[str, float | int]:
        """Counts and sums over every request so far."""
        records = self.records
        live = [r for r in records if r.source == "model"]
        return {
            "requests": len(records),
            "calls": len(live),
            "cassette_hits": sum(r.source == "cassette" for r in records),
            "dedup_hits": sum(r.source == "dedup" for r in records),
            "retries": sum(r.retries for r in records),
            "repairs": self._repairs,
            "invalid": self._invalid,
            "errors": sum(r.error is not None for r in records),
            "prompt_tokens": sum(r.prompt_tokens for r in live),
            "completion_tokens": sum(r.completion_tokens for r in live),
            # the recorded prompt tokens of the calls a cassette answered (a prompt asked
            # again in the same run counts once, as it did live)
            "replayed_prompt_tokens": sum(
                r.prompt_tokens for r in records if r.source == "cassette" and not r.repeat
            ),
            "latency_s": round(sum(r.latency_s for r in live), 6),
            "cost_usd": round(sum(r.cost_usd for r in live), 8),
        }

    def frame(self):
        """The call log as a pandas DataFrame, one row per request."""
        import pandas as pd

        return pd.DataFrame(
            [asdict(r) for r in self.records], columns=list(CallRecord.__annotations__)
        )
