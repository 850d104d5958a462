"""Progress of a study run: counted in decisions, reported after every round."""

from __future__ import annotations

from workbench.studies import RoundEvent
from workbench.studies.asch import AschConfig, AschStudy
from workbench.testing import always


def test_on_round_is_called_after_every_round_with_decision_counts():
    study = AschStudy(AschConfig(model="rule:conformist:0.3", subjects=2), seed=1)
    events: list[RoundEvent] = []
    result = study.run(on_round=events.append)
    units = study.units(1)
    rounds = {u.index: 0 for u in units}
    for event in events:
        rounds[event.unit.index] += 1
        assert event.round == rounds[event.unit.index]  # every round, in order
        assert 0 < event.decisions_done <= event.decisions_planned or event.units_done < 6
        assert event.units == len(units)
        rows = event.new_rows()
        assert len(rows) >= 1 and (rows.step == event.round).all()
    assert set(rounds.values()) == {18}  # every unit played 18 rounds, each reported
    done = [e.decisions_done for e in events]
    assert done == sorted(done) and done[-1] == len(result.decisions)  # rule-only: all rows
    assert events[-1].decisions_planned == len(result.decisions)  # exact at the end
    assert "majority=3" in events[-1].label and events[-1].eta == 0


def test_a_model_study_counts_only_the_model_decisions():
    config = AschConfig(model="scripted", subjects=1, majority=(0, 3), ally=())
    study = AschStudy(config, seed=2)
    events: list[RoundEvent] = []
    result = study.run(always("A"), on_round=events.append)
    asked = int((result.decisions.role == "subject").sum())
    assert asked < len(result.decisions)  # the confederates decided too
    first = events[0]
    assert first.decisions_done == 1 and first.decisions_planned == asked  # members x rounds
    assert events[-1].decisions_done == events[-1].decisions_planned == asked
