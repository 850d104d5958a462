"""``workbench battery``: score models on the interactionist battery; compare their cards.

Examples::

    workbench battery --model rule:conformist:0.3 --budget small
    workbench battery --model local/qwen2.5-coder-1.5b --budget small --dry-run
    workbench battery --model local/smollm2-135m --model local/qwen2.5-coder-1.5b
    workbench battery compare workbench-out/battery/card-*.json

Each model gets a card in ``--out`` (default ``workbench-out/battery``) in four forms
(JSON, CSV, PNG, Markdown). Every study run is stored in the result store as it finishes,
so a killed battery, run again with the same flags, goes on where it stopped. ``--dry-run``
prints the plan (runs, model decisions, estimated prompt tokens and cost or time) and
makes no call.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from workbench.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``battery`` (and ``battery compare``) to the CLI."""
    from workbench.battery.protocol import BUDGETS
    from workbench.commands.run import add_model_arguments
    from workbench.commands.sweep import add_executor_arguments

    p = sub.add_parser(
        "battery",
        help="score models' social behaviour on one protocol; compare their cards",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="MODEL",
        help="a model to score (litellm string, local/NAME or rule:...); repeat for more",
    )
    p.add_argument(
        "--budget", default="small", metavar="NAME", help=f"{' or '.join(BUDGETS)} (small)"
    )
    p.add_argument("--seed", type=int, default=0, metavar="S", help="battery seed (default: 0)")
    p.add_argument(
        "--out",
        type=Path,
        default=Path("workbench-out/battery"),
        metavar="DIR",
        help="folder for the cards (default: workbench-out/battery)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    add_executor_arguments(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_model_arguments(p)
    p.set_defaults(handler=_battery)
    actions = p.add_subparsers(dest="battery_command", metavar="compare")
    c = actions.add_parser(
        "compare",
        help="set cards side by side: a table and a figure",
        description="Set battery cards side by side: a table (models x scores) and a "
        "figure. A difference from the first card's model is marked * only where its 95% "
        "interval excludes 0; ! marks a score that the wording moves.",
    )
    c.add_argument("cards", nargs="+", type=Path, metavar="CARD", help="card JSON files")
    c.add_argument(
        "--out",
        dest="compare_out",
        type=Path,
        default=Path("workbench-out/battery"),
        metavar="DIR",
        help="folder for the comparison figure and table (default: workbench-out/battery)",
    )
    c.set_defaults(handler=_compare)


def _battery(args: argparse.Namespace) -> int:
    from workbench.battery import Battery
    from workbench.commands.run import (
        gateway_config_from_args,
        limits_from_args,
        store_for,
        writable_folder,
    )
    from workbench.commands.sweep import executor_kind
    from workbench.sweep import executor

    if not args.model:
        raise ConfigError("give at least one --model to score (e.g. --model rule:conformist:0.3)")
    if args.seed < 0:
        raise ConfigError(f"--seed must be 0 or more, got {args.seed}")
    gateway_config = gateway_config_from_args(args)
    kind = executor_kind(args, gateway_config)
    battery = Battery(
        args.model,
        args.budget,
        args.seed,
        gateway=gateway_config,
        **limits_from_args(args),
    )
    plan = battery.plan()
    print(_plan_text(plan, "plan"))
    if args.dry_run:
        return 0
    out = writable_folder(args.out, "--out")
    store = store_for(args)
    live = None
    if kind == "serial":
        from workbench.llm import Gateway

        live = Gateway(gateway_config)  # one gateway: one cassette, one accounting
    start = time.perf_counter()
    try:
        with executor(kind, args.workers, args.scheduler) as pool:
            cards = battery.run(store, pool, progress=not args.no_progress, gateway=live)
    finally:
        if live is not None:
            live.close()
    seconds = time.perf_counter() - start
    for model, card in cards.items():
        paths = card.save(out)
        print(f"\n{card.summary()}")
        print(f"card of {model}: {', '.join(str(p) for p in paths.values())}")
    replayed = sum(c.spent.get("replayed_prompt_tokens", 0) for c in cards.values())
    print(
        f"\nspent: {sum(c.spent.get('decisions', 0) for c in cards.values())} model decisions, "
        f"{sum(c.spent.get('prompt_tokens', 0) for c in cards.values())} prompt tokens"
        + (f" (and {replayed} recorded ones replayed from the cassette)" if replayed else "")
        + f", {seconds:.0f} s; runs in {store.path}"
    )
    return 0


def _plan_text(plan, what: str) -> str:
    import pandas as pd

    shown = plan.copy()
    shown["estimate"] = [
        "-"
        if u == "-"
        else ("unknown" if pd.isna(e) else f"{e:.0f} s" if u == "s" else f"${e:.4f}")
        for e, u in zip(shown.estimate, shown.unit, strict=True)
    ]
    shown = shown.drop(columns="unit")
    total = int(plan.decisions.sum())
    seconds = plan[plan.unit == "s"].estimate.sum()
    dollars = plan[plan.unit == "USD"].estimate.sum()
    tail = f"{what}: {total} model decisions, about {int(plan.prompt_tokens.sum())} prompt tokens"
    if seconds:
        tail += f", about {seconds / 60:.0f} min on the embedded model(s)"
    if dollars:
        tail += f", about ${dollars:.2f}"
    return shown.to_string(index=False) + "\n" + tail


def _compare(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from workbench.battery import compare, load_card
    from workbench.commands.run import writable_folder

    comparison = compare([load_card(p) for p in args.cards])
    out = writable_folder(args.compare_out, "--out")
    table = comparison.table()
    print(table.to_string())
    print("* the difference from the first model excludes 0 (95%); ! the wording moves it")
    table.to_csv(out / "compare.csv")
    fig = comparison.plot()
    fig.savefig(out / "compare.png", dpi=150)
    plt.close(fig)
    print(f"\ntable {out / 'compare.csv'}, figure {out / 'compare.png'}")
    return 0
