"""The gallery: every study and teaching notebook executed from its cassettes, as HTML.

The notebooks are committed without outputs, so a reader of the repository sees no
result. :func:`build_gallery` runs each notebook (``studies/*.ipynb``,
``notebooks/*.ipynb``) the way the test suite's nbval run does (the current environment's
Python kernel, cassettes replayed, no model loaded) and renders it with nbconvert, its
figures embedded in the page, plus an ``index.html`` linking every page with its title, the
paper it reproduces (when the notebook says) and how long it took.

The notebooks run in a temporary copy of their folders, so nothing a notebook writes
lands in the checkout and the tracked ``.ipynb`` files are never rewritten: their outputs
exist only in the HTML.

Examples
--------
>>> from workbench.gallery import build_gallery  # doctest: +SKIP
>>> gallery = build_gallery("workbench-out/gallery", only=["01_first_society"])
>>> gallery.failed  # pages whose notebook raised  # doctest: +SKIP
[]
"""

from __future__ import annotations

import ast
import importlib.util
import re
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError, WorkbenchError

#: The folders holding notebooks, in index order, with their heading in the index.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("studies", "Studies"),
    ("notebooks", "Teaching and exploration notebooks"),
)
#: Seconds one notebook's cells may take in all, by default.
DEFAULT_TIMEOUT = 900.0
#: What every kernel's environment adds: a request missing from a cassette is an error,
#: never a model call (as in ``notebooks/conftest.py`` for the nbval run).
KERNEL_ENV = {"WORKBENCH_CASSETTE_MODE": "replay"}
#: Files of the notebook folders not copied into the scratch run (outputs of earlier runs).
_SKIP = ("workbench-out", ".ipynb_checkpoints", "__pycache__", "*.sqlite")
_STUDY_IMPORT = re.compile(r"^workbench\.studies\.(\w+)")
_FIRST_REFERENCE = re.compile(r"^\.\. \[1\]\s*(.+?)(?=^\.\. \[|\Z)", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Notebook:
    """One notebook of the gallery.

    Attributes
    ----------
    path : Path
        The notebook file.
    section : str
        Its folder under the root (``studies`` or ``notebooks``).
    title : str
        The text of its first heading (the file name when it has none).
    reproduces : str
        The paper it reproduces: ``metadata.workbench.reproduces`` when set, else the
        first reference of the one study module it imports (``workbench.studies.X``);
        empty when it says neither.
    """

    path: Path
    section: str
    title: str
    reproduces: str = ""

    @property
    def name(self) -> str:
        """The file name without ``.ipynb`` (what ``only`` selects)."""
        return self.path.stem

    @property
    def page(self) -> str:
        """The page's path under the gallery folder."""
        return f"{self.section}/{self.name}.html"


@dataclass
class Page:
    """The outcome of one notebook.

    Attributes
    ----------
    notebook : Notebook
    seconds : float
        Wall-clock time of its execution and rendering.
    figures : int
        PNG figures among its outputs (all embedded in the page).
    error : str or None
        One line: which cell failed and its error; None when every cell ran.
    """

    notebook: Notebook
    seconds: float
    figures: int
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether every cell ran."""
        return self.error is None


@dataclass
class Gallery:
    """A built gallery.

    Attributes
    ----------
    out : Path
        Its folder; ``index`` is ``out / "index.html"``.
    pages : list of Page
        One per notebook, in index order (failed ones included: their page shows the
        outputs up to the error).
    built : datetime
        When the build started (UTC).
    seconds : float
        How long the whole build took.
    """

    out: Path
    pages: list[Page] = field(default_factory=list)
    built: datetime = field(default_factory=lambda: datetime.now(UTC))
    seconds: float = 0.0

    @property
    def index(self) -> Path:
        """The index page."""
        return self.out / "index.html"

    @property
    def failed(self) -> list[Page]:
        """The pages whose notebook raised."""
        return [page for page in self.pages if not page.ok]


def default_root() -> Path:
    """The folder holding ``studies/`` and ``notebooks/``.

    Returns
    -------
    Path
        The current folder when it holds either, else the checkout this package was
        installed from (an editable install).

    Raises
    ------
    WorkbenchError
        When neither holds a notebook folder (e.g. a wheel install outside a checkout).
    """
    for candidate in (Path.cwd(), Path(__file__).resolve().parents[1]):
        if any((candidate / section).is_dir() for section, _ in SECTIONS):
            return candidate
    raise WorkbenchError(
        "no studies/ or notebooks/ folder here: run the gallery from the repository's "
        "root or pass --root"
    )


def find_notebooks(root: str | Path, only: Iterable[str] | None = None) -> list[Notebook]:
    """The gallery's notebooks under ``root``, in index order.

    Parameters
    ----------
    root : path
        The folder holding ``studies/`` and ``notebooks/``.
    only : iterable of str or None
        Names to keep: a file name without ``.ipynb`` (``asch_conformity``) or with its
        folder (``studies/asch_conformity``); all when None.

    Returns
    -------
    list of Notebook

    Raises
    ------
    WorkbenchError
        When ``root`` holds no notebook, or a name of ``only`` matches none.
    """

    root = Path(root)
    paths = [
        (section, path)
        for section, _ in SECTIONS
        for path in sorted((root / section).glob("*.ipynb"))
    ]
    if not paths:
        raise WorkbenchError(f"no notebooks in {root}/studies or {root}/notebooks")
    if only is not None:
        wanted = {name.strip().removesuffix(".ipynb") for name in only if name.strip()}
        known = {path.stem for _, path in paths} | {f"{s}/{p.stem}" for s, p in paths}
        unknown = sorted(wanted - known)
        choices = ", ".join(path.stem for _, path in paths)
        if unknown:
            raise WorkbenchError(f"no notebook named {', '.join(unknown)}; choose from {choices}")
        if not wanted:
            raise WorkbenchError(f"no notebook name given to build; choose from {choices}")
        paths = [(s, p) for s, p in paths if p.stem in wanted or f"{s}/{p.stem}" in wanted]
    notebooks = []
    for section, path in paths:
        try:
            nb = _read(path)
        except Exception as exc:  # nbformat raises several kinds for unreadable JSON
            raise WorkbenchError(f"{path} is not a readable notebook: {exc}") from exc
        notebooks.append(
            Notebook(path, section, title=_title(nb, path.stem), reproduces=_reproduces(nb))
        )
    return notebooks


def build_gallery(
    out: str | Path = "workbench-out/gallery",
    *,
    root: str | Path | None = None,
    only: Iterable[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    progress: bool = False,
    on_page: Callable[[Page], None] | None = None,
) -> Gallery:
    """Execute every notebook from its cassettes and write its HTML page and the index.

    Parameters
    ----------
    out : path
        The gallery folder (created). Pages go to ``out/<section>/<name>.html``.
    root : path or None
        The folder holding ``studies/`` and ``notebooks/``; :func:`default_root` when None.
    only : iterable of str or None
        The notebooks to build (see :func:`find_notebooks`); all when None. The index
        lists the pages of this build only.
    timeout : float
        Seconds the cells of one notebook may take in all; past them it fails with a
        timeout and the next notebook runs.
    progress : bool
        Show a tqdm bar over the notebooks (on stderr).
    on_page : callable or None
        Called with each :class:`Page` as soon as it is written.

    Returns
    -------
    Gallery
        Every page, failed ones included: a notebook that raises still gets its page (its
        outputs up to the error) and the others are built. Check :attr:`Gallery.failed`.

    Raises
    ------
    WorkbenchError
        For bad input, found before any notebook runs: a timeout that is not positive,
        an unknown name, an ``out`` that cannot be written.
    """
    if not timeout > 0:
        raise ConfigError(f"timeout must be a positive number of seconds, got {timeout}")
    root = default_root() if root is None else Path(root)
    notebooks = find_notebooks(root, only)
    out = Path(out)
    _check_writable(out)
    gallery = Gallery(out)
    start = time.monotonic()
    from tqdm.auto import tqdm

    bar = tqdm(notebooks, desc="gallery", unit="notebook", disable=not progress, file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="workbench-gallery-") as scratch:
        for section in dict.fromkeys(nb.section for nb in notebooks):
            shutil.copytree(
                root / section, Path(scratch) / section, ignore=shutil.ignore_patterns(*_SKIP)
            )
        for notebook in bar:
            bar.set_postfix_str(notebook.name)
            page = _build_page(notebook, Path(scratch) / notebook.section, out, timeout)
            gallery.pages.append(page)
            if not page.ok:
                bar.write(f"gallery: {notebook.section}/{notebook.path.name} FAILED: {page.error}")
            if on_page is not None:
                on_page(page)
    gallery.seconds = time.monotonic() - start
    gallery.index.write_text(render_index(gallery), encoding="utf-8")
    return gallery


def render_index(gallery: Gallery) -> str:
    """The index page of ``gallery``: one entry per page, grouped by section.

    Parameters
    ----------
    gallery : Gallery

    Returns
    -------
    str
        HTML.
    """
    import jinja2

    template = jinja2.Environment(autoescape=True).from_string(_INDEX)
    sections = [
        (heading, [page for page in gallery.pages if page.notebook.section == section])
        for section, heading in SECTIONS
    ]
    return template.render(
        sections=[(heading, pages) for heading, pages in sections if pages],
        built=gallery.built.strftime("%Y-%m-%d %H:%M UTC"),
        seconds=gallery.seconds,
        failed=len(gallery.failed),
    )


def _executor(timeout: float, running: list[int]) -> Any:
    """The ExecutePreprocessor of one notebook: this Python's kernel, cassettes replayed,
    ``timeout`` seconds for all its cells; ``running`` holds the index of the running cell."""
    import ipykernel.kernelspec
    import zmq
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import AsyncKernelManager
    from nbconvert.preprocessors import ExecutePreprocessor
    from traitlets import default

    class CurrentEnvKernel(AsyncKernelManager):
        """This Python's ipykernel (nbval's --nbval-current-env), cassettes replayed, its
        channels encrypted where pyzmq can (the kernel warns of plain TCP otherwise)."""

        @default("transport_encryption")
        def _encrypt(self) -> str:
            return "auto" if zmq.has("curve") else "disabled"

        @property
        def kernel_spec(self) -> KernelSpec:
            if self._kernel_spec is None:
                spec = ipykernel.kernelspec.get_kernel_dict()
                self._kernel_spec = KernelSpec(
                    resource_dir=ipykernel.kernelspec.RESOURCES, env=KERNEL_ENV, **spec
                )
            return self._kernel_spec

    deadline: list[float] = []

    def on_cell_start(cell: Any, cell_index: int) -> None:
        running[:] = [cell_index]
        if not deadline:  # the budget counts cell time, not the kernel's start
            deadline.append(time.monotonic() + timeout)

    def remaining(_cell: Any) -> float:
        # nbclient reads 0 as "no timeout": an exhausted budget is a tiny one
        return max(deadline[0] - time.monotonic(), 1e-3) if deadline else timeout

    return ExecutePreprocessor(
        kernel_manager_class=CurrentEnvKernel,
        timeout_func=remaining,
        on_cell_start=on_cell_start,
        shutdown_kernel="immediate",
        store_widget_state=True,
    )


def _build_page(notebook: Notebook, workdir: Path, out: Path, timeout: float) -> Page:
    """Run ``notebook`` in ``workdir`` (its scratch copy), write its page, report."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError
    from nbconvert import HTMLExporter

    start = time.monotonic()
    nb = _read(workdir / notebook.path.name)
    cell: list[int] = []
    executor = _executor(timeout, cell)
    error = None
    try:
        executor.preprocess(nb, {"metadata": {"path": str(workdir)}})
    except CellExecutionError as exc:
        error = f"{exc.ename}: {_one_line(exc.evalue)}"
    except CellTimeoutError:
        error = f"timed out: the notebook's cells took more than {timeout:g} s in all"
    except Exception as exc:  # a dead kernel, a kernel that does not start
        error = f"{type(exc).__name__}: {_one_line(str(exc))}"
    if error is not None:
        where = f"cell {cell[0] + 1}" if cell else "kernel start"
        error = f"{where}: {error}"
    exporter = HTMLExporter(template_name="lab", embed_images=True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": notebook.title}})
    page = out / notebook.page
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(body, encoding="utf-8")
    return Page(notebook, time.monotonic() - start, _figures(nb), error)


def _read(path: Path) -> Any:
    """The notebook at ``path`` (a cell without an id gets one, in memory only)."""
    import nbformat
    from nbformat.corpus.words import generate_corpus_id
    from nbformat.validator import MissingIDFieldWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingIDFieldWarning)
        nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if "id" not in cell:
            cell["id"] = generate_corpus_id()
    return nb


