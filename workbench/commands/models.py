"""``workbench demo``: placeholder until written."""


def register(sub) -> None:
    p = sub.add_parser("models", help="run the main job on the embedded model")
    p.set_defaults(handler=lambda args: 0)
