"""Information measures: known answers, a cross-check against infomeasure, and errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from workbench.analysis.information import (
    InfoResult,
    collective_entropy,
    entropy,
    group_transfer_entropy,
    majority_state,
    mutual_information,
    mutual_information_table,
    transfer_entropy,
    transfer_entropy_matrix,
)
from workbench.errors import ConfigError


def h2(q: float) -> float:
    """Binary entropy in bits."""
    return -q * math.log2(q) - (1 - q) * math.log2(1 - q)


def noisy_copy(n: int, q: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform binary source; target[t+1] = source[t], flipped with probability q."""
    rng = np.random.default_rng(seed)
    source = rng.integers(0, 2, n)
    flips = rng.random(n) < q
    target = np.empty(n, dtype=np.int64)
    target[0] = rng.integers(0, 2)
    target[1:] = source[:-1] ^ flips[1:]
    return source, target


@pytest.fixture(scope="module")
def im():
    return pytest.importorskip("infomeasure")


# -- entropy ------------------------------------------------------------------------------


def test_entropy_of_uniform_over_four_is_two_bits():
    assert entropy(["a", "b", "c", "d"] * 5) == pytest.approx(2.0, abs=1e-12)
    assert entropy([0, 1, 2, 3], base=math.e) == pytest.approx(math.log(4), abs=1e-12)
    assert entropy([(0, 1), (1, 0), (0, 1), (1, 0)]) == pytest.approx(1.0)  # tuple labels
    assert entropy(["x"] * 7) == 0.0


def test_miller_madow_adds_k_minus_one_over_two_n():
    states = [0, 0, 1, 2, 2, 2]
    expected = entropy(states) + (3 - 1) / (2 * 6) / math.log(2)
    assert entropy(states, correction="miller_madow") == pytest.approx(expected, abs=1e-12)


def test_entropy_matches_infomeasure(im):
    x = np.random.default_rng(1).integers(0, 5, 300)
    for base in (2, 10):
        assert entropy(x, base=base) == pytest.approx(
            im.entropy(x, approach="discrete", base=base), abs=1e-9
        )
        assert entropy(x, base=base, correction="miller_madow") == pytest.approx(
            im.entropy(x, approach="miller_madow", base=base), abs=1e-9
        )


# -- collective entropy ---------------------------------------------------------------------


def test_collective_entropy_on_a_hand_made_frame():
    frame = pd.DataFrame(
        {
            "round": [2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1, 3, 3],
            "pick": list("AAAA") + list("ABCD") + list("AABB") + list("AB"),
        }
    )
    out = collective_entropy(frame, step="round", choice="pick")
    assert list(out.columns) == ["round", "entropy", "n"]
    assert out["round"].tolist() == [0, 1, 2, 3]
    assert out["entropy"].tolist() == pytest.approx([2.0, 1.0, 0.0, 1.0], abs=1e-12)
    assert out["n"].tolist() == [4, 4, 4, 2]

    mm = collective_entropy(frame, step="round", choice="pick", correction="miller_madow")
    for step, group in frame.groupby("round"):
        expected = entropy(group["pick"], correction="miller_madow")
        assert mm.set_index("round").loc[step, "entropy"] == pytest.approx(expected)


# -- mutual information ---------------------------------------------------------------------


def test_mutual_information_of_identical_samples_is_their_entropy():
    x = np.random.default_rng(2).integers(0, 4, 1000)
    result = mutual_information(x, x)
    assert isinstance(result, InfoResult)
    assert result.value == pytest.approx(entropy(x), abs=1e-12)
    assert result.n == 1000 and result.p_value is None and result.null_mean is None


def test_mutual_information_of_independent_samples_is_near_zero_and_not_significant():
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 3, 5000), rng.integers(0, 3, 5000)
    result = mutual_information(x, y, permutations=199, seed=4)
    assert result.value < 0.005
    assert result.p_value > 0.05
    assert result.null_mean == pytest.approx(result.value, abs=0.005)


