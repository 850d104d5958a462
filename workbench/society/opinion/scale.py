"""The opinion scale: five Likert labels, their levels and the continuous opinion.

Every member answers how much it agrees with a claim on a five-point scale whose labels are
``"1"`` (strongly disagree) to ``"5"`` (strongly agree); as an opinion, label ``k`` is the
level ``k - 3`` in -2..+2, as in Chuang et al. [1]_. A rule's continuous opinion ``x`` in
[0, 1] is reported as the label of the fifth of [0, 1] it falls in; on the Likert scale it
is the position ``5 x - 2.5``, and an LLM member's answer is read at the centre of its
label's fifth.

References
----------
.. [1] Y.-S. Chuang, A. Goyal, N. Harlalka, S. Suresh, R. Hawkins, S. Yang, D. Shah,
   J. Hu and T. T. Rogers, "Simulating opinion dynamics with networks of LLM-based
   agents", Findings of NAACL (2024).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

__all__ = [
    "LABELS",
    "LEVELS",
    "MEANINGS",
    "centre_of",
    "label_index",
    "label_of",
    "level_of",
    "one_hot",
    "position_of",
]

#: The answer labels, from strongly disagree to strongly agree.
LABELS: tuple[str, ...] = ("1", "2", "3", "4", "5")
#: The opinion level of each label (Chuang et al.'s -2..+2).
LEVELS: tuple[int, ...] = (-2, -1, 0, 1, 2)
#: What each label means, as the prompt explains it.
MEANINGS: tuple[str, ...] = ("strongly disagree", "disagree", "neutral", "agree", "strongly agree")


def label_index(x: float, k: int = len(LABELS)) -> int:
    """Index of the label whose ``1/k``-wide bin holds the continuous opinion ``x``."""
    return min(max(int(x * k), 0), k - 1)


def label_of(x: float, options: Sequence[str] = LABELS) -> str:
    """The label a continuous opinion ``x`` in [0, 1] is reported as."""
    return options[label_index(x, len(options))]


def centre_of(index: int, k: int = len(LABELS)) -> float:
    """The continuous opinion at the centre of label ``index``'s bin."""
    return (index + 0.5) / k


def level_of(label: str | None, options: Sequence[str] = LABELS) -> float:
    """The opinion level of a label (-2..+2 for five labels); NaN for no answer."""
    if label is None or label not in options:
        return float("nan")
    return options.index(label) - (len(options) - 1) / 2


def position_of(x: float, k: int = len(LABELS)) -> float:
    """A continuous opinion ``x`` in [0, 1] on the Likert scale (``k x - k / 2``)."""
    return k * x - k / 2


@cache
def one_hot(index: int, k: int) -> tuple[float, ...]:
    """Probability one on label ``index`` of ``k`` (cached: decisions share the tuple)."""
    return tuple(float(i == index) for i in range(k))
