"""``workbench demo``: placeholder until written."""


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the main job on the embedded model")
    p.set_defaults(handler=lambda args: 0)
