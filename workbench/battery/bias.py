"""Battery module 2, collective bias: the coordination game of Ashery et al. (2025).

For each name pair (the letters of :data:`~workbench.society.coordination.NAME_POOL` two
at a time) and each wording, the model is asked the first-round prompt alone in both
orders of the pair (its *isolated prior*), and a population of the model plays the game
(pairwise random matching, +100 for a match, -50 for a mismatch, a memory of its last 5
interactions) until the last 3N interactions all succeeded or the horizon. A cluster is
one pair in one wording: its prior and its populations.

References
----------
.. [1] A. F. Ashery, L. M. Aiello and A. Baronchelli, "Emergent social conventions and
   collective bias in LLM populations", Science Advances 11, eadu9368 (2025).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from workbench.battery.protocol import WORDING_INDICES, Budget, Measure, Module, ratio, wording_seed

if TYPE_CHECKING:
    from workbench.sweep import Sweep

__all__ = ["CollectiveBias"]


def _shifted(num: str, den: str, by: float):
    return lambda s: ratio(num, den)(s) - by


class CollectiveBias(
    Module, name="bias", title="Collective bias (conventions)", baseline="rule:memory"
):
    """Collective bias: priors alone, and what a population of the model settles on."""

    measures: ClassVar = (
        Measure(
            "prior_strength",
            "prior strength",
            "how far the model alone prefers one name of a pair, |2 p - 1| with p its "
            "probability of the pair's first name averaged over both orders; 0 is "
            "indifferent, 1 always the same name",
            ratio("strength", "pairs"),
            None,
            "Ashery et al. 2025: single LLM agents picked names about evenly (near 0)",
        ),
        Measure(
            "position_bias",
            "position bias",
            "mean probability of the name listed first, minus 0.5",
            _shifted("first", "prompts", 0.5),
            None,
            "no human counterpart on record here",
            difference=True,
            bounds=(-0.5, 0.5),
        ),
        Measure(
            "favourite_wins",
            "convention = prior's favourite",
            "share of converged populations whose convention is the name the model "
            "prefers alone (ties: the pair's first name); a name-blind population scores "
            "about 0.5",
            ratio("favourite", "converged"),
            None,
            "Ashery et al. 2025: populations settled on the same name in most runs "
            "although single agents were about 50/50 (model dependent, no single number)",
        ),
        Measure(
            "converged",
            "populations converged",
            "share of populations whose last 3N interactions all succeeded within the horizon",
            ratio("converged", "populations"),
        ),
        Measure(
            "rounds",
            "rounds to the convention",
            "population rounds (interactions / N) to convergence, the horizon for a "
            "population that did not converge",
            ratio("rounds", "populations"),
            None,
            "Ashery et al. 2025: a median of about 7-18 rounds at N = 24, model dependent",
            bounds=(0.0, float("inf")),
        ),
    )

    def sweeps(self, model: str, budget: Budget, seed: int) -> list[Sweep]:
        from workbench.studies.conventions import ConventionsConfig
        from workbench.sweep import Sweep

        out = []
        for w in WORDING_INDICES:
            for pair in range(budget.pairs):
                config = ConventionsConfig(
                    populations=(model,),
                    sizes=(budget.population,),
                    names=2,
                    name_offset=2 * pair,
                    runs=budget.populations,
                    horizon=float(budget.rounds),
                    wording=w,
                )
                out.append(Sweep("conventions", seeds=[wording_seed(seed, w, pair)], config=config))
        return out

    def decisions(self, budget: Budget) -> int:
        # a game plays rounds x N interactions of two decisions, plus one step's overshoot
        per_pair = 2 + budget.populations * (2 * budget.rounds + 1) * budget.population
        return len(WORDING_INDICES) * budget.pairs * per_pair

    def clusters(self, runs: Sequence[tuple[Any, pd.DataFrame]]) -> pd.DataFrame:
        from workbench.society.coordination import run_outcomes

        rows = []
        for config, decisions in runs:
            first_name = config.pool()[0]
            prior = decisions[(decisions.part == "prior") & decisions.valid.astype(bool)]
            p_first = [
                float(p[list(o).index(first_name)])
                for p, o in zip(prior.probabilities, prior.options, strict=True)
            ]
            pref = float(np.mean(p_first)) if p_first else np.nan
            listed_first = [float(p[0]) for p in prior.probabilities]
            favourite = first_name if not pref < 0.5 else config.pool()[1]
            games = decisions[decisions.part == "game"]
            outcome = run_outcomes(games)
            done = outcome[outcome.converged]
            rounds = np.where(outcome.converged, outcome.rounds, config.horizon)
            rows.append(
                {
                    "wording": config.wording,
                    "strength": abs(2 * pref - 1) if np.isfinite(pref) else 0.0,
                    "pairs": 1.0 if np.isfinite(pref) else 0.0,
                    "first": float(np.sum(listed_first)),
                    "prompts": float(len(listed_first)),
                    "favourite": float((done.winner == favourite).sum()),
                    "converged": float(len(done)),
                    "populations": float(len(outcome)),
                    "rounds": float(np.sum(rounds)),
                }
            )
        return pd.DataFrame(rows)
