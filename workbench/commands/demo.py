"""``workbench demo``: a small Asch conformity study that explains what it finds.

It runs live on the embedded default model (SmolLM2-135M, fetched on first use): two
subjects alone (control) and two facing a unanimous wrong majority of three, 18 trials
each (72 model decisions). Then it replays, without running any model, the recorded
Qwen2.5-Coder-1.5B study of ``studies/cassettes/asch_conformity.jsonl`` (4 subjects,
majorities 0, 1, 3 and 8 and 3 with an ally), where conformity is real. It explains the
table's columns, says whether each run shows an effect and, when not, why (a model that
answers at chance is wrong on about 1 - 1/3 of the lines with or without a majority),
writes both runs' tables and plots into ``--out`` and stores the live run in the result
store, so ``workbench results list`` shows it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd

#: The recorded study the demo replays: the committed cassette, its model and settings
#: (those of ``studies/asch_conformity.ipynb``; a replay asks exactly its prompts).
REPLAY_CASSETTE = Path(__file__).resolve().parents[2] / "studies/cassettes/asch_conformity.jsonl"
REPLAY_MODEL = "local/qwen2.5-coder-1.5b"
REPLAY_SEED = 1951
REPLAY_SETTINGS: dict[str, Any] = {"subjects": 4, "majority": (0, 1, 3, 8), "ally": (3,)}

COLUMNS = """\
What the columns say (one row per condition; 12 critical trials per subject, where the
majority names a wrong line, and 6 neutral ones, where it names the right one):
  conformity %   critical answers that repeat the majority's wrong line (95% CI: bootstrap
                 over subjects); with majority 0 (alone) it is how often the subject picks
                 that line by itself
  Asch %         what Asch's human subjects did in that condition (1951-1956)
  >=1 %, never % subjects who conformed at least once / never
  errors %       wrong critical answers, whichever wrong line
  neutral err %  wrong answers on the neutral trials
  p(lure)        the model's mean probability of the majority's wrong line: graded influence
  invalid        answers that named no line (left out of every rate)"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand."""
    from workbench.commands.run import (
        add_figure_arguments,
        add_out_argument,
        add_store_argument,
    )

    p = sub.add_parser(
        "demo",
        help="a small Asch conformity study that explains what it finds",
        description=__doc__,
    )
    p.add_argument("--model", default=None, help="subject model (default: the embedded one)")
    p.add_argument("--subjects", type=int, default=2, metavar="N", help="subjects (default: 2)")
    p.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    add_out_argument(p, Path("workbench-out/demo"), "the tables and plots", "workbench-out/demo")
    add_store_argument(p)
    p.add_argument("--no-store", action="store_true", help="do not store the live run")
    p.add_argument(
        "--no-replay",
        action="store_true",
        help="skip the replay of the recorded Qwen2.5-Coder-1.5B study",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_figure_arguments(p)
    p.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from workbench.commands import run as checks
    from workbench.llm import DEFAULT_MODEL, Gateway, GatewayConfig
    from workbench.studies import check_seed
    from workbench.studies.asch import AschConfig, AschStudy

    model = args.model or DEFAULT_MODEL
    # Everything is checked before the first model call.
    fields = {**vars(AschConfig()), "model": model, "subjects": args.subjects}
    config = checks.config_from_args(
        AschConfig, argparse.Namespace(**{**fields, "majority": (0, 3), "ally": ()})
    )
    check_seed(args.seed)
    checks.check_figure_arguments(args)
    out = checks.writable_folder(args.out, "--out")
    store = None if args.no_store else checks.store_for(args)
    replay = not args.no_replay and REPLAY_CASSETTE.is_file()

    study = AschStudy(config, seed=args.seed)
    print(
        f"Asch conformity demo, live: {model}, {config.subjects} subjects x 18 trials, "
        "alone (majority 0) and facing a unanimous wrong majority of 3"
    )
    with Gateway(GatewayConfig(concurrency=4)) as gateway:
        result = study.run(gateway, progress=not args.no_progress)
    stored = ""
    if store is not None:
        store.save(result.to_record())
        stored = f"stored in {store.path} as {result.run_id}"
    written = _write(study, result, out / "live", args)
    print(study.table(result.summary).to_string(index=False))
    print(f"\n{COLUMNS}")
    asked = int((result.decisions.role == "subject").sum())
    print(f"\n{asked} subject decisions in {result.metadata['seconds']:.0f} s.")
    print(f"Verdict: {verdict(result.summary, model, _options(result.decisions))}")

    if replay:
        replayed = AschStudy(AschConfig(model=REPLAY_MODEL, **REPLAY_SETTINGS), seed=REPLAY_SEED)
        print(
            f"\nReplay, not a live run: the recorded {REPLAY_MODEL} study "
            f"({REPLAY_SETTINGS['subjects']} subjects, seed {REPLAY_SEED}), its answers read "
            f"from {_shown(REPLAY_CASSETTE)}; no model is loaded"
        )
        cassette = GatewayConfig(cassette=str(REPLAY_CASSETTE), cassette_mode="replay")
        with Gateway(cassette) as gateway:
            recorded = replayed.run(gateway)
        written += _write(replayed, recorded, out / "replay", args)
        print(replayed.table(recorded.summary).to_string(index=False))
        print(f"Verdict: {verdict(recorded.summary, REPLAY_MODEL, _options(recorded.decisions))}")
    elif not args.no_replay:
        print(f"\n(no replay: the recorded study {REPLAY_CASSETTE} is not installed)")

    where = "" if args.store is None or store is None else f" --store {store.path}"
    steps = [
        "workbench models pull qwen2.5-coder-1.5b    # the 1.1 GB model of the replay, once",
        f"workbench run asch --model {REPLAY_MODEL} --subjects 4 --majority 0,3"
        "   # conformity, live (a few minutes)",
        "jupyter lab studies/asch_conformity.ipynb   # the full study, walked through",
    ]
    if store is not None:
        steps.insert(2, f"workbench results show {result.run_id}{where}   # the stored run")
    print("\nTry next:\n" + "\n".join(f"  {step}" for step in steps))
    print("\nwrote " + ", ".join(str(p) for p in written))
    if stored:
        print(f"{stored}; 'workbench results list{where}' lists it")
    return 0


def _write(study, result, out: Path, args: argparse.Namespace) -> list[Path]:
    """The run's tables and plot in ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    from workbench.commands.run import save_figure

    paths = list(result.save(out).values())
    paths.append(save_figure(study.plot(result), out, study.name, args))
    return paths


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _options(decisions: pd.DataFrame) -> int:
    """Options per trial (3 lines in Asch's task)."""
    subjects = decisions[decisions.role == "subject"]
    return len(subjects.options.iloc[0]) if len(subjects) else 3


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%"


def verdict(summary: pd.DataFrame, model: str, options: int = 3) -> str:
    """One paragraph: whether the majority moved the subjects, and why not if it did not.

    The effect is read from the conformity intervals of the control (majority 0, alone)
    and of a unanimous majority of 3 (Asch's classic size; the largest when there is no
    3): an effect when the majority's interval lies
    above the control's. A subject whose control errors are near what guessing gives
    (``1 - 1/options``) answers at chance: it has no right answer to be pulled away from,
    so conformity cannot show, whatever the majority says.

    Parameters
    ----------
    summary : pandas.DataFrame
        The Asch study's summary (``majority``, ``ally``, ``conformity``, ``ci_low``,
        ``ci_high``, ``error_rate``, ``p_lure``).
    model : str
        The subject model, named in the text.
    options : int
        Options per trial.

    Returns
    -------
    str
    """
    plain = summary[~summary.ally.astype(bool)]
    control = plain[plain.majority == 0]
    faced = plain[plain.majority > 0]
    if control.empty or faced.empty:
        return "no control and majority pair to compare (run majority 0 and a majority > 0)."
    classic = faced[faced.majority == 3]  # Asch's classic size, else the largest
    alone = control.iloc[0]
    most = classic.iloc[0] if len(classic) else faced.sort_values("majority").iloc[-1]
    chance = 1 - 1 / options
    at_chance = bool(alone.error_rate >= 0.75 * chance)
    rates = (
        f"conformity {_pct(alone.conformity)} alone (CI {_pct(alone.ci_low)}-"
        f"{_pct(alone.ci_high)}) and {_pct(most.conformity)} facing a majority of "
        f"{int(most.majority)} (CI {_pct(most.ci_low)}-{_pct(most.ci_high)})"
    )
    lure = f"; p(lure) {alone.p_lure:.2f} -> {most.p_lure:.2f}"
    if most.ci_low > alone.ci_high:
        text = f"an effect: the majority moves {model}: {rates}{lure}."
        if at_chance:
            text += (
                f" Alone it errs on {_pct(alone.error_rate)} of the lines, near chance "
                f"(1 - 1/{options} = {_pct(chance)}), so part of this is guessing."
            )
        return text
    text = f"no effect found: {rates}{lure}; the intervals overlap."
    if at_chance:
        return (
            f"{text} The model answers at chance: alone it is wrong on "
            f"{_pct(alone.error_rate)} of the lines, about what guessing among {options} "
            f"gives (1 - 1/{options} = {_pct(chance)}). A subject that cannot see the right "
            "line has no right answer for a majority to pull it away from, so this run "
            f"cannot show conformity; a larger model can ({REPLAY_MODEL}: its replay, or "
            "a live run)."
        )
    return (
        f"{text} Alone it errs on {_pct(alone.error_rate)} of the lines, so it sees them, "
        "and the majority did not move it here; more subjects (--subjects 8) narrow the "
        "intervals."
    )
