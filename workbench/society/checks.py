"""Checks: the rule-policy conformance check, invalid decisions, bounds on config numbers.

:func:`check_policy` is the conformance check that every rule policy passes (after
scikit-learn's estimator checks [1]_). Use it on your own policies::

    from workbench.society.checks import check_policy
    check_policy(MyPolicy())

:func:`invalid_share` counts the invalid LLM decisions of a decisions table (a run with
too many is marked failed). :func:`whole`, :func:`number` and :func:`whole_list` validate
one numeric field of a frozen config dataclass (finite, in range, integral where an int is
meant) and :func:`check_rows` and :func:`check_network` reject a config whose run could
not fit in memory, each with one actionable line naming the field as the CLI writes it
(``--members``).

References
----------
.. [1] L. Buitinck et al., "API design for machine learning software: experiences from the
   scikit-learn project", ECML PKDD Workshop (2013).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import ConfigError
from workbench.llm.types import Decision
from workbench.society.persons import RulePerson, make_person
from workbench.society.task import Observation, Recollection, Round

__all__ = [
    "MAX_MEMBERS",
    "MAX_ROWS",
    "MAX_TIES",
    "MEMORY_BUDGET",
    "MAX_TEMPERATURE",
    "MAX_WINDOW",
    "ROWS_WHY",
    "check_network",
    "check_policy",
    "check_rows",
    "expected_ties",
    "flag",
    "invalid_share",
    "number",
    "observations",
    "whole",
    "whole_list",
    "whole_number",
]


def observations() -> list[Observation]:
    """A small battery of observations covering the cases a policy must handle."""
    opts = ("A", "B", "C")
    truth = Round("Which?", opts, correct="B")
    planted = Round("Which?", opts, correct="B", planted="C")
    open_ = Round("Pick one.", opts)
    pair = Round("Pick one.", ("A", "B"))
    return [
        Observation(truth),
        Observation(planted),
        Observation(open_),
        Observation(pair, seen=(("Participant 1", "B"),)),
        Observation(truth, seen=(("P1", "A"), ("P2", "A"), ("P3", "C"))),
        Observation(planted, seen=(("P1", "C"), ("P2", "C")), exchange="counts"),
        Observation(open_, seen=(("P1", "A"), ("P2", "C"))),  # a tie
        Observation(truth, memory=(Recollection(1, "A", "P1: A"),)),
    ]


def check_policy(policy: RulePerson) -> None:
    """Assert that ``policy`` honours the rule-person contract.

    The contract: the policy is an immutable, hashable dataclass; its ``model`` spec
    round-trips through :func:`~workbench.society.persons.make_person`; for every
    observation it returns a valid rule :class:`~workbench.llm.types.Decision` over exactly
    the offered options, whose probabilities are non-negative and sum to one, whose choice
    has positive probability; it draws exactly one number from the generator, so the same
    seed gives the same choices; it does not change the observation.

    Parameters
    ----------
    policy : RulePerson
        The policy to check. Policies whose parameters do not fit the battery (e.g. a
        committed option that is not offered) should be built to fit it (``"A"``).

    Raises
    ------
    AssertionError
        Naming the first broken rule.
    """
    name = type(policy).__name__
    assert isinstance(policy, RulePerson), f"{name} is not a RulePerson"
    assert policy.is_rule, f"{name}.is_rule must be True"
    assert dataclasses.is_dataclass(policy), f"{name} must be a dataclass"
    assert type(policy).__dataclass_params__.frozen, f"{name} must be a frozen dataclass"
    hash(policy)
    assert make_person(policy.model) == policy, f"{name}.model does not round-trip"
    for observation in observations():
        before = repr(observation)
        rng, twin = np.random.default_rng(7), np.random.default_rng(7)
        decision = policy.decide(observation, rng)
        assert isinstance(decision, Decision), f"{name}.decide must return a Decision"
        assert decision.valid and decision.method == "rule", f"{name}: invalid decision"
        assert decision.options == observation.options, f"{name}: options changed"
        p = np.asarray(decision.probabilities)
        assert p.shape == (len(observation.options),), f"{name}: one probability per option"
        assert (p >= 0).all() and np.isclose(p.sum(), 1.0), f"{name}: not a distribution"
        assert decision.choice in observation.options, f"{name}: choice not offered"
        assert decision.probability(decision.choice) > 0, f"{name}: chose a 0-probability option"
        twin.random()
        assert rng.random() == twin.random(), f"{name} must draw exactly one number"
        again = policy.decide(observation, np.random.default_rng(7))
        assert again == decision, f"{name} is not reproducible from the seed"
        assert repr(observation) == before, f"{name} changed the observation"


# -- invalid decisions -------------------------------------------------------------------


def invalid_share(decisions: pd.DataFrame) -> tuple[int, int]:
    """The invalid LLM decisions of a decisions table, and all its LLM decisions.

    Rule decisions (``method == "rule"``) and the recorded starting states of opinion
    societies (``method == "initial"``) are not LLM decisions and never count.

    Parameters
    ----------
    decisions : pandas.DataFrame
        A decisions table with ``valid`` and ``method`` columns.

    Returns
    -------
    tuple of int
        ``(invalid, asked)``: invalid LLM decisions and all LLM decisions; ``(0, 0)`` for
        an empty table or one lacking ``valid`` or ``method``. The share is
        ``invalid / asked`` when ``asked`` is positive.

    Examples
    --------
    >>> frame = pd.DataFrame({"valid": [True, False, True], "method": ["rule", "invalid",
    ...                                                                "logprobs"]})
    >>> invalid_share(frame)
    (1, 2)
    """
    if not isinstance(decisions, pd.DataFrame) or not {"valid", "method"} <= set(decisions):
        return 0, 0
    llm = ~decisions["method"].isin(_NOT_ASKED).to_numpy()
    invalid = ~decisions["valid"].eq(True).to_numpy()  # None or NaN: not a valid answer
    return int((llm & invalid).sum()), int(llm.sum())


#: Decision methods that are not an LLM's answer.
_NOT_ASKED = ("rule", "initial")


# -- bounds on config numbers ------------------------------------------------------------

#: The memory a run may plan to fill, in bytes. A fixed budget rather than this machine's
#: memory, so that a config valid here is valid on every machine a sweep or CI sends it to.
MEMORY_BUDGET = 8 * 2**30
#: Bytes one decision row takes while a run holds it: tracemalloc's peak over rule runs of
#: the Asch, conventions and polarization studies was 1.1-1.8 KB a row (the row's dict in
#: the society, then its DataFrame); LLM rows also hold probabilities and longer prompts.
ROW_BYTES = 2048
#: Most decision rows a run may produce: 8 GiB / 2 KiB = 4,194,304.
MAX_ROWS = MEMORY_BUDGET // ROW_BYTES
#: Bytes one tie of a society's network takes (the networkx graph and the society's
#: neighbour sets): 264 measured on a complete network of 1,500 members.
TIE_BYTES = 300
#: Most ties one society's network may have: 8 GiB / 300 B, about 28.6 million.
MAX_TIES = MEMORY_BUDGET // TIE_BYTES
#: Most members of one society: every member answers every round, so 100,000 members
#: make 100,000 rows (200 MB) a round; a run of the tens of rounds a study needs then
#: fills the row budget.
MAX_MEMBERS = 100_000
#: Why a count (runs, rounds, subjects) is bounded by :data:`MAX_ROWS`.
ROWS_WHY = " (each makes at least one decision row, and a run can hold that many in memory)"
#: Longest memory window: a member cannot recall more rounds than a run can hold rows.
MAX_WINDOW = MAX_ROWS
#: Highest sampling temperature: beyond a few units a tempered choice is already uniform,
#: so this bound only catches typos.
MAX_TEMPERATURE = 100.0


def flag(name: str) -> str:
    """A config field as the CLI writes it: ``"--" + name`` with ``-`` for ``_``."""
    return "--" + name.replace("_", "-")


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real | str) and not isinstance(value, bool)


def _to_float(value: Any, name: str, kind: str) -> float | int:
    """``value`` as an int (when it is one) or a float; one line naming ``name`` if not."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if not _is_number(value):
        raise ConfigError(f"{flag(name)} must be {kind}, got {value!r}")
    try:
        text = value.strip() if isinstance(value, str) else value
        return int(text) if isinstance(text, str) and text.lstrip("+-").isdigit() else float(text)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{flag(name)} must be {kind}, got {value!r}") from None


