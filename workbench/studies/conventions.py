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

- ``rule:naming_game``: the minimal naming game [2]_ (:class:`~workbench.society.games.
  NamingGame`), played with the ``"speaker_hearer"`` schedule (its defining asymmetry: one
  partner speaks, the other answers having heard); its inventory holds every word since
  its last success, so the memory window does not bound it; its convergence time on a
  complete graph grows as N^1.5 [2]_;
- ``rule:memory``: a best response to memory (:class:`~workbench.society.games.
  MemoryMajority`): the name partners used most often in the last k interactions.

Networks (after Centola and Baronchelli [3]_, whose human groups reached a global
convention on random networks and under homogeneous mixing but stayed fragmented longer
on a spatial lattice): ``complete`` (homogeneous mixing), ``ring`` (a ring lattice, each
member linked to its ``degree`` nearest neighbours), ``random`` (a connected random
``degree``-regular graph), or any kind of :data:`~workbench.society.TOPOLOGIES` with its
default parameters.

Measures, per population, network and size:

- **time to convergence** ``t_conv``: the first interaction at which the last 3N
  interactions all succeeded, in population rounds (interactions / N); ``settled``: the
  interactions before that successful streak began (``t_conv - 3``), which for the
  naming game tracks its classic convergence time;
- **success rate** and the **share of the population on the dominant name** over time
  (:func:`timeline`); a member is on the name it last gave;
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
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import pandas as pd

from workbench.errors import ConfigError
from workbench.llm.gateway import DEFAULT_MODEL
from workbench.society import (
    TOPOLOGIES,
    Observation,
    Round,
    Situation,
    Society,
    Task,
    Topology,
    make_person,
    resolve_persona,
)
from workbench.society.checks import (
    MAX_MEMBERS,
    MAX_ROWS,
    MAX_TEMPERATURE,
    MAX_WINDOW,
    ROWS_WHY,
    check_network,
    check_rows,
    number,
    whole,
    whole_list,
)
from workbench.society.games import MemoryMajority, NamingGame  # noqa: F401  (registers rules)
from workbench.society.situation import norm_text
from workbench.society.task import chat
from workbench.studies import Study, StudyResult, Unit, normalise_lists, unit_seed

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from workbench.llm import Gateway

__all__ = [
    "NAME_POOL",
    "NAMING_GAME_MEMORY",
    "CoordinationGame",
    "ConventionsConfig",
    "ConventionsStudy",
    "convergence",
    "coordination_game",
    "interactions",
    "name_pool",
    "network",
    "per_round",
    "play",
    "run_outcomes",
    "timeline",
]

#: Letters used as names, in pool order: W names are the first W (F and J first, as the
#: two response keys of many psychology experiments). Larger pools (rule populations
#: only) use ``n1``, ``n2``, ...
NAME_POOL = "FJKMPQVWXZBCDGHLNRSTAEIOUY"
#: Payoffs of Ashery et al. [1]_.
REWARD, PENALTY = 100, -50
#: Memory window of naming-game members: their inventory is rebuilt from every
#: interaction since their last success, so the window must never bind.
NAMING_GAME_MEMORY = 1_000_000
#: Population rounds of successful interactions that mark convergence (3N interactions).
STREAK_ROUNDS = 3
#: Network kinds built by this study (besides :data:`~workbench.society.TOPOLOGIES`).
NETWORKS = ("complete", "ring", "random")
#: Largest name pool: every rule decision builds one probability per name.
MAX_NAMES = 10_000
_MEMBERS_WHY = " members a society can hold in memory (each answers every round)"


def name_pool(w: int) -> tuple[str, ...]:
    """The ``w`` names of a pool: single letters up to 26, else ``n1`` .. ``nw``."""
    if w < 2:
        raise ConfigError(f"a name pool needs at least 2 names, got {w}")
    if w <= len(NAME_POOL):
        return tuple(NAME_POOL[:w])
    return tuple(f"n{i}" for i in range(1, w + 1))


