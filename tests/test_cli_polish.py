"""The command line explains itself: help with examples, bad values refused before any
work, figures in the asked format, a sweep's closing table, a demo that teaches."""

from __future__ import annotations

import argparse
import re

import pandas as pd
import pytest
from support.cli import one_line_error

from workbench import cli
from workbench.commands import demo
from workbench.store import ResultStore

RULE = ["--model", "rule:conformist:0.3", "--subjects", "2", "--seed", "1"]


def parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                yield from parsers(child)


def test_a_bare_workbench_prints_help_with_examples(capsys):
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: workbench") and "examples:\n  workbench demo" in out


def test_every_help_page_has_examples_and_no_rst_markup():
    pages = list(parsers(cli.build_parser()))
    assert len(pages) > 15  # every command, action and study
    for parser in pages:
        text = parser.format_help()
        assert re.search(r"\nexamples:\n\n?  +workbench", text), parser.prog
        assert "`" not in text and ":class:" not in text and "::" not in text, parser.prog


def test_study_examples_run_as_printed(tmp_path, capsys):
    page = next(p for p in parsers(cli.build_parser()) if p.prog == "workbench run asch")
    line = page.epilog.splitlines()[1].split()
    argv = [*line[1:], "--no-store", "--no-progress", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    assert (tmp_path / "asch.png").is_file()


def test_plain_strips_rst_roles_and_literals():
    assert cli.plain("see :class:`~workbench.llm.Gateway` and ``--out``") == "see Gateway and --out"
    assert cli.plain(":meth:`Study.run`") == "Study.run"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--temperature", "-1"], "--temperature must be at least 0"),
        (["--temperature", "-0.5"], "--temperature must be at least 0"),
        (["--majority", "-1,3"], "--majority sizes must be between 0 and 50"),
        (["--majority", "-1"], "--majority sizes must be between 0 and 50"),
        (["--memory", "-2"], "memory"),
        (["--wording", "7"], "wording"),
        (["--dpi", "5"], "--dpi must be from 50 to 1200, got 5"),
        (["--max-invalid", "2"], "--max-invalid must be a share from 0 to 1"),
        (["--deadline", "-3"], "--deadline must be a positive number"),
        (["--seed", "-1"], "--seed must be from 0"),
        (["--subjects", "-1"], "subjects must be at least 1"),
        (["--personas", "wizard"], "unknown persona 'wizard'"),
        (["--topology", "cube"], "unknown topology 'cube'"),
        (["--majority", "one"], "takes a whole number, got 'one'"),
        (["--norms", "vibes"], "unknown norm"),
        (["--model", "rule:nope"], "unknown rule"),
        (["--concurrency", "0"], "concurrency must be at least 1"),
        (["--cassette-mode", "replay"], "needs a cassette path"),
        (["--persona-file", "/nonexistent.json"], "cannot read persona file"),
        (["--api-base", "not a url"], "--api-base must be an http(s) URL"),
        (["--api-base", "http://user:pw@127.0.0.1:1/v1"], "must not hold credentials"),
        (["--timeout", "0"], "--timeout"),
        (["--timeout", "nan"], "--timeout"),
        (["--retries", "-1"], "--retries"),
        (["--max-invalid", "1.5"], "--max-invalid"),
    ],
)
def test_out_of_range_values_are_one_line_before_any_work(tmp_path, capsys, flags, message):
    store = tmp_path / "s.sqlite"
    argv = ["run", "asch", *RULE, "--out", str(tmp_path / "out"), "--store", str(store)]
    err = one_line_error(capsys, [*argv, *flags])
    assert message in err, err
    # nothing was done: no file written (the checked --out folder may exist, empty)
    assert not any((tmp_path / "out").glob("*")) and not store.exists()


