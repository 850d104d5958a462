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
import math
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from workbench.errors import ConfigError, WorkbenchError
from workbench.provenance import provenance
from workbench.registry import Registry
from workbench.society import Society, draw_seed
from workbench.society.checks import invalid_share
from workbench.society.persons import is_rule

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from workbench.llm import Gateway
    from workbench.society import Person, Situation, Task
    from workbench.store import RunRecord

__all__ = [
    "STUDIES",
    "AschStudy",
    "Study",
    "StudyFailed",
    "StudyInterrupted",
    "StudyResult",
    "RoundEvent",
    "Unit",
    "check_study",
    "get_study",
    "load_plugins",
    "register_study",
    "unit_seed",
]


def unit_seed(seed: int, *key: int | str) -> int:
    """A seed for one part of a study, derived from the study seed and keys.

    The keys are stream names of :data:`workbench.random.STREAMS` or integers; see
    :func:`workbench.random.seed_for`, which does the work (parts get independent streams
    and the same key always gets the same seed).
    """
    from workbench.random import seed_for

    return seed_for(seed, *key)


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
        Provenance: seed, config, models, package versions, LLM accounting, timing,
        ``status`` and, for a run that did not complete, ``error``.
    calls : list of dict
        The run's model calls with their replies, as cassette entries: what replays it.
    status : {"complete", "incomplete", "failed"}
        ``"incomplete"``: the run was interrupted or stopped by a model error or its
        deadline, and only finished units are included; ``"failed"``: every unit ran,
        but more of the model's decisions were invalid than the run allows.
    """

    study: str
    run_id: str
    seed: int
    config: Any
    decisions: pd.DataFrame
    summary: pd.DataFrame
    metadata: dict = field(default_factory=dict)
    status: str = "complete"
    calls: list = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Whether every unit ran and the decisions are fit to summarise."""
        return self.status == "complete"

    @property
    def error(self) -> str | None:
        """Why the run is not complete (None when it is)."""
        return self.metadata.get("error")

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
            calls=self.calls,
        )


class StudyInterrupted(KeyboardInterrupt):
    """Ctrl-C during :meth:`Study.run`; ``result`` holds the units that finished."""

    def __init__(self, result: StudyResult) -> None:
        super().__init__("interrupted")
        self.result = result


class StudyFailed(WorkbenchError):
    """A run that did not complete: its model failed, it passed its deadline, or too
    many decisions were invalid. ``result`` holds what finished (``result.status`` is
    ``"incomplete"`` or ``"failed"``); the message is one line saying why."""

    def __init__(self, result: StudyResult) -> None:
        super().__init__(result.error or f"the run is {result.status}")
        self.result = result


