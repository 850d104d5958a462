"""The factorial person x situation experiment, with every person's isolated condition.

The person-situation debate asked whether behaviour follows from who acts or from where
they act (Mischel 1968 [1]_; Funder & Ozer 1983 [2]_); Fleeson (2004) [3]_ showed that
both hold at once: behaviour varies a great deal within a person across situations while
person averages stay stable. Answering the question for LLM societies needs the same kind
of data as for people: every person observed in every situation, several times.

A :class:`Design` crosses **persons** (a model and a persona prompt, or a rule policy)
with **situations** (the levels of norm x topology x exchange rule x memory window) and
**seeds**. Every cell is one society: ``members`` copies of the person (optionally beside
fixed background members, ``others``, e.g. a committed minority) answering the design's
task for ``rounds`` rounds. Every design also runs the **isolated** condition: each
person's members alone, on a network without edges, so that no answer of anyone else ever
reaches a prompt. Everything that is not social information stays as in the social cells:
the task, the norm text, the member's own memory window, the number of members and
rounds, the seeds. The **emergent effect** of a situation on a person is then the social
outcome minus the isolated outcome
(:func:`~workbench.analysis.factorial.emergent_effect`): what interaction adds to what the
person does anyway.

This module runs the design; :mod:`workbench.analysis.factorial` analyses its tables.
The cells run through :class:`~workbench.sweep.Sweep` (a small :class:`DesignStudy` per
cell; resumable with a result store, on any executor), or, when a live
:class:`~workbench.llm.Gateway` is passed, one after the other through that gateway (see
:meth:`Design.decisions`). :meth:`Design.outcomes` turns the decisions into a tidy table
with one row per run and the factor levels as columns;
:func:`~workbench.analysis.factorial.decompose_design` feeds it to
:func:`~workbench.analysis.decomposition.decompose` (person = the person column,
situation = the combination of the situation factors).

References
----------
.. [1] Mischel, W. (1968). *Personality and Assessment*. Wiley.
.. [2] Funder, D. C., & Ozer, D. J. (1983). Behavior as a function of the situation.
   *Journal of Personality and Social Psychology*, 44(1), 107-112.
.. [3] Fleeson, W. (2004). Moving personality beyond the person-situation debate: the
   challenge and the opportunity of within-person variability. *Current Directions in
   Psychological Science*, 13(2), 83-87.

Examples
--------
>>> from workbench.analysis import decompose_design, emergent_effect
>>> design = Design(
...     persons=("rule:truthful", "rule:conformist:0.3"),
...     norms=("none", "harmony"),
...     others=("rule:committed:B",) * 3,
...     seeds=4,
... )
>>> table = design.run()  # doctest: +SKIP
>>> emergent_effect(table)  # doctest: +SKIP
>>> decompose_design(table, seed=1).table  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

import networkx as nx
import pandas as pd

from workbench.analysis.factorial import ISOLATED, SITUATION_FACTORS, choice_share
from workbench.errors import ConfigError
from workbench.llm.gateway import Gateway, GatewayConfig
from workbench.provenance import config_dict
from workbench.random import seed_for
from workbench.society import EXCHANGES, SCHEDULES, Round, Situation, Task, Topology, make_person
from workbench.society.situation import norm_text
from workbench.studies import Study, Unit

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from workbench.society import Society
    from workbench.store import ResultStore
    from workbench.sweep import Sweep

__all__ = [
    "DEFAULT_TASK",
    "FACTORS",
    "ISOLATED",
    "SITUATION_FACTORS",
    "CellConfig",
    "Design",
    "DesignStudy",
    "RunOptions",
    "topology_label",
]

#: The exchange label of the isolated condition: nothing of the others is shown.
NO_EXCHANGE = "none"
#: The factor columns of :meth:`Design.outcomes`, in order.
FACTORS: tuple[str, ...] = ("condition", "person", "model", "persona", *SITUATION_FACTORS, "seed")

#: A forced-choice judgement with a correct answer (option ``A``), asked every round.
DEFAULT_TASK = Task(
    [
        Round(
            "Which line is longer?\nLine A is 12 cm long.\nLine B is 9 cm long.\n"
            "A: Line A\nB: Line B",
            options=("A", "B"),
            correct="A",
        )
    ],
    name="line_judgement",
    preamble="You are one of several people answering the same question.",
)

PersonSpec = str | tuple[str, str]
Outcome = Callable[[pd.DataFrame], "float | Mapping[str, float]"]


class RunOptions(TypedDict, total=False):
    """Where and how a design's cells run: the keyword options of :meth:`Design.run`.

    They are the options of :meth:`Design.decisions`, which describes each.
    """

    executor: Executor | None
    store: ResultStore | str | None
    progress: bool


def topology_label(topology: str | Topology) -> str:
    """A short label of a topology: its kind, plus the parameters that differ from the defaults.

    >>> topology_label(Topology("ring", k=2))
    'ring(k=2)'
    >>> topology_label("complete")
    'complete'
    """
    if isinstance(topology, str):
        return topology
    from workbench.society import TOPOLOGIES

    default = Topology(topology.kind)
    changed = [
        f"{name}={getattr(topology, name)}"
        for name in TOPOLOGIES[topology.kind]
        if getattr(topology, name) != getattr(default, name)
    ]
    return topology.kind + (f"({','.join(changed)})" if changed else "")


def person_label(model: str, persona: str) -> str:
    """How a person is named in the ``person`` column: the model, and its persona if any."""
    return model if persona in ("", "none") else f"{model} / {persona}"


# --- one cell: a small study ---------------------------------------------------------


@dataclass(frozen=True)
class CellConfig:
    """One cell of a design: a person in a situation (the config of :class:`DesignStudy`).

    Its fields are the sweep keys of the design's :class:`~workbench.sweep.Sweep`.

    Parameters
    ----------
    person : tuple of (str, str)
        ``(model, persona)`` of the focal members.
    norm : str
        Norm preset or sentence.
    topology : str or Topology
        Network of the social cells; ``"isolated"``: a network without edges.
    exchange : str
        Exchange rule (``"none"`` in the isolated condition).
    memory : int
        Memory window (rounds).
    members : int
        Focal members.
    rounds : int
        Rounds played (the task's rounds are cycled).
    others : tuple of str
        Model strings or rule specs of background members present in social cells.
    schedule : str
        Schedule of the social cells (the isolated condition is always synchronous).
    temperature : float
        Sampling temperature of LLM persons.
    task : Task
        The forced choice.
    """

    person: tuple[str, str] = ("rule:truthful", "none")
    norm: str = "none"
    topology: str | Topology = "complete"
    exchange: str = "answers"
    memory: int = 0
    members: int = 4
    rounds: int = 3
    others: tuple[str, ...] = ()
    schedule: str = "synchronous"
    temperature: float = 1.0
    task: Task = DEFAULT_TASK

    @property
    def isolated(self) -> bool:
        """Whether this is the isolated condition."""
        return self.topology == ISOLATED

    def conditions(self) -> dict[str, Any]:
        """The factor levels copied into every decision row."""
        model, persona = self.person
        return {
            "condition": ISOLATED if self.isolated else "social",
            "person": person_label(model, persona),
            "norm": self.norm,
            "topology": topology_label(self.topology),
            "exchange": NO_EXCHANGE if self.isolated else self.exchange,
            "memory": self.memory,
        }


class DesignStudy(Study):
    """One cell of a :class:`Design` as a study: one society, run once per seed.

    Not registered with the CLI; :class:`Design` hands it to a
    :class:`~workbench.sweep.Sweep`.
    """

    name = "design"
    Config = CellConfig

    def units(self, seed: int) -> list[Unit]:
        """One society per run, seeded from the run's seed and the cell.

        Each cell draws from its own stream (spawned from ``seed`` with a hash of the
        cell's config as the key), so replicate ``i`` of two cells is independent rather
        than a copy of the same random numbers: the decomposition and the intervals
        assume independent runs, and common random numbers would make cells whose
        answer distributions are close give identical choices.
        """
        return [
            Unit(
                0,
                self.config.conditions(),
                0,
                seed_for(seed, "design.cell", _cell_key(self.config)),
            )
        ]

    def models(self) -> list[str]:
        others = () if self.config.isolated else self.config.others
        return [self.config.person[0], *others]

    def build(self, unit: Unit, gateway: Gateway | None = None, run_id: str = "") -> Society:
        """The society of the cell: focal members (and, in social cells, the others)."""
        cfg = self.config
        model, persona = cfg.person
        focal = make_person(model, persona, temperature=cfg.temperature)
        others = (
            []
            if cfg.isolated
            else [make_person(o, temperature=cfg.temperature) for o in cfg.others]
        )
        persons = [focal] * cfg.members + others
        roles = ["focal"] * cfg.members + ["other"] * len(others)
        if cfg.isolated:
            # no edges: nobody's answer reaches anyone; own memory and the norm stay
            situation = Situation(
                norm=cfg.norm, topology=nx.empty_graph(len(persons)), memory=cfg.memory
            )
        else:
            situation = Situation(
                norm=cfg.norm,
                topology=cfg.topology,
                exchange=cfg.exchange,
                memory=cfg.memory,
                schedule=cfg.schedule,
            )
        task = Task(
            tuple(cfg.task.round(t) for t in range(1, cfg.rounds + 1)),
            name=cfg.task.name,
            preamble=cfg.task.preamble,
        )
        return self.society(unit, persons, task, situation, gateway, run_id, roles=roles)

    def summarize(self, decisions: pd.DataFrame, seed: int) -> pd.DataFrame:
        """Share of the focal members' valid answers on each option, per step."""
        focal = decisions[(decisions["role"] == "focal") & decisions["valid"].astype(bool)]
        if focal.empty:
            return pd.DataFrame(columns=["step", "option", "share"])
        shares = focal.groupby("step")["choice"].value_counts(normalize=True)
        return shares.rename("share").rename_axis(["step", "option"]).reset_index()


# --- the design ----------------------------------------------------------------------


def _levels(value: Any, name: str) -> tuple:
    if isinstance(value, str | Topology | int) and not isinstance(value, bool):
        value = (value,)
    try:
        out = tuple(value)
    except TypeError:
        raise ConfigError(f"{name} must be a value or a list of values, got {value!r}") from None
    if not out:
        raise ConfigError(f"{name} needs at least one level")
    return out


def _person(spec: Any) -> tuple[str, str]:
    if isinstance(spec, str):
        return (spec, "none")
    if isinstance(spec, tuple | list) and len(spec) == 2 and all(isinstance(s, str) for s in spec):
        return (spec[0], spec[1] or "none")
    raise ConfigError(f"a person is a model string or a (model, persona) pair, got {spec!r}")


@dataclass(frozen=True)
class Design:
    """Persons crossed with situations and seeds, plus every person's isolated condition.

    Parameters
    ----------
    persons : sequence of str or (str, str)
        The persons: ``(model, persona)`` pairs, or a model string / rule spec alone (no
        persona), e.g. ``("local/smollm2-135m", "team_player")`` or
        ``"rule:conformist:0.3"``.
    norms : sequence of str
        Norm levels (presets of :data:`~workbench.society.NORMS` or sentences).
    topologies : sequence of str or Topology
        Network levels (kind names or :class:`~workbench.society.Topology` objects).
    exchanges : sequence of str
        Exchange rule levels (``"answers"``, ``"counts"``).
    memories : sequence of int
        Memory window levels (rounds a member recalls).
    seeds : int or sequence of int
        A count ``n`` (seeds ``0 .. n-1``) or the seeds; every cell runs with each.
    members : int
        Focal members per society (all of them the cell's person).
    rounds : int
        Rounds per society.
    task : Task
        The forced choice, its rounds cycled for ``rounds`` steps (default: a line
        judgement with correct answer ``A``, asked every round).
    others : sequence of str
        Model strings or rule specs of background members added to every *social* cell
        after the focal members (on the last nodes), e.g. a committed minority; they are
        not counted in the outcome and absent from the isolated condition.
    schedule : str
        Schedule of the social cells (see :data:`~workbench.society.SCHEDULES`); the
        isolated condition is always synchronous.
    temperature : float
        Sampling temperature of LLM persons.
    option : str or None
        The option the default outcome counts; the first round's correct answer, or its
        first option, when None.
    outcome : callable or None
        ``outcome(decisions) -> float or {name: float}``, applied to the focal members'
        decisions of each run (all rounds); a float becomes the column ``outcome``, a
        mapping one column per key. Default: the share of the last round's valid answers
        that chose ``option`` (:func:`~workbench.analysis.factorial.choice_share`).

    Notes
    -----
    The isolated condition of a person is crossed with the norms and the memory windows
    (they are not social information) but not with topologies or exchange rules (there
    is nobody to see); its rows have ``topology="isolated"`` and ``exchange="none"``.

    References
    ----------
    .. [1] Mischel, W. (1968). *Personality and Assessment*. Wiley.
    .. [2] Funder, D. C., & Ozer, D. J. (1983). Behavior as a function of the situation.
       *Journal of Personality and Social Psychology*, 44(1), 107-112.
    .. [3] Fleeson, W. (2004). Moving personality beyond the person-situation debate.
       *Current Directions in Psychological Science*, 13(2), 83-87.
    """

    persons: tuple[PersonSpec, ...]
    norms: tuple[str, ...] = ("none",)
    topologies: tuple[str | Topology, ...] = ("complete",)
    exchanges: tuple[str, ...] = ("answers",)
    memories: tuple[int, ...] = (0,)
    seeds: int | tuple[int, ...] = 3
    members: int = 4
    rounds: int = 3
    task: Task = DEFAULT_TASK
    others: tuple[str, ...] = ()
    schedule: str = "synchronous"
    temperature: float = 1.0
    option: str | None = None
    outcome: Outcome | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        persons = tuple(_person(p) for p in _levels(self.persons, "persons"))
        labels = [person_label(*p) for p in persons]
        if len(set(labels)) != len(labels):
            raise ConfigError(f"persons must be distinct, got {labels}")
        for model, persona in persons:
            make_person(model, persona)  # unknown rules and personas fail here
        set_ = object.__setattr__
        set_(self, "persons", persons)
        set_(self, "norms", _levels(self.norms, "norms"))
        for norm in self.norms:
            norm_text(norm)
        topologies = _levels(self.topologies, "topologies")
        for t in topologies:
            if t == ISOLATED:
                raise ConfigError(
                    "'isolated' is not a topology level: every design runs it already"
                )
            if not isinstance(t, Topology):
                Topology(t)  # an unknown kind fails here
        set_(self, "topologies", topologies)
        set_(self, "exchanges", _levels(self.exchanges, "exchanges"))
        for exchange in self.exchanges:
            if exchange not in EXCHANGES:
                raise ConfigError(
                    f"unknown exchange rule {exchange!r}; choose from {', '.join(EXCHANGES)}"
                )
        set_(self, "memories", tuple(int(m) for m in _levels(self.memories, "memories")))
        if any(m < 0 for m in self.memories):
            raise ConfigError(f"memory windows must be 0 or more, got {self.memories}")
        for name in ("norms", "topologies", "exchanges", "memories"):
            values = [topology_label(v) if name == "topologies" else v for v in getattr(self, name)]
            if len(set(values)) != len(values):
                raise ConfigError(f"{name} has repeated levels: {values}")
        if isinstance(self.seeds, bool):
            raise ConfigError("seeds must be a count or a list of integers")
        if isinstance(self.seeds, int):
            if self.seeds < 1:
                raise ConfigError(f"seeds must be at least 1, got {self.seeds}")
            set_(self, "seeds", tuple(range(self.seeds)))
        else:
            seeds = tuple(int(s) for s in self.seeds)
            if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
                raise ConfigError(f"seeds must be distinct non-negative integers, got {seeds}")
            set_(self, "seeds", seeds)
        if self.members < 1 or self.rounds < 1:
            raise ConfigError(
                f"members and rounds must be at least 1, got {self.members} and {self.rounds}"
            )
        others = _levels(self.others, "others") if self.others else ()
        for spec in others:
            make_person(spec)
        set_(self, "others", others)
        if self.schedule not in SCHEDULES:
            raise ConfigError(
                f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}"
            )
        if not isinstance(self.task, Task):
            raise ConfigError(f"task must be a workbench.society.Task, got {self.task!r}")
        if self.option is not None and any(self.option not in r.options for r in self.task.rounds):
            raise ConfigError(f"option {self.option!r} is not an option of every round")

    # -- planning ---------------------------------------------------------------------

    @property
    def counted(self) -> str:
        """The option the default outcome counts."""
        first = self.task.rounds[0]
        return self.option or first.correct or first.options[0]

    def base(self) -> CellConfig:
        """The config every cell starts from (the grid replaces the factor fields)."""
        return CellConfig(
            person=self.persons[0],
            norm=self.norms[0],
            topology=self.topologies[0],
            exchange=self.exchanges[0],
            memory=self.memories[0],
            members=self.members,
            rounds=self.rounds,
            others=self.others,
            schedule=self.schedule,
            temperature=self.temperature,
            task=self.task,
        )

    def sweeps(self, gateway: GatewayConfig | None = None) -> tuple[Sweep, Sweep]:
        """The social and the isolated :class:`~workbench.sweep.Sweep` of the design."""
        from workbench.sweep import Sweep

        social = Sweep(
            DesignStudy,
            {
                "person": list(self.persons),
                "norm": list(self.norms),
                "topology": list(self.topologies),
                "exchange": list(self.exchanges),
                "memory": list(self.memories),
            },
            self.seeds,
            config=self.base(),
            gateway=gateway,
        )
        alone = dataclasses.replace(self.base(), topology=ISOLATED, exchange=NO_EXCHANGE)
        isolated = Sweep(
            DesignStudy,
            {"person": list(self.persons), "norm": list(self.norms), "memory": list(self.memories)},
            self.seeds,
            config=alone,
            gateway=gateway,
        )
        return social, isolated

    def plan(self) -> pd.DataFrame:
        """Every run of the design, one row each: run id, factor levels, seed."""
        rows = []
        for sweep in self.sweeps():
            for run in sweep.runs():
                rows.append({"run_id": run.run_id, **_factors(run.config), "seed": run.seed})
        return pd.DataFrame(rows, columns=["run_id", *FACTORS])

    def society(
        self,
        person: PersonSpec | None = None,
        *,
        norm: str | None = None,
        topology: str | Topology | None = None,
        exchange: str | None = None,
        memory: int | None = None,
        seed: int = 0,
        isolated: bool = False,
        gateway: Gateway | None = None,
    ) -> Society:
        """The society of one cell (the first level of each factor unless given), not run.

        Levels need not be in the design (e.g. a longer memory window for a
        :func:`~workbench.analysis.persistence.persistence_probe`).
        """
        base = self.base()
        config = dataclasses.replace(
            base,
            person=base.person if person is None else _person(person),
            norm=base.norm if norm is None else norm,
            topology=ISOLATED if isolated else (base.topology if topology is None else topology),
            exchange=NO_EXCHANGE if isolated else (base.exchange if exchange is None else exchange),
            memory=base.memory if memory is None else memory,
        )
        study = DesignStudy(config, seed=seed)
        return study.build(study.units(seed)[0], gateway)

    # -- running ----------------------------------------------------------------------

    def decisions(
        self,
        gateway: Gateway | GatewayConfig | None = None,
        *,
        executor: Executor | None = None,
        store: ResultStore | str | None = None,
        progress: bool = False,
    ) -> pd.DataFrame:
        """Run every cell (social and isolated) and return all their decisions.

        Parameters
        ----------
        gateway : Gateway, GatewayConfig or None
            A live :class:`~workbench.llm.Gateway` (or a subclass, such as
            :class:`workbench.testing.ScriptedGateway`): it is shared, the runs go one
            after the other through it, in this process (``executor`` must be None), so
            they record into its one cassette. A :class:`~workbench.llm.GatewayConfig`:
            each run gets a fresh gateway built from it, through :meth:`Sweep.run
            <workbench.sweep.Sweep.run>` on ``executor``; None: the same with the
            default config.
        executor : concurrent.futures.Executor or None
            Where sweep runs execute (None: in this process).
        store : ResultStore, path or None
            Result store: runs already in it are loaded, not run again; new ones are saved.
        progress : bool
            Show a progress bar.

        Returns
        -------
        pandas.DataFrame
            One row per decision of every run (focal and other members), with the
            columns of a society's decisions table, the factor levels (``condition``,
            ``person``, ``norm``, ``topology``, ``exchange``, ``memory``), ``seed`` and
            ``run_id``.
        """
        if isinstance(gateway, Gateway):
            live, per_run = gateway, None
        elif gateway is None or isinstance(gateway, GatewayConfig):
            live, per_run = None, gateway
        else:
            raise ConfigError(
                f"gateway must be a Gateway, a GatewayConfig or None, not {type(gateway).__name__}"
            )
        frames = []
        for sweep in self.sweeps(per_run):
            result = sweep.run(executor, store, progress=progress, gateway=live)
            # the grid's keys are already columns (from the cell's conditions); the sweep
            # adds the seed
            frames.append(result.decisions())
        return pd.concat([f for f in frames if not f.empty], ignore_index=True)

    def outcomes(self, decisions: pd.DataFrame) -> pd.DataFrame:
        """The tidy outcome table: one row per run, the factor levels as columns.

        Parameters
        ----------
        decisions : pandas.DataFrame
            From :meth:`decisions`.

        Returns
        -------
        pandas.DataFrame
            Columns ``run_id``, :data:`FACTORS` (``condition`` is ``"social"`` or
            ``"isolated"``), ``invalid`` (share of the focal members' decisions that were
            invalid) and the outcome column(s).
        """
        measure = self.outcome or (lambda d: choice_share(d, self.counted))
        by_label = {person_label(*p): p for p in self.persons}
        rows = []
        for run_id, run in decisions.groupby("run_id", sort=False):
            focal = run[run["role"] == "focal"]
            first = run.iloc[0]
            model, persona = by_label[first["person"]]
            value = measure(focal)
            values = dict(value) if isinstance(value, Mapping) else {"outcome": float(value)}
            rows.append(
                {
                    "run_id": run_id,
                    "condition": first["condition"],
                    "person": first["person"],
                    "model": model,
                    "persona": persona,
                    **{f: first[f] for f in SITUATION_FACTORS},
                    "seed": int(first["seed"]),
                    "invalid": float(1 - focal["valid"].astype(bool).mean()),
                    **values,
                }
            )
        table = pd.DataFrame(rows)
        table["memory"] = table["memory"].astype(int)
        order = {"social": 0, ISOLATED: 1}
        return table.sort_values(
            ["condition", "person", *SITUATION_FACTORS, "seed"],
            key=lambda s: s.map(order) if s.name == "condition" else s,
            kind="stable",
        ).reset_index(drop=True)

    def run(
        self, gateway: Gateway | GatewayConfig | None = None, **options: Unpack[RunOptions]
    ) -> pd.DataFrame:
        """Run every cell and return the tidy outcome table (:meth:`outcomes`).

        The arguments are those of :meth:`decisions` (``options``: :class:`RunOptions`).
        """
        return self.outcomes(self.decisions(gateway, **options))


#: Fields added to configs after cells were first keyed, with their default: left out
#: of the key at that default, so a cell keyed before they existed keeps its seed.
_ADDED_LATER: dict[str, Any] = {"wording": 0}


def _without_added(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _without_added(v)
            for k, v in value.items()
            if not (k in _ADDED_LATER and v == _ADDED_LATER[k])
        }
    if isinstance(value, list | tuple):
        return [_without_added(v) for v in value]
    return value


def _cell_key(config: CellConfig) -> int:
    """A stable integer naming a cell (its config, which holds no seed)."""
    payload = json.dumps(_without_added(config_dict(config)), sort_keys=True, default=repr)
    return int.from_bytes(hashlib.sha256(payload.encode()).digest()[:4], "big")


def _factors(config: CellConfig) -> dict[str, Any]:
    model, persona = config.person
    return {**config.conditions(), "model": model, "persona": persona}