def test_an_unwritable_out_fails_before_the_run(tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")
    store = tmp_path / "s.sqlite"
    argv = ["run", "asch", *RULE, "--out", str(tmp_path / "file" / "out"), "--store", str(store)]
    err = one_line_error(capsys, argv)
    assert "--out" in err and "cannot be written" in err
    assert not store.exists()  # refused before the run, so nothing was stored
    err = one_line_error(
        capsys, ["demo", "--model", "rule:truthful", "--out", str(store.parent / "file")]
    )
    assert "--out" in err and "is a file" in err


@pytest.mark.parametrize("kind", ["svg", "pdf", "png"])
def test_format_writes_the_figure_in_that_format(tmp_path, capsys, kind):
    argv = ["run", "asch", *RULE, "--out", str(tmp_path), "--no-store", "--no-progress"]
    assert cli.main([*argv, "--format", kind, "--dpi", "100"]) == 0
    figure = tmp_path / f"asch.{kind}"
    head = figure.read_bytes()[:200]
    assert {"svg": b"<svg", "pdf": b"%PDF", "png": b"\x89PNG"}[kind] in head
    assert str(figure) in capsys.readouterr().out


def test_png_is_written_at_the_default_200_dpi(tmp_path):
    from PIL import Image

    argv = ["run", "asch", *RULE, "--out", str(tmp_path), "--no-store", "--no-progress"]
    assert cli.main(argv) == 0
    dpi = Image.open(tmp_path / "asch.png").info["dpi"]
    assert round(dpi[0]) == 200


def test_flags_have_one_name_across_studies(tmp_path, capsys):
    argv = ["run", "sandbox", "--mix", "rule:majority=3,rule:committed:B=1", "--members", "6"]
    argv += ["--rounds", "2", "--runs", "1", "--degree", "2"]
    argv += ["--topology", "ring", "--no-store", "--no-progress", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    summary = pd.read_csv(tmp_path / "sandbox_summary.csv")
    assert (summary.societies == 1).all()  # --runs set the sandbox's replicates
    page = next(p for p in parsers(cli.build_parser()) if p.prog == "workbench run sandbox")
    assert "--runs N, --replicates N" in page.format_help()


def test_sweep_ends_with_a_table_per_condition_and_says_where_runs_are(tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    argv = ["sweep", "asch", "--model", "rule:conformist:0.3", "--subjects", "2"]
    argv += ["--majority", "3", "--grid", "temperature=0,1", "--seeds", "2"]
    argv += ["--store", str(store), "--no-progress"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    table = out.split("per condition, conformity")[1]
    rows = [line.split() for line in table.splitlines()[2:4]]
    assert [r[0] for r in rows] == ["0.0", "1.0"] and all(r[1] == "2" for r in rows)
    for row in rows:  # the mean over seeds, inside its interval
        low, high = map(float, row[3].split("-"))
        assert 0 <= low <= float(row[2]) <= high <= 1
    assert "95% t-interval over seeds" in out
    assert f"stored in {store}" in out and "workbench results list --study asch" in out
    ids = ResultStore(store).runs().run_id.tolist()
    assert len(ids) == 4 and all(run_id in out for run_id in ids)


def test_one_seed_shows_the_runs_own_interval(tmp_path, capsys):
    argv = ["sweep", "asch", "--model", "rule:conformist:0.3", "--subjects", "3"]
    argv += ["--grid", "majority=1,3", "--store", str(tmp_path / "s"), "--no-progress"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "interval: 95% bootstrap CI over subjects" in out
    summary = ResultStore(tmp_path / "s").runs()
    assert len(summary) == 2


def test_the_demo_explains_writes_its_files_and_stores_its_run(tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    argv = ["demo", "--model", "rule:conformist:0.5", "--out", str(tmp_path / "demo")]
    assert cli.main([*argv, "--store", str(store), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "What the columns say" in out and "p(lure)" in out and "Try next:" in out
    assert "Verdict: an effect" in out
    assert "Replay, not a live run" in out and "local/qwen2.5-coder-1.5b" in out
    for part in ("live", "replay"):
        for name in ("asch_summary.csv", "asch_decisions.csv", "asch.png"):
            assert (tmp_path / "demo" / part / name).stat().st_size > 0
    runs = ResultStore(store).runs()
    assert len(runs) == 1 and runs.run_id.iloc[0] in out  # `results list` shows it
    assert cli.main(["results", "list", "--store", str(store)]) == 0
    assert runs.run_id.iloc[0] in capsys.readouterr().out
    replayed = pd.read_csv(tmp_path / "demo" / "replay" / "asch_summary.csv")
    three = replayed[(replayed.majority == 3) & ~replayed.ally]
    assert three.conformity.iloc[0] > 0.1  # the recorded model does conform


def test_the_demo_says_why_a_model_at_chance_shows_nothing():
    summary = pd.DataFrame(
        {
            "majority": [0, 3],
            "ally": [False, False],
            "conformity": [0.25, 0.25],
            "ci_low": [1 / 6, 1 / 6],
            "ci_high": [1 / 3, 1 / 3],
            "error_rate": [0.667, 0.667],
            "p_lure": [0.30, 0.32],
        }
    )
    text = demo.verdict(summary, "local/smollm2-135m", options=3)
    assert text.startswith("no effect found") and "answers at chance" in text
    assert "1 - 1/3 = 67%" in text
    sighted = summary.assign(error_rate=[0.0, 0.05], conformity=[0.0, 0.02], ci_high=[0, 0.05])
    sighted = sighted.assign(ci_low=[0.0, 0.0])
    text = demo.verdict(sighted, "m")
    assert text.startswith("no effect found") and "at chance" not in text


def test_the_demo_table_and_verdict_on_the_truthful_rule(tmp_path, capsys):
    argv = ["demo", "--model", "rule:truthful", "--no-replay", "--no-store", "--no-progress"]
    assert cli.main([*argv, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"Verdict: no effect found.*sees them", out)
    assert "Replay" not in out and not (tmp_path / "replay").exists()


def test_the_sweep_bar_counts_decisions(tmp_path, capsys):
    argv = ["sweep", "asch", "--model", "rule:conformist:0.3", "--subjects", "2"]
    argv += ["--grid", "majority=1,3", "--store", str(tmp_path / "s")]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err.replace("\r", "\n")
    # rule members only: every decision counts; (1 + 1) and (3 + 1) members x 18 x 2
    assert "216/216" in err and "decision" in err and "runs 2/2" in err