#: Share of a run's model decisions that may be invalid before the run is "failed".
MAX_INVALID = 0.2


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
    Subclasses set :attr:`name`, :attr:`Config` and :attr:`example` and implement
    :meth:`units`, :meth:`build` and :meth:`summarize`; they may override :meth:`play`,
    :meth:`reference`, :meth:`table` and :meth:`plot`, and register themselves with
    ``@register_study``. See ``docs/adding-a-study.md``.
    """

    name: ClassVar[str] = "study"
    Config: ClassVar[type] = object
    #: A small, rule-only setting (field name -> value) that runs in about a second: what
    #: the conformance suite (``tests/test_conformance.py``) runs, and a user's first try.
    example: ClassVar[Mapping[str, Any]] = {}

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

    def society(
        self,
        unit: Unit,
        persons: Sequence[Person],
        task: Task,
        situation: Situation,
        gateway: Gateway | None = None,
        run_id: str = "",
        *,
        conditions: Mapping[str, Any] | None = None,
        cls: type[Society] = Society,
        **extra: Any,
    ) -> Society:
        """A society for :meth:`build` to return: seeded by ``unit``, its decision rows
        tagged with the unit's conditions and ``run_id``.

        Parameters
        ----------
        unit : Unit
            The unit; its seed seeds the society.
        persons, task, situation
            As in :class:`~workbench.society.Society`.
        gateway : Gateway or None
            The road to the model.
        run_id : str
            The run the decisions belong to.
        conditions : mapping, optional
            The columns every decision row carries (default ``unit.conditions``).
        cls : type, default Society
            The society class (a subclass takes its own keywords in ``extra``).
        **extra
            Further keywords of ``cls`` (``roles``, ``lean``, ...).

        Returns
        -------
        Society
        """
        return cls(
            persons,
            task,
            situation,
            seed=unit.seed,
            gateway=gateway,
            conditions=unit.conditions if conditions is None else conditions,
            run_id=run_id,
            **extra,
        )

    @abstractmethod
    def summarize(self, decisions: pd.DataFrame, seed: int) -> pd.DataFrame:
        """The summary table of a decisions table.

        Parameters
        ----------
        decisions : pandas.DataFrame
            The decisions table of a run (one row per decision).
        seed : int
            The run's seed, for a summary that resamples (a bootstrap); a study's
            override documents only its returned table and how it uses the seed.
        """

    def models(self) -> list[str]:
        """Model strings this study's persons use (LLM ones trigger a gateway)."""
        return []

    def reference(self) -> pd.DataFrame:
        """Published reference numbers (empty by default)."""
        return pd.DataFrame()

    def table(self, summary: pd.DataFrame) -> pd.DataFrame:
        """The summary as it is printed (the summary itself by default)."""
        return summary

    def plot(self, result: StudyResult) -> Figure | None:
        """A figure of the result, or None for a study without one (the default)."""
        return None

    def run(
        self,
        gateway: Gateway | None = None,
        *,
        progress: bool = False,
        workers: int | None = None,
        stop: threading.Event | None = None,
        on_unit: Callable[[Unit, pd.DataFrame], None] | None = None,
        on_round: Callable[[RoundEvent], None] | None = None,
        deadline: float | None = None,
        max_invalid: float = MAX_INVALID,
    ) -> StudyResult:
        """Run every unit and summarize.

        Parameters
        ----------
        gateway : Gateway or None
            Where LLM members' requests go; a default gateway when None and the study
            uses an LLM.
        progress : bool
            Show a tqdm progress bar counting decisions, with an ETA: its total is the
            planned decisions (:meth:`planned_rounds` x the members of each unit, model
            members only when the study uses a model), refined as units start and end;
            it moves after every round.
        workers : int or None
            Threads running units at once; the gateway's concurrency by default (1 for
            rule-only studies).
        stop : threading.Event or None
            Cooperative stop for a run in a worker thread (e.g. the Explorer's Stop
            button): once set, model calls in flight are cancelled and no new unit
            starts, as on Ctrl-C.
        on_unit : callable or None
            Called as ``on_unit(unit, decisions)`` in the calling thread when a unit
            finishes (progress displays).
        on_round : callable or None
            Called as ``on_round(event)`` with a :class:`RoundEvent` after every round
            of every unit (live displays). It runs in the worker thread of that unit,
            while its society waits, so ``event.society`` may be read safely; keep it
            short (it delays that unit) and do not write to the society.
        deadline : float or None
            Seconds the whole run may take; past them its model calls are cancelled and
            the run ends as incomplete, keeping the finished units (``--deadline``).
        max_invalid : float
            Share of the model's decisions that may be invalid; above it the run is
            ``"failed"`` (``--max-invalid``; rule decisions never count).

        Returns
        -------
        StudyResult
            A complete run.

        Raises
        ------
        StudyInterrupted
            On Ctrl-C (or ``stop``): model calls in flight are cancelled, units that
            finished are kept in its ``result`` (status ``"incomplete"``).
        StudyFailed
            When a model error (bad key, unknown model, no server) or the deadline ended
            the run (``result.status == "incomplete"``, finished units kept), or when
            more than ``max_invalid`` of the model's decisions were invalid
            (``"failed"``, all units kept).
        """
        from tqdm.auto import tqdm

        from workbench.store import new_run_id

        seed = draw_seed() if self.seed is None else check_seed(self.seed)
        check_limits(deadline, max_invalid)
        run_id = new_run_id(self.name)
        units = self.units(seed)
        uses_llm = any(not is_rule(m) for m in self.models())
        own_gateway = uses_llm and gateway is None
        if own_gateway:
            from workbench.llm import Gateway

            gateway = Gateway()
        if gateway is not None:
            gateway.reset()
        if workers is None:
            workers = gateway.config.concurrency if uses_llm else 1
            if _local_sequential(self.models()):
                workers = 1  # units one after another: the embedded model's fixed order
        if workers < 1:
            raise ConfigError(f"workers must be at least 1, got {workers}")
        start = time.perf_counter()
        frames: dict[int, pd.DataFrame] = {}
        status, error, cause = "complete", None, None
        tracker = _Progress(self, units, uses_llm, on_round, start)
        bar = tqdm(total=0, disable=not progress, desc=self.name, unit="decision")
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=self.name)
        futures = {
            pool.submit(self._run_unit, u, gateway, run_id, tracker=tracker): u for u in units
        }
        try:
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                for future in done:
                    unit = futures[future]
                    frames[unit.index] = future.result()
                    tracker.finished(unit, frames[unit.index])
                    if on_unit is not None:
                        on_unit(unit, frames[unit.index])
                tracker.show(bar)
                if stop is not None and stop.is_set() and pending:
                    raise KeyboardInterrupt
                if deadline is not None and time.perf_counter() - start > deadline and pending:
                    raise RunDeadline(f"the run passed its deadline of {deadline:g} s")
        except KeyboardInterrupt:
            status, error = "incomplete", "interrupted"
        except WorkbenchError as exc:  # a model error or the deadline: the run cannot go on
            status, error, cause = "incomplete", str(exc).splitlines()[0], exc
        finally:
            if status != "complete" or sys.exc_info()[0] is not None:
                if gateway is not None:
                    gateway.halt(error or "the run stopped")
            pool.shutdown(wait=True, cancel_futures=True)
            if status == "complete" and sys.exc_info()[0] is None:
                tracker.show(bar)
            bar.close()
            if gateway is not None:
                gateway.resume()
            if own_gateway:
                gateway.close()
        for future, unit in futures.items():  # units that finished while shutting down
            if unit.index not in frames and future.done() and not future.cancelled():
                if future.exception() is None:
                    frames[unit.index] = future.result()
        result = self._result(seed, run_id, frames, units, gateway, start, status, error)
        if status == "complete":
            invalid, asked = invalid_share(result.decisions)
            if asked and invalid / asked > max_invalid:
                error = (
                    f"{invalid} of {asked} model decisions were invalid "
                    f"({invalid / asked:.0%}, more than --max-invalid {max_invalid:.0%}); "
                    "the model did not answer with an option: check it with a small run, "
                    "or another model"
                )
                metadata = {**result.metadata, "status": "failed", "complete": False}
                result = dataclasses.replace(
                    result, status="failed", metadata={**metadata, "error": error}
                )
        if error == "interrupted":
            raise StudyInterrupted(result)
        if error is not None:
            raise StudyFailed(result) from cause  # the cause keeps the full message
        return result

    def play(self, society: Society, unit: Unit) -> pd.DataFrame:
        """Play one unit's society and return its decisions table.

        The hook for a study whose units do more than :meth:`Society.run` (scripted
        opening rounds, a stop rule checked between steps): override it, never
        :meth:`run`. The default runs the society for its task's rounds.
        """
        return society.run()

    def planned_rounds(self, unit: Unit, society: Society) -> int:
        """Rounds (society steps) ``unit`` is expected to play: the progress bar's plan.

        The default is one pass over the task's rounds, what the default :meth:`play`
        does; a study whose :meth:`play` stops on a rule returns its upper bound (the
        bar's total shrinks when the unit ends early).
        """
        return len(society.task)

    def _run_unit(
        self,
        unit: Unit,
        gateway: Gateway | None,
        run_id: str,
        *,
        tracker: _Progress | None = None,
    ) -> pd.DataFrame:
        society = self.build(unit, gateway, run_id)
        if tracker is not None:
            tracker.watch(unit, society)
        return self.play(society, unit)

    def _result(
        self, seed, run_id, frames, units, gateway, start, status, error=None
    ) -> StudyResult:
        ordered = [frames[u.index] for u in units if u.index in frames]
        decisions = pd.concat(ordered, ignore_index=True) if ordered else pd.DataFrame()
        summary = self.summarize(decisions, seed) if ordered else pd.DataFrame()
        extra = {} if error is None else {"error": error}
        metadata = provenance(
            seed=seed,
            config=self.config,
            models=self.models(),
            accounting=gateway.accounting.totals() if gateway is not None else None,
            model=getattr(self.config, "model", None),
            units=len(units),
            units_done=len(ordered),
            complete=status == "complete",
            status=status,
            seconds=round(time.perf_counter() - start, 3),
            **extra,
        )
        calls = gateway.run_calls() if gateway is not None else []
        return StudyResult(
            self.name, run_id, seed, self.config, decisions, summary, metadata, status, calls
        )


