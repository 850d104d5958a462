"""Data libraries (personas, topics): built-in JSON files extended by a user's file.

A library file is ``{"<kind>s": [{"name": ..., "<text field>": ..., ...}, ...]}``, a bare
list of such objects, or a ``{name: text}`` mapping. Reading and checking that shape is
the same for every library; what an entry becomes is the caller's.

Every string of an entry must be text a model, a cassette and the result store can hold:
a lone surrogate (JSON ``"\\ud800"`` with no partner) is rejected when the file is read,
not met later as a ``UnicodeEncodeError``.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError


def builtin(filename: str) -> Any:
    """The parsed JSON of a library shipped in ``workbench/data``."""
    return json.loads(resources.files("workbench.data").joinpath(filename).read_text("utf-8"))


def read_file(path: str | Path, kind: str) -> Any:
    """The parsed JSON of a user's ``kind`` file; a one-line error when it cannot be."""
    path = Path(path)
    try:
        return json.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {kind} file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{kind} file {path} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{kind} file {path} is not valid JSON (line {exc.lineno}: {exc.msg})"
        ) from None


def entries(data: Any, source: str, kind: str, text: str) -> list[tuple[str, dict]]:
    """``(name, entry)`` of every entry of a library, each with string ``name`` and ``text``.

    Parameters
    ----------
    data : object
        The parsed JSON, in any of the shapes the module docstring lists.
    source : str
        Where it came from, for error messages.
    kind : str
        ``"persona"`` or ``"topic"``: the entry kind (its plural is the list's key).
    text : str
        The field holding an entry's text (``"text"``, ``"claim"``).
    """
    if isinstance(data, dict) and f"{kind}s" in data:
        data = data[f"{kind}s"]
    if isinstance(data, dict):  # a plain {name: text} mapping
        data = [{"name": k, text: v} for k, v in data.items()]
    if not isinstance(data, list):
        raise ConfigError(f"{source}: expected a list of {kind}s or a name-to-{text} mapping")
    out = []
    for i, item in enumerate(data):
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("name"), str)
            or not isinstance(item.get(text), str)
            or not item["name"].strip()
        ):
            raise ConfigError(f"{source}: {kind} {i + 1} needs string fields 'name' and '{text}'")
        where = _lone_surrogate(item)
        if where is not None:
            raise ConfigError(
                f"{source}: {kind} {i + 1} ('{_printable(item['name'])}') has a lone surrogate "
                f"(a \\uD800-\\uDFFF escape with no partner) in {where}; replace the escape "
                "with the character it stands for, or write a surrogate pair"
            )
        out.append((item["name"].strip(), item))
    return out


def _lone_surrogate(value: Any, where: str = "") -> str | None:
    """Where in ``value`` a string holds a lone surrogate (``"field 'text'"``), or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return where or "its text"
        return None
    if isinstance(value, dict):
        for key, inner in value.items():
            here = f"{where}['{_printable(key)}']" if where else f"field '{_printable(key)}'"
            if _lone_surrogate(key) is not None:
                return f"the key {here}"
            found = _lone_surrogate(inner, here)
            if found is not None:
                return found
        return None
    if isinstance(value, list):
        for j, inner in enumerate(value):
            found = _lone_surrogate(inner, f"{where}[{j}]")
            if found is not None:
                return found
    return None


def _printable(text: str) -> str:
    """``text`` with lone surrogates written as escapes, so the message can be printed."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
