"""Accounting of model calls: one record per request, totals per run."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class CallRecord:
    """What one request cost.

    ``source`` is ``"model"`` for a live call, ``"cassette"`` for a replayed one and
    ``"dedup"`` for a request answered by an identical one already in flight.
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
            "latency_s": round(sum(r.latency_s for r in live), 6),
            "cost_usd": round(sum(r.cost_usd for r in live), 8),
        }

    def frame(self):
        """The call log as a pandas DataFrame, one row per request."""
        import pandas as pd

        return pd.DataFrame(
            [asdict(r) for r in self.records], columns=list(CallRecord.__annotations__)
        )
