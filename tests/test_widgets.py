"""The Explorer panel, headless: set widgets, click Run, check what was built and shown."""

from __future__ import annotations

import argparse
import html
import json
import shlex
import threading
from pathlib import Path

import networkx as nx
import pytest

from workbench.commands.run import add_config_arguments, add_run_arguments, config_from_args
from workbench.llm import Gateway, GatewayConfig
from workbench.society import NORMS, Topology
from workbench.society.persons import rule_examples
from workbench.studies import STUDIES, StudyInterrupted
from workbench.studies.asch import AschConfig, AschStudy
from workbench.studies.sandbox import SandboxConfig, SandboxStudy, parse_mix
from workbench.widgets import Explorer, default_studies, notebook_gateway
from workbench.widgets.controls import NormControl, NormList, PersonaMix

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
RULES = ("rule:majority=0.75", "rule:committed:B=0.25")


class Recording(SandboxStudy):
    """The sandbox, keeping every society it builds (to check what a run really built)."""

    built: list = []

    def build(self, unit, gateway=None, run_id=""):
        society = super().build(unit, gateway, run_id)
        if run_id:  # built for a run, not for drawing the network afterwards
            type(self).built.append(society)
        return society


@pytest.fixture
def panel():
    Recording.built = []
    p = Explorer(studies={"sandbox": Recording, "asch": AschStudy})
    yield p
    p.stop()
    p.wait(30)


def images(image) -> list[bytes]:
    """The PNG an Image widget shows (none while it is hidden or empty)."""
    shown = image.value and image.layout.display != "none"
    return [bytes(image.value)] if shown else []


def status(panel) -> str:
    """The panel's status line as text."""
    return html.unescape(panel.status.value)


def click_run(panel, timeout=60):
    panel.run_button.click()
    assert panel.wait(timeout) is not None or panel.error, "the run did not end"
    assert not panel.running


def cli_config(config_class, argv):
    """The config ``workbench run STUDY <argv>`` builds: the CLI's own parser and builder."""
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, config_class)
    add_run_arguments(parser)
    return config_from_args(config_class, parser.parse_args(argv))


def test_widgets_are_named_after_the_config_fields(panel):
    import dataclasses

    names = [f.name for f in dataclasses.fields(SandboxConfig)]
    assert list(panel.controls) == names
    for name, control in panel.controls.items():
        described = getattr(control, "description", None) or getattr(control, "field", None)
        assert described == name
    panel.study_select.value = "asch"
    assert list(panel.controls) == [f.name for f in dataclasses.fields(AschConfig)]


def test_every_registered_study_gets_a_form_that_gives_its_default_config():
    import dataclasses

    panel = Explorer()
    for name, study in default_studies().items():
        panel.study_select.value = name
        assert list(panel.controls) == [f.name for f in dataclasses.fields(study.Config)]
        assert panel.config() == study.Config(), name
        assert panel.command_line() == f"workbench run {name} --seed=1"


def test_run_builds_the_society_from_exactly_the_widget_values(panel):
    c = panel.controls
    c["members"].value = 12
    c["mix"].value = RULES
    c["topology"].value = "watts_strogatz"
    c["k"].value = 2
    c["p"].value = 0.3
    c["norm"].value = "harmony"
    c["memory"].value = 3
    c["schedule"].value = "sequential"
    c["exchange"].value = "counts"
    c["question"].value = "park"
    c["rounds"].value = 5
    c["replicates"].value = 3
    panel.seed.value = "42"
    assert images(panel.plot_image) == []

    click_run(panel)

    assert panel.error is None, panel.status.value
    expected = SandboxConfig(
        members=12,
        mix=RULES,
        topology="watts_strogatz",
        k=2,
        p=0.3,
        norm="harmony",
        memory=3,
        schedule="sequential",
        exchange="counts",
        question="park",
        rounds=5,
        replicates=3,
    )
    assert panel.study.config == expected and panel.study.seed == 42
    assert len(Recording.built) == 3
    reference = SandboxStudy(expected, seed=42)
    for society, unit in zip(Recording.built, reference.units(42), strict=True):
        assert society.seed == unit.seed
        assert len(society.members) == 12
        models = sorted(m.person.model for m in society.members)
        assert models == ["rule:committed:B"] * 3 + ["rule:majority"] * 9
        s = society.situation
        assert (s.norm, s.memory, s.schedule, s.exchange) == ("harmony", 3, "sequential", "counts")
        assert s.topology == Topology("watts_strogatz", k=2, p=0.3)
        expected_graph = reference.build(unit).network.G
        assert nx.utils.graphs_equal(society.network.G, expected_graph)
        assert all(d == 2 for _, d in nx.watts_strogatz_graph(12, 2, 0).degree)
        assert society.task.rounds[0].options == ("A", "B") and len(society.task) == 5
    result = panel.result
    assert result.complete and len(result.decisions) == 12 * 5 * 3
    assert len(images(panel.plot_image)) == 1
    assert images(panel.plot_image)[0][:8] == b"\x89PNG\r\n\x1a\n"
    assert len(images(panel.network_image)) == 1
    assert panel.progress.value == panel.progress.max == 180  # decisions
    assert panel.units_done == 3
    assert "done: 180 decisions from 3 of 3 societies" in panel.status.value


