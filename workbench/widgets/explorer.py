"""The Explorer: a JupyterLab dashboard that builds a study from widgets and runs it.

Choose a study; set its config fields in the sidebar (one widget per field, named after
it: the model, the persona mix, the number of members, the topology and the parameters
that topology uses, the norm, the memory window, ...); press Run. The run happens in a
worker thread, so the notebook stays responsive. Beside the sidebar, the plot and the
network view update after every round of the run; the progress bar counts decisions and
shows an estimate of the time left; Stop lets the running societies finish, starts no new
one, and shows what finished. With "pause after each round" ticked the run waits after
every round until "Next round" is pressed (a class can read each round before the next).
The transcript tab shows, for a member and a round, the exact prompt it was sent, its
answer, the option probabilities and who it heard; the legend gives each option's text.
With "compare" on, the previous run's plot stays beside the new one, captioned with the
settings that changed.

The whole panel is 1080 x 560 px (:data:`PANEL_WIDTH`, :data:`PANEL_HEIGHT`): it fits a
1280 x 720 screen beside JupyterLab's own bars.

The widgets are made from the config's field specs and the config is built straight
from their values with :func:`workbench.config.make` (see
:mod:`workbench.widgets.controls`); the panel shows the equivalent command,
:func:`workbench.config.command_line`, which ``workbench run STUDY`` parses back into
``panel.config()``.

Threads: :meth:`Study.run` runs in one worker thread and calls back after every round
from the threads running its units. Those callbacks only copy the round's rows under a
lock (and, when paused, wait); one painter thread per run draws the figures and sets the
widgets, so no two threads set the panel's widgets at once. Rounds that arrive while a
frame is being drawn are shown together in the next frame.
"""

from __future__ import annotations

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
import pandas as pd

from workbench import config as fields
from workbench.errors import CassetteMissError, ConfigError, WorkbenchError
from workbench.society import draw_seed, load_personas
from workbench.society.persons import is_rule
from workbench.studies import (
    STUDIES,
    RoundEvent,
    Study,
    StudyFailed,
    StudyInterrupted,
    StudyResult,
    Unit,
)
from workbench.widgets.controls import (
    LABEL_WIDTH,
    MODEL_FIELDS,
    ROW_WIDTH,
    SECTIONS,
    TOPOLOGY_FIELDS,
    TOPOLOGY_PARAMS,
    PersonaMix,
    config_of,
    controls_for,
    model_hint,
    topology_kinds,
)
from workbench.widgets.plots import (
    choice_shares_figure,
    layout,
    network_figure,
    option_texts,
    png,
)
from workbench.widgets.transcript import PromptLog, transcript_html

__all__ = ["PANEL_HEIGHT", "PANEL_WIDTH", "Explorer", "default_studies"]

_ERROR = '<div style="color:#b00020"><b>Error:</b> {}</div>'
_TAB_TITLES = ("person", "situation", "design")

#: The study the panel shows first, when it is registered.
FIRST = "sandbox"
#: The panel's size in pixels: it fits a 1280 x 720 screen beside JupyterLab's bars.
PANEL_WIDTH, PANEL_HEIGHT = 1080, 560
#: The sidebar's width and each result column's width, in pixels.
SIDEBAR_WIDTH, COLUMN_WIDTH = ROW_WIDTH + 50, 360
#: Figure size (inches, at 90 dpi) of the live plot and the network view.
FIGURE_SIZE = (4.4, 3.3)
_VIEW_HEIGHT = 390  # the tab holding the network, the transcript and the previous plot
_VIEW_WIDTH = COLUMN_WIDTH - 40  # what that tab's padding leaves


def default_studies() -> dict[str, type[Study]]:
    """Every registered study (:data:`workbench.studies.STUDIES`), the sandbox first."""
    studies = dict(STUDIES.items())
    first = {FIRST: studies.pop(FIRST)} if FIRST in studies else {}
    return {**first, **studies}


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "ETA -"
    seconds = round(seconds)
    if seconds >= 120:
        return f"ETA {seconds // 60} min {seconds % 60:02d} s"
    return f"ETA {seconds} s"


