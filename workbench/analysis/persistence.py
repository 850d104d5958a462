"""Persistence probe: does what a member learned in the society outlast the interaction?

In the workbench the learning function is in-context: a member's memory window (its last
rounds, with what it saw of the others) is put in its prompt, and weights never change.
So whatever a member takes away from the society lives only in that window. The open
question of the interactionist programme is whether social influence *persists* once
the others are gone: does a member still answer differently, alone, because of what it
remembers, and for how long, as older interactions fall out of the window?

:func:`persistence_probe` asks it after a society has run. Each member is re-asked the
**isolated** question (the task's round, nobody else's answer shown):

(a) with its memory in the prompt, truncated to its last ``k`` rounds for every
    ``k = 0 .. window`` (``k = window``: everything it remembers; smaller ``k``: the older
    rounds have slid out of the window), and
(b) without any memory.

The **shift** is the probability of each option in (a) minus that in (b); ``k = 0`` must
equal (b). LLM members are asked through the society's gateway in one batch (their
distribution over the options is read from the model's log-probabilities), rule members
through their policy (:meth:`~workbench.society.RulePerson.decide`); the probe draws
from its own generator, so the society's random stream is untouched and the society can
keep running afterwards. :func:`persistence_summary` condenses the probe per ``k``.

References
----------
.. [1] The paper behind the workbench, open question: do social effects on an LLM agent
   persist beyond the interaction, and how do they decay as the memory window slides?
.. [2] Lewin, K. (1936). *Principles of Topological Psychology*. McGraw-Hill.
   (Behaviour as a function of the person and the environment.)

Examples
--------
>>> society = Society(persons, task, Situation(memory=3), seed=1)  # doctest: +SKIP
>>> society.run(5)  # doctest: +SKIP
>>> probe = persistence_probe(society)  # doctest: +SKIP
>>> persistence_summary(probe)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.errors import ConfigError
from workbench.random import generator
from workbench.society.task import Observation, Round

if TYPE_CHECKING:
    from workbench.llm.types import Decision
    from workbench.society import Member, Society

__all__ = ["PROBE_COLUMNS", "persistence_probe", "persistence_summary"]

#: Columns of :func:`persistence_probe`'s table, in order.
PROBE_COLUMNS: tuple[str, ...] = (
    "run_id",
    "member",
    "node",
    "role",
    "model",
    "persona",
    "answer",
    "window",
    "k",
    "oldest",
    "option",
    "p",
    "p_none",
    "shift",
    "valid",
    "method",
)


def persistence_probe(
    society: Society,
    *,
    round: Round | None = None,  # noqa: A002 - the task's word for it
    ks: Sequence[int] | None = None,
    roles: Sequence[str] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Re-ask every member the isolated question with and without its memory.

    Parameters
    ----------
    society : Society
        A society that has run at least one step with a memory window of 1 or more.
    round : Round or None
        The question re-asked; the round of the society's last step by default.
    ks : sequence of int or None
        Memory lengths to try (each clipped to what the member remembers); ``0 .. window``
        by default, where ``window`` is the number of rounds the member remembers.
    roles : sequence of str or None
        Probe only members with these roles (e.g. ``("focal",)`` in a design's society);
        every member by default.
    seed : int
        Seed of the probe's own generator (choices are drawn but not used; the
        probabilities are what is reported).

    Returns
    -------
    pandas.DataFrame
        One row per member x ``k`` x option, columns :data:`PROBE_COLUMNS`: ``answer`` is
        the member's last answer in the society, ``window`` how many rounds it remembers,
        ``k`` the rounds kept in the prompt, ``oldest`` the step of the oldest kept round
        (None for ``k = 0``), ``p`` the probability of ``option`` with that memory,
        ``p_none`` without memory, ``shift = p - p_none``. ``valid`` is False (and ``p``
        NaN) when the model gave no usable answer.

    Raises
    ------
    ConfigError
        When the society keeps no memory or has not run, or for a bad ``ks`` or ``roles``.

    Notes
    -----
    Apart from the memory, both arms are identical: the persona, the norm, the task's
    preamble and question, the option order (as listed in the round), and the member's
    own latest answer and continuous state (which the default prompt does not show).
    Memory is truncated from the oldest side: ``k`` keeps the ``k`` most recent rounds.

    References
    ----------
    .. [1] The paper behind the workbench, open question: do social effects on an LLM
       agent persist beyond the interaction, and how do they decay as the memory window
       slides?
    """
    if society.situation.memory < 1:
        raise ConfigError(
            "the society keeps no memory (memory window 0), so there is nothing to probe; "
            "build it with Situation(memory=k) for k >= 1"
        )
    members = [m for m in society.members if roles is None or m.role in roles]
    if roles is not None and not members:
        raise ConfigError(f"no member has a role in {list(roles)}")
    if not any(m.memory for m in members):
        raise ConfigError("the members remember nothing yet: run the society first")
    if ks is not None:
        ks = sorted({int(k) for k in ks})
        if not ks or ks[0] < 0:
            raise ConfigError(f"ks must be non-negative memory lengths, got {ks}")
    question = round if round is not None else society.task.round(max(society.steps, 1))
    if not isinstance(question, Round):
        raise ConfigError(f"round must be a workbench.society.Round, got {question!r}")

    # (member, k or None for "no memory", observation); k truncates from the oldest side
    asks: list[tuple[Member, int | None, Observation]] = []
    for member in members:
        memory = tuple(member.memory)
        window = len(memory)
        lengths = range(window + 1) if ks is None else sorted({min(k, window) for k in ks})
        for k in (None, *lengths):
            kept = () if k is None else memory[window - k :]
            asks.append((member, k, _observation(member, question, kept)))
    decisions = _ask(society, asks, generator(seed))

    rows = []
    none_p: dict[int, tuple[float, ...] | None] = {}
    for (member, k, _), decision in zip(asks, decisions, strict=True):
        if k is None:
            none_p[member.unique_id] = _probabilities(decision, question.options)
    for (member, k, observation), decision in zip(asks, decisions, strict=True):
        if k is None:
            continue
        p = _probabilities(decision, question.options)
        base = none_p[member.unique_id]
        for i, option in enumerate(question.options):
            value = math.nan if p is None else p[i]
            reference = math.nan if base is None else base[i]
            rows.append(
                {
                    "run_id": society.run_id,
                    "member": member.unique_id,
                    "node": member.node,
                    "role": member.role,
                    "model": member.person.model,
                    "persona": member.person.persona.name,
                    "answer": member.answer,
                    "window": len(member.memory),
                    "k": k,
                    "oldest": observation.memory[0].step if observation.memory else None,
                    "option": option,
                    "p": value,
                    "p_none": reference,
                    "shift": value - reference,
                    "valid": p is not None and base is not None,
                    "method": decision.method,
                }
            )
    table = pd.DataFrame(rows, columns=list(PROBE_COLUMNS))
    table["oldest"] = table["oldest"].astype("Int64")
    return table


