"""Sweeps: every (condition x seed) of a study, on any executor, resumable.

A :class:`Sweep` crosses a grid of config values with a list of seeds. Each combination is
one *run*: the study built from the base config with the grid values replaced, run with
that seed, and stored as one :class:`~workbench.store.RunRecord`. The run id is derived
from (study, config, seed), so the same sweep always names its runs the same way:

- **resumable**: runs already in the result store are skipped, so re-running a sweep
  that was interrupted (Ctrl-C, a crash, ``kill -9``) only does what is missing;
- **never half a run**: each run is written in one SQLite transaction the moment it
  finishes, in the process that drives the sweep; a run that did not finish is not there;
- **shared stores**: several sweeps may write to one store at once (SQLite's write-ahead
  log queues them); a run finished by another process is counted, not written twice.

Runs go through any :class:`concurrent.futures.Executor`:

- none (the default): one after the other, in this process;
- :class:`~concurrent.futures.ProcessPoolExecutor`: local processes (use the ``spawn``
  start method, as :func:`executor` does);
- Dask distributed: ``Client(address).get_executor()`` to join a cluster, or
  ``executor("dask", workers=2)`` for an embedded ``LocalCluster`` (the optional extra
  ``interactionist-workbench[distributed]``). Every worker needs ``workbench`` installed.

Study code defined in a notebook works with every executor: each run travels to its
worker serialised with ``cloudpickle`` (installed with Dask), which sends classes defined
in ``__main__`` by value. Without cloudpickle, local processes need the study importable
from a module (plain :mod:`pickle` sends classes by reference).

Examples
--------
>>> from workbench.sweep import Sweep, executor
>>> sweep = Sweep("asch", {"majority": [1, 3]}, seeds=4,
...               config=AschConfig(model="rule:conformist:0.3", subjects=2))
>>> result = sweep.run(store="sweep.sqlite")  # doctest: +SKIP
>>> with executor("dask", workers=2) as pool:  # doctest: +SKIP
...     result = sweep.run(executor=pool, store="sweep.sqlite")
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import pickle
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from workbench import config
from workbench.errors import ConfigError, WorkbenchError
from workbench.provenance import config_dict

__all__ = [
    "EXECUTORS",
    "HEADLINES",
    "Headline",
    "Sweep",
    "SweepError",
    "SweepResult",
    "SweepRun",
    "executor",
    "parse_grid",
    "run_id_for",
]

#: Executor kinds known to :func:`executor` and ``workbench sweep --executor``.
EXECUTORS = ("serial", "process", "dask")


class SweepError(WorkbenchError):
    """A run of a sweep failed; the runs that finished are stored."""


# -- grids ----------------------------------------------------------------------------


def _value(value: Any, spec: Any, key: str) -> Any:
    """One grid value of a field; one value of a list field is a list of one."""
    try:
        if spec.many and (isinstance(value, str) or not isinstance(value, list | tuple)):
            return config.coerce([value], spec)
        return config.coerce(value, spec)
    except ConfigError as exc:
        raise ConfigError(f"grid key {key!r}: {str(exc).removeprefix(spec.flag + ' ')}") from None


def parse_grid(specs: Iterable[str], config_cls: type) -> dict[str, list[Any]]:
    """Parse ``key=v1,v2`` grid specs against the fields of ``config_cls``.

    Parameters
    ----------
    specs : iterable of str
        One ``key=v1,v2,...`` per swept field; the key may use ``-`` for ``_``. Each
        value is read by :func:`workbench.config.parse` (``none`` for an optional field;
        one value of a list field is a list of one; ``\\,`` is a comma inside a value).
    config_cls : type
        The study's config dataclass.

    Returns
    -------
    dict of str to list
        Field name -> values, in the order given.

    Raises
    ------
    ConfigError
        For a spec without ``=``, an unknown or repeated key, or an empty or ill-typed value.
    """
    fields = config.fields_of(config_cls)
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        if not isinstance(spec, str) or "=" not in spec:
            raise ConfigError(f"bad grid {spec!r}: write key=value1,value2")
        key, _, values = spec.partition("=")
        key = key.strip().replace("-", "_")
        _check_key(key, fields, config_cls)
        if key in grid:
            raise ConfigError(f"grid key {key!r} is given twice; list all its values once")
        parts = config.split(values, keep_empty=True)
        if not all(parts):
            raise ConfigError(f"bad grid {spec!r}: every value between commas must be non-empty")
        grid[key] = [_value(p, fields[key], key) for p in parts]
    return grid


def _check_key(key: str, fields: Mapping[str, Any], config_cls: type) -> None:
    if key not in fields:
        raise ConfigError(
            f"unknown grid key {key!r}; {config_cls.__name__} has {', '.join(fields) or 'none'}"
        )


def _normalise_grid(grid: Any, config_cls: type) -> dict[str, list[Any]]:
    if grid is None:
        return {}
    if isinstance(grid, str):
        grid = [grid]
    if not isinstance(grid, Mapping):
        return parse_grid(grid, config_cls)
    fields = config.fields_of(config_cls)
    out: dict[str, list[Any]] = {}
    for key, values in grid.items():
        if not isinstance(key, str):
            raise ConfigError(f"grid keys must be field names, got {key!r}")
        key = key.replace("-", "_")
        _check_key(key, fields, config_cls)
        if isinstance(values, str) or not isinstance(values, Iterable):
            values = [values]
        values = [_value(v, fields[key], key) for v in values]
        if not values:
            raise ConfigError(f"grid key {key!r} has no values")
        out[key] = values
    return out


def _normalise_seeds(seeds: int | Iterable[int]) -> list[int]:
    if isinstance(seeds, bool):
        raise ConfigError(f"seeds must be a count or a list of integers, got {seeds!r}")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ConfigError(f"seeds must be at least 1, got {seeds}")
        return list(range(seeds))
    try:
        out = [int(s) for s in seeds]
    except (TypeError, ValueError):
        raise ConfigError(f"seeds must be a count or a list of integers, got {seeds!r}") from None
    if not out:
        raise ConfigError("give at least one seed")
    if any(s < 0 for s in out) or len(set(out)) != len(out):
        raise ConfigError(f"seeds must be distinct non-negative integers, got {out}")
    return out


def run_id_for(study: str, config: Any, seed: int) -> str:
    """The deterministic id of the run of ``study`` with ``config`` and ``seed``.

    ``<study>-<16 hex digits of sha256 over the study name, the config as plain data and
    the seed>``: the same run always gets the same id, a different one another id.
    """
    payload = json.dumps(
        {"study": study, "config": config_dict(config), "seed": int(seed)},
        sort_keys=True,
        separators=(",", ":"),
        default=repr,
    )
    return f"{study}-{hashlib.sha256(payload.encode()).hexdigest()[:16]}"


# -- the sweep ------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep: grid values, seed, the resulting config and the run id."""

    run_id: str
    conditions: Mapping[str, Any]
    seed: int
    config: Any


