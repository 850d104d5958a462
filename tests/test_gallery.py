"""The gallery (``workbench gallery``): notebooks executed from their cassettes as HTML.

The quick checks run one real teaching notebook and a few tiny ones written here. The
whole gallery is built by ``test_every_notebook_builds_with_its_figures`` only when
``WORKBENCH_GALLERY_FULL=1``: the suite's nbval run already executes every notebook once,
and a second full execution costs about as much again (see the README's Gallery section).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest

from workbench.cli import main
from workbench.gallery import build_gallery, find_notebooks

REPO = Path(__file__).resolve().parents[1]
_PNG = re.compile(r'<img[^>]*src="data:image/png;base64,[A-Za-z0-9+/=]{100,}')


def _notebook(path: Path, *sources: str, heading: str = "", metadata: dict | None = None):
    """Write a notebook of a Markdown heading (if any) and code cells."""
    cells = [nbformat.v4.new_markdown_cell(f"# {heading}")] if heading else []
    cells += [nbformat.v4.new_code_cell(source) for source in sources]
    nb = nbformat.v4.new_notebook(cells=cells, metadata=metadata or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def _digest(path: Path) -> dict[str, str]:
    """Every file under ``path`` (or ``path`` itself) and its content hash."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {
        str(p.relative_to(path.parent)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files
    }


def _check_pages(gallery) -> None:
    """Every page exists, embeds every figure of its notebook as inline PNG, and the
    index links it."""
    index = gallery.index.read_text(encoding="utf-8")
    for page in gallery.pages:
        text = (gallery.out / page.notebook.page).read_text(encoding="utf-8")
        assert len(_PNG.findall(text)) == page.figures, page.notebook.name
        assert f'href="{page.notebook.page}"' in index


@pytest.fixture
def tiny(tmp_path):
    """A root with a good study notebook (a figure, a data file beside it, a paper it
    names) and a teaching notebook that fails in its third cell."""
    root = tmp_path / "root"
    (root / "studies").mkdir(parents=True)
    (root / "studies" / "data.txt").write_text("42")
    _notebook(
        root / "studies" / "good.ipynb",
        "import os, sys\n"
        "assert os.environ['WORKBENCH_CASSETTE_MODE'] == 'replay'\n"
        f"assert sys.executable == {sys.executable!r}\n"
        "assert open('data.txt').read() == '42'  # runs in its folder\n"
        "open('written.txt', 'w').write('scratch')",
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([1, 3, 2])",
        heading="A good study",
        metadata={"workbench": {"reproduces": "A. Author, A paper (1999)."}},
    )
    _notebook(
        root / "notebooks" / "bad.ipynb",
        "x = 1",
        "raise ValueError('the cassette\\nlacks this request')",
        "print('never runs')",
        heading="A bad one",
    )
    return root


