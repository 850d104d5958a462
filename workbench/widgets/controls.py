"""One widget per config field, made from the field's :class:`~workbench.config.FieldSpec`.

The Explorer does not know any study's fields: :func:`controls_for` reads the specs of
the study's config dataclass (:func:`workbench.config.fields_of`: the same specs the
CLI's flags and the sweep keys come from) and makes one widget per field, named after
it, from the field's kind, whether it is a list, whether it may be None and its
choices. Only a few fields have a richer widget, chosen by name, singular or plural:
the model box (:data:`MODEL_FIELDS`), the persona mix (:data:`MIX_FIELDS`) and the norm
control (:data:`NORM_FIELDS`). :func:`config_of` builds the config straight from the
widget values with :func:`workbench.config.make`, so a list entry is never split again:
a norm sentence with a comma reaches the config as it was typed.

Each widget's ``value`` is a form :func:`workbench.config.coerce` accepts: numbers,
booleans and text as themselves; a tuple of entries for the model list, persona mix and
norm list widgets; other lists as comma-separated text (``"0,1,3"``, ``\\,`` for a comma
inside an entry). Empty text stands for None in an optional field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import ipywidgets as widgets
import traitlets

from workbench import config as fields
from workbench.config import FieldSpec
from workbench.society import NORMS, TOPOLOGIES, load_personas
from workbench.society.persons import is_rule, rule_examples
from workbench.society.topology import ALIASES

__all__ = [
    "MIX_FIELDS",
    "MODEL_FIELDS",
    "NORM_FIELDS",
    "SECTIONS",
    "TOPOLOGY_FIELDS",
    "TOPOLOGY_PARAMS",
    "NormControl",
    "NormList",
    "PersonaMix",
    "config_of",
    "controls_for",
    "make_control",
    "model_choices",
    "model_hint",
    "topology_kinds",
]

#: Parameters that only some topologies use (shown only for those).
TOPOLOGY_PARAMS: frozenset[str] = frozenset(p for ps in TOPOLOGIES.values() for p in ps)
#: Fields holding a model or rule spec (one: a model box; a list: rows of model boxes).
MODEL_FIELDS = ("model", "models", "population", "populations")
#: Fields whose widget is a persona mix (entries ``who=share``) or a persona list.
MIX_FIELDS = ("mix", "persona", "personas")
#: Fields whose widget is a norm control (one norm) or a list of them.
NORM_FIELDS = ("norm", "norms")
#: Fields naming the network kind (one, or a list compared within a run).
TOPOLOGY_FIELDS = ("topology", "topologies")
#: Which tab a field goes to; fields named nowhere go to "design".
SECTIONS: dict[str, tuple[str, ...]] = {
    "person": (*MODEL_FIELDS, *MIX_FIELDS, "persona_file", "temperature"),
    "situation": (
        "members",
        "sizes",
        *TOPOLOGY_FIELDS,
        *sorted(TOPOLOGY_PARAMS),
        *NORM_FIELDS,
        "exchange",
        "schedule",
        "memory",
    ),
}
#: Width of a field's name before its widget, and of a whole row, in the Explorer's sidebar.
LABEL_WIDTH = 86
ROW_WIDTH = 290
_STYLE = {"description_width": f"{LABEL_WIDTH}px"}
_INDENT = f"0 0 0 {LABEL_WIDTH + 4}px"


def _wide() -> widgets.Layout:
    return widgets.Layout(width=f"{ROW_WIDTH}px")


def model_choices() -> list[str]:
    """Models offered in the model box: the local catalogue, then every registered rule."""
    from workbench.llm.catalogue import list_models

    return [f"local/{m['name']}" for m in list_models()] + rule_examples()


def model_hint(model: str) -> str:
    """One line about a model string (cached, will download, rule, remote)."""
    from workbench.llm.catalogue import list_models

    if is_rule(model):
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


def topology_kinds(value: Any) -> list[str]:
    """The network kinds a topology widget's value names (text or a list), aliases resolved."""
    kinds = fields.split(value) if isinstance(value, str) else [str(v) for v in value]
    return [ALIASES.get(k, k) for k in kinds]


def _entries(value: Any) -> tuple:
    """A list widget's value as a tuple: one text is one entry (it is never split)."""
    if isinstance(value, str):
        return (value,)
    return tuple(value)


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
            layout=widgets.Layout(
                width=f"{ROW_WIDTH - LABEL_WIDTH - 4}px", height="54px", margin=_INDENT
            ),
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


