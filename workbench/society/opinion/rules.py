"""Opinion-dynamics rules: members with a continuous opinion in [0, 1], and the voter model.

The classic opinion-dynamics rules keep a *continuous* opinion ``x`` in [0, 1] (the scale
of Deffuant et al. [3]_ and Hegselmann & Krause [4]_) as the member's state
(:attr:`Member.value`): they read the states of the members they see
(:attr:`Observation.values`), update their own, and report the label of the fifth of
[0, 1] their opinion falls in (:mod:`workbench.society.opinion.scale`), so LLM and rule
members answer the same question with the same labels, and a rule reads an LLM neighbour
(who has no continuous state) at the centre of its label's fifth. The rules are
deterministic given what they see; the randomness of Deffuant's model is in who meets whom
(the ``"encounters"`` schedule).

- :class:`DeGroot`: a weighted average of its own and its neighbours' opinions (equal
  weights by default, or a row of a row-stochastic trust matrix) [2]_; :func:`degroot_matrix`
  builds the trust matrix of a network and :func:`degroot_limit` gives every member's limit
  (per closed class of the trust graph, by absorption outside them);
- :class:`HegselmannKrause`: the average of the opinions within ``eps`` of its own,
  its own included [4]_;
- :class:`Deffuant`: moves a fraction ``mu`` towards the opinion it meets when that is
  closer than ``d`` (towards their mean when it sees several) [3]_;
- :class:`Voter`: the voter model [5]_ [6]_, a *discrete* rule: the member copies the
  label of one uniformly random seen neighbour, exactly (no averaging, no continuous
  state). Its classic, asynchronous update order (one random member per update) is the
  ``updates="asynchronous"`` option of :class:`~workbench.society.opinion.OpinionSociety`.

References
----------
.. [1] Y.-S. Chuang, A. Goyal, N. Harlalka, S. Suresh, R. Hawkins, S. Yang, D. Shah,
   J. Hu and T. T. Rogers, "Simulating opinion dynamics with networks of LLM-based
   agents", Findings of NAACL (2024).
.. [2] M. H. DeGroot, "Reaching a consensus", Journal of the American Statistical
   Association 69(345), 118-121 (1974).
.. [3] G. Deffuant, D. Neau, F. Amblard and G. Weisbuch, "Mixing beliefs among interacting
   agents", Advances in Complex Systems 3, 87-98 (2000).
.. [4] R. Hegselmann and U. Krause, "Opinion dynamics and bounded confidence: models,
   analysis and simulation", Journal of Artificial Societies and Social Simulation 5(3)
   (2002).
.. [5] P. Clifford and A. Sudbury, "A model for spatial conflict", Biometrika 60(3),
   581-588 (1973).
.. [6] R. A. Holley and T. M. Liggett, "Ergodic theorems for weakly interacting infinite
   systems and the voter model", Annals of Probability 3(4), 643-663 (1975).
"""

from __future__ import annotations

import warnings
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import networkx as nx
import numpy as np
from scipy import linalg

from workbench.errors import ConfigError
from workbench.llm.types import Decision
from workbench.society.arrays import Chosen, RuleView, row_sum
from workbench.society.opinion.scale import one_hot
from workbench.society.persons import RulePerson, register_rule
from workbench.society.task import Observation

__all__ = [
    "DeGroot",
    "Deffuant",
    "HegselmannKrause",
    "OpinionRule",
    "Voter",
    "degroot_classes",
    "degroot_limit",
    "degroot_matrix",
]