def test_a_failing_notebook_is_named_with_its_cell_and_the_others_are_built(tiny, tmp_path, capsys):
    before = _digest(tiny)
    out = tmp_path / "gallery"
    assert main(["gallery", "--root", str(tiny), "--out", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    failures = [line for line in err if line.startswith("workbench: error:")]
    assert failures == [
        "workbench: error: notebooks/bad.ipynb failed at cell 3: ValueError: the cassette "
        "lacks this request (its page shows the outputs up to there)"
    ]
    good = (out / "studies" / "good.html").read_text(encoding="utf-8")
    assert len(_PNG.findall(good)) == 1
    bad = (out / "notebooks" / "bad.html").read_text(encoding="utf-8")
    assert "ValueError" in bad and "never runs" in bad  # the source, not an output
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="studies/good.html"' in index and 'href="notebooks/bad.html"' in index
    assert "A good study" in index and "Reproduces:" in index and "A paper (1999)" in index
    assert "FAILED at cell 3" in index
    # the notebooks ran in a copy: nothing written or rewritten beside them
    assert _digest(tiny) == before
    assert not nbformat.read(tiny / "studies" / "good.ipynb", as_version=4).cells[1].outputs


def test_the_timeout_covers_one_notebooks_cells(tiny, tmp_path):
    _notebook(tiny / "studies" / "slow.ipynb", "import time\ntime.sleep(600)", "y = 2")
    _notebook(tiny / "studies" / "quick.ipynb", "z = 3")
    gallery = build_gallery(tmp_path / "g", root=tiny, only=["slow", "quick"], timeout=5)
    pages = {page.notebook.name: page for page in gallery.pages}
    assert (
        pages["slow"].error == "cell 1: timed out: the notebook's cells took more than 5 s in all"
    )
    assert pages["quick"].ok  # the next notebook has its own budget


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--only", "nosuch"], "no notebook named nosuch; choose from good, bad"),
        (["--only", "good,nosuch"], "no notebook named nosuch"),
        (["--only", " , "], "no notebook name given to build; choose from good, bad"),
        (["--timeout", "0"], "timeout must be a positive number"),
        (["--timeout", "-5"], "timeout must be a positive number"),
        (["--out", "{file}"], "cannot write the gallery to"),
        (["--root", "{empty}"], "no notebooks in"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_before_any_notebook_runs(
    tiny, tmp_path, capsys, argv, message
):
    (tmp_path / "file").write_text("not a folder")
    (tmp_path / "empty").mkdir()
    argv = [a.format(file=tmp_path / "file", empty=tmp_path / "empty") for a in argv]
    out = tmp_path / "out"
    if "--out" not in argv:
        argv += ["--out", str(out)]
    assert main(["gallery", "--root", str(tiny), *argv, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("workbench: error: ") and message in err
    assert not (out / "index.html").exists()


def test_the_index_says_what_each_study_notebook_reproduces():
    found = {nb.name: nb for nb in find_notebooks(REPO)}
    assert {"asch_conformity", "committed_minority", "01_first_society"} <= set(found)
    assert found["asch_conformity"].reproduces.startswith("S. E. Asch")
    assert "(1951)" in found["asch_conformity"].reproduces
    assert "Centola" in found["committed_minority"].reproduces
    assert found["01_first_society"].reproduces == ""  # a tutorial reproduces no paper
    assert found["01_first_society"].title == "A first society"
    assert [nb.section for nb in found.values()] == sorted(
        (nb.section for nb in found.values()), key=["studies", "notebooks"].index
    )


#: The representative subset the suite builds: one study, one teaching notebook (the two
#: quickest of their folders, about 45 s together on a busy 2-core machine).
SUBSET = ["asch_conformity", "01_first_society"]


def test_a_study_and_a_teaching_notebook_replay_into_pages_with_their_figures(tmp_path):
    tracked = ["studies/asch_conformity.ipynb", "notebooks/01_first_society.ipynb"]
    before = {name: _digest(REPO / name) for name in tracked}
    files = {folder: set(_digest(REPO / folder)) for folder in ("studies", "notebooks")}
    gallery = build_gallery(tmp_path / "g", only=SUBSET)
    assert [(page.notebook.name, page.error) for page in gallery.pages] == [
        (name, None) for name in SUBSET
    ]
    assert all(page.figures >= 1 for page in gallery.pages)
    _check_pages(gallery)
    assert "Reproduces:" in gallery.index.read_text(encoding="utf-8")
    # the tracked notebooks are not rewritten, keep no outputs, and nothing was written
    # beside them
    assert {name: _digest(REPO / name) for name in tracked} == before
    assert {folder: set(_digest(REPO / folder)) for folder in files} == files
    for name in tracked:
        cells = json.loads((REPO / name).read_text(encoding="utf-8"))["cells"]
        assert not any(cell.get("outputs") for cell in cells)


@pytest.mark.skipif(
    os.environ.get("WORKBENCH_GALLERY_FULL") != "1",
    reason="the whole gallery runs with WORKBENCH_GALLERY_FULL=1: every notebook once more "
    "(about 4 min of CPU, 11 min on a busy 2-core machine), which nbval already runs",
)
def test_every_notebook_builds_with_its_figures(tmp_path):
    gallery = build_gallery(tmp_path / "g")
    assert [(p.notebook.name, p.error) for p in gallery.failed] == []
    assert len(gallery.pages) == len(find_notebooks(REPO))
    assert all(p.figures >= 1 for p in gallery.pages if p.notebook.section == "studies")
    _check_pages(gallery)
