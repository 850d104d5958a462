"""Personas: the prompt a person brings to every situation.

The built-in library (``workbench/data/personas.json``) holds short second-person
descriptions: an independent thinker, an agreeable team player, high and low poles of the
Big Five traits [1]_, a few political leanings. A user file in the same format adds to or
overrides it, and any sentence can serve as a custom persona.

References
----------
.. [1] O. P. John and S. Srivastava, "The Big Five trait taxonomy: history, measurement,
   and theoretical perspectives", in Handbook of Personality, 2nd ed., 102-138 (1999).
.. [2] G. V. Aher, R. I. Arriaga and A. T. Kalai, "Using large language models to simulate
   multiple humans and replicate human subject studies", ICML (2023).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from workbench.errors import ConfigError

__all__ = ["NO_PERSONA", "Persona", "load_personas", "resolve_persona"]


@dataclass(frozen=True)
class Persona:
    """A named persona prompt.

    Parameters
    ----------
    name : str
        Short identifier (``"independent_thinker"``); ``"custom"`` for free text.
    text : str
        The prompt, in the second person; empty for no persona.
    description : str
        One line for listings.
    """

    name: str
    text: str
    description: str = ""


#: The absence of a persona: the model's own default voice.
NO_PERSONA = Persona("none", "", "no persona prompt")


def _parse(data: object, source: str) -> dict[str, Persona]:
    if isinstance(data, dict) and "personas" in data:
        data = data["personas"]
    if isinstance(data, dict):  # a plain {name: text} mapping
        data = [{"name": k, "text": v} for k, v in data.items()]
    if not isinstance(data, list):
        raise ConfigError(f"{source}: expected a list of personas or a name-to-text mapping")
    personas = {}
    for i, item in enumerate(data):
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("name"), str)
            or not isinstance(item.get("text"), str)
            or not item["name"].strip()
        ):
            raise ConfigError(f"{source}: persona {i + 1} needs string fields 'name' and 'text'")
        name = item["name"].strip()
        personas[name] = Persona(name, item["text"].strip(), str(item.get("description", "")))
    return personas


@cache
def _builtin() -> dict[str, Persona]:
    text = resources.files("workbench.data").joinpath("personas.json").read_text("utf-8")
    return _parse(json.loads(text), "built-in personas")


def load_personas(path: str | Path | None = None) -> dict[str, Persona]:
    """Return the persona library, optionally extended by a user file.

    Parameters
    ----------
    path : str, pathlib.Path or None
        A JSON file: ``{"personas": [{"name", "text", "description"}, ...]}`` (the
        built-in format), a list of such objects, or a ``{name: text}`` mapping. Its
        personas are added to the built-in ones and override those of the same name.

    Returns
    -------
    dict of str to Persona
        Keyed by name, ``"none"`` included.

    Raises
    ------
    ConfigError
        When the file is missing, is not JSON, or holds a malformed persona.
    """
    personas = {"none": NO_PERSONA, **_builtin()}
    if path is not None:
        path = Path(path)
        try:
            data = json.loads(path.read_text("utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read persona file {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"persona file {path} is not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"persona file {path} is not valid JSON (line {exc.lineno}: {exc.msg})"
            ) from None
        personas.update(_parse(data, f"persona file {path}"))
    return personas


def resolve_persona(persona: str | Persona, path: str | Path | None = None) -> Persona:
    """Turn a persona name or custom text into a :class:`Persona`.

    Parameters
    ----------
    persona : str or Persona
        A library name (``"team_player"``), ``"none"`` or ``""`` for no persona, or free
        text (anything with a space in it) used as a custom persona.
    path : str, pathlib.Path or None
        Optional user persona file, see :func:`load_personas`.

    Returns
    -------
    Persona

    Raises
    ------
    ConfigError
        For a single word that names no persona.
    """
    if isinstance(persona, Persona):
        return persona
    key = persona.strip()
    if not key:
        return NO_PERSONA
    library = load_personas(path)
    if key in library:
        return library[key]
    if any(c.isspace() for c in key):
        return Persona("custom", key, "custom text")
    raise ConfigError(
        f"unknown persona {key!r}; use one of {', '.join(library)} or a sentence of custom text"
    )
