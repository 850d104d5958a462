"""Person vs situation decomposition, validated on synthetic data with known components.

The data are a 6 persons x 5 situations x 20 replicates design whose cell means are
``alpha_i + beta_j + gamma_ij`` (each drawn once from a normal distribution) plus normal
noise. The *true shares of the finite design* follow analytically from the drawn effects:
decompose the cell-mean table into row, column and interaction effects (sum-to-zero), take
their mean squares over the design (``V_person = mean_i r_i^2`` etc.) and add the noise
variance; the share of a component is its variance over the sum. That is exactly the
quantity fixed-effects omega squared estimates.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from workbench.analysis.decomposition import (  # noqa: E402
    COMPONENTS,
    TABLE_COLUMNS,
    Decomposition,
    _cell_design,
    _cell_type2_ss,
    _prepare,
    decompose,
)
from workbench.errors import ConfigError  # noqa: E402

N_BOOT = 200


def synthetic(
    seed: int,
    sd: tuple[float, float, float, float],
    persons: int = 6,
    situations: int = 5,
    replicates: int = 20,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Data with known components; returns (data, true shares, mixed-model targets).

    ``sd`` holds the standard deviations of the person, situation and interaction effects
    and of the noise. The mixed-model targets are what REML estimates for these fixed
    effects in a balanced design (the ANOVA moment estimators' expectations):
    ``sum r^2 / (a - 1) - sum g^2 / (b (a - 1) (b - 1))`` for person, likewise for
    situation, ``sum g^2 / ((a - 1)(b - 1))`` for the interaction.
    """
    rng = np.random.default_rng(seed)
    a, b, n = persons, situations, replicates
    mu = (
        rng.normal(0, sd[0], a)[:, None]
        + rng.normal(0, sd[1], b)[None, :]
        + rng.normal(0, sd[2], (a, b))
    )
    grand = mu.mean()
    rows = mu.mean(axis=1) - grand
    cols = mu.mean(axis=0) - grand
    inter = mu - grand - rows[:, None] - cols[None, :]
    noise = sd[3] ** 2
    true = np.array([np.mean(rows**2), np.mean(cols**2), np.mean(inter**2), noise])
    gg = np.sum(inter**2)
    mixed = np.array(
        [
            np.sum(rows**2) / (a - 1) - gg / (b * (a - 1) * (b - 1)),
            np.sum(cols**2) / (b - 1) - gg / (a * (a - 1) * (b - 1)),
            gg / ((a - 1) * (b - 1)),
            noise,
        ]
    )
    mixed = np.maximum(mixed, 0.0)
    p, s, r = (g.ravel() for g in np.meshgrid(range(a), range(b), range(n), indexing="ij"))
    data = pd.DataFrame(
        {
            "person": [f"persona-{i}" for i in p],
            "situation": [f"topology-{j}" for j in s],
            "seed": r,
            "y": mu[p, s] + rng.normal(0, sd[3], p.size),
        }
    )
    return data, true / true.sum(), mixed / mixed.sum()


CONFIGS = {
    "person-dominated": (1.5, 0.5, 0.4, 1.0),
    "situation-dominated": (0.5, 1.5, 0.4, 1.0),
    "interaction-heavy": (0.4, 0.4, 1.2, 1.0),
}


@pytest.fixture(scope="module", params=list(CONFIGS))
def known(request):
    data, true, mixed = synthetic(seed=2026, sd=CONFIGS[request.param])
    result = decompose(data, "y", "person", "situation", n_boot=N_BOOT, seed=1)
    return request.param, data, true, mixed, result


def test_omega_squared_recovers_true_shares_within_intervals(known):
    name, _, true, _, result = known
    table = result.table.set_index("component")
    share = table["omega_sq"].to_numpy()
    low, high = table["ci_low"].to_numpy(), table["ci_high"].to_numpy()
    assert np.all((low <= true) & (true <= high)), (name, true, low, high)
    np.testing.assert_allclose(share, true, atol=0.05, err_msg=name)
    # the dominant component is identified
    assert np.argmax(share[:3]) == np.argmax(true[:3])


