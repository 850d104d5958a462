"""Person vs situation: how much of an outcome's variance each side explains.

The person-situation debate in personality psychology asked whether behaviour is better
predicted by who acts or by where they act. Mischel (1968) found traits rarely predict
behaviour beyond correlations of about .30; Funder & Ozer (1983) showed that classic
situational effects are no larger; Fleeson (2004) showed that behaviour varies about as
much within a person across situations as between persons, while person averages stay
stable. Both sides matter, and interactionists add the person x situation term. The
workbench asks the same question of LLM societies: is a collective outcome driven by the
agents' pre-trained priors (the *person*: model x persona) or by the social context (the
*situation*: norm x topology x exchange rule x memory window)? Read the shares
comparatively (person vs situation vs their interaction): squared effect sizes look small
even for consequential effects (Funder & Ozer 2019).

:func:`decompose` answers it with a two-way fixed-effects ANOVA (Fisher 1925) fitted with
statsmodels (``ols`` + ``anova_lm(typ=2)``) and reports, for person, situation, their
interaction and the residual, the classical eta squared, partial eta squared and omega
squared (Olejnik & Algina 2003), with bootstrap intervals (Efron & Tibshirani 1993) that
resample runs within each person x situation cell. The total-variance (non-partial) eta and
omega squared are the ones whose components add up to one; Olejnik & Algina's generalized
statistics differ from them when some factors are measured rather than manipulated.
``method="mixed"`` fits crossed random intercepts (variance components) with statsmodels'
``MixedLM`` instead.

Which estimator to read
-----------------------
*omega squared* (``method="anova"``) estimates, for the persons and situations actually in
the design, the share of outcome variance due to each component. It removes the upward
bias of eta squared (a factor's sum of squares contains ``df`` x error variance even when
the factor does nothing), so a null component gives a share near 0 (it can be slightly
negative; read that as 0). Prefer it when the persons and situations are the ones you care
about (the models and personas you ran, the topologies you built) and the design is fully
crossed and roughly balanced.

*variance shares* (``method="mixed"``) treat persons and situations as random samples from
larger populations (all personas, all topologies of a kind) and estimate the population
variance components by REML. Prefer it when you want to generalise beyond the levels you
ran, when cell sizes are unequal (REML stays well defined where Type II sums of squares
stop adding up) or when some person x situation cells are empty. With few levels (fewer
than about 5 per factor) random-effect variances are estimated imprecisely: expect wide
intervals. For balanced data the REML estimates equal the ANOVA moment estimators
``(MS_person - MS_interaction) / (b n)`` etc. whenever these are positive, which differ
from omega squared's fixed-effects targets by roughly a factor ``a / (a - 1)``.

Bootstrap intervals
-------------------
Replicates (rows, or all rows of one ``unit`` such as a run) are redrawn with replacement
within each person x situation cell, so every cell stays present and the persons and
situations are held fixed: the intervals describe the uncertainty that comes from the
replicates (seeds, runs) given the levels in the design. Resampling treats the observed
cell means as the truth, and these carry noise, so the replicates scatter around the
resampled world's own share (for omega squared: eta squared, about ``df_k MS_res / N``
higher) rather than around the estimate. The replicates are therefore recentred by
``estimate - (that share)`` before the percentile interval is read off
(Efron & Tibshirani 1993, ch. 10 and 13); without this a plain percentile interval misses
small components entirely (it excludes 0 for a null interaction). In simulations with
known truth (6 x 5 x 20 design) the 95% intervals cover 89-96% of the time; they are a
little narrow because within-cell resampling shrinks the within-cell variance by
``(n - 1) / n``. For ``method="mixed"`` the same intervals ignore the sampling of persons
and situations from their populations, so they understate the uncertainty of the
population variance shares, and they under-cover (60-70% in simulation) when a variance
component sits at the zero boundary, as main effects do in interaction-heavy designs
with few levels.

Unbalanced designs
------------------
Sums of squares are Type II (each main effect adjusted for the other, the interaction
after both). In a balanced design Types I, II and III coincide and the four sums of squares
add up to the total, so eta squared and omega squared shares add up to one. When cell
sizes differ, person and situation are correlated in the sample, the Type II sums of
squares no longer add up to the total, and the shares need not sum to one (the overlap is
attributed to neither factor). :attr:`Decomposition.balanced` says which case applies; for
strongly unbalanced data prefer ``method="mixed"``.

References
----------
.. [1] Fisher, R. A. (1925). *Statistical Methods for Research Workers*. Oliver & Boyd.
.. [2] Mischel, W. (1968). *Personality and Assessment*. Wiley.
.. [3] Funder, D. C., & Ozer, D. J. (1983). Behavior as a function of the situation.
   *Journal of Personality and Social Psychology*, 44(1), 107-112.
.. [4] Funder, D. C., & Ozer, D. J. (2019). Evaluating effect size in psychological
   research: sense and nonsense. *Advances in Methods and Practices in Psychological
   Science*, 2(2), 156-168.
.. [5] Fleeson, W. (2004). Moving personality beyond the person-situation debate.
   *Current Directions in Psychological Science*, 13(2), 83-87.
.. [6] Olejnik, S., & Algina, J. (2003). Generalized eta and omega squared statistics:
   measures of effect size for some common research designs. *Psychological Methods*,
   8(4), 434-447.
.. [7] Efron, B., & Tibshirani, R. J. (1993). *An Introduction to the Bootstrap*.
   Chapman & Hall. (Ch. 10: bias; ch. 13: percentile intervals.)
.. [8] Searle, S. R., Casella, G., & McCulloch, C. E. (1992). *Variance Components*.
   Wiley. (ANOVA and REML estimation of crossed variance components.)

Examples
--------
>>> result = decompose(runs, "conformity", person=["model", "persona"],
...                    situation=["topology", "norm"], unit="run_id", seed=1)  # doctest: +SKIP
>>> result.table  # doctest: +SKIP
>>> result.plot()  # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from workbench.errors import ConfigError
from workbench.random import generator

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from statsmodels.regression.mixed_linear_model import MixedLM, MixedLMResults

__all__ = ["COMPONENTS", "TABLE_COLUMNS", "Decomposition", "decompose"]

#: Row labels of :attr:`Decomposition.table`, in order.
COMPONENTS: tuple[str, ...] = ("person", "situation", "person x situation", "residual")
#: Columns of :attr:`Decomposition.table`, in order.
TABLE_COLUMNS: tuple[str, ...] = (
    "component",
    "df",
    "sum_sq",
    "eta_sq",
    "partial_eta_sq",
    "omega_sq",
    "variance",
    "share",
    "ci_low",
    "ci_high",
)
_P, _S, _C, _Y = "_wb_person", "_wb_situation", "_wb_cell", "_wb_y"
_FORMULA = f"{_Y} ~ C({_P}) * C({_S})"
_JOIN = " × "

Method = Literal["anova", "mixed"]
#: Within-cell deviations are scaled by this to find the bootstrap world's own value of the
#: mixed-model shares (the noise-free limit; see :func:`_mixed_plugin`).
_SHRINK = 0.05


@dataclass(frozen=True)
class Decomposition:
    """Result of :func:`decompose`: shares of outcome variance by component.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per component (``person``, ``situation``, ``person x situation``,
        ``residual``) with columns

        ``df``, ``sum_sq``
            Type II ANOVA degrees of freedom and sum of squares.
        ``eta_sq``
            ``SS_k / SS_total``: share of the sample's variance (biased upward).
        ``partial_eta_sq``
            ``SS_k / (SS_k + SS_residual)`` (NaN for the residual row).
        ``omega_sq``
            ``(SS_k - df_k MS_res) / (SS_total + MS_res)``; residual row
            ``N MS_res / (SS_total + MS_res)``. Less biased estimate of the population
            share; can be slightly negative for a null component.
        ``variance``
            Estimated variance component: ``(SS_k - df_k MS_res) / N`` (``MS_res`` for the
            residual) for ``method="anova"``, the REML variance for ``method="mixed"``.
        ``share``
            The headline share: ``omega_sq`` for ``method="anova"``; ``variance`` over the
            summed variances for ``method="mixed"``.
        ``ci_low``, ``ci_high``
            Bootstrap interval of ``share`` (NaN when ``n_boot=0``).

        ANOVA columns are NaN when the design is not fully crossed (possible only with
        ``method="mixed"``).
    method : {"anova", "mixed"}
        Estimator behind ``share``.
    outcome : str
        Outcome column.
    person, situation : tuple of str
        Columns combined into the person and the situation factor.
    unit : str or None
        Resampling unit column (None: each row is a unit).
    n_obs : int
        Rows analysed.
    n_units : int
        Resampling clusters: distinct (cell, unit) pairs, or rows when ``unit`` is None.
    n_persons, n_situations, n_cells : int
        Levels of each factor and non-empty person x situation cells.
    balanced : bool
        Fully crossed with equal rows in every cell; if False the Type II sums of squares
        do not add up to the total (see the module notes).
    n_boot : int
        Bootstrap replicates drawn.
    level : float
        Coverage of the interval.
    seed : int or None
        Seed of the one :class:`numpy.random.Generator` that drew the replicates.
    replicates : pandas.DataFrame
        Recentred ``share`` of each component in each bootstrap replicate (``n_boot``
        rows); ``ci_low`` and ``ci_high`` are its percentiles.
    """

    table: pd.DataFrame
    method: Method
    outcome: str
    person: tuple[str, ...]
    situation: tuple[str, ...]
    unit: str | None
    n_obs: int
    n_units: int
    n_persons: int
    n_situations: int
    n_cells: int
    balanced: bool
    n_boot: int
    level: float
    seed: int | None
    replicates: pd.DataFrame = field(repr=False)

    @property
    def shares(self) -> pd.Series:
        """The ``share`` column indexed by component."""
        return self.table.set_index("component")["share"]

    def plot(self, ax: Axes | None = None) -> Axes:
        """Bar chart of the shares with their bootstrap intervals as error bars.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure is made when omitted.

        Returns
        -------
        matplotlib.axes.Axes
            The axes holding one bar per component.
        """
        import matplotlib.pyplot as plt
        import seaborn as sns

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        table = self.table
        sns.barplot(
            data=table,
            x="component",
            y="share",
            hue="component",
            order=list(COMPONENTS),
            hue_order=list(COMPONENTS),
            palette="deep",
            errorbar=None,
            legend=False,
            ax=ax,
        )
        share = table["share"].to_numpy(float)
        low = np.clip(share - table["ci_low"].to_numpy(float), 0.0, None)
        high = np.clip(table["ci_high"].to_numpy(float) - share, 0.0, None)
        if np.isfinite(low).any():
            ax.errorbar(
                np.arange(len(table)),
                share,
                yerr=np.vstack([low, high]),
                fmt="none",
                ecolor="black",
                capsize=4,
                lw=1.2,
            )
        ax.axhline(0.0, color="grey", lw=0.8)
        label = "omega squared" if self.method == "anova" else "variance share (REML)"
        ax.set_xlabel("")
        ax.set_ylabel(f"share of variance ({label})")
        interval = f", {self.level:.0%} bootstrap CI" if self.n_boot else ""
        ax.set_title(f"{self.outcome}: person vs situation{interval}")
        return ax


def decompose(
    df: pd.DataFrame,
    outcome: str,
    person: str | Sequence[str],
    situation: str | Sequence[str],
    *,
    unit: str | None = None,
    n_boot: int = 1000,
    seed: int | None = None,
    method: Method = "anova",
    level: float = 0.95,
) -> Decomposition:
    """Split an outcome's variance into person, situation, their interaction and noise.

    Parameters
    ----------
    df : pandas.DataFrame
        Tidy results, one row per observation, with the factor levels as columns.
    outcome : str
        Numeric (or boolean) outcome column.
    person : str or sequence of str
        Column(s) identifying the person; several columns are crossed into one factor
        (e.g. ``["model", "persona"]``).
    situation : str or sequence of str
        Column(s) identifying the situation, crossed into one factor likewise
        (e.g. ``["norm", "topology"]``).
    unit : str, optional
        Resampling unit, e.g. ``"run_id"``: rows sharing a unit within a cell are
        resampled together, so dependence between them (agents of one run) is respected.
        A unit spanning several cells is resampled separately in each. Default: rows.
    n_boot : int, default 1000
        Bootstrap replicates; 0 skips the intervals. Each ``method="mixed"`` replicate is
        one REML fit (about 0.05-0.5 s for a few hundred rows), so pass a few hundred.
    seed : int, optional
        Seed of the single :class:`numpy.random.Generator` used for resampling.
    method : {"anova", "mixed"}, default "anova"
        ``"anova"``: omega squared from a two-way fixed-effects ANOVA. ``"mixed"``: REML
        variance components of crossed random intercepts for person, situation and
        person x situation. See the module notes for when to prefer which.
    level : float, default 0.95
        Coverage of the bootstrap interval.

    Returns
    -------
    Decomposition
        The tidy table (see :class:`Decomposition`) and a ``plot`` method.

    Raises
    ------
    ConfigError
        Missing columns, a non-numeric or incomplete outcome, a factor with a single
        level, an empty cell (``method="anova"``), fewer than two units in a cell, or an
        invalid option.

    Notes
    -----
    The bootstrap is stratified by cell and recentred (see the module notes). ANOVA
    replicates are evaluated with Type II sums of squares computed as differences of
    nested weighted least-squares fits to the cell means, on the design matrix statsmodels
    built for the point estimate: every column of a two-way design is constant within a
    cell, so this equals ``anova_lm(typ=2)`` on the resampled rows without re-parsing the
    formula and refitting all rows for every replicate (1000 replicates take about a
    second). Mixed-model replicates are full REML fits started from the point estimate.
    Both use small dense matrices; on a machine with more busy threads than cores a
    multithreaded BLAS can slow them many times over, and ``OPENBLAS_NUM_THREADS=1``
    (or ``threadpoolctl``) restores the speed.
    """
    persons = _as_columns(person, "person")
    situations = _as_columns(situation, "situation")
    _check_options(df, outcome, persons, situations, unit, n_boot, method, level)
    data = _prepare(df, outcome, persons, situations, unit)
    cells, crossed = _check_design(data, persons, situations, unit, method)

    anova = _anova_point(data) if crossed else None
    if method == "anova":
        assert anova is not None  # checked: anova needs a crossed design
        variance = anova["variance"]
        share = anova["omega_sq"]
    else:
        variance = _mixed_variances(data, anova)
        share = variance / variance.sum()

    clusters = _Clusters.of(data, unit)
    rng = generator(seed)
    if n_boot:
        if method == "anova":
            boot = _anova_replicates(data, clusters, n_boot, rng)
            plugin = anova["eta_sq"]
        else:
            boot = _mixed_replicates(data, clusters, n_boot, rng, variance)
            plugin = _mixed_plugin(data, variance)
        # recentre: the replicates scatter around the resampled world's own value
        boot = boot + (share - plugin)
        ci_low, ci_high = np.nanquantile(boot, [(1 - level) / 2, (1 + level) / 2], axis=0)
    else:
        boot = np.empty((0, len(COMPONENTS)))
        ci_low = ci_high = np.full(len(COMPONENTS), np.nan)

    table = pd.DataFrame({"component": list(COMPONENTS)})
    if anova is not None:
        for column in ("df", "sum_sq", "eta_sq", "partial_eta_sq", "omega_sq"):
            table[column] = anova[column]
    else:
        for column in ("df", "sum_sq", "eta_sq", "partial_eta_sq", "omega_sq"):
            table[column] = np.nan
    table["variance"] = np.asarray(variance, float)
    table["share"] = np.asarray(share, float)
    table["ci_low"] = ci_low
    table["ci_high"] = ci_high
    table = table.loc[:, list(TABLE_COLUMNS)]

    counts = data.groupby(_C, observed=True).size()
    return Decomposition(
        table=table,
        method=method,
        outcome=outcome,
        person=tuple(persons),
        situation=tuple(situations),
        unit=unit,
        n_obs=len(data),
        n_units=len(clusters.cell),
        n_persons=data[_P].nunique(),
        n_situations=data[_S].nunique(),
        n_cells=len(cells),
        balanced=bool(crossed and counts.nunique() == 1),
        n_boot=int(n_boot),
        level=float(level),
        seed=seed,
        replicates=pd.DataFrame(boot, columns=list(COMPONENTS)),
    )


# --- input checks ---------------------------------------------------------------------


def _as_columns(value: str | Sequence[str], role: str) -> list[str]:
    columns = [value] if isinstance(value, str) else list(value)
    if not columns or not all(isinstance(c, str) for c in columns):
        raise ConfigError(f"{role} must be a column name or a non-empty list of column names")
    return columns


def _check_options(
    df: object,
    outcome: str,
    persons: list[str],
    situations: list[str],
    unit: str | None,
    n_boot: int,
    method: str,
    level: float,
) -> None:
    if not isinstance(df, pd.DataFrame):
        raise ConfigError(f"decompose needs a pandas DataFrame, got {type(df).__name__}")
    if method not in ("anova", "mixed"):
        raise ConfigError(f"method must be 'anova' or 'mixed', got {method!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 0:
        raise ConfigError(
            f"n_boot must be a non-negative integer (0 skips intervals), got {n_boot!r}"
        )
    if not 0.0 < float(level) < 1.0:
        raise ConfigError(f"level must lie strictly between 0 and 1, got {level!r}")
    wanted = [outcome, *persons, *situations, *([unit] if unit is not None else [])]
    missing = [c for c in dict.fromkeys(wanted) if c not in df.columns]
    if missing:
        have = ", ".join(map(str, list(df.columns)[:12]))
        more = ", ..." if len(df.columns) > 12 else ""
        raise ConfigError(
            f"column(s) {', '.join(map(repr, missing))} not in the data; it has: {have}{more}"
        )
    roles = {"outcome": [outcome], "person": persons, "situation": situations}
    if unit is not None:
        roles["unit"] = [unit]
    seen: dict[str, str] = {}
    for role, columns in roles.items():
        for column in columns:
            if column in seen and seen[column] != role:
                raise ConfigError(
                    f"column {column!r} is used as both {seen[column]} and {role}; "
                    "give each role its own columns"
                )
            seen[column] = role


def _prepare(
    df: pd.DataFrame,
    outcome: str,
    persons: list[str],
    situations: list[str],
    unit: str | None,
) -> pd.DataFrame:
    y = df[outcome]
    if pd.api.types.is_bool_dtype(y):
        y = y.astype(float)
    if not pd.api.types.is_numeric_dtype(y):
        raise ConfigError(
            f"outcome {outcome!r} must be numeric or boolean, got dtype {y.dtype}; "
            "encode it as a number first"
        )
    y = pd.to_numeric(y).astype(float)
    n_bad = int((~np.isfinite(y.to_numpy())).sum())
    if n_bad:
        raise ConfigError(
            f"outcome {outcome!r} has {n_bad} missing or infinite value(s); "
            "drop or fill those rows before decomposing"
        )
    columns = [*persons, *situations, *([unit] if unit is not None else [])]
    n_missing = df[columns].isna().any(axis=1)
    if n_missing.any():
        raise ConfigError(
            f"{int(n_missing.sum())} row(s) have a missing person, situation or unit value; "
            "drop or fill them before decomposing"
        )
    data = pd.DataFrame(
        {
            _Y: y.to_numpy(),
            _P: _labels(df, persons),
            _S: _labels(df, situations),
        },
        index=pd.RangeIndex(len(df)),
    )
    if unit is not None:
        data["_wb_unit"] = pd.factorize(df[unit])[0]
    # integer codes keep the formula free of odd level names; labels stay for messages
    data["_wb_p_label"], data["_wb_s_label"] = data[_P], data[_S]
    data[_P] = pd.factorize(data[_P], sort=True)[0]
    data[_S] = pd.factorize(data[_S], sort=True)[0]
    data[_C] = data[_P] * (data[_S].max() + 1) + data[_S]
    return data


def _labels(df: pd.DataFrame, columns: list[str]) -> np.ndarray:
    label = df[columns[0]].astype(str)
    for column in columns[1:]:
        label = label + _JOIN + df[column].astype(str)
    return label.to_numpy(dtype=object)


def _check_design(
    data: pd.DataFrame,
    persons: list[str],
    situations: list[str],
    unit: str | None,
    method: str,
) -> tuple[pd.Index, bool]:
    for role, code, label, columns in (
        ("person", _P, "_wb_p_label", persons),
        ("situation", _S, "_wb_s_label", situations),
    ):
        if data[code].nunique() < 2:
            only = data[label].iloc[0] if len(data) else "nothing"
            raise ConfigError(
                f"{role} ({', '.join(columns)}) has a single level ({only!r}); "
                f"a decomposition needs at least 2 {role}s"
            )
    n_p, n_s = data[_P].nunique(), data[_S].nunique()
    cells = pd.Index(np.sort(data[_C].unique()))
    crossed = len(cells) == n_p * n_s
    if not crossed and method == "anova":
        present = set(cells)
        first = next(c for c in range(n_p * n_s) if c not in present)
        p_label = data.loc[data[_P] == first // n_s, "_wb_p_label"].iloc[0]
        s_label = data.loc[data[_S] == first % n_s, "_wb_s_label"].iloc[0]
        raise ConfigError(
            f"cell person={p_label!r} x situation={s_label!r} has no observations "
            f"({n_p * n_s - len(cells)} empty cell(s)); run every cell or use method='mixed'"
        )
    per_cell = (
        data.groupby(_C)["_wb_unit"].nunique() if unit is not None else data.groupby(_C).size()
    )
    thin = per_cell[per_cell < 2]
    if len(thin):
        row = data.loc[data[_C] == thin.index[0]].iloc[0]
        what = f"distinct {unit!r} value(s)" if unit is not None else "observation(s)"
        raise ConfigError(
            f"cell person={row['_wb_p_label']!r} x situation={row['_wb_s_label']!r} has "
            f"{int(thin.iloc[0])} {what} ({len(thin)} such cell(s)); the person x situation "
            "interaction needs at least 2 replicates per cell: add seeds"
        )
    return cells, crossed


# --- ANOVA ------------------------------------------------------------------------------


def _anova_point(data: pd.DataFrame) -> dict[str, np.ndarray]:
    """Type II ANOVA with statsmodels and the effect sizes derived from it."""
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    fit = smf.ols(_FORMULA, data=data[[_Y, _P, _S]]).fit()
    aov = anova_lm(fit, typ=2)
    rows = [f"C({_P})", f"C({_S})", f"C({_P}):C({_S})", "Residual"]
    return _effect_sizes(
        aov.loc[rows, "sum_sq"].to_numpy(float),
        aov.loc[rows, "df"].to_numpy(float),
        float(((data[_Y] - data[_Y].mean()) ** 2).sum()),
        len(data),
    )


def _effect_sizes(
    ss: np.ndarray, dof: np.ndarray, ss_total: float, n: int
) -> dict[str, np.ndarray]:
    """Eta, partial eta and omega squared from (person, situation, interaction, residual)."""
    ms_res = ss[3] / dof[3]
    with np.errstate(invalid="ignore", divide="ignore"):
        eta = ss / ss_total
        partial = np.append(ss[:3] / (ss[:3] + ss[3]), np.nan)
        variance = np.append((ss[:3] - dof[:3] * ms_res) / n, ms_res)
        omega = variance * n / (ss_total + ms_res)
    return {
        "df": np.asarray(dof, float),
        "sum_sq": np.asarray(ss, float),
        "eta_sq": eta,
        "partial_eta_sq": partial,
        "omega_sq": omega,
        "variance": variance,
    }


def _cell_design(data: pd.DataFrame) -> tuple[np.ndarray, dict[str, list[int]]]:
    """statsmodels' treatment-coded design, one row per cell code, and each term's columns."""
    import statsmodels.formula.api as smf

    model = smf.ols(_FORMULA, data=data[[_Y, _P, _S]])
    names = list(model.exog_names)
    blocks: dict[str, list[int]] = {"person": [], "situation": [], "interaction": []}
    for i, name in enumerate(names):
        if ":" in name:
            blocks["interaction"].append(i)
        elif name.startswith(f"C({_P})"):
            blocks["person"].append(i)
        elif name.startswith(f"C({_S})"):
            blocks["situation"].append(i)
    first = data.groupby(_C, sort=True).indices
    rows = [first[c][0] for c in sorted(first)]
    return np.asarray(model.exog, float)[rows], blocks


def _cell_type2_ss(
    xc: np.ndarray,
    blocks: dict[str, list[int]],
    n: np.ndarray,
    sums: np.ndarray,
    sumsq: np.ndarray,
) -> np.ndarray:
    """Type II sums of squares (person, situation, interaction, residual) from cell totals.

    ``xc`` holds the design row of each cell, ``n``, ``sums`` and ``sumsq`` the cell's
    count, sum and sum of squares of the outcome. A model whose columns are constant within
    cells leaves residual sum of squares ``SS_within + sum_c n_c (mean_c - fit_c)^2``, so
    each nested fit is a weighted least-squares fit to the cell means.
    """
    means = sums / n
    within = float(np.sum(sumsq - sums * means))
    root = np.sqrt(n)
    target = root * means

    def ssr(columns: list[int]) -> float:
        sub = xc[:, [0, *columns]] * root[:, None]
        beta = np.linalg.lstsq(sub, target, rcond=None)[0]
        resid = target - sub @ beta
        return within + float(resid @ resid)

    p, s, ps = blocks["person"], blocks["situation"], blocks["interaction"]
    ssr_p, ssr_s, ssr_ps, ssr_full = ssr(p), ssr(s), ssr(p + s), ssr(p + s + ps)
    return np.array([ssr_s - ssr_ps, ssr_p - ssr_ps, ssr_ps - ssr_full, ssr_full])


def _anova_replicates(
    data: pd.DataFrame, clusters: _Clusters, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """Omega squared of each component in each stratified bootstrap replicate."""
    xc, blocks = _cell_design(data)
    k = xc.shape[0]
    dof = np.array(
        [len(blocks["person"]), len(blocks["situation"]), len(blocks["interaction"]), 0.0]
    )
    out = np.empty((n_boot, len(COMPONENTS)))
    for b in range(n_boot):
        pick = clusters.draw(rng)
        cell = clusters.cell[pick]
        n = np.bincount(cell, weights=clusters.n[pick], minlength=k)
        sums = np.bincount(cell, weights=clusters.sum[pick], minlength=k)
        sumsq = np.bincount(cell, weights=clusters.sumsq[pick], minlength=k)
        ss = _cell_type2_ss(xc, blocks, n, sums, sumsq)
        total = n.sum()
        dof[3] = total - xc.shape[1]
        ss_total = float(sumsq.sum() - sums.sum() ** 2 / total)
        out[b] = _effect_sizes(ss, dof, ss_total, int(total))["omega_sq"]
    return out


# --- mixed model ------------------------------------------------------------------------


def _mixed_model(data: pd.DataFrame, rows: np.ndarray | None = None) -> MixedLM:
    """Crossed random intercepts: one group, a variance component per term."""
    from statsmodels.regression.mixed_linear_model import MixedLM, VCSpec

    sub = data if rows is None else data.iloc[rows]
    n = len(sub)
    names, colnames, mats = [], [], []
    for name, code, k in (
        ("person", _P, data[_P].max() + 1),
        ("situation", _S, data[_S].max() + 1),
        ("person x situation", _C, data[_C].max() + 1),
    ):
        dummies = np.zeros((n, k))
        dummies[np.arange(n), sub[code].to_numpy()] = 1.0
        keep = dummies.any(axis=0)
        names.append(name)
        colnames.append([[f"{name}[{i}]" for i in np.flatnonzero(keep)]])
        mats.append([dummies[:, keep]])
    return MixedLM(
        sub[_Y].to_numpy(float),
        np.ones((n, 1)),
        groups=np.zeros(n),
        exog_vc=VCSpec(names, colnames, mats),
    )


def _fit_mixed(model: MixedLM, start: np.ndarray, mean: float) -> MixedLMResults:
    """REML fit started from variance guesses ``start`` (person, situation, cell, residual)."""
    from statsmodels.regression.mixed_linear_model import MixedLMParams

    scale = max(float(start[3]), 1e-12)
    vcomp = np.maximum(np.asarray(start[:3], float), 0.01 * scale) / scale
    params = MixedLMParams.from_components(
        fe_params=np.array([mean]), cov_re=np.zeros((0, 0)), vcomp=vcomp
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = model.fit(reml=True, start_params=params)
    return result


def _mixed_components(result: MixedLMResults) -> np.ndarray:
    """Variances (person, situation, person x situation, residual) of a fit."""
    order = list(result.model.exog_vc.names)
    vcomp = dict(zip(order, np.asarray(result.vcomp, float), strict=True))
    return np.array([*(vcomp[c] for c in COMPONENTS[:3]), float(result.scale)])


def _mixed_variances(data: pd.DataFrame, anova: dict[str, np.ndarray] | None) -> np.ndarray:
    if anova is not None:
        start = _moment_start(data, anova)
    else:
        start = np.full(4, data[_Y].var(ddof=1) / 4)
    result = _fit_mixed(_mixed_model(data), start, float(data[_Y].mean()))
    components = _mixed_components(result)
    # a zero variance component is a boundary maximum, which statsmodels flags as
    # not converged (the gradient does not vanish there); only warn about real failures
    on_boundary = np.any(components[:3] <= 1e-6 * components[3])
    if not result.converged and not on_boundary:
        warnings.warn(
            "the mixed model did not converge; treat its variance shares with caution "
            "or use method='anova'",
            RuntimeWarning,
            stacklevel=3,
        )
    return components


def _mixed_plugin(data: pd.DataFrame, variance: np.ndarray) -> np.ndarray:
    """Shares the mixed model targets in the resampled world (its noise-free limit).

    Resampling within cells treats the observed cell means as the truth, so replicate
    estimates scatter around the REML shares of infinitely many replicates per cell: the
    between-cell components of a fit with within-cell deviations shrunk towards zero, and
    the plug-in within-cell variance as the residual.
    """
    y = data[_Y].to_numpy(float)
    means = data.groupby(_C)[_Y].transform("mean").to_numpy(float)
    deviation = y - means
    shrunk = data.assign(**{_Y: means + _SHRINK * deviation})
    start = np.append(variance[:3], variance[3] * _SHRINK**2)
    components = _mixed_components(_fit_mixed(_mixed_model(shrunk), start, float(y.mean())))
    components[3] = float(deviation @ deviation) / len(y)
    components[:3] = np.maximum(components[:3], 0.0)
    return components / components.sum()


def _moment_start(data: pd.DataFrame, anova: dict[str, np.ndarray]) -> np.ndarray:
    """ANOVA (method-of-moments) variance components: a close REML starting point."""
    ms = anova["sum_sq"] / anova["df"]
    n_p, n_s = data[_P].nunique(), data[_S].nunique()
    n_rep = len(data) / (n_p * n_s)
    return np.array(
        [
            (ms[0] - ms[2]) / (n_s * n_rep),
            (ms[1] - ms[2]) / (n_p * n_rep),
            (ms[2] - ms[3]) / n_rep,
            ms[3],
        ]
    )


def _mixed_replicates(
    data: pd.DataFrame,
    clusters: _Clusters,
    n_boot: int,
    rng: np.random.Generator,
    variance: np.ndarray,
) -> np.ndarray:
    """Variance shares of each stratified bootstrap replicate, one REML fit each."""
    out = np.empty((n_boot, len(COMPONENTS)))
    y = data[_Y].to_numpy(float)
    for b in range(n_boot):
        rows = clusters.rows_of(clusters.draw(rng))
        result = _fit_mixed(_mixed_model(data, rows), variance, float(y[rows].mean()))
        v = _mixed_components(result)
        out[b] = v / v.sum()
    return out


# --- bootstrap --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Clusters:
    """Resampling clusters sorted by cell, with their outcome totals."""

    cell: np.ndarray  # cell code of each cluster, sorted
    rows: list[np.ndarray]  # row positions of each cluster
    n: np.ndarray
    sum: np.ndarray
    sumsq: np.ndarray
    start: np.ndarray  # first cluster of each cluster's cell
    size: np.ndarray  # clusters in each cluster's cell

    @classmethod
    def of(cls, data: pd.DataFrame, unit: str | None) -> _Clusters:
        keys = [_C, "_wb_unit"] if unit is not None else [_C, data.index]
        groups = data.groupby(keys, sort=True).indices
        rows = [np.asarray(r) for r in groups.values()]
        cell = np.array([int(key[0]) for key in groups], dtype=np.int64)
        # centring keeps sums of squares accurate for outcomes far from zero
        y = data[_Y].to_numpy(float) - float(data[_Y].mean())
        _, start, size = np.unique(cell, return_index=True, return_counts=True)
        which = np.searchsorted(cell[start], cell)
        return cls(
            cell=cell,
            rows=rows,
            n=np.array([len(r) for r in rows], float),
            sum=np.array([y[r].sum() for r in rows]),
            sumsq=np.array([(y[r] ** 2).sum() for r in rows]),
            start=start[which],
            size=size[which],
        )

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """One stratified replicate: each cell's clusters redrawn with replacement."""
        return self.start + (rng.random(len(self.cell)) * self.size).astype(np.int64)

    def rows_of(self, pick: np.ndarray) -> np.ndarray:
        return np.concatenate([self.rows[i] for i in pick])