def _show(x: int) -> str:
    """An int as text, huge ones in scientific notation (a message stays one short line)."""
    text = str(x)
    digits = text.lstrip("-")
    if len(digits) <= 20:
        return text
    return f"{text[: len(text) - len(digits)]}{digits[0]}.{digits[1:3]}e+{len(digits) - 1}"


def whole_number(
    value: Any, name: str, low: int | None = 0, high: int | None = None, why: str = ""
) -> int:
    """``value`` as a whole number in ``[low, high]``, or a one-line error naming ``name``.

    Accepts an int, an integral float (``1e3``, as a sweep grid may give it) or its text.
    The messages name the field as the CLI writes it (``--members``), except the lower
    bound's, which reads ``"<name> must be at least <low>"``. See :func:`whole`.
    """
    x = _to_float(value, name, "a whole number")
    if isinstance(x, float):
        if not math.isfinite(x):
            raise ConfigError(f"{flag(name)} must be a finite whole number, got {x}")
        if not x.is_integer():
            raise ConfigError(f"{flag(name)} must be a whole number, got {x:g}")
        x = int(x)
    if low is not None and x < low:
        raise ConfigError(f"{name} must be at least {low}, got {_show(x)}")
    if high is not None and x > high:
        raise ConfigError(
            f"{flag(name)} {_show(x)} is more than {high:,}{why}; use at most {high:,}"
        )
    return x


