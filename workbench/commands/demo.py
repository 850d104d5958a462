"""``workbench demo``: a small Asch conformity study on the embedded default model.

Two subjects alone (control) and two facing a unanimous wrong majority of three, 18 trials
each (72 decisions): under two minutes on two cores, the model fetched on first use.
The default model is tiny and answers close to chance, so the demo shows the pipeline, not
the sociology; ``workbench run asch --model local/qwen2.5-coder-1.5b`` shows conformity.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand."""
    p = sub.add_parser(
        "demo",
        help="run a small Asch conformity study on the embedded model",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--model", default=None, help="subject model (default: the embedded one)")
    p.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    p.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from workbench.llm import DEFAULT_MODEL, Gateway, GatewayConfig
    from workbench.studies.asch import AschConfig, AschStudy

    model = args.model or DEFAULT_MODEL
    config = AschConfig(model=model, subjects=2, majority=(0, 3), ally=())
    study = AschStudy(config, seed=args.seed)
    print(f"Asch conformity demo: {model}, {config.subjects} subjects, majority 0 and 3")
    with Gateway(GatewayConfig(concurrency=4)) as gateway:
        result = study.run(gateway, progress=True)
    print(study.table(result.summary).to_string(index=False))
    asked = int((result.decisions.role == "subject").sum())
    print(
        f"\n{asked} model decisions in {result.metadata['seconds']:.0f} s. "
        "conformity = share of critical answers matching the wrong majority; "
        "Asch % = human subjects (Asch 1951-1956)."
    )
    print("More: workbench run asch --model local/qwen2.5-coder-1.5b --subjects 8")
    return 0