def test_table_is_tidy_and_consistent(known):
    _, data, _, _, result = known
    table = result.table
    assert isinstance(result, Decomposition)
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert list(table["component"]) == list(COMPONENTS)
    assert result.balanced and result.n_obs == len(data) == result.n_units
    assert (result.n_persons, result.n_situations, result.n_cells) == (6, 5, 30)
    np.testing.assert_allclose(table["df"], [5, 4, 20, 570])
    # balanced: Type II sums of squares add up, so eta and omega shares sum to one
    total = float(((data["y"] - data["y"].mean()) ** 2).sum())
    np.testing.assert_allclose(table["sum_sq"].sum(), total)
    np.testing.assert_allclose(table["eta_sq"].sum(), 1.0)
    np.testing.assert_allclose(table["omega_sq"].sum(), 1.0)
    np.testing.assert_allclose(table["share"], table["omega_sq"])
    # omega corrects eta's upward bias for every effect
    assert np.all(table["omega_sq"][:3] < table["eta_sq"][:3])
    assert np.all(table["partial_eta_sq"][:3] >= table["eta_sq"][:3])
    assert np.isnan(table["partial_eta_sq"].iloc[3])
    assert np.all(table["ci_low"] <= table["share"]) and np.all(table["share"] <= table["ci_high"])
    assert result.replicates.shape == (N_BOOT, 4)


def test_null_effects_give_shares_near_zero():
    data, true, _ = synthetic(seed=5, sd=(0.0, 0.0, 0.0, 1.0))
    assert np.allclose(true, [0, 0, 0, 1])
    table = decompose(data, "y", "person", "situation", n_boot=N_BOOT, seed=2).table
    effects = table.iloc[:3]
    assert np.all(np.abs(effects["omega_sq"]) < 0.035)  # about 3 standard errors
    assert np.all(effects["ci_low"] <= 0.0) and np.all(effects["ci_high"] >= 0.0)
    assert table["omega_sq"].iloc[3] > 0.97
    # eta squared is biased upward in the null: df_k / (N - 1) in expectation
    assert table["eta_sq"].iloc[2] > table["omega_sq"].iloc[2] + 0.02


def test_mixed_model_variance_shares_near_truth():
    data, true, mixed = synthetic(seed=2026, sd=CONFIGS["person-dominated"])
    result = decompose(data, "y", "person", "situation", method="mixed", n_boot=5, seed=3)
    table = result.table
    share = table["share"].to_numpy()
    np.testing.assert_allclose(share.sum(), 1.0)
    # REML matches its balanced-design target closely and the finite-design truth loosely
    # (random-effect variances divide by a - 1 where the fixed-effects truth divides by a)
    np.testing.assert_allclose(share, mixed, atol=0.03)
    np.testing.assert_allclose(share, true, atol=0.12)
    assert np.all(table["variance"] >= 0)
    assert np.all(np.isfinite(table[["ci_low", "ci_high"]].to_numpy()))
    assert np.all(table["ci_low"] <= table["ci_high"])
    # the ANOVA columns are still reported beside the mixed shares
    assert np.isfinite(table["omega_sq"]).all()


def test_mixed_model_tolerates_empty_cells_where_anova_refuses():
    data, _, mixed = synthetic(seed=8, sd=CONFIGS["person-dominated"])
    holes = data[~((data["person"] == "persona-0") & (data["situation"] == "topology-0"))]
    with pytest.raises(ConfigError, match="no observations.*method='mixed'"):
        decompose(holes, "y", "person", "situation", n_boot=0)
    full = decompose(data, "y", "person", "situation", method="mixed", n_boot=0)
    result = decompose(holes, "y", "person", "situation", method="mixed", n_boot=0)
    assert result.n_cells == 29 and not result.balanced
    assert result.table["omega_sq"].isna().all()
    assert result.table["ci_low"].isna().all()
    np.testing.assert_allclose(result.table["share"].sum(), 1.0)
    # one empty cell of 30 barely moves the estimates
    np.testing.assert_allclose(result.table["share"], full.table["share"], atol=0.03)
    np.testing.assert_allclose(result.table["share"], mixed, atol=0.05)