@dataclasses.dataclass
class _Shown:
    png: bytes
    config: Any
    study: str
    seed: int


class _Live:
    """What a run has played so far, filled by the round callbacks, read by the painter.

    Every field is read and written under :attr:`cond`.
    """

    def __init__(self, units: int) -> None:
        self.cond = threading.Condition()
        self.units = units
        self.rows: dict[int, dict[str, list]] = {}  # unit index -> column -> values
        self.meta: dict[int, tuple[Unit, Any]] = {}  # unit index -> (unit, its task)
        self.latest: dict[int, int] = {}  # unit index -> last round played
        self.copied: dict[int, int] = {}  # unit index -> rows copied
        self.seq = 0  # rounds received
        self.painted = 0  # rounds shown
        self.frames = 0  # frames drawn
        self.done = self.planned = 0
        self.units_done = 0
        self.eta: float | None = None
        self.ended = False
        self.generation = 0  # "Next round" presses

    def add(self, event: RoundEvent) -> int:
        """Copy the round's rows; returns the round's sequence number."""
        table = event.society.datacollector.tables["decisions"]
        index = event.unit.index
        with self.cond:
            rows = self.rows.setdefault(index, {})
            copied = self.copied.get(index, 0)  # rows recorded before round 1 come too
            for column, values in table.items():
                rows.setdefault(column, []).extend(values[copied : event.rows])
            self.copied[index] = event.rows
            self.meta.setdefault(event.unit.index, (event.unit, event.society.task))
            self.latest[event.unit.index] = event.round
            self.done, self.planned = event.decisions_done, event.decisions_planned
            self.units_done, self.eta = event.units_done, event.eta
            self.seq += 1
            self.cond.notify_all()
            return self.seq

    def frame(self, index: int) -> pd.DataFrame:
        """Unit ``index``'s rows so far (call under :attr:`cond`)."""
        rows = self.rows[index]
        length = max((len(v) for v in rows.values()), default=0)
        return pd.DataFrame({c: v + [None] * (length - len(v)) for c, v in rows.items()})


