"""One widget per config field, read back through the CLI's own parser.

The Explorer does not know any study's fields: it asks
:func:`workbench.commands.run.add_config_arguments` for the flags of the study's config
dataclass (the same call that builds ``workbench run STUDY``), makes one widget per flag,
named after the field, and turns the widgets back into a config by writing the equivalent
command line and parsing it with that parser and
:func:`~workbench.commands.run.config_from_args`. So the panel builds exactly the config
object the CLI builds for the same values, and can show that command line.

Each widget's ``value`` is in the field's CLI form: numbers and text as themselves, lists
as comma-separated text (``"0,1,3"``) except the persona/mix fields, whose widgets hold a
tuple of entries. Empty text stands for None in optional fields.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets
import traitlets

from workbench.errors import ConfigError
from workbench.society import EXCHANGES, NORMS, SCHEDULES, TOPOLOGIES, load_personas

__all__ = [
    "MIX_FIELDS",
    "NormControl",
    "PersonaMix",
    "SECTIONS",
    "TOPOLOGY_PARAMS",
    "config_parser",
    "make_control",
    "model_choices",
    "parse_config",
    "to_argv",
]

#: Parameters that only some topologies use (shown only for those).
TOPOLOGY_PARAMS: frozenset[str] = frozenset(p for ps in TOPOLOGIES.values() for p in ps)
#: Fields whose widget is a persona mix (entries ``who=share``) or a persona list.
MIX_FIELDS = ("mix", "persona", "personas")
#: Which tab a field goes to; fields named nowhere go to "design".
SECTIONS: dict[str, tuple[str, ...]] = {
    "person": ("model", *MIX_FIELDS, "persona_file", "temperature"),
    "situation": (
        "members",
        "topology",
        *sorted(TOPOLOGY_PARAMS),
        "norm",
        "exchange",
        "schedule",
        "memory",
    ),
}
_CHOICES: dict[str, Sequence[str]] = {
    "topology": tuple(TOPOLOGIES),
    "exchange": tuple(EXCHANGES),
    "schedule": tuple(SCHEDULES),
}
RULE_SPECS = (
    "rule:truthful",
    "rule:majority",
    "rule:conformist:0.5",
    "rule:committed:A",
    "rule:committed:B",
    "rule:confederate",
)
_STYLE = {"description_width": "110px"}


def _wide() -> widgets.Layout:
    return widgets.Layout(width="420px")


class _RaisingParser(argparse.ArgumentParser):
    """argparse whose errors are :class:`ConfigError` (a panel must not exit)."""

    def error(self, message: str) -> None:  # noqa: D401 - argparse API
        raise ConfigError(message)


def config_parser(config: type) -> argparse.ArgumentParser:
    """The ``workbench run`` flags of the dataclass ``config``, raising instead of exiting."""
    from workbench.commands.run import add_config_arguments

    parser = _RaisingParser(prog="workbench run", add_help=False)
    add_config_arguments(parser, config)
    return parser


def _actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {a.dest: a for a in parser._actions if a.option_strings}


def to_argv(parser: argparse.ArgumentParser, values: dict[str, Any]) -> list[str]:
    """The command-line flags that give ``values`` (field name to widget value).

    Fields left at an empty value in an optional field are omitted (so they take the
    default, None); booleans become ``--flag`` / ``--no-flag``; tuples are joined with
    commas (``none`` for an empty list).
    """
    argv = []
    for name, action in _actions(parser).items():
        if name not in values:
            continue
        value, flag = values[name], action.option_strings[0]
        if isinstance(action, argparse.BooleanOptionalAction):
            argv.append(flag if value else "--no-" + flag.removeprefix("--"))
            continue
        if isinstance(value, tuple | list):
            for entry in value:
                if "," in str(entry):
                    tip = "save it as a named persona" if name in MIX_FIELDS else "rephrase it"
                    raise ConfigError(
                        f"{name}: {entry!r} contains a comma, which separates list "
                        f"entries on the command line; {tip}"
                    )
            if not value and action.type("none") != ():
                raise ConfigError(f"{name} needs at least one entry")
            value = ",".join(str(v) for v in value) or "none"
        elif isinstance(action.default, tuple) and not str(value).strip():
            value = "none"  # the CLI's empty list
        elif value is None or (isinstance(value, str) and not value.strip()):
            if action.default is None:
                continue
            raise ConfigError(f"{name} needs a value")
        argv.append(f"{flag}={value}")
    return argv


def parse_config(config: type, argv: list[str]) -> Any:
    """The config the CLI builds from ``argv`` (:class:`ConfigError` on bad input)."""
    from workbench.commands.run import config_from_args

    args = config_parser(config).parse_args(argv)
    return config_from_args(config, args)


def command_line(study: str, argv: list[str], seed: int | None = None) -> str:
    """The ``workbench run`` command equivalent to a panel's settings."""
    seed_args = [] if seed is None else [f"--seed={seed}"]
    return shlex.join(["workbench", "run", study, *argv, *seed_args])


