"""Committed minorities: establishment, replacement, takeover, critical mass."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from support.scripted import ScriptedGateway, always, one_hot

from workbench.errors import ConfigError
from workbench.studies import STUDIES, check_study, get_study
from workbench.studies.minority import (
    MinorityConfig,
    MinorityStudy,
    critical_mass,
    minority_timeline,
)

NG = ("rule:naming_game",)


def echo(request):
    """An 'LLM' that repeats the name its latest partner picked (F when it has none)."""
    lines = [x for x in request.messages[-1]["content"].splitlines() if "partner picked" in x]
    name = lines[-1].split("partner picked ")[1][0] if lines else "F"
    return name, one_hot(request.options, name)


def test_study_registered_and_passes_the_conformance_check():
    assert get_study("minority") is MinorityStudy and "minority" in STUDIES
    cfg = MinorityConfig(
        populations=("rule:naming_game", "rule:memory"),
        members=12,
        committed=(0.0, 0.25),
        runs=2,
        horizon=6,
    )
    check_study(MinorityStudy(cfg, seed=4))


def test_establishment_then_committed_members_always_give_the_alternative():
    cfg = MinorityConfig(populations=NG, members=20, committed=(0.1, 0.3), runs=1, horizon=5)
    study = MinorityStudy(cfg, seed=1)
    result = study.run()
    df = result.decisions
    established = df[df.phase == "establish"]
    assert (established.choice == "F").all() and (established.role == "establishing").all()
    assert established.step.max() == cfg.establish
    after = df[df.phase == "minority"]
    for p, m in ((0.1, 2), (0.3, 6)):
        rows = after[after.committed == p]
        committed = rows[rows.role == "committed"]
        assert committed.member.nunique() == m and (committed.choice == "J").all()
        assert (rows[rows.role == "member"].model == "rule:naming_game").all()
    # the same run draws the same order of members: the larger minority holds the smaller
    small = set(after[(after.committed == 0.1) & (after.role == "committed")].member)
    large = set(after[(after.committed == 0.3) & (after.role == "committed")].member)
    assert small < large


def test_no_minority_no_takeover_large_minority_takes_over():
    cfg = MinorityConfig(populations=NG, members=24, committed=(0.0, 0.4), runs=3, horizon=30)
    summary = MinorityStudy(cfg, seed=2).run().summary.set_index("committed")
    assert summary.loc[0.0, "takeovers"] == 0 and summary.loc[0.0, "alt_share"] == 0
    assert summary.loc[0.4, "takeovers"] == 3 and summary.loc[0.4, "alt_share"] == 1.0
    assert summary.loc[0.4, "rounds"] < 10
    assert (summary.centola_2018 == 0.25).all() and (summary.xie_2011 == 0.10).all()


def test_naming_game_critical_mass_is_near_xie_et_al():
    # Xie et al. 2011: about 10% for the binary-agreement naming game (large N). With
    # N=24, 8 runs and 30 rounds the estimate lands within a few members of it.
    cfg = MinorityConfig(
        populations=NG, members=24, committed=(0.0, 0.05, 0.1, 0.15, 0.2, 0.3), runs=8, horizon=30
    )
    study = MinorityStudy(cfg, seed=2011)
    result = study.run()
    summary = result.summary
    assert summary.p_takeover.is_monotonic_increasing
    mass = summary.critical_mass.iloc[0]
    assert 0.05 <= mass <= 0.2, mass
    table = study.table(summary)
    assert "critical mass" in table and table["critical mass"].iloc[0] == f"{100 * mass:.0f}%"
    assert len(study.plot(result).axes) == 2


def test_llm_members_remember_the_scripted_convention():
    cfg = MinorityConfig(
        populations=("fake/model",),
        members=8,
        committed=(0.5,),
        runs=1,
        horizon=3,
        memory=3,
        establish=3,
    )
    gateway = ScriptedGateway(echo)
    result = MinorityStudy(cfg, seed=3).run(gateway)
    first = gateway.requests[0].messages[-1]["content"]
    assert first.count("your partner picked F (+100 points)") == 3
    lines = minority_timeline(result.decisions)
    assert lines.alt_share.iloc[-1] > 0.5  # echoing the committed J members
    assert result.summary.takeovers.iloc[0] == 1


def test_critical_mass_interpolates_the_first_crossing():
    x = np.array([0.0, 0.1, 0.2, 0.3])
    assert critical_mass(x, np.array([0, 0.25, 0.75, 1])) == pytest.approx(0.15)
    assert critical_mass(x, np.array([0.6, 1, 1, 1])) == 0.0
    assert np.isnan(critical_mass(x, np.array([0, 0, 0.2, 0.4])))
    assert critical_mass(x[::-1], np.array([1, 0.75, 0.25, 0])) == pytest.approx(0.15)


def test_config_validation():
    with pytest.raises(ConfigError, match="establish"):
        MinorityConfig(populations=NG, memory=8, establish=5)
    with pytest.raises(ConfigError, match="convention"):
        MinorityConfig(populations=NG, convention=("Q",))
    with pytest.raises(ConfigError, match="committed fractions"):
        MinorityConfig(populations=NG, committed=(1.2,))
    cfg = MinorityConfig(populations="rule:memory", committed="0,0.25", convention="F,J", names=2)
    assert cfg.committed == (0.0, 0.25) and [cfg.alternative(c) for c in "FJ"] == ["J", "F"]
    assert [c["committed_members"] for c in cfg.conditions()] == [0, 6, 0, 6]


def test_same_seed_same_tables():
    cfg = MinorityConfig(populations=NG, members=12, committed=(0.0, 0.3), runs=2, horizon=8)
    a, b = MinorityStudy(cfg, seed=5).run(), MinorityStudy(cfg, seed=5).run()
    pd.testing.assert_frame_equal(a.summary, b.summary)


# -- invalid answers ----------------------------------------------------------------------


def unit_decisions(study, gateway=None, seed=2):
    """Every unit's decisions, as a run gathers them (without its check on invalid answers)."""
    units = study.units(seed)
    return pd.concat([study._run_unit(u, gateway, "test") for u in units], ignore_index=True)