def whole(
    config: Any, name: str, low: int | None = 0, high: int | None = None, why: str = ""
) -> int:
    """Check that field ``name`` of a frozen config is a whole number in ``[low, high]``.

    Accepts an int, an integral float (``1e3`` from a sweep grid) or its text, and stores
    it back as an ``int``.

    Parameters
    ----------
    config : dataclass
        The (frozen) config whose field is checked and normalised.
    name : str
        The field.
    low, high : int or None
        Bounds, inclusive (None: unbounded).
    why : str
        What the upper bound protects, completing ``"--x N is more than HIGH"`` (e.g.
        ``" members a society can hold in memory"``).

    Returns
    -------
    int
        The value.

    Raises
    ------
    ConfigError
        One line naming the field: not a number, not finite, not whole, out of range.
    """
    value = whole_number(getattr(config, name), name, low, high, why)
    object.__setattr__(config, name, value)
    return value


def whole_list(
    config: Any, name: str, low: int | None = 0, high: int | None = None, why: str = ""
) -> tuple[int, ...]:
    """:func:`whole` for a list field: a comma-separated string or a sequence, as a tuple."""
    values = getattr(config, name)
    if isinstance(values, str):  # text is read by the one reader of config text
        from workbench import config as fields

        values = fields.split(values)
    elif not isinstance(values, Iterable):
        values = [values]
    out = tuple(whole_number(v, name, low, high, why) for v in values)
    object.__setattr__(config, name, out)
    return out


def number(
    config: Any,
    name: str,
    low: float | None = None,
    high: float | None = None,
    *,
    open_low: bool = False,
) -> float:
    """Check that field ``name`` of a frozen config is a finite number in its range.

    Parameters
    ----------
    config : dataclass
        The (frozen) config; the field is stored back as a ``float``.
    name : str
        The field.
    low, high : float or None
        Bounds (None: unbounded); ``high`` is inclusive, ``low`` too unless ``open_low``.

    Returns
    -------
    float

    Raises
    ------
    ConfigError
        One line naming the field: not a number, NaN or infinite, out of range.
    """
    x = float(_to_float(getattr(config, name), name, "a number"))
    if not math.isfinite(x):
        raise ConfigError(f"{flag(name)} must be a finite number, got {x}")
    below = low is not None and (x <= low if open_low else x < low)
    if below or (high is not None and x > high):
        lo = "" if low is None else f"{'above' if open_low else 'at least'} {low:g}"
        hi = "" if high is None else f"at most {high:g}"
        raise ConfigError(
            f"{flag(name)} must be {' and '.join(p for p in (lo, hi) if p)}, got {x:g}"
        )
    object.__setattr__(config, name, x)
    return x