def _observation(member: Member, question: Round, memory: tuple) -> Observation:
    return Observation(
        question,
        (),
        memory,
        member.model.situation.exchange,
        answer=member.answer,
        value=member.value,
    )


def _ask(
    society: Society, asks: list[tuple[Member, int | None, Observation]], rng: np.random.Generator
) -> list[Decision]:
    """Decisions for every ask: LLM members in one gateway batch, rules by their policy."""
    norm = society.situation.norm_text
    llm = [
        (i, member.person.request(observation, society.task, norm))
        for i, (member, _, observation) in enumerate(asks)
        if not member.person.is_rule
    ]
    out: list[Decision | None] = [None] * len(asks)
    if llm:
        answered = society.gateway.decide([r for _, r in llm], rng)
        for (i, _), decision in zip(llm, answered, strict=True):
            out[i] = decision
    for i, (member, _, observation) in enumerate(asks):
        if member.person.is_rule:
            out[i] = member.person.decide(observation, rng)
    return out  # type: ignore[return-value]


def _probabilities(decision: Decision, options: tuple[str, ...]) -> tuple[float, ...] | None:
    if not decision.valid or decision.probabilities is None:
        return None
    by_option = dict(zip(decision.options, decision.probabilities, strict=True))
    return tuple(float(by_option.get(o, 0.0)) for o in options)


def persistence_summary(
    probe: pd.DataFrame, by: Sequence[str] = ("model", "persona")
) -> pd.DataFrame:
    """How far memory moves the isolated answer, per memory length ``k``.

    Parameters
    ----------
    probe : pandas.DataFrame
        From :func:`persistence_probe`.
    by : sequence of str
        Columns grouping the members (person by default); empty for one group.

    Returns
    -------
    pandas.DataFrame
        One row per group and ``k``: ``members`` probed (valid answers in both arms),
        ``tv`` the mean total-variation distance between the answer distributions with
        ``k`` rounds of memory and without (half the summed absolute shifts; 0: memory
        changes nothing, 1: it changes the answer completely), ``toward_answer`` the mean
        shift of the option the member last chose in the society (positive: memory pulls
        the isolated answer towards what it did socially), ``share_toward`` the share of
        members with a positive ``toward_answer``, and ``retained`` = ``tv`` over ``tv``
        at the group's full window (how much of the full-memory shift is left when only
        the last ``k`` rounds are kept).
    """
    missing = [c for c in ("member", "k", "option", "shift", "answer", "valid") if c not in probe]
    if missing:
        raise ConfigError(f"not a persistence probe: missing column(s) {', '.join(missing)}")
    by = [c for c in by]
    valid = probe[probe["valid"].astype(bool)]
    keys = ["run_id", "member", *by, "k"]
    keys = list(dict.fromkeys(k for k in keys if k in valid.columns))
    per_member = (
        valid.groupby(keys, dropna=False).apply(_member_shift, include_groups=False).reset_index()
    )
    group = [*by, "k"]
    summary = (
        per_member.groupby(group, dropna=False)
        .agg(
            members=("tv", "size"),
            tv=("tv", "mean"),
            toward_answer=("toward", "mean"),
            share_toward=("toward", lambda s: float((s > 1e-12).mean())),
        )
        .reset_index()
    )
    full = per_member.loc[per_member.groupby([*by, "member"], dropna=False)["k"].idxmax()]
    full_tv = full.groupby(by, dropna=False)["tv"].mean() if by else full["tv"].mean()
    if by:
        reference = np.asarray(summary.set_index(by).index.map(full_tv), float)
    else:
        reference = np.full(len(summary), float(full_tv))
    with np.errstate(divide="ignore", invalid="ignore"):
        summary["retained"] = np.where(reference > 0, summary["tv"] / reference, np.nan)
    return summary


def _member_shift(rows: pd.DataFrame) -> pd.Series:
    answer = rows["answer"].iloc[0]
    toward = rows.loc[rows["option"] == answer, "shift"]
    return pd.Series(
        {
            "tv": 0.5 * float(rows["shift"].abs().sum()),
            "toward": float(toward.iloc[0]) if len(toward) else math.nan,
        }
    )