@dataclass(frozen=True)
class CoordinationGame(Task):
    """The coordination game as a task: the same round every step, a payoff prompt.

    The last round repeats once the rounds run out (so a task can open with scripted
    rounds, see :mod:`workbench.studies.minority`). The prompt (after [1]_, in the second
    person) states the rules and the payoffs, lists the member's remembered interactions
    (its name, the partner's name, the payoff), oldest first, and asks for one name; the
    names are listed in ``observation.listed`` order, shuffled per prompt when the
    situation shuffles. Rounds are not numbered, so the prompt depends only on the
    remembered interactions and the name order: identical prompts recur (and are answered
    once, from the cassette) once a population has settled.

    Parameters
    ----------
    rounds, name, preamble
        As :class:`~workbench.society.Task`.
    reward, penalty : int
        Points each partner gets on a match and on a mismatch.
    """

    reward: int = REWARD
    penalty: int = PENALTY

    def round(self, step: int) -> Round:
        return self.rounds[min(max(step, 1), len(self.rounds)) - 1]

    def payoff(self, choice: str | None, other: str | None) -> int:
        """Points for answering ``choice`` to a partner answering ``other``."""
        matched = choice is not None and choice == other
        return self.reward if matched else self.penalty

    def messages(self, observation: Observation, persona: str = "", norm: str = "") -> list[dict]:
        names = observation.listed
        listed = ", ".join(names[:-1]) + " or " + names[-1]
        unit = "one letter" if all(len(n) == 1 for n in names) else "one name"
        parts = [
            "You are playing a game, round after round. In every round you are paired "
            "with a partner, and you and your partner each pick a name from this list: "
            f"{', '.join(names)}. You cannot talk to each other.",
            f"If you both pick the same name, you each win {self.reward} points. If you "
            f"pick different names, you each lose {-self.penalty} points. Your goal is "
            "to win as many points as you can.",
        ]
        if observation.memory:
            lines = []
            for r in observation.memory:
                points = self.payoff(r.choice, r.other)
                lines.append(
                    f"- you picked {r.choice or 'nothing'}, your partner picked "
                    f"{r.other or 'nothing'} ({points:+d} points)"
                )
            parts.append(
                f"Your last {len(lines)} rounds, oldest first:\n" + "\n".join(lines)
                if len(lines) > 1
                else "Your last round:\n" + lines[0]
            )
        else:
            parts.append("This is your first round: you have no history yet.")
        if self.preamble:
            parts.insert(0, self.preamble)
        parts.append(f"Which name do you pick this round? Answer with {unit}: {listed}.")
        return chat(persona, norm, parts)


def coordination_game(names: tuple[str, ...], phases: tuple[str, ...] = ("game",)) -> Task:
    """A :class:`CoordinationGame` over ``names``, one round per phase (the last repeats).

    Each round's ``info`` holds its ``phase``, copied into every result row.
    """
    rounds = tuple(Round("Pick a name.", names, info={"phase": p}) for p in phases)
    return CoordinationGame(rounds, name="coordination")


def network(kind: str, n: int, degree: int, seed: int) -> nx.Graph | Topology:
    """The network of a population of ``n``.

    ``"ring"``: ring lattice, each member linked to its ``degree`` nearest neighbours;
    ``"random"``: a connected random ``degree``-regular graph (the same degree as the
    ring, as in [3]_); ``"complete"`` and the other kinds of
    :data:`~workbench.society.TOPOLOGIES` with their default parameters.
    """
    if kind in ("ring", "random") and n > 2:
        d = min(degree, n - 1 - (n - 1) % 2) if kind == "ring" else min(degree, n - 1)
        if kind == "ring":
            return nx.watts_strogatz_graph(n, max(d, 2), 0.0)
        if (n * d) % 2:
            d -= 1
        rng = np.random.default_rng(seed)
        for _ in range(100):
            graph = nx.random_regular_graph(d, n, seed=int(rng.integers(2**32)))
            if nx.is_connected(graph):
                return graph
        raise ConfigError(f"no connected random {d}-regular graph on {n} nodes")
    return Topology("complete" if kind in ("ring", "random") else kind)