@dataclass(frozen=True)
class _Job:
    """What a worker needs to do one run (serialised with cloudpickle)."""

    study_cls: type
    config: Any
    seed: int
    run_id: str
    conditions: Mapping[str, Any]
    gateway: Any  # GatewayConfig or None
    limits: Mapping[str, Any] = field(default_factory=dict)  # Study.run's deadline, max_invalid


@dataclass(eq=False)
class SweepResult:
    """What a sweep did.

    Attributes
    ----------
    study : str
        Study name.
    runs : pandas.DataFrame
        One row per run in grid order: ``run_id``, the grid keys, ``seed``, ``status``
        (``"ran"``: done now; ``"stored"``: found complete in the store, done earlier or
        by another process; ``"failed"``: done now, but too many of its model decisions
        were invalid; ``"incomplete"``: stopped by a model error or its deadline, what
        finished is stored; ``"pending"``: not done, because the sweep stopped), ``error``
        (why a run is not complete) and ``seconds``. Failed and incomplete runs are
        stored with that status and done again when the sweep is run again.
    store : ResultStore or None
        Where the runs are.
    records : dict
        Run id -> :class:`~workbench.store.RunRecord` of the runs done now (kept only
        when there is no store).
    seconds : float
        Wall time of the sweep.
    """

    study: str
    runs: pd.DataFrame
    store: Any = None
    records: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        """Whether every run of the sweep is done and complete."""
        return bool(self.runs.status.isin(_DONE).all())

    def _record(self, run_id: str):
        if run_id in self.records:
            return self.records[run_id]
        if self.store is None:
            raise WorkbenchError(f"run {run_id} was not done in this sweep and there is no store")
        return self.store.load(run_id)

    def table(self, name: str = "decisions") -> pd.DataFrame:
        """All runs' ``decisions`` (or ``summary``) tables, with the grid keys and seed.

        Grid columns are added where the study's own table does not already have them.
        """
        frames = []
        keys = [c for c in self.runs.columns if c not in _RUN_COLUMNS]
        for row in self.runs[self.runs.status.isin(_DONE)].itertuples(index=False):
            frame = getattr(self._record(row.run_id), name)
            if frame is None:
                continue
            frame = frame.copy()
            for key in keys:
                if key not in frame.columns:
                    value = getattr(row, key)
                    frame[key] = [value] * len(frame)
            if "run_id" not in frame.columns:
                frame["run_id"] = row.run_id
            frames.append(frame)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def decisions(self) -> pd.DataFrame:
        """Every decision of every run done, one row each."""
        return self.table("decisions")

    def summaries(self) -> pd.DataFrame:
        """Every run's summary table, stacked."""
        return self.table("summary")

    def headline(self) -> tuple[pd.DataFrame, str]:
        """The study's headline measure per condition, with its interval.

        A condition is a combination of the grid values and of the study's own summary
        conditions (Asch's majority sizes, the populations of the conventions study, ...).
        With one seed the interval is the run's own (e.g. Asch's 95% bootstrap over
        subjects); with several it is a 95% t-interval of the measure over the seeds.

        Returns
        -------
        (pandas.DataFrame, str)
            The table (the condition columns that vary, ``seeds``, the measure's mean and
            ``interval``), and a line naming the measure and its interval.
        """
        spec = headline_of(self.study)
        summaries = self.summaries()
        if not spec.measure and not summaries.empty:  # a study without a headline
            floats = [c for c in summaries if pd.api.types.is_float_dtype(summaries[c])]
            other = summaries.columns.difference([*floats, "seed", "run_id"])
            if floats:
                spec = Headline(floats[0], floats[0], keys=tuple(other))
        if summaries.empty or spec.measure not in summaries:
            return pd.DataFrame(), f"no {spec.measure} to show (no complete run)"
        if spec.last is not None and spec.last in summaries:
            summaries = summaries[summaries[spec.last] == summaries[spec.last].max()]
        grid = [c for c in self.runs.columns if c not in (*_RUN_COLUMNS, "seed")]
        keys = list(dict.fromkeys([*grid, *(k for k in spec.keys if k in summaries)]))
        keys = [k for k in keys if k in grid or summaries[k].nunique(dropna=False) > 1]
        rows = []
        groups = summaries.groupby(keys, sort=False, dropna=False) if keys else [((), summaries)]
        for values, group in groups:
            values = values if isinstance(values, tuple) else (values,)
            row = dict(zip(keys, values, strict=True))
            measure = group[spec.measure].astype(float)
            row["seeds"] = int(group["seed"].nunique()) if "seed" in group else len(group)
            row[spec.measure] = _fmt(measure.mean())
            low, high = _interval(group, measure, spec)
            row["interval"] = "-" if low is None else f"{_fmt(low)}-{_fmt(high)}"
            rows.append(row)
        several = any(r["seeds"] > 1 for r in rows)
        interval = "95% t-interval over seeds" if several else (spec.interval or "none")
        note = f"{spec.measure}: {spec.label} (mean over seeds); interval: {interval}"
        return pd.DataFrame(rows), note


