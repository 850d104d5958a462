"""Cards side by side: a table (models x scores) and a figure with the card's panels.

A difference between a model and the first model is marked only where its 95% interval
excludes 0. Each card's interval gives its standard error (half-width / 1.96); the cards
come from independent runs, so the difference's standard error is the root of the sum of
squares. Cards of different protocol versions are never compared: :func:`compare` refuses
them in one line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from workbench.battery.card import Card, _fmt, _panels
from workbench.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Comparison", "compare"]

_Z = 1.959963984540054


class Comparison:
    """Cards of one protocol version, set side by side.

    Attributes
    ----------
    cards : list of Card
        In the order given; differences are against the first.
    """

    def __init__(self, cards: Sequence[Card]) -> None:
        self.cards = list(cards)

    def long(self) -> pd.DataFrame:
        """One row per (model, score): value, interval, and the difference from the first
        card with its interval and whether it excludes 0 (``differs``)."""
        first = self.cards[0].scores.set_index(["module", "name"])
        rows = []
        for card in self.cards:
            for s in card.scores.itertuples(index=False):
                key = (s.module, s.name)
                row = {
                    "model": card.model,
                    "module": s.module,
                    "name": s.name,
                    "title": s.title,
                    "value": s.value,
                    "low": s.low,
                    "high": s.high,
                    "flagged": s.flagged,
                    "reference": s.reference,
                    "difference": math.nan,
                    "diff_low": math.nan,
                    "diff_high": math.nan,
                    "differs": False,
                }
                if card is not self.cards[0] and key in first.index:
                    f = first.loc[key]
                    se = math.hypot(_se(s), _se(f))
                    d = s.value - f.value
                    if math.isfinite(d) and math.isfinite(se):
                        row.update(
                            difference=d,
                            diff_low=d - _Z * se,
                            diff_high=d + _Z * se,
                            differs=bool(abs(d) > _Z * se),
                        )
                rows.append(row)
        return pd.DataFrame(rows)

    def table(self) -> pd.DataFrame:
        """Scores (rows) x models (columns): ``value [low, high]``, a ``*`` where the
        difference from the first model's score excludes 0, ``!`` where the wording moves
        the score more than sampling does."""
        long = self.long()
        long["cell"] = [
            f"{_fmt(r.value)} [{_fmt(r.low)}, {_fmt(r.high)}]"
            + ("*" if r.differs else "")
            + ("!" if r.flagged else "")
            for r in long.itertuples()
        ]
        table = long.pivot_table(
            index=["module", "title"], columns="model", values="cell", aggfunc="first", sort=False
        )
        table = table[[c.model for c in self.cards]]
        ref = long.drop_duplicates(["module", "title"]).set_index(["module", "title"]).reference
        table["reference"] = [_fmt(x) for x in ref.reindex(table.index)]
        table.columns.name = None
        return table

    def plot(self) -> Figure:
        """The card's panels with every model's dot and interval."""
        return _panels(self.cards)


def _se(row) -> float:
    if not (math.isfinite(row.low) and math.isfinite(row.high)):
        return math.nan
    return (row.high - row.low) / (2 * _Z)


def compare(cards: Sequence[Card]) -> Comparison:
    """Set ``cards`` side by side.

    Raises
    ------
    ConfigError
        With fewer than one card, or cards of different protocol versions.
    """
    cards = list(cards)
    if not cards:
        raise ConfigError("give at least one card to compare")
    versions = {c.protocol for c in cards}
    if len(versions) > 1:
        listed = ", ".join(f"{c.model}: {c.protocol}" for c in cards)
        raise ConfigError(
            f"cards of different protocol versions are not compared ({listed}); rerun the "
            "older models with this protocol"
        )
    return Comparison(cards)
