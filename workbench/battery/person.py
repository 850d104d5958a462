"""Battery module 5, person vs situation: a persona x norm factorial through ``Design``.

The model answers a line judgement (which of two lines is longer; one is plainly longer)
for two rounds, once as each of two personas (an independent thinker, a team player)
under each of two norms (accuracy rewarded, group harmony rewarded): a 2 x 2
:class:`~workbench.Design`. In the social cells three committed members always give the
wrong answer, which the model sees in the second round; in the isolated cells (which
every design runs) it answers alone, with the same persona, norm and memory. The outcome
of a run is the model's probability of the wrong (the majority's) answer in the last
round, read from its option probabilities.

It reports how the outcome's variance splits between the person (the persona), the
situation (the norm) and their interaction in the social cells, as omega squared from a
two-way ANOVA (the estimator of :func:`~workbench.analysis.factorial.decompose_design`,
computed here from cell sums so the battery's cluster bootstrap can resample it), and
the **emergent effect**: the social outcome minus the isolated one, overall, and its
differences between the personas and between the norms. A cluster is one replicate in
one wording: all eight cells of that replicate, so every resample keeps the factorial
balanced. The option order alternates with the wording and the battery seed, so the
wrong answer is ``B`` in some wordings and ``A`` in others.

The social cells double as the runs of the persistence module
(:mod:`workbench.battery.persistence`): after its last round, each of them re-asks the
model alone, with and without its memory.

References
----------
.. [1] W. Mischel, *Personality and Assessment*, Wiley (1968).
.. [2] D. C. Funder and D. J. Ozer, "Behavior as a function of the situation", Journal
   of Personality and Social Psychology 44(1), 107-112 (1983).
.. [3] W. Fleeson, "Moving personality beyond the person-situation debate", Current
   Directions in Psychological Science 13(2), 83-87 (2004).
.. [4] S. Olejnik and J. Algina, "Generalized eta and omega squared statistics",
   Psychological Methods 8(4), 434-447 (2003).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from workbench.battery.protocol import WORDING_INDICES, Budget, Measure, Module, wording_seed
from workbench.design import Design, DesignStudy
from workbench.society import Round, Task

if TYPE_CHECKING:
    from workbench.society import Society
    from workbench.studies import Unit
    from workbench.sweep import Sweep

__all__ = ["NORMS", "PERSONAS", "PersonSituation", "ProbedCell", "design_for", "lure_of"]

#: The person factor: two personas of the library, at the two ends of deference.
PERSONAS = ("independent_thinker", "team_player")
#: The situation factor: two norm presets pulling toward truth and toward agreement.
NORMS = ("accuracy", "harmony")
#: Committed members giving the wrong answer in every social cell.
MAJORITY = 3
ROUNDS = 2
#: Memory window of every cell: the whole game, so the persistence probe can cut it.
MEMORY = 2
#: The lengths (cm) of the longer and the shorter line.
LENGTHS = (12, 9)

# The task's own text in each wording (the shared sentences around it are the Task's
# wording); {a} and {b} are the lengths of lines A and B.
_WORDED = (
    (
        "You are one of several people answering the same question.",
        "Which line is longer?\nLine A is {a} cm long.\nLine B is {b} cm long.\n"
        "A: Line A\nB: Line B",
    ),
    (
        "Several people, you among them, are asked the same question.",
        "Two lines are drawn: line A measures {a} cm and line B measures {b} cm. "
        "Which one is longer?\nA: Line A\nB: Line B",
    ),
    (
        "You and a group of other people each answer this question.",
        "Compare the lengths: A is {a} cm, B is {b} cm. Which is the longer line?\n"
        "A: Line A\nB: Line B",
    ),
)
assert len(_WORDED) == len(WORDING_INDICES)


def _order(seed: int, wording: int) -> tuple[str, str]:
    """``(correct, wrong)`` option labels: the longer line is listed first or second."""
    return ("A", "B") if (seed + wording) % 2 == 0 else ("B", "A")


def line_task(seed: int, wording: int) -> Task:
    """The line judgement of one wording, in the option order of ``seed`` and ``wording``."""
    correct, _ = _order(seed, wording)
    long, short = LENGTHS
    a, b = (long, short) if correct == "A" else (short, long)
    preamble, question = _WORDED[wording]
    return Task(
        (Round(question.format(a=a, b=b), options=("A", "B"), correct=correct),),
        name="line_judgement",
        preamble=preamble,
        wording=wording,
    )


def lure_of(task: Task) -> str:
    """The wrong answer of the line judgement (the committed members' answer)."""
    first = task.rounds[0]
    return next(o for o in first.options if o != first.correct)


def lure_probability(lure: str):
    """The design outcome: the model's mean probability of ``lure`` in the last round."""

    def outcome(focal: pd.DataFrame) -> float:
        last = focal[focal.step == focal.step.max()]
        values = [
            float(p[list(o).index(lure)])
            for p, o, v in zip(last.probabilities, last.options, last.valid, strict=True)
            if bool(v) and p is not None
        ]
        return float(np.mean(values)) if values else np.nan

    return outcome


def design_for(model: str, budget: Budget, seed: int, wording: int) -> Design:
    """The factorial of one wording for ``model``."""
    _, lure = _order(seed, wording)
    return Design(
        persons=tuple((model, p) for p in PERSONAS),
        norms=NORMS,
        memories=(MEMORY,),
        seeds=tuple(wording_seed(seed, wording, 500 + r) for r in range(budget.design_seeds)),
        members=1,
        rounds=ROUNDS,
        task=line_task(seed, wording),
        others=(f"rule:committed:{lure}",) * MAJORITY,
        option=lure,
        outcome=lure_probability(lure),
    )


class ProbedCell(DesignStudy):
    """A design cell that, after its last round, re-asks the focal members alone.

    The probe (:func:`~workbench.analysis.persistence.persistence_probe`) asks the
    isolated question twice: with the member's whole memory in the prompt, and with
    none. Its answers are appended to the cell's decisions as rows of role ``"probe"``
    (``arm`` ``"memory"`` or ``"none"``), so they are stored, counted and replayed with
    the run and stay out of the design's outcome, which reads the focal rows.
    """

    name = "design_probe"

    def play(self, society: Society, unit: Unit) -> pd.DataFrame:
        from workbench.analysis.persistence import persistence_probe

        decisions = society.run()
        window = society.situation.memory
        probe = persistence_probe(society, ks=(window,), roles=("focal",), seed=unit.seed)
        rows = []
        for (member, arm), group in _arms(probe):
            rows.append(
                {
                    "run_id": society.run_id,
                    "step": society.steps + 1,
                    "member": member,
                    "node": group.node.iloc[0],
                    "role": "probe",
                    "model": group.model.iloc[0],
                    "persona": group.persona.iloc[0],
                    "options": tuple(group.option),
                    "probabilities": tuple(float(p) for p in group[arm]),
                    "valid": bool(group.valid.all()),
                    "method": group.method.iloc[0],
                    "arm": "memory" if arm == "p" else "none",
                    **unit.conditions,
                }
            )
        return pd.concat([decisions, pd.DataFrame(rows)], ignore_index=True)


def _arms(probe: pd.DataFrame):
    for member, group in probe.groupby("member", sort=True):
        for arm in ("p", "p_none"):
            yield (member, arm), group


# --- the scores -------------------------------------------------------------------------

#: The four social cells, (persona index, norm index), in the columns' order.
CELLS = tuple((i, j) for i in range(len(PERSONAS)) for j in range(len(NORMS)))


def _stack(s: Mapping[str, np.ndarray], prefix: str) -> np.ndarray:
    return np.stack([np.asarray(s[f"{prefix}{i}{j}"], dtype=float) for i, j in CELLS], axis=-1)


def _omega(effect: str):
    """Omega squared of ``effect`` (``"person"``, ``"situation"``, ``"interaction"``).

    A balanced two-way ANOVA from the cells' sums ``S``, sums of squares ``Q`` and counts
    ``N``: the sums of squares of person, situation, cells and residual, then
    ``(SS_k - df_k MS_res) / (SS_total + MS_res)`` with ``df_k = 1`` in a 2 x 2 design
    (Olejnik & Algina 2003), reported as 0 where the estimate is negative (an effect
    smaller than noise alone gives; the usual convention for a share). NaN where the
    outcome does not vary.
    """

    def formula(s: Mapping[str, np.ndarray]) -> np.ndarray:
        S, Q, N = _stack(s, "S"), _stack(s, "Q"), _stack(s, "N")
        with np.errstate(invalid="ignore", divide="ignore"):
            total, count = S.sum(-1), N.sum(-1)
            mean_term = total**2 / count
            ss_total = Q.sum(-1) - mean_term
            ss_cells = (S**2 / N).sum(-1) - mean_term
            # margins: cells (0,0),(0,1) are persona 0; (0,0),(1,0) are norm 0
            person = (S[..., 0] + S[..., 1]) ** 2 / (N[..., 0] + N[..., 1]) + (
                S[..., 2] + S[..., 3]
            ) ** 2 / (N[..., 2] + N[..., 3])
            norm = (S[..., 0] + S[..., 2]) ** 2 / (N[..., 0] + N[..., 2]) + (
                S[..., 1] + S[..., 3]
            ) ** 2 / (N[..., 1] + N[..., 3])
            ss = {"person": person - mean_term, "situation": norm - mean_term}
            ss["interaction"] = ss_cells - ss["person"] - ss["situation"]
            ms_res = (ss_total - ss_cells) / (count - len(CELLS))
            value = np.maximum((ss[effect] - ms_res) / (ss_total + ms_res), 0.0)
            return np.where(ss_total > 1e-12, value, np.nan)

    return formula


def _emergent(persona: int | None = None, norm: int | None = None):
    """Social minus isolated mean outcome over the cells of ``persona`` and ``norm``."""
    cells = [f"{i}{j}" for i, j in CELLS if persona in (None, i) and norm in (None, j)]

    def formula(s: Mapping[str, np.ndarray]) -> np.ndarray:
        def mean(sum_: str, n: str) -> np.ndarray:
            num = sum(np.asarray(s[f"{sum_}{c}"], dtype=float) for c in cells)
            den = sum(np.asarray(s[f"{n}{c}"], dtype=float) for c in cells)
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)

        return mean("S", "N") - mean("A", "M")

    return formula