def test_the_panel_builds_the_config_the_cli_builds(panel):
    c = panel.controls
    c["members"].value = 7
    c["mix"].value = ("team_player=2", "rule:conformist:0.3=1")
    c["topology"].value = "grid"
    c["rows"].value = "7"
    c["periodic"].value = True
    c["norm"].value = "Everyone here values a quick decision."
    c["temperature"].value = 0.5
    panel.seed.value = "3"
    argv = shlex.split(panel.command_line())
    assert argv[:3] == ["workbench", "run", "sandbox"]
    assert cli_config(SandboxConfig, argv[3:]) == panel.config()
    assert panel.config().rows == 7 and panel.config().periodic is True
    assert panel.config().mix == ("team_player=2", "rule:conformist:0.3=1")

    panel.study_select.value = "asch"
    a = panel.controls
    a["model"].value = "rule:conformist:0.3"
    a["majority"].value = "0,2,5"
    a["ally"].value = ""
    a["norms"].value = "private"
    a["personas"].value = ("team_player", "independent_thinker")
    a["subjects"].value = 3
    full = shlex.split(panel.command_line(full=True))
    assert cli_config(AschConfig, full[3:]) == panel.config()
    assert cli_config(AschConfig, shlex.split(panel.command_line())[3:]) == panel.config()
    assert panel.config() == AschConfig(
        model="rule:conformist:0.3",
        majority=(0, 2, 5),
        ally=(),
        norms=("private",),
        personas=("team_player", "independent_thinker"),
        subjects=3,
    )


def test_the_command_line_runs_in_the_real_cli(panel, monkeypatch, tmp_path):
    """For a registered study, ``workbench`` parses the panel's command into the same config."""
    import workbench.commands
    from workbench import cli
    from workbench.commands import run as run_command

    if run_command not in workbench.commands.COMMANDS:  # until the dispatcher lists it
        monkeypatch.setattr(
            workbench.commands, "COMMANDS", [*workbench.commands.COMMANDS, run_command]
        )
    panel.study_select.value = "asch"
    panel.controls["model"].value = "rule:majority"
    panel.controls["majority"].value = "1,3"
    args = cli.build_parser().parse_args(shlex.split(panel.command_line())[1:])
    assert config_from_args(AschConfig, args) == panel.config()
    assert args.seed == panel.seed_value() == 1


def test_topology_parameters_appear_for_their_topology_only(panel):
    shown = lambda name: panel.controls[name].layout.display != "none"  # noqa: E731
    panel.controls["topology"].value = "complete"
    assert not any(shown(n) for n in ("k", "p", "m", "homophily", "rows", "periodic"))
    panel.controls["topology"].value = "watts_strogatz"
    assert shown("k") and shown("p") and not shown("m") and not shown("rows")
    panel.controls["topology"].value = "sbm"
    assert shown("p") and shown("homophily") and not shown("k")
    panel.controls["topology"].value = "grid"
    assert shown("rows") and shown("periodic") and not shown("p")
    assert shown("members") and shown("model")  # never hidden with them


def test_norm_presets_and_free_text():
    norm = NormControl("norm", "none")
    norm.preset.value = "accuracy"
    assert norm.value == "accuracy" and norm.text.value == NORMS["accuracy"]
    norm.text.value = "Speak your mind."
    assert norm.value == "Speak your mind." and norm.preset.value == "custom"
    norm.text.value = NORMS["harmony"]
    assert norm.value == "harmony" and norm.preset.value == "harmony"
    norm.value = "public"
    assert norm.text.value == NORMS["public"]