_RUN_COLUMNS = ("run_id", "status", "error", "seconds")


@dataclass(frozen=True)
class Headline:
    """The measure a sweep's closing table shows for a study.

    ``measure`` is a summary column, ``low`` and ``high`` the columns of its interval
    within one run (None: it has none), ``keys`` the summary's condition columns,
    ``last`` a column whose largest value alone is shown (the final step).
    """

    measure: str
    label: str
    low: str | None = None
    high: str | None = None
    interval: str | None = None
    keys: tuple[str, ...] = ()
    last: str | None = None
    bounds: tuple[float, float] | None = None  # what the measure can be (a share: 0, 1)


#: Headline measures of the canonical studies; a study may set its own as the class
#: attribute ``headline`` (a :class:`Headline`).
HEADLINES = {
    "asch": Headline(
        "conformity",
        "share of critical answers repeating the wrong majority",
        "ci_low",
        "ci_high",
        "95% bootstrap CI over subjects",
        ("norm", "persona", "majority", "ally"),
        bounds=(0.0, 1.0),
    ),
    "conventions": Headline(
        "rounds",
        "median population rounds to convergence",
        "rounds_q1",
        "rounds_q3",
        "quartiles over runs",
        ("population", "topology", "members", "names"),
    ),
    "minority": Headline(
        "p_takeover",
        "share of runs the committed minority took over",
        keys=("population", "committed"),
        bounds=(0.0, 1.0),
    ),
    "polarization": Headline(
        "clusters",
        "opinion clusters at the end",
        keys=("population", "topic", "persona", "norm", "topology"),
    ),
    "thresholds": Headline("joined", "members who joined at the end", keys=("condition",)),
    "sandbox": Headline(
        "share",
        "share of members on each option at the last step",
        keys=("option",),
        last="step",
        bounds=(0.0, 1.0),
    ),
}