def _figures(nb: Any) -> int:
    """PNG outputs of an executed notebook."""
    return sum(
        "image/png" in output.get("data", {})
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )


def _one_line(text: str) -> str:
    """``text`` on one line, without terminal colour codes."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text or "")
    return " ".join(text.split()) or "(no message)"


def _title(nb: Any, fallback: str) -> str:
    """The first Markdown heading of ``nb``."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return fallback


def _reproduces(nb: Any) -> str:
    """The paper ``nb`` reproduces, when it says (see :attr:`Notebook.reproduces`)."""
    said = nb.metadata.get("workbench", {}).get("reproduces")
    if said:
        return str(said)
    modules = sorted(set(_study_imports(nb)))
    if len(modules) != 1:
        return ""
    spec = importlib.util.find_spec(f"workbench.studies.{modules[0]}")
    if spec is None or spec.origin is None:
        return ""
    doc = ast.get_docstring(ast.parse(Path(spec.origin).read_text(encoding="utf-8"))) or ""
    found = _FIRST_REFERENCE.search(doc)
    return " ".join(found.group(1).split()) if found else ""


def _study_imports(nb: Any) -> Iterable[str]:
    """Modules of ``workbench.studies`` that the code cells of ``nb`` import."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # IPython magics
            continue
        for node in ast.walk(tree):
            names: Sequence[str] = ()
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if found := _STUDY_IMPORT.match(name):
                    yield found.group(1)


def _check_writable(out: Path) -> None:
    """Create ``out`` and check that a file can be written in it."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".probe-"):
            pass
    except OSError as exc:
        raise WorkbenchError(
            f"cannot write the gallery to {out}: {exc.strerror or exc}; choose another --out"
        ) from exc