@dataclass(frozen=True)
class ConventionsConfig:
    """Configuration of a convention-emergence study; every field is a CLI flag.

    Parameters
    ----------
    model : tuple of str
        The populations to run, side by side: litellm model strings (LLM populations) or
        the rule specs ``rule:naming_game`` and ``rule:memory``.
    members : tuple of int
        Population sizes N.
    names : int
        Size W of the name pool (2 and 10 as in [1]_; LLM populations at most 26).
    memory : int
        Interactions k each member remembers (its prompt holds them).
    topology : tuple of str
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
    persona : tuple of str
        Personas of LLM members, assigned in turn (member i gets persona i mod count).
    persona_file : str or None
        A JSON file of extra personas.
    norm : str
        A norm preset or sentence shown to LLM members.
    """

    model: tuple[str, ...] = field(
        default=(DEFAULT_MODEL,),
        metadata={"help": "populations: model strings or rule:naming_game, rule:memory"},
    )
    members: tuple[int, ...] = field(default=(24,), metadata={"help": "population sizes N"})
    names: int = field(default=2, metadata={"help": "size W of the name pool (2 or 10)"})
    memory: int = field(default=5, metadata={"help": "interactions each member remembers"})
    topology: tuple[str, ...] = field(
        default=("complete",), metadata={"help": "networks: complete, ring, random, ..."}
    )
    degree: int = field(default=4, metadata={"help": "degree of the ring and random networks"})
    runs: int = field(default=3, metadata={"help": "populations per condition"})
    horizon: float = field(default=30.0, metadata={"help": "most population rounds per run"})
    temperature: float = field(default=0.5, metadata={"help": "sampling temperature of LLMs"})
    persona: tuple[str, ...] = field(
        default=("none",), metadata={"help": "personas of LLM members, assigned in turn"}
    )
    persona_file: str | None = field(default=None, metadata={"help": "JSON file of personas"})
    norm: str = field(default="none", metadata={"help": "norm preset or sentence"})

    def __post_init__(self) -> None:
        normalise_lists(self, model=str, topology=str, persona=str)
        whole_list(self, "members", None, MAX_MEMBERS, _MEMBERS_WHY)
        if not self.model or not self.members or not self.topology or not self.persona:
            raise ConfigError("give at least one model, size, topology and persona")
        check_game_population(self)
        if any(n < 2 for n in self.members):
            raise ConfigError(f"populations need at least 2 members, got {self.members}")
        for kind in self.topology:
            if kind not in NETWORKS and kind not in TOPOLOGIES:
                raise ConfigError(
                    f"unknown topology {kind!r}; choose one of "
                    f"{', '.join(dict.fromkeys([*NETWORKS, *TOPOLOGIES]))}"
                )
        whole(self, "runs", 1, MAX_ROWS, ROWS_WHY)
        number(self, "horizon", 0.0, open_low=True)
        # a run plays at most ceil(horizon x N) interactions of two rows, plus one step's
        # overshoot (N rows); the priors ask each persona once per name order
        cells = self.runs * len(self.model) * len(self.topology)
        per_horizon = 2 * cells * sum(self.members)
        fixed = (
            cells * sum(2 + n for n in self.members)
            + len(self.model) * len(self.persona) * self.names
        )
        check_rows(
            fixed + per_horizon * self.horizon,
            "2 x --horizon x --members x --runs x models x topologies",
            "--horizon, --runs or --members",
            most=("horizon", per_horizon, fixed),
        )
        for kind in self.topology:
            for n in self.members:
                check_game_network(kind, n, self.degree)

    def conditions(self) -> list[dict[str, Any]]:
        """Every game condition, in result order: population, then topology, then size."""
        return [
            {"population": m, "topology": t, "members": n, "part": "game"}
            for m in self.model
            for t in self.topology
            for n in self.members
        ]


