"""Battery module 3, tipping: how large a committed minority overturns a convention?

A population of the model first plays scripted rounds on the convention F (every memory
holds only F), then 1/6, 1/3 or 1/2 of its members are replaced by committed members who
always say J (:class:`~workbench.studies.minority.MinorityStudy`), and it plays on. A
takeover is a majority of the uncommitted members on J at the end. A cluster is one run
in one wording: the same population seed at every fraction (larger minorities contain
the smaller ones).

References
----------
.. [1] D. Centola, J. Becker, D. Brackbill and A. Baronchelli, "Experimental evidence for
   tipping points in social convention", Science 360(6393), 1116-1119 (2018).
.. [2] A. F. Ashery, L. M. Aiello and A. Baronchelli, "Emergent social conventions and
   collective bias in LLM populations", Science Advances 11, eadu9368 (2025).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from workbench.battery.protocol import WORDING_INDICES, Budget, Measure, Module, ratio, wording_seed

if TYPE_CHECKING:
    from workbench.sweep import Sweep

__all__ = ["NEVER", "Tipping"]

#: Committed fractions tried (the population size is a multiple of 6).
FRACTIONS = (1 / 6, 1 / 3, 1 / 2)
#: The critical mass reported when no fraction tried tipped the population: "above 1/2".
NEVER = 1.0


def _critical(sums: Mapping[str, np.ndarray]) -> np.ndarray:
    """The critical mass (linear interpolation of the takeover probability's crossing of
    1/2), :data:`NEVER` when no fraction reaches it, NaN when nothing was measured."""
    from workbench.studies.minority import critical_mass

    p = np.stack([ratio(f"t{k}", f"m{k}")(sums) for k in range(len(FRACTIONS))], axis=-1)
    flat = p.reshape(-1, len(FRACTIONS))
    out = np.array(
        [
            np.nan
            if np.isnan(row).all()
            else (c if np.isfinite(c := critical_mass(np.array(FRACTIONS), row)) else NEVER)
            for row in flat
        ]
    )
    return out.reshape(p.shape[:-1])


class Tipping(
    Module, name="tipping", title="Tipping (committed minority)", baseline="rule:naming_game"
):
    """Tipping: the committed minority that overturns an established convention."""

    measures: ClassVar = (
        Measure(
            "critical_mass",
            "critical mass",
            "the committed fraction at which half the populations are taken over, "
            "interpolated between 1/6, 1/3 and 1/2; 1 means no fraction tried tipped it",
            _critical,
            0.25,
            "Centola et al. 2018: about 25% in groups of 20-30 people; LLM populations "
            "2-67% depending on the model (Ashery et al. 2025)",
        ),
        Measure(
            "takeover_half",
            "takeover with 1/2 committed",
            "share of populations taken over when half the members are committed",
            ratio("t2", "m2"),
        ),
        Measure(
            "takeover_sixth",
            "takeover with 1/6 committed",
            "share of populations taken over when a sixth of the members are committed",
            ratio("t0", "m0"),
        ),
    )

    def sweeps(self, model: str, budget: Budget, seed: int) -> list[Sweep]:
        from workbench.studies.minority import MinorityConfig
        from workbench.sweep import Sweep

        return [
            Sweep(
                "minority",
                seeds=[wording_seed(seed, w)],
                config=MinorityConfig(
                    populations=(model,),
                    members=budget.minority_population,
                    committed=FRACTIONS,
                    runs=budget.populations,
                    horizon=float(budget.tipping_rounds),
                    wording=w,
                ),
            )
            for w in WORDING_INDICES
        ]

    def decisions(self, budget: Budget) -> int:
        # rounds x N interactions of two decisions, plus one step's overshoot
        per_run = len(FRACTIONS) * (2 * budget.tipping_rounds + 1) * budget.minority_population
        return len(WORDING_INDICES) * budget.populations * per_run

    def clusters(self, runs: Sequence[tuple[Any, pd.DataFrame]]) -> pd.DataFrame:
        from workbench.studies.minority import MinorityStudy

        rows = []
        for config, decisions in runs:
            outcome = MinorityStudy(config).run_outcomes(decisions)
            for _, group in outcome.groupby("run", sort=True):
                row: dict[str, float] = {"wording": config.wording}
                for k, fraction in enumerate(FRACTIONS):
                    at = group[np.isclose(group.committed, fraction)]
                    measured = at[at.measured]
                    row[f"t{k}"] = float(measured.takeover.sum())
                    row[f"m{k}"] = float(len(measured))
                rows.append(row)
        return pd.DataFrame(rows)