LLM = dict(populations=("fake/model",), members=8, runs=2, horizon=4, memory=3, establish=3)


def test_members_whose_answers_are_all_invalid_are_not_still_on_the_convention():
    cfg = MinorityConfig(committed=(0.0, 0.25, 0.5), **LLM)
    study = MinorityStudy(cfg)
    decisions = unit_decisions(study, always(None))
    after = decisions[decisions.phase == "minority"]
    invalid = (~after.valid.astype(bool)).sum()
    assert invalid == (after.role == "member").sum() > 0
    lines = minority_timeline(decisions)
    assert lines.alt_share.isna().all()
    assert lines[lines.committed == 0].success.isna().all()  # only committed pairs succeed
    runs = study.run_outcomes(decisions)
    assert not runs.measured.any() and not runs.takeover.any()
    summary = study.summarize(decisions, 2)
    assert summary.p_takeover.isna().all() and summary.alt_share.isna().all()
    assert (summary.measured == 0).all() and (summary.takeovers == 0).all()
    assert summary.invalid.sum() == invalid and summary.critical_mass.isna().all()
    table = study.table(summary)
    assert (table.takeover == "0/0").all() and (table["alt share %"] == "").all()
    assert table.invalid.tolist() == summary.invalid.tolist()


def test_the_alternative_share_is_over_the_members_whose_answers_could_be_read():
    # uncommitted members answer J (the alternative) when readable; a third are not
    gateway = ScriptedGateway(
        lambda r: (None, ()) if int(r.hash[:8], 16) % 3 == 0 else ("J", one_hot(r.options, "J"))
    )
    cfg = MinorityConfig(committed=(0.25,), **LLM)
    study = MinorityStudy(cfg)
    decisions = unit_decisions(study, gateway)
    after = decisions[(decisions.phase == "minority") & (decisions.role == "member")]
    assert 0.1 < (~after.valid.astype(bool)).mean() < 0.6
    lines = minority_timeline(decisions)
    assert (lines.alt_share.dropna() == 1).all()  # not diluted by the unreadable ones
    summary = study.summarize(decisions, 2).iloc[0]
    assert summary.p_takeover == 1 and summary.alt_share == 1 and summary.measured == 2
    assert summary.invalid == (~after.valid.astype(bool)).sum()


def test_critical_mass_skips_fractions_with_no_measured_run():
    x = np.array([0.0, 0.1, 0.2, 0.3])
    assert critical_mass(x, np.array([0, np.nan, 0.75, 1])) == pytest.approx(0.0 + 0.5 / 0.75 * 0.2)
    assert np.isnan(critical_mass(x, np.full(4, np.nan)))