_INDEX = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Interactionist Workbench: gallery</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 58rem; margin: 2rem auto;
       padding: 0 1rem; line-height: 1.45; color: #222; }
li { margin: 0.6rem 0; }
.paper { color: #555; font-size: 0.92em; }
.meta { color: #777; font-size: 0.85em; }
.failed { color: #b00020; font-weight: bold; }
</style>
</head>
<body>
<h1>Interactionist Workbench: gallery</h1>
<p class="meta">Every notebook executed from its committed cassettes (no model loaded),
built {{ built }} in {{ "%.0f"|format(seconds) }} s.
{% if failed %}<span class="failed">{{ failed }} notebook(s) failed.</span>{% endif %}</p>
{% for heading, pages in sections %}
<h2>{{ heading }}</h2>
<ul>
{% for page in pages %}
<li><a href="{{ page.notebook.page }}">{{ page.notebook.title }}</a>
<span class="meta">({{ page.notebook.section }}/{{ page.notebook.path.name }},
{{ page.figures }} figure{{ "" if page.figures == 1 else "s" }},
{{ "%.0f"|format(page.seconds) }} s)</span>
{% if page.notebook.reproduces %}<br><span class="paper">Reproduces:
{{ page.notebook.reproduces }}</span>{% endif %}
{% if page.error %}<br><span class="failed">FAILED at {{ page.error }}</span>{% endif %}
</li>
{% endfor %}
</ul>
{% endfor %}
</body>
</html>
"""

__all__ = [
    "DEFAULT_TIMEOUT",
    "Gallery",
    "Notebook",
    "Page",
    "SECTIONS",
    "build_gallery",
    "default_root",
    "find_notebooks",
    "render_index",
]