def test_persona_mix_rows_and_value():
    mix = PersonaMix("mix", ("none=0.8", "rule:committed:B=0.2"), lambda: ["none", "team_player"])
    assert len(mix.rows.children) == 2
    mix.add.click()
    assert mix.value == ("none=0.8", "rule:committed:B=0.2", "none=1")
    pick, share, _ = mix.rows.children[2].children
    pick.value, share.value = "team_player", 0.5
    assert mix.value[-1] == "team_player=0.5"
    mix.rows.children[0].children[2].click()  # remove the first row
    assert mix.value == ("rule:committed:B=0.2", "team_player=0.5")
    mix.value = ("team_player=1",)
    assert len(mix.rows.children) == 1
    assert parse_mix(("a=1", "b")) == [("a", 1.0), ("b", 1.0)]


def test_a_persona_is_viewed_edited_saved_and_used(panel, tmp_path):
    panel.persona_dir = tmp_path
    panel.persona_pick.value = "team_player"
    assert "team player" in panel.persona_text.value
    panel.persona_text.value = "You always side with whoever spoke last."
    panel.persona_name.value = "last_word"
    panel.persona_save.click()
    path = tmp_path / "personas.json"
    assert json.loads(path.read_text())["personas"][0]["name"] == "last_word"
    assert panel.controls["persona_file"].value == str(path)
    pick = panel.controls["mix"].rows.children[0].children[0]
    assert "last_word" in pick.options
    panel.controls["mix"].value = ("last_word=1",)
    panel.controls["model"].value = "local/smollm2-135m"
    config = panel.config()
    assert config.persona_file == str(path)
    person = config.person("last_word")
    assert person.persona.text == "You always side with whoever spoke last."
    panel.persona_name.value = "two words"
    panel.persona_save.click()
    assert "one word" in panel.persona_note.value


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("members", 0, "members must be at least 1"),
        ("k", 3, "needs an even k"),
        ("topology_seed", "abc", "seed must be a whole number"),
        ("mix", ("wizard=1",), "unknown persona 'wizard'"),
        ("mix", ("rule:majority=lots",), "is not a number"),
        ("question", "riddle", "unknown question 'riddle'"),
        ("norm", "vibes", "unknown norm 'vibes'"),
    ],
)
def test_bad_parameters_show_as_a_message(panel, field, value, message):
    if field == "topology_seed":
        panel.seed.value = value
    else:
        panel.controls[field].value = value
    assert panel.run() is None  # nothing started
    assert message in panel.error and message in status(panel)
    assert "Error" in status(panel) and not panel.running
    panel.controls["members"].value = 10
    panel.controls["k"].value = 4
    panel.controls["mix"].value = RULES
    panel.controls["question"].value = "park"
    panel.controls["norm"].value = "none"
    panel.seed.value = "1"
    click_run(panel)
    assert panel.error is None and "done:" in panel.status.value  # the message clears


def test_an_unavailable_model_shows_as_a_message(panel):
    panel.controls["model"].value = "local/no-such-model"
    panel.controls["mix"].value = ("none=1",)
    click_run(panel)
    assert "unknown local model 'no-such-model'" in panel.error
    assert "unknown local model" in status(panel)
    assert panel.progress.bar_style == "danger" and not panel.run_button.disabled


class HeldThird(SandboxStudy):
    """A sandbox whose third society, once started, sets ``started`` and waits for
    ``release``: a run to stop in the middle of. Each test gives it fresh events."""

    started, release = threading.Event(), threading.Event()

    def build(self, unit, gateway=None, run_id=""):
        if run_id and unit.index == 2:
            type(self).started.set()
            assert type(self).release.wait(60)
        return super().build(unit, gateway, run_id)


