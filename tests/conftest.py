"""Shared fixtures: a fake OpenAI-compatible server that litellm reaches via the environment."""

from __future__ import annotations

import pytest
from support.openai_server import TEST_MODEL, OpenAIServer


@pytest.fixture
def openai_server(monkeypatch):
    """Factory: ``openai_server(**kwargs)`` starts an :class:`OpenAIServer` on loopback.

    It also points litellm's ``openai/`` provider at it (``OPENAI_BASE_URL``,
    ``OPENAI_API_BASE``, ``OPENAI_API_KEY=sk-test``); every server stops at teardown.
    """
    servers: list[OpenAIServer] = []

    def start(**kwargs) -> OpenAIServer:
        server = OpenAIServer(**kwargs).start()
        servers.append(server)
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def warm_litellm():
    """Import litellm and make one call through a gateway to a test server, so no test of
    the module pays (or times) litellm's first use, about 5 s.

    Use it as ``pytestmark = pytest.mark.usefixtures("warm_litellm")``.
    """
    import numpy as np

    from workbench.llm import Gateway, GatewayConfig, _litellm
    from workbench.llm.types import DecisionRequest

    _litellm.get()
    ask = DecisionRequest(
        TEST_MODEL, [{"role": "user", "content": "Which? A) yes B) no"}], ("A", "B")
    )
    with OpenAIServer() as server, pytest.MonkeyPatch.context() as mp:
        for name, value in server.env().items():
            mp.setenv(name, value)
        with Gateway(GatewayConfig(timeout=5.0)) as gateway:
            gateway.decide([ask], np.random.default_rng(0))