def headline_of(study: str | type) -> Headline:
    """The :class:`Headline` of a study (by name or class): its own, the table's, or the
    first numeric column of its summary."""
    from workbench.studies import get_study

    cls = get_study(study) if isinstance(study, str) else study
    own = getattr(cls, "headline", None)
    if isinstance(own, Headline):
        return own
    return HEADLINES.get(cls.name) or Headline("", "")


def _interval(group: pd.DataFrame, measure: pd.Series, spec: Headline):
    clean = measure.dropna()
    if len(clean) > 1:
        from scipy import stats

        half = stats.t.ppf(0.975, len(clean) - 1) * clean.std(ddof=1) / len(clean) ** 0.5
        low, high = clean.mean() - half, clean.mean() + half
        if spec.bounds is not None:  # a share's interval stays within 0 and 1
            low, high = max(low, spec.bounds[0]), min(high, spec.bounds[1])
        return low, high
    if len(group) == 1 and spec.low in group and spec.high in group:
        low, high = group[spec.low].iloc[0], group[spec.high].iloc[0]
        if pd.notna(low) and pd.notna(high):
            return float(low), float(high)
    return None, None


def _fmt(value: float) -> str:
    if value is None or pd.isna(value):
        return "nan"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


class Sweep:
    """Every combination of grid values and seeds of one study.

    Parameters
    ----------
    study : str, Study subclass or Study instance
        A registered study name (``"asch"``), a :class:`~workbench.studies.Study` subclass
        (one defined in a notebook works), or an instance whose config is the base.
    grid : mapping or sequence of str, optional
        Field name -> values (``{"majority": [1, 3]}``), or ``"key=v1,v2"`` strings. Each
        combination replaces those fields of the base config. No grid: the base config alone.
    seeds : int or iterable of int
        A count ``n`` (seeds ``0 .. n-1``) or the seeds themselves. Every condition runs
        with every seed.
    config : dataclass, optional
        The base config (the study's defaults, or the instance's config, when None).
    gateway : GatewayConfig, optional
        How LLM runs reach models; each run gets its own gateway built from it (so its
        accounting is its own). The study's default gateway when None.
    deadline : float or None
        Seconds each run may take (see :meth:`~workbench.studies.Study.run`).
    max_invalid : float
        Share of a run's model decisions that may be invalid before it is ``"failed"``.

    Examples
    --------
    >>> Sweep("asch", ["majority=1,3", "temperature=0,1"], seeds=2).runs()  # doctest: +SKIP
    """

    def __init__(
        self,
        study: Any,
        grid: Mapping[str, Iterable[Any]] | Sequence[str] | None = None,
        seeds: int | Iterable[int] = 1,
        *,
        config: Any = None,
        gateway: Any = None,
        deadline: float | None = None,
        max_invalid: float | None = None,
    ) -> None:
        from workbench.studies import MAX_INVALID, Study, get_study

        if isinstance(study, str):
            study_cls = get_study(study)
        elif isinstance(study, Study):
            study_cls, config = type(study), config if config is not None else study.config
        elif isinstance(study, type) and issubclass(study, Study):
            study_cls = study
        else:
            raise ConfigError(f"a sweep needs a study name or Study class, not {study!r}")
        self.study_cls = study_cls
        self.config = config
        self.grid = _normalise_grid(grid, study_cls.Config)
        self.seeds = _normalise_seeds(seeds)
        self.gateway = gateway
        self.limits = {
            "deadline": deadline,
            "max_invalid": MAX_INVALID if max_invalid is None else max_invalid,
        }

    def __repr__(self) -> str:
        return f"Sweep({self.study_cls.name!r}, {self.grid!r}, seeds={self.seeds!r})"

    @property
    def name(self) -> str:
        return self.study_cls.name

    def runs(self) -> list[SweepRun]:
        """Every run, conditions in grid order, then seeds.

        Raises
        ------
        ConfigError
            When a combination of grid values makes an invalid config (the message names
            the combination).
        """
        base = self.config if self.config is not None else self.study_cls.Config()
        planned = []
        keys = list(self.grid)
        for combo in itertools.product(*self.grid.values()):
            conditions = dict(zip(keys, combo, strict=True))
            try:
                config = dataclasses.replace(base, **conditions)
            except (ConfigError, TypeError, ValueError) as exc:
                where = " ".join(f"{k}={_show(v)}" for k, v in conditions.items())
                message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise ConfigError(f"grid {where}: {message}") from None
            for seed in self.seeds:
                planned.append(
                    SweepRun(run_id_for(self.name, config, seed), conditions, seed, config)
                )
        return planned

    def run(
        self,
        executor: Executor | None = None,
        store: Any = None,
        *,
        progress: bool = True,
        gateway: Any = None,
        on_round: Callable[[Any], None] | None = None,
    ) -> SweepResult:
        """Do every run not yet in ``store``; store each one as it finishes.

        Parameters
        ----------
        executor : concurrent.futures.Executor or None
            Where runs execute; None runs them one by one in this process.
        store : ResultStore, str, os.PathLike or None
            The result store; with None nothing is stored or skipped and the records are
            kept in memory (:attr:`SweepResult.records`).
        progress : bool
            Show a tqdm bar counting decisions (planned: members x rounds of each run to
            do), moved after every round of a run done in this process, after each run
            done by an executor; its postfix counts runs.
        gateway : Gateway or None
            A live gateway every run goes through, one after the other in this process
            (``executor`` must be None), instead of a fresh one per run. Use it to record
            a sweep into one cassette: a cassette being recorded answers a prompt repeated
            within its session from that session's recording, which a fresh gateway per
            run would ask the model again.
        on_round : callable or None
            Called with each :class:`~workbench.studies.RoundEvent` after every round of a
            run done in this process (``executor`` None), in the run's thread; runs done
            by an executor report no rounds. Keep it short.

        Returns
        -------
        SweepResult

        Raises
        ------
        SweepError
            When a run could not complete (a model error, its deadline) or raised a
            :class:`~workbench.errors.WorkbenchError`: the sweep stops, the finished runs
            and the incomplete one are stored. Other exceptions (bugs in study code)
            propagate as they are, after the finished runs are stored.

        Notes
        -----
        With a store, each run is claimed (a lease row) before it is computed, so two
        sweeps on one store never compute the same run: a run claimed by another live
        sweep is waited for and counted ``"stored"`` once that sweep stores it, or done
        here if that sweep dies or gives it up.
        """
        from tqdm.auto import tqdm

        from workbench.store import ResultStore

        if gateway is not None and executor is not None:
            raise ConfigError(
                "a live gateway cannot travel to an executor; pass a GatewayConfig to the "
                "Sweep instead"
            )
        if store is not None and not isinstance(store, ResultStore):
            store = ResultStore(store)
        planned = self.runs()
        status = dict.fromkeys((r.run_id for r in planned), "pending")
        errors: dict[str, str] = {}
        seconds: dict[str, float] = {}
        if store is not None:
            for run_id in store.complete_ids(list(status)):
                status[run_id] = "stored"
        todo = [r for r in planned if status[r.run_id] == "pending"]
        todo = list({r.run_id: r for r in todo}.values())  # grid values may repeat
        records: dict[str, Any] = {}
        start = time.perf_counter()
        bar = _DecisionBar(
            tqdm(total=0, disable=not progress, desc=f"sweep {self.name}", unit="decision"),
            {r.run_id: self._planned(r) for r in todo} if progress else {},
            len(status) - len(todo),
            len(status),
            on_round,
        )

        def finish(run: SweepRun, record: Any, took: float) -> None:
            outcome = _status_of(record)
            if store is None:
                records[run.run_id] = record
                status[run.run_id] = "ran" if outcome == "complete" else outcome
            elif _save(store, record):
                status[run.run_id] = "ran" if outcome == "complete" else outcome
            else:
                status[run.run_id] = "stored"
            if outcome != "complete":
                errors[run.run_id] = record.metadata.get("error") or outcome
            seconds[run.run_id] = round(took, 3)
            bar.finished(run.run_id, record)
            if outcome == "incomplete":  # a model error or the deadline: stop the sweep
                raise _failed(run, WorkbenchError(errors[run.run_id]), status)

        leases = _Leases(store)
        try:
            waiting = leases.claim(todo, status)
            self._execute(leases.mine(todo), executor, gateway, finish, status, bar)
            while waiting:  # runs another sweep holds: wait for them, or take them over
                time.sleep(_POLL_S)
                waiting = leases.claim(waiting, status)
                self._execute(leases.mine(todo), executor, gateway, finish, status, bar)
        finally:
            leases.release()
            bar.close()
        rows = [
            {
                "run_id": r.run_id,
                **{k: _cell(v) for k, v in r.conditions.items()},
                "seed": r.seed,
                "status": status[r.run_id],
                "error": errors.get(r.run_id),
                "seconds": seconds.get(r.run_id, float("nan")),
            }
            for r in planned
        ]
        return SweepResult(
            self.name, pd.DataFrame(rows), store, records, round(time.perf_counter() - start, 3)
        )

    def _job(self, run: SweepRun) -> _Job:
        return _Job(
            self.study_cls,
            run.config,
            run.seed,
            run.run_id,
            dict(run.conditions),
            self.gateway,
            dict(self.limits),
        )

    def _planned(self, run: SweepRun) -> int | None:
        """The decisions ``run`` is planned to count (as its study's progress bar counts
        them): members x planned rounds of its first unit, times its units. None when
        its first society cannot be built here."""
        from workbench.society.persons import is_rule

        study = self.study_cls(run.config, seed=run.seed)
        try:
            units = study.units(run.seed)
            society = study.build(units[0]) if units else None
        except WorkbenchError:
            return None
        if society is None:
            return 0
        models = any(not is_rule(m) for m in study.models())
        members = sum(1 for m in society.members if not (models and m.person.is_rule))
        return members * max(int(study.planned_rounds(units[0], society)), 0) * len(units)

    def _execute(self, runs, executor, gateway, finish, status, bar=None) -> None:
        """Do ``runs`` (claimed, not yet done) on ``executor``, finishing each."""
        runs = [r for r in runs if status[r.run_id] == "pending"]
        if not runs:
            return
        if executor is None:
            for run in runs:
                t0 = time.perf_counter()
                try:
                    on_round = None if bar is None else bar.live
                    record = run_job(self._job(run), gateway, on_round=on_round)
                except WorkbenchError as exc:
                    raise _failed(run, exc, status) from None
                finish(run, record, time.perf_counter() - t0)
        else:
            self._run_on(executor, runs, finish, status)

    def _run_on(self, executor: Executor, todo, finish, status) -> None:
        submitted: dict[Future, tuple[SweepRun, float]] = {}
        try:
            for run in todo:
                future = executor.submit(execute, _dumps(self._job(run)))
                submitted[future] = (run, time.perf_counter())
            pending = set(submitted)
            while pending:
                finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in finished:
                    run, t0 = submitted[future]
                    try:
                        payload = future.result()
                    except WorkbenchError as exc:
                        _drain(pending, submitted, finish)
                        raise _failed(run, exc, status) from None
                    except BaseException:
                        _drain(pending, submitted, finish)
                        raise
                    try:
                        finish(run, _loads(payload), time.perf_counter() - t0)
                    except SweepError:
                        _drain(pending, submitted, finish)
                        raise
        except KeyboardInterrupt:
            for future in submitted:
                future.cancel()
            raise