def check_rows(
    rows: float, formula: str, lower: str, most: tuple[str, float, float] | None = None
) -> None:
    """Reject a run that could produce more than :data:`MAX_ROWS` decision rows.

    Parameters
    ----------
    rows : float
        The most rows the run could produce (a product of the config's sizes).
    formula : str
        How ``rows`` was counted, in flags (``"--members x --rounds x --runs"``).
    lower : str
        The flags to lower, for the message (``"--rounds, --runs or --members"``).
    most : (str, float, float) or None
        ``(field, per, fixed)`` when ``rows = fixed + per x field``: the message then says
        the most the field may be with the others as they are.

    Raises
    ------
    ConfigError
        One line: the estimate, the bound and how it was derived, what to lower.
    """
    if rows <= MAX_ROWS:
        return
    hint = ""
    if most is not None and most[1] > 0 and most[2] < MAX_ROWS:
        name, per, fixed = most
        hint = f" ({flag(name)} at most {(MAX_ROWS - fixed) // per:,.0f} with the rest as it is)"
    if isinstance(rows, int):
        count = f"{rows:,}" if rows < 10**20 else _show(rows)
    else:
        count = f"{rows:,.0f}" if rows < 1e20 else f"{rows:.2e}"
    raise ConfigError(
        f"this run could produce {count} decision rows ({formula}), more than the "
        f"{MAX_ROWS:,} a run can hold in memory ({MEMORY_BUDGET // 2**30} GiB at "
        f"~{ROW_BYTES // 1024} KiB a row); lower {lower}{hint}"
    )


def expected_ties(kind: str, n: int, *, k: float = 4, p: float = 0.1, m: float = 2) -> float:
    """The expected number of ties of a network of ``n`` members.

    ``complete``: every pair; ``erdos_renyi`` and ``sbm``: ``p`` of the pairs;
    ``barabasi_albert``: ``m`` per member; ``grid``: two per member; the lattices and
    regular graphs (``ring``, ``watts_strogatz``, ``small_world``, ``random``):
    ``n k / 2``.
    """
    pairs = n * (n - 1) / 2
    if kind == "complete":
        return pairs
    if kind in ("erdos_renyi", "sbm"):
        return p * pairs
    if kind == "barabasi_albert":
        return m * n
    if kind == "grid":
        return 2.0 * n
    return n * min(k, n - 1) / 2


def check_network(kind: str, n: int, name: str = "members", **params: float) -> None:
    """Reject a society whose network could not fit in memory (:data:`MAX_TIES` ties).

    Parameters
    ----------
    kind : str
        The network kind (see :func:`expected_ties`).
    n : int
        Members of one society.
    name : str
        The size field, for the message.
    **params
        ``k``, ``p``, ``m`` of the network, as :func:`expected_ties` takes them.

    Raises
    ------
    ConfigError
        One line: the ties, the bound, the most members that fit.
    """
    ties = expected_ties(kind, n, **params)
    if ties <= MAX_TIES:
        return
    low, high = 1, n  # the most members that fit, by bisection
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (
            (mid, high) if expected_ties(kind, mid, **params) <= MAX_TIES else (low, mid - 1)
        )
    raise ConfigError(
        f"{flag(name)} {n:,} on a {kind} network makes {ties:,.0f} ties, more than the "
        f"{MAX_TIES:,} a society can hold in memory (~{TIE_BYTES} bytes a tie); use at most "
        f"{low:,} members or a sparser network"
    )