def test_miller_madow_reduces_the_positive_bias_of_mutual_information():
    rng = np.random.default_rng(5)
    plugin, corrected = [], []
    for _ in range(300):
        res = mutual_information(rng.integers(0, 4, 200), rng.integers(0, 4, 200))
        plugin.append(res.plugin)
        corrected.append(res.bias_corrected)
    bias_plugin, bias_mm = np.mean(plugin), np.mean(corrected)  # true MI is 0
    assert bias_plugin == pytest.approx(9 / (2 * 200 * math.log(2)), rel=0.25)
    assert abs(bias_mm) < bias_plugin / 5


def test_mutual_information_matches_infomeasure(im):
    rng = np.random.default_rng(6)
    x = rng.integers(0, 4, 400)
    y = (x + rng.integers(0, 3, 400)) % 5
    for base in (2, 10):
        assert mutual_information(x, y, base=base).value == pytest.approx(
            im.mutual_information(x, y, approach="discrete", base=base), abs=1e-9
        )
        mm = mutual_information(x, y, base=base, correction="miller_madow")
        assert mm.value == mm.bias_corrected
        assert mm.value == pytest.approx(
            im.mutual_information(x, y, approach="miller_madow", base=base), abs=1e-9
        )


def test_permutation_p_value_is_seeded_and_significant_for_dependence():
    rng = np.random.default_rng(7)
    x = rng.integers(0, 2, 500)
    y = np.where(rng.random(500) < 0.2, 1 - x, x)
    a = mutual_information(x, y, permutations=99, seed=11)
    b = mutual_information(x, y, permutations=99, seed=np.random.default_rng(11))
    assert a == b
    assert a.p_value == pytest.approx(1 / 100)  # nothing in the null reaches the observed


def test_cluster_permutation_respects_repeated_decisions():
    # Persona has no effect: each member sticks to its own choice, drawn without regard
    # to persona. Row shuffling mistakes the member effect for a persona effect.
    members = ["a1", "a2", "a3", "b1", "b2", "b3"]
    persona = dict(a1="a", a2="a", a3="a", b1="b", b2="b", b3="b")
    choice = dict(a1=0, a2=0, a3=1, b1=0, b2=1, b3=1)
    df = pd.DataFrame({"member": np.repeat(members, 50)})
    df["persona"] = df["member"].map(persona)
    df["choice"] = df["member"].map(choice)
    rows = mutual_information(df["persona"], df["choice"], permutations=199, seed=1)
    clusters = mutual_information(
        df["persona"], df["choice"], permutations=199, seed=1, clusters=df["member"]
    )
    assert rows.value == pytest.approx(1 - h2(1 / 3))
    assert rows.p_value < 0.01
    assert clusters.p_value > 0.5


def test_mutual_information_table():
    rng = np.random.default_rng(8)
    n = 600
    df = pd.DataFrame(
        {
            "persona": rng.choice(["bold", "shy", "calm"], n),
            "model": rng.choice(["m1", "m2"], n),
        }
    )
    df["choice"] = df["persona"].map({"bold": "A", "shy": "B", "calm": "B"})
    out = mutual_information_table(
        df, ["persona", "model", ("model", "persona")], "choice", permutations=99, seed=3
    )
    assert out["attribute"].tolist() == ["persona", "model", "model x persona"]
    assert {"mi", "plugin", "bias_corrected", "share", "p_value", "q_value", "n"} <= set(
        out.columns
    )
    persona, model, both = out.to_dict("records")
    assert persona["mi"] == pytest.approx(entropy(df["choice"]))
    assert persona["share"] == pytest.approx(1.0)
    assert both["mi"] == pytest.approx(persona["mi"])
    assert model["mi"] < 0.01 and model["p_value"] > 0.05
    assert persona["p_value"] < 0.05 and persona["q_value"] >= persona["p_value"]


# -- transfer entropy -----------------------------------------------------------------------


