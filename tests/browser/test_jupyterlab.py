"""The Explorer in a real JupyterLab, in headless Chromium driven by Playwright.

Starts JupyterLab on 127.0.0.1 with a token, serving a copy of ``notebooks/`` (so the
committed notebooks never get outputs saved into them), opens ``02_explore.ipynb`` in a
1280 x 720 window and runs all cells. Then, in the first panel:

- the panel fits the window (and nothing in it overflows sideways);
- with "pause after each round" ticked, Run shows round 1 live (plot, network, progress
  counted in decisions) while the run waits; "Next round" shows round 2 with a new plot;
  unticking pause lets the run end, with the study's plot (another image again);
- the legend gives the options' texts;
- the transcript tab shows an LLM member's prompt, answer and option probabilities.

The run pauses in the panel's code (the society waits in its round callback until Next
round), so what the browser sees mid-run does not depend on timing. Screenshots go to
``workbench-out/browser/``: ``explore-live.png`` (round 1, paused), ``explore.png`` (the
end), ``explore-transcript.png`` and ``explore-prompt.png`` (its prompt, scrolled to).
The notebook replays its cassette (``WORKBENCH_CASSETTE_MODE=replay``): no model runs.

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
WIDTH, HEIGHT = 1280, 720


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


def _live(panel) -> dict[str, str]:
    """The panel's live counters (its ``.wb-live`` element's data attributes)."""
    return panel.locator(".wb-live").first.evaluate("e => Object.assign({}, e.dataset)")


def _wait_live(page, state: str, rounds: int, timeout: float) -> None:
    """Wait until the first panel's live element has ``state`` and at least ``rounds``."""
    page.wait_for_function(
        """([state, rounds]) => {
            const e = document.querySelector(".workbench-explorer .wb-live");
            return e && e.dataset.state === state && Number(e.dataset.rounds) >= rounds;
        }""",
        arg=[state, rounds],
        timeout=timeout * 1000,
    )


def _plot_src(panel) -> str:
    return panel.locator("img").first.get_attribute("src") or ""


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
        page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
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
            _close_left_sidebar(page)
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
            assert panel.locator("img:visible").count() == 0, "the panel shows a plot before Run"

            panel.scroll_into_view_if_needed()
            box = panel.bounding_box()
            assert box["width"] <= WIDTH and box["height"] <= HEIGHT, box
            assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, box
            overflow = panel.evaluate("e => e.scrollWidth - e.clientWidth")
            assert overflow <= 0, f"the panel overflows sideways by {overflow} px"
            page.screenshot(path=SHOTS / "explore-before-run.png")

            # A paused run: round 1 is shown while the societies wait.
            panel.get_by_text("pause after each round").click()
            panel.locator("button", has_text=re.compile(r"^\s*Run\s*$")).first.click()
            _wait_live(page, "paused", 1, FIGURE_TIMEOUT)
            live = _live(panel)
            assert int(live["frames"]) >= 1 and int(live["decisions"]) > 0, live
            assert "paused after round 1" in panel.inner_text()
            assert panel.locator("img:visible").count() >= 2, "the live plot or network is missing"
            first = _plot_src(panel)
            progress = panel.locator(".widget-hprogress .progress-bar").first
            assert float(progress.evaluate("e => parseFloat(e.style.width) || 0")) > 0
            legend = panel.locator(".wb-legend").first.inner_text()
            assert "the kilogram of iron" in legend, legend
            page.screenshot(path=SHOTS / "explore-live.png")

            panel.locator("button", has_text="Next round").first.click()
            _wait_live(page, "paused", int(live["rounds"]) + 1, FIGURE_TIMEOUT)
            assert "paused after round 2" in panel.inner_text()
            second = _plot_src(panel)
            assert second != first, "the plot did not change between rounds 1 and 2"

            panel.get_by_text("pause after each round").click()  # the run goes on and ends
            try:
                panel.locator("text=done:").first.wait_for(timeout=FIGURE_TIMEOUT * 1000)
            except sync_api.TimeoutError:
                panel.screenshot(path=SHOTS / "explore-no-figure.png")
                pytest.fail(f"the run did not end: {panel.inner_text()[-1500:]}")
            assert _live(panel)["state"] == "done"
            assert _plot_src(panel) not in (first, second), "the final plot was not shown"
            plot = panel.locator("img").first
            width = plot.evaluate("img => img.naturalWidth")
            assert width > 300, f"the plot image is {width} px wide"
            page.screenshot(path=SHOTS / "explore.png")
            assert "Error" not in panel.inner_text(), panel.inner_text()

            # The transcript of an LLM member.
            panel.locator(".lm-TabBar-tab", has_text="transcript").first.click()
            members = panel.locator("select:has(option:text('Participant'))").first
            llm = members.locator("option", has_text="llm").first.inner_text()
            members.select_option(label=llm)
            transcript = panel.locator(".wb-transcript").first
            transcript.locator(".wb-message").first.wait_for(timeout=30_000)
            text = transcript.inner_text()
            for part in ("prompt", "answer", "heard", "kilogram of feathers"):
                assert part in text, text
            assert transcript.locator(".wb-probabilities tr").count() == 3, text
            page.screenshot(path=SHOTS / "explore-transcript.png")
            transcript.locator(".wb-prompt").first.scroll_into_view_if_needed()
            page.screenshot(path=SHOTS / "explore-prompt.png")
        finally:
            browser.close()
    assert not problems, problems
    for name in ("explore-live.png", "explore.png", "explore-transcript.png", "explore-prompt.png"):
        assert (SHOTS / name).stat().st_size > 10_000, name


def _close_left_sidebar(page) -> None:
    """Collapse JupyterLab's file browser, as one would on a 1280 x 720 projector."""
    expanded = page.locator("#jp-left-stack:visible")
    if expanded.count():
        page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").first.click()


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