class Explorer(widgets.VBox):
    """Run studies from widgets in JupyterLab: a sidebar of settings beside live results.

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
    live : bool
        Update the plot and the network after every round (True), or only at the end.

    Attributes
    ----------
    controls : dict of str to ipywidgets.Widget
        The widget of each config field, by field name; each has a ``value``.
    result : StudyResult or None
        The last run's result (partial after Stop).
    error : str or None
        The last error message shown, if any.
    units_done : int
        Societies of the current (or last) run that finished.
    frames : int
        Live frames drawn during the current (or last) run.
    prompts : PromptLog or None
        The prompts the last run's LLM members were sent (None for a rule-only study).

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
        live: bool = True,
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
        self.units_done = 0
        self._counted = "decisions"
        self.prompts: PromptLog | None = None
        self._traceback: str | None = None  # of the last unexpected error, for debugging
        self._thread: threading.Thread | None = None
        self._painter: threading.Thread | None = None
        self._stop = threading.Event()
        self._live = _Live(0)
        self._draw_lock = threading.RLock()  # the network and transcript views
        self._quiet = False  # set while the panel moves its own view widgets
        self._frames: dict[int, tuple[Unit, Any]] = {}
        self._tasks: dict[int, Any] = {}
        self._graphs: dict[int, tuple[Any, dict]] = {}
        self._shown: _Shown | None = None

        first = study or next(iter(self.studies))
        if first not in self.studies:
            raise ConfigError(f"unknown study {first!r}; choose one of {', '.join(self.studies)}")
        label = {"description_width": f"{LABEL_WIDTH}px"}
        side = widgets.Layout(width=f"{ROW_WIDTH}px")
        self.study_select = widgets.Dropdown(
            options=list(self.studies), value=first, description="study", style=label, layout=side
        )
        self.compare = widgets.Checkbox(
            value=False, description="compare with the last run", indent=False
        )
        self.tabs = widgets.Tab(layout=widgets.Layout(width=f"{ROW_WIDTH + 38}px"))
        self.seed = widgets.Text(
            value="1",
            description="seed",
            placeholder="empty: draw one",
            style=label,
            layout=widgets.Layout(width="190px"),
        )
        small = widgets.Layout(width="86px")
        self.run_button = widgets.Button(
            description="Run", button_style="primary", icon="play", layout=small
        )
        self.stop_button = widgets.Button(
            description="Stop", button_style="warning", icon="stop", disabled=True, layout=small
        )
        self.pause = widgets.Checkbox(
            value=False,
            description="pause after each round",
            indent=False,
            layout=widgets.Layout(width="180px"),
        )
        self.next_button = widgets.Button(
            description="Next round",
            icon="step-forward",
            disabled=True,
            layout=widgets.Layout(width="110px"),
        )
        self.live = widgets.Checkbox(
            value=live, description="live", indent=False, layout=widgets.Layout(width="60px")
        )
        self.progress = widgets.IntProgress(
            value=0,
            min=0,
            max=1,
            description="decisions",
            style={"description_width": "64px"},
            layout=widgets.Layout(width="250px"),
        )
        self.progress_text = widgets.HTML(layout=widgets.Layout(width="460px"))
        self.status = widgets.HTML(layout=widgets.Layout(width=f"{2 * COLUMN_WIDTH}px"))
        self.live_info = widgets.HTML(_live_span("idle", 0, 0, 0))
        self.command = widgets.HTML(layout=widgets.Layout(width=f"{ROW_WIDTH}px"))
        column = widgets.Layout(width=f"{COLUMN_WIDTH}px")
        self.plot_image = widgets.Image(format="png", layout=_image_layout())
        self.plot_label = widgets.HTML()
        self.legend = widgets.HTML(layout=widgets.Layout(width=f"{COLUMN_WIDTH}px"))
        self.previous_image = widgets.Image(format="png", layout=_image_layout(_VIEW_WIDTH))
        self.previous_label = widgets.HTML()
        self.previous_box = widgets.VBox(
            [self.previous_label, self.previous_image], layout=widgets.Layout(display="none")
        )
        self.unit = widgets.Dropdown(
            description="society",
            options=[],
            style={"description_width": "52px"},
            layout=widgets.Layout(width="170px"),
        )
        self.step = widgets.IntSlider(
            value=1,
            min=1,
            max=1,
            description="round",
            continuous_update=False,
            style={"description_width": "44px"},
            layout=widgets.Layout(width="185px"),
        )
        self.network_image = widgets.Image(format="png", layout=_image_layout(_VIEW_WIDTH))
        self.member = widgets.Dropdown(
            description="member",
            options=[],
            style={"description_width": "60px"},
            layout=widgets.Layout(width=f"{_VIEW_WIDTH}px"),
        )
        self.transcript = widgets.HTML(
            "<i>run a study, then pick a member</i>",
            layout=widgets.Layout(
                width=f"{_VIEW_WIDTH}px", height=f"{_VIEW_HEIGHT - 80}px", overflow="auto"
            ),
        )
        self.transcript.add_class("workbench-transcript")
        self.views = widgets.Tab(
            [
                self.network_image,
                widgets.VBox([self.member, self.transcript]),
                self.previous_box,
            ],
            layout=widgets.Layout(width=f"{COLUMN_WIDTH - 4}px", height=f"{_VIEW_HEIGHT}px"),
        )
        self.views.titles = ("network", "transcript", "previous run")

        # How remote models are reached: GatewayConfig's api_base and api_key_env.
        self.api_base = widgets.Text(
            description="server",
            placeholder="provider default, or http://127.0.0.1:8000/v1",
            style=label,
            layout=side,
        )
        self.api_key_env = widgets.Text(
            description="key variable",
            placeholder="provider default, e.g. OPENAI_API_KEY",
            style=label,
            layout=side,
        )
        if gateway is not None:
            self.api_base.value = gateway.config.api_base or ""
            self.api_key_env.value = gateway.config.api_key_env or ""
        self.persona_pick = widgets.Dropdown(description="persona", style=label, layout=side)
        self.persona_text = widgets.Textarea(
            layout=widgets.Layout(width=f"{ROW_WIDTH - 10}px", height="70px")
        )
        self.persona_name = widgets.Text(
            description="save as", style=label, layout=widgets.Layout(width="190px")
        )
        self.persona_save = widgets.Button(
            description="save", icon="save", layout=widgets.Layout(width="90px")
        )
        self.persona_note = widgets.HTML()
        self.persona_editor = widgets.VBox(
            [
                widgets.HTML("<b>view or edit a persona's prompt</b>"),
                self.persona_pick,
                self.persona_text,
                widgets.HBox([self.persona_name, self.persona_save]),
                self.persona_note,
            ],
            layout=widgets.Layout(border="1px solid #ddd", padding="4px", margin="8px 0 0 0"),
        )
        self.persona_pick.observe(self._show_persona, "value")
        self.persona_save.on_click(self._save_persona)

        self.run_button.on_click(lambda _: self.run())
        self.stop_button.on_click(lambda _: self.stop())
        self.next_button.on_click(lambda _: self.next_round())
        self.pause.observe(self._on_pause, "value")
        self.study_select.observe(lambda _: self._build_form(), "value")
        self.unit.observe(self._on_unit, "value")
        self.step.observe(self._on_step, "value")
        self.member.observe(lambda _: self._show_transcript(), "value")
        self.compare.observe(self._on_compare, "value")

        self.sidebar = widgets.VBox(
            [self.study_select, self.seed, self.compare, self.tabs, self.command],
            layout=widgets.Layout(
                width=f"{SIDEBAR_WIDTH}px",
                height=f"{PANEL_HEIGHT - 8}px",
                overflow_y="auto",
                overflow_x="hidden",
                border="1px solid #ddd",
                padding="4px",
            ),
        )
        bar = widgets.HBox(
            [
                self.run_button,
                self.stop_button,
                self.pause,
                self.next_button,
                self.live,
                self.progress,
                self.progress_text,
            ],
            layout=widgets.Layout(flex_flow="row wrap"),
        )
        results = widgets.HBox(
            [
                widgets.VBox([self.plot_label, self.plot_image, self.legend], layout=column),
                widgets.VBox([widgets.HBox([self.unit, self.step]), self.views]),
            ]
        )
        self.main = widgets.VBox(
            [bar, self.status, results, self.live_info],
            layout=widgets.Layout(
                width=f"{PANEL_WIDTH - SIDEBAR_WIDTH - 12}px",
                height=f"{PANEL_HEIGHT - 8}px",
                overflow="hidden",
                padding="0 0 0 8px",
            ),
        )
        super().__init__(
            [widgets.HBox([self.sidebar, self.main])],
            layout=widgets.Layout(
                width=f"{PANEL_WIDTH}px", height=f"{PANEL_HEIGHT}px", overflow="hidden"
            ),
        )
        self.add_class("workbench-explorer")
        self._build_form()

    @property
    def frames(self) -> int:
        """Live frames drawn during the current (or last) run."""
        with self._live.cond:
            return self._live.frames

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
                hint = widgets.HTML(layout=widgets.Layout(margin=f"0 0 0 {LABEL_WIDTH + 4}px"))

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
            gateway, owned = self._run_gateway(study)
        except WorkbenchError as exc:
            self._show_error(exc)
            return None
        self.study = study
        # Study.run counts model decisions only, when the study has LLM members
        uses_llm = any(not is_rule(m) for m in study.models())
        self._counted = "model decisions" if uses_llm else "decisions"
        self.prompts = PromptLog(gateway) if gateway is not None else None
        self._stop = threading.Event()
        self._live = live = _Live(total)
        with self._draw_lock:
            self._frames, self._tasks, self._graphs, self._final = {}, {}, {}, set()
        self.units_done = 0
        self.progress.max, self.progress.value, self.progress.bar_style = 1, 0, "info"
        self.progress_text.value = f"0 of {total} {'society' if total == 1 else 'societies'}"
        self.run_button.disabled, self.stop_button.disabled = True, False
        self.next_button.disabled = not self.pause.value
        noun = "society" if total == 1 else "societies"
        self.status.value = f"running {total} {noun} (seed {seed})..."
        self.live_info.value = _live_span("running", 0, 0, 0)
        self._painter = threading.Thread(
            target=self._paint_loop, args=(live,), name="workbench-explorer-painter", daemon=True
        )
        self._painter.start()
        self._thread = threading.Thread(
            target=self._work,
            args=(study, gateway, owned, live),
            name="workbench-explorer",
            daemon=True,
        )
        self._thread.start()
        return self._thread

    def stop(self) -> None:
        """Stop the run: societies already running finish and are kept, no new one starts."""
        if self.running:
            self._stop.set()
            self._wake()
            self.stop_button.disabled = self.next_button.disabled = True
            self.status.value = "stopping: the running societies finish first..."

    def next_round(self) -> None:
        """Let every society paused after its round play one more round (Next round)."""
        with self._live.cond:
            self._live.generation += 1
            self._live.cond.notify_all()

    def wait(self, timeout: float | None = None) -> StudyResult | None:
        """Block until the current run (if any) ends; return :attr:`result`."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.result

    def _wake(self) -> None:
        with self._live.cond:
            self._live.cond.notify_all()

    def _on_pause(self, change) -> None:
        self.next_button.disabled = not (change["new"] and self.running)
        self._wake()  # unticked: paused societies go on

    def _unit_done(self, unit: Unit, decisions) -> None:
        with self._draw_lock:
            self._frames[unit.index] = (unit, decisions)
            self._final.add(unit.index)
            self.units_done = len(self._final)

    def _on_round(self, live: _Live, event: RoundEvent) -> None:
        """After each round (in the unit's thread): keep its rows; when paused, wait."""
        seq = live.add(event)
        with live.cond:
            if event.unit.index not in self._graphs:
                self._graphs[event.unit.index] = (event.society.network.G, None)
            if not self.pause.value:
                return
            # the round is shown before the society waits, then waits for Next round
            live.cond.wait_for(lambda: live.painted >= seq or live.ended or self._stop.is_set())
            generation = live.generation
            live.cond.wait_for(
                lambda: live.generation != generation or not self.pause.value or self._stop.is_set()
            )

    def _run_gateway(self, study: Study):
        """The gateway of the next run and whether the panel made it (then it closes it).

        The panel's gateway, unless the server or key-variable boxes ask for another; a
        study with LLM members and no gateway gets a default one, made here so that its
        prompts can be kept for the transcript.
        """
        from workbench.llm import Gateway, GatewayConfig

        base = self.api_base.value.strip() or None
        key_env = self.api_key_env.value.strip() or None
        current = self.gateway.config if self.gateway is not None else GatewayConfig()
        if (base, key_env) != (current.api_base, current.api_key_env):
            config = dataclasses.replace(current, api_base=base, api_key_env=key_env)
            return Gateway(config), True
        if self.gateway is None and any(not is_rule(m) for m in study.models()):
            return Gateway(current), True
        return self.gateway, False

    def _work(self, study: Study, gateway, owned: bool, live: _Live) -> None:
        start = time.perf_counter()
        stopped, failure = False, None
        try:
            try:
                try:
                    result = study.run(
                        self.prompts,
                        workers=self.workers,
                        stop=self._stop,
                        on_unit=self._unit_done,
                        on_round=lambda event: self._on_round(live, event),
                    )
                finally:
                    with live.cond:
                        live.ended = True
                        live.cond.notify_all()
                    self._painter.join()
            except StudyInterrupted as interrupted:
                result, stopped = interrupted.result, True
            except StudyFailed as failed:  # shown with what finished, then why it stopped
                result, failure = failed.result, failed
            self.result = result
            self._show(result, stopped, time.perf_counter() - start, gateway)
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
            self.next_button.disabled = True

    # -- live frames ------------------------------------------------------------------

    def _paint_loop(self, live: _Live) -> None:
        """Draw a frame whenever rounds arrived since the last one (the painter thread)."""
        while True:
            with live.cond:
                live.cond.wait_for(lambda: live.seq > live.painted or live.ended)
                if live.seq == live.painted:  # the run ended and everything is shown
                    return
                seq, number = live.seq, live.frames + 1
                frames = {i: (live.meta[i][0], live.frame(i)) for i in live.rows}
                tasks = {i: task for i, (_, task) in live.meta.items()}
                latest = dict(live.latest)
                counts = (live.done, live.planned, live.units_done, live.units, live.eta)
            try:
                self._paint(frames, tasks, latest, counts, number, seq)
            except Exception:  # a drawing bug must not hang a paused run: keep it for debugging
                self._traceback = traceback.format_exc()
            with live.cond:
                live.painted, live.frames = seq, number
                live.cond.notify_all()

    def _paint(self, frames, tasks, latest, counts, number: int, seq: int) -> None:
        done, planned, units_done, units, eta = counts
        self.progress.max = max(planned, done, 1)
        self.progress.value = done
        noun = "society" if units == 1 else "societies"
        self.progress_text.value = (
            f"{done} / {planned} {self._counted} &middot; {units_done} of {units} {noun} done "
            f"&middot; {_eta(eta)}"
        )
        last = max(latest.values(), default=0)
        if self.live.value and frames:
            data = pd.concat([f for _, f in frames.values()], ignore_index=True)
            first = min(frames)
            options, texts = self._options(tasks.get(first), latest.get(first, 1), data)
            fig = choice_shares_figure(
                data,
                title=f"live: round {last}",
                texts=texts,
                size=FIGURE_SIZE,
                steps=max(len(tasks[first]) if first in tasks else 1, last),
            )
            _set_image(self.plot_image, png(fig))
            self.plot_label.value = f"<b>live</b>: {done} decisions so far"
            self.legend.value = _legend_html(options, texts)
            with self._draw_lock:
                for index, frame in frames.items():
                    if index not in self._final:
                        self._frames[index] = frame
                self._tasks.update(tasks)
                self._refresh_units(follow=True)
        paused = self.pause.value and not self._stop.is_set()
        self.live_info.value = _live_span("paused" if paused else "running", number, seq, done)
        if paused:
            self.status.value = (
                f"paused after round {last}: press <b>Next round</b> (or untick pause)"
            )
        elif not self._stop.is_set():
            self.status.value = f"running: round {last}, {done} decisions so far"

    @staticmethod
    def _options(task, step: int, data: pd.DataFrame) -> tuple[tuple[str, ...], dict[str, str]]:
        """The options of ``step`` and their texts (from the task's question)."""
        options = tuple(data.options.iloc[0]) if len(data) and "options" in data else ()
        if task is None:
            return options, {}
        round_ = task.round(max(int(step), 1))
        return tuple(round_.options), option_texts(round_.question, tuple(round_.options))

    # -- results ----------------------------------------------------------------------

    def _show(self, result: StudyResult, stopped: bool, seconds: float, gateway=None) -> None:
        done, total = result.metadata.get("units_done", 0), result.metadata.get("units", 0)
        with self._live.cond:
            live = self._live
            counted, frames = live.done, live.frames
            if live.seq == 0:  # no round was reported: count the rows
                counted = len(result.decisions)
        self.progress.max = max(counted, 1)
        self.progress.value = counted
        noun = "society" if total == 1 else "societies"
        self.progress_text.value = f"{counted} {self._counted} &middot; {done} of {total} {noun}"
        state = "stopped" if stopped else "done"
        self.live_info.value = _live_span(state, frames, live.seq, counted)
        if result.decisions.empty:
            self.progress.bar_style = "warning"
            self.status.value = "stopped before any society finished: nothing to show"
            return
        try:
            fig = self.study.plot(result)
        except NotImplementedError:
            fig = None
        if fig is None:
            fig = choice_shares_figure(result.decisions, title=result.study, size=FIGURE_SIZE)
        image = png(fig)
        current = _Shown(image, result.config, result.study, result.seed)
        previous = self._shown
        if self.compare.value and previous is not None:
            _set_image(self.previous_image, previous.png)
            self.previous_label.value = f"<b>previous</b> {self._describe(previous, current)}"
            self.previous_box.layout.display = None
            self.plot_label.value = "<b>this run</b>"
            self.views.selected_index = 2
        else:
            self.previous_box.layout.display = "none"
            self.plot_label.value = ""
        _set_image(self.plot_image, image)
        self._shown = current
        with self._draw_lock:
            first = min(self._frames) if self._frames else None
            if first is not None:
                task = self._tasks.get(first) or self._task_of(first)
                frame = self._frames[first][1]
                options, texts = self._options(task, int(frame.step.max()), frame)
                self.legend.value = _legend_html(options, texts)
            self._refresh_units(follow=True)
        invalid = int((~result.decisions.valid.astype(bool)).sum())
        parts = [
            f"{state}: {len(result.decisions)} decisions from "
            f"{done} of {total} {noun} in {seconds:.1f} s (seed {result.seed})"
        ]
        if invalid:
            parts.append(f"{invalid} invalid answers{self._last_call_error(gateway)}")
        self.progress.bar_style = "warning" if stopped or invalid else "success"
        self.status.value = "; ".join(html.escape(p) for p in parts)

    def _last_call_error(self, gateway=None) -> str:
        accounting = getattr(gateway or self.gateway, "accounting", None)
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
            if self.views.selected_index == 2:
                self.views.selected_index = 0

    # -- the network and the transcript ----------------------------------------------

    def _task_of(self, index: int):
        """Unit ``index``'s task (its society built afresh when no round reported it)."""
        if index not in self._tasks:
            unit = self._frames[index][0]
            society = self.study.build(unit)
            self._tasks[index] = society.task
            self._graphs.setdefault(index, (society.network.G, None))
        return self._tasks[index]

    def _graph(self, index: int) -> tuple[Any, dict]:
        graph, pos = self._graphs.get(index, (None, None))
        if graph is None:
            self._task_of(index)
            graph, pos = self._graphs[index]
        if pos is None:
            pos = layout(graph)
            self._graphs[index] = (graph, pos)
        return graph, pos

    def _refresh_units(self, follow: bool = False) -> None:
        """The society list from the frames so far; with ``follow``, the last round."""
        options = []
        for index, (unit, _) in sorted(self._frames.items()):
            parts = ", ".join(f"{k}={v}" for k, v in unit.conditions.items())
            label = f"{index}: {parts}, replicate {unit.replicate}" if parts else f"{index}"
            options.append((label, index))
        if not options:
            return
        current = self.unit.value
        self._quiet = True
        try:
            if list(self.unit.options) != options:
                self.unit.options = options
            values = [v for _, v in options]
            self.unit.value = current if current in values else values[0]
            frame = self._frames[self.unit.value][1]
            last = max(int(frame.step.max()) if len(frame) else 1, 1)
            with self.step.hold_trait_notifications():
                self.step.max = last
                if follow or self.step.value > last:
                    self.step.value = last
            self._refresh_members(frame)
        finally:
            self._quiet = False
        self._draw_network()
        self._show_transcript()

    def _refresh_members(self, frame: pd.DataFrame) -> None:
        if not len(frame):
            return
        first = frame.drop_duplicates("member").sort_values("member")
        options = [
            (f"Participant {int(r.member)} ({r.role}, {r.model})", int(r.member))
            for r in first.itertuples()
        ]
        if list(self.member.options) != options:
            current = self.member.value
            self.member.options = options
            values = [v for _, v in options]
            self.member.value = current if current in values else values[0]

    def _on_unit(self, change=None) -> None:
        if self._quiet or self.unit.value is None:
            return
        with self._draw_lock:
            if self.unit.value not in self._frames:
                return
            self._refresh_units(follow=True)

    def _on_step(self, change=None) -> None:
        if self._quiet:
            return
        with self._draw_lock:
            self._draw_network()
            self._show_transcript()

    def _draw_network(self) -> None:
        with self._draw_lock:
            index = self.unit.value
            if index is None or index not in self._frames or self.study is None:
                return
            unit, frame = self._frames[index]
            graph, pos = self._graph(index)
            step = self.step.value
            _, texts = self._options(self._task_of(index), step, frame)
            fig = network_figure(
                graph,
                frame,
                step,
                pos=pos,
                title=f"society {index}:",
                texts=texts,
                size=FIGURE_SIZE,
            )
            _set_image(self.network_image, png(fig))

    def _show_transcript(self) -> None:
        """The chosen member's decision in the chosen round: prompt, answer, probabilities."""
        with self._draw_lock:
            index, member, step = self.unit.value, self.member.value, self.step.value
            if index is None or member is None or index not in self._frames:
                return
            frame = self._frames[index][1]
            rows = frame[(frame.step == step) & (frame.member == member)]
            if not len(rows):
                self.transcript.value = (
                    f"<i>Participant {member} made no decision in round {step}</i>"
                )
                return
            row = rows.iloc[-1].to_dict()
            key = row.get("request_hash") or ""
            request = self.prompts.request(key) if self.prompts is not None and key else None
            raw = self.prompts.raw(key) if self.prompts is not None and key else ""
            _, texts = self._options(self._task_of(index), step, frame)
            graph, _ = self._graph(index)
            by_node = dict(zip(frame.node, frame.member, strict=False))
            node = row.get("node")
            neighbours = (
                [f"Participant {by_node[n]}" for n in graph[node] if n in by_node]
                if node in graph
                else []
            )
            self.transcript.value = transcript_html(
                row, request, raw, texts=texts, neighbours=neighbours
            )

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