class _RowList(widgets.VBox):
    """A list-valued control: one row of input widgets per entry, an add and a remove button.

    ``value`` is a tuple of entries; a text assigned to it is one entry, never split at
    its commas. A subclass says what the inputs of an entry are (:meth:`_inputs`), those of
    a new row (:meth:`_new_inputs`) and which entry a row's inputs hold (:meth:`_entry`);
    it sets its own attributes before calling ``__init__``, which builds the rows.
    """

    value = traitlets.Any(())

    def __init__(
        self,
        name: str,
        value: Sequence[str],
        add: str,
        add_width: str,
        head: Callable[[widgets.VBox], widgets.Widget] | None = None,
        **kwargs,
    ) -> None:
        self.field = name
        self.rows = widgets.VBox()
        self.add = widgets.Button(
            description=add, icon="plus", layout=widgets.Layout(width=add_width)
        )
        self.add.layout.margin = _INDENT
        self.add.on_click(self._add_row)
        super().__init__([self.rows if head is None else head(self.rows), self.add], **kwargs)
        self._syncing = False
        self.value = _entries(value)
        self._rebuild(self.value)
        self.observe(lambda c: self._syncing or self._rebuild(c["new"]), "value")

    @traitlets.validate("value")
    def _validate(self, proposal) -> tuple:
        return _entries(proposal["value"])

    def _inputs(self, entry: str, first: bool) -> list[widgets.Widget]:
        raise NotImplementedError

    def _new_inputs(self, first: bool) -> list[widgets.Widget]:
        raise NotImplementedError

    def _entry(self, inputs: Sequence[widgets.Widget]) -> str:
        raise NotImplementedError

    def _row(self, inputs: list[widgets.Widget]) -> widgets.HBox:
        remove = widgets.Button(icon="times", tooltip="remove", layout=widgets.Layout(width="32px"))
        row = widgets.HBox([*inputs, remove])
        for part in inputs:
            part.observe(lambda _: self._read(), "value")
        remove.on_click(lambda _: self._remove(row))
        return row

    def _rebuild(self, value) -> None:
        self.rows.children = [self._row(self._inputs(e, i == 0)) for i, e in enumerate(value)]

    def _add_row(self, _=None) -> None:
        row = self._row(self._new_inputs(not self.rows.children))
        self.rows.children = [*self.rows.children, row]
        self._read()

    def _remove(self, row) -> None:
        self.rows.children = [r for r in self.rows.children if r is not row]
        self._read()

    def _read(self) -> None:
        self._syncing = True
        try:
            self.value = tuple(self._entry(row.children[:-1]) for row in self.rows.children)
        finally:
            self._syncing = False


class NormList(_RowList):
    """Norms compared within a run: one :class:`NormControl` per entry, add and remove.

    ``value`` is a tuple of norms (preset names or sentences); a text assigned to it is
    one norm, never split at its commas.
    """

    def __init__(self, name: str, value: Sequence[str] = ("none",), **kwargs) -> None:
        super().__init__(name, value, "add norm", "110px", **kwargs)

    def _inputs(self, entry: str, first: bool) -> list[widgets.Widget]:
        # only the first row carries the field's name, as its label
        return [NormControl(self.field if first else "", entry)]

    def _new_inputs(self, first: bool) -> list[widgets.Widget]:
        return self._inputs("none", first)

    def _entry(self, inputs: Sequence[widgets.Widget]) -> str:
        return inputs[0].value


class PersonaMix(_RowList):
    """Pick entries from a list (personas, rule policies, models): ``value`` is a tuple.

    With ``shares=True`` an entry is ``"who=share"`` (the sandbox's mix); otherwise just
    ``"who"`` (a list of persona conditions, as in Asch's ``personas``). With
    ``free=True`` each row is a box that also takes text not in the list (a model
    string).
    """

    def __init__(
        self,
        name: str,
        value: Sequence[str],
        choices: Callable[[], list[str]],
        shares: bool = True,
        *,
        free: bool = False,
        **kwargs,
    ) -> None:
        self.shares = shares
        self.free = free
        self._choices = choices
        label = widgets.HTML(f"<b>{name}</b>")
        super().__init__(
            name, value, "add", "80px", head=lambda rows: widgets.VBox([label, rows]), **kwargs
        )

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

    def _inputs(self, entry: str, first: bool) -> list[widgets.Widget]:
        return self._pick(*self._split(entry))

    def _new_inputs(self, first: bool) -> list[widgets.Widget]:
        return self._pick(self._choices()[0], 1.0)

    def _pick(self, who: str, share: float) -> list[widgets.Widget]:
        options = list(dict.fromkeys([*self._choices(), who]))
        width = widgets.Layout(width=f"{ROW_WIDTH - 40}px" if self.free else "190px")
        pick = (
            widgets.Combobox(options=options, value=who, ensure_option=False, layout=width)
            if self.free
            else widgets.Dropdown(options=options, value=who, layout=width)
        )
        if not self.shares:
            return [pick]
        share_box = widgets.BoundedFloatText(
            value=share, min=0, max=1000, step=0.05, layout=widgets.Layout(width="70px")
        )
        return [pick, share_box]

    def _entry(self, inputs: Sequence[widgets.Widget]) -> str:
        who = inputs[0].value
        return f"{who}={inputs[1].value:g}" if self.shares else who


