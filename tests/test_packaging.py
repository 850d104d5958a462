"""The project's install promises: one source of dependencies, two README commands."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_environment_yml_is_python_pip_and_the_project_only():
    lines = [
        line.strip()
        for line in (ROOT / "environment.yml").read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    dependencies = lines[lines.index("dependencies:") + 1 :]
    assert dependencies == ["- python=3.11", "- pip", "- pip:", "- -e .[dev]"]


def test_pyproject_declares_the_promised_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {
        d.split("=")[0].split(">")[0].split("<")[0].split("[")[0].strip().lower()
        for d in project["dependencies"]
    }
    assert {
        "mesa",
        "litellm",
        "xllamacpp",
        "networkx",
        "pandas",
        "seaborn",
        "ipywidgets",
        "jupyterlab",
        "tqdm",
    } <= names
    assert any(d.startswith("mesa>=3.3,<3.4") for d in project["dependencies"])
    dev = {d.split(">")[0].split("=")[0].lower() for d in project["optional-dependencies"]["dev"]}
    assert {"pytest", "nbval", "ipykernel", "pytest-xdist", "ruff"} <= dev
    assert project["name"] == "interactionist-workbench"
    assert project["scripts"]["workbench"] == "workbench.cli:main"


def test_readme_and_ci_run_the_same_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert 'pip install -e ".[dev]" && workbench demo' in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip install -e ".[dev]"' in ci
    # The README's test command, exactly, as a line of its own (its status kept).
    assert re.search(r"^pytest( \|\| status=\$\?)?$", ci, re.MULTILINE)
