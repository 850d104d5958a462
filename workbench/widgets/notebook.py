"""The gateway of the teaching notebooks: their committed cassette, never dirtied.

A teaching notebook ships a cassette of the model answers its cells need. In a class the
knobs get turned, so the notebook runs in cassette mode ``auto``: recorded answers replay,
new ones are asked of the model and recorded. To keep the committed cassette unchanged,
``auto`` records into a scratch copy (``workbench-out/cassettes/<name>``), merged with the
committed cassette each time. CI sets ``WORKBENCH_CASSETTE_MODE=replay`` so that a
request missing from the cassette is an error rather than a silent model call; setting
``WORKBENCH_RECORD_NOTEBOOKS=1`` records into the committed cassette itself (to re-record
it).
"""

from __future__ import annotations

import os
from pathlib import Path

from workbench.llm import Cassette, Gateway, GatewayConfig

__all__ = ["notebook_gateway"]

MODE_ENV = "WORKBENCH_CASSETTE_MODE"
RECORD_ENV = "WORKBENCH_RECORD_NOTEBOOKS"


def _merge(committed: Path, scratch: Path) -> None:
    """Add the committed cassette's entries to the scratch copy (its own entries win).

    Both files are read and checked as cassettes, and the copy is written under the
    cassette's lock, so a notebook running beside another loses no recording.
    """
    target = Cassette(scratch, "auto")
    if committed.exists():
        target.merge(Cassette(committed, "replay"))
    target.save()


def notebook_gateway(
    cassette: str | os.PathLike[str],
    *,
    mode: str | None = None,
    scratch_dir: str | os.PathLike[str] = "workbench-out/cassettes",
    concurrency: int = 4,
) -> Gateway:
    """A gateway replaying ``cassette`` and recording what it lacks into a scratch copy.

    Parameters
    ----------
    cassette : path
        The notebook's committed cassette.
    mode : {"auto", "replay", "record", "off"} or None
        Cassette mode; ``$WORKBENCH_CASSETTE_MODE`` or ``"auto"`` when None.
    scratch_dir : path
        Where ``auto`` and ``record`` write (unless ``$WORKBENCH_RECORD_NOTEBOOKS=1``).
    concurrency : int
        Model calls in flight at once.

    Returns
    -------
    Gateway
    """
    mode = mode or os.environ.get(MODE_ENV, "auto")
    committed = Path(cassette)
    path = committed
    if mode in ("auto", "record") and os.environ.get(RECORD_ENV) != "1":
        path = Path(scratch_dir) / committed.name
        _merge(committed, path)
    return Gateway(GatewayConfig(concurrency=concurrency, cassette=str(path), cassette_mode=mode))
