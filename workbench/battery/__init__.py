"""The interactionist battery: one protocol that scores any model's social behaviour.

``workbench battery --model MODEL`` runs the versioned protocol (:data:`PROTOCOL`) built
from the project's studies and writes a social-behaviour :class:`Card` per model;
``workbench battery compare CARD...`` sets cards side by side. In Python:

>>> from workbench.battery import Battery
>>> cards = Battery(["rule:conformist:0.3"], budget="small", seed=1).run()  # doctest: +SKIP

Each module (:data:`MODULES`) runs one phenomenon: conformity (Asch), collective bias
(conventions), tipping (committed minority), opinion dynamics, person vs situation (a
persona x norm factorial through :class:`~workbench.Design`) and persistence. Every
prompt is asked in three wordings (:data:`~workbench.society.task.WORDINGS`); every score
has a 95% cluster-bootstrap interval, its spread across wordings (flagged when the
wording moves it more than sampling does), the module's rule baseline and, where one
exists, the human or published reference. ``docs/battery.md`` defines every score.
"""

from workbench.battery.card import SCHEMA, Card, load_card
from workbench.battery.compare import compare
from workbench.battery.protocol import BUDGETS, MODULES, PROTOCOL, Budget, Measure, Module
from workbench.battery.runner import Battery, BatteryError

__all__ = [
    "BUDGETS",
    "MODULES",
    "PROTOCOL",
    "SCHEMA",
    "Battery",
    "BatteryError",
    "Budget",
    "Card",
    "Measure",
    "Module",
    "compare",
    "load_card",
]