@dataclass(frozen=True)
class RoundEvent:
    """What :meth:`Study.run` tells its ``on_round`` callback after each round of a unit.

    Attributes
    ----------
    unit : Unit
        The unit that played the round.
    label : str
        The unit in words: its condition fields and replicate (``"majority=3 #1"``).
    round : int
        The round (society step, 1-based) just played.
    rows : int
        Rows in this unit's decisions table so far (every member, rule ones too).
    decisions_done : int
        Decisions counted so far in the whole run (model decisions when the study uses a
        model, else every decision): what the progress bar shows.
    decisions_planned : int
        The run's planned decisions, the same way counted (an estimate until every unit
        has started; exact once every unit has finished).
    units_done : int
        Units finished so far (this one not included).
    units : int
        Units in the run.
    elapsed : float
        Seconds since the run started.
    society : Society
        The unit's society, paused after this round: ``society.decisions`` is its table
        so far, ``event.new_rows()`` the rows of this round.
    first_row : int
        Index of this round's first row in the unit's decisions table.
    """

    unit: Unit
    label: str
    round: int
    rows: int
    decisions_done: int
    decisions_planned: int
    units_done: int
    units: int
    elapsed: float
    society: Society = field(repr=False)
    first_row: int = 0

    @property
    def eta(self) -> float | None:
        """Seconds the run still needs at its rate so far (None before any decision)."""
        if self.decisions_done <= 0:
            return None
        left = max(self.decisions_planned - self.decisions_done, 0)
        return self.elapsed / self.decisions_done * left

    def new_rows(self) -> pd.DataFrame:
        """The decisions rows this round added to the unit's table."""
        return self.society.decisions.iloc[self.first_row : self.rows]


