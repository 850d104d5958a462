"""Config fields: the single home of "config fields = CLI flags = widget names = sweep keys".

A study's config is a frozen dataclass. This module is the only place where text becomes
a field value: the CLI's flags, sweep grids (``key=v1,v2``), the Explorer's widgets and
:func:`workbench.run` all go through :func:`parse` and :func:`coerce`, and :func:`to_argv`
writes a config back as flags that parse to the same config.

The rules
---------
1. **Types.** A field is ``bool``, ``int``, ``float``, ``str``, ``X | None`` or
   ``tuple[X, ...]`` of one of those.
2. **Tuple fields are lists inside one run; scalar fields are fixed per run.** A tuple
   field lists the levels of a factor the study varies within a run (Asch's majority
   sizes, the populations compared side by side) or the entries of a list (personas
   assigned in turn). A scalar field is one value for the whole run; a sweep varies it
   across runs. A sweep may vary a tuple field too: each grid value is then one whole
   list (``majority=3`` is the list ``(3,)``).
3. **Shared fields have one name and one type in every study** (:data:`SHARED`). A
   factor's name is plural (``norms``, ``topologies``, ``personas``, ``populations``,
   ``sizes``), a single value's singular (``norm``, ``topology``, ``model``,
   ``members``). Declare them with this module's factories (:func:`model`,
   :func:`norms`, ...), which carry their help text and their check, and call
   :func:`normalise` first in ``__post_init__``.
4. **Text forms.** A list is comma-separated; a comma inside an entry is written ``\\,``.
   ``none`` is None in an optional field and the empty list in a list of numbers;
   booleans are ``true``/``false`` (also ``yes``/``no``, ``1``/``0``, ``on``/``off``).
"""

from __future__ import annotations

import dataclasses
import shlex
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from workbench.errors import ConfigError

__all__ = [
    "SHARED",
    "FieldSpec",
    "coerce",
    "count",
    "defaults",
    "degree",
    "exchange",
    "factor",
    "fields_of",
    "flag",
    "join",
    "make",
    "members",
    "memory",
    "model",
    "norm",
    "normalise",
    "norms",
    "parse",
    "persona_file",
    "personas",
    "populations",
    "split",
    "temperature",
    "to_argv",
    "to_text",
    "topologies",
    "topology",
]

_TRUE = frozenset({"true", "yes", "1", "on"})
_FALSE = frozenset({"false", "no", "0", "off"})
_NONE = "none"


# -- reading a config class -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """One config field as every front end sees it.

    Attributes
    ----------
    name : str
        The field (widget name, sweep key).
    kind : type
        ``bool``, ``int``, ``float`` or ``str``: the type of the value, or of each entry
        of a list.
    many : bool
        A tuple field (a comma-separated list on the command line).
    optional : bool
        The field may be None (``none`` on the command line).
    default : Any
        The default value.
    help : str
        One line for ``--help`` and the widget's tooltip.
    choices : tuple of str or None
        The values the field takes, where they are a fixed set (e.g. ``exchange``).
    """

    name: str
    kind: type
    many: bool
    optional: bool
    default: Any
    help: str = ""
    choices: tuple[str, ...] | None = None

    @property
    def flag(self) -> str:
        """The field's CLI flag, ``--name-with-dashes``."""
        return flag(self.name)


def flag(name: str) -> str:
    """A config field as the CLI writes it: ``"--" + name`` with ``-`` for ``_``."""
    return "--" + name.replace("_", "-")


def _resolve(hint: Any) -> tuple[type, bool, bool]:
    """(entry type, is a tuple, is optional) of a field's type hint."""
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(inner) < len(typing.get_args(hint))
        hint = inner[0] if len(inner) == 1 else str
    many = typing.get_origin(hint) is tuple
    if many:
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        hint = args[0] if args else str
    kind = hint if hint in (bool, int, float, str) else str
    return kind, many, optional