@pytest.mark.parametrize(("k", "l"), [(1, 1), (2, 1), (1, 2), (3, 2)])
def test_transfer_entropy_matches_infomeasure(im, k, l):  # noqa: E741
    rng = np.random.default_rng(9)
    source = rng.integers(0, 3, 600)
    target = np.where(rng.random(600) < 0.5, np.roll(source, 1), rng.integers(0, 3, 600))
    ours = transfer_entropy(source, target, history=k, source_history=l)
    theirs = im.transfer_entropy(
        source, target, approach="discrete", base=2, dest_hist_len=k, src_hist_len=l
    )
    assert ours.value == pytest.approx(theirs, abs=1e-9)
    assert ours.n == 600 - max(k, l)
    mm = transfer_entropy(source, target, history=k, source_history=l, correction="miller_madow")
    theirs_mm = im.transfer_entropy(
        source, target, approach="miller_madow", base=2, dest_hist_len=k, src_hist_len=l
    )
    assert mm.value == pytest.approx(theirs_mm, abs=1e-9)


def test_transfer_entropy_of_independent_series_is_near_zero_and_not_significant():
    rng = np.random.default_rng(10)
    source, target = rng.integers(0, 2, 3000), rng.integers(0, 2, 3000)
    for surrogate in ("shuffle", "circular"):
        result = transfer_entropy(source, target, permutations=99, seed=2, surrogate=surrogate)
        assert result.value < 0.005
        assert result.p_value > 0.05
    assert abs(transfer_entropy(source, target, correction="miller_madow").value) < 0.002


@pytest.mark.parametrize("q", [0.1, 0.25])
def test_transfer_entropy_of_a_noisy_copy_is_one_minus_h2(q):
    source, target = noisy_copy(20000, q, seed=12)
    result = transfer_entropy(source, target, permutations=199, seed=13)
    assert result.value == pytest.approx(1 - h2(q), abs=0.02)
    assert result.p_value < 0.01
    assert result.null_mean < 0.001
    # Longer histories add nothing: the target's past and the older source are noise.
    longer = transfer_entropy(source, target, history=2, correction="miller_madow")
    assert longer.value == pytest.approx(1 - h2(q), abs=0.02)
    # No information flows back from target to source.
    assert transfer_entropy(target, source).value < 0.005


def test_transfer_entropy_of_a_deterministic_copy_is_the_source_entropy():
    source = np.random.default_rng(14).integers(0, 2, 5000)
    target = np.concatenate([[0], source[:-1]])
    result = transfer_entropy(source, target, permutations=49, seed=1, surrogate="circular")
    assert result.value == pytest.approx(1.0, abs=0.01)
    assert result.value == pytest.approx(entropy(source), abs=0.005)
    assert result.p_value == pytest.approx(1 / 50)


def test_transfer_entropy_accepts_labels_and_is_reproducible():
    source, target = noisy_copy(400, 0.2, seed=15)
    labels = np.array(["left", "right"], dtype=object)
    a = transfer_entropy(
        labels[source].tolist(), pd.Series(labels[target]), permutations=20, seed=5
    )
    b = transfer_entropy(source, target, permutations=20, seed=5)
    assert a == b


def test_transfer_entropy_matrix_finds_the_driver():
    rng = np.random.default_rng(16)
    n = 800
    a = rng.integers(0, 3, n)
    b = np.concatenate([[0], a[:-1]])
    b = np.where(rng.random(n) < 0.1, rng.integers(0, 3, n), b)
    c = rng.integers(0, 3, n)
    series = pd.DataFrame({"a": a, "b": b, "c": c}, index=pd.RangeIndex(n, name="step"))
    out = transfer_entropy_matrix(series.iloc[::-1], permutations=49, seed=1)  # sorts steps
    assert len(out) == 6
    assert list(out.columns) == [
        "source", "target", "te", "plugin", "bias_corrected",
        "p_value", "q_value", "null_mean", "null_sd", "n",
    ]  # fmt: skip
    table = out.set_index(["source", "target"])
    assert table.loc[("a", "b"), "te"] > 1.0
    assert table.loc[("a", "b"), "p_value"] == pytest.approx(1 / 50)
    others = table.drop(index=("a", "b"))
    assert (others["te"] < 0.02).all()
    assert table.loc[("a", "b"), "te"] == pytest.approx(transfer_entropy(a, b).value)