def test_stop_interrupts_a_run_and_keeps_what_finished():
    HeldThird.started, HeldThird.release = threading.Event(), threading.Event()
    panel = Explorer(studies={"held": HeldThird}, workers=1)
    panel.controls["mix"].value = RULES
    panel.controls["replicates"].value = 10
    panel.run_button.click()
    assert panel.running and panel.run_button.disabled and not panel.stop_button.disabled
    for _ in range(1200):  # two societies finish, the third waits at the gate (60 s bound)
        if panel.units_done == 2:
            break
        threading.Event().wait(0.05)
    assert panel.units_done == 2
    assert HeldThird.started.wait(60)  # the third society is running, so Stop cannot cancel it
    panel.stop_button.click()
    assert "stopping" in panel.status.value
    HeldThird.release.set()  # the running society finishes; no new one starts after Stop is seen
    result = panel.wait(60)
    done = result.metadata["units_done"]
    assert not result.complete and result.metadata["units"] == 10
    # The running society finishes; the pool may start more before the run's thread sees
    # the stop (usually none or one: how many is thread timing), never all ten.
    assert 3 <= done < 10
    assert sorted(result.decisions.replicate.unique()) == list(range(done))
    assert f"stopped: {40 * done} decisions from {done} of 10 societies" in status(panel)
    assert len(images(panel.plot_image)) == 1  # the plot of what finished
    assert [v for _, v in panel.unit.options][:3] == [0, 1, 2]


def test_study_run_stop_and_on_unit_hooks():
    stop, seen = threading.Event(), []
    HeldThird.started, HeldThird.release = threading.Event(), stop

    def on_unit(unit, decisions):
        seen.append((unit.index, len(decisions)))
        if len(seen) == 2:
            assert HeldThird.started.wait(60)  # society 2 is running: stopping keeps it
            stop.set()

    study = HeldThird(SandboxConfig(mix=RULES, replicates=20), seed=1)
    with pytest.raises(StudyInterrupted) as caught:
        study.run(workers=1, stop=stop, on_unit=on_unit)
    partial = caught.value.result
    # Societies 0 and 1 finish before 2 can (it waits for the stop the second call sets);
    # the main thread may see both at once, in either order. The running society finishes,
    # and the pool may start one more before the stop is seen, never all twenty.
    assert sorted(seen) == [(0, 40), (1, 40)]  # called once per finished society
    assert 3 <= partial.metadata["units_done"] < 20 and not partial.complete
    done = partial.metadata["units_done"]
    assert sorted(partial.decisions.replicate.unique()) == list(range(done))
    rerun = SandboxStudy(SandboxConfig(mix=RULES, replicates=6), seed=1)
    assert rerun.run(workers=1, on_unit=lambda u, d: None).complete  # hooks are optional


def test_network_view_follows_the_slider_and_the_society(panel):
    panel.controls["mix"].value = RULES
    panel.controls["rounds"].value = 6
    click_run(panel)
    assert panel.step.max == 6 and panel.step.value == 6
    last = images(panel.network_image)[0]
    panel.step.value = 1
    first = images(panel.network_image)[0]
    assert first != last
    panel.unit.value = 1
    assert panel.step.value == 6 and images(panel.network_image)[0] != last


def test_compare_keeps_the_last_plot_beside_the_new_one(panel):
    panel.controls["mix"].value = RULES
    click_run(panel)
    first = images(panel.plot_image)[0]
    assert panel.previous_box.layout.display == "none"
    panel.compare.value = True
    panel.controls["topology"].value = "complete"
    click_run(panel)
    assert images(panel.previous_image) == [first]
    assert images(panel.plot_image)[0] != first
    assert panel.previous_box.layout.display != "none"
    assert "topology='watts_strogatz'" in html.unescape(panel.previous_label.value)
    panel.compare.value = False
    assert panel.previous_box.layout.display == "none"


def test_a_canonical_study_runs_in_the_panel(panel):
    panel.study_select.value = "asch"
    panel.controls["model"].value = "rule:conformist:0.3"
    panel.controls["subjects"].value = 2
    panel.controls["majority"].value = "0,3"
    panel.controls["ally"].value = ""
    click_run(panel)
    assert panel.error is None, panel.status.value
    assert panel.result.summary.majority.tolist() == [0, 3]
    assert len(images(panel.plot_image)) == 1 and len(images(panel.network_image)) == 1
    assert panel.unit.options[0][0].startswith("0: norm=public")


def test_llm_members_replay_from_the_notebook_cassette(monkeypatch):
    """The default sandbox run of 02_explore.ipynb, replayed: no model is loaded."""
    monkeypatch.chdir(NOTEBOOKS)
    gateway = notebook_gateway("cassettes/02_explore.jsonl", mode="replay")
    with gateway:
        panel = Explorer(gateway)
        click_run(panel, timeout=120)
        totals = gateway.accounting.totals()
    assert panel.error is None, panel.status.value
    assert totals["calls"] == 0 and totals["cassette_hits"] > 0
    llm = panel.result.decisions[panel.result.decisions.role == "llm"]
    assert len(llm) == 8 * 4 * 2 and llm.valid.all()
    assert len(images(panel.plot_image)) == 1


