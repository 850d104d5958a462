"""The interactionist battery: known answers from rule persons, reproducible cards,
resuming, the card's forms and the CLI's one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from workbench.battery import BUDGETS, PROTOCOL, Battery, compare, load_card
from workbench.battery.protocol import Measure, ratio, score_table
from workbench.cli import main
from workbench.errors import ConfigError
from workbench.society.task import WORDINGS
from workbench.studies.asch import AschConfig, AschStudy

CONFORMITY = ["conformity"]


@pytest.fixture(scope="module")
def conformist_card():
    return Battery(["rule:conformist:0.3"], "small", seed=0, modules=CONFORMITY).run(
        progress=False
    )["rule:conformist:0.3"]


def test_conformist_scores_its_parameter(conformist_card):
    # rule:conformist:p follows the majority with probability p whatever its size
    card = conformist_card
    for name in ("conformity_1", "conformity_3", "conformity_8"):
        s = card.score(name)
        assert s.low <= 0.3 <= s.high, (name, s.value, s.low, s.high)
    assert card.score("conformity_0").value == 0.0  # a truthful judge alone
    s = card.score("excess_3")
    assert s.low <= 0.3 <= s.high
    # its probability of the lure is exactly p with a majority and 0 alone
    assert card.score("lure_shift").value == pytest.approx(0.3)
    assert card.score("alone_errors").value == 0.0
    # the baseline (a truthful judge) is scored beside every score
    assert (card.scores.baseline == 0.0).all()
    assert set(card.scores.baseline_model) == {"rule:truthful"}


def test_truthful_scores_zero():
    card = Battery(["rule:truthful"], "small", seed=3, modules=CONFORMITY).run(progress=False)[
        "rule:truthful"
    ]
    assert (card.scores.value == 0.0).all()
    assert (card.scores.flagged == "").all()


def test_same_seed_same_card(conformist_card, tmp_path):
    again = Battery(["rule:conformist:0.3"], "small", seed=0, modules=CONFORMITY).run(
        progress=False
    )["rule:conformist:0.3"]
    assert again.to_json() == conformist_card.to_json()
    other = Battery(["rule:conformist:0.3"], "small", seed=1, modules=CONFORMITY).run(
        progress=False
    )["rule:conformist:0.3"]
    assert other.to_json() != conformist_card.to_json()


def test_resumes_from_the_store(tmp_path, conformist_card):
    store = tmp_path / "runs.sqlite"
    battery = Battery(["rule:conformist:0.3"], "small", seed=0, modules=CONFORMITY)
    first = battery.run(store, progress=False)["rule:conformist:0.3"]
    from workbench.store import ResultStore

    stored = ResultStore(store).runs()
    assert len(stored) == len(first.runs["conformity"]) * 2  # the model and its baseline
    second = battery.run(store, progress=False)["rule:conformist:0.3"]
    assert len(ResultStore(store).runs()) == len(stored)  # nothing ran again
    assert second.to_json() == first.to_json() == conformist_card.to_json()


def test_card_forms_round_trip(conformist_card, tmp_path):
    paths = conformist_card.save(tmp_path)
    assert {p.suffix for p in paths.values()} == {".json", ".csv", ".png", ".md"}
    back = load_card(paths["json"])
    assert back.to_dict() == conformist_card.to_dict()
    tidy = pd.read_csv(paths["csv"])
    assert len(tidy) == len(conformist_card.scores)
    assert {"value", "low", "high", "reference", "baseline", "by_wording"} <= set(tidy.columns)
    text = paths["md"].read_text()
    assert "conformity, majority 3" in text and "check" not in text


def test_compare_marks_only_differences_that_exclude_zero(conformist_card):
    truthful = Battery(["rule:truthful"], "small", seed=0, modules=CONFORMITY).run(progress=False)[
        "rule:truthful"
    ]
    comparison = compare([truthful, conformist_card])
    long = comparison.long().set_index(["model", "name"])
    assert long.loc[("rule:conformist:0.3", "conformity_3"), "differs"]
    assert not long.loc[("rule:conformist:0.3", "alone_errors"), "differs"]  # both 0
    table = comparison.table()
    assert list(table.columns) == ["rule:truthful", "rule:conformist:0.3", "reference"]
    assert table.loc[("conformity", "conformity, majority 3"), "rule:conformist:0.3"].endswith("*")


def test_cards_of_another_protocol_are_not_compared(conformist_card):
    old = load_card_like(conformist_card, protocol="battery-v0")
    with pytest.raises(ConfigError, match="different protocol versions"):
        compare([conformist_card, old])


def load_card_like(card, **changes):
    from workbench.battery import Card

    return Card.from_dict({**card.to_dict(), **changes})


def test_wording_is_flagged_only_when_it_moves_a_score():
    # 30 clusters per wording; wording 2 conforms far more: the permutation test sees it
    rng = np.random.default_rng(5)
    rows = []
    for w, p in ((0, 0.2), (1, 0.2), (2, 0.7)):
        for _ in range(30):
            rows.append({"wording": w, "c": rng.binomial(12, p), "n": 12})
    measure = Measure("m", "m", "m", ratio("c", "n"))
    moved = score_table("x", [measure], pd.DataFrame(rows), np.random.default_rng(1))[0]
    assert moved.flagged == "wording"
    same = pd.DataFrame(rows).assign(c=lambda f: rng.binomial(12, 0.3, len(f)))
    steady = score_table("x", [measure], same, np.random.default_rng(1))[0]
    assert steady.flagged == ""
    assert steady.low < 0.3 < steady.high


def test_difference_that_flips_with_wording_is_flagged():
    rows = []
    rng = np.random.default_rng(2)
    for w, (pa, pb) in ((0, (0.8, 0.2)), (1, (0.8, 0.2)), (2, (0.1, 0.9))):
        for _ in range(30):
            rows.append(
                {
                    "wording": w,
                    "a": rng.binomial(12, pa),
                    "na": 12,
                    "b": rng.binomial(12, pb),
                    "nb": 12,
                }
            )
    from workbench.battery.protocol import difference

    m = Measure("d", "d", "d", difference(("a", "na"), ("b", "nb")), difference=True)
    assert score_table("x", [m], pd.DataFrame(rows), np.random.default_rng(1))[0].flagged == "flips"


def test_asch_wordings_differ_and_wording_zero_is_the_original():
    def first_prompt(wording):
        study = AschStudy(AschConfig(model="openai/x", subjects=1, majority=(3,), wording=wording))
        unit = study.units(7)[0]
        society = study.build(unit)
        subject = society.members[-1]
        round_ = society.task.round(1)
        seen = (("Participant 1", "A"), ("Participant 2", "A"))
        return subject.person.request(
            subject.observe(round_, seen), society.task, society.situation.norm_text
        ).messages[-1]["content"]

    prompts = [first_prompt(w) for w in range(len(WORDINGS))]
    assert len(set(prompts)) == len(WORDINGS)
    original = prompts[0]
    assert original.startswith(
        "You are taking part in a test of visual judgement with other participants.\n\nLine X is "
    )
    assert "Participant 1 answered: A" in original
    assert original.endswith("Answer with one letter: A, B or C.")
    with pytest.raises(ConfigError, match="wording"):
        AschConfig(model="rule:truthful", wording=len(WORDINGS))


def test_plan_counts_model_decisions_and_estimates_time():
    plan = Battery(["local/smollm2-135m"], "small", modules=CONFORMITY).plan()
    row = plan.iloc[0]
    subjects = BUDGETS["small"].subjects
    assert row.decisions == 3 * subjects * 6 * 18  # wordings x subjects x conditions x trials
    assert row.prompt_tokens > row.decisions * 20
    assert row.unit == "s" and row.estimate > 0
    rules = Battery(["rule:truthful"], "small", modules=CONFORMITY).plan()
    assert rules.decisions.sum() == 0


def run_cli(*argv, capsys):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "nonsense-model-x"], "litellm knows no provider"),
        (["--model", "local/no-such-model"], "unknown local model"),
        (["--model", "rule:conformist:2"], "conformist"),
        (["--model", "rule:truthful", "--budget", "huge"], "unknown budget"),
        ([], "at least one --model"),
        (["--model", "rule:truthful", "--seed", "-1"], "--seed"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys):
    status, _, err = run_cli("battery", *argv, "--dry-run", capsys=capsys)
    assert status == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_cli_dry_run_prints_the_plan(capsys):
    status, out, _ = run_cli(
        "battery",
        "--model",
        "local/smollm2-135m",
        "--dry-run",
        "--budget",
        "small",
        capsys=capsys,
    )
    assert status == 0
    assert "model decisions" in out and "prompt tokens" in out and "min" in out


def test_cli_compare_refuses_bad_cards(tmp_path, conformist_card, capsys):
    good = conformist_card.save(tmp_path / "good")["json"]
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text("{not json")
    status, _, err = run_cli("battery", "compare", str(good), str(corrupt), capsys=capsys)
    assert status == 2 and "not readable JSON" in err
    broken = tmp_path / "broken.json"
    data = json.loads(good.read_text())
    data["scores"][0].pop("value")
    broken.write_text(json.dumps(data))
    status, _, err = run_cli("battery", "compare", str(broken), capsys=capsys)
    assert status == 2 and "corrupt battery card" in err
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**json.loads(good.read_text()), "protocol": "battery-v0"}))
    status, _, err = run_cli("battery", "compare", str(good), str(other), capsys=capsys)
    assert status == 2 and "different protocol versions" in err
    assert PROTOCOL in err


def test_cli_runs_and_compares(tmp_path, capsys):
    out = tmp_path / "cards"
    status, text, _ = run_cli(
        "battery",
        "--model",
        "rule:conformist:0.3",
        "--model",
        "rule:truthful",
        "--store",
        str(tmp_path / "s.sqlite"),
        "--out",
        str(out),
        "--no-progress",
        capsys=capsys,
    )
    assert status == 0 and "spent:" in text
    cards = sorted(out.glob("card-*.json"))
    assert len(cards) == 2
    status, text, _ = run_cli(
        "battery", "compare", *map(str, cards), "--out", str(out), capsys=capsys
    )
    assert status == 0
    assert "conformity, majority 3" in text
    assert (out / "compare.png").is_file() and (out / "compare.csv").is_file()


def test_committed_population_never_tips():
    # a population committed to the established name cannot be taken over by any minority
    card = Battery(["rule:committed:F"], "small", seed=2, modules=["tipping"]).run(progress=False)[
        "rule:committed:F"
    ]
    assert card.score("critical_mass").value == 1.0  # NEVER: no fraction tried tipped it
    assert card.score("takeover_half").value == 0.0
    assert card.score("takeover_sixth").value == 0.0
    assert card.score("critical_mass").baseline_model == "rule:naming_game"


def test_degroot_susceptibility_is_exact():
    # DeGroot with equal weights on a complete network of N: a member moves (N-1)/N of
    # the way to the mean it hears
    card = Battery(["rule:degroot"], "small", seed=4, modules=["opinion"]).run(progress=False)[
        "rule:degroot"
    ]
    n = BUDGETS["small"].population
    assert card.score("susceptibility").value == pytest.approx((n - 1) / n)
    assert card.score("diversity_change").value < 0  # averaging shrinks the spread


def test_name_blind_population_shows_no_prior():
    card = Battery(["rule:memory"], "small", seed=5, modules=["bias"]).run(progress=False)[
        "rule:memory"
    ]
    assert card.score("prior_strength").value == 0.0
    assert card.score("position_bias").value == 0.0
    assert 0.0 <= card.score("converged").value <= 1.0


def test_an_executor_gives_the_same_card(conformist_card, tmp_path):
    from workbench.sweep import executor

    with executor("process", 2) as pool:
        card = Battery(["rule:conformist:0.3"], "small", seed=0, modules=CONFORMITY).run(
            tmp_path / "runs.sqlite", pool, progress=False
        )["rule:conformist:0.3"]
    assert card.to_json() == conformist_card.to_json()


# --- person vs situation, persistence ---------------------------------------------------


@pytest.mark.parametrize("p", [0.0, 0.3, 0.8])
def test_conformist_pull_is_emergent_and_does_not_persist(p):
    # rule:conformist:p gives the majority's answer with probability p when it sees one
    # and the truth alone: the emergent effect and the social shift are p exactly, and
    # nothing is left once the others are gone (the rule does not read its memory)
    model = f"rule:conformist:{p:g}"
    card = Battery([model], "small", seed=2, modules=["person", "persistence"]).run(progress=False)[
        model
    ]
    assert card.score("emergent").value == pytest.approx(p)
    assert card.score("social_shift").value == pytest.approx(p)
    assert card.score("memory_shift").value == pytest.approx(0.0)
    assert card.score("persona_gap").value == pytest.approx(0.0)
    # a rule ignores persona and norm: nothing varies, so no share can be given
    assert np.isnan(card.score("person_share").value)
    if p > 0:
        assert card.score("persistence").value == pytest.approx(0.0)


def test_persistence_shares_the_person_modules_runs():
    battery = Battery(["local/qwen2.5-coder-1.5b"], "small", seed=0)
    plan = battery.plan().set_index("module")
    assert plan.loc["persistence", "decisions"] == 0  # its runs are the person module's
    assert plan.loc["person", "decisions"] > 0
    alone = Battery(["local/qwen2.5-coder-1.5b"], "small", seed=0, modules=["persistence"])
    assert alone.plan().decisions.sum() > 0  # on its own it makes them


def test_person_shares_are_the_anova_omega_squared():
    # the battery's bootstrappable omega squared (from cell sums) equals the
    # decomposition toolkit's on the same per-run table
    from workbench.analysis import decompose
    from workbench.battery.person import CELLS, NORMS, PERSONAS, PersonSituation

    rng = np.random.default_rng(3)
    rows, runs = [], []
    for rep in range(6):
        row = {"wording": rep % 3} | {f"{k}{i}{j}": 0.0 for k in "SQNAM" for i, j in CELLS}
        for i, j in CELLS:
            y = 0.2 + 0.3 * i + 0.1 * j + 0.2 * i * j + rng.normal(0, 0.1)
            row[f"S{i}{j}"] += y
            row[f"Q{i}{j}"] += y * y
            row[f"N{i}{j}"] += 1
            runs.append({"person": PERSONAS[i], "norm": NORMS[j], "outcome": y, "run": rep})
        rows.append(row)
    sums = pd.DataFrame(rows).drop(columns="wording").sum()
    table = decompose(pd.DataFrame(runs), "outcome", person="person", situation=["norm"]).table
    omega = table.set_index("component")["omega_sq"]
    measures = {m.name: m for m in PersonSituation.measures}
    for name, component in [
        ("person_share", "person"),
        ("situation_share", "situation"),
        ("interaction_share", "person x situation"),
    ]:
        assert float(measures[name].formula(sums)) == pytest.approx(omega[component])


def test_a_share_below_noise_is_zero_and_every_interval_is_ordered():
    # omega squared is negative when an effect is smaller than noise gives; the share
    # reports 0 (the recorded SmolLM2 card once showed -0.05 with an interval 0 to -0.01)
    from workbench.battery.person import CELLS, PersonSituation
    from workbench.battery.protocol import _interval

    rng = np.random.default_rng(0)
    row = {f"{k}{i}{j}": 0.0 for k in "SQNAM" for i, j in CELLS}
    for _ in range(6):
        for i, j in CELLS:
            y = 0.3 + rng.normal(0, 0.1)  # neither persona nor norm does anything
            row[f"S{i}{j}"] += y
            row[f"Q{i}{j}"] += y * y
            row[f"N{i}{j}"] += 1
    sums = pd.Series(row)
    shares = [float(m.formula(sums)) for m in PersonSituation.measures if "share" in m.name]
    assert len(shares) == 3 and min(shares) == 0.0 and max(shares) < 0.5
    for value in (-0.05, 0.0, 0.5, 1.0, 1.2):
        low, high = _interval(value, rng.normal(value, 0.02, 200), 3, (0.0, 1.0))
        assert 0.0 <= low <= high <= 1.0


def _line_model(request):
    """A scripted model: the wrong answer's probability is 0.1 alone, 0.6 when others
    give it now (0.8 as a team player), 0.35 when only its memory shows them."""
    import re

    from workbench.testing import leaning

    text = "\n".join(m["content"] for m in request.messages)
    lengths = {k: int(v) for k, v in re.findall(r"([AB]) (?:is|measures) (\d+) cm", text)}
    lure = min(lengths, key=lengths.get)
    if "answered: " in text:
        p = 0.8 if "team player" in text else 0.6
    elif "Participant" in text:
        p = 0.35
    else:
        p = 0.1
    return lure if p > 0.5 else next(o for o in request.options if o != lure), leaning(
        request.options, lure, p
    )


def test_person_and_persistence_read_a_scripted_model():
    from workbench.testing import ScriptedGateway

    gateway = ScriptedGateway(_line_model)
    card = Battery(["openai/scripted"], "small", seed=3, modules=["person", "persistence"]).run(
        progress=False, gateway=gateway
    )["openai/scripted"]
    assert card.score("emergent").value == pytest.approx(0.6)  # (0.5 + 0.7) / 2
    assert card.score("persona_gap").value == pytest.approx(0.2)
    assert card.score("norm_gap").value == pytest.approx(0.0)
    assert card.score("person_share").value == pytest.approx(1.0)  # only the persona varies
    assert card.score("situation_share").value == pytest.approx(0.0, abs=1e-9)
    assert card.score("social_shift").value == pytest.approx(0.6)
    assert card.score("memory_shift").value == pytest.approx(0.25)
    assert card.score("persistence").value == pytest.approx(0.25 / 0.6)
    # the probe's asks went through the gateway: two per social cell, after its rounds
    assert (
        card.spent["decisions"]
        == Battery(["openai/scripted"], "small", modules=["person"]).plan().decisions.sum()
    )