def test_group_transfer_entropy_between_communities():
    rng = np.random.default_rng(17)
    n = 600
    leaders = {f"l{i}": rng.integers(0, 2, n) for i in range(3)}
    majority = (sum(leaders.values()) >= 2).astype(int)
    followers = {f"f{i}": np.where(rng.random(n) < 0.05, 1 - majority, majority) for i in range(3)}
    followers = {m: np.concatenate([[0], s[:-1]]) for m, s in followers.items()}
    series = pd.DataFrame({**leaders, **followers})
    groups = {m: "leaders" for m in leaders} | {m: "followers" for m in followers}
    out = group_transfer_entropy(series, groups, permutations=49, seed=3).set_index(
        ["source", "target"]
    )
    assert out.loc[("leaders", "followers"), "te"] > 0.5
    assert out.loc[("leaders", "followers"), "p_value"] < 0.05
    assert out.loc[("followers", "leaders"), "te"] < 0.02


def test_majority_state_keeps_ties_as_their_own_state():
    assert majority_state(pd.Series(["A", "B", "A"])) == "A"
    assert majority_state(pd.Series(["A", "B", "B", "A"])) == frozenset({"A", "B"})


# -- errors ---------------------------------------------------------------------------------

SERIES = pd.DataFrame({"a": [0, 1, 0, 1], "b": [1, 0, 1, 0]})


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: entropy([]), "empty"),
        (lambda: entropy([1, None, 2]), "missing"),
        (lambda: entropy(np.zeros((2, 2))), "one-dimensional"),
        (lambda: entropy([1, 2], base=1), "base"),
        (lambda: entropy([1, 2], correction="jackknife"), "correction"),
        (lambda: mutual_information([1, 2, 3], [1, 2]), "different lengths"),
        (lambda: mutual_information([1, 2], [1, 2], permutations=-1), "permutations"),
        (lambda: mutual_information([1, 2], [1, 2], clusters=[0, 0]), "varies within"),
        (lambda: transfer_entropy([0, 1, 0], [0, 1]), "different lengths"),
        (lambda: transfer_entropy([], []), "empty"),
        (lambda: transfer_entropy([0, 1, 0, 1], [1, 0, 1, 0], history=0), "history"),
        (lambda: transfer_entropy([0, 1, 0, 1], [0, 1, 0, 1], source_history=0), "history"),
        (lambda: transfer_entropy([0, 1, 0], [1, 0, 1], history=2), "at least 4"),
        (
            lambda: transfer_entropy([0, 1, 0], [1, 0, 1], permutations=5, surrogate="circular"),
            "circular",
        ),
        (lambda: transfer_entropy([0, 1] * 3, [1, 0] * 3, surrogate="blocks"), "surrogate"),
        (lambda: collective_entropy(pd.DataFrame({"step": [0]}), choice="pick"), "'pick'"),
        (lambda: collective_entropy(pd.DataFrame({"step": [0], "choice": [None]})), "dropna"),
        (lambda: mutual_information_table(SERIES, [], "a"), "attributes"),
        (lambda: mutual_information_table(SERIES, ["x"], "a"), "'x'"),
        (lambda: transfer_entropy_matrix(SERIES[["a"]]), "two columns"),
        (lambda: transfer_entropy_matrix(SERIES.astype(float).where(SERIES > 0)), "ffill"),
        (lambda: transfer_entropy_matrix(SERIES, history=3), "at least 5"),
        (lambda: group_transfer_entropy(SERIES, {"a": 1, "z": 2}), "'z'"),
        (lambda: group_transfer_entropy(SERIES, {"a": 1, "b": 1}), "two communities"),
    ],
)
def test_bad_input_raises_one_actionable_line(call, fragment):
    with pytest.raises(ConfigError) as info:
        call()
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message