def check_game_population(cfg: Any) -> tuple[str, ...]:
    """Check the fields a coordination-game config shares; return its name pool.

    Used by :class:`ConventionsConfig` and the committed-minority config: every persona
    resolves, every model makes a person, LLM populations fit the letter names, memory and
    network degree are usable whole numbers, the temperature is finite, the norm is known.
    """
    whole(cfg, "names", None, MAX_NAMES, " names a run can offer (one probability each)")
    whole(cfg, "memory", None, MAX_WINDOW, " interactions a member can remember")
    whole(cfg, "degree", None, MAX_MEMBERS, " neighbours a member can have")
    number(cfg, "temperature", 0.0, MAX_TEMPERATURE)
    for persona in cfg.persona:
        resolve_persona(persona, cfg.persona_file)
    for model in cfg.model:
        make_person(model, temperature=cfg.temperature)
    pool = name_pool(cfg.names)
    if any(not m.startswith("rule:") for m in cfg.model) and cfg.names > len(NAME_POOL):
        raise ConfigError(f"LLM populations need at most {len(NAME_POOL)} names")
    if cfg.memory < 1:
        raise ConfigError(f"memory must be at least 1 interaction, got {cfg.memory}")
    if cfg.degree < 2:
        raise ConfigError(f"degree must be at least 2, got {cfg.degree}")
    norm_text(cfg.norm)
    return pool


def check_game_network(kind: str, n: int, degree: int) -> None:
    """Reject a population of ``n`` whose network (see :func:`network`) would not fit in memory."""
    if kind in ("ring", "random"):
        check_network(kind, n, k=degree)
    else:  # the other kinds with their default parameters
        defaults = Topology(kind)
        check_network(kind, n, k=defaults.k, p=defaults.p, m=defaults.m)


def _persons(model: str, n: int, cfg: Any) -> list:
    return [
        make_person(
            model,
            cfg.persona[i % len(cfg.persona)],
            temperature=cfg.temperature,
            persona_file=cfg.persona_file,
        )
        for i in range(n)
    ]


def _situation(model: str, graph: Any, cfg: Any, names: int) -> tuple[Situation, bool]:
    naming = model.startswith("rule:naming_game")
    situation = Situation(
        norm=cfg.norm,
        topology=graph,
        memory=NAMING_GAME_MEMORY if naming else cfg.memory,
        schedule="speaker_hearer" if naming else "pairwise",
        shuffle=True,
    )
    return situation, names > len(NAME_POOL)


