"""The Explorer reaches an OpenAI-compatible server and shows why a run failed."""

from __future__ import annotations

import pytest
from support.openai_server import OpenAIServer

from workbench.studies.asch import AschStudy
from workbench.widgets import Explorer

_PROVIDER_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE")


@pytest.fixture
def panel(monkeypatch):
    for name in _PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    p = Explorer(studies={"asch": AschStudy})
    p.controls["model"].value = "openai/test-model"
    p.controls["subjects"].value = 1
    yield p
    p.stop()
    p.wait(60)


def run(panel) -> None:
    panel.run_button.click()
    assert panel.wait(120) is not None or panel.error, "the run did not end"


def test_server_and_key_variable_boxes_reach_the_server(panel, monkeypatch):
    monkeypatch.setenv("WB_PANEL_KEY", "sk-panel-5678")
    with OpenAIServer(api_key="sk-panel-5678") as server:
        panel.api_base.value = server.base_url
        panel.api_key_env.value = "WB_PANEL_KEY"
        run(panel)
        assert panel.error is None and panel.result.complete
        assert server.requests and set(server.api_keys) == {"sk-panel-5678"}


def test_a_dead_server_is_one_line_in_the_panel(panel):
    with OpenAIServer() as server:
        base = server.base_url
    panel.api_base.value = base  # the server has stopped: nothing listens there now
    run(panel)
    assert "connection refused" in panel.error and "\n" not in panel.error
    assert panel.progress.bar_style == "danger"


def test_a_bad_server_address_is_refused_before_the_run(panel):
    panel.api_base.value = "localhost:8000"
    assert panel.run() is None
    assert "--api-base must be an http(s) URL" in panel.error