def _set_image(image: widgets.Image, data: bytes) -> None:
    image.value = data
    image.layout.display = None


def _legend_html(options: tuple[str, ...], texts: dict[str, str]) -> str:
    """The options as coloured swatches with their texts (class ``wb-legend``)."""
    from workbench.studies.sandbox import option_palette

    if not options:
        return ""
    palette = option_palette(options)
    items = []
    for option in options:
        rgb = ",".join(str(int(255 * c)) for c in palette[option][:3])
        text = html.escape(texts.get(option, ""))
        items.append(
            f'<div><span style="display:inline-block;width:11px;height:11px;'
            f'background:rgb({rgb});border:1px solid #333;margin-right:4px"></span>'
            f"<b>{html.escape(option)}</b> {text}</div>"
        )
    return f'<div class="wb-legend" style="font-size:90%;line-height:1.3">{"".join(items)}</div>'


def _image_layout(width: int = COLUMN_WIDTH) -> widgets.Layout:
    return widgets.Layout(width=f"{width}px", height="auto", display="none")


def _live_span(state: str, frames: int, rounds: int, decisions: int) -> str:
    """The live counters as a hidden element: what the browser test reads."""
    return (
        f'<span class="wb-live" data-state="{state}" data-frames="{frames}" '
        f'data-rounds="{rounds}" data-decisions="{decisions}"></span>'
    )