def fields_of(config: type | Any) -> dict[str, FieldSpec]:
    """The :class:`FieldSpec` of every field of a config dataclass (class or instance)."""
    cls = config if isinstance(config, type) else type(config)
    if not dataclasses.is_dataclass(cls):
        raise ConfigError(f"{cls!r} is not a config dataclass")
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # annotations that do not resolve (e.g. in a notebook): text fields
        hints = {}
    specs = {}
    for f in dataclasses.fields(cls):
        kind, many, optional = _resolve(hints.get(f.name, str))
        default = f.default if f.default is not dataclasses.MISSING else None
        if f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        choices = f.metadata.get("choices")
        specs[f.name] = FieldSpec(
            f.name,
            kind,
            many,
            optional,
            default,
            f.metadata.get("help", ""),
            tuple(choices()) if callable(choices) else choices,
        )
    return specs


def defaults(config: type) -> dict[str, Any]:
    """Field name -> default value of a config dataclass."""
    return {name: spec.default for name, spec in fields_of(config).items()}


# -- text to value ----------------------------------------------------------------------


def split(text: str, *, keep_empty: bool = False) -> list[str]:
    """The entries of a comma-separated list, stripped (empty ones dropped by default).

    ``\\,`` is a comma inside an entry and ``\\\\`` a backslash; any other backslash is
    itself, so a sentence with a backslash needs no escaping unless one ends an entry.
    """
    # Not the csv module: its escape character escapes every character, so a backslash in
    # a sentence typed on the command line would vanish.
    parts, current, i = [], [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in ",\\":
            current.append(text[i + 1])
            i += 2
            continue
        if c == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
        i += 1
    parts.append("".join(current))
    parts = [p.strip() for p in parts]
    return parts if keep_empty else [p for p in parts if p]


def join(values: Iterable[Any]) -> str:
    """The comma-separated text of a list, commas and backslashes inside entries escaped."""
    return ",".join(to_text(v).replace("\\", "\\\\").replace(",", "\\,") for v in values)


def _one(text: str, kind: type, name: str) -> Any:
    word = text.strip()
    try:
        if kind is bool:
            if word.lower() in _TRUE | _FALSE:
                return word.lower() in _TRUE
            raise ValueError(text)
        if kind is int:
            number = float(word) if not word.lstrip("+-").isdigit() else int(word)
            if isinstance(number, float) and not number.is_integer():
                raise ValueError(text)
            return int(number)
        if kind is float:
            return float(word)
    except (ValueError, OverflowError):
        what = {bool: "true or false", int: "a whole number", float: "a number"}[kind]
        raise ConfigError(f"{flag(name)} takes {what}, got {text!r}") from None
    return word


def parse(text: str, spec: FieldSpec) -> Any:
    """The value of field ``spec`` written as ``text`` (a flag's or a text box's value).

    Raises
    ------
    ConfigError
        One line naming the flag, for text that is not a value of the field's type.
    """
    if not isinstance(text, str):
        raise ConfigError(f"{spec.flag} takes text here, got {text!r}")
    if spec.optional and text.strip().lower() in (_NONE, ""):
        return None
    if spec.many:
        if text.strip().lower() == _NONE and spec.kind is not str:
            return ()
        return tuple(_one(part, spec.kind, spec.name) for part in split(text))
    return _one(text, spec.kind, spec.name)


def coerce(value: Any, spec: FieldSpec) -> Any:
    """Any accepted form of a field's value (text, a list, a number) as the field's type.

    Text goes through :func:`parse`; a list field accepts any sequence (its text entries
    are cast one by one, never split again) or one scalar (a list of one); numbers are
    checked to be of the field's kind (``3.0`` is the whole number 3, ``3.5`` is not).
    """
    if isinstance(value, str):
        return parse(value, spec)
    if value is None:
        if spec.optional or spec.default is None:
            return None
        raise ConfigError(f"{spec.flag} needs a value")
    if spec.many:
        entries = list(value) if isinstance(value, Iterable) else [value]
        return tuple(_entry(v, spec) for v in entries)
    return _entry(value, spec)


def _entry(value: Any, spec: FieldSpec) -> Any:
    """One non-text value as the field's kind (numpy numbers included), or a one-line error."""
    if isinstance(value, str):
        return _one(value, spec.kind, spec.name)
    if spec.kind is str:
        return value  # str fields also take objects (a Persona, a Topic) as they are
    if spec.kind is bool:
        if isinstance(value, bool):
            return value
    elif not isinstance(value, bool):  # True is no number of people
        if spec.kind is int and hasattr(value, "__index__"):
            return int(value)
        if spec.kind is int and isinstance(value, float) and value.is_integer():
            return int(value)
        if spec.kind is float and hasattr(value, "__float__"):
            return float(value)
    what = {bool: "true or false", int: "a whole number", float: "a number"}[spec.kind]
    raise ConfigError(f"{spec.flag} takes {what}, got {value!r}")


def normalise(config: Any) -> None:
    """Cast every field of a frozen config to its type, then run the shared checks.

    Call it first in ``__post_init__``: after it, a list field is a tuple of its entry
    type whatever form it came in (text, list, scalar), a number field is a number, and
    every field declared with a factory of this module has passed its check.
    """
    specs = fields_of(config)
    for name, spec in specs.items():
        object.__setattr__(config, name, coerce(getattr(config, name), spec))
    for f in dataclasses.fields(config):
        check = f.metadata.get("check")
        if check is not None:
            check(config, f.name)


def make(config: type, values: Mapping[str, Any] | None = None, **more: Any) -> Any:
    """The config ``config(**values)``, every value in any accepted form (text or not).

    Keys may use ``-`` for ``_``; an unknown key is a one-line :class:`ConfigError`
    naming the fields.
    """
    specs = fields_of(config)
    given = {str(k).replace("-", "_"): v for k, v in {**(values or {}), **more}.items()}
    unknown = [k for k in given if k not in specs]
    if unknown:
        raise ConfigError(
            f"unknown field {unknown[0]!r} of {config.__name__}; it has {', '.join(specs)}"
        )
    return config(**{k: coerce(v, specs[k]) for k, v in given.items()})


# -- value to text ----------------------------------------------------------------------


def to_text(value: Any) -> str:
    """A field value as the command line writes it (see :func:`parse`)."""
    if value is None:
        return _NONE
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return join(value) if value else _NONE
    if isinstance(value, float):
        return repr(value)
    return str(getattr(value, "name", value)) if not isinstance(value, int | str) else str(value)


def to_argv(config: Any, *, changed_only: bool = True) -> list[str]:
    """The flags that give ``config`` (only fields that differ from their default).

    ``parse`` of every flag's text gives back the field's value, so the command runs as
    printed; booleans are ``--flag`` / ``--no-flag``.
    """
    argv = []
    for name, spec in fields_of(config).items():
        value = getattr(config, name)
        if changed_only and value == spec.default:
            continue
        if spec.kind is bool and not spec.many and not spec.optional:
            argv.append(spec.flag if value else "--no-" + spec.flag.removeprefix("--"))
        else:
            argv.append(f"{spec.flag}={to_text(value)}")
    return argv


def command_line(words: Iterable[str], config: Any, seed: int | None = None) -> str:
    """A shell command (``words`` then the flags of ``config`` and ``--seed``)."""
    seed_args = [] if seed is None else [f"--seed={seed}"]
    return shlex.join([*words, *to_argv(config), *seed_args])


# -- the shared fields ------------------------------------------------------------------


def _field(default: Any, help: str, check: Callable[[Any, str], Any] | None, **meta: Any):
    metadata = {"help": help, "shared": True, **meta}
    if check is not None:
        metadata["check"] = check
    if isinstance(default, list | dict | set):
        raise TypeError("a config default must be immutable; use a tuple")
    return dataclasses.field(default=default, metadata=metadata)


def _check_model(config: Any, name: str) -> None:
    from workbench.society.persons import check_model

    for spec in _as_list(getattr(config, name)):
        check_model(spec)


def _each(validate: Callable[[Any], Any], what: str) -> Callable[[Any, str], None]:
    """A check that a field holds at least one value and that ``validate`` accepts each."""

    def check(config: Any, name: str) -> None:
        values = _as_list(getattr(config, name))
        if not values:
            raise ConfigError(f"{flag(name)} needs at least one {what}")
        for value in values:
            validate(value)

    return check


def _norm_text(value: str) -> str:
    from workbench.society.situation import norm_text

    return norm_text(value)


def _topology(kind: str) -> Any:
    from workbench.society.topology import Topology

    return Topology(kind)


_check_norm = _each(_norm_text, "norm")
_check_topology = _each(_topology, "network kind")


def _check_personas(config: Any, name: str) -> None:
    if not getattr(config, name):
        raise ConfigError(f"{flag(name)} needs at least one persona (or none)")


def _check_library_personas(config: Any, name: str) -> None:
    from workbench.society.personas import resolve_persona

    _check_personas(config, name)
    for persona in getattr(config, name):
        resolve_persona(persona, getattr(config, "persona_file", None))


def _check_exchange(config: Any, name: str) -> None:
    from workbench.society.situation import EXCHANGES

    if getattr(config, name) not in EXCHANGES:
        raise ConfigError(
            f"{flag(name)} must be one of {', '.join(EXCHANGES)}, got {getattr(config, name)!r}"
        )


def _check_memory(config: Any, name: str) -> None:
    from workbench.society.checks import MAX_WINDOW, whole

    whole(config, name, 0, MAX_WINDOW, " earlier rounds a member can recall")


def _check_temperature(config: Any, name: str) -> None:
    from workbench.society.checks import MAX_TEMPERATURE, number

    number(config, name, 0.0, MAX_TEMPERATURE)


def _as_list(value: Any) -> tuple:
    return tuple(value) if isinstance(value, tuple | list) else (value,)


def _exchanges() -> tuple[str, ...]:
    from workbench.society.situation import EXCHANGES

    return tuple(EXCHANGES)


def _topologies() -> tuple[str, ...]:
    from workbench.society.topology import KINDS

    return tuple(KINDS)


def model(default: str, help: str = "model of the LLM persons (litellm string) or a rule spec"):
    """``model: str``: the one model of a study's persons, or a rule spec (``rule:...``)."""
    return _field(default, help, _check_model)


def populations(default: tuple[str, ...], help: str = "populations compared: models or rules"):
    """``populations: tuple[str, ...]``: populations side by side, each a model or rule."""

    def check(config: Any, name: str) -> None:
        if not getattr(config, name):
            raise ConfigError(f"{flag(name)} needs at least one model or rule")
        _check_model(config, name)

    return _field(default, help, check)


def personas(
    default: tuple[str, ...] = ("none",),
    help: str = "personas of LLM members (library names or none), assigned in turn",
    *,
    library: bool = False,
):
    """``personas: tuple[str, ...]``: persona names, sentences or ``none``.

    With ``library=True`` every entry must be a persona of the library or of the config's
    ``persona_file`` field (or a sentence, or ``none``), as
    :func:`~workbench.society.personas.resolve_persona` reads it; without, the study reads
    its entries itself (e.g. a persona library of its own).
    """
    return _field(default, help, _check_library_personas if library else _check_personas)


def persona_file(help: str = "JSON file of extra personas"):
    """``persona_file: str | None``: a user file of personas."""
    return _field(None, help, None)


def norm(default: str = "none", help: str = "norm preset or sentence"):
    """``norm: str``: one norm, a preset name or a sentence."""
    return _field(default, help, _check_norm)


def norms(default: tuple[str, ...] = ("none",), help: str = "norms: presets or sentences"):
    """``norms: tuple[str, ...]``: norms compared within a run."""
    return _field(default, help, _check_norm)


def topology(default: str = "complete", help: str = "network kind"):
    """``topology: str``: one network kind (see :data:`workbench.society.TOPOLOGIES`)."""
    return _field(default, help, _check_topology, choices=_topologies)


def topologies(default: tuple[str, ...] = ("complete",), help: str = "network kinds compared"):
    """``topologies: tuple[str, ...]``: network kinds compared within a run."""
    return _field(default, help, _check_topology, choices=_topologies)


def degree(default: int = 4, help: str = "degree of the ring and random networks"):
    """``degree: int``: the degree of the networks that take one (ring, random, ...).

    Checked where the network is built, against its kind and size (e.g.
    :func:`~workbench.society.coordination.check_game_network`).
    """
    return _field(default, help, None)


def exchange(default: str = "answers", help: str = "answers or counts"):
    """``exchange: str``: what a member sees of the others (see ``EXCHANGES``)."""
    return _field(default, help, _check_exchange, choices=_exchanges)


def memory(default: int = 0, help: str = "earlier rounds recalled in the prompt"):
    """``memory: int``: earlier rounds a member recalls."""
    return _field(default, help, _check_memory)


def temperature(default: float, help: str = "sampling temperature of LLM members"):
    """``temperature: float``: sampling temperature of LLM members, 0 to 100."""
    return _field(default, help, _check_temperature)


def wording(default: int = 0, help: str = ""):
    """``wording: int``: which paraphrase of every prompt members read (0, the original).

    The paraphrases are :data:`workbench.society.task.WORDINGS` and each study's own
    texts in as many wordings; the battery asks every question in each.
    """

    def check(config: Any, name: str) -> None:
        from workbench.society.task import WORDINGS

        value = getattr(config, name)
        if not 0 <= value < len(WORDINGS):
            raise ConfigError(
                f"{flag(name)} must be 0 (the original) to {len(WORDINGS) - 1}, got {value}"
            )

    return _field(default, help or "paraphrase of the prompts: 0 (the original), 1 or 2", check)


def members(default: int, help: str = "members per society (N)"):
    """``members: int``: the size of each society."""

    def check(config: Any, name: str) -> None:
        from workbench.society.checks import MAX_MEMBERS, whole

        whole(config, name, 1, MAX_MEMBERS, " members a society can hold in memory")

    return _field(default, help, check)


def count(default: int, help: str, low: int = 1):
    """A whole number of things (rounds, runs, subjects) from ``low`` up, bounded by memory."""

    def check(config: Any, name: str) -> None:
        from workbench.society.checks import MAX_ROWS, ROWS_WHY, whole

        whole(config, name, low, MAX_ROWS, ROWS_WHY)

    return _field(default, help, check)


def factor(default: tuple, help: str):
    """A tuple field listing the levels of a factor varied within a run (at least one)."""

    def check(config: Any, name: str) -> None:
        if not getattr(config, name):
            raise ConfigError(f"{flag(name)} needs at least one value")

    return _field(default, help, check)


#: The shared fields: name -> (type, factory). A study field with one of these names has
#: this type (checked by the conformance suite, ``tests/test_conformance.py``).
SHARED: dict[str, tuple[Any, Callable[..., Any]]] = {
    "model": (str, model),
    "populations": (tuple[str, ...], populations),
    "personas": (tuple[str, ...], personas),
    "persona_file": (str | None, persona_file),
    "norm": (str, norm),
    "norms": (tuple[str, ...], norms),
    "topology": (str, topology),
    "topologies": (tuple[str, ...], topologies),
    "exchange": (str, exchange),
    "memory": (int, memory),
    "temperature": (float, temperature),
    "members": (int, members),
    "sizes": (tuple[int, ...], None),
    "degree": (int, degree),
    "wording": (int, wording),
}
