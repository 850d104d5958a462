"""Running the battery: plan, run every module's sweeps for every model, score the cards.

:class:`Battery` plans the protocol for each model (:meth:`Battery.plan`: runs, model
decisions, prompt tokens and the cost or time they will take) and runs it
(:meth:`Battery.run`). Every module's study runs are :class:`~workbench.sweep.Sweep` runs,
so with a result store each run is stored as it finishes and a killed battery, run again,
goes on where it stopped; any executor (Dask included) can carry them; and the calls of a
run are in its stored record, so a card can be rebuilt offline. Each module's rule
baseline is run and scored beside every model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from workbench.battery.card import Card
from workbench.battery.protocol import (
    MODULES,
    PROTOCOL,
    WORDING_INDICES,
    Budget,
    Module,
    budget_named,
    score_table,
)
from workbench.errors import ConfigError, WorkbenchError

__all__ = ["Battery", "BatteryError", "check_battery_model"]

#: Seconds per model decision measured for the embedded models over a whole small
#: battery on 2 idle cores: the dry run's time estimate for a local model; other local
#: files use the larger rate. The rate is the host's: battery-v2 took 3936 s for 952
#: decisions (Qwen) and 743 s for 960 (SmolLM2) on 2026-12-03, on a host that evaluated
#: prompts about 2.4x slower than the one where battery-v1 took 1846 s for 1380 (Qwen).
#: The slower, more recent rates are kept, so the estimate errs long.
LOCAL_SECONDS = {"local/smollm2-135m": 0.77, "local/qwen2.5-coder-1.5b": 4.13}
_UNKNOWN_LOCAL = 4.2


class BatteryError(WorkbenchError):
    """A battery run could not complete (what finished is stored)."""


def check_battery_model(model: str) -> None:
    """A one-line :class:`ConfigError` unless ``model`` names something that can answer.

    Rules must build, ``local/`` names must be in the catalogue or be an existing GGUF
    file, and other names must have a provider litellm knows.
    """
    from workbench.society.persons import check_model, is_rule

    check_model(model)
    if is_rule(model):
        return
    if model.startswith("local/"):
        from pathlib import Path

        from workbench.llm.catalogue import CATALOGUE

        name = model.removeprefix("local/")
        if name in CATALOGUE or (name.endswith(".gguf") and Path(name).expanduser().is_file()):
            return
        raise ConfigError(
            f"unknown local model {model!r}; choose one of "
            f"{', '.join('local/' + n for n in CATALOGUE)} or local/<path>.gguf"
        )
    from workbench.llm import _litellm

    try:
        _litellm.get().get_llm_provider(model)
    except Exception:  # litellm raises its BadRequestError for an unknown provider
        raise ConfigError(
            f"unknown model {model!r}: litellm knows no provider for it; write it as "
            "provider/name (openai/gpt-4o-mini, ollama/llama3) or use a rule:... or local/..."
        ) from None


class Battery:
    """The interactionist battery for one or more models.

    Parameters
    ----------
    models : sequence of str
        litellm model strings, ``local/...`` embedded models or rule specs.
    budget : str or Budget
        ``"small"`` or ``"standard"`` (:data:`~workbench.battery.protocol.BUDGETS`).
    seed : int
        The battery seed: every run's seed derives from it, so the same seed gives the
        same cards.
    modules : sequence of str or None
        Module names to run (all, in card order, by default).
    gateway : GatewayConfig or None
        How runs reach models (cassette, concurrency, api base).
    deadline, max_invalid : optional
        Per-run limits, as for :meth:`~workbench.studies.Study.run`.

    Examples
    --------
    >>> cards = Battery(["rule:conformist:0.3"], "small", seed=1).run()  # doctest: +SKIP
    >>> cards["rule:conformist:0.3"].score("conformity_3").value  # doctest: +SKIP
    """

    def __init__(
        self,
        models: Sequence[str],
        budget: str | Budget = "small",
        seed: int = 0,
        *,
        modules: Sequence[str] | None = None,
        gateway: Any = None,
        deadline: float | None = None,
        max_invalid: float | None = None,
    ) -> None:
        if isinstance(models, str):
            models = [models]
        if not models:
            raise ConfigError("give at least one --model to score")
        for model in models:
            check_battery_model(model)
        self.models = list(dict.fromkeys(models))
        self.budget = budget if isinstance(budget, Budget) else budget_named(budget)
        if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
            raise ConfigError(f"the battery seed must be a whole number 0 or more, got {seed!r}")
        self.seed = int(seed)
        names = list(MODULES) if modules is None else list(modules)
        self.modules: list[Module] = [MODULES.get(n)() for n in names]
        self.gateway = gateway
        self.limits = {"deadline": deadline, "max_invalid": max_invalid}

    def baselines(self) -> list[str]:
        """The rule baselines the modules score beside the models."""
        return list(dict.fromkeys(m.baseline for m in self.modules))

    def _sweeps(self, module: Module, model: str) -> list:
        sweeps = module.sweeps(model, self.budget, self.seed)
        for s in sweeps:
            s.gateway = self.gateway
            s.limits.update({k: v for k, v in self.limits.items() if v is not None})
        return sweeps

    # -- the plan -------------------------------------------------------------------------

    def plan(self) -> pd.DataFrame:
        """What the battery will do, before any call.

        Returns
        -------
        pandas.DataFrame
            One row per (model, module): ``runs``, ``decisions`` (model decisions, at
            most), ``prompt_tokens`` (estimated from each module's first prompt),
            ``estimate`` (cost in USD from litellm's cost map for API models, seconds
            from the measured rate for embedded ones, 0 for rules) and ``unit``.
        """
        from workbench.society.persons import is_rule

        rows = []
        for model in self.models:
            planned: set[str] = set()
            for module in self.modules:
                sweeps = self._sweeps(module, model)
                ids = {r.run_id for s in sweeps for r in s.runs()}
                # a module whose runs an earlier one makes (persistence reads the person
                # module's social cells) spends nothing of its own
                shared = ids <= planned
                planned |= ids
                rule = is_rule(model)
                decisions = 0 if rule or shared else module.decisions(self.budget)
                tokens = decisions * _tokens_per_decision(sweeps[0], model) if decisions else 0
                estimate, unit = _estimate(model, decisions, tokens)
                rows.append(
                    {
                        "model": model,
                        "module": module.name,
                        "runs": sum(len(s.runs()) for s in sweeps),
                        "decisions": decisions,
                        "prompt_tokens": tokens,
                        "estimate": estimate,
                        "unit": unit,
                    }
                )
        return pd.DataFrame(rows)

    # -- the run --------------------------------------------------------------------------

    def run(
        self,
        store: Any = None,
        executor: Any = None,
        *,
        progress: bool = True,
        gateway: Any = None,
    ) -> dict[str, Card]:
        """Run every module for every model and its baselines; one card per model.

        Parameters
        ----------
        store : ResultStore, path or None
            Where runs are stored (and found again: a battery run again resumes).
        executor : concurrent.futures.Executor or None
            Where runs execute.
        progress : bool
            Show a tqdm bar counting model decisions.
        gateway : Gateway or None
            One live gateway for every run (to record a cassette), as
            :meth:`Sweep.run <workbench.sweep.Sweep.run>` takes it.

        Returns
        -------
        dict
            Model -> :class:`Card`, in ``models`` order.

        Raises
        ------
        BatteryError
            When a run could not complete; the finished runs are stored.
        """
        from tqdm.auto import tqdm

        from workbench.provenance import versions
        from workbench.society.persons import is_rule

        plan = self.plan()
        bar = tqdm(
            total=int(plan.decisions.sum()),
            disable=not progress,
            desc="battery",
            unit="decision",
        )
        scored: dict[tuple[str, str], tuple[list, list[str], dict]] = {}
        self._done: dict[str, Any] = {}  # run id -> its sweep's result, within this run
        everyone = [*self.models, *(b for b in self.baselines() if b not in self.models)]
        try:
            for model in everyone:
                for module in self.modules:
                    if model not in self.models and module.baseline != model:
                        continue
                    scored[model, module.name] = self._module(
                        module, model, store, executor, gateway, bar, is_rule(model)
                    )
        finally:
            bar.close()
        cards = {}
        for model in self.models:
            frames, runs, spent = [], {}, dict.fromkeys(("decisions", *_TOKENS), 0)
            for module in self.modules:
                scores, ids, used = scored[model, module.name]
                base, _, _ = scored[module.baseline, module.name]
                by_name = {s.name: s for s in base}
                frames += [
                    dataclasses.replace(
                        s, baseline=by_name[s.name].value, baseline_model=module.baseline
                    ).as_row()
                    for s in scores
                ]
                runs[module.name] = ids
                for k in spent:
                    spent[k] += used.get(k, 0)
            cards[model] = Card(
                model=model,
                protocol=PROTOCOL,
                budget=self.budget.name,
                seed=self.seed,
                scores=pd.DataFrame(frames),
                modules={m.name: m.title for m in self.modules},
                runs=runs,
                spent=spent,
                provenance={
                    "wordings": len(WORDING_INDICES),
                    "budget": dataclasses.asdict(self.budget),
                    "versions": versions(),
                },
            )
        return cards

    def _module(self, module, model, store, executor, gateway, bar, rule):
        from workbench.random import generator, seed_for

        runs, ids = [], []
        used = dict.fromkeys(("decisions", *_TOKENS), 0)
        for sweep in self._sweeps(module, model):
            key = ",".join(r.run_id for r in sweep.runs())
            if key in self._done:  # another module's runs: scored again, not run again
                result = self._done[key]
                runs.append((sweep.config, result.decisions()))
                ids += list(result.runs.run_id)
                continue
            before = {k: _tokens_so_far(gateway, k) for k in _TOKENS}
            shown = _RoundTicks(bar if not rule else None)
            result = sweep.run(
                executor, store, progress=False, gateway=gateway, on_round=shown.tick
            )
            self._done[key] = result
            if not result.complete:
                bad = result.runs[~result.runs.status.isin(("ran", "stored"))].iloc[0]
                raise BatteryError(
                    f"battery {module.name} for {model}: run {bad.run_id} is {bad.status} "
                    f"({bad.error}); finished runs are stored, run the battery again to resume"
                )
            decisions = result.decisions()
            runs.append((sweep.config, decisions))
            ids += list(result.runs.run_id)
            if not rule:
                # the rows the model answered (not the initial opinions a study records)
                made = int(((decisions.model == model) & (decisions.method != "initial")).sum())
                used["decisions"] += made
                bar.update(made - shown.total)  # the rounds moved it part of the way
                # a shared live gateway keeps one running total, which every run's
                # metadata repeats; fresh gateways per run keep their own
                for k in _TOKENS:
                    used[k] += (
                        _tokens_so_far(gateway, k) - before[k]
                        if gateway is not None
                        else _prompt_tokens(result, k)
                    )
        clusters = module.clusters(runs)
        rng = generator(seed_for(self.seed, "battery.bootstrap"))
        return score_table(module.name, module.measures, clusters, rng), ids, used


class _RoundTicks:
    """Moves the battery's bar after every round of a run done in this process.

    A sweep's round events count the decisions of the run in progress; a count that
    goes down is the next run of the sweep starting.
    """

    def __init__(self, bar: Any) -> None:
        self.bar, self.last, self.total = bar, 0, 0

    def tick(self, event: Any) -> None:
        if self.bar is None:
            return
        done = int(event.decisions_done)
        if done < self.last:
            self.last = 0
        self.bar.update(done - self.last)
        self.total += done - self.last
        self.last = done


#: The token counts a card's ``spent`` sums: those of live calls, and the recorded ones of
#: the calls a cassette answered.
_TOKENS = ("prompt_tokens", "replayed_prompt_tokens")


def _tokens_so_far(gateway, key: str = "prompt_tokens") -> int:
    """Tokens (``key`` of the accounting totals) a gateway has counted so far (0 without
    one)."""
    if gateway is None:
        return 0
    return int(gateway.accounting.totals().get(key, 0) or 0)


def _prompt_tokens(result, key: str = "prompt_tokens") -> int:
    """Tokens (``key`` of the accounting totals) the runs of ``result`` counted, from
    their LLM accounting."""
    total = 0
    for row in result.runs.itertuples(index=False):
        try:
            record = result._record(row.run_id)
        except WorkbenchError:
            continue
        total += int((record.metadata.get("accounting") or {}).get(key, 0) or 0)
    return total


def _tokens_per_decision(sweep, model: str) -> int:
    """Tokens of the first prompt ``model`` would be asked in ``sweep``'s first run (its
    society's first member's view of the first round, whoever holds that seat now)."""
    from workbench.society.persons import make_person

    run = sweep.runs()[0]
    study = sweep.study_cls(run.config, seed=run.seed)
    society = study.build(study.units(run.seed)[0])
    member = society.members[-1]
    request = make_person(model).request(
        member.observe(society.task.round(1)), society.task, society.situation.norm_text
    )
    chars = sum(len(m["content"]) for m in request.messages)
    return max(1, round(chars / 4))  # about 4 characters a token for English text


def _estimate(model: str, decisions: int, tokens: int) -> tuple[float, str]:
    """Cost (USD) of an API model's decisions, or seconds for an embedded one."""
    if not decisions:
        return 0.0, "-"
    if model.startswith("local/"):
        return decisions * LOCAL_SECONDS.get(model, _UNKNOWN_LOCAL), "s"
    from workbench.llm import _litellm

    try:
        prompt, completion = _litellm.get().cost_per_token(
            model=model, prompt_tokens=tokens, completion_tokens=decisions
        )
    except Exception:  # not in litellm's cost map
        return float("nan"), "USD (not in litellm's cost map)"
    return float(prompt + completion), "USD"