def test_a_replay_miss_is_a_readable_message(monkeypatch, tmp_path):
    cassette = tmp_path / "empty.jsonl"
    cassette.write_text("")
    with Gateway(GatewayConfig(cassette=str(cassette), cassette_mode="replay")) as gateway:
        panel = Explorer(gateway)
        panel.controls["members"].value = 5
        panel.controls["replicates"].value = 1
        click_run(panel)
    assert "is not in cassette" in panel.error and "not recorded" in status(panel)


def test_a_comma_inside_a_list_entry_reaches_the_config_unchanged(panel):
    sentence = "Be honest, always."
    panel.controls["norm"].value = sentence
    assert panel.config().norm == sentence
    argv = shlex.split(panel.command_line())
    assert cli_config(SandboxConfig, argv[3:]).norm == sentence

    panel.study_select.value = "asch"
    norms = panel.controls["norms"]
    norms.value = (sentence, "private")
    assert panel.config().norms == (sentence, "private")
    norms.value = sentence  # one text is one norm, never split at its comma
    assert panel.config().norms == (sentence,)
    argv = shlex.split(panel.command_line())
    assert "--norms=Be honest\\, always." in argv
    assert cli_config(AschConfig, argv[3:]) == panel.config()


def test_norm_list_adds_and_removes_norms():
    norms = NormList("norms", ("public",))
    assert norms.field == "norms" and norms.value == ("public",)
    norms.add.click()
    assert norms.value == ("public", "none")
    norms.rows.children[1].children[0].text.value = "Agree, if you can."
    assert norms.value == ("public", "Agree, if you can.")
    norms.rows.children[0].children[1].click()  # remove the first
    assert norms.value == ("Agree, if you can.",)


def test_the_model_box_offers_every_registered_rule(panel):
    examples = rule_examples()
    assert len(examples) >= 5
    assert set(examples) <= set(panel.controls["model"].options)
    pick = panel.controls["mix"].rows.children[0].children[0]
    assert set(examples) <= set(pick.options)
    panel.study_select.value = "asch"
    assert set(examples) <= set(panel.controls["model"].options)


def test_a_list_of_models_gets_rows_of_model_boxes():
    panel = Explorer(studies={name: STUDIES[name] for name in ("conventions",)})
    models = next(panel.controls[f] for f in ("populations", "model") if f in panel.controls)
    assert isinstance(models, PersonaMix) and models.free and not models.shares
    models.value = ("rule:memory", "openai/gpt-4o-mini")
    assert panel.config() == type(panel.config())(**{models.field: models.value})


def test_the_widgets_never_import_the_command_line():
    folder = Path(__file__).resolve().parents[1] / "workbench" / "widgets"
    for path in folder.glob("*.py"):
        assert "workbench.commands" not in path.read_text(), path.name


def test_topology_parameters_follow_a_list_of_topologies():
    panel = Explorer(studies={"polarization": STUDIES["polarization"]})
    shown = lambda name: panel.controls[name].layout.display != "none"  # noqa: E731
    panel.controls["topologies"].value = "complete,small_world"
    assert not shown("homophily")
    panel.controls["topologies"].value = "complete,sbm"
    assert shown("homophily") and shown("members")


# -- the dashboard: layout, live updates, transcript, legend --------------------------


def _px(value) -> int | None:
    text = str(value or "")
    return int(text.removesuffix("px")) if text.endswith("px") else None


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def test_the_panel_fits_a_1280_by_720_screen(panel):
    from workbench.widgets.controls import ROW_WIDTH
    from workbench.widgets.explorer import PANEL_HEIGHT, PANEL_WIDTH

    assert _px(panel.layout.width) == PANEL_WIDTH <= 1280 - 150  # JupyterLab's bars
    assert _px(panel.layout.height) == PANEL_HEIGHT <= 720 - 150
    sidebar, main = _px(panel.sidebar.layout.width), _px(panel.main.layout.width)
    assert sidebar + main <= PANEL_WIDTH
    for study in ("sandbox", "asch"):
        panel.study_select.value = study
        assert _px(panel.tabs.layout.width) < sidebar
        for widget in list(_walk(panel.tabs))[1:]:  # every control fits the sidebar's tabs
            width = _px(widget.layout.width)
            assert width is None or width <= ROW_WIDTH, (study, widget)
    for widget in _walk(panel.main):
        width = _px(widget.layout.width)
        assert width is None or width <= main, widget