class _DecisionBar:
    """A sweep's tqdm bar in decisions: the planned decisions of the runs to do (each
    run's estimate until it finishes, then what it did), moved after every round of a
    run done in this process and after each run done elsewhere; the postfix counts runs.
    """

    def __init__(
        self,
        bar: Any,
        planned: dict[str, int | None],
        done_runs: int,
        runs: int,
        listener: Callable[[Any], None] | None = None,
    ):
        self.bar = bar
        self.listener = listener
        known = [p for p in planned.values() if p is not None]
        mean = round(sum(known) / len(known)) if known else 0
        self.planned = {k: mean if v is None else v for k, v in planned.items()}
        self.done = 0  # decisions of the runs finished
        self.current = 0  # decisions so far of the run in progress here
        self.runs, self.done_runs = runs, done_runs
        self.lock = threading.Lock()
        self._show()

    def live(self, event: Any) -> None:
        """``on_round`` of a run done in this process."""
        with self.lock:
            self.current = event.decisions_done
            now = time.perf_counter()
            if now - self._shown >= 0.1:  # a rule run plays thousands of rounds a second
                self._show()
        if self.listener is not None:
            self.listener(event)

    def finished(self, run_id: str, record: Any) -> None:
        decisions = record.decisions
        count = len(decisions)
        if record.metadata.get("models") and "method" in decisions:
            from workbench.society.persons import is_rule

            if any(not is_rule(m) for m in record.metadata["models"]):
                count = int((decisions["method"] != "rule").sum())
        with self.lock:
            self.planned[run_id] = count
            self.done += count
            self.current = 0
            self.done_runs += 1
            self._show()

    def _show(self) -> None:
        bar = self.bar
        self._shown = time.perf_counter()
        if bar.disable:
            return
        n = self.done + self.current
        bar.total = max(sum(self.planned.values()), n)
        bar.n = n
        bar.set_postfix_str(f"runs {self.done_runs}/{self.runs}", refresh=False)
        bar.refresh()

    def close(self) -> None:
        self.bar.close()