def play(society: Society, max_interactions: int, on: str | None = None) -> int:
    """Step ``society`` until it has converged or played ``max_interactions``.

    Converged: the last 3N interactions all succeeded (on the name ``on``, when given);
    an interaction with an invalid answer neither extends nor breaks the streak, as in
    :func:`convergence`. Returns the number of interactions played in this call. It
    reads the decisions table's raw columns, so checking costs O(new rows) per step.
    """
    need = STREAK_ROUNDS * len(society.members)
    table = society.datacollector.tables["decisions"]
    choices, valid = table["choice"], table["valid"]
    seen = start = len(choices)
    streak = 0
    while (seen - start) // 2 < max_interactions and streak < need:
        society.step()
        if len(choices) == seen:
            break  # nobody could be matched
        for i in range(seen, len(choices), 2):
            if not (valid[i] and valid[i + 1]):
                continue  # no evidence either way
            ok = choices[i] == choices[i + 1] and (on is None or choices[i] == on)
            streak = streak + 1 if ok else 0
        seen = len(choices)
    return (seen - start) // 2


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
    >>> cfg = ConventionsConfig(model=("rule:naming_game", "rule:memory"), runs=4)
    >>> result = ConventionsStudy(cfg, seed=1).run()
    >>> ConventionsStudy(cfg).table(result.summary)  # doctest: +SKIP
    """

    name = "conventions"
    Config = ConventionsConfig

    def units(self, seed: int) -> list[Unit]:
        """``runs`` populations per condition, then one isolated-prior unit per persona.

        Run ``r`` has the same seed in every condition; prior units are one member asked
        the first-round prompt once per cyclic order of the names.
        """
        cfg = self.config
        games = [(c, r, unit_seed(seed, 0, r)) for c in cfg.conditions() for r in range(cfg.runs)]
        priors = [
            (
                {"population": m, "topology": "alone", "members": 1, "part": "prior"},
                j,
                unit_seed(seed, 1, j),
            )
            for m in cfg.model
            for j in range(len(cfg.persona))
        ]
        return [Unit(i, c, r, s) for i, (c, r, s) in enumerate(games + priors)]

    def models(self) -> list[str]:
        return list(self.config.model)

    def build(self, unit: Unit, gateway: Gateway | None = None, run_id: str = "") -> Society:
        """The society of one unit: a population on its network, or one member alone."""
        cfg, cond = self.config, unit.conditions
        names = name_pool(cfg.names)
        model = cond["population"]
        if cond["part"] == "prior":
            person = make_person(
                model,
                cfg.persona[unit.replicate],
                temperature=cfg.temperature,
                persona_file=cfg.persona_file,
            )
            # LLMs are asked once per cyclic order of the names; rules ignore the order
            rotations = len(names) if not person.is_rule else 1
            orders = [names[i:] + names[:i] for i in range(rotations)]
            task = CoordinationGame(
                tuple(Round("Pick a name.", o, info={"phase": "prior"}) for o in orders),
                name="coordination",
            )
            return Society(
                [person],
                task,
                Situation(norm=cfg.norm, memory=0, schedule="synchronous"),
                seed=unit.seed,
                gateway=gateway,
                roles=["prior"],
                conditions={**cond, "run": unit.replicate},
                run_id=run_id,
            )
        n = cond["members"]
        graph = network(cond["topology"], n, cfg.degree, unit_seed(unit.seed, 7))
        situation, lean = _situation(model, graph, cfg, cfg.names)
        return Society(
            _persons(model, n, cfg),
            coordination_game(names),
            situation,
            seed=unit.seed,
            gateway=gateway,
            conditions={**cond, "run": unit.replicate},
            run_id=run_id,
            lean=lean,
        )

    def _run_unit(self, unit: Unit, gateway: Gateway | None, run_id: str) -> pd.DataFrame:
        society = self.build(unit, gateway, run_id)
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
        t = self.config.temperature
        out = []
        for (population, persona), group in rows.groupby(["population", "persona"], sort=False):
            raw: dict[str, list[float]] = {}
            tempered: dict[str, list[float]] = {}
            for options, probabilities in zip(group.options, group.probabilities, strict=True):
                p = np.asarray(probabilities, dtype=float)
                q = _temper(p, t)
                for o, x, y in zip(options, p, q, strict=True):
                    raw.setdefault(o, []).append(float(x))
                    tempered.setdefault(o, []).append(float(y))
            for name in name_pool(self.config.names):
                if name in raw:
                    out.append(
                        {
                            "population": population,
                            "persona": persona,
                            "name": name,
                            "prior": float(np.mean(tempered[name])),
                            "raw": float(np.mean(raw[name])),
                        }
                    )
        return pd.DataFrame(out, columns=["population", "persona", "name", "prior", "raw"])

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
        out = []
        for population, runs in per_run.groupby("population", sort=False):
            done = runs[runs.converged] if runs.converged.any() else runs[runs.measured]
            for name in name_pool(self.config.names):
                p = priors[(priors.population == population) & (priors.name == name)]
                row = {
                    "population": population,
                    "name": name,
                    "won": float((done.winner == name).mean()) if len(done) else np.nan,
                    "runs": len(done),
                    "prior": float(p.prior.mean()) if len(p) else np.nan,
                }
                for persona, x in zip(p.persona, p.prior, strict=True):
                    row[f"prior: {persona}"] = x
                out.append(row)
        return pd.DataFrame(out)

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
                ax.bar(x, rows.won, width, color=palette[k], label=f"{_short(population)}: won")
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
            ax.legend(fontsize="x-small")
        fig.suptitle(
            f"Convention emergence: W={self.config.names} names, memory k={self.config.memory}"
        )
        fig.tight_layout()
        return fig


def per_round(
    lines: pd.DataFrame, horizon: float, columns: dict[str, str] | None = None
) -> pd.DataFrame:
    """:func:`timeline` on a grid of whole population rounds, each run carried to the end.

    Per run and population round ``1 .. ceil(horizon)``: each of ``columns`` aggregated
    over the round's steps (default: the mean ``success`` and the ``dominant_share`` at
    the round's end); a run that stopped (converged) keeps its last values, so averages
    over runs do not drop converged runs.
    """
    columns = columns or {"success": "mean", "dominant_share": "last"}
    keys = _unit_keys(lines)
    lines = lines.assign(round=np.ceil(lines.rounds - 1e-9).clip(lower=1).astype(int))
    grid = np.arange(1, int(np.ceil(horizon)) + 1)
    frames = []
    for key, unit in lines.groupby(keys, sort=False):
        rounds = unit.groupby("round").agg(**{c: (c, how) for c, how in columns.items()})
        rounds = rounds.reindex(grid).ffill()
        rounds = rounds[rounds.index >= rounds.first_valid_index()] if len(rounds) else rounds
        frame = rounds.reset_index(names="round")
        for k, v in zip(keys, key, strict=True):
            frame[k] = v
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=[*keys, "round", *columns])
    return pd.concat(frames, ignore_index=True)


def _temper(p: np.ndarray, t: float) -> np.ndarray:
    if p.sum() <= 0:
        return p
    if t <= 0:
        q = (p == p.max()).astype(float)
        return q / q.sum()
    q = p ** (1.0 / t)
    return q / q.sum()


def _short(model: str) -> str:
    return model.removeprefix("rule:").split("/")[-1]


def _condition_label(frame: pd.DataFrame, cfg: Any) -> pd.Series:
    parts = [frame.population.map(_short)]
    if len(cfg.topology) > 1:
        parts.append(frame.topology)
    if len(cfg.members) > 1:
        parts.append("N=" + frame.members.astype(str))
    label = parts[0]
    for p in parts[1:]:
        label = label + ", " + p
    return label


# -- tidy measures -----------------------------------------------------------------------

UNIT_KEYS = ["population", "topology", "members", "run"]


#: Condition columns of the committed-minority study, kept when present.
MINORITY_KEYS = ["convention", "alternative", "committed", "committed_members"]


def _unit_keys(frame: pd.DataFrame) -> list[str]:
    return [k for k in [*UNIT_KEYS, *MINORITY_KEYS] if k in frame]


def interactions(decisions: pd.DataFrame) -> pd.DataFrame:
    """One row per interaction of the game rows of a decisions table.

    Pairs are consecutive rows (first partner, then second) in every unit. Columns: the
    unit keys (``population``, ``topology``, ``members``, ``run``, plus the minority
    study's ``convention``, ``alternative``, ``committed``, ``committed_members`` when
    present), ``step``, ``phase``, ``a``, ``b`` (member ids),
    ``choice_a``, ``choice_b``, ``role_a``, ``role_b``, ``valid`` (both answers were
    valid), ``success`` (1.0 when they matched, 0.0 when not, NaN when either answer was
    invalid, so that ``success.mean()`` is the success rate of the readable
    interactions), ``index`` (1-based interaction count within the unit, invalid
    interactions included: they took their time) and ``rounds`` (``index / members``).

    Raises
    ------
    ValueError
        When the rows are not in partner pairs.
    """
    keys = _unit_keys(decisions)
    first, second = decisions.iloc[0::2], decisions.iloc[1::2]
    if len(first) != len(second) or not np.array_equal(
        first.partner.to_numpy(dtype=float), second.member.to_numpy(dtype=float)
    ):
        raise ValueError("decisions rows are not in interaction pairs")
    frame = first[[*keys, "step"]].reset_index(drop=True)
    if "phase" in decisions:
        frame["phase"] = first.phase.to_numpy(dtype=object)
    frame["a"] = first.member.to_numpy()
    frame["b"] = second.member.to_numpy()
    choice_a = first.choice.to_numpy(dtype=object)
    choice_b = second.choice.to_numpy(dtype=object)
    frame["choice_a"], frame["choice_b"] = choice_a, choice_b
    frame["role_a"] = first.role.to_numpy(dtype=object)
    frame["role_b"] = second.role.to_numpy(dtype=object)
    ok = first.valid.to_numpy(dtype=bool) & second.valid.to_numpy(dtype=bool)
    frame["valid"] = ok
    frame["success"] = np.where(ok, (choice_a == choice_b).astype(float), np.nan)
    frame["index"] = frame.groupby(keys, sort=False).cumcount().to_numpy() + 1
    frame["rounds"] = frame["index"] / frame.members.to_numpy(dtype=float)
    return frame


def convergence(success: np.ndarray, n: int) -> tuple[float, float]:
    """``(t_conv, settled)`` in interactions, NaN when the run never converged.

    ``t_conv`` is the first interaction at which the last ``3 n`` interactions all
    succeeded; ``settled`` is the number of interactions before that streak began
    (``t_conv - 3 n``). Interactions whose success is NaN (an invalid answer) neither
    extend nor break a streak: they count as time, not as evidence.
    """
    need = STREAK_ROUNDS * n
    streak = began = 0
    for i, ok in enumerate(np.asarray(success, dtype=float), 1):
        if np.isnan(ok):
            continue
        if not ok:
            streak = 0
            continue
        if not streak:
            began = i
        streak += 1
        if streak >= need:
            return float(i), float(began - 1)
    return np.nan, np.nan


def _dominance(choices: dict, n: int) -> tuple[str | None, float]:
    """The most common name of ``choices`` and its share of ``n`` (NaN when ``n`` is 0)."""
    if not n:
        return None, np.nan
    if not choices:
        return None, 0.0
    counts: dict[str, int] = {}
    for c in choices.values():
        counts[c] = counts.get(c, 0) + 1
    name = max(counts, key=lambda c: (counts[c], c))
    return name, counts[name] / n


def _nanmean(x: np.ndarray) -> float:
    """The mean of the non-NaN values, NaN when there are none (no warning)."""
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    return float(x.mean()) if len(x) else np.nan


def timeline(decisions: pd.DataFrame) -> pd.DataFrame:
    """Per unit and step: success rate, dominant name and its share of the population.

    A member is on the name it last gave validly (members yet to play are on none);
    ties between names go to the later name in alphabetical order. Invalid answers are
    left out: ``success`` is over the step's interactions with two valid answers, and a
    member who has played but never validly is of unknown name, left out of
    ``dominant_share``'s denominator. With nothing valid, both are NaN.

    Returns
    -------
    pandas.DataFrame
        Unit keys, ``step``, ``interactions`` (so far), ``rounds`` (interactions / N),
        ``success`` (share of the step's valid interactions that succeeded),
        ``dominant``, ``dominant_share``.
    """
    keys = _unit_keys(decisions)
    pairs = interactions(decisions)
    rows = []
    unit_ids = pairs.groupby(keys, sort=False).ngroup().to_numpy()
    steps = pairs.step.to_numpy()
    success = pairs.success.to_numpy()
    a, b = pairs.a.to_numpy(), pairs.b.to_numpy()
    ca, cb = pairs.choice_a.to_numpy(), pairs.choice_b.to_numpy()
    members = pairs.members.to_numpy()
    key_values = pairs[keys].to_numpy(dtype=object)
    i = 0
    while i < len(pairs):
        unit, latest, played, total = unit_ids[i], {}, set(), 0
        while i < len(pairs) and unit_ids[i] == unit:
            step, j = steps[i], i
            while j < len(pairs) and unit_ids[j] == unit and steps[j] == step:
                for member, choice in ((a[j], ca[j]), (b[j], cb[j])):
                    played.add(member)
                    if isinstance(choice, str):
                        latest[member] = choice
                j += 1
            total += j - i
            unknown = len(played) - len(latest)  # played, but never validly
            name, share = _dominance(latest, int(members[i]) - unknown)
            rows.append(
                (
                    *key_values[i],
                    int(step),
                    total,
                    total / members[i],
                    _nanmean(success[i:j]),
                    name,
                    share,
                )
            )
            i = j
    columns = [*keys, "step", "interactions", "rounds", "success", "dominant", "dominant_share"]
    return pd.DataFrame(rows, columns=columns)


def run_outcomes(games: pd.DataFrame) -> pd.DataFrame:
    """Per run: convergence time, final success rate, final dominant name and share.

    Invalid answers are left out as in :func:`timeline` and :func:`convergence`: a run
    without a single interaction of two valid answers is not ``measured`` and has NaN
    ``success`` and ``dominant_share`` and no ``winner`` (it cannot converge either).

    Returns
    -------
    pandas.DataFrame
        Unit keys, ``interactions``, ``invalid`` (invalid answers), ``measured``,
        ``converged``, ``rounds`` (``t_conv / N``), ``settled`` (rounds before the
        final streak), ``success`` (success rate of the valid interactions of the last
        population round), ``winner`` (the dominant name at the end),
        ``dominant_share``.
    """
    keys = _unit_keys(games)
    pairs = interactions(games)
    invalid = (~games.valid.astype(bool)).groupby([games[k] for k in keys], sort=False).sum()
    out = []
    for key, unit in pairs.groupby(keys, sort=False):
        n = int(unit.members.iloc[0])
        success = unit.success.to_numpy()
        t_conv, settled = convergence(success, n)
        latest: dict = {}
        played: set = set()
        for m1, c1, m2, c2 in zip(unit.a, unit.choice_a, unit.b, unit.choice_b, strict=True):
            played.update((m1, m2))
            if isinstance(c1, str):
                latest[m1] = c1
            if isinstance(c2, str):
                latest[m2] = c2
        winner, share = _dominance(latest, n - (len(played) - len(latest)))
        out.append(
            {
                **dict(zip(keys, key, strict=True)),
                "interactions": len(unit),
                "invalid": int(invalid.loc[key]),
                "measured": bool(unit.valid.any()),
                "converged": bool(np.isfinite(t_conv)),
                "rounds": t_conv / n,
                "settled": settled / n,
                "success": _nanmean(success[-n:]),
                "winner": winner,
                "dominant_share": share,
            }
        )
    return pd.DataFrame(out)


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
        "minimal naming game, complete graph",
        "convergence time and peak number of words grow as N^1.5",
        "Baronchelli et al. 2006, J. Stat. Mech. P06014",
    ),
]


def _reference_for(population: str, topology: str, members: int) -> tuple[str, str]:
    if population.startswith("rule:naming_game"):
        if topology == "complete":
            return "t_conv ~ N^1.5", _REFERENCES[2][2]
        return "", ""
    if population.startswith("rule:"):
        return "", ""
    if topology == "complete":
        return "median 7-18 rounds (N=24)", _REFERENCES[0][2]
    if topology in ("ring", "grid"):
        return "fragmented longer (humans)", _REFERENCES[1][2]
    return "global convention (humans)", _REFERENCES[1][2]
