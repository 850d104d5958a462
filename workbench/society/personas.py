"""Personas: the prompt a person brings to every situation.

The built-in library (``workbench/data/personas.json``) holds short second-person
descriptions: an independent thinker, an agreeable team player, high and low poles of the
Big Five traits [1]_, a few political leanings. A user file in the same format adds to or
overrides it, and any sentence can serve as a custom persona. The opinion studies add
three personas of their own (:data:`OPINION_PERSONAS`, after [3]_), which
:func:`resolve_opinion_persona` finds before the library.

References
----------
.. [1] O. P. John and S. Srivastava, "The Big Five trait taxonomy: history, measurement,
   and theoretical perspectives", in Handbook of Personality, 2nd ed., 102-138 (1999).
.. [2] G. V. Aher, R. I. Arriaga and A. T. Kalai, "Using large language models to simulate
   multiple humans and replicate human subject studies", ICML (2023).
.. [3] Y.-S. Chuang, A. Goyal, N. Harlalka, S. Suresh, R. Hawkins, S. Yang, D. Shah,
   J. Hu and T. T. Rogers, "Simulating opinion dynamics with networks of LLM-based
   agents", Findings of NAACL (2024).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from workbench.errors import ConfigError
from workbench.society import library

__all__ = [
    "NO_PERSONA",
    "OPINION_PERSONAS",
    "Persona",
    "load_personas",
    "resolve_opinion_persona",
    "resolve_persona",
]


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
    return {
        name: Persona(name, item["text"].strip(), str(item.get("description", "")))
        for name, item in library.entries(data, source, "persona", "text")
    }


@cache
def _builtin() -> dict[str, Persona]:
    return _parse(library.builtin("personas.json"), "built-in personas")


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
        data = library.read_file(path, "persona")
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


#: Personas of the opinion studies: Chuang et al.'s strong and weak confirmation bias
#: (paraphrased) [3]_ and an open-minded one. They extend the persona library for these studies.
OPINION_PERSONAS: dict[str, Persona] = {
    "confirmation_bias": Persona(
        "confirmation_bias",
        "You are a real person with a strong confirmation bias: you only believe information "
        "that supports what you already think, and you dismiss anything that contradicts it.",
        "Strong confirmation bias (after Chuang et al. 2024)",
    ),
    "weak_confirmation_bias": Persona(
        "weak_confirmation_bias",
        "You are a real person with a confirmation bias: you are more likely to believe "
        "information that supports what you already think, and less likely to believe "
        "information that contradicts it.",
        "Weak confirmation bias (after Chuang et al. 2024)",
    ),
    "open_minded": Persona(
        "open_minded",
        "You are a real person and you are open-minded: you weigh what others say on its "
        "merits and change your mind when they give you good reason to.",
        "Open-minded",
    ),
}


def resolve_opinion_persona(persona: str | Persona, path: str | Path | None = None) -> Persona:
    """A persona by name from :data:`OPINION_PERSONAS`, else as :func:`resolve_persona`."""
    if isinstance(persona, str) and persona.strip() in OPINION_PERSONAS:
        return OPINION_PERSONAS[persona.strip()]
    return resolve_persona(persona, path)
