"""Battery module 6, persistence: does the majority's pull outlast the majority?

The runs are the social cells of the person-situation module
(:mod:`workbench.battery.person`): the model, as each persona under each norm, answers a
line judgement for two rounds, seeing in the second that three committed members give
the wrong answer. After the last round it is asked the same question alone twice
(:func:`~workbench.analysis.persistence.persistence_probe`): with its memory of the two
rounds in the prompt (what it answered and what it saw), and with the memory removed.

The memory-removed arm is the prompt of a member who never met anyone; the model's
weights never change, so nothing of the social shift can survive there for a language
model, and that arm is the reference against which the others are read. The module
reports the **social shift** (the probability of the wrong answer in the room, minus
alone without memory), the **memory shift** (alone, with the memory, minus alone without
it: what remains once the others are gone) and **persistence**, the memory shift as a
share of the social shift. A cluster is one replicate in one wording: its four cells.

References
----------
.. [1] The paper behind the workbench, open question: do social effects on an LLM agent
   persist beyond the interaction, and how do they decay as the memory window slides?
.. [2] M. Sherif, *The Psychology of Social Norms*, Harper (1936): norms formed in a
   group persisted when members were later tested alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from workbench.battery.person import design_for, lure_of, probed
from workbench.battery.protocol import WORDING_INDICES, Budget, Measure, Module, ratio

if TYPE_CHECKING:
    from workbench.sweep import Sweep

__all__ = ["Persistence"]


def _shift(arm: str):
    return lambda s: ratio(arm, "n")(s) - ratio("none", "n")(s)


#: Below this mean social shift there is no pull whose persistence could be read.
MIN_SHIFT = 0.02


def _persistence(s):
    with np.errstate(invalid="ignore", divide="ignore"):
        memory = np.asarray(s["memory"], dtype=float) - s["none"]
        social = np.asarray(s["social"], dtype=float) - s["none"]
        pulled = np.abs(social) > MIN_SHIFT * np.asarray(s["n"], dtype=float)
        return np.where(pulled, memory / np.where(pulled, social, 1), np.nan)


class Persistence(Module, name="persistence", title="Persistence", baseline="rule:conformist:0.3"):
    """Persistence: the social shift, and how much of it the model keeps alone."""

    measures: ClassVar = (
        Measure(
            "social_shift",
            "social shift",
            "probability of the wrong answer in the second round, with three committed "
            "members giving it, minus alone with no memory",
            _shift("social"),
            None,
            "no human value for this task",
            difference=True,
        ),
        Measure(
            "memory_shift",
            "shift alone, memory kept",
            "probability of the wrong answer asked alone after the game with the memory "
            "of both rounds in the prompt, minus alone with no memory",
            _shift("memory"),
            None,
            "Sherif 1936: group norms persisted when people were later tested alone "
            "(autokinetic judgements, no number for this task)",
            difference=True,
        ),
        Measure(
            "persistence",
            "persistence",
            "the memory shift as a share of the social shift: 1 keeps all of the pull "
            "once the others are gone, 0 none of it; not given when the social shift is "
            "under 0.02 (no pull to keep)",
            _persistence,
            None,
            "no human value for this task",
            bounds=(-float("inf"), float("inf")),
        ),
    )

    def sweeps(self, model: str, budget: Budget, seed: int) -> list[Sweep]:
        return [probed(design_for(model, budget, seed, w).sweeps()[0]) for w in WORDING_INDICES]

    def decisions(self, budget: Budget) -> int:
        from workbench.battery.person import NORMS, PERSONAS, ROUNDS

        cells = len(PERSONAS) * len(NORMS)
        return len(WORDING_INDICES) * budget.design_seeds * cells * (ROUNDS + 2)

    def clusters(self, runs: Sequence[tuple[Any, pd.DataFrame]]) -> pd.DataFrame:
        rows: dict[tuple[int, int], dict[str, float]] = {}
        for config, decisions in runs:
            task = config.task
            lure = lure_of(task)
            for (_run, seed), run in decisions.groupby(["run_id", "seed"], sort=False):
                row = rows.setdefault(
                    (task.wording, int(seed)),
                    {"wording": task.wording, "social": 0.0, "memory": 0.0, "none": 0.0, "n": 0.0},
                )
                focal = run[run.role == "focal"]
                last = focal[focal.step == focal.step.max()]
                probe = run[run.role == "probe"]
                for member, answer in last.groupby("member"):
                    arms = probe[probe.member == member]
                    values = {"social": answer}
                    values |= {arm: arms[arms.arm == arm] for arm in ("memory", "none")}
                    p = {k: _lure_p(v, lure) for k, v in values.items()}
                    if all(np.isfinite(x) for x in p.values()):
                        for k, x in p.items():
                            row[k] += x
                        row["n"] += 1
        return pd.DataFrame(list(rows.values()))


def _lure_p(rows: pd.DataFrame, lure: str) -> float:
    if len(rows) != 1 or not bool(rows.valid.iloc[0]) or rows.probabilities.iloc[0] is None:
        return np.nan
    return float(rows.probabilities.iloc[0][list(rows.options.iloc[0]).index(lure)])
