"""CLI subcommands, one module each; see :mod:`workbench.cli`."""

from workbench.commands import demo, models, results, sweep

COMMANDS = [demo, models, results, sweep]