def _wait_for(condition, what: str) -> None:
    """Wait (at most 60 s) for a state the panel's own threads reach."""
    for _ in range(1200):
        if condition():
            return
        threading.Event().wait(0.05)
    pytest.fail(f"the panel never reached: {what}")


def test_a_paused_run_shows_each_round_before_the_next(panel):
    """The plot and network are drawn after round 1 while the run waits for Next round."""
    panel.controls["mix"].value = RULES
    panel.controls["rounds"].value = 4
    panel.controls["replicates"].value = 2
    panel.pause.value = True
    panel.run_button.click()
    _wait_for(lambda: panel.frames == 1, "round 1 shown")
    assert panel.running and not panel.next_button.disabled
    assert "paused after round 1" in status(panel)
    assert 'data-state="paused"' in panel.live_info.value
    first = images(panel.plot_image)[0]
    assert len(images(panel.network_image)) == 1 and panel.step.value == 1
    # rule members only: every decision counts; one society at a time (workers=1)
    assert panel.progress.value == 10 and panel.progress.max == 10 * 4 * 2
    assert "ETA" in panel.progress_text.value
    assert "the kilogram of iron" in panel.legend.value  # the option texts, not only B

    panel.next_button.click()
    _wait_for(lambda: panel.frames == 2, "round 2 shown")
    assert "paused after round 2" in status(panel)
    second = images(panel.plot_image)[0]
    assert second != first and panel.progress.value == 20 and panel.step.value == 2
    panel.pause.value = False  # the run goes on to its end
    result = panel.wait(60)
    assert result.complete and not panel.running
    assert images(panel.plot_image)[0] not in (first, second)  # the study's own plot
    assert panel.progress.value == panel.progress.max == 80
    assert 'data-state="done"' in panel.live_info.value and panel.frames >= 2


def test_the_transcript_shows_the_exact_prompt_answer_and_probabilities():
    from workbench.testing import ScriptedGateway, leaning

    gateway = ScriptedGateway(lambda r: ("C", leaning(r.options, "C", 0.7)))
    panel = Explorer(gateway, studies={"sandbox": SandboxStudy})
    panel.controls["model"].value = "scripted/model"
    panel.controls["mix"].value = ("none=0.5", "rule:committed:B=0.5")
    panel.controls["members"].value = 6
    panel.controls["rounds"].value = 3
    panel.controls["replicates"].value = 1
    click_run(panel)
    assert panel.error is None, panel.status.value
    decisions = panel.result.decisions
    llm = decisions[(decisions.role == "llm") & (decisions.step == 2)].iloc[0]
    panel.step.value = 2
    panel.member.value = int(llm.member)
    text = html.unescape(panel.transcript.value)
    request = next(r for r in gateway.requests if r.hash == llm.request_hash)
    for message in request.messages:  # the prompt exactly as the model got it
        assert message["content"] in text
    assert "Which is heavier" in text and llm.saw and llm.saw in text
    assert "answer</b>: C (they weigh the same)" in text
    assert "0.700" in text and "0.150" in text  # the option probabilities
    assert f"Participant {int(llm.member)}</b>, round 2" in text
    rule = decisions[(decisions.role == "rule") & (decisions.step == 2)].iloc[0]
    panel.member.value = int(rule.member)
    text = html.unescape(panel.transcript.value)
    assert "a rule policy: no prompt" in text and "answer</b>: B" in text
    assert "1.000" in text  # a committed member puts all its probability on B


def test_option_texts_and_the_network_legend():
    from workbench.studies.sandbox import QUESTIONS
    from workbench.widgets.plots import option_label, option_texts

    feathers = QUESTIONS["feathers"]
    texts = option_texts(feathers.question, feathers.options)
    assert texts == {
        "A": "the kilogram of feathers",
        "B": "the kilogram of iron",
        "C": "they weigh the same",
    }
    assert option_label("B", texts) == "B: the kilogram of iron"
    assert option_label("B", {}) == "B"
    assert option_label("A", {"A": "x" * 80}).endswith("...")
    assert option_texts("Pick one.", ("A", "B")) == {}
