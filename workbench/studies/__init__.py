"""Canonical experiments, one module each; each cites the study it reproduces.

A :class:`Study` is built from a frozen config dataclass (whose fields are the CLI flags,
widget names and sweep keys) and an optional seed; constructing it does no work.
:meth:`Study.run` draws a seed if none was given, splits the study into independent,
seeded units (one :class:`~workbench.society.Society` each, e.g. one subject in one
condition), runs them concurrently on a thread pool so that the gateway batches their
model calls, and returns a :class:`StudyResult`: the tidy decisions table, the summary
table with the published numbers beside ours, and the run's provenance. Because every
unit has its own seed, the tables do not depend on thread timing.

Every study passes :func:`check_study`.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from workbench.errors import ConfigError
from workbench.provenance import provenance
from workbench.society import Society, draw_seed

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from workbench.llm import Gateway
    from workbench.store import RunRecord

__all__ = [
    "STUDIES",
    "AschStudy",
    "Study",
    "StudyInterrupted",
    "StudyResult",
    "Unit",
    "as_tuple",
    "check_study",
    "get_study",
    "normalise_lists",
    "unit_seed",
]


def as_tuple(value: Any, cast: type) -> tuple:
    """A config field's list value as a tuple of ``cast``.

    Accepts a comma-separated string (as a CLI flag or a text widget gives it), any
    sequence, or a tuple already; a value that does not convert is a one-line
    :class:`ConfigError`.
    """
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    try:
        return tuple(cast(v.strip() if isinstance(v, str) else v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"expected a list of {cast.__name__}, got {value!r}") from None


def normalise_lists(config: Any, **casts: type) -> None:
    """Replace each named field of a frozen config dataclass by :func:`as_tuple` of it."""
    for name, cast in casts.items():
        object.__setattr__(config, name, as_tuple(getattr(config, name), cast))


def unit_seed(seed: int, *key: int) -> int:
    """A seed for one part of a study, derived from the study seed and integer keys.

    Uses :class:`numpy.random.SeedSequence` spawn keys, so parts get independent streams
    and the same key always gets the same seed.
    """
    return int(np.random.SeedSequence(seed, spawn_key=key).generate_state(1)[0])


@dataclass(frozen=True)
class Unit:
    """One independent, seeded society of a study (e.g. one subject in one condition).

    Parameters
    ----------
    index : int
        Position in the study's unit list (results are ordered by it).
    conditions : mapping
        The condition fields of this unit, copied into every result row.
    replicate : int
        Which replicate (subject) of the condition this is.
    seed : int
        The society's seed.
    """

    index: int
    conditions: Mapping[str, Any]
    replicate: int
    seed: int


@dataclass(frozen=True, eq=False)
class StudyResult:
    """What a study run produced.

    Attributes
    ----------
    study : str
        Study name.
    run_id : str
        Unique id of the run.
    seed : int
        The seed used (drawn when none was given).
    config : dataclass
        The study config.
    decisions : pandas.DataFrame
        One row per decision, all units, in unit order.
    summary : pandas.DataFrame
        The study's summary table (with reference numbers where the study has them).
    metadata : dict
        Provenance: seed, config, models, package versions, LLM accounting, timing.
    complete : bool
        False when the run was interrupted; then only finished units are included.
    """

    study: str
    run_id: str
    seed: int
    config: Any
    decisions: pd.DataFrame
    summary: pd.DataFrame
    metadata: dict = field(default_factory=dict)
    complete: bool = True

    def save(self, directory: str | Path) -> dict[str, Path]:
        """Write ``decisions.csv`` and ``summary.csv`` into ``directory``.

        Returns
        -------
        dict of str to pathlib.Path
            The files written, by table name.
        """
        directory = Path(directory)
        paths = {}
        try:
            directory.mkdir(parents=True, exist_ok=True)
            for name in ("decisions", "summary"):
                paths[name] = directory / f"{self.study}_{name}.csv"
                getattr(self, name).to_csv(paths[name], index=False)
        except OSError as exc:  # an unwritable --out is bad input, not a crash
            raise ConfigError(f"cannot write results to {directory}: {exc.strerror}") from None
        return paths

    def to_record(self) -> RunRecord:
        """This result as a :class:`~workbench.store.RunRecord` for the result store."""
        from workbench.store import RunRecord, utc_now

        return RunRecord(
            run_id=self.run_id,
            study=self.study,
            created=utc_now(),
            metadata=self.metadata,
            decisions=self.decisions,
            summary=self.summary,
        )


class StudyInterrupted(KeyboardInterrupt):
    """Ctrl-C during :meth:`Study.run`; ``result`` holds the units that finished."""

    def __init__(self, result: StudyResult) -> None:
        super().__init__("interrupted")
        self.result = result


class Study(ABC):
    """Base class of canonical experiments.

    Parameters
    ----------
    config : dataclass or None
        An instance of the study's :attr:`Config` (its defaults when None).
    seed : int or None
        Seed of the whole run; drawn from the operating system at :meth:`run` when None.

    Notes
    -----
    Subclasses set :attr:`name` and :attr:`Config` and implement :meth:`units`,
    :meth:`build` and :meth:`summarize`; they may override :meth:`reference`,
    :meth:`table` and :meth:`plot`.
    """

    name: ClassVar[str] = "study"
    Config: ClassVar[type] = object

    def __init__(self, config: Any = None, *, seed: int | None = None) -> None:
        self.config = self.Config() if config is None else config
        self.seed = seed

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r}, seed={self.seed!r})"

    @abstractmethod
    def units(self, seed: int) -> list[Unit]:
        """The independent societies of a run with this ``seed``, in result order."""

    @abstractmethod
    def build(self, unit: Unit, gateway: Gateway | None = None, run_id: str = "") -> Society:
        """The society of one unit, ready to :meth:`~workbench.society.Society.run`."""

    @abstractmethod
    def summarize(self, decisions: pd.DataFrame, seed: int) -> pd.DataFrame:
        """The summary table of a decisions table."""

    def models(self) -> list[str]:
        """Model strings this study's persons use (LLM ones trigger a gateway)."""
        return []

    def reference(self) -> pd.DataFrame:
        """Published reference numbers (empty by default)."""
        return pd.DataFrame()

    def table(self, summary: pd.DataFrame) -> pd.DataFrame:
        """The summary as it is printed (the summary itself by default)."""
        return summary

    def plot(self, result: StudyResult) -> Figure:
        """A figure of the result."""
        raise NotImplementedError(f"{self.name} has no plot")

    def run(
        self,
        gateway: Gateway | None = None,
        *,
        progress: bool = False,
        workers: int | None = None,
        stop: threading.Event | None = None,
        on_unit: Callable[[Unit, pd.DataFrame], None] | None = None,
    ) -> StudyResult:
        """Run every unit and summarize.

        Parameters
        ----------
        gateway : Gateway or None
            Where LLM members' requests go; a default gateway when None and the study
            uses an LLM.
        progress : bool
            Show a tqdm progress bar (one tick per unit).
        workers : int or None
            Threads running units at once; the gateway's concurrency by default (1 for
            rule-only studies).
        stop : threading.Event or None
            Cooperative stop for a run in a worker thread (e.g. the Explorer's Stop
            button): once set, no new unit starts, as on Ctrl-C.
        on_unit : callable or None
            Called as ``on_unit(unit, decisions)`` in the calling thread when a unit
            finishes (progress displays).

        Returns
        -------
        StudyResult

        Raises
        ------
        StudyInterrupted
            On Ctrl-C (or ``stop``), after the running units finish; its ``result``
            holds them.
        """
        from tqdm.auto import tqdm

        from workbench.store import new_run_id

        seed = draw_seed() if self.seed is None else int(self.seed)
        run_id = new_run_id(self.name)
        units = self.units(seed)
        uses_llm = any(not m.startswith("rule:") for m in self.models())
        own_gateway = uses_llm and gateway is None
        if own_gateway:
            from workbench.llm import Gateway

            gateway = Gateway()
        if workers is None:
            workers = gateway.config.concurrency if uses_llm else 1
        if workers < 1:
            raise ConfigError(f"workers must be at least 1, got {workers}")
        start = time.perf_counter()
        frames: dict[int, pd.DataFrame] = {}
        interrupted = False
        bar = tqdm(total=len(units), disable=not progress, desc=self.name, unit="unit")
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=self.name)
        futures = {pool.submit(self._run_unit, u, gateway, run_id): u for u in units}
        until = FIRST_EXCEPTION if stop is None and on_unit is None else FIRST_COMPLETED
        try:
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=until)
                for future in done:
                    frames[futures[future].index] = future.result()
                    bar.update()
                    if on_unit is not None:
                        on_unit(futures[future], frames[futures[future].index])
                if stop is not None and stop.is_set() and pending:
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            interrupted = True
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            bar.close()
            if own_gateway:
                gateway.close()
        for future, unit in futures.items():  # units that finished while shutting down
            if unit.index not in frames and future.done() and not future.cancelled():
                if future.exception() is None:
                    frames[unit.index] = future.result()
        result = self._result(seed, run_id, frames, units, gateway, start, not interrupted)
        if interrupted:
            raise StudyInterrupted(result)
        return result

    def _run_unit(self, unit: Unit, gateway: Gateway | None, run_id: str) -> pd.DataFrame:
        society = self.build(unit, gateway, run_id)
        return society.run()

    def _result(self, seed, run_id, frames, units, gateway, start, complete) -> StudyResult:
        ordered = [frames[u.index] for u in units if u.index in frames]
        decisions = pd.concat(ordered, ignore_index=True) if ordered else pd.DataFrame()
        summary = self.summarize(decisions, seed) if ordered else pd.DataFrame()
        metadata = provenance(
            seed=seed,
            config=self.config,
            models=self.models(),
            accounting=gateway.accounting.totals() if gateway is not None else None,
            model=getattr(self.config, "model", None),
            units=len(units),
            units_done=len(ordered),
            complete=complete,
            seconds=round(time.perf_counter() - start, 3),
        )
        return StudyResult(
            self.name, run_id, seed, self.config, decisions, summary, metadata, complete
        )


