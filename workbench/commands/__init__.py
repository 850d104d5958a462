"""CLI subcommands, one module each; see :mod:`workbench.cli`."""

from workbench.commands import battery, demo, gallery, models, results, run, sweep

COMMANDS = [demo, models, results, run, sweep, battery, gallery]
