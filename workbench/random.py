"""Named random streams: every seed a study or analysis derives, by the name of its use.

A run has one seed; each part of it that needs randomness of its own (a unit, the network
of a unit, the order of its stimuli, a bootstrap) draws from a stream derived from that
seed with :class:`numpy.random.SeedSequence` spawn keys, so parts are independent and the
same part always gets the same numbers. :data:`STREAMS` names each stream and fixes the
integer key it uses; the keys are the ones the code used before the names existed, so
every derived seed, and with it every recorded cassette, is unchanged. A key never changes
once a run depends on it: a new use gets a new name.

Names of one study's streams start with the study's name (``"asch.stimuli"``); the shared
ones (``"unit"``, ``"network"``) mean the same thing in every study. A name and integers
can follow each other: ``seed_for(seed, "unit", 3)`` is the seed of unit 3.

Examples
--------
>>> seed_for(2024, "unit", 3) == seed_for(2024, 3)
True
>>> rng = generator(seed_for(2024, "unit", 3), "asch.stimuli")
>>> float(rng.random()) == float(generator(seed_for(2024, "unit", 3), "asch.stimuli").random())
True
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from workbench.errors import ConfigError

__all__ = ["STREAMS", "Key", "SeedLike", "generator", "seed_for", "spawn_key"]

#: A stream name of :data:`STREAMS`, or a raw integer key (a unit index, an attempt).
Key = str | int
#: What :func:`generator` accepts as its seed.
SeedLike = int | np.integer | np.random.SeedSequence | np.random.Generator | None

#: Stream name -> its spawn key (the integers appended to the parent seed's key).
STREAMS: Mapping[str, tuple[int, ...]] = MappingProxyType(
    {
        # a study's units: seed_for(seed, "unit", i) is unit i's seed (Study.units)
        "unit": (),
        # the game network of a unit, from the unit's seed (minority, conventions)
        "network": (7,),
        # the stimulus order of an Asch subject, from the unit's seed
        "asch.stimuli": (1,),
        # conventions: the seed of run r is ("conventions.game", r), of prior j
        # ("conventions.prior", j), from the study seed
        "conventions.game": (0,),
        "conventions.prior": (1,),
        # the order in which the minority study places its members, from the unit's seed
        "minority.order": (3,),
        # polarization: initial opinions, from the unit's seed; connected redraw
        # ("polarization.redraw", attempt), from the network's seed
        "polarization.opinions": (1,),
        "polarization.redraw": (2,),
        # the sandbox's placement of its members, from the unit's seed
        "sandbox.order": (1,),
        # a cell of a factorial Design: ("design.cell", hash of the cell's config)
        "design.cell": (),
        # the battery: the seed of a module's runs in wording w ("battery.wording", w)
        "battery.wording": (90,),
        # the battery's bootstrap of every module's scores, from the battery seed
        "battery.bootstrap": (91,),
    }
)


def spawn_key(*keys: Key) -> tuple[int, ...]:
    """The spawn key of a path of stream names and integers.

    Raises
    ------
    ConfigError
        For a name that is not in :data:`STREAMS`, or a negative or non-integer key.
    """
    out: list[int] = []
    for key in keys:
        if isinstance(key, str):
            if key not in STREAMS:
                raise ConfigError(
                    f"unknown random stream {key!r}; name one of {', '.join(sorted(STREAMS))} "
                    "or add it to workbench.random.STREAMS"
                )
            out += STREAMS[key]
        elif isinstance(key, int | np.integer) and not isinstance(key, bool) and key >= 0:
            out.append(int(key))
        else:
            raise ConfigError(f"a stream key is a name or a non-negative integer, not {key!r}")
    return tuple(out)


def seed_for(seed: int, *keys: Key) -> int:
    """The integer seed of a stream derived from ``seed`` by names and integer keys.

    Parameters
    ----------
    seed : int
        The parent seed (a run's or a unit's).
    *keys : str or int
        Stream names of :data:`STREAMS` and integers, in order.

    Returns
    -------
    int
        A 32-bit seed: ``SeedSequence(seed, spawn_key=...).generate_state(1)[0]``, so
        ``seed_for(seed, *ints)`` equals ``workbench.studies.unit_seed(seed, *ints)``.
    """
    return int(
        np.random.SeedSequence(_entropy(seed), spawn_key=spawn_key(*keys)).generate_state(1)[0]
    )


def generator(seed: SeedLike, *names: Key) -> np.random.Generator:
    """A generator for the stream ``names`` of ``seed``.

    Parameters
    ----------
    seed : int, SeedSequence, Generator or None
        Without names: anything :func:`numpy.random.default_rng` takes (a generator is
        returned as it is, None draws fresh entropy). With names: an integer seed.
    *names : str or int
        Stream names of :data:`STREAMS` and integers, in order.

    Returns
    -------
    numpy.random.Generator
        With names, ``default_rng(SeedSequence(seed, spawn_key=...))``: it draws from the
        stream's seed sequence itself, which is not the generator of :func:`seed_for`'s
        integer (``generator(seed_for(seed, name))``); each use keeps the one it has.
    """
    if seed is not None and not isinstance(
        seed, int | np.integer | np.random.SeedSequence | np.random.Generator
    ):
        raise ConfigError(f"seed must be an int, a numpy Generator or None, not {seed!r}")
    if not names:
        return np.random.default_rng(seed)
    return np.random.default_rng(
        np.random.SeedSequence(_entropy(seed), spawn_key=spawn_key(*names))
    )


def _entropy(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"a stream is derived from a non-negative integer seed, not {seed!r}")
    return int(seed)
