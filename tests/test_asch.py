"""The Asch study: stimuli, design, known answers of rule subjects, reproducibility."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from support.invalid import spoil
from support.scripted import ScriptedGateway, always, one_hot

from workbench.errors import ConfigError
from workbench.llm import DEFAULT_MODEL, Gateway, GatewayConfig
from workbench.society.checks import invalid_share
from workbench.studies import check_study, get_study
from workbench.studies.asch import NEUTRAL_TRIALS, TRIALS, AschConfig, AschStudy, line_judgement

RULE = dict(subjects=3, majority=(0, 1, 3), ally=(3,))


def run(model, **kwargs):
    return AschStudy(AschConfig(model=model, **{**RULE, **kwargs}), seed=4).run()


def test_asch_passes_the_study_conformance_check():
    check_study(AschStudy(AschConfig(model="rule:conformist:0.4", **RULE), seed=9))


def test_stimuli_have_one_matching_line_and_two_clearly_different():
    task = line_judgement(np.random.default_rng(0))
    assert len(task) == TRIALS == 18
    assert sum(r.info["critical"] for r in task.rounds) == 12
    for r in task.rounds:
        lengths = dict(zip(r.options, r.info["lengths"], strict=True))
        standard = r.info["standard"]
        assert lengths[r.correct] == standard
        others = [x for o, x in lengths.items() if o != r.correct]
        assert all(abs(x - standard) >= max(0.75, 0.15 * standard) for x in others)
        assert abs(others[0] - others[1]) >= 0.75
        assert (r.planted is None) == (r.info["trial"] in NEUTRAL_TRIALS)
        assert r.planted != r.correct
        assert f"{standard:.2f} inches" in r.question


def test_truthful_subject_never_conforms():
    summary = run("rule:truthful").summary
    assert (summary.conformity == 0).all() and (summary.never == 1).all()
    assert (summary.error_rate == 0).all()


def test_always_majority_subject_always_conforms_on_critical_trials():
    summary = run("rule:majority").summary.set_index(["majority", "ally"])
    assert summary.loc[(0, False), "conformity"] == 0  # alone: nobody to follow
    for key in [(1, False), (3, False), (3, True)]:
        assert summary.loc[key, "conformity"] == 1
        assert summary.loc[key, "at_least_once"] == 1
        assert summary.loc[key, "neutral_error_rate"] == 0


def test_design_subject_last_sees_confederates_and_ally_answers_fourth():
    study = AschStudy(AschConfig(model="rule:truthful", subjects=1, majority=(), ally=(5,)))
    society = study.build(study.units(1)[0])
    assert [m.role for m in society.order] == [
        "confederate",
        "confederate",
        "confederate",
        "ally",
        "confederate",
        "confederate",
        "subject",
    ]
    rows = society.run(3)
    subject = rows[rows.role == "subject"]
    critical = subject[subject.critical].iloc[0]
    assert critical.saw.count("Participant") == 6
    assert critical.saw.count(f": {critical.planted}") == 5


def test_same_seed_same_tables_different_seed_differs():
    a, b = run("rule:conformist:0.5"), run("rule:conformist:0.5")
    pd.testing.assert_frame_equal(a.summary, b.summary)
    c = AschStudy(AschConfig(model="rule:conformist:0.5", **RULE), seed=5).run()
    assert not a.summary.conformity.equals(c.summary.conformity)


def test_summary_has_asch_numbers_beside_ours_and_a_plot():
    study = AschStudy(
        AschConfig(model="rule:conformist:0.3", subjects=2, majority=(1, 8), ally=(3,)), seed=1
    )
    result = study.run()
    summary = result.summary.set_index(["majority", "ally"])
    assert summary.loc[(1, False), "asch"] == pytest.approx(0.028)
    assert summary.loc[(8, False), "asch_at_least_once"] == 0.75
    assert "secondary" in summary.loc[(1, False), "asch_source"]
    assert summary.loc[(3, True), "asch"] == pytest.approx(0.065)
    assert {"95% CI", "Asch %", "conformity %"} <= set(study.table(result.summary))
    assert study.plot(result).axes[0].get_ylabel().startswith("conformity")
    assert result.metadata["versions"]["mesa"].startswith("3.3")


def test_conditions_cover_norms_personas_and_allies():
    config = AschConfig(
        model="rule:truthful",
        majority=(0, 2),
        ally=(2,),
        norms=("public", "private"),
        personas=("none", "team_player"),
    )
    assert len(config.conditions()) == 2 * 2 * 3
    assert get_study("asch") is AschStudy


@pytest.mark.parametrize(
    "bad",
    [
        dict(subjects=0),
        dict(majority=(-1,)),
        dict(ally=(0,)),
        dict(norms=("vibes",)),
        dict(personas=("wizard",)),
        dict(topology="cube"),
        dict(model="rule:nope"),
        dict(majority=(), ally=()),
        dict(exchange="all"),
        dict(topology="ring"),
    ],
)
def test_bad_config_is_a_one_line_config_error(bad):
    with pytest.raises(ConfigError) as info:
        AschConfig(**{"model": "rule:truthful", **bad})
    assert "\n" not in str(info.value)


def test_real_embedded_model_answers_a_few_trials():
    """A few real calls to the embedded default model (fetched on first use)."""
    study = AschStudy(AschConfig(model=DEFAULT_MODEL, subjects=1, majority=(2,), ally=()), seed=3)
    with Gateway(GatewayConfig(concurrency=2)) as gateway:
        society = study.build(study.units(3)[0], gateway)
        rows = society.run(3)
    subject = rows[rows.role == "subject"]
    assert len(subject) == 3 and subject.valid.all()
    assert set(subject.method) == {"logprobs"}
    assert all(abs(sum(p) - 1) < 1e-6 for p in subject.probabilities)
    assert gateway.accounting.totals()["calls"] == 3


# -- invalid answers ----------------------------------------------------------------------

RATES = [
    "answers",
    "conformity",
    "ci_low",
    "ci_high",
    "at_least_once",
    "never",
    "error_rate",
    "neutral_error_rate",
    "p_lure",
]
KEYS = ["norm", "persona", "majority", "ally"]


def test_invalid_answers_are_left_out_of_every_rate_and_counted():
    study = AschStudy(AschConfig(model="rule:conformist:0.4", **RULE), seed=4)
    result = study.run()
    d = result.decisions
    subject = d.role == "subject"
    rows = subject & (np.random.default_rng(0).random(len(d)) < 0.3)
    # subject 0 under three confederates loses every critical answer: it is no subject
    # who "never conformed", it is left out of at_least_once and never
    rows |= subject & (d.majority == 3) & ~d.ally & (d.subject == 0) & d.critical
    bad = spoil(d, rows, also=("correct",), probabilities=True)
    summary = study.summarize(bad, result.seed)
    alone = study.summarize(bad[bad.valid.astype(bool)], result.seed)
    pd.testing.assert_frame_equal(summary[RATES], alone[RATES])
    expected = rows.groupby([d[k] for k in KEYS], sort=False).sum().to_numpy()
    assert summary.invalid.tolist() == expected.tolist() and expected.min() > 0
    assert (alone.invalid == 0).all()
    # by hand for the majority-3 condition: shares over the 2 subjects left
    cond = bad[subject & (bad.majority == 3) & ~bad.ally & bad.critical & bad.valid]
    conformed = (cond.choice == cond.planted).groupby(cond.subject).sum()
    row = summary.set_index(["majority", "ally"]).loc[(3, False)]
    assert len(conformed) == RULE["subjects"] - 1
    assert row.at_least_once == pytest.approx((conformed > 0).mean())
    assert row.never == pytest.approx((conformed == 0).mean())
    assert row.conformity == pytest.approx(conformed.sum() / len(cond))


def unit_decisions(study, gateway, seed=2):
    """Every unit's decisions, as a run gathers them (without its check on invalid answers)."""
    units = study.units(seed)
    return pd.concat([study._run_unit(u, gateway, "test") for u in units], ignore_index=True)


