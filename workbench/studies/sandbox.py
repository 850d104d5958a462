"""The sandbox: one question put to a mixed society on a network, round after round.

``workbench run sandbox`` on the command line and the first study of the Explorer panel
(:mod:`workbench.widgets`). Not a canonical experiment but a playground, built so that
every knob of a society is a config field: the members' model and their mix of personas
and rule policies (with shares), the number of members, the topology and its parameters,
the norm, the exchange rule, the schedule and the memory window. Each round every member
answers the same forced-choice question after seeing its neighbours' answers; the
outcome is how the answers spread: the share of members on each option over rounds, and
where on the network they sit.

The questions are social-influence classics in miniature: a trick question with a
correct answer that a committed minority (``rule:committed:B``) or confederates
(``rule:confederate``, who give the question's planted wrong answer) can push against
(informational influence, Deutsch & Gerard [1]_), and a pure coordination question with
no correct answer, where any shared answer is a convention (Centola & Baronchelli [2]_).

References
----------
.. [1] M. Deutsch and H. B. Gerard, "A study of normative and informational social
   influences upon individual judgment", J. Abnormal and Social Psychology 51(3),
   629-636 (1955).
.. [2] D. Centola and A. Baronchelli, "The spontaneous emergence of conventions: an
   experimental study of cultural evolution", PNAS 112(7), 1989-1994 (2015).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from workbench import config
from workbench.errors import ConfigError
from workbench.llm.gateway import DEFAULT_MODEL
from workbench.random import generator
from workbench.society import SCHEDULES, Round, Situation, Task, Topology, make_person
from workbench.society.checks import MAX_MEMBERS, check_network, check_rows, number, whole
from workbench.society.persons import is_rule
from workbench.studies import Study, StudyResult, Unit, register_study, unit_seed

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from workbench.llm import Gateway
    from workbench.society import Person, Society

__all__ = [
    "QUESTIONS",
    "SandboxConfig",
    "SandboxStudy",
    "option_palette",
    "option_shares",
    "parse_mix",
]

#: Built-in questions; any sentence with options labelled A and B (and C) works too.
QUESTIONS: dict[str, Round] = {
    "feathers": Round(
        "Which is heavier: a kilogram of feathers or a kilogram of iron?\n"
        "A: the kilogram of feathers\nB: the kilogram of iron\nC: they weigh the same",
        ("A", "B", "C"),
        correct="C",
        planted="B",
    ),
    "capital": Round(
        "What is the capital of Australia?\nA: Sydney\nB: Canberra\nC: Melbourne",
        ("A", "B", "C"),
        correct="B",
        planted="A",
    ),
    "park": Round(
        "Your town must agree on one name for its new park. Which name do you choose?\n"
        "A: Oak Park\nB: River Park",
        ("A", "B"),
    ),
}
_PREAMBLE = "You are one of several people answering the same question."


def parse_mix(mix: tuple[str, ...]) -> list[tuple[str, float]]:
    """Split ``"who=share"`` entries into ``(who, share)`` pairs (share 1 when omitted).

    Raises
    ------
    ConfigError
        For a malformed or negative share, or when every share is 0.
    """
    pairs = []
    for entry in mix:
        who, sep, share = entry.rpartition("=") if "=" in entry else (entry, "", "1")
        who = who.strip()
        try:
            weight = float(share)
        except ValueError:
            raise ConfigError(f"mix entry {entry!r}: share {share!r} is not a number") from None
        if not who or weight < 0 or not np.isfinite(weight):
            raise ConfigError(f"mix entry {entry!r} needs a name and a share of 0 or more")
        pairs.append((who, weight))
    if not pairs or sum(w for _, w in pairs) <= 0:
        raise ConfigError("the mix needs at least one entry with a positive share")
    return pairs


def _counts(shares: list[float], n: int) -> list[int]:
    """Largest-remainder apportionment of ``n`` members to ``shares``."""
    quota = np.asarray(shares, dtype=float) / sum(shares) * n
    counts = np.floor(quota).astype(int)
    for i in np.argsort(-(quota - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    return [int(c) for c in counts]


@dataclass(frozen=True)
class SandboxConfig:
    """Configuration of the sandbox; every field is a flag and an Explorer widget.

    Parameters
    ----------
    model : str
        Model of the LLM members (the persona entries of the mix).
    members : int
        Number of members.
    mix : tuple of str
        Who the members are, as ``"who=share"``: ``who`` is a persona name (an LLM member
        with that persona; ``none`` for no persona) or a rule spec (``rule:committed:B``,
        ``rule:majority``, ...). Shares are normalised and turned into counts by largest
        remainder; members are placed on the nodes at random (per replicate).
    persona_file : str or None
        A JSON file of extra or edited personas.
    topology, k, p, m, homophily, rows, periodic
        The network: a :class:`~workbench.society.Topology` kind and its parameters.
    norm : str
        A norm preset or sentence.
    exchange : {"answers", "counts"}
        What members see of their neighbours' answers.
    schedule : {"synchronous", "sequential", "pairwise", ...}
        Who answers when (see :data:`~workbench.society.SCHEDULES`).
    memory : int
        Earlier rounds each member recalls.
    question : str
        A name in :data:`QUESTIONS` or the text of a question whose options are labelled
        ``A`` and ``B`` (no correct answer).
    rounds : int
        Rounds per society.
    replicates : int
        Independent societies (seeds) run with these settings.
    temperature : float
        Sampling temperature of the LLM members.
    """

    model: str = config.model(DEFAULT_MODEL, "model of the LLM members")
    members: int = config.members(10, "number of members")
    mix: tuple[str, ...] = field(
        default=("none=0.8", "rule:committed:B=0.2"),
        metadata={"help": "who=share entries: persona names (LLM) or rule specs"},
    )
    persona_file: str | None = config.persona_file("JSON file of personas")
    topology: str = config.topology("watts_strogatz", "network kind")
    k: int = field(default=4, metadata={"help": "neighbours per node (ring, watts_strogatz)"})
    p: float = field(default=0.1, metadata={"help": "rewiring / edge probability"})
    m: int = field(default=2, metadata={"help": "edges per new node (barabasi_albert)"})
    homophily: float = field(default=0.8, metadata={"help": "share of ties inside (sbm)"})
    rows: int | None = field(default=None, metadata={"help": "grid rows"})
    periodic: bool = field(default=False, metadata={"help": "wrap the grid into a torus"})
    norm: str = config.norm("none", "norm preset or sentence")
    exchange: str = config.exchange("answers", "answers or counts")
    schedule: str = field(
        default="synchronous",
        metadata={"help": "who answers when", "choices": lambda: tuple(SCHEDULES)},
    )
    memory: int = config.memory(2, "earlier rounds recalled")
    # "suggest": values the Explorer offers in the field's box (any other text is allowed)
    question: str = field(
        default="feathers",
        metadata={"help": "question name or text", "suggest": tuple(QUESTIONS)},
    )
    rounds: int = config.count(4, "rounds per society")
    replicates: int = config.count(2, "societies (seeds) to run")
    temperature: float = config.temperature(1.0, "temperature of LLM members")

    def __post_init__(self) -> None:
        config.normalise(self)
        whole(self, "k", None, MAX_MEMBERS, " neighbours a member can have")
        whole(self, "m", None, MAX_MEMBERS, " ties a new member can bring")
        if self.rows is not None:
            whole(self, "rows", 1, MAX_MEMBERS, " rows a grid of members can have")
        number(self, "p", 0.0, 1.0)
        number(self, "homophily", 0.0, 1.0)
        if self.schedule not in SCHEDULES:
            raise ConfigError(
                f"--schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}"
            )
        # every member answers at most once a round
        check_rows(
            self.replicates * self.members * self.rounds,
            "--members x --rounds x --replicates",
            "--rounds, --members or --replicates",
            most=("rounds", self.replicates * self.members, 0),
        )
        check_network(self.topology, self.members, k=self.k, p=self.p, m=self.m)
        for who, _ in parse_mix(self.mix):
            self.person(who)
        Situation(
            norm=self.norm,
            topology=self.network(),
            exchange=self.exchange,
            memory=self.memory,
            schedule=self.schedule,
        )
        self.network().build(self.members, seed=0)
        self.round()

    def network(self) -> Topology:
        """The :class:`~workbench.society.Topology` the topology fields describe."""
        return Topology(
            self.topology,
            k=self.k,
            p=self.p,
            m=self.m,
            homophily=self.homophily,
            rows=self.rows,
            periodic=self.periodic,
        )

    def round(self) -> Round:
        """The question as a :class:`~workbench.society.Round`."""
        key = self.question.strip()
        if key in QUESTIONS:
            return QUESTIONS[key]
        if not any(c.isspace() for c in key):
            raise ConfigError(
                f"unknown question {key!r}; use one of {', '.join(QUESTIONS)} or a sentence"
            )
        return Round(key, ("A", "B"))

    def person(self, who: str) -> Person:
        """The person of a mix entry: a rule spec, or an LLM person with that persona."""
        if is_rule(who):
            return make_person(who)
        return make_person(
            self.model, who, temperature=self.temperature, persona_file=self.persona_file
        )


@register_study
class SandboxStudy(Study):
    """The Explorer's sandbox: a question spreading through a mixed society.

    Examples
    --------
    >>> cfg = SandboxConfig(mix=("rule:majority=3", "rule:committed:B=1"), members=8)
    >>> result = SandboxStudy(cfg, seed=1).run()
    >>> result.summary.columns.tolist()
    ['step', 'option', 'share', 'sd', 'societies', 'invalid']
    """

    name = "sandbox"
    Config = SandboxConfig
    example: ClassVar[dict] = {
        "mix": ("rule:majority=3", "rule:committed:B=1"),
        "members": 8,
        "replicates": 1,
    }

    def units(self, seed: int) -> list[Unit]:
        """One unit per replicate."""
        return [Unit(i, {}, i, unit_seed(seed, "unit", i)) for i in range(self.config.replicates)]

    def models(self) -> list[str]:
        return [self.config.person(who).model for who, _ in parse_mix(self.config.mix)]

    def build(self, unit: Unit, gateway: Gateway | None = None, run_id: str = "") -> Society:
        """The society of one replicate: the mix shuffled onto the nodes."""
        cfg = self.config
        pairs = parse_mix(cfg.mix)
        persons, roles = [], []
        for (who, _), count in zip(pairs, _counts([w for _, w in pairs], cfg.members), strict=True):
            person = cfg.person(who)
            persons += [person] * count
            roles += ["rule" if person.is_rule else "llm"] * count
        order = generator(unit.seed, "sandbox.order")
        placed = order.permutation(len(persons))
        situation = Situation(
            norm=cfg.norm,
            topology=cfg.network(),
            exchange=cfg.exchange,
            memory=cfg.memory,
            schedule=cfg.schedule,
        )
        return self.society(
            unit,
            [persons[i] for i in placed],
            Task((cfg.round(),) * cfg.rounds, name="sandbox", preamble=_PREAMBLE),
            situation,
            gateway,
            run_id,
            conditions={"replicate": unit.replicate},
            roles=[roles[i] for i in placed],
        )

    def summarize(self, decisions: pd.DataFrame, seed: int) -> pd.DataFrame:
        """Share of members on each option per round, mean and sd over societies.

        Returns
        -------
        pandas.DataFrame
            Columns ``step``, ``option``, ``share`` (of the valid answers, see
            :func:`option_shares`), ``sd``, ``societies`` (those with a valid answer that
            step) and ``invalid`` (the step's invalid answers, all societies).
        """
        shares = option_shares(decisions, self.config.round().options)
        summary = (
            shares.groupby(["step", "option"], sort=True)
            .share.agg(share="mean", sd="std", societies="size")
            .reset_index()
        )
        invalid = (~decisions.valid.astype(bool)).groupby(decisions.step).sum()
        summary["invalid"] = summary.step.map(invalid).fillna(0).astype(int)
        return summary

    def plot(self, result: StudyResult) -> Figure:
        """Share of members on each option over rounds (bands: range over societies)."""
        import matplotlib.pyplot as plt
        import seaborn as sns

        cfg = result.config
        round_ = cfg.round()
        shares = option_shares(result.decisions, round_.options)
        sns.set_theme(style="whitegrid", context="notebook")
        fig, ax = plt.subplots(figsize=(6.5, 4))
        sns.lineplot(
            shares,
            x="step",
            y="share",
            hue="option",
            hue_order=list(round_.options),
            palette=option_palette(round_.options),
            errorbar=("pi", 100),
            marker="o",
            ax=ax,
        )
        if round_.correct:
            ax.text(
                0.01, 1.02, f"correct: {round_.correct}", transform=ax.transAxes, fontsize="small"
            )
        ax.set(
            xlabel="round",
            ylabel="share of members",
            ylim=(-0.02, 1.02),
            title=f"{cfg.members} members, {cfg.topology}, norm: {cfg.norm}",
        )
        ax.xaxis.get_major_locator().set_params(integer=True)
        fig.tight_layout()
        return fig


def option_shares(decisions: pd.DataFrame, options: tuple[str, ...]) -> pd.DataFrame:
    """Share of each society's valid answers on each option, per step.

    Parameters
    ----------
    decisions : pandas.DataFrame
        A decisions table with ``replicate`` (or any unit key), ``step`` and ``choice``.
    options : tuple of str
        The options, in order (options nobody chose get share 0).

    Returns
    -------
    pandas.DataFrame
        Columns ``replicate``, ``step``, ``option``, ``share``.
    """
    key = "replicate" if "replicate" in decisions else "run_id"
    valid = decisions[decisions.valid.astype(bool)]
    counts = pd.crosstab([valid[key], valid.step], valid.choice)
    counts = counts.reindex(columns=list(options), fill_value=0)
    shares = counts.div(counts.sum(axis=1), axis=0).rename_axis(columns="option")
    return shares.stack().rename("share").reset_index().rename(columns={key: "replicate"})


def option_palette(options) -> dict[str, tuple]:
    """A colour per option (seaborn's ``deep`` palette, in option order)."""
    import seaborn as sns

    colours = sns.color_palette("deep", max(len(options), 3))
    return {o: colours[i] for i, o in enumerate(options)}