def model_choices() -> list[str]:
    """Models offered in the model box: the local catalogue, then the rule policies."""
    from workbench.llm.catalogue import list_models

    return [f"local/{m['name']}" for m in list_models()] + list(RULE_SPECS)


def model_hint(model: str) -> str:
    """One line about a model string (cached, will download, rule, remote)."""
    from workbench.llm.catalogue import list_models

    if model.startswith("rule:"):
        return "a rule policy: no model is called"
    if model.startswith("local/"):
        name = model.removeprefix("local/")
        for entry in list_models():
            if entry["name"] == name:
                return (
                    "embedded model, downloaded"
                    if entry["cached"]
                    else f"embedded model, fetched on first use ({entry['size']})"
                )
        if name.endswith(".gguf"):
            return "a GGUF file on this machine"
        return "not in the local catalogue"
    return (
        "any litellm model string; the provider's key is read from the environment "
        "(for an OpenAI-compatible server, fill in server and key variable)"
    )


class NormControl(widgets.VBox):
    """A norm: a preset (dropdown) or any sentence (the text box, editable).

    ``value`` is the preset name when the text is a preset's text, else the text.
    """

    value = traitlets.Unicode("none")

    def __init__(self, name: str, value: str = "none", **kwargs) -> None:
        self.field = name
        self.preset = widgets.Dropdown(options=[*NORMS, "custom"], description=name, style=_STYLE)
        self.text = widgets.Textarea(
            placeholder="no norm; pick a preset or write a sentence",
            layout=widgets.Layout(width="420px", height="54px", margin="0 0 0 114px"),
        )
        super().__init__([self.preset, self.text], **kwargs)
        self._syncing = False
        self.preset.observe(self._on_preset, "value")
        self.text.observe(self._on_text, "value")
        self.value = value
        self._on_value({"new": value})
        self.observe(self._on_value, "value")

    def _on_preset(self, change) -> None:
        if self._syncing or change["new"] == "custom":
            return
        self.value = change["new"]

    def _on_text(self, change) -> None:
        if self._syncing:
            return
        text = change["new"].strip()
        match = next((k for k, t in NORMS.items() if t == text), None)
        self.value = match or text or "none"

    def _on_value(self, change) -> None:
        value = change["new"].strip() or "none"
        self._syncing = True
        try:
            if value in NORMS:
                self.preset.value, self.text.value = value, NORMS[value]
            else:
                self.preset.value, self.text.value = "custom", value
        finally:
            self._syncing = False


