"""Battery module 1, conformity: Asch's line judgements with a unanimous wrong majority.

The model is the naive subject of :class:`~workbench.studies.asch.AschStudy`: 18 trials
(12 critical) alone, after 1, 3 and 8 unanimous wrong confederates, after 3 with one
truthful ally answering fourth, and after 3 with answers written down (the ``private``
norm). A cluster is one subject in one wording; subjects of different wordings have
different seeds, so every cluster is independent.

References
----------
.. [1] S. E. Asch (1951, 1955, 1956): the three reports the study reproduces, listed in
   full in :mod:`workbench.studies.asch`.
.. [2] X. Zhu et al., "Conformity in large language models", ACL (2025): conformity
   rising with the number of confederates.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd

from workbench.battery.protocol import (
    WORDING_INDICES,
    Budget,
    Measure,
    Module,
    difference,
    ratio,
    wording_seed,
)

if TYPE_CHECKING:
    from workbench.sweep import Sweep

__all__ = ["Conformity"]

MAJORITIES = (0, 1, 3, 8)


def _asch(majority: int) -> float:
    """Asch's conformity at ``majority`` (unanimous), from the Asch study's table."""
    from workbench.studies.asch import AschConfig, AschStudy

    ref = AschStudy(AschConfig(model="rule:truthful", subjects=1)).reference()
    return float(ref[(ref.majority == majority) & ~ref.ally.astype(bool)].asch.iloc[0])


_C1, _C3, _C8 = (_asch(m) for m in (1, 3, 8))
_ALLY = 0.065  # Asch 1955: about a quarter of the unanimous level, 5-8%
_RECALLED = (
    "Asch 1951/1955; recalled from Asch 1951's table and not verified in the primary "
    "source, so take it as approximate"
)
_SURE = (
    "Asch 1951/1955; majority 1 from a secondary source, majority 8 recalled from Asch "
    "1951's table and not verified in the primary source"
)


class Conformity(Module, name="conformity", title="Conformity (Asch)", baseline="rule:truthful"):
    """Asch conformity: does the model give the majority's wrong answer?"""

    measures: ClassVar = (
        Measure(
            "conformity_0",
            "lure rate alone",
            "share of valid critical answers equal to the wrong answer a majority would "
            "give, with no majority: the rate at which the model picks the lure by itself, "
            "against which conformity must be read",
            ratio("c0", "n0"),
            0.01,
            "Asch 1956: controls erred on under 1% of trials (secondary source)",
        ),
        Measure(
            "conformity_1",
            "conformity, majority 1",
            "share of valid critical answers equal to the wrong answer of 1 confederate",
            ratio("c1", "n1"),
            _C1,
            "Asch 1951/1955, read in a secondary source",
        ),
        Measure(
            "conformity_3",
            "conformity, majority 3",
            "share of valid critical answers equal to the wrong answer of 3 unanimous confederates",
            ratio("c3", "n3"),
            _C3,
            _RECALLED,
        ),
        Measure(
            "conformity_8",
            "conformity, majority 8",
            "share of valid critical answers equal to the wrong answer of 8 unanimous confederates",
            ratio("c8", "n8"),
            _C8,
            _RECALLED,
        ),
        Measure(
            "excess_3",
            "excess conformity, majority 3",
            "conformity at majority 3 minus the lure rate alone: how much the majority "
            "adds to what the model picks by itself",
            difference(("c3", "n3"), ("c0", "n0")),
            _C3 - 0.01,
            _RECALLED + "; the lure rate alone taken as 1%",
            difference=True,
        ),
        Measure(
            "growth",
            "growth, majority 1 to 8",
            "conformity at majority 8 minus conformity at majority 1: do more voices pull harder?",
            difference(("c8", "n8"), ("c1", "n1")),
            _C8 - _C1,
            _SURE,
            difference=True,
        ),
        Measure(
            "ally_effect",
            "ally effect",
            "conformity at majority 3 minus conformity at majority 3 with one truthful ally "
            "answering fourth",
            difference(("c3", "n3"), ("a3", "m3")),
            _C3 - _ALLY,
            "Asch 1955: one truthful partner cut conformity to about a quarter (5-8%); "
            "the majority-3 level is recalled, not verified",
            difference=True,
        ),
        Measure(
            "public_private",
            "public minus private",
            "conformity at majority 3 answering aloud minus answering in writing "
            "(the 'private' norm)",
            difference(("c3", "n3"), ("p3", "q3")),
            None,
            "Asch 1956 found less conformity in written answers; no number for it is on "
            "record here",
            difference=True,
        ),
        Measure(
            "alone_errors",
            "errors when alone",
            "share of valid answers (all 18 trials) that are wrong with no majority",
            ratio("e0", "t0"),
            0.01,
            "Asch 1956: controls erred on under 1% of trials (secondary source)",
        ),
        Measure(
            "lure_shift",
            "p(lure) shift, majority 3",
            "mean probability the model gives the majority's wrong answer on critical "
            "trials at majority 3, minus the same probability alone: the graded pull",
            difference(("l3", "k3"), ("l0", "k0")),
            None,
            "no human counterpart: people give answers, not probabilities",
            difference=True,
        ),
    )

    def sweeps(self, model: str, budget: Budget, seed: int) -> list[Sweep]:
        from workbench.studies.asch import AschConfig
        from workbench.sweep import Sweep

        out = []
        for w in WORDING_INDICES:
            base = AschConfig(model=model, subjects=budget.subjects, wording=w)
            cells = [
                {"majority": MAJORITIES, "ally": (3,), "norms": ("public",)},
                {"majority": (3,), "ally": (), "norms": ("private",)},
            ]
            for cell in cells:
                config = dataclasses.replace(base, **cell)
                out.append(Sweep("asch", seeds=[wording_seed(seed, w)], config=config))
        return out

    def decisions(self, budget: Budget) -> int:
        conditions = len(MAJORITIES) + 1 + 1  # majorities, the ally, private
        return len(WORDING_INDICES) * budget.subjects * conditions * 18

    def clusters(self, runs: Sequence[tuple[Any, pd.DataFrame]]) -> pd.DataFrame:
        rows = pd.concat(
            [d[d.role == "subject"].assign(wording=c.wording) for c, d in runs], ignore_index=True
        )
        valid = rows["valid"].astype(bool)
        critical = rows["critical"].astype(bool)
        rows["conformed"] = valid & critical & (rows.choice == rows.planted)
        rows["answered"] = valid & critical
        rows["wrong"] = valid & (rows.choice != rows.truth)
        rows["lure"] = [
            p[o.index(lure)] if v and c and lure in o else 0.0
            for p, o, lure, v, c in zip(
                rows.probabilities, rows.options, rows.planted, valid, critical, strict=True
            )
        ]
        ally = rows["ally"].astype(bool)
        public = rows.norm == "public"

        def cell(mask: pd.Series, prefix: str, count: str) -> pd.DataFrame:
            sub = rows[mask]
            return sub.groupby(["wording", "subject"]).agg(
                **{prefix: ("conformed", "sum"), count: ("answered", "sum")}
            )

        parts = [
            cell(public & ~ally & (rows.majority == 0), "c0", "n0"),
            cell(public & ~ally & (rows.majority == 1), "c1", "n1"),
            cell(public & ~ally & (rows.majority == 3), "c3", "n3"),
            cell(public & ~ally & (rows.majority == 8), "c8", "n8"),
            cell(public & ally & (rows.majority == 3), "a3", "m3"),
            cell(~public & (rows.majority == 3), "p3", "q3"),
        ]
        alone = rows[public & (rows.majority == 0)]
        parts.append(
            alone.assign(t=valid[alone.index])
            .groupby(["wording", "subject"])
            .agg(e0=("wrong", "sum"), t0=("t", "sum"))
        )
        for m, (lure, count) in {3: ("l3", "k3"), 0: ("l0", "k0")}.items():
            sub = rows[public & ~ally & (rows.majority == m)]
            parts.append(
                sub.groupby(["wording", "subject"]).agg(
                    **{lure: ("lure", "sum"), count: ("answered", "sum")}
                )
            )
        table = pd.concat(parts, axis=1).fillna(0.0).reset_index()
        return table.drop(columns="subject").astype(float).assign(wording=table.wording)
