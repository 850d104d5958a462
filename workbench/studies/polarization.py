"""Polarization and opinion dynamics: LLM populations beside the classic rules.

Members hold an opinion on a claim, on a five-point scale from 1 (strongly disagree) to 5
(strongly agree), read as the levels -2..+2 of Chuang et al. [1]_. Every round each member
reads its neighbours' current opinions (optionally also a short message each of them
wrote) and reports its own. Chuang et al. found that LLM agents discussing factual claims
drift towards the scientifically accurate answer whatever they start from, and that a
confirmation-bias persona keeps their opinions diverse [1]_.

The same study runs the classic opinion-dynamics rules through the same society, task,
network and initial opinions (:mod:`workbench.society.opinion`): DeGroot's averaging [2]_,
Deffuant's bounded confidence with random pairwise encounters [3]_,
Hegselmann-Krause bounded confidence [4]_ and the voter model [7]_ [8]_. The bounded
confidence and averaging rules keep a continuous opinion ``x`` in [0, 1] and report the
label of its fifth; on the Likert scale their position is ``5 x - 2.5``. The voter copies
the label of one uniformly random neighbour, exactly, and by default updates
asynchronously (one random member at a time, a round being a sweep of ``members``
updates), the order its exact results belong to: on a complete network every opinion
keeps its expected share, so the expected mean opinion stays the initial mean (printed as
``published_mean``), an opinion wins with probability equal to its initial share, and
consensus comes with probability one on a connected network.

Published behaviour: Deffuant's model ends in about ``floor(1 / (2 d))`` major clusters,
in consensus for ``d`` above about 0.3 [3]_ [6]_ -- an *asymptotic* approximation (large
populations, long horizons), printed as such: finite runs give fewer at small ``d`` (at
``d = 0.1``, 200 members and 100 rounds, about 4.5 rather than 5);
Hegselmann-Krause reaches consensus for ``eps`` above about 0.2 [4]_; DeGroot's averaging
reaches consensus at the average of the initial opinions weighted by the stationary
distribution of the trust matrix [2]_ (here degree plus one, reported as
``degroot_limit``) on a connected network; on a disconnected one every component has its
own limit (``degroot_limits``), the run warns, and ``components`` says how many there were
(``connected=True`` redraws the random network until it is connected).

Conditions: population (an LLM model string or a rule spec), topic, persona, norm and
network (a two-community stochastic block model with tunable homophily, a small world,
complete mixing, or any kind of :data:`~workbench.society.TOPOLOGIES`). Rule populations
ignore topic, persona and norm, so they run once per network. Replicate ``i`` has the same
seed in every condition, hence the same network and the same initial opinions: populations
are compared on the same start.

Measures (on the Likert scale; a rule member's position is continuous, an LLM member's is
its level), at the start and at the end, and per round in :meth:`PolarizationStudy.series`:

- the **mean** opinion (Chuang et al.'s bias *B*) and the **variance**; the standard
  deviation is Chuang et al.'s diversity *D* (sample, ``ddof=1``);
- Sarle's **bimodality coefficient** ``(g^2 + 1) / (k + 3 (n-1)^2 / ((n-2)(n-3)))`` with
  the sample skewness ``g`` and excess kurtosis ``k``; above 5/9 suggests two modes [5]_;
- the **between-community distance**: the gap between the mean opinions of the two
  halves of the members (the two blocks of the block model);
- the number of opinion **clusters**: groups of the sorted positions separated by gaps
  wider than a quarter level, each holding at least 5% of the members (the major
  clusters; the smaller groups are counted apart as ``minor_clusters``, after Weisbuch
  et al. [6]_); every occupied Likert level is a cluster of its own;
- the **drift towards accuracy** on factual topics: how far the mean moved towards the
  accurate end (+ for a true claim, - for a false one).

Invalid answers (``valid`` False) are left out of every measure and counted (``invalid``):
after one, the member's opinion is unknown until its next valid answer (not its earlier
opinion carried on), so a population that could not be read shows NaN, not "no change".

References
----------
.. [1] Y.-S. Chuang, A. Goyal, N. Harlalka, S. Suresh, R. Hawkins, S. Yang, D. Shah,
   J. Hu and T. T. Rogers, "Simulating opinion dynamics with networks of LLM-based
   agents", Findings of the Association for Computational Linguistics: NAACL 2024,
   3326-3346 (2024).
.. [2] M. H. DeGroot, "Reaching a consensus", Journal of the American Statistical
   Association 69(345), 118-121 (1974).
.. [3] G. Deffuant, D. Neau, F. Amblard and G. Weisbuch, "Mixing beliefs among interacting
   agents", Advances in Complex Systems 3, 87-98 (2000).
.. [4] R. Hegselmann and U. Krause, "Opinion dynamics and bounded confidence: models,
   analysis and simulation", Journal of Artificial Societies and Social Simulation 5(3)
   (2002).
.. [5] W. S. Sarle, SAS/STAT User's Guide, Version 6, 4th ed., SAS Institute (1990):
   the bimodality coefficient (see also R. Pfister et al., "Good things peak in pairs: a
   note on the bimodality coefficient", Frontiers in Psychology 4:700 (2013)).
.. [6] G. Weisbuch, G. Deffuant, F. Amblard and J.-P. Nadal, "Meet, discuss, and
   segregate!", Complexity 7(3), 55-63 (2002).
.. [7] P. Clifford and A. Sudbury, "A model for spatial conflict", Biometrika 60(3),
   581-588 (1973).
.. [8] R. A. Holley and T. M. Liggett, "Ergodic theorems for weakly interacting infinite
   systems and the voter model", Annals of Probability 3(4), 643-663 (1975).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import networkx as nx
import numpy as np
import pandas as pd

from workbench import config
from workbench.errors import ConfigError
from workbench.llm.gateway import DEFAULT_MODEL
from workbench.random import generator
from workbench.society import SCHEDULES, Situation, Topology, make_person
from workbench.society.checks import MAX_MEMBERS, check_rows, number, whole
from workbench.society.opinion import (
    COMMUNITIES,
    INITIALS,
    NO_TOPIC,
    Deffuant,
    DeGroot,
    HegselmannKrause,
    OpinionSociety,
    OpinionTask,
    Voter,
    initial_opinions,
    opinion_measures,
    opinion_series,
    panels,
    resolve_topic,
)
from workbench.society.personas import resolve_opinion_persona
from workbench.society.persons import is_rule
from workbench.studies import Study, StudyResult, Unit, unit_seed
from workbench.studies._figures import count

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from workbench.llm import Gateway
    from workbench.society import Society

__all__ = ["PolarizationConfig", "PolarizationStudy"]

_KEYS = ["population", "topic", "persona", "norm", "topology"]
#: The ``schedule`` values that are not society schedules.
_ORDERS = ("auto", "asynchronous")


@dataclass(frozen=True)
class PolarizationConfig:
    """Configuration of a polarization study; every field is a CLI flag.

    Parameters
    ----------
    populations : tuple of str
        One population per entry, every member alike: a litellm model string, or an
        opinion rule: ``"rule:degroot"``, ``"rule:hk:<eps>"``,
        ``"rule:deffuant:<d>[:<mu>]"``, ``"rule:voter"`` (any rule spec is accepted).
    topic : tuple of str
        Topics (claims) the LLM populations discuss: names from
        ``workbench/data/topics.json`` or sentences.
    topic_file : str or None
        A JSON file of extra topics.
    personas : tuple of str
        Personas of the LLM populations: ``"open_minded"``, ``"confirmation_bias"``,
        ``"weak_confirmation_bias"``, any library persona, ``"none"`` or a sentence.
    persona_file : str or None
        A JSON file of extra personas.
    norms : tuple of str
        Norms: presets (``"none"``, ``"accuracy"``, ``"harmony"``, ...) or sentences.
    topologies : tuple of str
        Networks: ``"sbm"`` (two communities), ``"small_world"``, ``"complete"``, or any
        other kind (``"ring"``, ``"erdos_renyi"``, ``"random"``, ...), each with the mean
        degree ``degree`` (:meth:`~workbench.society.Topology.of_degree`).
    homophily : float
        In the block model, the expected share of a member's ties inside its community.
    degree : int
        Mean degree of the sparse networks (the small world's and ring's ``k``; sets the
        block model's and random graph's density).
    rewire : float
        The small world's rewiring probability.
    members : int
        Members per society.
    rounds : int
        Rounds (steps) per society.
    runs : int
        Replicates per condition, each with its own network and initial opinions.
    initial : str
        How initial opinions are drawn, see :data:`INITIALS`.
    schedule : str
        ``"auto"``: random pairwise encounters for Deffuant populations and asynchronous
        updates for voter populations (as the models are defined), everyone at once
        (``"synchronous"``) otherwise; ``"asynchronous"`` (one uniformly random member at
        a time, a round being ``members`` updates; not a society schedule but the opinion
        society's update order, :data:`~workbench.society.opinion.UPDATES`) for all; or
        any schedule for all.
    exchange : {"answers", "counts"}
        Whether members see who holds which opinion, or only how many hold each.
    memory : int
        Earlier rounds an LLM member recalls in its prompt.
    messages : bool
        Members write a short message before each round, read by those who see them.
    temperature : float
        Sampling temperature of the LLM members' answers (0.7, as Chuang et al. sampled).
    connected : bool
        Redraw a random network until it is connected (up to 100 draws, each seeded from
        the replicate's seed). Off by default: the network is the society's own draw, and
        a disconnected one is warned about.
    wording : int
        Which paraphrase of the discussion prompt members read (0, the original, to 2).
    """

    populations: tuple[str, ...] = field(
        default=(DEFAULT_MODEL, "rule:degroot", "rule:deffuant:0.3", "rule:hk:0.25"),
        metadata={"help": "model strings and rule specs, e.g. rule:deffuant:0.2,rule:hk:0.2"},
    )
    topic: tuple[str, ...] = field(
        default=("global_warming", "flat_earth"), metadata={"help": "topic names or claims"}
    )
    topic_file: str | None = field(default=None, metadata={"help": "JSON file of topics"})
    personas: tuple[str, ...] = config.personas(
        ("open_minded", "confirmation_bias"),
        "LLM personas (open_minded, confirmation_bias, library names)",
    )
    persona_file: str | None = config.persona_file()
    norms: tuple[str, ...] = config.norms(("none",), "norms")
    topologies: tuple[str, ...] = config.topologies(
        ("sbm",), "networks: sbm, small_world, complete, ..."
    )
    homophily: float = field(default=0.8, metadata={"help": "share of ties inside a community"})
    degree: int = field(default=4, metadata={"help": "mean degree of sparse networks"})
    rewire: float = field(default=0.1, metadata={"help": "small-world rewiring probability"})
    members: int = config.members(10, "members per society")
    rounds: int = field(default=8, metadata={"help": "rounds per society"})
    runs: int = field(default=2, metadata={"help": "replicates per condition"})
    initial: str = field(default="balanced", metadata={"help": "balanced, uniform or split"})
    schedule: str = field(
        default="auto",
        metadata={"help": "auto, asynchronous, synchronous, encounters, sequential, ..."},
    )
    exchange: str = config.exchange("answers", "answers or counts")
    memory: int = config.memory(0, "earlier rounds recalled in the prompt")
    messages: bool = field(default=False, metadata={"help": "members write short messages"})
    temperature: float = config.temperature(0.7, "LLM sampling temperature")
    connected: bool = field(
        default=False, metadata={"help": "redraw random networks until they are connected"}
    )
    wording: int = config.wording()

    def __post_init__(self) -> None:
        config.normalise(self)
        if not all((self.populations, self.topic)):
            raise ConfigError("give at least one population and topic")
        whole(self, "members", 4, MAX_MEMBERS, " members a society can hold in memory")
        whole(self, "rounds", 1)  # rounds and runs are bounded by the rows they make, below
        whole(self, "runs", 1)
        whole(self, "degree", 1, MAX_MEMBERS, " neighbours a member can have")
        number(self, "homophily", 0.0, 1.0)
        number(self, "rewire", 0.0, 1.0)
        # every member answers at most once a round, after its recorded starting opinion
        units = self.runs * len(self.conditions())
        check_rows(
            units * self.members * (self.rounds + 1),
            "--members x (--rounds + 1) x --runs x conditions",
            "--rounds, --members or --runs",
            most=("rounds", units * self.members, units * self.members),
        )
        for kind in self.topologies:
            self.network(kind).check(self.members)
        if self.initial not in INITIALS:
            raise ConfigError(
                f"unknown initial opinions {self.initial!r}; choose one of {', '.join(INITIALS)}"
            )
        if self.schedule not in _ORDERS and self.schedule not in SCHEDULES:
            raise ConfigError(
                f"unknown schedule {self.schedule!r}; choose auto, asynchronous or one of "
                f"{', '.join(SCHEDULES)}"
            )
        for population in self.populations:
            make_person(population, temperature=self.temperature)
        for topic in self.topic:
            resolve_topic(topic, self.topic_file)
        for persona in self.personas:
            resolve_opinion_persona(persona, self.persona_file)
        for kind in self.topologies:
            self.network(kind).build(self.members, seed=0)

    @property
    def model(self) -> str:
        """The LLM models of the study, comma-separated (for run listings)."""
        return ",".join(p for p in self.populations if not is_rule(p)) or "rules"

    def network(self, kind: str) -> Topology:
        """The :class:`~workbench.society.Topology` of kind ``kind`` at this study's mean
        degree, rewiring and homophily (:meth:`~workbench.society.Topology.of_degree`)."""
        return Topology.of_degree(
            kind, self.members, self.degree, p=self.rewire, homophily=self.homophily
        )

    def conditions(self) -> list[dict[str, Any]]:
        """Every condition, in result order: network, then population, then the rest.

        A rule population runs once per network (``topic``, ``persona`` and ``norm``
        ``"none"``); an LLM population runs for every topic, persona and norm.
        """
        out = []
        for kind in self.topologies:
            for population in self.populations:
                if is_rule(population):
                    cells = [("none", "none", "none")]
                else:
                    cells = [
                        (t, p, n) for t in self.topic for p in self.personas for n in self.norms
                    ]
                for topic, persona, norm in cells:
                    values = (population, topic, persona, norm, kind)
                    out.append(dict(zip(_KEYS, values, strict=True)))
        return out


# -- the study ----------------------------------------------------------------------------

# Chuang et al. 2024, Table 1 (cumulative memory; mean over 15 topics, N = 10, 100 steps):
# (claim true?, confirmation bias) -> (B: final mean, D: final sd).
_CHUANG = {
    (False, "none"): (-1.33, 0.60),
    (False, "weak"): (-0.96, 0.87),
    (False, "strong"): (-0.90, 1.24),
    (True, "none"): (0.52, 0.66),
    (True, "weak"): (0.56, 0.95),
    (True, "strong"): (-0.10, 1.52),
}
_CHUANG_SOURCE = "Chuang et al. 2024, Table 1 (cumulative memory, 15 topics, N=10, 100 steps)"
_BIAS = {"confirmation_bias": "strong", "weak_confirmation_bias": "weak"}


class PolarizationStudy(Study):
    """Polarization and opinion dynamics: LLM populations beside the classic opinion rules.

    The rules: DeGroot, Deffuant, Hegselmann-Krause and the voter model.

    Parameters
    ----------
    config : PolarizationConfig or None
        Populations, topics, personas, norms, networks and sizes.
    seed : int or None
        Seed of the run (drawn and recorded when None).

    Examples
    --------
    >>> config = PolarizationConfig(populations=("rule:deffuant:0.2",), members=200,
    ...                             rounds=100, topologies=("complete",), initial="uniform")
    >>> result = PolarizationStudy(config, seed=1).run()  # doctest: +SKIP
    >>> result.summary[["population", "clusters", "published_clusters"]]  # doctest: +SKIP
    """

    name = "polarization"
    example: ClassVar[dict] = {
        "populations": ("rule:degroot", "rule:deffuant:0.3", "rule:hk:0.25"),
        "members": 12,
        "rounds": 6,
    }
    Config = PolarizationConfig

    def units(self, seed: int) -> list[Unit]:
        """One unit per condition and replicate; replicate ``i`` has one seed everywhere."""
        runs = self.config.runs
        seeds = [unit_seed(seed, "unit", i) for i in range(runs)]
        return [
            Unit(k * runs + i, c, i, seeds[i])
            for k, c in enumerate(self.config.conditions())
            for i in range(runs)
        ]

    def models(self) -> list[str]:
        return list(self.config.populations)

    def build(self, unit: Unit, gateway: Gateway | None = None, run_id: str = "") -> Society:
        """The society of one unit: every member alike, starting from the replicate's opinions."""
        cfg, cond = self.config, unit.conditions
        persona = resolve_opinion_persona(cond["persona"], cfg.persona_file)
        person = make_person(cond["population"], persona, temperature=cfg.temperature)
        n = cfg.members
        schedule = cfg.schedule
        if schedule == "auto":
            schedule = "synchronous"
            if isinstance(person, Deffuant):
                schedule = "encounters"
            elif isinstance(person, Voter):
                schedule = "asynchronous"
        updates = "asynchronous" if schedule == "asynchronous" else "rounds"
        if updates == "asynchronous":
            schedule = "synchronous"  # the situation's schedule is then unused
        topology: Any = cfg.network(cond["topology"])
        if cfg.connected:
            topology = _connected(topology, n, unit.seed)
        situation = Situation(
            norm=cond["norm"],
            topology=topology,
            exchange=cfg.exchange,
            memory=cfg.memory,
            schedule=schedule,
        )
        topic = (
            resolve_topic(cond["topic"], cfg.topic_file) if cond["topic"] != "none" else NO_TOPIC
        )
        start = generator(unit.seed, "polarization.opinions")
        society = self.society(
            unit,
            [person] * n,
            OpinionTask.about(topic, cfg.rounds, cfg.wording),
            situation,
            gateway,
            run_id,
            conditions={**cond, "replicate": unit.replicate},
            cls=OpinionSociety,
            initial=initial_opinions(cfg.initial, n, start),
            talk=cfg.messages,
            updates=updates,
            roles=[COMMUNITIES[i >= n // 2] for i in range(n)],
        )
        if society.components > 1:
            warnings.warn(
                f"the {cond['topology']} network of replicate {unit.replicate} has "
                f"{society.components} components: DeGroot ends in one limit per component "
                f"({society.conditions['degroot_limits']}), not one consensus; set "
                "connected=True to redraw it",
                RuntimeWarning,
                stacklevel=2,
            )
        return society

    def series(self, decisions: pd.DataFrame) -> pd.DataFrame:
        """The measures at every step of every unit (the time series).

        Returns
        -------
        pandas.DataFrame
            Columns ``population``, ``topic``, ``persona``, ``norm``, ``topology``,
            ``replicate``, ``step``, ``mean``, ``variance``, ``diversity``,
            ``bimodality``, ``distance``, ``clusters``; a member's opinion carries over
            the steps it did not answer (not matched), and is unknown (left out) from an
            invalid answer until its next valid one; a step with no known opinion has
            NaN measures.
        """
        frames = []
        for key, _, wide, community in panels(decisions, [*_KEYS, "replicate"]):
            frame = opinion_series(wide, community)
            frames.append(frame.assign(**key)[[*key, *frame.columns]])
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def summarize(self, decisions: pd.DataFrame, seed: int) -> pd.DataFrame:
        """Per-condition table: start and end measures, replicate means, published beside.

        ``seed`` is unused (the summary has no randomness).

        Returns
        -------
        pandas.DataFrame
            One row per condition (``population``, ``topic``, ``persona``, ``norm``,
            ``topology``) with ``kind`` (``"llm"`` or ``"rule"``), ``runs``, ``members``,
            ``rounds``, the start and end ``mean``, ``variance``, ``diversity``,
            ``bimodality``, ``distance`` and ``clusters`` (``*_start`` for the start),
            ``minor_clusters``, ``drift`` (towards accuracy, factual topics),
            ``degroot_limit`` (NaN when a replicate's network is disconnected: no single
            limit), ``degroot_limits`` (each replicate's per-component limits, ``|``
            between replicates), ``degroot_clusters`` and ``degroot_minor_clusters``
            (the major and minor clusters DeGroot ends in, means over replicates),
            ``components`` (mean), ``connected`` (share of replicates whose network is
            connected), ``invalid`` (LLM answers that could not be read), and
            ``published_mean``, ``published_diversity``, ``published_clusters``,
            ``published_minor_clusters`` (DeGroot's), ``published_source``.

        Notes
        -----
        Invalid answers are left out of every measure (see :meth:`series`): the end
        measures are over the members whose last answer was valid, the means over
        replicates skip a replicate with none, and a condition with no valid answer at
        the end has NaN end measures and drift (not its starting ones).
        """
        per_unit = []
        for key, unit, wide, community in panels(decisions, [*_KEYS, "replicate"]):
            start = opinion_measures(wide.iloc[:, 0], community)
            end = opinion_measures(wide.iloc[:, -1], community)
            truth = unit["claim_true"].iloc[0] if "claim_true" in unit else None
            sign = {True: 1.0, False: -1.0}.get(truth, float("nan"))
            per_unit.append(
                {
                    **key,
                    "members": len(wide),
                    "rounds": int(wide.columns[-1]),
                    **{f"{m}_start": v for m, v in start.items()},
                    **end,
                    "drift": sign * (end["mean"] - start["mean"]),
                    "degroot_limit": float(unit["degroot_limit"].iloc[0]),
                    "degroot_limits": str(unit["degroot_limits"].iloc[0]),
                    "degroot_clusters": float(unit["degroot_clusters"].iloc[0]),
                    "degroot_minor_clusters": float(unit["degroot_minor_clusters"].iloc[0]),
                    "components": float(unit["components"].iloc[0]),
                    "connected": float(unit["components"].iloc[0] == 1),
                    "invalid": int((~unit["valid"].astype(bool)).sum()),
                    "claim_true": truth,
                }
            )
        if not per_unit:
            return pd.DataFrame()
        units = pd.DataFrame(per_unit)
        numeric = [
            c
            for c in units.columns
            if c not in (*_KEYS, "replicate", "claim_true", "degroot_limits", "degroot_limit")
        ]
        summary = units.groupby(_KEYS, sort=False).agg(
            runs=("replicate", "nunique"),
            claim_true=("claim_true", "first"),
            # a disconnected replicate has no single limit: the mean over replicates is NaN
            degroot_limit=("degroot_limit", lambda x: x.mean(skipna=False)),
            degroot_limits=("degroot_limits", " | ".join),
            **{c: (c, "sum" if c == "invalid" else "mean") for c in numeric},
        )
        summary = summary.reset_index()
        summary.insert(1, "kind", np.where(summary.population.map(is_rule), "rule", "llm"))
        published = [self._published(row) for row in summary.itertuples(index=False)]
        return pd.concat([summary, pd.DataFrame(published)], axis=1)

    def _published(self, row) -> dict[str, Any]:
        """The published behaviour for one summary row."""
        out = {
            "published_mean": float("nan"),
            "published_diversity": float("nan"),
            "published_clusters": float("nan"),
            "published_minor_clusters": float("nan"),
            "published_source": "",
        }
        try:
            person = make_person(row.population)
        except ConfigError:
            return out
        mixed = row.topology == "complete"  # the published figures are for complete mixing
        if isinstance(person, Deffuant):
            if mixed:
                out["published_clusters"] = max(1, math.floor(1 / (2 * person.d)))
            out["published_source"] = (
                "asymptotic approximation (large N, long horizon), Deffuant et al. 2000; "
                "Weisbuch et al. 2002: about floor(1/(2d)) major clusters (each holding at "
                "least 5% of the members; minor clusters counted apart), consensus for d "
                "above about 0.3 (opinions uniform on [0,1], random encounters, complete "
                "mixing); finite populations and horizons give fewer at small d"
            )
        elif isinstance(person, HegselmannKrause):
            if mixed and person.eps > 0.2:
                out["published_clusters"] = 1
            out["published_source"] = (
                "Hegselmann & Krause 2002: consensus for eps above about 0.2 (uniform start, "
                "everyone sees everyone)"
            )
        elif isinstance(person, DeGroot):
            out["published_mean"] = row.degroot_limit
            out["published_clusters"] = row.degroot_clusters
            out["published_minor_clusters"] = row.degroot_minor_clusters
            out["published_source"] = (
                "DeGroot 1974: consensus at the stationary-weighted mean of the initial "
                "opinions (a connected network)"
            )
            if row.connected < 1:
                out["published_source"] += (
                    f"; the network was DISCONNECTED in {1 - row.connected:.0%} of the "
                    "replicates: one limit per component (degroot_limits), the clusters "
                    "published are those limits' clusters"
                )
        elif isinstance(person, Voter):
            if mixed:  # every opinion's share is a martingale: the mean is kept on average
                out["published_mean"] = row.mean_start
            out["published_source"] = (
                "voter model, Clifford & Sudbury 1973, Holley & Liggett 1975: on a complete "
                "network the expected mean opinion stays the initial one and an opinion "
                "wins with probability equal to its initial share; consensus with "
                "probability one on a connected network (its mean time, for asynchronous "
                "updates, is the absorption time of a birth-death chain: see "
                "workbench.society.opinion.Voter)"
            )
        elif not person.is_rule:
            truth = row.claim_true
            bias = _BIAS.get(row.persona, "none")
            if truth in (True, False):
                out["published_mean"], out["published_diversity"] = _CHUANG[(truth, bias)]
                out["published_source"] = f"{_CHUANG_SOURCE}; {bias} confirmation bias"
            else:
                out["published_source"] = "no ground truth: not a topic of Chuang et al. 2024"
        return out

    def reference(self) -> pd.DataFrame:
        """The published behaviour this study sets beside its results.

        Returns
        -------
        pandas.DataFrame
            Columns ``model``, ``setting``, ``published`` and ``source``.
        """
        rows = [
            (
                "Deffuant",
                "opinions uniform on [0,1], mu = 0.5, threshold d, random encounters",
                "about floor(1/(2d)) major clusters, asymptotically (large N, long horizon; "
                "fewer at small d in finite runs); consensus for d above about 0.3",
                "Deffuant et al. 2000, Adv. Complex Systems 3; Weisbuch et al. 2002, "
                "Complexity 7(3)",
            ),
            (
                "Hegselmann-Krause",
                "uniform initial opinions, confidence bound eps",
                "consensus for eps above about 0.2",
                "Hegselmann & Krause 2002, JASSS 5(3)",
            ),
            (
                "DeGroot",
                "row-stochastic trust matrix",
                "consensus at the initial opinions' mean weighted by the stationary "
                "distribution (strongly connected, aperiodic); one limit per closed class "
                "otherwise (per component of a disconnected network)",
                "DeGroot 1974, JASA 69",
            ),
            (
                "voter model",
                "copy one uniformly random neighbour's opinion; complete network",
                "the expected share of every opinion is kept (so the expected mean opinion), "
                "an opinion wins with probability equal to its initial share; with "
                "asynchronous updates (one random member at a time) from k of N holders the "
                "mean consensus time is the absorption time of the chain k -> k+-1, each "
                "with probability k(N-k)/(N(N-1)) per update",
                "Clifford & Sudbury 1973, Biometrika 60; Holley & Liggett 1975, Ann. Probab. 3",
            ),
            (
                "LLM agents",
                "N=10, 100 steps, opinions -2..+2 on factual topics",
                "drift towards the accurate answer; a confirmation-bias persona keeps "
                "opinions diverse",
                "Chuang et al. 2024, Findings of NAACL",
            ),
        ]
        for (truth, bias), (b, d) in _CHUANG.items():
            rows.append(
                (
                    "LLM agents",
                    f"{'true' if truth else 'false'} claims, {bias} confirmation bias",
                    f"final mean B = {b:+.2f}, diversity D = {d:.2f} (start D = 1.49)",
                    _CHUANG_SOURCE,
                )
            )
        return pd.DataFrame(rows, columns=["model", "setting", "published", "source"])

    def table(self, summary: pd.DataFrame) -> pd.DataFrame:
        """The summary as a readable table: ours beside the published behaviour."""

        def num(x: float, fmt: str = "{:.2f}") -> str:
            return "" if pd.isna(x) else fmt.format(x)

        def arrow(a: float, b: float, fmt: str = "{:+.2f}") -> str:
            return f"{num(a, fmt)} -> {num(b, fmt)}"

        shown = pd.DataFrame(
            {
                "population": [
                    _label(p, s) for p, s in zip(summary.population, summary.persona, strict=True)
                ],
                "topic": summary.topic,
                "network": summary.topology,
                "runs": summary.runs,
                "mean": [
                    arrow(a, b) for a, b in zip(summary.mean_start, summary["mean"], strict=True)
                ],
                "B pub": summary.published_mean.map(lambda x: num(x, "{:+.2f}")),
                "sd (D)": [
                    arrow(a, b, "{:.2f}")
                    for a, b in zip(summary.diversity_start, summary.diversity, strict=True)
                ],
                "D pub": summary.published_diversity.map(num),
                "bimodality": summary.bimodality.map(num),
                "A-B gap": [
                    arrow(a, b, "{:.2f}")
                    for a, b in zip(summary.distance_start, summary.distance, strict=True)
                ],
                "clusters": summary.clusters.map(lambda x: num(x, "{:g}")),
                "minor": summary.minor_clusters.map(lambda x: num(x, "{:g}")),
                "clusters pub": [
                    num(x, "{:g}")
                    + (" (1/2d, asymptotic)" if num(x) and _deffuant(p) else "")
                    + (f" + {m:g} minor" if m > 0 else "")
                    for x, m, p in zip(
                        summary.published_clusters,
                        summary.published_minor_clusters,
                        summary.population,
                        strict=True,
                    )
                ],
                "connected": summary.connected.map(lambda x: num(x, "{:.0%}")),
                "drift": summary.drift.map(lambda x: num(x, "{:+.2f}")),
                "invalid": summary.invalid,
            }
        )
        if summary.norm.nunique() > 1:
            shown.insert(1, "norm", summary.norm)
        return shown

    def plot(self, result: StudyResult) -> Figure:
        """LLM and rule populations side by side, with the published behaviour.

        Left: diversity (sd, Chuang et al.'s *D*) over rounds, with Chuang et al.'s final
        *D* without and with strong confirmation bias shaded. Middle: every member's final
        opinion. Right: final clusters, ours (bars, mean over replicates) and published (x).
        Each population is shown with its persona, and with its topic and network when the
        run has several.

        Returns
        -------
        matplotlib.figure.Figure
        """
        import matplotlib.pyplot as plt
        import seaborn as sns

        summary, cfg = result.summary, result.config
        several = [
            k for k in ("topic", "topology") if summary[k][summary[k] != "none"].nunique() > 1
        ]

        def label(row: Any) -> str:
            extra = [row[k] for k in several if row[k] != "none"]
            name = _label(row["population"], row["persona"])
            return f"{name}, {', '.join(extra)}" if extra else name

        series = self.series(result.decisions)
        series["who"] = series.apply(label, axis=1)
        summary = summary.assign(who=summary.apply(label, axis=1))
        order = list(dict.fromkeys(summary.who))
        palette = dict(zip(order, sns.color_palette("deep", len(order)), strict=True))
        sns.set_theme(style="whitegrid", context="notebook")
        fig, axes = plt.subplots(1, 3, figsize=(16, 5))

        ax = axes[0]
        if (summary.kind == "llm").any():
            ax.axhspan(0.60, 0.66, color="grey", alpha=0.25, label="Chuang et al.: no bias")
            ax.axhspan(1.24, 1.52, color="grey", alpha=0.5, label="Chuang et al.: strong bias")
        sns.lineplot(
            series,
            x="step",
            y="diversity",
            hue="who",
            hue_order=order,
            palette=palette,
            errorbar=None,
            ax=ax,
        )
        ax.set(xlabel="round", ylabel="opinion sd (diversity D)", title="Diversity over rounds")
        handles, labels = ax.get_legend_handles_labels()
        ax.get_legend().remove()

        last = series[series.step == series.groupby([*_KEYS, "replicate"]).step.transform("max")]
        finals = pd.concat(
            [
                pd.DataFrame({"who": label(key), "opinion": wide.iloc[:, -1].to_numpy()})
                for key, _, wide, _ in panels(result.decisions, [*_KEYS, "replicate"])
            ],
            ignore_index=True,
        )
        ax = axes[1]
        sns.stripplot(
            finals,
            x="who",
            y="opinion",
            hue="who",
            order=order,
            palette=palette,
            jitter=0.25,
            alpha=0.6,
            legend=False,
            ax=ax,
        )
        ax.set(xlabel="", ylabel="final opinion (-2..+2)", title="Final opinions", ylim=(-2.7, 2.7))
        ax.set_xticks(range(len(order)), order, rotation=30, fontsize="x-small", ha="right")

        ax = axes[2]
        clusters = last.groupby("who").clusters.mean().reindex(order)
        ax.bar(range(len(order)), clusters.to_numpy(), color=[palette[o] for o in order])
        published = summary.set_index("who").published_clusters
        for i, who in enumerate(order):
            if pd.notna(published[who]):
                ax.scatter(i, published[who], marker="x", color="black", s=80, zorder=5)
        ax.scatter([], [], marker="x", color="black", label="published")
        ax.set_xticks(range(len(order)), order, rotation=30, fontsize="x-small", ha="right")
        ax.set(ylabel="final clusters", title="Clusters: ours (bars), published (x)")
        ax.legend(fontsize="small")
        fig.suptitle(
            f"Opinion dynamics: {count(cfg.members, 'member')}, {count(cfg.rounds, 'round')}, "
            f"{', '.join(cfg.topologies)} network",
            fontsize="medium",
        )
        rows = math.ceil(len(labels) / 3)
        fig.legend(handles, labels, loc="lower center", ncol=3, fontsize="small", frameon=False)
        fig.tight_layout(rect=(0, 0.04 * rows + 0.02, 1, 1))
        return fig


def _deffuant(population: str) -> bool:
    try:
        return isinstance(make_person(population), Deffuant)
    except ConfigError:
        return False


def _connected(topology: Topology, n: int, seed: int, tries: int = 100) -> nx.Graph:
    """A connected draw of ``topology`` on ``n`` nodes (draw ``i`` seeded from ``seed``)."""
    for attempt in range(tries):
        rng = generator(seed, "polarization.redraw", attempt)
        graph = topology.build(n, rng)
        if nx.is_connected(graph):
            return graph
    raise ConfigError(f"no connected {topology.kind} network on {n} members in {tries} draws")


def _label(population: str, persona: str) -> str:
    """A short name for a population (and its persona, for LLMs)."""
    if is_rule(population):
        return population.removeprefix("rule:")
    name = population.rsplit("/", 1)[-1]
    return f"{name} ({persona})" if persona != "none" else name