def _gap(factor: str):
    """The emergent effect at the factor's second level minus that at its first."""
    first = _emergent(**{factor: 0})
    second = _emergent(**{factor: 1})
    return lambda s: second(s) - first(s)


_SHARE = (
    "omega squared of a two-way ANOVA over the social cells: the share of the outcome's "
    "variance (the probability of the wrong answer) due to {what}, corrected for the "
    "share noise alone would give; near 0 when it does nothing"
)
_NO_HUMAN = (
    "no human value for this task; in personality research person and situation "
    "effects each correlate about .30-.40 with behaviour (Funder & Ozer 1983, Fleeson "
    "2004), i.e. about 10-15% of variance"
)


class PersonSituation(
    Module, name="person", title="Person vs situation", baseline="rule:conformist:0.3"
):
    """Person vs situation: persona and norm against the pull of a wrong majority."""

    measures: ClassVar = (
        Measure(
            "person_share",
            "person share",
            _SHARE.format(what="the persona"),
            _omega("person"),
            None,
            _NO_HUMAN,
        ),
        Measure(
            "situation_share",
            "situation share",
            _SHARE.format(what="the norm"),
            _omega("situation"),
            None,
            _NO_HUMAN,
        ),
        Measure(
            "interaction_share",
            "person x situation share",
            _SHARE.format(what="the persona x norm interaction"),
            _omega("interaction"),
            None,
            "no human value for this task",
        ),
        Measure(
            "emergent",
            "emergent effect",
            "probability of the wrong answer in the social cells (three committed "
            "members give it) minus in the isolated cells: what the others add",
            _emergent(),
            None,
            "no human value for this task (Asch's subjects: about a third, see conformity)",
            difference=True,
        ),
        Measure(
            "persona_gap",
            "emergent: team player - independent",
            "the emergent effect as a team player minus as an independent thinker: does "
            "the persona change how far the others pull?",
            _gap("persona"),
            None,
            "no human value for this task",
            difference=True,
        ),
        Measure(
            "norm_gap",
            "emergent: harmony - accuracy",
            "the emergent effect under the harmony norm minus under the accuracy norm",
            _gap("norm"),
            None,
            "no human value for this task",
            difference=True,
        ),
    )

    def sweeps(self, model: str, budget: Budget, seed: int) -> list[Sweep]:
        out = []
        for w in WORDING_INDICES:
            social, isolated = design_for(model, budget, seed, w).sweeps()
            out += [probed(social), isolated]
        return out

    def decisions(self, budget: Budget) -> int:
        cells = len(PERSONAS) * len(NORMS)
        # social and isolated cells: one focal member, ROUNDS rounds; the probe asks twice
        per_replicate = cells * (2 * ROUNDS + 2)
        return len(WORDING_INDICES) * budget.design_seeds * per_replicate

    def clusters(self, runs: Sequence[tuple[Any, pd.DataFrame]]) -> pd.DataFrame:
        rows: dict[tuple[int, int], dict[str, float]] = {}
        for config, decisions in runs:
            wording = config.task.wording
            design = _design_of(config)
            cells = decisions[decisions.role != "probe"]
            for _, run in design.outcomes(cells).iterrows():
                row = rows.setdefault(
                    (wording, int(run.seed)),
                    {"wording": wording} | {f"{k}{i}{j}": 0.0 for k in "SQNAM" for i, j in CELLS},
                )
                y = run.outcome
                if not np.isfinite(y):
                    continue
                cell = f"{PERSONAS.index(run.persona)}{NORMS.index(run.norm)}"
                if run.condition == "social":
                    row[f"S{cell}"] += y
                    row[f"Q{cell}"] += y * y
                    row[f"N{cell}"] += 1
                else:
                    row[f"A{cell}"] += y
                    row[f"M{cell}"] += 1
        return pd.DataFrame(list(rows.values()))


def probed(sweep: Sweep) -> Sweep:
    """The same sweep with :class:`ProbedCell` cells (a persistence probe after each)."""
    from workbench.sweep import Sweep

    return Sweep(ProbedCell, sweep.grid, sweep.seeds, config=sweep.config)


def _design_of(config) -> Design:
    """The design a cell config belongs to (for its outcome table)."""
    model = config.person[0]
    lure = lure_of(config.task)
    return Design(
        persons=tuple((model, p) for p in PERSONAS),
        norms=NORMS,
        memories=(config.memory,),
        members=config.members,
        rounds=config.rounds,
        task=config.task,
        option=lure,
        outcome=lure_probability(lure),
    )
