"""The Explorer in a real JupyterLab, in headless Chromium driven by Playwright.

Starts JupyterLab on 127.0.0.1 with a token, serving a copy of ``notebooks/`` (so the
committed notebooks never get outputs saved into them), opens ``02_explore.ipynb``, runs
all cells, clicks Run in the panel and waits for the plot to appear in it. The panel's
screenshot is written to ``workbench-out/browser/explore.png``. The notebook replays its
cassette (``WORKBENCH_CASSETTE_MODE=replay``): no model runs.

Skipped, saying why, only when Playwright or a Chromium executable is missing
(``.ci/run`` installs both; ``$WORKBENCH_CHROMIUM`` names another executable).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "workbench-out" / "browser"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
# Generous: the machine this runs on may be busy; a healthy run takes well under a minute.
START_TIMEOUT = 90
RUN_ALL_TIMEOUT = 180
FIGURE_TIMEOUT = 180


def _chromium() -> str:
    found = os.environ.get("WORKBENCH_CHROMIUM") or shutil.which("chromium")
    found = found or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not found:
        pytest.skip(
            "no Chromium executable (install Debian's 'chromium' package, as .ci/run does, "
            "or set WORKBENCH_CHROMIUM): the JupyterLab front-end check cannot run"
        )
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyterlab(root: Path, home: Path):
    """A JupyterLab server on 127.0.0.1 serving ``root``; yields its base URL and token."""
    port, token = _free_port(), secrets.token_hex(16)
    settings = home / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}'
    )
    env = {
        **os.environ,
        "WORKBENCH_CASSETTE_MODE": "replay",
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "PYTHONUNBUFFERED": "1",
    }
    log = open(home / "jupyterlab.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.port_retries=0",
            "--ServerApp.terminals_enabled=False",
            "--LabApp.news_url=",
            *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited ({server.returncode}):\n{_tail(home)}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start in {START_TIMEOUT} s:\n{_tail(home)}")
                time.sleep(0.5)
        yield base, token
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def _tail(home: Path, lines: int = 40) -> str:
    text = (home / "jupyterlab.log").read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


def _menu(page, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=item).first.click()


def test_explorer_runs_in_jupyterlab(tmp_path):
    sync_api = pytest.importorskip(
        "playwright.sync_api",
        reason="Playwright is not installed (pip install playwright, as .ci/run does)",
    )
    executable = _chromium()
    root = tmp_path / "notebooks"
    shutil.copytree(
        REPO / "notebooks",
        root,
        ignore=shutil.ignore_patterns("workbench-out", ".ipynb_checkpoints", "__pycache__"),
    )
    SHOTS.mkdir(parents=True, exist_ok=True)
    with jupyterlab(root, tmp_path / "home") as (base, token), sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1600})
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        try:
            page.goto(f"{base}/lab/tree/02_explore.ipynb?token={token}")
            page.locator(".jp-Notebook").first.wait_for(timeout=START_TIMEOUT * 1000)
            dialog = page.locator(".jp-Dialog .jp-mod-accept")
            with contextlib.suppress(sync_api.TimeoutError):
                dialog.click(timeout=3000)  # a kernel picker, should one appear
            page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(
                timeout=START_TIMEOUT * 1000
            )
            _menu(page, "Run", "Run All Cells")

            panel = page.locator(".workbench-explorer").first
            try:
                panel.wait_for(state="visible", timeout=RUN_ALL_TIMEOUT * 1000)
            except sync_api.TimeoutError:
                page.screenshot(path=SHOTS / "explore-no-widget.png")
                pytest.fail(f"the Explorer widget did not render; {problems or ''}")
            _wait_for_all_cells(page, sync_api)
            errors = page.locator(".jp-OutputArea-output[data-mime-type*='error']")
            assert errors.count() == 0, f"a cell failed: {errors.first.inner_text()[:2000]}"
            assert panel.locator("img").count() == 0, "the panel shows a plot before Run"

            run = panel.locator("button", has_text=re.compile(r"^\s*Run\s*$")).first
            run.scroll_into_view_if_needed()
            page.screenshot(path=SHOTS / "explore-before-run.png")
            run.click()
            plot = panel.locator("img").first
            try:
                plot.wait_for(state="visible", timeout=FIGURE_TIMEOUT * 1000)
                panel.locator("text=done:").first.wait_for(timeout=FIGURE_TIMEOUT * 1000)
            except sync_api.TimeoutError:
                panel.screenshot(path=SHOTS / "explore-no-figure.png")
                pytest.fail(f"no figure in the panel after Run: {panel.inner_text()[-1500:]}")
            assert panel.locator("img").count() >= 2, "the plot or the network is missing"
            width = plot.evaluate("img => img.naturalWidth")
            assert width > 300, f"the plot image is {width} px wide"
            panel.scroll_into_view_if_needed()
            panel.screenshot(path=SHOTS / "explore.png")
            page.screenshot(path=SHOTS / "explore-page.png")
            assert "Error" not in panel.inner_text(), panel.inner_text()
        finally:
            browser.close()
    assert not problems, problems
    assert (SHOTS / "explore.png").stat().st_size > 10_000


def _wait_for_all_cells(page, sync_api) -> None:
    """Wait until no code cell is queued or running (prompts ``[*]``) and the kernel idles."""
    deadline = time.monotonic() + RUN_ALL_TIMEOUT
    while time.monotonic() < deadline:
        busy = page.locator(".jp-InputPrompt", has_text="*").count()
        idle = page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").count()
        if not busy and idle:
            return
        time.sleep(0.5)
    pytest.fail(f"the notebook's cells did not finish in {RUN_ALL_TIMEOUT} s")