def _number(text: str, name: str, low: float, high: float, *, open_low: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {text!r}") from None
    if not (low < value <= high if open_low else low <= value <= high):
        bracket = "(" if open_low else "["
        raise ConfigError(f"{name} must be in {bracket}{low:g}, {high:g}], got {value:g}")
    return value


class OpinionRule(RulePerson):
    """A rule policy that keeps a continuous opinion in [0, 1].

    Subclasses implement :meth:`update_rows`, the array form of their update. Deciding
    (:meth:`choose`, which a lone member's :meth:`decide` calls on one row) reads each
    member's own opinion (its state; else the centre of its current answer's bin; else
    0.5) and the seen opinions (their states; else the centres of their answers' bins),
    updates, and reports the label of the new opinion with probability one; the new
    opinion travels in ``Decision.extra["value"]`` to become the member's state. It uses
    one uniform number per member, as every policy does, though the choice does not
    depend on it.
    """

    keeps_value: ClassVar[bool] = True

    @abstractmethod
    def update_rows(self, own: np.ndarray, others: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The new opinions (m,), given the own ones (m,) and the seen ones (m x D, only
        where ``mask``), all in [0, 1]."""

    def update(self, own: float, others: Sequence[float]) -> float:
        """The new opinion of one member (:meth:`update_rows` on one row)."""
        row = np.asarray([others], dtype=float).reshape(1, len(others))
        return float(self.update_rows(np.array([float(own)]), row, np.ones_like(row, bool))[0])

    @staticmethod
    def opinion_rows(view: RuleView) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The own opinions (m,), the seen ones (m x D) and which of those count (m x D)
        this policy reads from ``view``."""
        k = view.k
        centre_own = np.where(view.answer >= 0, (view.answer + 0.5) / k, 0.5)
        own = np.where(np.isnan(view.value), centre_own, view.value)
        missing = np.isnan(view.seen_value)
        others = np.where(missing, (view.seen + 0.5) / k, view.seen_value)
        mask = view.present & (~missing | (view.seen >= 0))
        return own, others, mask

    def opinions(self, observation: Observation) -> tuple[float, list[float]]:
        """The own and the seen opinions this policy reads from ``observation``."""
        own, others, mask = self.opinion_rows(RuleView.of(observation))
        return float(own[0]), others[0][mask[0]].tolist()

    def opinion_of(self, view: RuleView) -> np.ndarray:
        """The members' new continuous opinions (m,), clipped to [0, 1]."""
        return np.clip(self.update_rows(*self.opinion_rows(view)), 0.0, 1.0)

    def opinion(self, observation: Observation) -> float:
        """The member's new continuous opinion after ``observation``."""
        return float(self.opinion_of(RuleView.of(observation))[0])

    def choose(self, view: RuleView, u: np.ndarray, *, probabilities: bool = True) -> Chosen:
        x = self.opinion_of(view)
        k = view.k
        index = np.clip((x * k).astype(np.int64), 0, k - 1)
        p = np.eye(k)[index] if probabilities else None
        return Chosen(index, p, x)

    def decide(self, observation: Observation, rng: np.random.Generator) -> Decision:
        u = np.array([rng.random()])
        chosen = self.choose(RuleView.of(observation), u, probabilities=False)
        options = observation.options
        index = int(chosen.index[0])
        return Decision(
            options=options,
            probabilities=one_hot(index, len(options)),
            choice=options[index],
            valid=True,
            method="rule",
            extra={"value": float(chosen.value[0])},
        )


@register_rule
@dataclass(frozen=True)
class DeGroot(OpinionRule):
    """DeGroot's averaging: a weighted mean of the own and the seen opinions [2]_.

    With no ``weights`` (the default, ``rule:degroot``) every seen opinion and the own one
    weigh alike: under the synchronous schedule the trust matrix is ``W = D^-1 (A + I)``
    with ``D`` the degrees plus one. With ``weights`` the member applies its row of a
    general row-stochastic trust matrix (:meth:`rows` makes one rule per member from
    ``W``); seen members it gives no weight are ignored. When some trusted member is not
    seen (no answer yet) the remaining weights are renormalised.

    Parameters
    ----------
    weights : tuple of (str, float)
        ``(label, w_ij)`` of the members this one trusts (their
        :attr:`~workbench.society.Member.label`); empty: equal weights.
    self_weight : float
        ``w_ii``, the weight of the own opinion (with ``weights`` only).

    Notes
    -----
    Where the opinions go is :func:`degroot_limit`: on a strongly connected aperiodic
    trust graph, consensus at ``pi . x(0)`` with ``pi`` the stationary distribution of
    ``W`` (for equal weights on a connected undirected network ``pi`` is proportional to
    degree plus one); otherwise each closed class has its own limit.
    """

    weights: tuple[tuple[str, float], ...] = ()
    self_weight: float = 0.0
    kind: ClassVar[str] = "degroot"

    def __post_init__(self) -> None:
        if any(w < 0 for _, w in self.weights) or self.self_weight < 0:
            raise ConfigError("DeGroot weights must be non-negative")

    @classmethod
    def rows(cls, trust: np.ndarray, labels: Sequence[str]) -> list[DeGroot]:
        """One rule per member: member ``i`` applies row ``i`` of ``trust``.

        Parameters
        ----------
        trust : numpy.ndarray
            Row-stochastic ``n x n`` trust matrix (:func:`degroot_matrix`).
        labels : sequence of str
            The members' labels, in the order of the rows.
        """
        trust = _stochastic(trust)
        if len(labels) != len(trust):
            raise ConfigError(f"got {len(labels)} labels for a {len(trust)}-row trust matrix")
        return [
            cls(
                tuple((labels[j], float(row[j])) for j in np.flatnonzero(row) if j != i),
                float(row[i]),
            )
            for i, row in enumerate(trust)
        ]

    def update_rows(self, own: np.ndarray, others: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return (own + row_sum(others, mask)) / (1 + mask.sum(axis=1))

    def opinion_of(self, view: RuleView) -> np.ndarray:
        if not self.weights:
            return super().opinion_of(view)
        own, others, mask = self.opinion_rows(view)
        trusted = dict(self.weights)
        who = view.seen_who if view.seen_who is not None else np.full(view.seen.shape, None)
        total, weight = self.self_weight * own, np.full(view.m, float(self.self_weight))
        for j in range(others.shape[1]):
            w = np.array([trusted.get(x, 0.0) for x in who[:, j]], dtype=float)
            use = mask[:, j] & (w != 0)
            total = np.where(use, total + w * others[:, j], total)
            weight = np.where(use, weight + w, weight)
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.where(weight > 0, total / weight, own)
        return np.clip(x, 0.0, 1.0)


def _stochastic(trust: np.ndarray, atol: float = 1e-9) -> np.ndarray:
    w = np.asarray(trust, dtype=float)
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ConfigError(f"a trust matrix must be square, got shape {w.shape}")
    if (w < 0).any() or not np.allclose(w.sum(axis=1), 1.0, rtol=0, atol=atol):
        raise ConfigError("a trust matrix must be row-stochastic (non-negative, rows sum to 1)")
    return w


def degroot_matrix(
    graph: nx.Graph, weight: str | None = None, nodelist: Sequence | None = None
) -> np.ndarray:
    """The row-stochastic trust matrix ``W`` of DeGroot's model on ``graph`` [2]_.

    Parameters
    ----------
    graph : networkx.Graph or networkx.DiGraph
        Who trusts whom. In a directed graph an edge ``i -> j`` means ``i`` weighs ``j``'s
        opinion; an undirected edge goes both ways.
    weight : str or None
        None: equal weights, ``W = D^-1 (A + I)`` (the own opinion and every neighbour's
        alike; :class:`DeGroot`'s default). Else the edge attribute holding ``w_ij``
        (missing: 1); a self-loop's weight is the self-weight ``w_ii`` (none: 0). Each row
        is divided by its sum.
    nodelist : sequence or None
        Row and column order (default ``graph.nodes``).

    Returns
    -------
    numpy.ndarray
        ``W``, ``n x n``, rows summing to one.

    Raises
    ------
    ConfigError
        When a node gives no weight to anyone (a zero row).
    """
    nodelist = list(graph.nodes) if nodelist is None else list(nodelist)
    if weight is None:
        a = nx.to_numpy_array(graph, nodelist=nodelist, weight=None)
        np.fill_diagonal(a, 0.0)
        a += np.eye(len(nodelist))
    else:
        a = nx.to_numpy_array(graph, nodelist=nodelist, weight=weight)
        if (a < 0).any():
            raise ConfigError(f"trust weights {weight!r} must be non-negative")
    sums = a.sum(axis=1, keepdims=True)
    if (sums <= 0).any():
        empty = [nodelist[i] for i in np.flatnonzero(sums[:, 0] <= 0)]
        raise ConfigError(f"nodes {empty[:5]} give no weight to anyone")
    return a / sums


def degroot_classes(trust: np.ndarray) -> tuple[list[list[int]], list[int]]:
    """The closed classes and the transient nodes of a trust matrix's graph.

    A closed class is a strongly connected set of nodes that gives no weight outside
    itself (an attracting component of the graph ``i -> j`` where ``w_ij > 0``,
    :func:`networkx.attracting_components`); on an undirected network, a connected
    component. The other nodes are transient.

    Returns
    -------
    classes : list of list of int
        Each closed class's nodes (row indices), sorted, in order of their first node.
    transient : list of int
        The nodes outside every closed class.
    """
    w = _stochastic(trust)
    graph = nx.from_numpy_array(w > 0, create_using=nx.DiGraph)
    classes = sorted(sorted(c) for c in nx.attracting_components(graph))
    closed = {i for c in classes for i in c}
    return classes, [i for i in range(len(w)) if i not in closed]


def degroot_limit(trust: np.ndarray, x0: Sequence[float]) -> np.ndarray:
    """Every node's limit opinion ``lim W^t x(0)`` under DeGroot's model [2]_.

    Within a closed class ``C`` every member ends at ``pi_C . x_C(0)``, with ``pi_C`` the
    stationary distribution of ``W`` restricted to ``C`` (the left eigenvector for
    eigenvalue 1, from :func:`scipy.linalg.null_space` of ``W_C^T - I``: neither numpy,
    scipy nor networkx offers a stationary-distribution call for a stochastic matrix). A
    transient node ends at the mix of the classes' limits given by absorption: the limits
    ``x_T`` of the transient nodes solve ``(I - W_TT) x_T = W_TC x_C``.

    Parameters
    ----------
    trust : numpy.ndarray
        Row-stochastic ``n x n`` trust matrix (:func:`degroot_matrix`).
    x0 : sequence of float
        Initial opinions, one per row.

    Returns
    -------
    numpy.ndarray
        The ``n`` limit opinions.

    Warns
    -----
    RuntimeWarning
        When a closed class is periodic: its opinions oscillate, and the value returned
        is the limit of their time averages.

    References
    ----------
    .. [2] M. H. DeGroot, "Reaching a consensus", Journal of the American Statistical
       Association 69(345), 118-121 (1974).
    """
    w = _stochastic(trust)
    x0 = np.asarray(x0, dtype=float)
    if x0.shape != (len(w),):
        raise ConfigError(f"got {x0.size} initial opinions for a {len(w)}-row trust matrix")
    classes, transient = degroot_classes(w)
    limit = np.full(len(w), np.nan)
    for c in classes:
        block = w[np.ix_(c, c)]
        if len(c) > 1 and not nx.is_aperiodic(
            nx.from_numpy_array(block > 0, create_using=nx.DiGraph)
        ):
            warnings.warn(
                f"a closed class of {len(c)} members is periodic: DeGroot's opinions oscillate "
                "and the limit given is that of their time averages",
                RuntimeWarning,
                stacklevel=2,
            )
        pi = linalg.null_space(block.T - np.eye(len(c)))[:, 0]
        pi = pi / pi.sum()
        limit[c] = pi @ x0[c]
    if transient:
        t = np.asarray(transient)
        closed = np.setdiff1d(np.arange(len(w)), t)
        rhs = w[np.ix_(t, closed)] @ limit[closed]
        limit[t] = np.linalg.solve(np.eye(len(t)) - w[np.ix_(t, t)], rhs)
    return limit


@register_rule
@dataclass(frozen=True)
class HegselmannKrause(OpinionRule):
    """Hegselmann-Krause bounded confidence: the mean of the opinions within ``eps`` [4]_.

    Parameters
    ----------
    eps : float
        Confidence bound, in [0, 1]: seen opinions farther than ``eps`` are ignored.
        With opinions uniform on [0, 1], a complete network reaches consensus for ``eps``
        above about 0.2.
    """

    eps: float = 0.2
    kind: ClassVar[str] = "hk"

    def __post_init__(self) -> None:
        _number(str(self.eps), "hk eps", 0.0, 1.0)

    @property
    def model(self) -> str:
        return f"rule:hk:{self.eps!r}"

    @classmethod
    def from_parameter(cls, text: str) -> HegselmannKrause:
        return cls(_number(text, "hk eps", 0.0, 1.0)) if text else cls()

    def update_rows(self, own: np.ndarray, others: np.ndarray, mask: np.ndarray) -> np.ndarray:
        close = mask & (np.abs(others - own[:, None]) <= self.eps)
        return (own + row_sum(others, close)) / (1 + close.sum(axis=1))


@register_rule
@dataclass(frozen=True)
class Deffuant(OpinionRule):
    """Deffuant bounded confidence: move ``mu`` of the way to an opinion closer than ``d`` [3]_.

    Meant for the ``"encounters"`` schedule (one partner per step); with several seen
    opinions it moves ``mu`` of the way towards the mean of those closer than ``d``.

    Parameters
    ----------
    d : float
        Threshold, in (0, 1]. With opinions uniform on [0, 1] and random encounters,
        about ``floor(1 / (2 d))`` clusters remain; consensus for ``d`` above about 0.3.
    mu : float
        Convergence parameter, in (0, 0.5].
    """

    d: float = 0.2
    mu: float = 0.5
    kind: ClassVar[str] = "deffuant"

    def __post_init__(self) -> None:
        _number(str(self.d), "deffuant d", 0.0, 1.0, open_low=True)
        _number(str(self.mu), "deffuant mu", 0.0, 0.5, open_low=True)

    @property
    def model(self) -> str:
        spec = f"rule:deffuant:{self.d!r}"
        return spec if self.mu == 0.5 else f"{spec}:{self.mu!r}"

    @classmethod
    def from_parameter(cls, text: str) -> Deffuant:
        if not text:
            return cls()
        d, _, mu = text.partition(":")
        return cls(
            _number(d, "deffuant d", 0.0, 1.0, open_low=True),
            _number(mu, "deffuant mu", 0.0, 0.5, open_low=True) if mu else 0.5,
        )

    def update_rows(self, own: np.ndarray, others: np.ndarray, mask: np.ndarray) -> np.ndarray:
        close = mask & (np.abs(others - own[:, None]) < self.d)
        n = close.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            moved = own + self.mu * (row_sum(others, close) / n - own)
        return np.where(n > 0, moved, own)


@register_rule
@dataclass(frozen=True)
class Voter(RulePerson):
    """The voter model: copy the opinion of one uniformly random neighbour [5]_ [6]_.

    The member takes the label (the discrete opinion on the scale) of one member drawn
    uniformly from those it sees, exactly: the probability of each label is the share of
    the seen neighbours holding it, and the one uniform number of :meth:`decide` draws
    the neighbour. It keeps no continuous state; a neighbour is read by its label, whoever
    it is (LLM or rule). Seeing nobody (an isolated member), it keeps its own answer
    (uniform over the options when it has none).

    Notes
    -----
    The exact results below are for ``N`` voters on a complete network, each seeing all
    ``N - 1`` others (so it copies a uniformly random *other* member).

    - **Asynchronous updates** (the classic order, ``OpinionSociety(updates=
      "asynchronous")``: one uniformly random member per update, time in updates, a
      sweep being ``N`` updates): the number ``k`` holding an opinion is a birth-death
      chain moving ``k -> k +- 1`` each with probability ``k (N - k) / (N (N - 1))`` per
      update, absorbed at 0 and ``N``. An opinion wins (consensus on it) with probability
      equal to its initial share ``k / N`` (``k`` is a martingale), and the mean
      consensus time solves ``T(k) = 1 + p_k (T(k+1) + T(k-1)) + (1 - 2 p_k) T(k)``;
      from a share ``x`` it is about ``-N (N - 1) [x ln x + (1 - x) ln(1 - x)]``
      updates.
    - **Synchronous rounds** (the ``"synchronous"`` schedule: every member copies at
      once): the expected share of every opinion is still conserved on a complete
      network, so the win probability is again the initial share, but the chain of
      ``k`` is a Wright-Fisher-like one (each member's new opinion is an independent
      draw) and the consensus time in rounds is not the asynchronous one.
    - On other networks, with asynchronous updates, an opinion wins with probability
      equal to the initial share of the *degrees* of its holders (the degree-weighted
      share is the martingale of this node-update voter model) [7]_; on a finite
      connected network consensus is reached with probability one.

    References
    ----------
    .. [5] P. Clifford and A. Sudbury, "A model for spatial conflict", Biometrika 60(3),
       581-588 (1973).
    .. [6] R. A. Holley and T. M. Liggett, "Ergodic theorems for weakly interacting
       infinite systems and the voter model", Annals of Probability 3(4), 643-663 (1975).
    .. [7] V. Sood and S. Redner, "Voter model on heterogeneous graphs", Physical Review
       Letters 94, 178701 (2005).
    """

    kind: ClassVar[str] = "voter"

    def choose(self, view: RuleView, u: np.ndarray, *, probabilities: bool = True) -> Chosen:
        """Copy the label of the seen neighbour that each member's uniform number picks:
        the ``min(int(u n), n - 1)``-th of its ``n`` seen labels, in the order seen (the
        neighbour itself, not a search over cumulated shares, so rounding can never pick a
        label that no neighbour holds). Seeing nobody, the own answer, else uniform over
        the options."""
        k, m = view.k, view.m
        held = view.present & (view.seen >= 0)
        n = held.sum(axis=1)
        pos = np.minimum((u * n).astype(np.int64), np.maximum(n - 1, 0))
        if held.shape[1]:
            column = np.argmax(np.cumsum(held, axis=1) > pos[:, None], axis=1)
            copied = view.seen[np.arange(m), column]
        else:
            copied = np.zeros(m, dtype=np.int64)
        anyone = np.minimum((u * k).astype(np.int64), k - 1)
        alone = np.where(view.answer >= 0, view.answer, anyone)
        index = np.where(n > 0, copied, alone)
        p = None
        if probabilities:
            counts = view.counts() if held.shape[1] else np.zeros((m, k), dtype=np.int64)
            own = np.zeros((m, k))
            has = view.answer >= 0
            own[np.flatnonzero(has), view.answer[has]] = 1.0
            own[~has] = 1.0 / k
            with np.errstate(divide="ignore", invalid="ignore"):
                p = np.where((n > 0)[:, None], counts / n[:, None], own)
        return Chosen(index, p)
