"""Small helpers the studies' figures share."""

from __future__ import annotations

__all__ = ["count"]


def count(n: int, noun: str) -> str:
    """``n`` and ``noun``, the noun plural unless ``n`` is 1.

    Examples
    --------
    >>> count(1, "subject"), count(4, "subject")
    ('1 subject', '4 subjects')
    """
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