def check_study(study: Study) -> StudyResult:
    """Assert that ``study`` honours the study contract; return its result.

    The contract: the constructor only stores its parameters; the config is a frozen
    dataclass; units have distinct indices and are derived from the seed alone; a run
    records the seed it used; two runs with the same seed give identical decisions and
    summary tables (run ids aside); every decisions row names its run, step, member and
    the condition fields of its unit. Use a rule-only config: the check runs the study
    twice.

    Raises
    ------
    AssertionError
        Naming the first broken rule.
    """
    name = type(study).__name__
    assert dataclasses.is_dataclass(study.config), f"{name}.config must be a dataclass"
    assert type(study.config).__dataclass_params__.frozen, f"{name}.config must be frozen"
    assert isinstance(study.config, study.Config), f"{name}.config is not a {name}.Config"
    units = study.units(123)
    assert units, f"{name}.units returned nothing"
    assert [u.index for u in units] == list(range(len(units))), f"{name}: unit indices"
    assert units == study.units(123), f"{name}.units must depend on the seed alone"
    seeded = type(study)(study.config, seed=study.seed if study.seed is not None else 5)
    first, second = seeded.run(), seeded.run()
    assert first.seed == second.seed == seeded.seed, f"{name}: the seed was not recorded"
    assert first.metadata["seed"] == first.seed, f"{name}: seed missing from metadata"
    assert first.complete, f"{name}: an uninterrupted run must be complete"
    drop = ["run_id"]
    pd.testing.assert_frame_equal(
        first.decisions.drop(columns=drop), second.decisions.drop(columns=drop)
    )
    pd.testing.assert_frame_equal(first.summary, second.summary)
    assert (first.decisions.run_id == first.run_id).all(), f"{name}: rows must carry run_id"
    for column in ("step", "member", "choice", "valid", *units[0].conditions):
        assert column in first.decisions, f"{name}: decisions lack column {column!r}"
    return first


from workbench.studies.asch import AschStudy  # noqa: E402  (it subclasses Study)
from workbench.studies.conventions import ConventionsStudy  # noqa: E402
from workbench.studies.minority import MinorityStudy  # noqa: E402
from workbench.studies.polarization import PolarizationStudy  # noqa: E402

#: Studies by name, as ``workbench run <name>`` knows them.
STUDIES: dict[str, type[Study]] = {
    AschStudy.name: AschStudy,
    PolarizationStudy.name: PolarizationStudy,
    ConventionsStudy.name: ConventionsStudy,
    MinorityStudy.name: MinorityStudy,
}


def get_study(name: str) -> type[Study]:
    """The study class called ``name``.

    Raises
    ------
    ConfigError
        For an unknown name.
    """
    if name not in STUDIES:
        raise ConfigError(f"unknown study {name!r}; choose one of {', '.join(STUDIES)}")
    return STUDIES[name]