def test_cell_level_type2_sums_of_squares_match_anova_lm_when_unbalanced():
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    data, _, _ = synthetic(seed=3, sd=(1.0, 0.7, 0.5, 1.0))
    data = data.sample(frac=0.6, random_state=4)  # unequal cell sizes
    fit = smf.ols("y ~ C(person) * C(situation)", data=data).fit()
    expected = anova_lm(fit, typ=2)["sum_sq"].to_numpy()
    prepared = _prepare(data, "y", ["person"], ["situation"], None)
    xc, blocks = _cell_design(prepared)
    grouped = prepared.groupby("_wb_cell")["_wb_y"]
    y2 = prepared["_wb_y"] ** 2
    sumsq = y2.groupby(prepared["_wb_cell"]).sum().to_numpy()
    ss = _cell_type2_ss(xc, blocks, grouped.size().to_numpy(float), grouped.sum().to_numpy(), sumsq)
    np.testing.assert_allclose(ss, expected, rtol=1e-9)

    result = decompose(data, "y", "person", "situation", n_boot=50, seed=0)
    assert not result.balanced
    np.testing.assert_allclose(result.table["sum_sq"], expected)


def test_several_columns_combine_into_one_factor():
    data, _, _ = synthetic(seed=11, sd=CONFIGS["interaction-heavy"], replicates=8)
    split = data.assign(
        model=data["person"].str[-1].astype(int) // 3,
        persona=data["person"].str[-1].astype(int) % 3,
        norm=data["situation"].str[-1].astype(int) % 5,
        topology="ring",
    )
    one = decompose(data, "y", "person", "situation", n_boot=30, seed=4)
    two = decompose(split, "y", ["model", "persona"], ["norm", "topology"], n_boot=30, seed=4)
    pd.testing.assert_frame_equal(one.table, two.table)
    assert two.person == ("model", "persona") and two.situation == ("norm", "topology")


def test_unit_resampling_keeps_runs_together():
    # each run contributes 4 agents sharing a run effect: rows within a run are dependent
    rng = np.random.default_rng(9)
    rows = []
    for p in range(4):
        for s in range(3):
            for run in range(6):
                shared = rng.normal(0, 1.0)
                for agent in range(4):
                    y = 0.8 * p - 0.5 * s + shared + rng.normal(0, 0.3)
                    rows.append((f"m{p}", f"s{s}", f"run-{p}-{s}-{run}", agent, y))
    data = pd.DataFrame(rows, columns=["person", "situation", "run_id", "agent", "y"])
    by_row = decompose(data, "y", "person", "situation", n_boot=N_BOOT, seed=6)
    by_run = decompose(data, "y", "person", "situation", unit="run_id", n_boot=N_BOOT, seed=6)
    assert by_run.n_units == 72 and by_row.n_units == len(data) == 288
    pd.testing.assert_frame_equal(
        by_row.table.drop(columns=["ci_low", "ci_high"]),
        by_run.table.drop(columns=["ci_low", "ci_high"]),
    )
    width = lambda r: (r.table["ci_high"] - r.table["ci_low"]).to_numpy()  # noqa: E731
    # clustered resampling sees the run-level dependence the row bootstrap ignores
    assert width(by_run)[0] > 1.3 * width(by_row)[0]


