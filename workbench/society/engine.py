"""Array stepping: a society of rule members played many members (or interactions) at once.

A :class:`~workbench.society.Society` built with ``arrays=True`` hands its steps to an
:class:`ArrayEngine`, which keeps the members' answers, continuous states and rule states
(the naming game's inventories) in arrays, lets each rule decide for all its members in one
call of its array form (:meth:`RulePerson.choose <workbench.society.persons.RulePerson.
choose>`, the same code a lone member's ``decide`` runs on one row), and appends the
decisions table column by column. Supported:

- ``"synchronous"``: every member answers at once from its neighbours' previous answers
  and states; any rules without a state of their own (truthful, majority, conformist,
  committed, confederate, DeGroot with equal or given weights, Hegselmann-Krause,
  Deffuant, the voter model, and a plugin's array rule), mixed freely. **Identical draws**:
  the members' uniform numbers are the generator's next ``N`` numbers, in member order, as
  the per-member path draws them, so the same seed gives the same decisions table on both
  paths.
- ``"speaker_hearer"``: the naming game (``rule:naming_game`` members only) over a random
  maximal matching per step. The matching and the speaker of each pair are drawn exactly
  as the per-member path draws them, then the speakers' and the hearers' uniforms: the
  same seed gives the **same table** on both paths, as long as the memory window holds
  every interaction since a member's last success (beyond that the per-member path
  forgets words and the engine refuses to go on).
- ``"random_pair"``: the minimal naming game's order, one interaction a step. The engine
  draws each interaction's speaker, hearer and two uniforms from ``society.rng`` in blocks
  (the per-member path draws speaker and hearer from ``society.random``), and plays them in
  levels of interactions that share no member (each sees the inventories the sequential
  game would show it, so this is the sequential game exactly). Same seed, same table on
  this path; against the per-member path: **the same distribution**, not the same draws
  (checked by Monte Carlo in ``tests/test_arrays.py``).

What the engine does not keep: the members' memories (:class:`~workbench.society.task.
Recollection` records; a rule in the engine keeps what it needs as array state) and the
per-step ``_step_choices``; :attr:`Member.answer` and :attr:`Member.value` are written back
after every call of :meth:`run`. LLM members are not stepped here (a society with one is
refused), so every recorded prompt is unaffected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.errors import ConfigError
from workbench.society.arrays import NONE, RuleView, option_index
from workbench.society.games import NamingGame, learn
from workbench.society.persons import RulePerson
from workbench.society.task import brief

if TYPE_CHECKING:
    from workbench.society.society import Society
    from workbench.society.task import Round

__all__ = ["SCHEDULES_IN_ARRAYS", "ArrayEngine"]

#: The schedules an :class:`ArrayEngine` plays.
SCHEDULES_IN_ARRAYS = ("synchronous", "speaker_hearer", "random_pair")
#: Most cells of a rule-state array (members x options) the engine holds.
MAX_STATE_CELLS = 200_000_000
_BLOCK = 1 << 14  # random_pair interactions drawn at once


class ArrayEngine:
    """The array stepping of one all-rule society (see the module docstring).

    Parameters
    ----------
    society : Society
        The society; its members, situation and task are read once (the network and the
        persons do not change).

    Raises
    ------
    ConfigError
        When a member is not a rule with an array form, or the schedule, the rules and the
        task do not fit one of the supported combinations.
    """

    def __init__(self, society: Society) -> None:
        self.society = society
        members = society.members
        schedule = society.schedule.name
        if schedule not in SCHEDULES_IN_ARRAYS:
            raise ConfigError(
                f"arrays=True plays the {', '.join(SCHEDULES_IN_ARRAYS)} schedules, "
                f"not {schedule!r}"
            )
        for m in members:
            person = m.person
            if not (isinstance(person, RulePerson) and person.arrays):
                raise ConfigError(
                    f"arrays=True needs rule members with an array form; {person.model!r} has none"
                )
        self.schedule = schedule
        self.n = len(members)
        rounds = society.task.rounds
        options = rounds[0].options
        if any(r.options != options for r in rounds):
            raise ConfigError("arrays=True needs the same options in every round")
        self.options = options
        self.names = np.array(options, dtype=object)
        index = option_index(options)
        self.answer = np.array([index.get(m.answer, NONE) for m in members], dtype=np.int64)
        self.value = np.array([np.nan if m.value is None else m.value for m in members])
        self.ids = _objects([m.unique_id for m in members])
        self.nodes = _objects([m.node for m in members])
        self.roles = _objects([m.role for m in members])
        self.models = _objects([m.person.model for m in members])
        self.personas = _objects([m.person.persona.name for m in members])
        self.labels = [m.label for m in members]
        self.label_array = np.array(self.labels, dtype=object)
        self.said_by = [f"{label}: " for label in self.labels]  # a hearer's saw, less the word
        groups: dict[RulePerson, list[int]] = {}
        for i, m in enumerate(members):
            groups.setdefault(m.person, []).append(i)
        self.groups = [(p, np.asarray(rows, dtype=np.int64)) for p, rows in groups.items()]
        self.position = position = {m: i for i, m in enumerate(members)}
        self.keeps = np.zeros(self.n, dtype=bool)
        for person, rows in self.groups:
            self.keeps[rows] = getattr(person, "keeps_value", False)
        if schedule == "synchronous":
            if any(type(p).state is not RulePerson.state for p, _ in self.groups):
                raise ConfigError(
                    "arrays=True plays the synchronous schedule with rules that keep no "
                    "state of their own (not the naming game or the memory rule)"
                )
            nbrs = [[position[x] for x in m.neighbours()] for m in members]
            d = max((len(x) for x in nbrs), default=0)
            self.neighbours = np.full((self.n, d), -1, dtype=np.int64)
            for i, x in enumerate(nbrs):
                self.neighbours[i, : len(x)] = x
            self.inventory = None
        else:
            if any(not isinstance(p, NamingGame) for p, _ in self.groups):
                raise ConfigError(
                    f"arrays=True plays the {schedule!r} schedule with rule:naming_game "
                    "members only"
                )
            if self.n * len(options) > MAX_STATE_CELLS:
                raise ConfigError(
                    f"{self.n} members x {len(options)} names is too large for arrays=True "
                    f"(at most {MAX_STATE_CELLS:,} inventory cells)"
                )
            if rounds.count(rounds[0]) != len(rounds) and schedule == "random_pair":
                raise ConfigError("arrays=True plays random_pair on a task of one repeated round")
            self.inventory = np.zeros((self.n, len(options)), dtype=bool)
            for i, m in enumerate(members):
                if m.memory:
                    self.inventory[i] = NamingGame().state(m.observe(rounds[0]))[0]
            self.since = np.array([len(m.memory) for m in members], dtype=np.int64)
            if society.implicit_complete:
                self.complete = True
                self.speakers = np.arange(self.n) if self.n > 1 else np.zeros(0, np.int64)
            else:
                graph = society.network.G
                by_node = {m.node: i for i, m in enumerate(members)}
                adjacency = [[by_node[v] for v in graph[m.node] if v != m.node] for m in members]
                degree = np.array([len(a) for a in adjacency], dtype=np.int64)
                self.indptr = np.concatenate([[0], np.cumsum(degree)])
                self.hearers = np.array([v for a in adjacency for v in a], dtype=np.int64)
                self.degree = degree
                self.speakers = np.flatnonzero(degree > 0)
                self.complete = bool((degree == self.n - 1).all())

    # -- running ----------------------------------------------------------------------

    def run(self, steps: int) -> None:
        """Play ``steps`` steps."""
        if self.schedule == "synchronous":
            for _ in range(steps):
                self._synchronous_step()
        elif self.schedule == "speaker_hearer":
            for _ in range(steps):
                self._matching_step()
        else:
            left = steps
            while left > 0:
                got, _ = self._random_pairs(left, None)
                left -= got
                if got == 0:  # nobody can be paired: the steps pass without decisions
                    self.society.steps += left
                    self._consensus([float("nan")] * left)
                    break
        self._write_back()

    def play(self, max_interactions: int, need: int, on: str | None) -> int:
        """The naming game's play loop (:func:`~workbench.society.coordination.play`):
        stop once the last ``need`` interactions all succeeded (on ``on``, when given) or
        ``max_interactions`` were played, checked after every step as there; returns the
        interactions played."""
        if self.inventory is None:
            raise ConfigError("play() is for the naming game")
        target = NONE if on is None else option_index(self.options).get(on, -3)
        streak = [0, need, target]
        played = 0
        while played < max_interactions:
            if self.schedule == "random_pair":
                got, stop = self._random_pairs(max_interactions - played, streak)
            else:
                got = self._matching_step(streak)
                stop = streak[0] >= need
            played += got
            if stop or got == 0:
                break
        self._write_back()
        return played

    def _write_back(self) -> None:
        names = self.options
        members = self.society.members
        for m, a, v in zip(members, self.answer.tolist(), self.value.tolist(), strict=True):
            m.answer = names[a] if a >= 0 else m.answer
            m.value = None if v != v else v

    def _consensus(self, values: list[float]) -> None:
        self.society.datacollector.model_vars["consensus"].extend(values)

    # -- the schedules ----------------------------------------------------------------

    def _synchronous_step(self) -> None:
        society = self.society
        society.steps += 1
        round_ = society.task.round(society.steps)
        nbr = self.neighbours
        safe = np.maximum(nbr, 0)
        present = (nbr >= 0) & (self.answer[safe] >= 0)
        if not present.all(where=nbr >= 0):  # members without an answer are not seen
            order = np.argsort(~present, axis=1, kind="stable")
            nbr = np.take_along_axis(nbr, order, axis=1)
            present = np.take_along_axis(present, order, axis=1)
            safe = np.maximum(nbr, 0)
        seen = np.where(present, self.answer[safe], NONE)
        seen_value = np.where(present, self.value[safe], np.nan)
        base = RuleView.blank(round_, 1)
        u = society.rng.random(self.n)
        chosen = np.empty(self.n, dtype=np.int64)
        new_value = self.value.copy()
        lean = society.lean
        probabilities: list[Any] = [None] * self.n
        for person, rows in self.groups:
            who = self.label_array[safe[rows]] if getattr(person, "weights", None) else None
            view = RuleView(
                self.options,
                seen[rows],
                present[rows],
                seen_value[rows],
                self.answer[rows],
                self.value[rows],
                correct=base.correct,
                planted=base.planted,
                seen_who=who,
            )
            got = person.choose(view, u[rows], probabilities=not lean)
            chosen[rows] = got.index
            if got.value is not None:
                new_value[rows] = got.value
            if not lean:
                for r, p in zip(rows.tolist(), got.probabilities.tolist(), strict=True):
                    probabilities[r] = tuple(p)
        exchange = society.situation.exchange
        options, labels = self.options, self.labels
        saw = [
            brief(
                [(labels[j], options[a]) for j, a in zip(nbr_i, seen_i, strict=True) if a >= 0],
                exchange,
                options,
            )
            for nbr_i, seen_i in zip(nbr.tolist(), seen.tolist(), strict=True)
        ]
        keeps = self.keeps
        self._append(
            round_,
            members=np.arange(self.n),
            step=[society.steps] * self.n,
            choice=self.names[chosen].tolist(),
            probabilities=probabilities,
            saw=saw,
            partner=[None] * self.n,
            value=[v if k else None for v, k in zip(new_value.tolist(), keeps, strict=True)],
        )
        self.answer = chosen
        self.value = np.where(keeps, new_value, self.value)
        top = np.bincount(chosen, minlength=len(options)).max()
        self._consensus([top / self.n])

    def _matching_step(self, streak: list | None = None) -> int:
        society = self.society
        society.steps += 1
        round_ = society.task.round(society.steps)
        pairs = [
            (a, b) if society.random.random() < 0.5 else (b, a)
            for a, b in society.random_matching()
        ]
        if not pairs:
            self._consensus([float("nan")])
            return 0
        position = self.position
        s = np.array([position[a] for a, _ in pairs], dtype=np.int64)
        h = np.array([position[b] for _, b in pairs], dtype=np.int64)
        c = len(pairs)
        u_s = society.rng.random(c)
        u_h = society.rng.random(c)
        words, answers, p_w, p_a = self._decide_pairs(round_, s, h, u_s, u_h)
        self._learn(s, h, words, answers)
        self._record_pairs(round_, s, h, words, answers, p_w, p_a, [society.steps] * (2 * c))
        if streak is not None:
            streak[0] = int(self._streaks(words, answers, streak)[-1])
        both = np.concatenate([words, answers])
        self._consensus([float(np.bincount(both).max() / len(both))])
        return c

    def _draw_pairs(self, size: int) -> tuple[np.ndarray, ...]:
        u = self.society.rng.random((size, 4))
        k = len(self.speakers)
        s = self.speakers[np.minimum((u[:, 0] * k).astype(np.int64), k - 1)]
        if self.complete:
            h = np.minimum((u[:, 1] * (self.n - 1)).astype(np.int64), self.n - 2)
            h = h + (h >= s)
        else:
            deg = self.degree[s]
            pick = np.minimum((u[:, 1] * deg).astype(np.int64), deg - 1)
            h = self.hearers[self.indptr[s] + pick]
        return s, h, u[:, 2], u[:, 3]

    def _random_pairs(self, most: int, streak: list | None) -> tuple[int, bool]:
        """Play up to ``most`` random_pair interactions (one a step); returns how many were
        played and whether the streak rule stopped them.

        A block of interactions is drawn at once and played in levels: an interaction's
        level is one more than that of the latest earlier interaction sharing a member
        with it, so each level's interactions share no member and see exactly the
        inventories the sequential game would show them; one level is one array call.
        When the streak rule stops the game inside a block, the members the block touched
        are put back and the block is played again up to the stop.
        """
        if len(self.speakers) == 0:
            return 0, False
        society = self.society
        round_ = society.task.round(society.steps + 1)
        size = min(most, max(256, 4 * self.n), _BLOCK)
        s, h, u_s, u_h = self._draw_pairs(size)
        level = _levels(s, h)
        saved = None
        if streak is not None:
            touched = np.unique(np.concatenate([s, h]))
            saved = (
                touched,
                self.inventory[touched],
                self.answer[touched],
                self.since[touched],
            )
        words, answers, p_w, p_a = self._play_levels(round_, s, h, u_s, u_h, level)
        count, stop = size, False
        if streak is not None:
            after = self._streaks(words, answers, streak)
            hit = np.flatnonzero(after >= streak[1])
            if hit.size:
                count, stop = int(hit[0]) + 1, True
                touched, inventory, answer, since = saved
                self.inventory[touched], self.answer[touched] = inventory, answer
                self.since[touched] = since
                k = slice(0, count)
                s, h, u_s, u_h = s[k], h[k], u_s[k], u_h[k]
                words, answers, p_w, p_a = self._play_levels(round_, s, h, u_s, u_h, level[k])
            streak[0] = int(after[count - 1])
        first = society.steps + 1
        steps = np.repeat(np.arange(first, first + count), 2).tolist()
        self._record_pairs(round_, s, h, words, answers, p_w, p_a, steps)
        society.steps += count
        self._consensus(np.where(words == answers, 1.0, 0.5).tolist())
        return count, stop

    def _play_levels(
        self,
        round_: Round,
        s: np.ndarray,
        h: np.ndarray,
        u_s: np.ndarray,
        u_h: np.ndarray,
        level: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        size = len(s)
        words = np.empty(size, dtype=np.int64)
        answers = np.empty(size, dtype=np.int64)
        keep = not self.society.lean
        k = len(self.options)
        p_w = np.empty((size, k)) if keep else None
        p_a = np.empty((size, k)) if keep else None
        order = np.argsort(level, kind="stable")
        bounds = np.searchsorted(level[order], np.arange(int(level.max(initial=-1)) + 2))
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            at = order[a:b]
            w, x, pw, px = self._decide_pairs(round_, s[at], h[at], u_s[at], u_h[at])
            self._learn(s[at], h[at], w, x)
            words[at], answers[at] = w, x
            if keep:
                p_w[at], p_a[at] = pw, px
        return words, answers, p_w, p_a

    @staticmethod
    def _streaks(words: np.ndarray, answers: np.ndarray, streak: list) -> np.ndarray:
        """The success streak after each interaction, carried in from ``streak[0]``
        (a success is on the target name ``streak[2]`` when there is one)."""
        ok = words == answers
        if streak[2] != NONE:
            ok &= words == streak[2]
        run = np.arange(1, len(ok) + 1)
        last_fail = np.maximum.accumulate(np.where(ok, 0, run))
        return np.where(last_fail == 0, streak[0] + run, run - last_fail)

    # -- one batch of interactions that share no member -------------------------------

    def _decide_pairs(
        self, round_: Round, s: np.ndarray, h: np.ndarray, u_s: np.ndarray, u_h: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        person = self.groups[0][0]
        c = len(s)
        keep = not self.society.lean
        speaking = RuleView.blank(round_, c, state=self.inventory[s])
        said = person.choose(speaking, u_s, probabilities=keep)
        hearing = RuleView(
            self.options,
            said.index[:, None],
            np.ones((c, 1), dtype=bool),
            np.full((c, 1), np.nan),
            self.answer[h],
            self.value[h],
            correct=speaking.correct,
            planted=speaking.planted,
            state=self.inventory[h],
        )
        answered = person.choose(hearing, u_h, probabilities=keep)
        return said.index, answered.index, said.probabilities, answered.probabilities

    def _learn(self, s: np.ndarray, h: np.ndarray, words: np.ndarray, answers: np.ndarray) -> None:
        c = len(s)
        members = np.concatenate([s, h])
        said = np.concatenate([words, answers])
        other = np.concatenate([answers, words])
        learn(self.inventory, members, said, other, np.repeat([False, True], c))
        success = np.concatenate([words == answers] * 2)
        self.since[members] = np.where(success, 1, self.since[members] + 1)
        window = self.society.situation.memory
        if c and int(self.since[members].max()) > window:
            raise ConfigError(
                "arrays=True keeps whole inventories, but a member's interactions since "
                f"its last success no longer fit its memory window ({window}): use a "
                "longer memory"
            )
        self.answer[s] = words
        self.answer[h] = answers

    def _record_pairs(
        self,
        round_: Round,
        s: np.ndarray,
        h: np.ndarray,
        words: np.ndarray,
        answers: np.ndarray,
        p_words: np.ndarray | None,
        p_answers: np.ndarray | None,
        steps: list[int],
    ) -> None:
        c = len(s)
        members = np.empty(2 * c, dtype=np.int64)
        members[0::2], members[1::2] = s, h
        chosen = np.empty(2 * c, dtype=np.int64)
        chosen[0::2], chosen[1::2] = words, answers
        partners = np.empty(2 * c, dtype=np.int64)
        partners[0::2], partners[1::2] = h, s
        names = self.names[chosen].tolist()
        said_by = self.said_by
        saw = [""] * (2 * c)
        saw[1::2] = [said_by[i] + w for i, w in zip(s.tolist(), names[0::2], strict=True)]
        probabilities: list[Any] = [None] * (2 * c)
        if p_words is not None:
            rows = np.empty((2 * c, len(self.options)))
            rows[0::2], rows[1::2] = p_words, p_answers
            probabilities = [tuple(r) for r in rows.tolist()]
        self._append(
            round_,
            members=members,
            step=steps,
            choice=names,
            probabilities=probabilities,
            saw=saw,
            partner=self.ids[partners].tolist(),
            value=[None] * (2 * c),
        )

    def _append(self, round_: Round, *, members: np.ndarray, **columns: Any) -> None:
        """Extend the society's decisions table, column by column, by ``len(members)``
        rows (what the per-member path's :meth:`Society.record` writes row by row)."""
        society = self.society
        count = len(members)
        choice = columns["choice"]
        correct = round_.correct
        given = {
            "run_id": [society.run_id] * count,
            "member": self.ids[members].tolist(),
            "node": self.nodes[members].tolist(),
            "role": self.roles[members].tolist(),
            "model": self.models[members].tolist(),
            "persona": self.personas[members].tolist(),
            "options": [self.options] * count,
            "truth": [correct] * count,
            "correct": [None] * count if correct is None else [c == correct for c in choice],
            "planted": [round_.planted] * count,
            "request_hash": [""] * count,
            "valid": [True] * count,
            "method": ["rule"] * count,
            **columns,
        }
        for key, value in {**society.conditions, **round_.info}.items():
            given[key] = [value] * count
        for name, column in society.datacollector.tables["decisions"].items():
            column.extend(given[name] if name in given else [None] * count)


def _levels(s: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Each interaction's level (0-based): one more than the highest level among the
    earlier interactions of its speaker ``s`` and its hearer ``h`` (0 when neither took
    part before), so that interactions of one level share no member."""
    size = len(s)
    who = np.concatenate([s, h])
    at = np.concatenate([np.arange(size), np.arange(size)])
    order = np.argsort(who * size + at)  # by member, then by interaction (keys unique)
    w, t = who[order], at[order]
    prev = np.full(2 * size, -1, dtype=np.int64)
    same = w[1:] == w[:-1]
    back = np.full(2 * size, -1, dtype=np.int64)
    back[1:][same] = t[:-1][same]
    prev[order] = back
    p_s, p_h = prev[:size], prev[size:]
    has_s, has_h = p_s >= 0, p_h >= 0
    p_s, p_h = np.maximum(p_s, 0), np.maximum(p_h, 0)
    level = np.zeros(size, dtype=np.int64)
    while True:
        new = 1 + np.maximum(np.where(has_s, level[p_s], -1), np.where(has_h, level[p_h], -1))
        if np.array_equal(new, level):
            return level
        level = new


def _objects(values: list) -> np.ndarray | _Same:
    """A one-dimensional array of ``values`` to take rows from: int64 when they are all
    ints, a :class:`_Same` when they are all the same string, else objects (tuples stay
    whole)."""
    if values and isinstance(values[0], str) and all(v == values[0] for v in values):
        return _Same(values[0])
    if all(type(v) is int for v in values):
        return np.asarray(values, dtype=np.int64)
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        out[i] = value
    return out


class _Same:
    """A column whose every row holds ``value``: ``same[rows].tolist()`` is a list of it."""

    def __init__(self, value: Any) -> None:
        self.value = value
        self.count = 0

    def __getitem__(self, rows: np.ndarray) -> _Same:
        self.count = len(rows)
        return self

    def tolist(self) -> list:
        return [self.value] * self.count
