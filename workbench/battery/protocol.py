"""The battery protocol: its version, budgets, measures and the module contract.

A battery module runs one or more existing studies (as :class:`~workbench.sweep.Sweep`
runs, so they are stored, resumable and replayable) and condenses their decisions into a
*cluster table*: one row per independent unit (a subject, a population), with the
wording it was asked in and the sums its measures need. Every score is a function of
column sums of that table, so one stratified cluster bootstrap gives every score its
95% interval, and the same function over each wording's rows gives the score per
paraphrase.

The protocol is versioned as a whole (:data:`PROTOCOL`): a change to any prompt, measure,
budget size or seed derivation is a new version, and cards of different versions are
never compared (:func:`workbench.battery.compare` refuses them).
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from workbench.errors import ConfigError
from workbench.registry import Registry
from workbench.society.task import WORDINGS

if TYPE_CHECKING:
    from workbench.sweep import Sweep

__all__ = [
    "BUDGETS",
    "MODULES",
    "PROTOCOL",
    "Budget",
    "Measure",
    "Module",
    "Score",
    "budget_named",
    "score_table",
]

#: The protocol's version. Bump it with any change to a prompt, a measure, a budget or a
#: seed: cards carry it, and cards of different versions are never compared.
PROTOCOL = "battery-v2"

#: Bootstrap resamples per score.
RESAMPLES = 2000
#: Wording-label permutations of the test of a wording effect.
PERMUTATIONS = 1000


@dataclass(frozen=True)
class Budget:
    """How big each module's runs are.

    Parameters
    ----------
    name : str
        ``"small"`` or ``"standard"``.
    subjects : int
        Asch subjects per wording (each answers the 18 trials in every condition).
    pairs : int
        Name pairs in the isolated prior of the conventions module (each asked in both
        orders, in every wording).
    populations : int
        Convention populations per wording.
    population : int
        Members per convention population and per opinion society.
    rounds : int
        Most population rounds of a convention game.
    minority_population : int
        Members per population of the tipping module (a multiple of 6, so that each
        committed fraction is a whole number of members).
    tipping_rounds : int
        Population rounds played after a committed minority arrives.
    opinion_runs : int
        Opinion societies per wording.
    design_seeds : int
        Replicates per wording of the person x situation factorial (each runs all its
        cells; its social cells are also the persistence module's runs).
    """

    name: str
    subjects: int
    pairs: int
    populations: int
    population: int
    rounds: int
    minority_population: int
    tipping_rounds: int
    opinion_runs: int
    design_seeds: int


#: The budgets. ``small`` fits a 1.5B embedded model in 30 minutes on 2 cores;
#: ``standard`` gives the conformity scores intervals of about +-10 points or better.
#: Each field's size in the two budgets, (small, standard); a row per field reads like
#: the table in docs/battery.md.
_SIZES: Mapping[str, tuple[int, int]] = {
    "subjects": (1, 8),
    "pairs": (2, 6),
    "populations": (1, 2),
    "population": (4, 12),
    "rounds": (4, 12),
    "minority_population": (6, 12),
    "tipping_rounds": (2, 10),
    "opinion_runs": (1, 3),
    "design_seeds": (2, 6),
}
BUDGETS: Mapping[str, Budget] = {
    name: Budget(name, **{field: sizes[i] for field, sizes in _SIZES.items()})
    for i, name in enumerate(("small", "standard"))
}


def budget_named(name: str) -> Budget:
    """The budget called ``name``; a one-line error naming the budgets otherwise."""
    try:
        return BUDGETS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown budget {name!r}; choose one of {', '.join(BUDGETS)}") from None


@dataclass(frozen=True)
class Measure:
    """One score of a module, as a function of the cluster table's column sums.

    Parameters
    ----------
    name : str
        Short name (``"conformity_3"``), unique within the module.
    title : str
        What a reader sees on the card.
    definition : str
        One sentence: what is counted, over what.
    formula : callable
        Maps a mapping of column name -> array of sums (any leading shape) to an array
        of values of that shape. Must be vectorised: the bootstrap passes every resample
        at once.
    reference : float or None
        The human or published value for the same setup, if there is one.
    source : str
        Where ``reference`` comes from, and how sure it is, in words.
    difference : bool
        True for a difference of two conditions (its sign matters: a wording that flips
        it is flagged); False for a rate.
    bounds : tuple of float or None
        The score's possible range; by default [0, 1] for a rate and [-1, 1] for a
        difference.
    """

    name: str
    title: str
    definition: str
    formula: Callable[[Mapping[str, np.ndarray]], np.ndarray]
    reference: float | None = None
    source: str = ""
    difference: bool = False
    bounds: tuple[float, float] | None = None

    @property
    def range(self) -> tuple[float, float]:
        if self.bounds is not None:
            return self.bounds
        return (-1.0, 1.0) if self.difference else (0.0, 1.0)


@dataclass(frozen=True)
class Score:
    """One measured score on a card: value, interval, spread over wordings, context."""

    module: str
    name: str
    title: str
    value: float
    low: float
    high: float
    by_wording: tuple[float, ...]
    spread: float
    flagged: str
    clusters: int
    reference: float | None
    source: str
    baseline: float | None = None
    baseline_model: str = ""

    def as_row(self) -> dict:
        row = {k: getattr(self, k) for k in self.__dataclass_fields__}
        row["by_wording"] = list(self.by_wording)
        return row


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def ratio(num: str, den: str) -> Callable[[Mapping[str, np.ndarray]], np.ndarray]:
    """The formula ``sum(num) / sum(den)``."""
    return lambda s: _ratio(s[num], s[den])


def difference(
    a: tuple[str, str], b: tuple[str, str]
) -> Callable[[Mapping[str, np.ndarray]], np.ndarray]:
    """The formula ``sum(a0)/sum(a1) - sum(b0)/sum(b1)``."""
    return lambda s: _ratio(s[a[0]], s[a[1]]) - _ratio(s[b[0]], s[b[1]])


def _weights(clusters: int, rng: np.random.Generator, resamples: int) -> np.ndarray:
    """Bootstrap weights (resamples x clusters): how often each cluster is redrawn."""
    return rng.multinomial(clusters, np.full(clusters, 1 / clusters), resamples).astype(float)


def _interval(value: float, boot: np.ndarray, clusters: int, bounds: tuple) -> tuple:
    """95% interval: ``value`` +- t(n - 1) x the bootstrap standard error over n clusters.

    The percentile interval of a cluster bootstrap under-covers with the handful of
    clusters a small budget has (about 0.88-0.93 at 6 clusters, measured on
    ``rule:conformist``); the t quantile with n - 1 degrees of freedom and the bootstrap
    variance widened by n / (n - 1) (its known downward bias) correct for that. The
    interval is clipped to the score's possible range ``bounds`` (both ends, so a value
    on the edge of its range keeps a low end at or below its high end).
    """
    from scipy import stats

    boot = boot[np.isfinite(boot)]
    if len(boot) < 2 or not np.isfinite(value) or clusters < 2:
        return np.nan, np.nan
    se = float(np.std(boot, ddof=1)) * np.sqrt(clusters / (clusters - 1))
    half = float(stats.t.ppf(0.975, clusters - 1)) * se
    low, high = np.clip([value - half, value + half], *bounds)
    return float(low), float(high)


def score_table(
    module: str,
    measures: Sequence[Measure],
    clusters: pd.DataFrame,
    rng: np.random.Generator,
    resamples: int = RESAMPLES,
) -> list[Score]:
    """Every measure of ``module`` with a 95% stratified cluster-bootstrap interval.

    Parameters
    ----------
    module : str
        The module's name.
    measures : sequence of Measure
        What to score.
    clusters : pandas.DataFrame
        One row per independent unit: a ``wording`` column and the numeric columns the
        measures' formulas sum.
    rng : numpy.random.Generator
        Draws the bootstrap resamples.
    resamples : int
        Bootstrap resamples.

    Returns
    -------
    list of Score
        In ``measures`` order, without baselines (the battery adds them).

    Notes
    -----
    The units are resampled whole (a bootstrap over clusters; the interval is the value
    +- a t quantile times the bootstrap standard error, see :func:`_interval`), so it
    reflects the variation between independent units, not between the answers of one
    unit; the wording is part of that variation. Shares lie in [0, 1] and differences in
    [-1, 1]; a measure on another scale must say so (``bounds``).

    Whether the wording matters is a permutation test: the range of the per-wording
    values is compared with its distribution when the units' wording labels are shuffled
    (no wording effect). A score whose range exceeds that distribution's 95th percentile
    is flagged ``"wording"``, or ``"flips"`` when it is a difference whose per-wording
    values have both signs: its sign is then the instrument's, not the model's.
    """
    columns = [c for c in clusters.columns if c != "wording"]
    data = clusters[columns].to_numpy(dtype=float)
    strata = clusters["wording"].to_numpy()
    weights = _weights(len(clusters), rng, resamples)
    resampled = weights @ data  # resamples x columns
    total = data.sum(axis=0)
    wordings = sorted(np.unique(strata).tolist())
    # every permutation's per-wording column sums: permutations x wordings x columns
    shuffled = np.array([rng.permutation(strata) for _ in range(PERMUTATIONS)])
    onehot = np.stack([shuffled == w for w in wordings], axis=1).astype(float)
    permuted = onehot @ data

    def sums(matrix: np.ndarray) -> dict[str, np.ndarray]:
        return {c: matrix[..., i] for i, c in enumerate(columns)}

    def ranges(values: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a wording with no valid answer
            return np.nanmax(values, axis=-1) - np.nanmin(values, axis=-1)

    scores = []
    for m in measures:
        value = float(m.formula(sums(total)))
        boot = m.formula(sums(resampled))
        low, high = _interval(value, boot, len(clusters), m.range)
        by_wording = tuple(float(m.formula(sums(data[strata == w].sum(axis=0)))) for w in wordings)
        finite = [v for v in by_wording if np.isfinite(v)]
        spread = float(max(finite) - min(finite)) if len(finite) > 1 else 0.0
        flagged = ""
        null = ranges(m.formula(sums(permuted)))
        null = null[np.isfinite(null)]
        if len(finite) > 1 and len(null) and spread > np.percentile(null, 95) + 1e-12:
            flips = m.difference and min(finite) < 0 < max(finite)
            flagged = "flips" if flips else "wording"
        head = (module, m.name, m.title, value, low, high)
        scores.append(
            Score(*head, by_wording, spread, flagged, len(clusters), m.reference, m.source)
        )
    return scores


#: The modules of the protocol, in card order (each registers itself on import).
ORDER = ("conformity", "bias", "tipping", "opinion", "person", "persistence")


def _load_modules() -> None:
    import importlib

    for name in ORDER:
        importlib.import_module(f"workbench.battery.{name}")


#: The battery's modules, in card order.
MODULES: Registry = Registry("battery module", key=lambda cls: cls.name, loader=_load_modules)


class Module(ABC):
    """One phenomenon of the battery: which study runs to make and how to score them.

    A module is a subclass that names itself in its class statement, which registers
    it in :data:`MODULES` under that name::

        class Conformity(Module, name="conformity", title="Conformity (Asch)",
                         baseline="rule:truthful"):
            measures = (...)

    It plans
    :class:`~workbench.sweep.Sweep` runs for one model (:meth:`sweeps`), reads their
    results back into a cluster table (:meth:`clusters`) and lists its :attr:`measures`.
    Every prompt is asked in each wording of :data:`~workbench.society.task.WORDINGS`.

    Attributes
    ----------
    name : str
        Registry key and the card's panel name.
    title : str
        Panel title.
    baseline : str
        The rule spec scored beside every model: what a person without the studied
        tendency would score.
    measures : tuple of Measure
        The module's scores.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    baseline: ClassVar[str]
    measures: ClassVar[tuple[Measure, ...]]

    def __init_subclass__(cls, *, name: str, title: str, baseline: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.name, cls.title, cls.baseline = name, title, baseline
        MODULES.register(cls)

    @abstractmethod
    def sweeps(self, model: str, budget: Budget, seed: int) -> list[Sweep]:
        """The study runs this module needs for ``model``."""

    @abstractmethod
    def clusters(self, runs: Sequence[tuple[Any, pd.DataFrame]]) -> pd.DataFrame:
        """The cluster table of ``runs``: each sweep's config with its decisions table,
        in :meth:`sweeps` order."""

    @abstractmethod
    def decisions(self, budget: Budget) -> int:
        """Most model decisions the module makes for one model (for the plan)."""


def wording_seed(seed: int, wording: int, *more: int) -> int:
    """The seed of a module's runs in ``wording`` (and its part ``more``, e.g. a name
    pair): independent units in every wording and part."""
    from workbench.random import seed_for

    return seed_for(seed, "battery.wording", wording, *more)


#: The paraphrases every module asks in.
WORDING_INDICES: tuple[int, ...] = tuple(range(len(WORDINGS)))
