"""What the coordination-game studies (conventions, minority) share when they build a unit.

Both compose the kit in :mod:`workbench.society.coordination` the same way: a population
of the unit's model on a game network, the game's situation, and the unit's conditions
with its run number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.society import Society
from workbench.society.coordination import game_network, game_situation, is_lean, population
from workbench.studies import Study, Unit, unit_seed

if TYPE_CHECKING:
    from workbench.llm import Gateway
    from workbench.society import Task

__all__ = ["game_society", "short_name"]


def game_society(
    study: Study,
    unit: Unit,
    model: str,
    topology: str,
    members: int,
    game: Task,
    gateway: Gateway | None,
    run_id: str,
    *,
    cls: type[Society] = Society,
    **extra: Any,
) -> Society:
    """One unit's population of ``model`` playing ``game`` on a ``topology`` network.

    Parameters
    ----------
    study : Study
        The study; ``degree``, ``personas``, ``temperature``, ``persona_file``, ``norm``,
        ``memory`` and ``names`` are read from its config.
    unit : Unit
        The unit: its seed seeds the society and (by name) its network.
    model : str
        The members' model or rule.
    topology : str
        The network kind (:func:`~workbench.society.coordination.game_network`).
    members : int
        Population size.
    game : Task
        The rounds to play (:func:`~workbench.society.coordination.coordination_game`).
    gateway : Gateway or None
        The road to the model.
    run_id : str
        The run the decisions belong to.
    cls : type, default Society
        The society class (a subclass takes its own keywords in ``extra``).
    **extra
        Passed on to ``cls``.

    Returns
    -------
    Society
    """
    cfg = study.config
    graph = game_network(topology, members, cfg.degree, unit_seed(unit.seed, "network"))
    persons = population(
        model, members, cfg.personas, temperature=cfg.temperature, persona_file=cfg.persona_file
    )
    return study.society(
        unit,
        persons,
        game,
        game_situation(model, graph, norm=cfg.norm, memory=cfg.memory),
        gateway,
        run_id,
        conditions={**unit.conditions, "run": unit.replicate},
        cls=cls,
        lean=is_lean(cfg.names),
        **extra,
    )


def short_name(model: str) -> str:
    """A model or rule as a figure shows it: ``"rule:memory"`` -> ``"memory"``,
    ``"local/qwen2.5-coder-1.5b"`` -> ``"qwen2.5-coder-1.5b"``."""
    return model.removeprefix("rule:").split("/")[-1]