class PersonaMix(widgets.VBox):
    """Pick personas (and rule policies) with shares: ``value`` is a tuple of entries.

    With ``shares=True`` an entry is ``"who=share"`` (the sandbox's mix); otherwise just
    ``"who"`` (a list of persona conditions, as in Asch's ``persona``).
    """

    value = traitlets.Tuple()

    def __init__(
        self,
        name: str,
        value: Sequence[str],
        choices: Callable[[], list[str]],
        shares: bool = True,
        **kwargs,
    ) -> None:
        self.field = name
        self.shares = shares
        self._choices = choices
        self.rows = widgets.VBox()
        self.add = widgets.Button(
            description="add", icon="plus", layout=widgets.Layout(width="80px")
        )
        self.add.on_click(self._add_row)
        label = widgets.HTML(f"<b>{name}</b>", layout=widgets.Layout(width="110px"))
        super().__init__([widgets.HBox([label, self.rows]), self.add], **kwargs)
        self.add.layout.margin = "0 0 0 114px"
        self._syncing = False
        self.value = tuple(value)
        self._rebuild(self.value)
        self.observe(lambda c: self._syncing or self._rebuild(c["new"]), "value")

    def refresh(self) -> None:
        """Reload the choices (e.g. after a persona was saved)."""
        self._rebuild(self.value)

    def _split(self, entry: str) -> tuple[str, float]:
        if self.shares and "=" in entry:
            who, _, share = entry.rpartition("=")
            try:
                return who, float(share)
            except ValueError:
                return entry, 1.0
        return entry, 1.0

    def _row(self, who: str, share: float) -> widgets.HBox:
        options = list(dict.fromkeys([*self._choices(), who]))
        pick = widgets.Dropdown(options=options, value=who, layout=widgets.Layout(width="230px"))
        parts: list[widgets.Widget] = [pick]
        if self.shares:
            parts.append(
                widgets.BoundedFloatText(
                    value=share, min=0, max=1000, step=0.05, layout=widgets.Layout(width="80px")
                )
            )
        remove = widgets.Button(icon="times", tooltip="remove", layout=widgets.Layout(width="36px"))
        parts.append(remove)
        row = widgets.HBox(parts)
        for part in parts[:-1]:
            part.observe(lambda _: self._read(), "value")
        remove.on_click(lambda _: self._remove(row))
        return row

    def _rebuild(self, value) -> None:
        self.rows.children = [self._row(*self._split(e)) for e in value]

    def _add_row(self, _=None) -> None:
        first = self._choices()[0]
        self.rows.children = [*self.rows.children, self._row(first, 1.0)]
        self._read()

    def _remove(self, row) -> None:
        self.rows.children = [r for r in self.rows.children if r is not row]
        self._read()

    def _read(self) -> None:
        entries = []
        for row in self.rows.children:
            who = row.children[0].value
            entries.append(f"{who}={row.children[1].value:g}" if self.shares else who)
        self._syncing = True
        try:
            self.value = tuple(entries)
        finally:
            self._syncing = False


def make_control(
    name: str,
    action: argparse.Action,
    default: Any,
    *,
    persona_names: Callable[[], list[str]] = lambda: list(load_personas()),
) -> widgets.Widget:
    """The widget of one config field, named (``description``) after the field.

    Parameters
    ----------
    name : str
        Field name.
    action : argparse.Action
        The field's ``workbench run`` flag.
    default : Any
        The field's default value.
    persona_names : callable
        Returns the persona names to offer (the library plus a persona file).
    """
    tip = action.help or ""
    common = {"description": name, "style": _STYLE}
    if name == "model" and isinstance(default, str):
        return widgets.Combobox(
            value=str(default),
            options=model_choices(),
            ensure_option=False,
            layout=_wide(),
            tooltip=tip,
            **common,
        )
    if name in MIX_FIELDS and isinstance(default, tuple):
        shares = any("=" in str(e) for e in default) or name == "mix"
        if shares:
            return PersonaMix(name, default, lambda: [*persona_names(), *RULE_SPECS], True)
        return PersonaMix(name, default, persona_names, False)
    if name == "norm":
        value = default if isinstance(default, str) else ",".join(default)
        return NormControl(name, value)
    if isinstance(action, argparse.BooleanOptionalAction):
        return widgets.Checkbox(value=bool(default), indent=True, tooltip=tip, **common)
    if name in _CHOICES and isinstance(default, str):
        if default in _CHOICES[name]:
            return widgets.Dropdown(options=_CHOICES[name], value=default, tooltip=tip, **common)
        return widgets.Combobox(  # the study knows more values (e.g. "auto"): suggest ours
            value=default,
            options=[default, *_CHOICES[name]],
            ensure_option=False,
            tooltip=tip,
            **common,
        )
    if isinstance(default, tuple) or default is None:
        shown = "" if default is None else ",".join(str(v) for v in default)
        return widgets.Text(value=shown, placeholder=tip, layout=_wide(), tooltip=tip, **common)
    if action.type is int:
        return widgets.IntText(value=int(default), tooltip=tip, **common)
    if action.type is float:
        return widgets.FloatText(value=float(default), step=0.05, tooltip=tip, **common)
    if name == "question":
        from workbench.widgets.sandbox import QUESTIONS

        return widgets.Combobox(
            value=str(default),
            options=list(QUESTIONS),
            ensure_option=False,
            layout=_wide(),
            tooltip=tip,
            **common,
        )
    return widgets.Text(value=str(default), layout=_wide(), tooltip=tip, **common)


def controls_for(config: type, **kwargs) -> dict[str, widgets.Widget]:
    """One widget per field of ``config``, by field name, with the field's default."""
    import dataclasses

    actions = _actions(config_parser(config))
    controls = {}
    for f in dataclasses.fields(config):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        controls[f.name] = make_control(f.name, actions[f.name], default, **kwargs)
    return controls