def _text(spec: FieldSpec) -> str:
    """A field's default as its text box shows it (empty for None and the empty list)."""
    if spec.default is None:
        return ""
    if spec.many:
        return fields.join(spec.default)
    return fields.to_text(spec.default)


def make_control(
    spec: FieldSpec,
    *,
    persona_names: Callable[[], list[str]] = lambda: list(load_personas()),
    suggest: Sequence[str] = (),
) -> widgets.Widget:
    """The widget of one config field, named (``description``) after the field.

    Parameters
    ----------
    spec : FieldSpec
        The field (:func:`workbench.config.fields_of`).
    persona_names : callable
        Returns the persona names to offer (the library plus a persona file).
    suggest : sequence of str
        Values to offer in a text field's box (the field's ``"suggest"`` metadata);
        other text is allowed too.
    """
    name, default, tip = spec.name, spec.default, spec.help
    common = {"description": name, "style": _STYLE}
    if spec.kind is str and name in MODEL_FIELDS:
        if spec.many:
            return PersonaMix(name, default or (), model_choices, shares=False, free=True)
        return _open_box(default or "", model_choices(), tip, common)
    if spec.kind is str and name in MIX_FIELDS:
        if not spec.many:
            return _open_box(default or "none", persona_names(), tip, common)
        entries = default or ()
        if name == "mix" or any("=" in str(e) for e in entries):
            return PersonaMix(name, entries, lambda: [*persona_names(), *rule_examples()], True)
        return PersonaMix(name, entries, persona_names, False)
    if spec.kind is str and name in NORM_FIELDS:
        if spec.many:
            return NormList(name, default or ("none",))
        return NormControl(name, default or "none")
    if spec.many or spec.optional or default is None:
        hint = tip + (" (comma-separated; \\, for a comma inside an entry)" if spec.many else "")
        if spec.choices:
            hint += f"; one of {', '.join(spec.choices)}"
        return widgets.Text(
            value=_text(spec), placeholder=tip, layout=_wide(), tooltip=hint, **common
        )
    if spec.kind is bool:
        return widgets.Checkbox(value=bool(default), indent=True, tooltip=tip, **common)
    if spec.choices:
        if default in spec.choices:
            return widgets.Dropdown(options=spec.choices, value=default, tooltip=tip, **common)
        # the study knows more values (e.g. "auto"): suggest ours
        return _open_box(str(default), [str(default), *spec.choices], tip, common, wide=False)
    if spec.kind is int:
        return widgets.IntText(value=int(default), tooltip=tip, **common)
    if spec.kind is float:
        return widgets.FloatText(value=float(default), step=0.05, tooltip=tip, **common)
    if suggest:
        return _open_box(str(default), dict.fromkeys([str(default), *suggest]), tip, common)
    return widgets.Text(value=str(default), layout=_wide(), tooltip=tip, **common)


def _open_box(
    value: str, options: Iterable[str], tip: str, common: Mapping[str, Any], wide: bool = True
) -> widgets.Combobox:
    """A text box that offers ``options`` and takes any other text too."""
    layout = {"layout": _wide()} if wide else {}
    return widgets.Combobox(
        value=value, options=list(options), ensure_option=False, tooltip=tip, **layout, **common
    )


def _suggestions(config: type) -> dict[str, Sequence[str]]:
    """Field name -> the values its ``"suggest"`` metadata offers (a tuple or a callable)."""
    out = {}
    for f in dataclasses.fields(config):
        suggest = f.metadata.get("suggest")
        if suggest:
            out[f.name] = tuple(suggest() if callable(suggest) else suggest)
    return out


def controls_for(
    config: type, *, persona_names: Callable[[], list[str]] | None = None
) -> dict[str, widgets.Widget]:
    """One widget per field of ``config``, by field name, holding the field's default."""
    kwargs = {} if persona_names is None else {"persona_names": persona_names}
    suggest = _suggestions(config)
    return {
        name: make_control(spec, suggest=suggest.get(name, ()), **kwargs)
        for name, spec in fields.fields_of(config).items()
    }


def config_of(config: type, values: Mapping[str, Any]) -> Any:
    """The config ``config`` of widget values (field name -> value): :func:`config.make`.

    Raises
    ------
    ConfigError
        For a value the field does not take, or a config its checks reject.
    """
    return fields.make(config, values)
