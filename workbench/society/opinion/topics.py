"""Topics: the claims an opinion society discusses.

Topics ship as data (``workbench/data/topics.json``): factual claims in an accurate and an
inaccurate framing (science, history, common sense, after [1]_) and value-laden claims
without ground truth. A user file in the same format adds to them.

References
----------
.. [1] Y.-S. Chuang, A. Goyal, N. Harlalka, S. Suresh, R. Hawkins, S. Yang, D. Shah,
   J. Hu and T. T. Rogers, "Simulating opinion dynamics with networks of LLM-based
   agents", Findings of NAACL (2024).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from workbench.errors import ConfigError
from workbench.society import library

__all__ = ["NO_TOPIC", "Topic", "load_topics", "resolve_topic"]


@dataclass(frozen=True)
class Topic:
    """A claim a society discusses.

    Parameters
    ----------
    name : str
        Short identifier (``"global_warming"``); ``"custom"`` for free text.
    claim : str
        The claim members say how much they agree with.
    truth : bool or None
        Whether the claim is accurate; None for value-laden claims (no ground truth).
    category : str
        ``"science"``, ``"history"``, ``"common_sense"``, ``"value"`` or free text.
    """

    name: str
    claim: str
    truth: bool | None = None
    category: str = ""

    @property
    def accurate(self) -> int | None:
        """The accurate opinion level: +2 for a true claim, -2 for a false one."""
        return None if self.truth is None else (2 if self.truth else -2)


#: A placeholder for rule populations, which do not read the claim.
NO_TOPIC = Topic("none", "(no claim: rule members do not read it)")


def _parse_topics(data: object, source: str) -> dict[str, Topic]:
    topics = {}
    for i, (name, item) in enumerate(library.entries(data, source, "topic", "claim")):
        if item.get("truth") not in (True, False, None):
            raise ConfigError(f"{source}: topic {i + 1} needs a 'truth' of true, false or null")
        topics[name] = Topic(
            name, item["claim"].strip(), item.get("truth"), str(item.get("category", ""))
        )
    return topics


@cache
def _builtin_topics() -> dict[str, Topic]:
    return _parse_topics(library.builtin("topics.json"), "built-in topics")


def load_topics(path: str | Path | None = None) -> dict[str, Topic]:
    """The topic library, optionally extended by a user file of the same format.

    Parameters
    ----------
    path : str, pathlib.Path or None
        A JSON file: ``{"topics": [{"name", "claim", "truth", "category"}, ...]}``, a
        list of such objects, or a ``{name: claim}`` mapping; its topics are added to the
        built-in ones and override those of the same name.

    Returns
    -------
    dict of str to Topic

    Raises
    ------
    ConfigError
        When the file is missing, is not JSON, or holds a malformed topic.
    """
    topics = dict(_builtin_topics())
    if path is not None:
        data = library.read_file(path, "topic")
        topics.update(_parse_topics(data, f"topic file {path}"))
    return topics


def resolve_topic(topic: str | Topic, path: str | Path | None = None) -> Topic:
    """A topic by name, or free text (anything with a space) as a claim without truth.

    Raises
    ------
    ConfigError
        For a single word that names no topic.
    """
    if isinstance(topic, Topic):
        return topic
    key = topic.strip()
    if key == NO_TOPIC.name:
        return NO_TOPIC
    library = load_topics(path)
    if key in library:
        return library[key]
    if any(c.isspace() for c in key):
        return Topic("custom", key)
    raise ConfigError(
        f"unknown topic {key!r}; use one of {', '.join(library)} or a sentence (a claim)"
    )
