"""Committed minorities: how many unwavering members does it take to overturn a convention?

Once a population shares a convention, a committed minority that always gives an
alternative can tip it, but only above a *critical mass*. In Centola et al.'s online
experiment [1]_ (groups of about 20-30 people playing a naming game) the tipping point
was about 25% of the group. In the binary-agreement naming game of Xie et al. [2]_ the
critical fraction is about 10% (in the limit of a large population). In LLM populations
playing the coordination game (:mod:`workbench.society.coordination`), Ashery et al.
[3]_ found critical masses from 2% to 67%, depending on the model and on which name was
established (the collective bias makes some conventions easier to overturn).

Here a population first plays ``establish`` scripted rounds on the convention (every
member gives it and succeeds, so every memory is full of it; for the naming game every
inventory holds only it). Then a fraction ``p`` of the members, drawn at random (the same
order in every condition of a run, so larger minorities contain the smaller ones), is
replaced by :class:`~workbench.society.Committed` members that always give the
alternative; the others return to their own person (an LLM, or a rule policy) with the
scripted memory. The population then plays for ``horizon`` population rounds, or until it
has converged on the alternative (the last 3N interactions all succeeded on it).

Measures, per population, established name and ``p``:

- **takeover**: at the end, the alternative is the latest answer of at least
  ``takeover`` (a share, 0.5 by default: a majority) of the uncommitted members;
  ``p_takeover`` is the share of runs with a takeover;
- ``alt_share``: the uncommitted members' share on the alternative at the end;
- the **critical mass**: the smallest committed fraction at which ``p_takeover`` reaches
  one half, interpolated linearly between the swept fractions (the fraction is the
  actual ``round(p N) / N``).

Invalid answers (``valid`` False) are left out of every measure and counted
(``invalid``): an uncommitted member whose answers since the arrival were all invalid is
of unknown name, not still on the convention, and a run with no member of known name is
not ``measured`` (``p_takeover`` is over the measured runs).

Our measured critical mass depends on N and the horizon, unlike the large-N, long-time
limit of [2]_: a small population's critical mass is coarse-grained in steps of 1/N, and
a short horizon misses slow takeovers just above the threshold.

References
----------
.. [1] D. Centola, J. Becker, D. Brackbill and A. Baronchelli, "Experimental evidence for
   tipping points in social convention", Science 360(6393), 1116-1119 (2018).
.. [2] J. Xie, S. Sreenivasan, G. Korniss, W. Zhang, C. Lim and B. K. Szymanski, "Social
   consensus through the influence of committed minorities", Phys. Rev. E 84, 011130
   (2011).
.. [3] A. F. Ashery, L. M. Aiello and A. Baronchelli, "Emergent social conventions and
   collective bias in LLM populations", Science Advances 11, eadu9368 (2025).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from workbench import config
from workbench.errors import ConfigError
from workbench.llm.gateway import DEFAULT_MODEL
from workbench.society import Committed, Society, Task
from workbench.society.checks import MAX_ROWS, ROWS_WHY, check_rows, number, whole
from workbench.society.coordination import (
    check_game_network,
    check_game_population,
    coordination_game,
    interactions,
    name_pool,
    nanmean,
    per_round,
    play,
    unit_keys,
)
from workbench.society.persons import is_rule
from workbench.studies import Study, StudyResult, Unit, unit_seed
from workbench.studies._game import game_society, short_name

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from workbench.llm import Gateway

__all__ = [
    "MinorityConfig",
    "MinoritySociety",
    "MinorityStudy",
    "critical_mass",
    "minority_timeline",
]

#: Published critical masses (REFERENCES.md).
CENTOLA_2018 = 0.25
XIE_2011 = 0.10
ASHERY_2025 = (0.02, 0.67)
#: The condition columns of a unit of this study (besides the coordination game's own).
KEYS = ("population", "convention", "alternative", "committed", "committed_members", "run")


@dataclass(frozen=True)
class MinorityConfig:
    """Configuration of a committed-minority study; every field is a CLI flag.

    Parameters
    ----------
    populations : tuple of str
        Populations: litellm model strings or ``rule:naming_game``, ``rule:memory``.
    members : int
        Population size N.
    names : int
        Size W of the name pool.
    memory : int
        Interactions each member remembers.
    committed : tuple of float
        Committed fractions p to sweep (``round(p N)`` members).
    convention : tuple of str
        Established names to run (each against the alternative: the first other name of
        the pool); running both of two names shows whether the collective bias makes
        one convention easier to overturn.
    establish : int
        Scripted rounds on the convention before the committed members arrive (at least
        ``memory``, so that every memory holds only the convention).
    runs : int
        Populations per condition (run ``r`` has the same seed and the same order of
        committed members everywhere).
    horizon : float
        Population rounds played after the committed members arrive (fewer once the
        population has converged on the alternative).
    takeover : float
        Share of uncommitted members on the alternative at the end that counts as a
        takeover (0.5: a majority).
    topology : str
        Network: ``complete``, ``ring``, ``random`` or another topology kind.
    degree : int
        Neighbours of each member on the ``ring`` and ``random`` networks.
    temperature : float
        Sampling temperature of LLM members.
    personas : tuple of str
        Personas of LLM members, assigned in turn.
    persona_file : str or None
        A JSON file of extra personas.
    norm : str
        A norm preset or sentence shown to LLM members.
    wording : int
        Which paraphrase of the game's prompt members read (0, the original, to 2).
    """

    populations: tuple[str, ...] = config.populations(
        (DEFAULT_MODEL,), "populations: model strings or rule:naming_game, rule:memory"
    )
    members: int = config.members(24, "population size N")
    names: int = field(default=2, metadata={"help": "size W of the name pool"})
    memory: int = config.memory(5, "interactions each member remembers")
    committed: tuple[float, ...] = config.factor(
        (0.0, 0.1, 0.2, 0.3, 0.4, 0.5), "committed fractions p to sweep"
    )
    convention: tuple[str, ...] = config.factor(
        ("F",), "established names (alternative: the next name)"
    )
    establish: int = field(
        default=5, metadata={"help": "scripted rounds on the convention (>= memory)"}
    )
    runs: int = config.count(3, "populations per condition")
    horizon: float = field(default=20.0, metadata={"help": "population rounds after arrival"})
    takeover: float = field(
        default=0.5, metadata={"help": "share of uncommitted on the alternative = takeover"}
    )
    topology: str = config.topology("complete", "network: complete, ring, random, ...")
    degree: int = config.degree(4)
    temperature: float = config.temperature(0.5)
    personas: tuple[str, ...] = config.personas(library=True)
    persona_file: str | None = config.persona_file()
    norm: str = config.norm("none")
    wording: int = config.wording()

    def __post_init__(self) -> None:
        config.normalise(self)
        pool = check_game_population(self.populations, self.names, self.memory, self.degree)
        for name in self.convention:
            if name not in pool:
                raise ConfigError(f"convention {name!r} is not one of the names {pool}")
        if any(not 0.0 <= p < 1.0 for p in self.committed):
            raise ConfigError(f"committed fractions must be in [0, 1), got {self.committed}")
        if self.members < 2:
            raise ConfigError(f"populations need at least 2 members, got {self.members}")
        whole(self, "establish", None, MAX_ROWS, ROWS_WHY)
        if self.establish < self.memory:
            raise ConfigError(
                f"establish ({self.establish}) must be at least memory ({self.memory}) "
                "rounds, so every memory holds only the convention"
            )
        number(self, "horizon", 0.0, open_low=True)
        number(self, "takeover", 0.0, 1.0, open_low=True)
        # a run: establish steps of N rows, then at most ceil(horizon x N) interactions of
        # two rows, plus one step's overshoot (N rows)
        n = self.members
        units = len(self.populations) * len(self.convention) * len(self.committed)
        per_run = n * self.establish + 2 * (self.horizon * n + 1) + n
        check_rows(
            units * self.runs * per_run,
            "(--establish + 2 x --horizon) x --members x --runs x conditions",
            "--horizon, --establish, --runs or --members",
            most=(
                "horizon",
                2 * n * units * self.runs,
                units * self.runs * (per_run - 2 * self.horizon * n),
            ),
        )
        check_game_network(self.topology, n, self.degree)

    @property
    def model(self) -> str:
        """The LLM models of the study, comma-separated (for run listings), or ``"rules"``."""
        return ",".join(p for p in self.populations if not is_rule(p)) or "rules"

    def alternative(self, convention: str) -> str:
        """The name the committed members give against ``convention``."""
        return next(n for n in name_pool(self.names) if n != convention)

    def conditions(self) -> list[dict[str, Any]]:
        """Every condition, in result order: population, convention, committed fraction."""
        return [
            {
                "population": m,
                "convention": c,
                "alternative": self.alternative(c),
                "committed": p,
                "committed_members": int(round(p * self.members)),
                "members": self.members,
            }
            for m in self.populations
            for c in self.convention
            for p in self.committed
        ]


class MinoritySociety(Society):
    """A society that plays scripted rounds on a convention, then meets a committed minority.

    For the first ``establish`` steps every member is a :class:`~workbench.society.Committed`
    member giving ``convention`` (role ``"establishing"``); at the next step the members at
    positions ``committed`` become committed to ``alternative`` (role ``"committed"``) and
    the others return to their own person (role ``"member"``), memories kept.

    Parameters
    ----------
    persons, task, situation
        As :class:`~workbench.society.Society`.
    convention, alternative : str
        The established name and the committed members' name.
    committed : sequence of int
        Positions (in ``persons``) of the members that become committed.
    establish : int
        Scripted steps.
    **kwargs
        Passed to :class:`~workbench.society.Society`.
    """

    def __init__(
        self,
        persons: Sequence[Any],
        task: Task,
        situation: Any,
        *,
        convention: str,
        alternative: str,
        committed: Sequence[int],
        establish: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(persons, task, situation, **kwargs)
        self.convention, self.alternative = convention, alternative
        self.committed = sorted(int(i) for i in committed)
        self.establish = int(establish)
        self._own = [m.person for m in self.members]
        for member in self.members:
            member.person = Committed(convention)
            member.role = "establishing"

    def step(self) -> None:
        if self.steps == self.establish + 1:  # mesa counted this step already
            chosen = set(self.committed)
            for i, member in enumerate(self.members):
                if i in chosen:
                    member.person, member.role = Committed(self.alternative), "committed"
                else:
                    member.person, member.role = self._own[i], "member"
        super().step()


class MinorityStudy(Study):
    """Committed minorities overturning an established convention (Centola et al. 2018).

    Parameters
    ----------
    config : MinorityConfig or None
        Populations, committed fractions, conventions, horizon.
    seed : int or None
        Seed of the run (drawn and recorded when None).

    Examples
    --------
    >>> cfg = MinorityConfig(populations=("rule:naming_game",), committed=(0.0, 0.1, 0.3))
    >>> result = MinorityStudy(cfg, seed=1).run()
    >>> MinorityStudy(cfg).table(result.summary)  # doctest: +SKIP
    """

    name = "minority"
    example: ClassVar[dict] = {
        "populations": ("rule:naming_game", "rule:memory"),
        "members": 12,
        "committed": (0.0, 0.25),
        "runs": 2,
        "horizon": 6.0,
    }
    Config = MinorityConfig

    def units(self, seed: int) -> list[Unit]:
        """``runs`` populations per condition; run ``r`` has the same seed everywhere."""
        cfg = self.config
        seeds = [unit_seed(seed, "unit", r) for r in range(cfg.runs)]
        return [
            Unit(k * cfg.runs + r, c, r, seeds[r])
            for k, c in enumerate(cfg.conditions())
            for r in range(cfg.runs)
        ]

    def models(self) -> list[str]:
        return list(self.config.populations)

    def build(self, unit: Unit, gateway: Gateway | None = None, run_id: str = "") -> Society:
        """The population of one unit, ready for its scripted rounds and the minority."""
        cfg, cond = self.config, unit.conditions
        n = cfg.members
        order = np.random.default_rng(unit_seed(unit.seed, "minority.order")).permutation(n)
        phases = ("establish",) * cfg.establish + ("minority",)
        game = coordination_game(name_pool(cfg.names), phases, wording=cfg.wording)
        return game_society(
            self,
            unit,
            cond["population"],
            cfg.topology,
            n,
            game,
            gateway,
            run_id,
            cls=MinoritySociety,
            convention=cond["convention"],
            alternative=cond["alternative"],
            committed=order[: cond["committed_members"]],
            establish=cfg.establish,
        )

    def play(self, society: Society, unit: Unit) -> pd.DataFrame:
        """The scripted rounds on the convention, then the game with the minority until the
        population has converged on the alternative or reached the horizon."""
        society.run(self.config.establish)
        horizon = int(np.ceil(self.config.horizon * self.config.members))
        play(society, horizon, on=unit.conditions["alternative"])
        return society.decisions

    # -- analysis ---------------------------------------------------------------------

    def summarize(self, decisions: pd.DataFrame, seed: int) -> pd.DataFrame:
        """Per condition: takeovers, final share on the alternative, critical mass.

        Returns
        -------
        pandas.DataFrame
            One row per (``population``, ``convention``, ``committed``):
            ``alternative``, ``committed_members``, ``fraction`` (their actual share),
            ``runs``, ``takeovers``, ``p_takeover``, ``alt_share`` (mean final share of
            uncommitted members on the alternative), ``rounds`` (median population
            rounds after the minority arrived until the uncommitted majority first gave
            the alternative, over runs where it did), ``invalid`` (invalid decisions),
            ``measured`` (runs whose final share could be read), ``critical_mass`` (of
            the population and convention, NaN when not reached), and the published
            ``centola_2018``, ``xie_2011``, ``ashery_2025_low``, ``ashery_2025_high``.

        Notes
        -----
        Invalid answers are left out (see :func:`minority_timeline`): ``p_takeover``,
        ``alt_share`` and ``rounds`` are over the measured runs only (NaN when there are
        none), so a run of unreadable answers is not a run the convention survived.
        """
        keys = ["population", "convention", "committed"]
        per_run = self.run_outcomes(decisions)
        out = []
        for cond, runs in per_run.groupby(keys, sort=False):
            measured = runs[runs.measured]
            rows = decisions[
                (decisions.population == cond[0])
                & (decisions.convention == cond[1])
                & (decisions.committed == cond[2])
            ]
            out.append(
                {
                    **dict(zip(keys, cond, strict=True)),
                    "alternative": runs.alternative.iloc[0],
                    "committed_members": int(runs.committed_members.iloc[0]),
                    "fraction": runs.committed_members.iloc[0] / self.config.members,
                    "runs": len(runs),
                    "measured": int(runs.measured.sum()),
                    "takeovers": int(runs.takeover.sum()),
                    "p_takeover": float(measured.takeover.mean()) if len(measured) else np.nan,
                    "alt_share": float(measured.alt_share.mean()) if len(measured) else np.nan,
                    "rounds": float(measured.rounds.median()) if len(measured) else np.nan,
                    "invalid": int((~rows.valid.astype(bool)).sum()),
                }
            )
        summary = pd.DataFrame(out)
        if summary.empty:
            return summary
        summary["critical_mass"] = np.nan
        for _, group in summary.groupby(["population", "convention"], sort=False):
            summary.loc[group.index, "critical_mass"] = critical_mass(
                group.fraction.to_numpy(), group.p_takeover.to_numpy()
            )
        summary["centola_2018"] = CENTOLA_2018
        summary["xie_2011"] = XIE_2011
        summary["ashery_2025_low"], summary["ashery_2025_high"] = ASHERY_2025
        return summary

    def run_outcomes(self, decisions: pd.DataFrame) -> pd.DataFrame:
        """Per run: final share of uncommitted members on the alternative, takeover.

        Returns
        -------
        pandas.DataFrame
            Condition keys, ``run``, ``measured`` (the final share could be read: some
            uncommitted member's name is known, see :func:`minority_timeline`),
            ``alt_share`` (NaN when not measured), ``takeover`` (False when not
            measured), ``rounds`` (population rounds after the minority arrived until
            the uncommitted majority first gave the alternative; NaN if never).
        """
        lines = minority_timeline(decisions)
        keys = [
            "population",
            "convention",
            "alternative",
            "committed",
            "committed_members",
            "run",
        ]
        out = []
        for key, unit in lines.groupby(keys, sort=False):
            share = float(unit.alt_share.iloc[-1]) if len(unit) else np.nan
            reached = unit[unit.alt_share > 0.5]
            out.append(
                {
                    **dict(zip(keys, key, strict=True)),
                    "measured": bool(np.isfinite(share)),
                    "alt_share": share,
                    "takeover": bool(share >= self.config.takeover),
                    "rounds": float(reached.rounds.iloc[0]) if len(reached) else np.nan,
                }
            )
        return pd.DataFrame(out)

    def reference(self) -> pd.DataFrame:
        """Published critical masses (REFERENCES.md).

        Returns
        -------
        pandas.DataFrame
            Columns ``setup``, ``critical_mass``, ``source``.
        """
        return pd.DataFrame(
            [
                ("humans, groups of about 20-30, naming game", "about 25%", "Centola et al. 2018"),
                (
                    "binary-agreement naming game, large N",
                    "about 10%",
                    "Xie et al. 2011",
                ),
                (
                    "LLM populations, N=24, coordination game",
                    "2% to 67%, by model and established name",
                    "Ashery et al. 2025",
                ),
            ],
            columns=["setup", "critical_mass", "source"],
        )

    def table(self, summary: pd.DataFrame) -> pd.DataFrame:
        """The summary as a readable table, with the published critical masses."""

        def pct(x: float) -> str:
            return "" if pd.isna(x) else f"{100 * x:.0f}"

        critical = [
            "not reached" if pd.isna(c) else f"{100 * c:.0f}%" for c in summary.critical_mass
        ]
        return pd.DataFrame(
            {
                "population": summary.population,
                "established": summary.convention + " vs " + summary.alternative,
                "committed": [
                    f"{m} ({pct(f)}%)"
                    for m, f in zip(summary.committed_members, summary.fraction, strict=True)
                ],
                "takeover": summary.takeovers.astype(str) + "/" + summary.measured.astype(str),
                "alt share %": summary.alt_share.map(pct),
                "rounds to majority": summary.rounds.map(
                    lambda x: "" if pd.isna(x) else f"{x:.1f}"
                ),
                "critical mass": critical,
                "invalid": summary.invalid,
                "published": "Centola 25%, Xie 10%, Ashery 2-67%",
            }
        )

    def plot(self, result: StudyResult) -> Figure:
        """Takeover probability against the committed fraction; the alternative over time.

        Returns
        -------
        matplotlib.figure.Figure
        """
        import matplotlib.pyplot as plt
        import seaborn as sns

        sns.set_theme(style="whitegrid", context="notebook")
        summary = result.summary
        fig, axes = plt.subplots(1, 2, figsize=(13, 5.2))
        ax = axes[0]
        # The published LLM range spans almost the whole axis: drawn as a thin labelled
        # interval above the data (no per-model points are stored), not as a band over it.
        ax.plot(ASHERY_2025, [_RANGE_Y] * 2, color="0.55", lw=4, solid_capstyle="butt")
        ax.text(
            sum(ASHERY_2025) / 2,
            _RANGE_Y + 0.03,
            f"Ashery 2025 (LLMs): critical mass {ASHERY_2025[0]:.0%} to {ASHERY_2025[1]:.0%},"
            " by model and established name",
            ha="center",
            va="bottom",
            fontsize="x-small",
        )
        for x, style, label in (
            (XIE_2011, ":", "Xie 2011: 10% (naming game)"),
            (CENTOLA_2018, "--", "Centola 2018: 25% (humans)"),
        ):  # up to P = 1, below the published range
            ax.vlines(x, -0.03, 1.03, color="black", linestyle=style, label=label)
        for (who, convention), group in summary.groupby(["population", "convention"], sort=False):
            label = f"{short_name(who)}, {convention} established"
            ax.plot(group.fraction, group.p_takeover, marker="o", label=label)
        ax.axhline(0.5, color="0.5", lw=0.8)
        ax.set(
            xlabel="committed fraction of the population",
            ylabel="P(alternative takes over)",
            ylim=(-0.03, _RANGE_Y + 0.12),
            yticks=np.linspace(0, 1, 6),
            title=f"Tipping points (N={self.config.members}, "
            f"{self.config.horizon:g} rounds after arrival)",
        )
        # below the axes, where it hides no line
        ax.legend(
            fontsize="x-small",
            loc="upper center",
            bbox_to_anchor=(0.5, -0.16),
            ncol=3,
            frameon=False,
        )
        first = summary.population.iloc[0], summary.convention.iloc[0]
        lines = minority_timeline(result.decisions)
        lines = lines[(lines.population == first[0]) & (lines.convention == first[1])]
        lines = per_round(lines, self.config.horizon, {"alt_share": "last"}, unit_keys(lines, KEYS))
        fraction = lines.committed_members / self.config.members
        lines["committed"] = (100 * fraction).round(0).astype(int).astype(str) + "%"
        order = sorted(lines.committed.unique(), key=lambda x: int(x[:-1]))
        sns.lineplot(
            data=lines,
            x="round",
            y="alt_share",
            hue="committed",
            hue_order=order,
            palette="viridis",
            errorbar=None,
            ax=axes[1],
        )
        axes[1].axhline(self.config.takeover, color="0.5", lw=0.8)
        axes[1].set(
            xlabel="population rounds after the minority arrived",
            ylabel="uncommitted members on the alternative",
            ylim=(-0.03, 1.03),
            title=f"{short_name(first[0])}, {first[1]} established",
        )
        axes[1].legend(title="committed", fontsize="x-small")
        fig.tight_layout()
        return fig


#: Height of the published range's interval on the takeover axis, above P = 1.
_RANGE_Y = 1.1


def critical_mass(fractions: np.ndarray, p_takeover: np.ndarray) -> float:
    """The smallest committed fraction at which the takeover probability reaches 1/2.

    Linear interpolation between the two swept fractions around the first crossing;
    the smallest fraction when it already reaches 1/2 there; NaN when none does.
    Fractions whose takeover probability is NaN (no measured run) are skipped.
    """
    x, y = np.asarray(fractions, float), np.asarray(p_takeover, float)
    known = ~np.isnan(y)
    x, y = x[known], y[known]
    order = np.argsort(x)
    x, y = x[order], y[order]
    above = np.flatnonzero(y >= 0.5)
    if not len(above):
        return np.nan
    i = above[0]
    if i == 0:
        return float(x[0])
    return float(x[i - 1] + (0.5 - y[i - 1]) * (x[i] - x[i - 1]) / (y[i] - y[i - 1]))


def minority_timeline(decisions: pd.DataFrame) -> pd.DataFrame:
    """Per run and step after the minority arrived: uncommitted members on the alternative.

    A member is on the name it last gave validly (scripted rounds included, so everyone
    starts on the convention). Invalid answers are left out: ``success`` is over the
    step's interactions with two valid answers, and an uncommitted member that has played
    since the arrival but never validly is of unknown name (not still on the convention),
    left out of ``alt_share``'s denominator. With nothing valid, both are NaN.

    Returns
    -------
    pandas.DataFrame
        Condition keys, ``run``, ``step``, ``interactions`` (since the arrival),
        ``rounds`` (interactions / N), ``success`` (share of the step's valid interactions
        that succeeded), ``alt_share`` (share of the uncommitted members of known name
        whose latest valid answer is the alternative).
    """
    keys = list(KEYS)
    pairs = interactions(decisions, unit_keys(decisions, KEYS))
    unit_ids = pairs.groupby(keys, sort=False).ngroup().to_numpy()
    key_values = pairs[keys].to_numpy(dtype=object)
    members = pairs.members.to_numpy()
    steps, phase = pairs.step.to_numpy(), pairs.phase.to_numpy(dtype=object)
    a, b = pairs.a.to_numpy(), pairs.b.to_numpy()
    ca, cb = pairs.choice_a.to_numpy(dtype=object), pairs.choice_b.to_numpy(dtype=object)
    committed_a = pairs.role_a.to_numpy(dtype=object) == "committed"
    committed_b = pairs.role_b.to_numpy(dtype=object) == "committed"
    success = pairs.success.to_numpy()
    rows = []
    i = 0
    while i < len(pairs):
        end = i
        while end < len(pairs) and unit_ids[end] == unit_ids[i]:
            end += 1
        committed = set(a[i:end][committed_a[i:end]]) | set(b[i:end][committed_b[i:end]])
        alternative, n = key_values[i][2], int(members[i])
        latest: dict = {}
        played, answered = set(), set()  # since the arrival: at all, and validly
        total = 0
        while i < end:
            j = i
            after = phase[i] == "minority"
            while j < end and steps[j] == steps[i]:
                for m, c in ((a[j], ca[j]), (b[j], cb[j])):
                    if after:
                        played.add(m)
                    if isinstance(c, str):
                        latest[m] = c
                        if after:
                            answered.add(m)
                j += 1
            if after:
                total += j - i
                unknown = played - answered
                uncommitted = [
                    c for m, c in latest.items() if m not in committed and m not in unknown
                ]
                on = sum(c == alternative for c in uncommitted)
                rows.append(
                    (
                        *key_values[i],
                        int(steps[i]),
                        total,
                        total / n,
                        nanmean(success[i:j]),
                        on / len(uncommitted) if uncommitted else np.nan,
                    )
                )
            i = j
    columns = [*keys, "step", "interactions", "rounds", "success", "alt_share"]
    return pd.DataFrame(rows, columns=columns)
