"""The coordination game kit: the task, its populations and networks, the play loop, measures.

Ashery, Aiello and Baronchelli [1]_ let populations of LLM agents play a coordination
game: at every step agents are paired at random; both partners pick a name from a pool of
W names; a match pays both +100, a mismatch -50. Each agent's prompt holds only its own
last k interactions (its name, the partner's name, the payoff). This module is the game,
independent of any study: :mod:`workbench.studies.conventions` and
:mod:`workbench.studies.minority` compose it.

- the task: :class:`CoordinationGame` (one round repeated, a payoff prompt, unnumbered
  history so identical prompts recur), :func:`coordination_game`, :func:`prior_game`
  (the first-round prompt once per cyclic order of the names) and :func:`name_pool`;
- the population: :func:`population` (persons with personas assigned in turn),
  :func:`game_situation` (``"pairwise"`` for LLM and memory members, ``"speaker_hearer"``
  for ``rule:naming_game``: the naming game's rules [2]_ played in Ashery et al.'s
  per-round matchings over the W names, which is NOT the minimal game of [2]_ and has no
  published scaling; shuffled name order), :func:`game_network` (the ring lattice
  and the connected random regular graph of Centola and Baronchelli [3]_ at a degree fitted
  to the population, any other :class:`~workbench.society.Topology` kind with its default
  parameters), :func:`check_game_population` and :func:`check_game_network`;
- the play loop :func:`play`: step until the last 3N interactions all succeeded;
- the minimal naming game of Baronchelli et al. [2]_ itself (one random speaker-hearer
  pair per interaction, a brand-new word per invention, consensus in interactions), as a
  fast path without a Society: :func:`minimal_naming_game`, :func:`minimal_game_runs`,
  :func:`minimal_game_summary`; its references (t_conv and N_w^max ~ N^1.5 on a
  complete graph) belong to it alone, see :data:`MINIMAL_GAME_REFERENCE`;
- the measures: :func:`interactions`, :func:`convergence`, :func:`dominance`,
  :func:`timeline`, :func:`run_outcomes`, :func:`per_round`, and the isolated priors and
  collective bias (:func:`isolated_priors`, :func:`collective_bias`).

The rule policies of the game (``rule:naming_game``, ``rule:memory``) are in
:mod:`workbench.society.games`.

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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from workbench.errors import ConfigError
from workbench.society.checks import MAX_MEMBERS, check_network, whole_number
from workbench.society.games import MemoryMajority, NamingGame  # noqa: F401  (registers rules)
from workbench.society.persons import Person, is_rule, make_person
from workbench.society.situation import Situation
from workbench.society.society import Society
from workbench.society.task import WORDINGS, Observation, Round, Task, chat
from workbench.society.topology import Topology

__all__ = [
    "MAX_NAMES",
    "NAMING_GAME_MEMORY",
    "NAME_POOL",
    "PENALTY",
    "REWARD",
    "MINIMAL_GAME_EXPONENT",
    "MINIMAL_GAME_REFERENCE",
    "SEEDED_KINDS",
    "STREAK_ROUNDS",
    "UNIT_KEYS",
    "CoordinationGame",
    "MinimalGameRun",
    "check_game_network",
    "check_game_population",
    "collective_bias",
    "convergence",
    "coordination_game",
    "dominance",
    "game_network",
    "game_situation",
    "interactions",
    "isolated_priors",
    "is_lean",
    "minimal_game_runs",
    "minimal_game_summary",
    "minimal_naming_game",
    "name_pool",
    "nanmean",
    "per_round",
    "play",
    "population",
    "prior_game",
    "run_outcomes",
    "temper",
    "timeline",
    "unit_keys",
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
#: Largest name pool: every rule decision builds one probability per name.
MAX_NAMES = 10_000
#: Network kinds whose degree follows the game's ``degree`` and whose graph is built from
#: the unit's own seed (see :func:`game_network`): the ring lattice and the random regular
#: graph (``"random"`` is its name in the studies).
SEEDED_KINDS = ("ring", "random", "random_regular")
#: Columns that identify one population's run in a game's decisions table.
UNIT_KEYS = ("population", "topology", "members", "run")


def name_pool(w: int, offset: int = 0) -> tuple[str, ...]:
    """The ``w`` names of a pool: single letters up to 26, else ``n1`` .. ``nw``.

    ``offset`` starts the letters further along :data:`NAME_POOL` (``name_pool(2, 2)`` is
    K, M), so the same game can be asked with other names.
    """
    if w < 2:
        raise ConfigError(f"a name pool needs at least 2 names, got {w}")
    if offset and not 0 <= offset <= len(NAME_POOL) - w:
        raise ConfigError(
            f"a pool of {w} names can start at letter 0 to {max(0, len(NAME_POOL) - w)} of "
            f"{NAME_POOL}, got {offset}"
        )
    if w <= len(NAME_POOL):
        return tuple(NAME_POOL[offset : offset + w])
    return tuple(f"n{i}" for i in range(1, w + 1))


# -- the task ---------------------------------------------------------------------------


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
        words = _GAME_WORDINGS[self.wording]
        names = observation.listed
        listed = ", ".join(names[:-1]) + " or " + names[-1]
        unit = words["letter"] if all(len(n) == 1 for n in names) else words["name"]
        parts = [
            words["rules"].format(names=", ".join(names)),
            words["payoff"].format(reward=self.reward, penalty=-self.penalty),
        ]
        if observation.memory:
            lines = [
                words["line"].format(
                    choice=r.choice or "nothing",
                    other=r.other or "nothing",
                    points=self.payoff(r.choice, r.other),
                )
                for r in observation.memory
            ]
            parts.append(
                words["history"].format(n=len(lines)) + "\n" + "\n".join(lines)
                if len(lines) > 1
                else words["last"] + "\n" + lines[0]
            )
        else:
            parts.append(words["first"])
        if self.preamble:
            parts.insert(0, self.preamble)
        parts.append(words["ask"].format(unit=unit, listed=listed))
        return chat(persona, norm, parts)


#: The game's prompt in each wording (:attr:`Task.wording`); wording 0 is the original
#: (after Ashery et al. [1]_), which the recorded cassettes were made with.
_GAME_WORDINGS: tuple[dict[str, str], ...] = (
    {
        "rules": "You are playing a game, round after round. In every round you are paired "
        "with a partner, and you and your partner each pick a name from this list: "
        "{names}. You cannot talk to each other.",
        "payoff": "If you both pick the same name, you each win {reward} points. If you "
        "pick different names, you each lose {penalty} points. Your goal is "
        "to win as many points as you can.",
        "line": "- you picked {choice}, your partner picked {other} ({points:+d} points)",
        "history": "Your last {n} rounds, oldest first:",
        "last": "Your last round:",
        "first": "This is your first round: you have no history yet.",
        "ask": "Which name do you pick this round? Answer with {unit}: {listed}.",
        "letter": "one letter",
        "name": "one name",
    },
    {
        "rules": "This is a game of many rounds. Each round you are matched with a partner; "
        "each of you chooses one name from this list: {names}. You and your partner "
        "cannot communicate.",
        "payoff": "When you both choose the same name, each of you gains {reward} points. "
        "When your names differ, each of you loses {penalty} points. Try to score as "
        "many points as possible.",
        "line": "- you chose {choice} and your partner chose {other}: {points:+d} points",
        "history": "Your {n} most recent rounds, oldest first:",
        "last": "Your most recent round:",
        "first": "This is the first round, so you have no history.",
        "ask": "Which name do you choose now? Reply with {unit} only: {listed}.",
        "letter": "a single letter",
        "name": "a single name",
    },
    {
        "rules": "You take part in a repeated game. In each round a partner is assigned to "
        "you at random and both of you name one item from this list: {names}. There is "
        "no way to talk to your partner.",
        "payoff": "Matching names earn each of you {reward} points; different names cost "
        "each of you {penalty} points. Aim for the highest total score.",
        "line": "- your name {choice}, your partner's name {other} ({points:+d} points)",
        "history": "Here are your last {n} rounds, the oldest first:",
        "last": "Here is your last round:",
        "first": "No rounds have been played yet: you have no history.",
        "ask": "Which name do you give this round? Give {unit}, nothing else: {listed}.",
        "letter": "one letter",
        "name": "one name",
    },
)
assert len(_GAME_WORDINGS) == len(WORDINGS)


def coordination_game(
    names: tuple[str, ...], phases: tuple[str, ...] = ("game",), wording: int = 0
) -> Task:
    """A :class:`CoordinationGame` over ``names``, one round per phase (the last repeats),
    its prompt in ``wording``.

    Each round's ``info`` holds its ``phase``, copied into every result row.
    """
    rounds = tuple(Round("Pick a name.", names, info={"phase": p}) for p in phases)
    return CoordinationGame(rounds, name="coordination", wording=wording)


def prior_game(names: tuple[str, ...], rotate: bool = True, wording: int = 0) -> CoordinationGame:
    """The first-round prompt asked of one member alone, once per cyclic order of ``names``.

    An isolated member's answers to it are its *prior* (:func:`isolated_priors`); with
    ``rotate`` False (rules, which ignore the order) it is asked once. Each round's
    ``info`` has the phase ``"prior"``.
    """
    rotations = len(names) if rotate else 1
    orders = [names[i:] + names[:i] for i in range(rotations)]
    return CoordinationGame(
        tuple(Round("Pick a name.", o, info={"phase": "prior"}) for o in orders),
        name="coordination",
        wording=wording,
    )


# -- the population ---------------------------------------------------------------------


def population(
    model: str,
    n: int,
    personas: Sequence[str],
    *,
    temperature: float,
    persona_file: str | None = None,
) -> list[Person]:
    """``n`` persons of ``model``; member ``i`` gets persona ``i mod len(personas)``."""
    return [
        make_person(
            model,
            personas[i % len(personas)],
            temperature=temperature,
            persona_file=persona_file,
        )
        for i in range(n)
    ]


def game_situation(model: str, topology: Any, *, norm: str, memory: int) -> Situation:
    """The situation of a population of ``model`` on ``topology``.

    The naming game (``rule:naming_game``) plays the ``"speaker_hearer"`` schedule with a
    memory that never binds (:data:`NAMING_GAME_MEMORY`); every other population plays
    ``"pairwise"`` with a memory of ``memory`` interactions. The name order is shuffled in
    every LLM prompt.
    """
    naming = model.startswith("rule:naming_game")
    return Situation(
        norm=norm,
        topology=topology,
        memory=NAMING_GAME_MEMORY if naming else memory,
        schedule="speaker_hearer" if naming else "pairwise",
        shuffle=True,
    )


def is_lean(names: int) -> bool:
    """Whether a game over ``names`` names keeps no probability vectors (``Society(lean=)``):
    pools beyond the letter names are for rule populations only."""
    return names > len(NAME_POOL)


def _fitted(kind: str, n: int, degree: int) -> Topology:
    if kind == "ring":
        d = min(degree, n - 1 - (n - 1) % 2)
        # watts_strogatz links k // 2 neighbours on each side: an odd degree is the even below
        return Topology("ring", k=max(d - d % 2, 2))
    d = min(degree, n - 1)
    if (n * d) % 2:
        d -= 1
    return Topology("random_regular", k=d)


def game_network(kind: str, n: int, degree: int, seed: int) -> nx.Graph | Topology:
    """The network of a population of ``n``.

    ``"ring"``: ring lattice, each member linked to its ``degree`` nearest neighbours
    (fewer when the population is small); ``"random"`` (or ``"random_regular"``): a
    connected random ``degree``-regular graph (the same degree as the ring, as in [3]_);
    both are built here from ``seed``. ``"complete"`` and the other kinds of
    :data:`~workbench.society.TOPOLOGIES` (and the seeded kinds on 2 members or fewer)
    are returned as a :class:`~workbench.society.Topology` with its default parameters,
    which the society builds from its own generator.
    """
    if kind in SEEDED_KINDS and n > 2:
        return _fitted(kind, n, degree).build(n, seed)
    return Topology("complete" if kind in SEEDED_KINDS else kind)


def check_game_network(kind: str, n: int, degree: int) -> None:
    """Reject a population of ``n`` whose network (:func:`game_network`) would not fit in
    memory, or an unknown network kind (one line listing the kinds)."""
    if kind in SEEDED_KINDS:
        Topology(kind)
        check_network(kind, n, k=degree)
    else:  # the other kinds with their default parameters
        Topology(kind).check(n)


def check_game_population(
    populations: Sequence[str], names: int, memory: int, degree: int
) -> tuple[str, ...]:
    """Check what a coordination game needs of its populations; return the name pool.

    LLM populations (of ``populations``: models or rule specs) fit the letter names, the
    pool of ``names`` fits :data:`MAX_NAMES`, ``memory`` holds at least one interaction and
    ``degree`` is at least 2 (and at most :data:`~workbench.society.checks.MAX_MEMBERS`).
    """
    whole_number(names, "names", None, MAX_NAMES, " names a run can offer (one probability each)")
    whole_number(degree, "degree", None, MAX_MEMBERS, " neighbours a member can have")
    pool = name_pool(names)
    if any(not is_rule(m) for m in populations) and names > len(NAME_POOL):
        raise ConfigError(f"LLM populations need at most {len(NAME_POOL)} names")
    if memory < 1:
        raise ConfigError(f"memory must be at least 1 interaction, got {memory}")
    if degree < 2:
        raise ConfigError(f"degree must be at least 2, got {degree}")
    return pool


# -- the play loop ----------------------------------------------------------------------


def play(society: Society, max_interactions: int, on: str | None = None) -> int:
    """Step ``society`` until it has converged or played ``max_interactions``.

    Converged: the last 3N interactions all succeeded (on the name ``on``, when given);
    an interaction with an invalid answer neither extends nor breaks the streak, as in
    :func:`convergence`. Returns the number of interactions played in this call. It
    reads the decisions table's raw columns, so checking costs O(new rows) per step;
    the steps are :meth:`Society.run <workbench.society.Society.run>`'s, with this rule
    as its ``until``.
    """
    need = STREAK_ROUNDS * len(society.members)
    if society.arrays:  # the engine checks the streak on its arrays, interaction by interaction
        return society.engine.play(max_interactions, need, on) if max_interactions > 0 else 0
    table = society.datacollector.tables["decisions"]
    choices, valid = table["choice"], table["valid"]
    start = len(choices)
    state = {"seen": start, "streak": 0}
    if max_interactions <= 0:
        return 0

    def until(_: Society) -> bool:
        seen = state["seen"]
        if len(choices) == seen:
            return True  # nobody could be matched
        streak = state["streak"]
        for i in range(seen, len(choices), 2):
            if not (valid[i] and valid[i + 1]):
                continue  # no evidence either way
            ok = choices[i] == choices[i + 1] and (on is None or choices[i] == on)
            streak = streak + 1 if ok else 0
        state["seen"], state["streak"] = len(choices), streak
        return (len(choices) - start) // 2 >= max_interactions or streak >= need

    society.run(None, until=until)
    return (state["seen"] - start) // 2


# -- the minimal naming game, fast path -------------------------------------------------

#: The exponent of the minimal naming game's scaling on a complete graph [2]_.
MINIMAL_GAME_EXPONENT = 1.5
#: What is published for the minimal naming game on a complete graph, and how sure it is.
#: The exponent 1.5 of t_max, t_conv and N_w^max is in the text of Baronchelli et al.
#: 2006 [2]_ (their Fig. 2 fits, alpha ~ gamma ~ 1.5) and of Baronchelli, Dall'Asta, Barrat
#: & Loreto, physics/0512045 (abstract: "in mean-field both memory and time scale as
#: N^{3/2}"). The PREFACTORS (a in a N^1.5) could not be read from any stored text of
#: those papers (only their opening pages are searchable here), so none is printed as
#: published: ``prefactor`` is None, and the values this project measured (a correct
#: simulation, checked against an independent one in tests/test_naming_game.py and
#: benchmarks/RESULTS.md) are in ``measured``: they drift with N (finite-size
#: corrections), so a N^1.5 with one a fits no range from N = 24 to 1000 within 5%.
MINIMAL_GAME_REFERENCE: dict[str, Any] = {
    "setup": "minimal naming game, complete graph, one random speaker-hearer pair per "
    "interaction, a brand-new word per invention",
    "result": "t_conv ~ N^1.5 and N_w^max ~ N^1.5 (interactions, total words)",
    "exponent": MINIMAL_GAME_EXPONENT,
    "prefactor": None,
    "measured": {  # N: (mean t_conv / N^1.5, mean N_w^max / N^1.5), this project
        24: (3.11, 0.511),
        100: (2.49, 0.399),
        316: (1.93, 0.356),
        1000: (1.61, 0.341),
    },
    "source": "Baronchelli et al. 2006, J. Stat. Mech. P06014",
}


@dataclass(frozen=True)
class MinimalGameRun:
    """One run of the minimal naming game (:func:`minimal_naming_game`).

    Attributes
    ----------
    members : int
        Population size N.
    interactions : int
        Interactions played (one speaker-hearer pair each).
    converged : bool
        Whether every member ended with the same single word.
    t_conv : float
        Interactions until that consensus (NaN when not reached).
    peak_words : int
        N_w^max: the largest total number of words (sum of inventory sizes).
    t_peak : int
        Interactions until that peak was first reached.
    peak_distinct : int
        The largest number of distinct words in the population.
    invented : int
        Words invented (each one new).
    trace : pandas.DataFrame
        Every ``every`` interactions (and at the end): ``interactions``, ``words``
        (N_w), ``distinct`` (N_d), ``success`` (share of the window's interactions that
        succeeded).
    """

    members: int
    interactions: int
    converged: bool
    t_conv: float
    peak_words: int
    t_peak: int
    peak_distinct: int
    invented: int
    trace: pd.DataFrame


def minimal_naming_game(
    n: int,
    seed: int | np.random.SeedSequence,
    *,
    max_interactions: int | None = None,
    graph: nx.Graph | None = None,
    every: int | None = None,
    stop: bool = True,
) -> MinimalGameRun:
    """The minimal naming game of Baronchelli et al. [2]_, one speaker-hearer pair at a time.

    Every interaction draws a speaker uniformly among the ``n`` members and a hearer
    uniformly among the others (on ``graph``: among the speaker's neighbours). The
    speaker says a word drawn uniformly from its inventory; with an empty inventory it
    invents a brand-new word (an open vocabulary: words are never drawn from a pool, so
    two inventions never coincide). If the hearer knows the word, both keep only it
    (success); otherwise the hearer adds it (failure). Consensus is reached when every
    member holds the same single word; time is counted in interactions.

    This is the society-free fast path of the game, and why it exists: a
    :class:`~workbench.society.Society` decision is a forced choice over a fixed option
    tuple with one probability per option and one recorded row, which makes an open
    vocabulary O(W) per decision and costs about 100 us an interaction, while the
    scaling checks need about 10^7 interactions. Here a decision costs O(1), amortised:
    inventories are a list (uniform draw) and a set (membership) per member, and the
    number of holders of each word is kept so that N_w and N_d are O(1) updates; nothing
    scans the words ever invented. The ``"random_pair"`` schedule
    (:class:`~workbench.society.schedules.RandomPair`) plays the same interaction order
    in a Society, with LLM or rule members over the task's names.

    Parameters
    ----------
    n : int
        Members (at least 2).
    seed : int or numpy.random.SeedSequence
        Seed of the run's generator (the same seed gives the same run).
    max_interactions : int or None
        Most interactions to play; default ``100 N^1.5`` (far beyond consensus on a
        complete graph, whose mean is about ``0.5 N^1.5`` interactions).
    graph : networkx.Graph or None
        Who can meet whom; None is the complete graph (homogeneous mixing). Nodes are
        relabelled 0..n-1 in iteration order; every node needs a neighbour.
    every : int or None
        Interval of the ``trace`` rows; default ``max(1, n // 2)``.
    stop : bool
        Stop at consensus (True), or play all ``max_interactions`` (for benchmarks).

    Returns
    -------
    MinimalGameRun

    Notes
    -----
    Reference values, on a complete graph (homogeneous mixing): the time of the peak of
    N_w, the peak N_w^max and the convergence time all grow as N^1.5 [2]_, [4]_ (the
    exponents are the papers' text; physics/0512045's abstract: "in mean-field both
    memory and time scale as N^{3/2}"). See :data:`MINIMAL_GAME_REFERENCE` for the
    prefactors used beside this game and how sure each is.
    """
    whole_number(n, "members", 2, MAX_MEMBERS, " members a game can hold")
    nbrs: list[list[int]] | None = None
    if graph is not None:
        if graph.number_of_nodes() != n:
            raise ConfigError(f"the graph has {graph.number_of_nodes()} nodes, not {n}")
        index = {v: i for i, v in enumerate(graph.nodes)}
        nbrs = [[index[u] for u in graph[v] if u != v] for v in graph.nodes]
        if any(not x for x in nbrs):
            raise ConfigError("every member needs a neighbour to play the naming game")
    limit = int(100 * n**1.5) if max_interactions is None else int(max_interactions)
    every = max(1, n // 2) if every is None else int(every)
    rng = np.random.default_rng(seed)
    lists: list[list[int]] = [[] for _ in range(n)]
    sets: list[set[int]] = [set() for _ in range(n)]
    holders: dict[int, int] = {}  # word -> members holding it
    words = invented = 0
    peak = t_peak = peak_distinct = 0
    t_conv = np.nan
    rows: list[tuple[int, int, int, float]] = []
    window_ok = 0
    t = 0
    block = max(64, int(n**1.5))  # about one run's worth on a complete graph, then doubling
    while t < limit:
        size = min(block, limit - t)
        block = min(2 * block, 1 << 16)
        u = rng.random((size, 3)).tolist()  # speaker, hearer, word: 3 uniforms each
        for us, uh, uw in u:
            t += 1
            s = int(us * n)
            if nbrs is None:
                h = int(uh * (n - 1))
                if h >= s:
                    h += 1
            else:
                near = nbrs[s]
                h = near[int(uh * len(near))]
            inventory = lists[s]
            if inventory:
                w = inventory[int(uw * len(inventory))]
            else:  # invent a brand-new word
                w = invented
                invented += 1
                inventory.append(w)
                sets[s].add(w)
                holders[w] = 1
                words += 1
            heard = sets[h]
            if w in heard:  # success: both keep only w
                window_ok += 1
                for m in (s, h):
                    for x in lists[m]:
                        if x != w:
                            left = holders[x] - 1
                            if left:
                                holders[x] = left
                            else:
                                del holders[x]
                    words -= len(lists[m]) - 1
                    lists[m] = [w]
                    sets[m] = {w}
                if words == n and holders[w] == n and np.isnan(t_conv):
                    t_conv = float(t)
            else:  # failure: the hearer learns w
                lists[h].append(w)
                heard.add(w)
                holders[w] += 1
                words += 1
                if words > peak:
                    peak, t_peak = words, t
                if len(holders) > peak_distinct:
                    peak_distinct = len(holders)
            if t % every == 0:
                rows.append((t, words, len(holders), window_ok / every))
                window_ok = 0
            if stop and t_conv == t:
                break
        if stop and not np.isnan(t_conv):
            break
    if not rows or rows[-1][0] != t:
        rows.append((t, words, len(holders), window_ok / max(1, t % every)))
    trace = pd.DataFrame(rows, columns=["interactions", "words", "distinct", "success"])
    return MinimalGameRun(
        n, t, bool(np.isfinite(t_conv)), t_conv, peak, t_peak, peak_distinct, invented, trace
    )


def minimal_game_runs(
    sizes: Sequence[int], runs: int, seed: int, graph: nx.Graph | None = None
) -> pd.DataFrame:
    """Independent runs of :func:`minimal_naming_game`, ``runs`` per size.

    Run ``r`` of size ``n`` is seeded with ``SeedSequence([seed, n, r])``.

    Returns
    -------
    pandas.DataFrame
        One row per run: ``members``, ``run``, ``converged``, ``t_conv``,
        ``peak_words`` (N_w^max), ``t_peak``, ``peak_distinct``, ``invented``,
        ``interactions``.
    """
    whole_number(runs, "runs", 1, None, "")
    rows = []
    for n in sizes:
        for r in range(runs):
            x = minimal_naming_game(n, np.random.SeedSequence([seed, n, r]), graph=graph)
            rows.append(
                {
                    "members": n,
                    "run": r,
                    "converged": x.converged,
                    "t_conv": x.t_conv,
                    "peak_words": x.peak_words,
                    "t_peak": x.t_peak,
                    "peak_distinct": x.peak_distinct,
                    "invented": x.invented,
                    "interactions": x.interactions,
                }
            )
    return pd.DataFrame(rows)


def minimal_game_summary(per_run: pd.DataFrame) -> pd.DataFrame:
    """Per size: the means of :func:`minimal_game_runs` with their standard errors and
    the same divided by N^1.5 (the scaling of [2]_ on a complete graph).

    Returns
    -------
    pandas.DataFrame
        ``members``, ``runs``, ``converged``, ``t_conv`` and ``t_conv_se`` (mean over
        converged runs, interactions), ``peak_words`` and ``peak_words_se`` (mean
        N_w^max), ``t_peak``, ``t_conv / N^1.5``, ``N_w^max / N^1.5``.
    """
    out = []
    for n, group in per_run.groupby("members", sort=True):
        done = group[group.converged]
        scale = float(n) ** MINIMAL_GAME_EXPONENT
        k = max(len(done), 1)
        t_se = float(done.t_conv.std(ddof=1) / np.sqrt(k)) if len(done) > 1 else np.nan
        p_se = (
            float(group.peak_words.std(ddof=1) / np.sqrt(len(group))) if len(group) > 1 else np.nan
        )
        out.append(
            {
                "members": int(n),
                "runs": len(group),
                "converged": len(done),
                "t_conv": float(done.t_conv.mean()) if len(done) else np.nan,
                "t_conv_se": t_se,
                "peak_words": float(group.peak_words.mean()),
                "peak_words_se": p_se,
                "t_peak": float(group.t_peak.mean()),
                "t_conv / N^1.5": float(done.t_conv.mean()) / scale if len(done) else np.nan,
                "N_w^max / N^1.5": float(group.peak_words.mean()) / scale,
            }
        )
    return pd.DataFrame(out)


# -- measures ---------------------------------------------------------------------------


def unit_keys(frame: pd.DataFrame, extra: Sequence[str] = ()) -> list[str]:
    """The columns of ``frame`` among :data:`UNIT_KEYS` and then ``extra`` (a study's own
    condition columns), in that order: the keys of one population's run."""
    return [k for k in dict.fromkeys([*UNIT_KEYS, *extra]) if k in frame]


def nanmean(x: Any) -> float:
    """The mean of the non-NaN values, NaN when there are none (no warning)."""
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    return float(x.mean()) if len(x) else np.nan


def temper(p: np.ndarray, t: float) -> np.ndarray:
    """Choice probabilities ``p`` at temperature ``t`` (``p ** (1/t)``, renormalised; the
    argmax, ties shared, at 0)."""
    if p.sum() <= 0:
        return p
    if t <= 0:
        q = (p == p.max()).astype(float)
        return q / q.sum()
    q = p ** (1.0 / t)
    return q / q.sum()


def interactions(decisions: pd.DataFrame, keys: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per interaction of the game rows of a decisions table.

    Pairs are consecutive rows (first partner, then second) in every unit. Columns: the
    unit ``keys`` (by default :func:`unit_keys`: ``population``, ``topology``,
    ``members``, ``run`` where present), ``step``, ``phase``, ``a``, ``b`` (member ids),
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
    keys = unit_keys(decisions) if keys is None else list(keys)
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


def dominance(choices: dict, n: int) -> tuple[str | None, float]:
    """The most common name of ``choices`` (member -> name) and its share of ``n``.

    Ties go to the later name in alphabetical order; the share is NaN when ``n`` is 0.
    """
    if not n:
        return None, np.nan
    if not choices:
        return None, 0.0
    counts: dict[str, int] = {}
    for c in choices.values():
        counts[c] = counts.get(c, 0) + 1
    name = max(counts, key=lambda c: (counts[c], c))
    return name, counts[name] / n


def timeline(decisions: pd.DataFrame, keys: Sequence[str] | None = None) -> pd.DataFrame:
    """Per unit and step: success rate, dominant name and its share of the population.

    A member is on the name it last gave validly (members yet to play are on none);
    ties between names go to the later name in alphabetical order. Invalid answers are
    left out: ``success`` is over the step's interactions with two valid answers, and a
    member who has played but never validly is of unknown name, left out of
    ``dominant_share``'s denominator. With nothing valid, both are NaN.

    Returns
    -------
    pandas.DataFrame
        Unit keys (see :func:`interactions`), ``step``, ``interactions`` (so far),
        ``rounds`` (interactions / N), ``success`` (share of the step's valid
        interactions that succeeded), ``dominant``, ``dominant_share``.
    """
    keys = unit_keys(decisions) if keys is None else list(keys)
    pairs = interactions(decisions, keys)
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
            name, share = dominance(latest, int(members[i]) - unknown)
            rows.append(
                (
                    *key_values[i],
                    int(step),
                    total,
                    total / members[i],
                    nanmean(success[i:j]),
                    name,
                    share,
                )
            )
            i = j
    columns = [*keys, "step", "interactions", "rounds", "success", "dominant", "dominant_share"]
    return pd.DataFrame(rows, columns=columns)


def run_outcomes(games: pd.DataFrame, keys: Sequence[str] | None = None) -> pd.DataFrame:
    """Per run: convergence time, final success rate, final dominant name and share.

    Invalid answers are left out as in :func:`timeline` and :func:`convergence`: a run
    without a single interaction of two valid answers is not ``measured`` and has NaN
    ``success`` and ``dominant_share`` and no ``winner`` (it cannot converge either).

    Returns
    -------
    pandas.DataFrame
        Unit keys (see :func:`interactions`), ``interactions``, ``invalid`` (invalid
        answers), ``measured``, ``converged``, ``rounds`` (``t_conv / N``), ``settled``
        (rounds before the final streak), ``success`` (success rate of the valid
        interactions of the last population round), ``winner`` (the dominant name at the
        end), ``dominant_share``.
    """
    keys = unit_keys(games) if keys is None else list(keys)
    pairs = interactions(games, keys)
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
        winner, share = dominance(latest, n - (len(played) - len(latest)))
        out.append(
            {
                **dict(zip(keys, key, strict=True)),
                "interactions": len(unit),
                "invalid": int(invalid.loc[key]),
                "measured": bool(unit.valid.any()),
                "converged": bool(np.isfinite(t_conv)),
                "rounds": t_conv / n,
                "settled": settled / n,
                "success": nanmean(success[-n:]),
                "winner": winner,
                "dominant_share": share,
            }
        )
    return pd.DataFrame(out)


def per_round(
    lines: pd.DataFrame,
    horizon: float,
    columns: dict[str, str] | None = None,
    keys: Sequence[str] | None = None,
) -> pd.DataFrame:
    """:func:`timeline` on a grid of whole population rounds, each run carried to the end.

    Per run (``keys``, by default :func:`unit_keys`) and population round
    ``1 .. ceil(horizon)``: each of ``columns`` aggregated over the round's steps (default:
    the mean ``success`` and the ``dominant_share`` at the round's end); a run that
    stopped (converged) keeps its last values, so averages over runs do not drop
    converged runs.
    """
    columns = columns or {"success": "mean", "dominant_share": "last"}
    keys = unit_keys(lines) if keys is None else list(keys)
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


def isolated_priors(
    decisions: pd.DataFrame, names: Sequence[str], temperature: float
) -> pd.DataFrame:
    """Isolated priors: per population, persona and name, the choice probability.

    ``decisions`` holds the valid answers to :func:`prior_game` (one member alone). The
    prior of a name is the probability of choosing it at ``temperature``, averaged over
    the cyclic orders the names were listed in.

    Returns
    -------
    pandas.DataFrame
        Columns ``population``, ``persona``, ``name``, ``prior``, ``raw`` (the model's
        probability before temperature).
    """
    out = []
    for (population, persona), group in decisions.groupby(["population", "persona"], sort=False):
        raw: dict[str, list[float]] = {}
        tempered: dict[str, list[float]] = {}
        for options, probabilities in zip(group.options, group.probabilities, strict=True):
            p = np.asarray(probabilities, dtype=float)
            q = temper(p, temperature)
            for o, x, y in zip(options, p, q, strict=True):
                raw.setdefault(o, []).append(float(x))
                tempered.setdefault(o, []).append(float(y))
        for name in names:
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


def collective_bias(
    per_run: pd.DataFrame, priors: pd.DataFrame, names: Sequence[str]
) -> pd.DataFrame:
    """Collective bias: how often each name won (``per_run``, :func:`run_outcomes`),
    beside each persona's isolated prior (``priors``, :func:`isolated_priors`).

    Returns
    -------
    pandas.DataFrame
        One row per population and name: ``won`` (share of converged runs that ended on
        it; all measured runs when none converged), ``runs``, ``prior`` (mean isolated
        prior over personas) and one ``prior: <persona>`` column per persona.
    """
    out = []
    for population, runs in per_run.groupby("population", sort=False):
        done = runs[runs.converged] if runs.converged.any() else runs[runs.measured]
        for name in names:
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
