"""Battery module 4, opinion dynamics: discussions of factual claims (Chuang et al. 2024).

Populations of the model, on a complete network, discuss a true claim (global warming)
and a false one (a flat earth) from balanced initial opinions on the five-point scale
(:class:`~workbench.studies.polarization.PolarizationStudy`), once with Chuang et al.'s
open-minded persona and once with their confirmation-bias persona. Opinions are read as
the levels -2..+2 of the answers. A cluster is one discussion (one claim, one persona,
one run) in one wording.

References
----------
.. [1] Y.-S. Chuang et al., "Simulating opinion dynamics with networks of LLM-based
   agents", Findings of the ACL: NAACL 2024, 3326-3346 (2024).
.. [2] M. H. DeGroot, "Reaching a consensus", JASA 69(345), 118-121 (1974): the averaging
   baseline, whose susceptibility on a complete network of N is (N - 1) / N.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from workbench.battery.protocol import WORDING_INDICES, Budget, Measure, Module, ratio, wording_seed

if TYPE_CHECKING:
    from workbench.sweep import Sweep

__all__ = ["OpinionDynamics"]

TOPICS = ("global_warming", "flat_earth")
#: Chuang et al.'s two personas: every discussion is held once with each.
PERSONAS = ("open_minded", "confirmation_bias")
#: Rounds of every discussion.
ROUNDS = 3


def _level(choice: Any) -> float:
    try:
        return float(int(choice) - 3)
    except (TypeError, ValueError):
        return np.nan


def _seen_levels(saw: Any) -> list[float]:
    """The levels in a ``saw`` cell (``"Participant 2: 4; ..."``)."""
    if not isinstance(saw, str) or not saw:
        return []
    return [_level(part.rpartition(": ")[2]) for part in saw.split("; ")]


class OpinionDynamics(
    Module, name="opinion", title="Opinion dynamics (factual claims)", baseline="rule:degroot"
):
    """Opinion dynamics: drift towards the facts, susceptibility, diversity."""

    measures: ClassVar = (
        Measure(
            "drift",
            "drift towards the facts",
            "change of the mean opinion from the start to the end of a discussion, in "
            "scale levels, signed so that + is towards the accurate answer",
            ratio("drift", "topical"),
            None,
            "Chuang et al. 2024: LLM agents drift towards the accurate answer (positive; "
            "model dependent, no single number)",
            difference=True,
            bounds=(-4.0, 4.0),
        ),
        Measure(
            "susceptibility",
            "susceptibility",
            "mean opinion change per level of disagreement with the mean of the opinions "
            "heard (a least-squares slope through 0): 0 ignores the others, 1 adopts their "
            "mean; DeGroot averaging on N members gives (N - 1) / N",
            ratio("moved", "disagreement"),
            bounds=(-np.inf, np.inf),
        ),
        Measure(
            "diversity_change",
            "diversity change",
            "standard deviation of the opinions at the end minus at the start (Chuang et "
            "al.'s D), in scale levels",
            ratio("diversity", "discussions"),
            None,
            "Chuang et al. 2024: diversity falls as agents converge, except with a "
            "confirmation-bias persona",
            difference=True,
            bounds=(-4.0, 4.0),
        ),
    )

    def sweeps(self, model: str, budget: Budget, seed: int) -> list[Sweep]:
        from workbench.studies.polarization import PolarizationConfig
        from workbench.sweep import Sweep

        return [
            Sweep(
                "polarization",
                seeds=[wording_seed(seed, w)],
                config=PolarizationConfig(
                    populations=(model,),
                    topic=TOPICS,
                    personas=PERSONAS,
                    topologies=("complete",),
                    members=budget.population,
                    rounds=ROUNDS,
                    runs=budget.opinion_runs,
                    wording=w,
                ),
            )
            for w in WORDING_INDICES
        ]

    def decisions(self, budget: Budget) -> int:
        personas = len(PERSONAS)
        talks = len(WORDING_INDICES) * len(TOPICS) * personas * budget.opinion_runs
        return talks * budget.population * ROUNDS

    def clusters(self, runs: Sequence[tuple[Any, pd.DataFrame]]) -> pd.DataFrame:
        rows = []
        for config, decisions in runs:
            frame = decisions.assign(level=decisions.choice.map(_level))
            for _, talk in frame.groupby(["topic", "persona", "replicate"], sort=False):
                first, last = talk.step.min(), talk.step.max()
                start = talk[talk.step == first].level
                end = talk[talk.step == last].level
                truth = talk.claim_true.iloc[0]
                topical = isinstance(truth, bool | np.bool_) and truth is not None
                sign = 1.0 if truth else -1.0
                previous = dict(zip(start.index.map(talk.member.get), start, strict=True))
                moved = disagreement = 0.0
                for step in sorted(talk.step.unique())[1:]:
                    now = talk[talk.step == step]
                    for member, level, saw in zip(now.member, now.level, now.saw, strict=True):
                        heard = [x for x in _seen_levels(saw) if np.isfinite(x)]
                        before = previous.get(member, np.nan)
                        if heard and np.isfinite(level) and np.isfinite(before):
                            gap = float(np.mean(heard)) - before
                            moved += (level - before) * gap
                            disagreement += gap * gap
                        if np.isfinite(level):
                            previous[member] = level
                rows.append(
                    {
                        "wording": config.wording,
                        "drift": sign * (np.nanmean(end) - np.nanmean(start)) if topical else 0.0,
                        "topical": 1.0 if topical else 0.0,
                        "moved": moved,
                        "disagreement": disagreement,
                        "diversity": float(np.nanstd(end, ddof=1) - np.nanstd(start, ddof=1)),
                        "discussions": 1.0,
                    }
                )
        return pd.DataFrame(rows)