def _drain(pending: set[Future], submitted: dict, finish) -> None:
    """After a failure: cancel what has not started, keep what finishes anyway."""
    for future in pending:
        future.cancel()
    for future in pending:
        if future.cancelled():
            continue
        try:
            payload = future.result()
            run, t0 = submitted[future]
            finish(run, _loads(payload), time.perf_counter() - t0)
        except BaseException:  # noqa: BLE001 - the first failure is the one reported
            continue


#: Run statuses of a sweep that count as done and complete.
_DONE = ("ran", "stored")
#: Seconds between looks at runs that another sweep is computing.
_POLL_S = 1.0
#: Seconds between refreshes of this sweep's leases (see ResultStore.LEASE_TTL_S).
_HEARTBEAT_S = 60.0


def _status_of(record: Any) -> str:
    """``"complete"``, ``"incomplete"`` or ``"failed"``, from a run record's metadata."""
    return record.metadata.get("status") or (
        "complete" if record.metadata.get("complete", True) else "incomplete"
    )


class _Leases:
    """The runs this sweep has claimed in its store, kept fresh while it works.

    Without a store there is nothing to share and every run is this sweep's own.
    """

    def __init__(self, store: Any) -> None:
        self.store = store
        self.held: set[str] = set()
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def claim(self, runs: Sequence[SweepRun], status: dict[str, str]) -> list[SweepRun]:
        """Claim what of ``runs`` is still to do; return those another sweep holds."""
        if self.store is None:
            self.held.update(r.run_id for r in runs)
            return []
        waiting = []
        for run in runs:
            if run.run_id in self.held or status[run.run_id] != "pending":
                continue
            if self.store.claim(run.run_id):
                self.held.add(run.run_id)
            elif self.store.status(run.run_id) == "complete":
                status[run.run_id] = "stored"
            else:
                waiting.append(run)
        if self.held and self._beat is None:
            self._beat = threading.Thread(target=self._heartbeat, daemon=True)
            self._beat.start()
        return waiting

    def mine(self, runs: Sequence[SweepRun]) -> list[SweepRun]:
        return [r for r in runs if r.run_id in self.held]

    def _heartbeat(self) -> None:
        while not self._stop.wait(_HEARTBEAT_S):
            try:
                self.store.heartbeat(sorted(self.held))
            except WorkbenchError:  # a busy store: the next beat tries again
                pass

    def release(self) -> None:
        self._stop.set()
        if self.store is None:
            return
        for run_id in self.held:
            try:
                self.store.release(run_id)
            except WorkbenchError:  # the lease goes stale with this process anyway
                pass


