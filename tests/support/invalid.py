"""Turn recorded decisions into what unreadable model answers record."""

from __future__ import annotations

import pandas as pd


def spoil(
    decisions: pd.DataFrame, rows, *, also: tuple[str, ...] = (), probabilities: bool = False
) -> pd.DataFrame:
    """``decisions`` with ``rows`` turned into what an unreadable model answer records.

    Parameters
    ----------
    decisions : pandas.DataFrame
        A decisions table.
    rows : array-like of bool
        The rows to spoil.
    also : tuple of str
        Columns derived from the choice (``"correct"``, ``"value"``) that become missing too.
    probabilities : bool
        Whether the rows' option probabilities become all zero, as an invalid answer's are.

    Returns
    -------
    pandas.DataFrame
        A copy; ``valid`` is False, ``choice`` and ``also`` are None, ``method`` is
        ``"invalid"`` on ``rows``.
    """
    columns = ("choice", *also)
    out = decisions.astype(dict.fromkeys(columns, object))
    out.loc[rows, "valid"] = False
    out.loc[rows, list(columns)] = None
    out.loc[rows, "method"] = "invalid"
    if probabilities:
        out["probabilities"] = [
            (0.0,) * len(o) if bad else p
            for p, o, bad in zip(out.probabilities, out.options, rows, strict=True)
        ]
    return out
