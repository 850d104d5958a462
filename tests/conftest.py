"""Shared fixtures: a fake OpenAI-compatible server that litellm reaches via the environment."""

from __future__ import annotations

import pytest
from support.openai_server import OpenAIServer


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