def _failed(run: SweepRun, exc: Exception, status: Mapping[str, str]) -> SweepError:
    finished = sum(s in _DONE for s in status.values())
    where = " ".join(f"{k}={_show(v)}" for k, v in run.conditions.items())
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return SweepError(
        f"run {where + ' ' if where else ''}seed={run.seed} failed: {message} "
        f"({finished} of {len(status)} runs are done; run the sweep again to resume)"
    )


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _cell(value: Any) -> Any:
    """A grid value as a table cell (a list value of one is shown as that value)."""
    if isinstance(value, tuple) and len(value) == 1:
        return value[0]
    return value


def _save(store: Any, record: Any) -> bool:
    """Store ``record``; False when another process stored that run complete first.

    A stored run that is not complete (failed, incomplete) is replaced.
    """
    if store.status(record.run_id) == "complete":
        return False
    try:
        store.save(record)
    except WorkbenchError:
        if store.status(record.run_id) == "complete":
            return False
        raise
    return True


# -- the worker side ------------------------------------------------------------------


def _dumps(obj: Any) -> bytes:
    try:
        import cloudpickle
    except ImportError:  # plain pickle: classes must be importable by the worker
        return pickle.dumps(obj)
    return cloudpickle.dumps(obj)


def _loads(payload: bytes) -> Any:
    return pickle.loads(payload)


def execute(payload: bytes) -> bytes:
    """Do one run of a sweep in a worker; the argument and the result are pickles.

    The result is the run's :class:`~workbench.store.RunRecord` (run id from the sweep,
    metadata with the grid values and the seed).
    """
    return pickle.dumps(run_job(_loads(payload)))


