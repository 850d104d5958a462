"""The Explorer: a JupyterLab panel that builds a study from widgets and runs it.

Choose a study; set its config fields (one widget per field, named after it: the model,
the persona mix, the number of members, the topology and the parameters that topology
uses, the norm, the memory window, ...); press Run. The run happens in a worker thread,
so the notebook stays responsive; a progress bar counts finished societies; Stop lets the
running societies finish, starts no new one, and shows what finished. The results are the
study's own plot and the network of one society with each member coloured by its answer
at the step chosen on a slider. With "compare" on, the previous run's plot stays beside
the new one, captioned with the settings that changed.

The widgets are made from the config's field specs and the config is built straight
from their values with :func:`workbench.config.make` (see
:mod:`workbench.widgets.controls`); the panel shows the equivalent command,
:func:`workbench.config.command_line`, which ``workbench run STUDY`` parses back into
``panel.config()``.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import shlex
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from workbench import config as fields
from workbench.errors import CassetteMissError, ConfigError, WorkbenchError
from workbench.society import draw_seed, load_personas
from workbench.studies import STUDIES, Study, StudyFailed, StudyInterrupted, StudyResult, Unit
from workbench.widgets.controls import (
    MODEL_FIELDS,
    SECTIONS,
    TOPOLOGY_FIELDS,
    TOPOLOGY_PARAMS,
    PersonaMix,
    config_of,
    controls_for,
    model_hint,
    topology_kinds,
)
from workbench.widgets.plots import choice_shares_figure, layout, network_figure, png

__all__ = ["Explorer", "default_studies"]

_ERROR = '<div style="color:#b00020"><b>Error:</b> {}</div>'
_TAB_TITLES = ("person", "situation", "design")


#: The study the panel shows first, when it is registered.
FIRST = "sandbox"


def default_studies() -> dict[str, type[Study]]:
    """Every registered study (:data:`workbench.studies.STUDIES`), the sandbox first."""
    studies = dict(STUDIES.items())
    first = {FIRST: studies.pop(FIRST)} if FIRST in studies else {}
    return {**first, **studies}


def _image_output(data: bytes, text: str = "<Figure>") -> dict:
    return {
        "output_type": "display_data",
        "data": {"image/png": base64.b64encode(data).decode("ascii"), "text/plain": text},
        "metadata": {},
    }


@dataclasses.dataclass
class _Shown:
    png: bytes
    config: Any
    study: str
    seed: int


class Explorer(widgets.VBox):
    """Run studies from widgets in JupyterLab.

    Parameters
    ----------
    gateway : Gateway or None
        Where LLM members' requests go (e.g. a cassette-backed gateway); each run makes
        its own default gateway when None.
    studies : mapping of str to Study subclass, or None
        The studies to offer (:func:`default_studies` when None): add your own to explore
        it with the same panel.
    study : str or None
        The study shown first (the first one when None).
    workers : int or None
        Societies run at once (the study's default when None).
    persona_dir : str or pathlib.Path
        Where edited personas are saved (``personas.json``) when the config names no
        persona file.

    Attributes
    ----------
    controls : dict of str to ipywidgets.Widget
        The widget of each config field, by field name; each has a ``value``.
    result : StudyResult or None
        The last run's result (partial after Stop).
    error : str or None
        The last error message shown, if any.

    Examples
    --------
    >>> panel = Explorer(gateway)  # doctest: +SKIP
    >>> panel.controls["members"].value = 12  # doctest: +SKIP
    >>> panel.run_button.click(); panel.wait()  # doctest: +SKIP
    """

    def __init__(
        self,
        gateway=None,
        *,
        studies: dict[str, type[Study]] | None = None,
        study: str | None = None,
        workers: int | None = None,
        persona_dir: str | Path = "workbench-out",
    ) -> None:
        self.gateway = gateway
        self.studies = dict(default_studies() if studies is None else studies)
        if not self.studies:
            raise ConfigError("the Explorer needs at least one study")
        self.workers = workers
        self.persona_dir = Path(persona_dir)
        self.controls: dict[str, widgets.Widget] = {}
        self.result: StudyResult | None = None
        self.study: Study | None = None
        self.error: str | None = None
        self._traceback: str | None = None  # of the last unexpected error, for debugging
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._frames: dict[int, tuple[Unit, Any]] = {}
        self._graphs: dict[int, tuple[Any, dict]] = {}
        self._shown: _Shown | None = None

        first = study or next(iter(self.studies))
        if first not in self.studies:
            raise ConfigError(f"unknown study {first!r}; choose one of {', '.join(self.studies)}")
        self.study_select = widgets.Dropdown(
            options=list(self.studies), value=first, description="study"
        )
        self.compare = widgets.Checkbox(
            value=False, description="compare with the last run", indent=False
        )
        self.tabs = widgets.Tab()
        self.seed = widgets.Text(value="1", description="seed", placeholder="empty: draw one")
        self.seed.layout.width = "200px"
        self.run_button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.stop_button = widgets.Button(
            description="Stop", button_style="warning", icon="stop", disabled=True
        )
        self.progress = widgets.IntProgress(value=0, min=0, max=1, description="societies")
        self.status = widgets.HTML()
        self.command = widgets.HTML()
        self.plot_output = widgets.Output()
        self.plot_label = widgets.HTML()
        self.previous_output = widgets.Output()
        self.previous_label = widgets.HTML()
        self.previous_box = widgets.VBox(
            [self.previous_label, self.previous_output], layout=widgets.Layout(display="none")
        )
        self.unit = widgets.Dropdown(description="society", options=[])
        self.step = widgets.IntSlider(
            value=1, min=1, max=1, description="step", continuous_update=False
        )
        self.network_output = widgets.Output()

        label = {"description_width": "110px"}
        # How remote models are reached: GatewayConfig's api_base and api_key_env.
        self.api_base = widgets.Text(
            description="server",
            placeholder="provider default, or http://127.0.0.1:8000/v1",
            style=label,
            layout=widgets.Layout(width="420px"),
        )
        self.api_key_env = widgets.Text(
            description="key variable",
            placeholder="provider default, e.g. OPENAI_API_KEY",
            style=label,
            layout=widgets.Layout(width="420px"),
        )
        if gateway is not None:
            self.api_base.value = gateway.config.api_base or ""
            self.api_key_env.value = gateway.config.api_key_env or ""
        self.persona_pick = widgets.Dropdown(description="persona", style=label)
        self.persona_text = widgets.Textarea(layout=widgets.Layout(width="420px", height="70px"))
        self.persona_name = widgets.Text(description="save as", style=label)
        self.persona_save = widgets.Button(description="save persona", icon="save")
        self.persona_note = widgets.HTML()
        self.persona_editor = widgets.VBox(
            [
                widgets.HTML("<b>view or edit a persona's prompt</b>"),
                self.persona_pick,
                widgets.HBox(
                    [widgets.Label(layout=widgets.Layout(width="114px")), self.persona_text]
                ),
                widgets.HBox([self.persona_name, self.persona_save]),
                self.persona_note,
            ],
            layout=widgets.Layout(border="1px solid #ddd", padding="4px", margin="8px 0 0 0"),
        )
        self.persona_pick.observe(self._show_persona, "value")
        self.persona_save.on_click(self._save_persona)

        self.run_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())
        self.study_select.observe(lambda _: self._build_form(), "value")
        self.unit.observe(self._on_unit, "value")
        self.step.observe(lambda _: self._draw_network(), "value")
        self.compare.observe(self._on_compare, "value")

        results = widgets.HBox(
            [self.previous_box, widgets.VBox([self.plot_label, self.plot_output])]
        )
        super().__init__(
            [
                widgets.HBox([self.study_select, self.compare]),
                self.tabs,
                widgets.HBox([self.seed, self.run_button, self.stop_button, self.progress]),
                self.status,
                self.command,
                results,
                widgets.HBox([self.unit, self.step]),
                self.network_output,
            ]
        )
        self.add_class("workbench-explorer")
        self._build_form()

    # -- the form ---------------------------------------------------------------------

    @property
    def study_class(self) -> type[Study]:
        """The chosen study's class."""
        return self.studies[self.study_select.value]

    def _persona_file(self) -> str | None:
        control = self.controls.get("persona_file")
        value = control.value.strip() if control is not None else ""
        return value or None

    def _persona_names(self) -> list[str]:
        try:
            return list(load_personas(self._persona_file()))
        except WorkbenchError:
            return list(load_personas())

    def _build_form(self) -> None:
        cls = self.study_class
        self.controls = controls_for(cls.Config, persona_names=self._persona_names)
        sections: dict[str, list[widgets.Widget]] = {t: [] for t in _TAB_TITLES}
        for name, control in self.controls.items():
            section = next((s for s, names in SECTIONS.items() if name in names), "design")
            sections[section].append(control)
            control.observe(lambda _: self._refresh_command(), "value")
        model_field = next((f for f in MODEL_FIELDS if f in self.controls), None)
        if model_field is not None:
            model = self.controls[model_field]
            shown = [self.api_base, self.api_key_env]
            if isinstance(model.value, str):  # one model: say what it is
                hint = widgets.HTML(layout=widgets.Layout(margin="0 0 0 114px"))

                def show_hint(_=None) -> None:
                    hint.value = f"<i>{html.escape(model_hint(model.value))}</i>"

                model.observe(show_hint, "value")
                show_hint()
                shown.insert(0, hint)
            at = sections["person"].index(model) + 1
            sections["person"][at:at] = shown
        if self._topology_field() is not None:
            self.controls[self._topology_field()].observe(
                lambda _: self._show_topology_params(), "value"
            )
            self._show_topology_params()
        if "persona_file" in self.controls:
            self.controls["persona_file"].observe(lambda _: self._refresh_personas(), "value")
        sections["person"].append(self.persona_editor)
        self._refresh_personas()
        titles = [t for t in _TAB_TITLES if sections[t]]
        self.tabs.children = [widgets.VBox(sections[t]) for t in titles]
        self.tabs.titles = tuple(titles)
        self.tabs.selected_index = 0
        self._refresh_command()

    def _topology_field(self) -> str | None:
        """The config field naming the network: ``topology`` (one) or ``topologies``."""
        return next((f for f in TOPOLOGY_FIELDS if f in self.controls), None)

    def _show_topology_params(self) -> None:
        from workbench.society import TOPOLOGIES

        kinds = topology_kinds(self.controls[self._topology_field()].value)
        if kinds and all(k in TOPOLOGIES for k in kinds):  # one kind, or a list of kinds
            used = {p for k in kinds for p in TOPOLOGIES[k]}
        else:  # a kind this panel does not know: hide nothing
            used = set(TOPOLOGY_PARAMS)
        for name in TOPOLOGY_PARAMS & set(self.controls):
            self.controls[name].layout.display = None if name in used else "none"

    def _refresh_personas(self) -> None:
        names = self._persona_names()
        current = self.persona_pick.value
        self.persona_pick.options = names
        self.persona_pick.value = current if current in names else names[0]
        for control in self.controls.values():
            if isinstance(control, PersonaMix):
                control.refresh()
        writable = "persona_file" in self.controls
        self.persona_save.disabled = not writable
        self.persona_note.value = (
            "" if writable else "<i>this study takes no persona file: edits cannot be saved</i>"
        )

    def _show_persona(self, change=None) -> None:
        name = self.persona_pick.value
        personas = load_personas(self._persona_file()) if name else {}
        self.persona_text.value = personas[name].text if name in personas else ""
        self.persona_name.value = name or ""

    def _save_persona(self, _=None) -> None:
        """Save the edited text under the "save as" name in the persona file."""
        name, text = self.persona_name.value.strip(), self.persona_text.value.strip()
        if not name or any(c.isspace() or c in ",=" for c in name):
            self.persona_note.value = _ERROR.format("a persona name is one word, without , or =")
            return
        path = Path(self._persona_file() or self.persona_dir / "personas.json")
        try:
            data = json.loads(path.read_text("utf-8")) if path.exists() else {}
            entries = data.get("personas", []) if isinstance(data, dict) else data
            entries = [e for e in entries if e.get("name") != name]
            entries.append({"name": name, "text": text, "description": "edited in the Explorer"})
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(
                json.dumps(
                    {"format": "workbench-personas", "version": 1, "personas": entries}, indent=2
                )
                + "\n",
                "utf-8",
            )
        except (OSError, ValueError, AttributeError) as exc:
            self.persona_note.value = _ERROR.format(html.escape(f"cannot save to {path}: {exc}"))
            return
        self.controls["persona_file"].value = str(path)
        self._refresh_personas()
        self.persona_pick.value = name
        where = html.escape(str(path))
        self.persona_note.value = f"saved <code>{html.escape(name)}</code> in {where}"

    # -- config -----------------------------------------------------------------------

    def values(self) -> dict[str, Any]:
        """The widget values, by field name (each a form :func:`~workbench.config.coerce` takes)."""
        return {name: control.value for name, control in self.controls.items()}

    def config(self):
        """The study config of the current settings (:func:`workbench.config.make`).

        Raises
        ------
        ConfigError
            For a value a field does not take or the config's checks reject (the
            message ``workbench run`` would give for the same value).
        """
        return config_of(self.study_class.Config, self.values())

    def argv(self) -> list[str]:
        """The ``workbench run STUDY`` flags of the current settings (seed excluded)."""
        return fields.to_argv(self.config())

    def seed_value(self) -> int | None:
        """The seed box as an int (None when empty: a seed is drawn at Run)."""
        text = self.seed.value.strip()
        if not text:
            return None
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"seed must be a whole number, got {text!r}") from None

    def command_line(self, full: bool = False) -> str:
        """The equivalent ``workbench run`` command; it runs as printed.

        Parameters
        ----------
        full : bool
            Write every field's flag, not only those that differ from their default.
        """
        words = ["workbench", "run", self.study_class.name]
        cfg, seed = self.config(), self.seed_value()
        if not full:
            return fields.command_line(words, cfg, seed)
        seed_args = [] if seed is None else [f"--seed={seed}"]
        return shlex.join([*words, *fields.to_argv(cfg, changed_only=False), *seed_args])

    def _refresh_command(self) -> None:
        try:
            line = html.escape(self.command_line())
        except WorkbenchError as exc:
            line = f"(not valid yet: {html.escape(str(exc))})"
        self.command.value = f'<code style="font-size:85%">{line}</code>'

    # -- running ----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether a run is in progress."""
        return self._thread is not None and self._thread.is_alive()

    def run(self) -> threading.Thread | None:
        """Start a run with the current settings (what the Run button does).

        Returns
        -------
        threading.Thread or None
            The worker, or None when a setting is invalid (the panel shows why) or a run
            is already going.
        """
        if self.running:
            return None
        self._show_error(None)
        try:
            config = self.config()
            seed = self.seed_value()
            seed = draw_seed() if seed is None else seed
            study = self.study_class(config, seed=seed)
            total = len(study.units(seed))
            gateway, owned = self._run_gateway()
        except WorkbenchError as exc:
            self._show_error(exc)
            return None
        self.study = study
        self._stop = threading.Event()
        self._frames, self._graphs = {}, {}
        self.progress.max, self.progress.value, self.progress.bar_style = total, 0, "info"
        self.run_button.disabled, self.stop_button.disabled = True, False
        noun = "society" if total == 1 else "societies"
        self.status.value = f"running {total} {noun} (seed {seed})..."
        self._thread = threading.Thread(
            target=self._work, args=(study, gateway, owned), name="workbench-explorer", daemon=True
        )
        self._thread.start()
        return self._thread

    def stop(self) -> None:
        """Stop the run: societies already running finish and are kept, no new one starts."""
        if self.running:
            self._stop.set()
            self.stop_button.disabled = True
            self.status.value = "stopping: the running societies finish first..."

    def wait(self, timeout: float | None = None) -> StudyResult | None:
        """Block until the current run (if any) ends; return :attr:`result`."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.result

    def _unit_done(self, unit: Unit, decisions) -> None:
        self._frames[unit.index] = (unit, decisions)
        self.progress.value = len(self._frames)

    def _run_gateway(self):
        """The gateway of the next run and whether the panel made it (then it closes it).

        The panel's gateway, unless the server or key-variable boxes ask for another.
        """
        from workbench.llm import Gateway, GatewayConfig

        base = self.api_base.value.strip() or None
        key_env = self.api_key_env.value.strip() or None
        current = self.gateway.config if self.gateway is not None else GatewayConfig()
        if (base, key_env) == (current.api_base, current.api_key_env):
            return self.gateway, False
        config = dataclasses.replace(current, api_base=base, api_key_env=key_env)
        return Gateway(config), True

    def _work(self, study: Study, gateway=None, owned: bool = False) -> None:
        start = time.perf_counter()
        stopped, failure = False, None
        try:
            try:
                result = study.run(
                    gateway, workers=self.workers, stop=self._stop, on_unit=self._unit_done
                )
            except StudyInterrupted as interrupted:
                result, stopped = interrupted.result, True
            except StudyFailed as failed:  # shown with what finished, then why it stopped
                result, failure = failed.result, failed
            self.result = result
            self._show(result, stopped, time.perf_counter() - start)
            if failure is not None:  # the cause's full text goes under "details"
                self._show_error(failure.__cause__ or failure)
                self.progress.bar_style = "danger"
        except Exception as exc:  # shown in the panel: a worker has nowhere else to report
            self._show_error(exc)
            self.progress.bar_style = "danger"
        finally:
            if owned:
                gateway.close()
            self.run_button.disabled, self.stop_button.disabled = False, True

    # -- results ----------------------------------------------------------------------

    def _show(self, result: StudyResult, stopped: bool, seconds: float) -> None:
        done, total = result.metadata.get("units_done", 0), result.metadata.get("units", 0)
        if result.decisions.empty:
            self.progress.bar_style = "warning"
            self.status.value = "stopped before any society finished: nothing to show"
            return
        try:
            fig = self.study.plot(result)
        except NotImplementedError:
            fig = choice_shares_figure(result.decisions, title=result.study)
        image = png(fig)
        current = _Shown(image, result.config, result.study, result.seed)
        previous = self._shown
        if self.compare.value and previous is not None:
            self.previous_output.outputs = (_image_output(previous.png, "previous run"),)
            self.previous_label.value = f"<b>previous</b> {self._describe(previous, current)}"
            self.previous_box.layout.display = None
            self.plot_label.value = "<b>this run</b>"
        else:
            self.previous_box.layout.display = "none"
            self.plot_label.value = ""
        self.plot_output.outputs = (_image_output(image, f"{result.study} plot"),)
        self._shown = current
        self._show_units()
        invalid = int((~result.decisions.valid.astype(bool)).sum())
        parts = [
            f"{'stopped' if stopped else 'done'}: {len(result.decisions)} decisions from "
            f"{done} of {total} {'society' if total == 1 else 'societies'} in {seconds:.1f} s "
            f"(seed {result.seed})"
        ]
        if invalid:
            parts.append(f"{invalid} invalid answers{self._last_call_error()}")
        self.progress.bar_style = "warning" if stopped or invalid else "success"
        self.status.value = "; ".join(html.escape(p) for p in parts)

    def _last_call_error(self) -> str:
        accounting = getattr(self.gateway, "accounting", None)
        errors = [r.error for r in accounting.records if r.error] if accounting else []
        return f" (last model error: {errors[-1]})" if errors else ""

    @staticmethod
    def _describe(previous: _Shown, current: _Shown) -> str:
        if previous.study != current.study:
            return html.escape(f"({previous.study})")
        changed = [
            f"{f.name}={getattr(previous.config, f.name)!r}"
            for f in dataclasses.fields(previous.config)
            if getattr(previous.config, f.name) != getattr(current.config, f.name)
        ]
        if previous.seed != current.seed:
            changed.append(f"seed={previous.seed}")
        return html.escape("(" + (", ".join(changed) or "same settings") + ")")

    def _on_compare(self, change) -> None:
        if not change["new"]:
            self.previous_box.layout.display = "none"
            self.plot_label.value = ""

    def _show_units(self) -> None:
        options = []
        for index, (unit, _) in sorted(self._frames.items()):
            fields = ", ".join(f"{k}={v}" for k, v in unit.conditions.items())
            label = f"{index}: {fields}, replicate {unit.replicate}" if fields else f"{index}"
            options.append((label, index))
        self.unit.options = options
        if options:
            self.unit.value = options[0][1]
            self._on_unit()

    def _on_unit(self, change=None) -> None:
        if self.unit.value is None or self.unit.value not in self._frames:
            return
        _, frame = self._frames[self.unit.value]
        last = int(frame.step.max()) if len(frame) else 1
        with self.step.hold_trait_notifications():
            self.step.max = max(last, 1)
            self.step.value = last
        self._draw_network()

    def _draw_network(self) -> None:
        index = self.unit.value
        if index is None or index not in self._frames or self.study is None:
            return
        unit, frame = self._frames[index]
        if index not in self._graphs:
            graph = self.study.build(unit).network.G
            self._graphs[index] = (graph, layout(graph))
        graph, pos = self._graphs[index]
        fig = network_figure(graph, frame, self.step.value, pos=pos, title=f"society {index}:")
        self.network_output.outputs = (_image_output(png(fig), "network"),)

    def _show_error(self, exc: BaseException | str | None) -> None:
        if exc is None:
            self.error = None
            return
        if isinstance(exc, BaseException):
            text = str(exc) if isinstance(exc, WorkbenchError) else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, WorkbenchError):
                self._traceback = traceback.format_exc()
        else:
            text = exc
        first, _, rest = text.partition("\n")
        self.error = first
        hint = ""
        if isinstance(exc, CassetteMissError):
            hint = (
                "<br><i>These settings were not recorded. Give the panel a gateway in "
                "cassette mode 'auto' (or none) to ask the model.</i>"
            )
        details = (
            f"<details><summary>details</summary><pre>{html.escape(rest)}</pre></details>"
            if rest
            else ""
        )
        self.status.value = _ERROR.format(html.escape(first)) + hint + details