def test_a_subject_whose_every_answer_is_invalid_is_no_subject_who_never_conformed():
    study = AschStudy(AschConfig(model="fake/model", **RULE))
    summary = study.summarize(unit_decisions(study, always(None)), 2)
    assert summary.invalid.tolist() == [RULE["subjects"] * TRIALS] * len(summary)
    for column in RATES[1:]:
        assert summary[column].isna().all(), column
    assert (summary.answers == 0).all()
    table = study.table(summary)
    assert (table["never %"] == "").all() and (table[">=1 %"] == "").all()
    assert (table["conformity %"] == "").all() and (table.invalid == 3 * TRIALS).all()


def test_invalid_share_counts_only_llm_decisions():
    gateway = ScriptedGateway(
        lambda r: (None, ()) if int(r.hash[:8], 16) % 3 == 0 else ("A", one_hot(r.options, "A"))
    )
    study = AschStudy(AschConfig(model="fake/model", **RULE))
    decisions = unit_decisions(study, gateway)
    subject = decisions.role == "subject"  # the confederates and the ally are rules
    invalid, asked = invalid_share(decisions)
    assert asked == subject.sum() == len(gateway.requests)
    assert invalid == (subject & ~decisions.valid.astype(bool)).sum() > 0
    assert invalid_share(decisions[~subject]) == (0, 0)  # rule decisions never count
    assert invalid_share(pd.DataFrame()) == (0, 0)
    assert invalid_share(decisions.drop(columns="method")) == (0, 0)
    assert invalid_share(decisions.drop(columns="valid")) == (0, 0)
    assert invalid_share(study.run(gateway=always("A")).decisions)[0] == 0
