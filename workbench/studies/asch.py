"""Asch's conformity experiment, with a language model as the naive subject.

Asch seated one naive subject among confederates who, on 12 of 18 line-judgement trials
(the *critical* trials), all gave the same wrong answer before the subject answered
aloud [1]_, [3]_. About a third of the subjects' critical answers went with the wrong
majority; conformity rose steeply from one to three confederates and then levelled off
[1]_, [2]_; one truthful partner cut it to about a quarter [2]_; answering in writing
(privately) cut it too [3]_.

Here the subject is an LLM person (or a rule policy, for checks); the confederates are
:class:`~workbench.society.Confederate` rule members who answer wrong on the critical
trials and right on the neutral ones; the optional ally is a
:class:`~workbench.society.Truthful` member answering fourth, as Asch's partner did. The
society is complete and sequential, so the subject answers last and sees every earlier
answer of the round. The stimuli are generated from the seed: a standard line and three
comparison lines given by their lengths in inches (the model cannot see a card), one equal
to the standard and two clearly different (at least 0.75 in and 15% off).

Measures, per condition (majority size, ally, norm, persona):

- **conformity**: the share of the subject's valid critical answers that match the wrong
  majority, with a 95% percentile bootstrap interval over subjects (subjects are resampled
  whole, because a subject's answers are not independent of each other);
- the share of subjects who conformed at least once, and who never did, among the
  subjects with at least one valid critical answer;
- the error rate on critical and on neutral trials; with no majority (control) the
  critical error rate is the control error rate;
- ``p_lure``: the mean probability the model gave the majority's wrong answer;
- ``invalid``: the subject's answers that could not be read. They are left out of every
  measure above (a measure with nothing valid to stand on is NaN), so an unreadable
  model never passes for an independent one.

Every subject keeps the same seed (and so the same stimuli) in every condition: conditions
are compared on the same items. Each subject in each condition is its own seeded society,
so the tables do not depend on thread timing.

Reference numbers (:meth:`AschStudy.reference`) are from REFERENCES.md, and each says in
its source note how sure it is: "as reported in secondary sources" means read in a summary
of the paper; "as commonly quoted from Asch's 1951 table, not verified in the primary
source" means the figure is the usual citation of that table and no stored text confirms
the exact per-majority rate.

References
----------
.. [1] S. E. Asch, "Effects of group pressure upon the modification and distortion of
   judgments", in H. Guetzkow (ed.), Groups, Leadership and Men, Carnegie Press,
   177-190 (1951).
.. [2] S. E. Asch, "Opinions and social pressure", Scientific American 193(5), 31-35
   (1955).
.. [3] S. E. Asch, "Studies of independence and conformity: I. A minority of one against
   a unanimous majority", Psychological Monographs 70(9), 1-70 (1956).
.. [4] X. Zhu, C. Zhang, T. Stafford, N. Collier and A. Vlachos, "Conformity in large
   language models", ACL (2025).
.. [5] Z. Weng, G. Chen and W. Wang, "Do as we do, not as you think: the conformity of
   large language models" (BenchForm), ICLR (2025).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from workbench import config
from workbench.errors import ConfigError
from workbench.llm.gateway import DEFAULT_MODEL
from workbench.random import generator
from workbench.society import Confederate, Round, Situation, Task, Topology, Truthful, make_person
from workbench.society.checks import check_rows, whole, whole_list
from workbench.society.task import WORDINGS
from workbench.studies import Study, StudyResult, Unit, unit_seed
from workbench.studies._figures import count

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from workbench.llm import Gateway
    from workbench.society import Society

__all__ = ["NEUTRAL_TRIALS", "TRIALS", "AschConfig", "AschStudy", "line_judgement"]

#: Trials per subject.
TRIALS = 18
#: The neutral trials (1-based); the other 12 are critical. The usual description of
#: Asch 1956's sequence (not verified in the primary source).
NEUTRAL_TRIALS = (1, 2, 5, 10, 13, 15)
#: Where the ally answers: fourth, as Asch's partner did (Asch 1955).
ALLY_POSITION = 3
_OPTIONS = ("A", "B", "C")
_PREAMBLE = "You are taking part in a test of visual judgement with other participants."
#: The preamble, question and option line in each wording (:attr:`Task.wording`); wording
#: 0 is the original, which the recorded cassettes were made with.
_WORDED = (
    (
        _PREAMBLE,
        "Line X is {standard:.2f} inches long. "
        "Which line, A, B or C, has the same length as line X?",
        "{option}: {length:.2f} inches",
    ),
    (
        "This is a study of how people judge the lengths of lines; several participants "
        "answer each question in turn.",
        "Line X measures {standard:.2f} inches. Which of the lines A, B and C is as long "
        "as line X?",
        "Line {option} measures {length:.2f} inches",
    ),
    (
        "You and a group of other people are comparing the lengths of lines.",
        "Here is line X: {standard:.2f} inches. Which one of A, B and C matches line X in length?",
        "{option} = {length:.2f} inches",
    ),
)
assert len(_WORDED) == len(WORDINGS)


@dataclass(frozen=True)
class AschConfig:
    """Configuration of an Asch conformity study; every field is a CLI flag.

    Parameters
    ----------
    model : str
        The subject: a litellm model string, or a rule spec such as ``"rule:truthful"``.
    subjects : int
        Subjects per condition.
    majority : tuple of int
        Sizes of the unanimous wrong majority (0 is the control, alone). The default
        (0, 1, 3) spans Asch's rise from almost none to a third; with 8 subjects it is
        432 decisions, 10.3 minutes for Qwen2.5-Coder-1.5B on 2 idle cores (measured;
        prompt processing runs near 48 tokens/s there, about 3.4 min per condition).
    ally : tuple of int
        Majority sizes that also run with one truthful ally answering fourth (none by
        default; ``--ally 3`` adds Asch's dissenting-partner condition).
    norms : tuple of str
        Norms to run: presets (``"public"``, ``"private"``, ``"accuracy"``,
        ``"harmony"``, ``"none"``) or sentences.
    personas : tuple of str
        Subject personas to run: library names, ``"none"`` or sentences.
    persona_file : str or None
        A JSON file of extra personas.
    topology : str
        Network kind (default parameters); ``"complete"`` lets the subject see everyone.
    exchange : {"answers", "counts"}
        Whether the subject sees who answered what, or only counts.
    memory : int
        Earlier trials the subject recalls in its prompt.
    wording : int
        Which paraphrase of every prompt the subject reads (0, the original, to 2): the
        battery asks in each, so that no effect rests on one sentence.
    temperature : float
        Sampling temperature of the subject's choice. The default 0 gives the subject's
        most likely answer, its considered judgement: small models spread their
        probability thinly over the three lines (Qwen2.5-Coder-1.5B gives the right line
        about 0.45), so sampling at 1 would bury conformity under guessing and put the
        control error near 50%, where Asch's controls erred under 1%. The graded
        influence of the majority is reported as ``p_lure`` whatever the temperature.
    """

    model: str = config.model(DEFAULT_MODEL, "subject model or rule spec")
    subjects: int = field(default=8, metadata={"help": "subjects per condition"})
    majority: tuple[int, ...] = field(
        default=(0, 1, 3), metadata={"help": "unanimous majority sizes, e.g. 0,1,2,3,4,8,15"}
    )
    ally: tuple[int, ...] = field(
        default=(), metadata={"help": "majority sizes also run with one truthful ally, e.g. 3"}
    )
    norms: tuple[str, ...] = config.norms(
        ("public",), "norms: public, private, accuracy, harmony, none"
    )
    personas: tuple[str, ...] = config.personas(
        ("none",), "subject personas (library names or 'none')", library=True
    )
    persona_file: str | None = config.persona_file()
    topology: str = config.topology("complete", "network kind")
    exchange: str = config.exchange("answers", "answers or counts")
    memory: int = config.memory(0, "earlier trials recalled in the prompt")
    temperature: float = config.temperature(
        0.0, "sampling temperature of the subject (0: its top answer)"
    )
    wording: int = config.wording()

    def __post_init__(self) -> None:
        config.normalise(self)
        whole_list(self, "majority", low=None)
        whole_list(self, "ally", low=None)
        whole(self, "subjects", 1)  # bounded by the rows it makes, below
        if not self.majority and not self.ally:
            raise ConfigError("give at least one majority size or ally condition")
        if any(not 0 <= m <= 50 for m in self.majority):
            raise ConfigError(f"majority sizes must be between 0 and 50, got {self.majority}")
        if any(not 1 <= m <= 50 for m in self.ally):
            raise ConfigError(f"ally conditions need a majority of 1 to 50, got {self.ally}")
        # every subject answers every trial among its majority (and ally) in each condition
        per_subject = TRIALS * sum(c["majority"] + 1 + c["ally"] for c in self.conditions())
        check_rows(
            self.subjects * per_subject,
            "--subjects x 18 trials x the members of every condition",
            "--subjects or the conditions",
            most=("subjects", per_subject, 0),
        )
        topology = Topology(self.topology)
        for size in {m + 1 for m in self.majority} | {m + 2 for m in self.ally}:
            topology.build(size, seed=0)

    def conditions(self) -> list[dict[str, Any]]:
        """Every condition, in result order: norm, persona, then majority, then ally."""
        cells = [(m, False) for m in self.majority] + [(m, True) for m in self.ally]
        return [
            {"norm": norm, "persona": persona, "majority": m, "ally": ally}
            for norm in self.norms
            for persona in self.personas
            for m, ally in cells
        ]


def line_judgement(rng: np.random.Generator, trials: int = TRIALS, wording: int = 0) -> Task:
    """Line-judgement stimuli for one subject.

    Each trial has a standard line of 2 to 10 inches and three comparison lines labelled
    A, B, C: one equal to the standard, two differing from it by at least 0.75 in and 15%
    (and from each other by at least 0.75 in). On critical trials the majority's wrong
    answer (``planted``) is one of the two different lines, drawn at random, as Asch
    mixed moderate and extreme errors [3]_.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the stimuli.
    trials : int
        Number of trials; the neutral ones are :data:`NEUTRAL_TRIALS`.
    wording : int
        Paraphrase of the preamble, the question and the shared prompt sentences; the
        stimuli drawn do not depend on it.

    Returns
    -------
    Task
        One round per trial; ``info`` holds ``trial``, ``critical``, ``standard`` and
        ``lengths`` (of A, B, C).
    """
    grid = np.arange(1.0, 15.01, 0.25)
    rounds = []
    for trial in range(1, trials + 1):
        standard = float(rng.choice(np.arange(2.0, 10.01, 0.25)))
        gap = np.abs(grid - standard)
        candidates = grid[(gap >= max(0.75, 0.15 * standard)) & (gap <= 0.6 * standard)]
        while True:
            first, second = (float(x) for x in rng.choice(candidates, 2, replace=False))
            if abs(first - second) >= 0.75:
                break
        lengths = [standard, first, second]
        order = rng.permutation(3)
        lengths = [lengths[i] for i in order]
        correct = _OPTIONS[int(np.flatnonzero(order == 0)[0])]
        wrong = [o for o in _OPTIONS if o != correct]
        critical = trial not in NEUTRAL_TRIALS
        planted = wrong[int(rng.integers(2))] if critical else None
        _, ask, line = _WORDED[wording]
        question = (
            ask.format(standard=standard)
            + "\n"
            + "\n".join(
                line.format(option=o, length=x) for o, x in zip(_OPTIONS, lengths, strict=True)
            )
        )
        rounds.append(
            Round(
                question,
                _OPTIONS,
                correct=correct,
                planted=planted,
                info={
                    "trial": trial,
                    "critical": critical,
                    "standard": standard,
                    "lengths": tuple(lengths),
                },
            )
        )
    return Task(tuple(rounds), name="line_judgement", preamble=_WORDED[wording][0], wording=wording)


# How sure each number is, in the words a user reads beside it.
_SECONDARY = "as reported in secondary sources"
_QUOTED = (
    "as commonly quoted from Asch's 1951 table; the exact per-majority rate is not "
    "verified in the primary source"
)
# Asch's numbers, from REFERENCES.md: (majority, ally, conformity, source).
_REFERENCE = [
    (0, False, 0.01, f"Asch 1956: controls under 1% wrong, {_SECONDARY}"),
    (1, False, 0.028, f"Asch 1951/1955, {_SECONDARY}"),
    (2, False, 0.128, f"Asch 1951/1955, {_SECONDARY}"),
    (3, False, 0.325, f"Asch 1951/1955: 32-33%, {_QUOTED}"),
    (4, False, 0.35, f"Asch 1951/1955, {_QUOTED}"),
    (6, False, 0.368, f"Asch 1956: 6-8 confederates, {_SECONDARY}"),
    (7, False, 0.368, f"Asch 1956: 6-8 confederates, {_SECONDARY}"),
    (8, False, 0.32, f"Asch 1951/1955, {_QUOTED}"),
    *((m, False, 0.31, f"Asch 1951/1955: 10-15, {_QUOTED}") for m in range(10, 16)),
]
_ALLY_REFERENCE = (0.065, "Asch 1955: about a quarter of unanimous, 5-8%")
#: Conformed at least once / never, Asch 1956 (as reported in secondary sources).
_ONCE_REFERENCE = (0.75, 0.25)


class AschStudy(Study):
    """The Asch conformity experiment.

    Parameters
    ----------
    config : AschConfig or None
        Conditions, subject model, subjects per condition.
    seed : int or None
        Seed of the run (drawn and recorded when None).

    Examples
    --------
    >>> study = AschStudy(AschConfig(model="rule:conformist:0.3", subjects=4), seed=1)
    >>> result = study.run()
    >>> study.table(result.summary)  # doctest: +SKIP
    """

    name = "asch"
    Config = AschConfig
    example: ClassVar[dict] = {"model": "rule:conformist:0.4", "subjects": 3, "ally": (3,)}

    def units(self, seed: int) -> list[Unit]:
        """One unit per condition and subject; subject ``i`` has the same seed everywhere."""
        seeds = [unit_seed(seed, "unit", i) for i in range(self.config.subjects)]
        return [
            Unit(k * self.config.subjects + i, c, i, seeds[i])
            for k, c in enumerate(self.config.conditions())
            for i in range(self.config.subjects)
        ]

    def models(self) -> list[str]:
        return [self.config.model]

    def build(self, unit: Unit, gateway: Gateway | None = None, run_id: str = "") -> Society:
        """The society of one subject in one condition: confederates, ally, subject last."""
        cfg, cond = self.config, unit.conditions
        subject = make_person(
            cfg.model, cond["persona"], temperature=cfg.temperature, persona_file=cfg.persona_file
        )
        persons: list = [Confederate()] * cond["majority"]
        roles = ["confederate"] * cond["majority"]
        if cond["ally"]:
            at = min(ALLY_POSITION, len(persons))
            persons.insert(at, Truthful())
            roles.insert(at, "ally")
        persons.append(subject)
        roles.append("subject")
        situation = Situation(
            norm=cond["norm"],
            topology=cfg.topology,
            exchange=cfg.exchange,
            memory=cfg.memory,
            schedule="sequential",
        )
        stimuli = generator(unit.seed, "asch.stimuli")
        return self.society(
            unit,
            persons,
            line_judgement(stimuli, wording=cfg.wording),
            situation,
            gateway,
            run_id,
            conditions={**cond, "subject": unit.replicate},
            roles=roles,
        )

    def summarize(self, decisions: pd.DataFrame, seed: int) -> pd.DataFrame:
        """Per-condition conformity table with Asch's numbers beside ours.

        ``seed`` seeds the bootstrap of the intervals.

        Returns
        -------
        pandas.DataFrame
            One row per condition (``norm``, ``persona``, ``majority``, ``ally``) with
            ``subjects``, ``answers`` (valid critical answers), ``conformity``,
            ``ci_low``, ``ci_high`` (95% percentile bootstrap over subjects),
            ``at_least_once``, ``never``, ``error_rate`` (critical), ``neutral_error_rate``,
            ``invalid`` (the subject's invalid answers, critical and neutral), ``p_lure``,
            and ``asch``, ``asch_source``, ``asch_at_least_once``, ``asch_never``.

        Notes
        -----
        Invalid answers (``valid`` False) are left out of every rate, mean and share:
        ``conformity``, ``error_rate`` and ``p_lure`` are over valid critical answers,
        ``neutral_error_rate`` over valid neutral ones, and ``at_least_once``, ``never``
        and the interval over the subjects with at least one valid critical answer. With
        none, they are NaN; ``invalid`` counts what was left out.
        """
        keys = ["norm", "persona", "majority", "ally"]
        rows = decisions[decisions.role == "subject"].copy()
        rows["valid"] = rows["valid"].astype(bool)
        rows["conformed"] = rows.valid & (rows.choice == rows.planted)
        rows["wrong"] = rows.valid & (rows.choice != rows.truth)
        rows["p_lure"] = [
            p[o.index(lure)] if v and lure in o else np.nan
            for p, o, lure, v in zip(
                rows.probabilities, rows.options, rows.planted, rows.valid, strict=True
            )
        ]
        rows["invalid"] = ~rows.valid
        crit, neutral = rows[rows.critical.astype(bool)], rows[~rows.critical.astype(bool)]
        per_subject = crit.groupby([*keys, "subject"], sort=False).agg(
            answers=("valid", "sum"),
            conformed=("conformed", "sum"),
            wrong=("wrong", "sum"),
            p_lure=("p_lure", "mean"),  # NaN for a subject without a valid answer
        )
        neutral_err = neutral.groupby(keys, sort=False).agg(
            neutral_answers=("valid", "sum"), neutral_wrong=("wrong", "sum")
        )
        invalid = rows.groupby(keys, sort=False).invalid.sum()
        out = []
        for i, (cond, group) in enumerate(per_subject.groupby(level=keys, sort=False)):
            # a subject with no valid critical answer tells nothing about conforming: it is
            # left out of every share, the interval and p_lure, and counted in `invalid`
            measured = group[group.answers > 0]
            answers, conformed = measured.answers.to_numpy(), measured.conformed.to_numpy()
            total = answers.sum()
            # entropy [seed, i], not a spawn key: no STREAMS name derives it, and a named
            # stream would change every recorded interval
            low, high = _bootstrap(conformed, answers, np.random.default_rng([seed, i]))
            n_err = neutral_err.loc[cond]
            out.append(
                {
                    **dict(zip(keys, cond, strict=True)),
                    "subjects": len(group),
                    "answers": int(total),
                    "conformity": conformed.sum() / total if total else np.nan,
                    "ci_low": low,
                    "ci_high": high,
                    "at_least_once": float((conformed > 0).mean()) if len(measured) else np.nan,
                    "never": float((conformed == 0).mean()) if len(measured) else np.nan,
                    "error_rate": measured.wrong.sum() / total if total else np.nan,
                    "neutral_error_rate": n_err.neutral_wrong / n_err.neutral_answers
                    if n_err.neutral_answers
                    else np.nan,
                    "invalid": int(invalid.loc[cond]),
                    "p_lure": float(measured.p_lure.mean()) if len(measured) else np.nan,
                }
            )
        summary = pd.DataFrame(out)
        if summary.empty:
            return summary
        reference = self.reference()
        summary = summary.merge(reference, on=["majority", "ally"], how="left")
        ally_ref = summary.ally.astype(bool)
        summary.loc[ally_ref, "asch"] = _ALLY_REFERENCE[0]
        summary.loc[ally_ref, "asch_source"] = _ALLY_REFERENCE[1]
        standard = ~ally_ref & summary.majority.between(6, 8)
        summary["asch_at_least_once"] = np.where(standard, _ONCE_REFERENCE[0], np.nan)
        summary["asch_never"] = np.where(standard, _ONCE_REFERENCE[1], np.nan)
        return summary

    def reference(self) -> pd.DataFrame:
        """Asch's conformity by majority size (unanimous), one row per size.

        Returns
        -------
        pandas.DataFrame
            Columns ``majority``, ``ally``, ``asch`` (share of critical answers wrong),
            ``asch_source`` (citation, saying how sure the number is). The ally
            reference (about 6.5%, Asch 1955) applies to every ally condition.
        """
        return pd.DataFrame(_REFERENCE, columns=["majority", "ally", "asch", "asch_source"])

    def table(self, summary: pd.DataFrame) -> pd.DataFrame:
        """The summary as a readable table: percentages, the interval, Asch beside ours.

        Parameters
        ----------
        summary : pandas.DataFrame
            :meth:`summarize` output.

        Returns
        -------
        pandas.DataFrame
            String cells, one row per condition.
        """
        return _table(summary)

    def plot(self, result: StudyResult) -> Figure:
        """Conformity against majority size: ours (with 95% intervals) beside Asch's.

        Returns
        -------
        matplotlib.figure.Figure
        """
        import matplotlib.pyplot as plt
        import seaborn as sns

        summary = result.summary
        sns.set_theme(style="whitegrid", context="notebook")
        fig, ax = plt.subplots(figsize=(7.5, 4.5))
        ref = self.reference()
        ref = ref[ref.majority.isin(sorted({0, 1, 2, 3, 4, 8, 15, *summary.majority}))]
        sns.lineplot(
            x=ref.majority,
            y=100 * ref.asch,
            ax=ax,
            color="black",
            linestyle="--",
            marker="o",
            label="Asch (humans)",
        )
        palette = sns.color_palette("deep")
        groups = list(summary.groupby(["norm", "persona"], sort=False))
        for k, ((norm, persona), group) in enumerate(groups):
            color = palette[k % len(palette)]
            name = result.config.model if len(groups) == 1 else f"{norm}, {persona}"
            for ally, sub in group.groupby("ally", sort=False):
                sub = sub.sort_values("majority")
                y = 100 * sub.conformity
                err = [y - 100 * sub.ci_low, 100 * sub.ci_high - y]
                ax.errorbar(
                    sub.majority + (0.2 if ally else 0.0),  # ally beside, not on top
                    y,
                    yerr=np.nan_to_num(np.clip(err, 0, None)),
                    color=color,
                    marker="s" if ally else "o",
                    mfc="white" if ally else color,
                    linestyle="none" if ally else "-",
                    capsize=3,
                    label=f"{name} + ally" if ally else name,
                )
        if summary.ally.astype(bool).any():
            x = sorted(summary[summary.ally.astype(bool)].majority.unique())
            ax.scatter(
                [v + 0.2 for v in x],
                [100 * _ALLY_REFERENCE[0]] * len(x),
                marker="x",
                color="black",
                zorder=5,
                label="Asch + ally (humans)",
            )
        ax.set(
            xlabel="size of the unanimous wrong majority",
            ylabel="conformity (% of critical answers)",
            title=f"Asch conformity: {count(result.config.subjects, 'subject')} per condition",
            ylim=(-2, 102),
        )
        ax.legend(fontsize="small", loc="upper right")
        fig.tight_layout()
        return fig


def _bootstrap(conformed: np.ndarray, answers: np.ndarray, rng) -> tuple[float, float]:
    """95% percentile bootstrap interval of sum(conformed)/sum(answers), over subjects."""
    if len(answers) < 2 or answers.sum() == 0:
        return np.nan, np.nan
    if np.all(conformed * answers.sum() == answers * conformed.sum()):  # every subject alike
        rate = conformed.sum() / answers.sum()
        return float(rate), float(rate)

    def ratio(c, n, axis=-1):
        with np.errstate(invalid="ignore", divide="ignore"):
            return c.sum(axis=axis) / n.sum(axis=axis)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ci = stats.bootstrap(
            (conformed, answers),
            ratio,
            paired=True,
            vectorized=True,
            n_resamples=2000,
            confidence_level=0.95,
            method="percentile",
            rng=rng,
        ).confidence_interval
    return float(ci.low), float(ci.high)


def _table(summary: pd.DataFrame) -> pd.DataFrame:
    def pct(x: float) -> str:
        return "" if pd.isna(x) else f"{100 * x:.1f}"

    shown = pd.DataFrame(
        {
            "majority": summary.majority.astype(str)
            + np.where(summary.ally.astype(bool), " + ally", ""),
            "subjects": summary.subjects,
            "conformity %": summary.conformity.map(pct),
            "95% CI": [
                "" if pd.isna(lo) else f"{pct(lo)}-{pct(hi)}"
                for lo, hi in zip(summary.ci_low, summary.ci_high, strict=True)
            ],
            "Asch %": summary.asch.map(pct),
            ">=1 %": summary.at_least_once.map(pct),
            "never %": summary.never.map(pct),
            "errors %": summary.error_rate.map(pct),
            "neutral err %": summary.neutral_error_rate.map(pct),
            "p(lure)": summary.p_lure.map(lambda x: "" if pd.isna(x) else f"{x:.2f}"),
            "invalid": summary.invalid,
        }
    )
    if summary.norm.nunique() > 1 or summary.persona.nunique() > 1:
        shown.insert(0, "persona", summary.persona)
        shown.insert(0, "norm", summary.norm)
    return shown