def unit_label(unit: Unit) -> str:
    """A unit in words: its condition fields and replicate, e.g. ``"majority=3 #1"``."""
    parts = [f"{k}={_cell_text(v)}" for k, v in unit.conditions.items()]
    return " ".join([*parts, f"#{unit.replicate + 1}"])


def _cell_text(value: Any) -> str:
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value) or "none"
    return str(value)


class _Progress:
    """Decisions done and planned over the units of one run, for the bar and ``on_round``.

    A unit's plan is its counted members x :meth:`Study.planned_rounds` once it is built
    (then, after each round, what it did so far plus its mean per round over the rounds
    left; exactly what it did once it ends); a unit not yet built is planned as the mean
    of those that are. Units run in worker threads; counts are kept under a lock.
    """

    def __init__(self, study: Study, units: list[Unit], models_only: bool, on_round, start):
        self.study = study
        self.units = len(units)
        self.models_only = models_only
        self.on_round = on_round
        self.start = start
        self.lock = threading.Lock()
        self.planned: dict[int, int] = {}
        self.done: dict[int, int] = {}
        self.units_done = 0

    def watch(self, unit: Unit, society: Society) -> None:
        """Count ``society``'s decisions after each of its rounds (wraps its ``step``)."""
        counted = {
            m.unique_id for m in society.members if not (self.models_only and m.person.is_rule)
        }
        rounds = max(int(self.study.planned_rounds(unit, society)), 0)
        table = society.datacollector.tables["decisions"]
        with self.lock:
            self.planned[unit.index] = len(counted) * rounds
            self.done[unit.index] = 0
        state = {"rows": len(table["member"]), "rounds": 0}
        step = society.step
        label = unit_label(unit)

        def counted_step() -> None:
            step()
            members = table["member"]
            first = state["rows"]
            new = sum(1 for i in range(first, len(members)) if members[i] in counted)
            state["rows"], state["rounds"] = len(members), state["rounds"] + 1
            with self.lock:
                done = self.done[unit.index] = self.done[unit.index] + new
                per_round = done / state["rounds"]
                left = max(rounds - state["rounds"], 0)
                self.planned[unit.index] = max(done + round(per_round * left), done)
                done_all, planned_all = self._totals()
                units_done = self.units_done
            if self.on_round is not None:
                self.on_round(
                    RoundEvent(
                        unit,
                        label,
                        society.steps,
                        len(members),
                        done_all,
                        planned_all,
                        units_done,
                        self.units,
                        time.perf_counter() - self.start,
                        society,
                        first,
                    )
                )

        society.step = counted_step  # Society.run and every schedule's play call step()

    def finished(self, unit: Unit, decisions: pd.DataFrame) -> None:
        """``unit`` ended: its plan becomes what it did."""
        with self.lock:
            self.units_done += 1
            if unit.index in self.done:
                self.planned[unit.index] = self.done[unit.index]
            else:  # a study whose _run_unit does not build through watch: count rows
                rows = len(decisions)
                if self.models_only and "method" in decisions:
                    rows = int((decisions["method"] != "rule").sum())
                self.planned[unit.index] = self.done[unit.index] = rows

    def _totals(self) -> tuple[int, int]:
        done = sum(self.done.values())
        known = list(self.planned.values())
        unknown = self.units - len(known)
        mean = sum(known) / len(known) if known else 0
        return done, sum(known) + round(mean * unknown)

    def show(self, bar: Any) -> None:
        """Bring the tqdm ``bar`` up to date (from the calling thread)."""
        with self.lock:
            done, planned = self._totals()
        if bar.disable or (bar.n == done and bar.total == planned):
            return
        bar.total = max(planned, done)
        bar.n = done
        bar.refresh()