def test_seed_makes_intervals_reproducible():
    data, _, _ = synthetic(seed=1, sd=CONFIGS["situation-dominated"], replicates=5)
    first = decompose(data, "y", "person", "situation", n_boot=50, seed=42)
    again = decompose(data, "y", "person", "situation", n_boot=50, seed=42)
    other = decompose(data, "y", "person", "situation", n_boot=50, seed=43)
    pd.testing.assert_frame_equal(first.table, again.table)
    assert not np.allclose(first.table["ci_low"], other.table["ci_low"])
    none = decompose(data, "y", "person", "situation", n_boot=0)
    assert none.table["ci_low"].isna().all() and none.replicates.empty
    pd.testing.assert_series_equal(none.table["share"], first.table["share"])


def test_boolean_outcome_is_accepted():
    data, _, _ = synthetic(seed=12, sd=CONFIGS["person-dominated"], replicates=6)
    data["conformed"] = data["y"] > 0
    result = decompose(data, "conformed", "person", "situation", n_boot=20, seed=0)
    assert result.table["share"].iloc[0] > 0.2


def test_plot_returns_axes_with_bars_and_error_bars():
    data, _, _ = synthetic(seed=2026, sd=CONFIGS["person-dominated"], replicates=6)
    result = decompose(data, "y", "person", "situation", n_boot=40, seed=0)
    ax = result.plot()
    try:
        assert isinstance(ax, matplotlib.axes.Axes)
        heights = [patch.get_height() for patch in ax.patches]
        assert len(heights) == 4
        np.testing.assert_allclose(heights, result.table["share"])
        assert [t.get_text() for t in ax.get_xticklabels()] == list(COMPONENTS)
        assert ax.collections or ax.lines  # the error bars
        fig, given = plt.subplots()
        assert result.plot(ax=given) is given
    finally:
        plt.close("all")


@pytest.fixture(scope="module")
def small():
    data, _, _ = synthetic(seed=0, sd=CONFIGS["person-dominated"], replicates=3)
    return data


@pytest.mark.parametrize(
    ("change", "kwargs", "match"),
    [
        (None, {"outcome": "score"}, "'score' not in the data"),
        (None, {"person": ["model", "person"]}, "'model' not in the data"),
        (None, {"unit": "run_id"}, "'run_id' not in the data"),
        (lambda d: d.assign(person="solo"), {}, "person .* single level .* at least 2"),
        (lambda d: d[d["situation"] == "topology-0"], {}, "situation .* single level"),
        (lambda d: d[d["seed"] == 0], {}, r"has 1 observation\(s\) .* at least 2 replicates"),
        (lambda d: d.assign(run=0), {"unit": "run"}, r"1 distinct 'run' value\(s\)"),
        (lambda d: d.assign(y=d["y"].astype(str)), {}, "must be numeric or boolean"),
        (lambda d: d.assign(y=d["y"].where(d["seed"] > 0)), {}, "missing or infinite"),
        (lambda d: d.assign(person=d["person"].where(d["seed"] > 0)), {}, "missing person"),
        (None, {"method": "bayes"}, "method must be 'anova' or 'mixed'"),
        (None, {"n_boot": -1}, "n_boot must be a non-negative integer"),
        (None, {"level": 95}, "level must lie strictly between 0 and 1"),
        (None, {"situation": "person"}, "used as both person and situation"),
        (None, {"person": []}, "person must be a column name"),
    ],
)
def test_bad_input_raises_one_actionable_line(small, change, kwargs, match):
    data = small if change is None else change(small)
    args = {"outcome": "y", "person": "person", "situation": "situation", "n_boot": 0}
    args.update(kwargs)
    with pytest.raises(ConfigError, match=match) as caught:
        decompose(data, **args)
    assert "\n" not in str(caught.value)


def test_not_a_dataframe_is_a_config_error():
    with pytest.raises(ConfigError, match="pandas DataFrame"):
        decompose({"y": [1, 2]}, "y", "person", "situation")  # type: ignore[arg-type]