def run_job(job: _Job, gateway: Any = None, on_round: Any = None) -> Any:
    """Do one run of a sweep through ``gateway``, or a fresh one built for it; its record.

    ``on_round`` is passed to :meth:`~workbench.studies.Study.run` (progress displays).
    """
    from workbench.society.persons import is_rule
    from workbench.store import RunRecord, utc_now

    study = job.study_cls(job.config, seed=job.seed)
    own = None
    if gateway is None and job.gateway is not None and any(not is_rule(m) for m in study.models()):
        from workbench.llm import Gateway

        gateway = own = Gateway(job.gateway)
    from workbench.studies import StudyFailed

    try:
        result = study.run(gateway, on_round=on_round, **job.limits)
    except StudyFailed as failed:  # stored with its status, done again on resume
        result = failed.result
    finally:
        if own is not None:
            own.close()
    decisions = result.decisions.copy()
    if "run_id" in decisions.columns:
        decisions["run_id"] = job.run_id
    metadata = {
        **result.metadata,
        "sweep": {
            "conditions": {k: _plain(v) for k, v in job.conditions.items()},
            "seed": job.seed,
        },
    }
    return RunRecord(
        job.run_id, study.name, utc_now(), metadata, decisions, result.summary, result.calls
    )


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


# -- executors ------------------------------------------------------------------------


@contextmanager
def executor(
    kind: str = "serial", workers: int | None = None, scheduler: str | None = None
) -> Iterator[Executor | None]:
    """An executor for :meth:`Sweep.run`, shut down on exit.

    Parameters
    ----------
    kind : {"serial", "process", "dask"}
        ``serial``: None (runs in this process); ``process``: a spawn-based
        :class:`~concurrent.futures.ProcessPoolExecutor`; ``dask``: a Dask distributed
        executor, on an embedded ``LocalCluster`` unless ``scheduler`` is given.
    workers : int or None
        Processes (``process``) or Dask worker processes (``dask``, local cluster); the
        number of cores by default (2 workers for Dask).
    scheduler : str or None
        Address of a running Dask scheduler (``tcp://HOST:PORT``); implies ``dask``.

    Raises
    ------
    ConfigError
        For an unknown kind, a bad worker count, a scheduler address that is not
        ``tcp://HOST:PORT``, or Dask not installed or unreachable.

    Notes
    -----
    The ``process`` workers exit when this process dies, even by SIGKILL
    (:mod:`workbench._lifeline`); they are all started on entry.
    """
    if scheduler is not None:
        if kind not in ("serial", "dask"):
            raise ConfigError(f"--scheduler runs on Dask; it cannot be combined with {kind!r}")
        kind = "dask"
    if kind not in EXECUTORS:
        raise ConfigError(f"unknown executor {kind!r}; choose one of {', '.join(EXECUTORS)}")
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise ConfigError(f"workers must be at least 1, got {workers}")
    if kind == "serial":
        yield None
        return
    if kind == "process":
        import multiprocessing
        import os
        from concurrent.futures import ProcessPoolExecutor

        from workbench import _lifeline

        workers = workers or os.cpu_count() or 1
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            # workers die with this process, even after a kill -9 (no orphans)
            initializer=_lifeline.install,
            initargs=(os.getpid(),),
        )
        try:
            # One submit per worker starts every worker now, from this thread (Linux's
            # parent-death signal follows the starting thread), and warms its imports.
            for _ in range(workers):
                pool.submit(_warm_worker)
            yield pool
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError(
            "the dask executor needs Dask distributed: "
            "pip install 'interactionist-workbench[distributed]'"
        ) from None
    cluster = None
    try:
        if scheduler is not None:
            client = Client(scheduler, timeout="10s")
        else:
            cluster = LocalCluster(
                n_workers=workers or 2,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            client = Client(cluster)
    except ValueError:  # distributed's address parser, e.g. "missing port number"
        if scheduler is None:
            raise
        raise ConfigError(f"--scheduler takes tcp://HOST:PORT, got {scheduler!r}") from None
    except (OSError, TimeoutError) as exc:
        if cluster is not None:
            cluster.close()
        where = scheduler or "a local cluster"
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"cannot reach Dask scheduler {where}: {message}") from None
    try:
        client.run(_warm_worker)  # import the heavy modules once per worker, up front
        yield client.get_executor()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _warm_worker() -> None:
    """Import the heavy modules in a worker, once, before its first run."""
    import workbench.studies  # noqa: F401  (mesa, scipy, pandas: seconds on a cold worker)
