"""Convention emergence: the coordination game in LLM and rule populations.

Ashery, Aiello and Baronchelli [1]_ let populations of N = 24 LLM agents play a
coordination game. At every step agents are paired at random; both partners pick a name
from a pool of W names (W = 2 or 10); a match pays both +100, a mismatch -50. Each agent's
prompt holds only its own last k = 5 interactions (its name, the partner's name, the
payoff); it knows nothing of the population. Populations reached a shared convention (the
last 3N interactions all succeeded) in a median of about 7 to 18 population rounds
(interactions / N), depending on the model. And although single agents, asked the same
prompt with no history, picked the names about evenly, populations settled on the same
name in most runs: a *collective bias* that no individual shows.

This study plays that game on a :class:`~workbench.society.Society` with the
``"pairwise"`` schedule (a random maximal matching along the network's edges each step:
every member plays at most once per step, N / 2 interactions on a complete network). The
name order is shuffled in every LLM prompt (seeded), so position cannot decide. Rule
populations run through the same code:

- ``rule:naming_game``: the naming game's rules [2]_ (:class:`~workbench.society.games.
  NamingGame`) in this study's per-round game: the ``"speaker_hearer"`` schedule pairs
  every member once a step (Ashery et al.'s rounds, one partner speaking, the other
  answering having heard) and an invention is drawn from the W names (W = 2 is binary
  agreement). That is not the minimal naming game of [2]_, so no Baronchelli et al.
  number is printed beside it; its inventory holds every word since its last success, so
  the memory window does not bound it;
- ``rule:memory``: a best response to memory (:class:`~workbench.society.games.
  MemoryMajority`): the name partners used most often in the last k interactions.

Networks (after Centola and Baronchelli [3]_, whose human groups reached a global
convention on random networks and under homogeneous mixing but stayed fragmented longer
on a spatial lattice): ``complete`` (homogeneous mixing), ``ring`` (a ring lattice, each
member linked to its ``degree`` nearest neighbours), ``random`` (a connected random
``degree``-regular graph), or any kind of :data:`~workbench.society.TOPOLOGIES` with its
default parameters. The game itself (task, networks, play loop, measures) is the kit
:mod:`workbench.society.coordination`; this module composes it.

Measures, per population, network and size:

- **time to convergence** ``t_conv``: the first interaction at which the last 3N
  interactions all succeeded, in population rounds (interactions / N); ``settled``: the
  interactions before that successful streak began (``t_conv - 3``), which for the
  naming game tracks its classic convergence time;
- **success rate** and the **share of the population on the dominant name** over time
  (:func:`~workbench.society.coordination.timeline`); a member is on the name it last
  gave;
- the **winning name** of each run beside every persona's **isolated prior**: the same
  prompt with no history, asked of one member alone, once with the names in each cyclic
  order; the prior is the probability of choosing each name at the population's
  temperature, averaged over the orders (:meth:`ConventionsStudy.bias`).

Invalid answers (``valid`` False) are left out of every measure and counted (``invalid``):
an interaction with one is no evidence of success or failure (it neither extends nor
breaks a streak, though it takes its time), and a member that has played but never
validly is of unknown name, left out of the shares; a run with nothing valid has NaN
measures and is not ``measured``.

A run stops when it converges or after ``horizon`` population rounds.

The minimal naming game of Baronchelli et al. [2]_ (one random speaker-hearer pair per
interaction, a brand-new word per invention, consensus when every member holds one and
the same word, time in interactions) is :meth:`ConventionsStudy.minimal_game`, through
the fast path :func:`~workbench.society.coordination.minimal_naming_game`; its
references (t_conv and N_w^max ~ N^1.5 on a complete graph) are printed beside it only.

References
----------
.. [1] A. F. Ashery, L. M. Aiello and A. Baronchelli, "Emergent social conventions and
   collective bias in LLM populations", Science Advances 11, eadu9368 (2025).
.. [2] A. Baronchelli, M. Felici, V. Loreto, E. Caglioti and L. Steels, "Sharp transition
   towards shared vocabularies in multi-agent systems", J. Stat. Mech. P06014 (2006).
.. [3] D. Centola and A. Baronchelli, "The spontaneous emergence of conventions: an
   experimental study of cultural evolution", PNAS 112(7), 1989-1994 (2015).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from workbench import config
from workbench.errors import ConfigError
from workbench.llm.gateway import DEFAULT_MODEL
from workbench.society import Situation, Society, make_person
from workbench.society.checks import MAX_MEMBERS, check_rows, number, whole_list
from workbench.society.coordination import (
    MINIMAL_GAME_REFERENCE,
    check_game_network,
    check_game_population,
    collective_bias,
    coordination_game,
    isolated_priors,
    minimal_game_runs,
    minimal_game_summary,
    name_pool,
    per_round,
    play,
    prior_game,
    run_outcomes,
    timeline,
)
from workbench.society.persons import is_rule
from workbench.studies import Study, StudyResult, Unit, unit_seed
from workbench.studies._game import game_society, short_name

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from workbench.llm import Gateway

__all__ = ["ConventionsConfig", "ConventionsStudy"]

_MEMBERS_WHY = " members a society can hold in memory (each answers every round)"


@dataclass(frozen=True)
class ConventionsConfig:
    """Configuration of a convention-emergence study; every field is a CLI flag.

    Parameters
    ----------
    populations : tuple of str
        The populations to run, side by side: litellm model strings (LLM populations) or
        the rule specs ``rule:naming_game`` and ``rule:memory``.
    sizes : tuple of int
        Population sizes N.
    names : int
        Size W of the name pool (2 and 10 as in [1]_; LLM populations at most 26).
    memory : int
        Interactions k each member remembers (its prompt holds them).
    topologies : tuple of str
        Networks: ``complete``, ``ring``, ``random`` or another topology kind.
    degree : int
        Neighbours of each member on the ``ring`` and ``random`` networks.
    runs : int
        Independent populations per condition (run ``r`` has the same seed everywhere).
    horizon : float
        Most population rounds (interactions / N) a run may last; it stops earlier once
        converged.
    temperature : float
        Sampling temperature of LLM members (0.5 in [1]_).
    personas : tuple of str
        Personas of LLM members, assigned in turn (member i gets persona i mod count).
    persona_file : str or None
        A JSON file of extra personas.
    norm : str
        A norm preset or sentence shown to LLM members.
    name_offset : int
        Where the pool's letters start in :data:`~workbench.society.coordination.NAME_POOL`
        (0: F, J, ...): the same game with other names.
    wording : int
        Which paraphrase of the game's prompt members read (0, the original, to 2).
    """

    populations: tuple[str, ...] = config.populations(
        (DEFAULT_MODEL,), "populations: model strings or rule:naming_game, rule:memory"
    )
    sizes: tuple[int, ...] = config.factor((24,), "population sizes N")
    names: int = field(default=2, metadata={"help": "size W of the name pool (2 or 10)"})
    memory: int = config.memory(5, "interactions each member remembers")
    topologies: tuple[str, ...] = config.topologies(
        ("complete",), "networks: complete, ring, random, ..."
    )
    degree: int = config.degree(4)
    runs: int = config.count(3, "populations per condition")
    horizon: float = field(default=30.0, metadata={"help": "most population rounds per run"})
    temperature: float = config.temperature(0.5)
    personas: tuple[str, ...] = config.personas(library=True)
    persona_file: str | None = config.persona_file()
    norm: str = config.norm("none")
    name_offset: int = field(
        default=0, metadata={"help": "where the names start in the letters FJKMPQ... (0: F, J)"}
    )
    wording: int = config.wording()

    def __post_init__(self) -> None:
        config.normalise(self)
        whole_list(self, "sizes", None, MAX_MEMBERS, _MEMBERS_WHY)
        check_game_population(self.populations, self.names, self.memory, self.degree)
        self.pool()  # a one-line error for an offset the pool cannot take
        if any(n < 2 for n in self.sizes):
            raise ConfigError(f"populations need at least 2 members, got {self.sizes}")
        number(self, "horizon", 0.0, open_low=True)
        # a run plays at most ceil(horizon x N) interactions of two rows, plus one step's
        # overshoot (N rows); the priors ask each persona once per name order
        cells = self.runs * len(self.populations) * len(self.topologies)
        per_horizon = 2 * cells * sum(self.sizes)
        fixed = (
            cells * sum(2 + n for n in self.sizes)
            + len(self.populations) * len(self.personas) * self.names
        )
        check_rows(
            fixed + per_horizon * self.horizon,
            "2 x --horizon x --sizes x --runs x populations x topologies",
            "--horizon, --runs or --sizes",
            most=("horizon", per_horizon, fixed),
        )
        for kind in self.topologies:
            for n in self.sizes:
                check_game_network(kind, n, self.degree)

    def pool(self) -> tuple[str, ...]:
        """The names of the game."""
        return name_pool(self.names, self.name_offset)

    @property
    def model(self) -> str:
        """The LLM models of the study, comma-separated (for run listings), or ``"rules"``."""
        return ",".join(p for p in self.populations if not is_rule(p)) or "rules"

    def conditions(self) -> list[dict[str, Any]]:
        """Every game condition, in result order: population, then topology, then size."""
        return [
            {"population": m, "topology": t, "members": n, "part": "game"}
            for m in self.populations
            for t in self.topologies
            for n in self.sizes
        ]


class ConventionsStudy(Study):
    """Convention emergence in LLM and rule populations (Ashery et al. 2025).

    Parameters
    ----------
    config : ConventionsConfig or None
        Populations, sizes, networks, name pool, memory, runs.
    seed : int or None
        Seed of the run (drawn and recorded when None).

    Examples
    --------
    >>> cfg = ConventionsConfig(populations=("rule:naming_game", "rule:memory"), runs=4)
    >>> result = ConventionsStudy(cfg, seed=1).run()
    >>> ConventionsStudy(cfg).table(result.summary)  # doctest: +SKIP
    """

    name = "conventions"
    example: ClassVar[dict] = {
        "populations": ("rule:naming_game", "rule:memory"),
        "sizes": (10,),
        "runs": 2,
    }
    Config = ConventionsConfig

    def units(self, seed: int) -> list[Unit]:
        """``runs`` populations per condition, then one isolated-prior unit per persona.

        Run ``r`` has the same seed in every condition; prior units are one member asked
        the first-round prompt once per cyclic order of the names.
        """
        cfg = self.config
        games = [
            (c, r, unit_seed(seed, "conventions.game", r))
            for c in cfg.conditions()
            for r in range(cfg.runs)
        ]
        priors = [
            (
                {"population": m, "topology": "alone", "members": 1, "part": "prior"},
                j,
                unit_seed(seed, "conventions.prior", j),
            )
            for m in cfg.populations
            for j in range(len(cfg.personas))
        ]
        return [Unit(i, c, r, s) for i, (c, r, s) in enumerate(games + priors)]

    def models(self) -> list[str]:
        return list(self.config.populations)

    def build(self, unit: Unit, gateway: Gateway | None = None, run_id: str = "") -> Society:
        """The society of one unit: a population on its network, or one member alone."""
        cfg, cond = self.config, unit.conditions
        names = cfg.pool()
        model = cond["population"]
        if cond["part"] == "prior":
            person = make_person(
                model,
                cfg.personas[unit.replicate],
                temperature=cfg.temperature,
                persona_file=cfg.persona_file,
            )
            # LLMs are asked once per cyclic order of the names; rules ignore the order
            return self.society(
                unit,
                [person],
                prior_game(names, rotate=not person.is_rule, wording=cfg.wording),
                Situation(norm=cfg.norm, memory=0, schedule="synchronous"),
                gateway,
                run_id,
                conditions={**cond, "run": unit.replicate},
                roles=["prior"],
            )
        game = coordination_game(names, wording=cfg.wording)
        return game_society(
            self, unit, model, cond["topology"], cond["members"], game, gateway, run_id
        )

    def play(self, society: Society, unit: Unit) -> pd.DataFrame:
        """A prior unit answers its rounds; a population plays until it has converged or
        reached the horizon (:func:`~workbench.society.coordination.play`)."""
        if unit.conditions["part"] == "prior":
            return society.run()
        n = unit.conditions["members"]
        play(society, int(np.ceil(self.config.horizon * n)))
        return society.decisions

    # -- analysis ---------------------------------------------------------------------

    def summarize(self, decisions: pd.DataFrame, seed: int) -> pd.DataFrame:
        """Per condition: convergence, final success and dominance, winner vs prior.

        Returns
        -------
        pandas.DataFrame
            One row per (``population``, ``topology``, ``members``): ``names``, ``runs``,
            ``converged`` (runs), ``rounds`` (median time to convergence in population
            rounds over converged runs), ``rounds_q1``, ``rounds_q3``, ``settled``
            (median rounds before the final successful streak), ``success`` (success
            rate over each run's last population round, mean over runs),
            ``dominant_share`` (share of members on the dominant name at the end, mean),
            ``winner`` (the name most runs ended on), ``winner_runs``,
            ``winner_prior`` (the isolated prior of that name), ``invalid`` (invalid
            decisions), ``measured`` (runs with at least one interaction of two valid
            answers), and the published ``reference`` with its ``source``.

        Notes
        -----
        Invalid answers are left out of every measure (see :func:`run_outcomes`): the
        success rates and shares are over valid answers, and the means over runs skip
        runs that were not measured, so a run of unreadable answers is NaN, not a
        failure to coordinate.
        """
        keys = ["population", "topology", "members"]
        games = decisions[decisions.part == "game"]
        per_run = run_outcomes(games)
        priors = self.priors(decisions)
        out = []
        for cond, runs in per_run.groupby(keys, sort=False):
            done = runs[runs.converged]
            winners = (done if len(done) else runs).winner.value_counts()
            winner = winners.index[0] if len(winners) else None
            prior = priors[(priors.population == cond[0]) & (priors.name == winner)]
            sub = games[
                (games.population == cond[0])
                & (games.topology == cond[1])
                & (games.members == cond[2])
            ]
            ref, source = _reference_for(*cond)
            out.append(
                {
                    **dict(zip(keys, cond, strict=True)),
                    "names": self.config.names,
                    "runs": len(runs),
                    "measured": int(runs.measured.sum()),
                    "converged": int(runs.converged.sum()),
                    "rounds": float(done.rounds.median()) if len(done) else np.nan,
                    "rounds_q1": float(done.rounds.quantile(0.25)) if len(done) else np.nan,
                    "rounds_q3": float(done.rounds.quantile(0.75)) if len(done) else np.nan,
                    "settled": float(done.settled.median()) if len(done) else np.nan,
                    "success": float(runs.success.mean()),  # skips unmeasured runs
                    "dominant_share": float(runs.dominant_share.mean()),
                    "winner": winner,
                    "winner_runs": int(winners.iloc[0]) if len(winners) else 0,
                    "winner_prior": float(prior.prior.mean()) if len(prior) else np.nan,
                    "invalid": int((~sub.valid.astype(bool)).sum()),
                    "reference": ref,
                    "source": source,
                }
            )
        return pd.DataFrame(out)

    def priors(self, decisions: pd.DataFrame) -> pd.DataFrame:
        """Isolated priors: per population, persona and name, the choice probability.

        The probability of choosing each name at the population's temperature, averaged
        over the cyclic orders the names were listed in (the prior units).

        Returns
        -------
        pandas.DataFrame
            Columns ``population``, ``persona``, ``name``, ``prior``, ``raw`` (the
            model's probability before temperature).
        """
        rows = decisions[(decisions.part == "prior") & decisions.valid.astype(bool)]
        return isolated_priors(rows, self.config.pool(), self.config.temperature)

    def bias(self, result: StudyResult) -> pd.DataFrame:
        """Collective bias: how often each name won, beside each persona's isolated prior.

        Returns
        -------
        pandas.DataFrame
            One row per population and name: ``won`` (share of converged runs that ended
            on it; all measured runs when none converged), ``runs``, ``prior`` (mean
            isolated prior over personas) and one ``prior: <persona>`` column per persona.
        """
        per_run = run_outcomes(result.decisions[result.decisions.part == "game"])
        priors = self.priors(result.decisions)
        return collective_bias(per_run, priors, self.config.pool())

    def minimal_game(
        self, sizes: tuple[int, ...] = (24, 100, 316, 1000), runs: int = 20, seed: int = 0
    ) -> pd.DataFrame:
        """The minimal naming game of Baronchelli et al. [2]_ on a complete graph, per size.

        One random speaker-hearer pair per interaction and a brand-new word per
        invention (:func:`~workbench.society.coordination.minimal_naming_game`, a fast
        path without a Society); not the per-round game of :meth:`run`.

        Returns
        -------
        pandas.DataFrame
            :func:`~workbench.society.coordination.minimal_game_summary` (mean t_conv and
            N_w^max with their standard errors, and divided by N^1.5), with the
            ``reference`` and ``source`` of this game.
        """
        summary = minimal_game_summary(minimal_game_runs(sizes, runs, seed))
        summary["reference"] = MINIMAL_GAME_REFERENCE["result"]
        summary["source"] = MINIMAL_GAME_REFERENCE["source"]
        return summary

    def reference(self) -> pd.DataFrame:
        """Published results on convention emergence (REFERENCES.md).

        Returns
        -------
        pandas.DataFrame
            Columns ``setup``, ``result``, ``source``.
        """
        return pd.DataFrame(_REFERENCES, columns=["setup", "result", "source"])

    def table(self, summary: pd.DataFrame) -> pd.DataFrame:
        """The summary as a readable table (population rounds, shares, reference)."""

        def num(x: float, digits: int = 1) -> str:
            return "" if pd.isna(x) else f"{x:.{digits}f}"

        return pd.DataFrame(
            {
                "population": summary.population,
                "network": summary.topology,
                "N": summary.members,
                "converged": summary.converged.astype(str) + "/" + summary.measured.astype(str),
                "rounds (median)": summary.rounds.map(num),
                "IQR": [
                    "" if pd.isna(a) else f"{a:.1f}-{b:.1f}"
                    for a, b in zip(summary.rounds_q1, summary.rounds_q3, strict=True)
                ],
                "success %": (100 * summary.success).map(lambda x: num(x, 0)),
                "on dominant %": (100 * summary.dominant_share).map(lambda x: num(x, 0)),
                "winner": [
                    "" if w is None else f"{w} ({k}/{c if c else r})"
                    for w, k, c, r in zip(
                        summary.winner,
                        summary.winner_runs,
                        summary.converged,
                        summary.measured,
                        strict=True,
                    )
                ],
                "prior of winner": summary.winner_prior.map(lambda x: num(x, 2)),
                "invalid": summary.invalid,
                "published": summary.reference,
            }
        )

    def plot(self, result: StudyResult) -> Figure:
        """Success rate and dominant-name share over time; winners beside priors.

        Returns
        -------
        matplotlib.figure.Figure
        """
        import matplotlib.pyplot as plt
        import seaborn as sns

        sns.set_theme(style="whitegrid", context="notebook")
        lines = per_round(
            timeline(result.decisions[result.decisions.part == "game"]), self.config.horizon
        )
        lines["condition"] = _condition_label(lines, self.config)
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.4), gridspec_kw={"width_ratios": [5, 5, 4]})
        for ax, y, label in (
            (axes[0], "success", "success rate"),
            (axes[1], "dominant_share", "share on the dominant name"),
        ):
            ax.axvspan(7, 18, color="0.9", zorder=0, label="Ashery 2025: median 7-18 (LLMs)")
            sns.lineplot(
                data=lines,
                x="round",
                y=y,
                hue="condition",
                errorbar=("pi", 50),
                ax=ax,
                legend=ax is axes[0],
            )
            ax.set(xlabel="population rounds (interactions / N)", ylabel=label, ylim=(-0.02, 1.02))
        axes[0].legend(fontsize="x-small", loc="lower right")
        axes[0].set_title("mean over runs (band: middle half)", fontsize="small")
        bias = self.bias(result)
        ax = axes[2]
        if len(bias):
            populations = list(dict.fromkeys(bias.population))
            names = list(dict.fromkeys(bias.name))
            width = 0.8 / len(populations)
            palette = sns.color_palette("deep")
            for k, population in enumerate(populations):
                rows = bias[bias.population == population].set_index("name").loc[names]
                x = np.arange(len(names)) - 0.4 + width * (k + 0.5)
                ax.bar(x, rows.won, width, color=palette[k], label=f"{short_name(population)}: won")
                ax.scatter(
                    x,
                    rows.prior,
                    marker="_",
                    s=600 * width,
                    linewidths=3,
                    color="black",
                    zorder=3,
                    label="isolated prior" if k == 0 else None,
                )
            ax.set_xticks(np.arange(len(names)), names)
            ax.axhline(1 / self.config.names, color="0.4", linestyle=":", lw=1)
            ax.set(
                xlabel="name",
                ylabel="share of runs won / prior",
                ylim=(0, 1.02),
                title="collective bias: winners vs isolated priors",
            )
            # beside the bars, not over them: a winner's bar can reach 1
            ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
        fig.suptitle(
            f"Convention emergence: W={self.config.names} names, memory k={self.config.memory}"
        )
        fig.tight_layout()
        return fig


def _condition_label(frame: pd.DataFrame, cfg: Any) -> pd.Series:
    parts = [frame.population.map(short_name)]
    if len(cfg.topologies) > 1:
        parts.append(frame.topology)
    if len(cfg.sizes) > 1:
        parts.append("N=" + frame.members.astype(str))
    label = parts[0]
    for p in parts[1:]:
        label = label + ", " + p
    return label


_REFERENCES = [
    (
        "LLM populations, N=24, complete, W=2 or 10, k=5, temperature 0.5",
        "median convergence 7-18 population rounds, model dependent; single agents near "
        "50/50, yet populations settle on the same name in most runs (collective bias)",
        "Ashery, Aiello & Baronchelli 2025, Sci. Adv. 11, eadu9368",
    ),
    (
        "humans, N=24-96: spatial lattice vs random network vs homogeneous mixing",
        "random and mixed populations reach a global convention; spatial ones stay "
        "fragmented longer",
        "Centola & Baronchelli 2015, PNAS 112(7)",
    ),
    (
        MINIMAL_GAME_REFERENCE["setup"] + " (ConventionsStudy.minimal_game, not the "
        "per-round game)",
        MINIMAL_GAME_REFERENCE["result"],
        MINIMAL_GAME_REFERENCE["source"],
    ),
]


def _reference_for(population: str, topology: str, members: int) -> tuple[str, str]:
    # rule:naming_game here is the per-round game over W names, not Baronchelli et al.'s
    # minimal game: its N^1.5 laws are printed only beside ConventionsStudy.minimal_game
    if is_rule(population):
        return "", ""
    if topology == "complete":
        return "median 7-18 rounds (N=24)", _REFERENCES[0][2]
    if topology in ("ring", "grid"):
        return "fragmented longer (humans)", _REFERENCES[1][2]
    return "global convention (humans)", _REFERENCES[1][2]