def _local_sequential(models: list[str]) -> bool:
    from workbench.llm import local

    return any(m.startswith(f"{local.PROVIDER}/") for m in models) and local.sequential()


class RunDeadline(WorkbenchError):
    """A run passed its ``deadline``."""


def check_limits(deadline: float | None, max_invalid: float) -> None:
    """A one-line :class:`ConfigError` unless the run limits of :meth:`Study.run` are sane."""
    if deadline is not None and not (math.isfinite(deadline) and deadline > 0):
        raise ConfigError(f"--deadline must be a positive number of seconds, got {deadline}")
    if not (0 <= max_invalid <= 1):
        raise ConfigError(f"--max-invalid must be a share from 0 to 1, got {max_invalid}")


def check_seed(seed: Any) -> int:
    """``seed`` as an int from 0 to 2**63 - 1, or a one-line :class:`ConfigError`."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ConfigError(f"--seed must be a whole number, got {seed!r}")
    if not 0 <= int(seed) < 2**63:
        raise ConfigError(f"--seed must be from 0 to 2**63 - 1, got {seed}")
    return int(seed)


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


#: Studies by name, as ``workbench run <name>``, sweeps and the Explorer know them. A study
#: module registers its class with ``@register_study``: every module of this package is
#: imported on the first read, and so are the plugin modules (see :func:`load_plugins`).
STUDIES: Registry[type[Study]] = Registry("study", key=lambda cls: cls.name)
register_study = STUDIES.register

#: Environment variable naming plugin modules: module names or ``.py`` paths, separated by
#: commas (or the path separator), imported before the study registry is first read.
PLUGINS_ENV = "WORKBENCH_PLUGINS"
#: Entry-point group of installed packages that add studies or rules.
ENTRY_POINTS = "workbench.plugins"


def load_plugins() -> None:
    """Import every study module of this package, then the plugins.

    A plugin is a module that registers studies or rules when imported: one named in
    ``$WORKBENCH_PLUGINS`` (a module name or a ``.py`` file) or one an installed package
    declares under the ``workbench.plugins`` entry-point group. A plugin that cannot be
    imported is a one-line :class:`ConfigError` naming it.
    """
    import importlib
    import importlib.metadata
    import importlib.util
    import os
    import pkgutil
    import re

    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    named = [p.strip() for p in re.split(rf"[,{os.pathsep}]", os.environ.get(PLUGINS_ENV, ""))]
    for entry in importlib.metadata.entry_points(group=ENTRY_POINTS):
        named.append(entry.value)
    for name in filter(None, named):
        try:
            if name.endswith(".py"):
                path = Path(name).expanduser().resolve()
                spec = importlib.util.spec_from_file_location(f"workbench_plugin_{path.stem}", path)
                if spec is None or spec.loader is None or not path.is_file():
                    raise FileNotFoundError(name)
                module = importlib.util.module_from_spec(spec)
                sys.modules[spec.name] = module
                spec.loader.exec_module(module)
            else:
                importlib.import_module(name)
        except Exception as exc:  # a broken plugin: one line, not a traceback
            raise ConfigError(
                f"plugin {name!r} (from ${PLUGINS_ENV} or the {ENTRY_POINTS} entry points) "
                f"could not be imported: {type(exc).__name__}: {exc}"
            ) from None


STUDIES._loader = load_plugins


def get_study(name: str) -> type[Study]:
    """The study class called ``name``.

    Raises
    ------
    ConfigError
        For an unknown name.
    """
    return STUDIES.get(name)


from workbench.studies.asch import AschStudy  # noqa: E402  (it subclasses Study)
from workbench.studies.conventions import ConventionsStudy  # noqa: E402
from workbench.studies.minority import MinorityStudy  # noqa: E402
from workbench.studies.polarization import PolarizationStudy  # noqa: E402

for _study in (AschStudy, PolarizationStudy, ConventionsStudy, MinorityStudy):
    STUDIES.register(_study)
