"""Rule decisions in array form: what many rule members see, and what they choose.

Every rule policy decides through ONE array implementation, its
:meth:`~workbench.society.persons.RulePerson.choose`, which takes a :class:`RuleView` (what
``m`` members see, one row each) and ``m`` uniform numbers and returns a :class:`Chosen`
(the option each picks, and on demand each row's probabilities and new continuous state).
A member deciding alone (:meth:`RulePerson.decide <workbench.society.persons.RulePerson.
decide>`) builds a one-row view of its :class:`~workbench.society.task.Observation`
(:meth:`RuleView.of`, whose arrays are built when the rule first reads them) and calls the
same ``choose``; members of one rule asked together in the per-member path are one call
on their stacked views (:meth:`RuleView.stack`,
:func:`~workbench.society.persons.decide_rules`); a society stepping in array form
(:mod:`workbench.society.engine`) builds views of whole groups of members. So no rule's
logic is written twice, and a one-row call gives exactly the draw the member made before
array forms existed (the same floating-point operations in the same order).

A view's per-member arrays are padded to the largest number of seen answers ``D``:

- ``seen`` (m x D, int): the index of each seen answer among the options, -1 when it is
  not one of them;
- ``present`` (m x D, bool): which entries are real (they come first in each row);
- ``seen_value`` (m x D, float): each seen member's continuous state, NaN without one;
- ``seen_who`` (m x D, object or None): the seen members' labels (for trust weights);
- ``answer`` (m, int) and ``value`` (m, float): the member's own answer (-1: none) and
  state (NaN: none);
- ``state`` (m x K or None): a rule's own per-member state over the options, kept by the
  rule's array form (the naming game's inventories, the memory rule's counts).

The round enters as ``correct`` and ``planted``: the option index, -1 when the round has
none, -2 when it names something that is not an option.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from workbench.llm.types import Decision

if TYPE_CHECKING:
    from workbench.society.task import Observation, Round

__all__ = [
    "NONE",
    "NOT_AN_OPTION",
    "Chosen",
    "RuleView",
    "draw_rows",
    "option_index",
    "pick_uniform",
    "row_sum",
    "uniform_rows",
]

#: Index of "no answer" / "the round names none".
NONE = -1
#: Index of a name the round gives that is not one of its options.
NOT_AN_OPTION = -2

_INDEX: dict[int, tuple[tuple[str, ...], dict[str, int]]] = {}


def option_index(options: tuple[str, ...]) -> dict[str, int]:
    """Position of each option; cached by identity (a round's options tuple is reused)."""
    hit = _INDEX.get(id(options))
    if hit is not None and hit[0] is options:
        return hit[1]
    index = {o: i for i, o in enumerate(options)}
    if len(_INDEX) > 256:
        _INDEX.clear()
    _INDEX[id(options)] = (options, index)
    return index


def _round_index(name: str | None, index: dict[str, int], *, falsy_is_none: bool) -> int:
    if name is None or (falsy_is_none and not name):
        return NONE
    return index.get(name, NOT_AN_OPTION)


@dataclass
class RuleView:
    """What ``m`` rule members see at once (see the module docstring for the fields)."""

    options: tuple[str, ...]
    seen: np.ndarray
    present: np.ndarray
    seen_value: np.ndarray
    answer: np.ndarray
    value: np.ndarray
    correct: int = NONE
    planted: int = NONE
    seen_who: np.ndarray | None = None
    state: np.ndarray | None = None
    observation: Observation | None = field(default=None, repr=False)

    @property
    def m(self) -> int:
        """Number of members (rows)."""
        return len(self.answer)

    @property
    def k(self) -> int:
        """Number of options."""
        return len(self.options)

    @classmethod
    def of(cls, observation: Observation, state: np.ndarray | None = None) -> RuleView:
        """The one-row view of a single member's ``observation`` (its arrays are built when
        a rule first reads them, so a lone decision pays only for what its rule reads)."""
        return _Observed(observation, state)

    @classmethod
    def stack(
        cls, observations: Sequence[Observation], state: np.ndarray | None = None
    ) -> RuleView:
        """The view of ``m`` members' ``observations`` of one round, one row each, padded
        to the most answers seen (each row holds what :meth:`of` gives its observation)."""
        first = observations[0]
        options = first.options
        index = option_index(options)
        m = len(observations)
        d = max(len(o.seen) for o in observations)
        seen, values, who, answer, value = [], [], [], [], []
        for o in observations:
            pad = d - len(o.seen)
            seen.append([index.get(a, NONE) for _, a in o.seen] + [NONE] * pad)
            given = o.values or (None,) * len(o.seen)
            values.append([np.nan if v is None else float(v) for v in given] + [np.nan] * pad)
            who.append([w for w, _ in o.seen] + [None] * pad)
            answer.append(index.get(o.answer, NONE))
            value.append(np.nan if o.value is None else float(o.value))
        count = np.array([len(o.seen) for o in observations])
        round_ = first.round
        return cls(
            options,
            np.array(seen, dtype=np.int64).reshape(m, d),
            np.arange(d) < count[:, None],
            np.array(values, dtype=float).reshape(m, d),
            np.array(answer, dtype=np.int64),
            np.array(value, dtype=float),
            correct=_round_index(round_.correct, index, falsy_is_none=True),
            planted=_round_index(round_.planted, index, falsy_is_none=False),
            seen_who=np.array(who, dtype=object).reshape(m, d),
            state=state,
        )

    @classmethod
    def blank(
        cls,
        round_: Round,
        m: int,
        *,
        answer: np.ndarray | None = None,
        value: np.ndarray | None = None,
        state: np.ndarray | None = None,
    ) -> RuleView:
        """A view of ``m`` members who see nobody (only the round, their own answer and
        state)."""
        options = round_.options
        index = option_index(options)
        return cls(
            options,
            np.zeros((m, 0), dtype=np.int64),
            np.zeros((m, 0), dtype=bool),
            np.zeros((m, 0)),
            np.full(m, NONE, dtype=np.int64) if answer is None else answer,
            np.full(m, np.nan) if value is None else value,
            correct=_round_index(round_.correct, index, falsy_is_none=True),
            planted=_round_index(round_.planted, index, falsy_is_none=False),
            state=state,
        )

    def counts(self) -> np.ndarray:
        """Seen answers per option (m x K), as :meth:`Observation.counts`."""
        m, k = self.m, self.k
        valid = self.present & (self.seen >= 0)
        flat = (np.arange(m)[:, None] * k + self.seen)[valid]
        return np.bincount(flat, minlength=m * k).reshape(m, k)

    def heard(self) -> tuple[np.ndarray, np.ndarray]:
        """Whether each member has heard something, and the option index of the last thing
        heard (-1: nothing, or not an option)."""
        n = self.present.sum(axis=1)
        last = np.where(n > 0, n - 1, 0)
        if self.seen.shape[1] == 0:
            return n > 0, np.full(self.m, NONE, dtype=np.int64)
        word = self.seen[np.arange(self.m), last]
        return n > 0, np.where(n > 0, word, NONE)


def _fixed(array: np.ndarray) -> np.ndarray:
    """``array`` made read-only (a constant shared by many views)."""
    array.flags.writeable = False
    return array


_SEEN_NONE = _fixed(np.zeros((1, 0), dtype=np.int64))
_PRESENT_NONE = _fixed(np.zeros((1, 0), dtype=bool))
_VALUE_NONE = _fixed(np.zeros((1, 0)))
_WHO_NONE = _fixed(np.zeros((1, 0), dtype=object))
_HEARD_NOTHING = (_fixed(np.zeros(1, dtype=bool)), _fixed(np.full(1, NONE, dtype=np.int64)))
_HEARD_SOMETHING = _fixed(np.ones(1, dtype=bool))


class _Observed(RuleView):
    """The one-row :class:`RuleView` of one observation (:meth:`RuleView.of`).

    Its arrays are the ones a view of ``m`` members holds, built from the observation
    when first read (a speaker's naming-game decision reads none of the seen arrays);
    :meth:`heard` and :meth:`counts` read the observation directly, giving the arrays
    the generic methods compute from the view's arrays.
    """

    def __init__(self, observation: Observation, state: np.ndarray | None) -> None:
        options = observation.options
        index = option_index(options)
        round_ = observation.round
        self.options = options
        self.correct = _round_index(round_.correct, index, falsy_is_none=True)
        self.planted = _round_index(round_.planted, index, falsy_is_none=False)
        self.state = state
        self.observation = observation
        self._index = index

    @property
    def m(self) -> int:
        return 1

    @cached_property
    def seen(self) -> np.ndarray:
        seen = self.observation.seen
        if not seen:
            return _SEEN_NONE
        index = self._index
        return np.array([[index.get(a, NONE) for _, a in seen]], dtype=np.int64)

    @cached_property
    def present(self) -> np.ndarray:
        d = len(self.observation.seen)
        return np.ones((1, d), dtype=bool) if d else _PRESENT_NONE

    @cached_property
    def seen_value(self) -> np.ndarray:
        d = len(self.observation.seen)
        if not d and not self.observation.values:
            return _VALUE_NONE
        values = self.observation.values or (None,) * d
        row = [np.nan if v is None else float(v) for v in values]
        return np.array([row], dtype=float).reshape(1, d)

    @cached_property
    def seen_who(self) -> np.ndarray:
        seen = self.observation.seen
        if not seen:
            return _WHO_NONE
        return np.array([[who for who, _ in seen]], dtype=object).reshape(1, len(seen))

    @cached_property
    def answer(self) -> np.ndarray:
        return np.array([self._index.get(self.observation.answer, NONE)], dtype=np.int64)

    @cached_property
    def value(self) -> np.ndarray:
        value = self.observation.value
        return np.array([np.nan if value is None else float(value)])

    def heard(self) -> tuple[np.ndarray, np.ndarray]:
        seen = self.observation.seen
        if not seen:
            return _HEARD_NOTHING
        word = np.array([self._index.get(seen[-1][1], NONE)], dtype=np.int64)
        return _HEARD_SOMETHING, word

    def counts(self) -> np.ndarray:
        index = self._index
        row = [0] * len(index)
        for _, answer in self.observation.seen:
            i = index.get(answer)
            if i is not None:
                row[i] += 1
        return np.array([row], dtype=np.int64)


@dataclass
class Chosen:
    """What ``m`` members chose: the option ``index`` of each, its ``probabilities`` (m x K,
    or None when the caller did not ask for them) and its new continuous ``value`` (None for
    rules without a state)."""

    index: np.ndarray
    probabilities: np.ndarray | None = None
    value: np.ndarray | None = None

    def decision(self, row: int, options: tuple[str, ...]) -> Decision:
        """Row ``row`` as a rule :class:`~workbench.llm.types.Decision`."""
        choice = options[int(self.index[row])]
        p = tuple(self.probabilities[row].tolist())
        if self.value is None:
            return Decision(
                options=options, probabilities=p, choice=choice, valid=True, method="rule"
            )
        return Decision(
            options=options,
            probabilities=p,
            choice=choice,
            valid=True,
            method="rule",
            extra={"value": float(self.value[row])},
        )


def draw_rows(probabilities: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The option each row's distribution gives the uniform ``u``: the first option whose
    cumulated probability exceeds ``u`` (the last one when rounding leaves none), as
    ``numpy.searchsorted(cumsum, u, side="right")`` row by row."""
    cumulated = np.cumsum(probabilities, axis=1)
    index = (cumulated <= u[:, None]).sum(axis=1)
    return np.minimum(index, probabilities.shape[1] - 1)


def pick_uniform(
    support: np.ndarray, u: np.ndarray, *, probabilities: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """Each row's pick, uniform over its ``support`` (m x K bool, non-empty rows): the
    ``min(int(u n), n - 1)``-th supported option in option order, ``n`` its size; and,
    with ``probabilities``, each row's probabilities (:func:`uniform_rows`)."""
    small = np.int16 if support.shape[1] < 32_000 else np.int64
    cumulated = support.cumsum(axis=1, dtype=small)
    n = cumulated[:, -1]
    k = np.minimum((u * n).astype(small), n - 1)
    index = (cumulated > k[:, None]).argmax(axis=1)
    return index, support / n[:, None] if probabilities else None  # 1 / n on the support


def uniform_rows(support: np.ndarray) -> np.ndarray:
    """Probabilities uniform over each row's ``support`` (``1 / n`` on it, 0 elsewhere)."""
    n = support.sum(axis=1, keepdims=True)
    return np.where(support, 1.0 / np.maximum(n, 1), 0.0)


def row_sum(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Each row's sum of its masked entries, added left to right from 0 (the order and
    rounding of Python's ``sum`` of the same numbers)."""
    total = np.zeros(values.shape[0])
    for j in range(values.shape[1]):
        total = total + np.where(mask[:, j], values[:, j], 0.0)
    return total
