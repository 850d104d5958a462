"""The lean OpenAI-compatible provider (``workbench_http``) against litellm's own client.

Both paths go through ``litellm.acompletion`` to :class:`support.openai_server.OpenAIServer`
on loopback; the lean one must give the same decisions, usage and cassettes. Also: which
models take it, the embedded model's thread setting, the cached cost lookup.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from support.openai_server import OpenAIServer

from workbench.errors import ConfigError
from workbench.llm import _http, _litellm, accounting, cores, gateway, local
from workbench.llm.gateway import Gateway, GatewayConfig
from workbench.llm.types import DecisionRequest

MODEL = "openai/test-model"
OPTIONS = ("A", "B", "C")
DIST = {"A": 0.45, "The": 0.15, "B": 0.25, "C": 0.1}


def asks(n: int) -> list[DecisionRequest]:
    return [
        DecisionRequest(
            MODEL,
            [
                {"role": "system", "content": f"You are participant {i}."},
                {"role": "user", "content": f"Question {i}: pick one. A) red B) blue C) green"},
            ],
            OPTIONS,
            temperature=0.7,
        )
        for i in range(n)
    ]


def decide(monkeypatch, transport: str, n: int = 12, **kwargs):
    monkeypatch.setenv(_http.TRANSPORT_ENV, transport)
    with Gateway(GatewayConfig(backoff=0.01, timeout=10.0, **kwargs)) as gw:
        decisions = gw.decide(asks(n), np.random.default_rng(3))
        routes = dict(gw._routes)
    return decisions, routes, gw.accounting.totals()


@pytest.fixture(scope="module", autouse=True)
def warm_litellm():
    _litellm.get()


def test_lean_provider_gives_the_same_decisions_and_usage(openai_server, monkeypatch):
    srv = openai_server(distribution=DIST)
    fast, fast_routes, fast_totals = decide(monkeypatch, "fast")
    native, native_routes, native_totals = decide(monkeypatch, "litellm")
    assert fast_routes[MODEL]["model"] == f"{_http.PROVIDER}/test-model"
    assert native_routes[MODEL] is None
    assert len(srv.requests) == 24
    # The server saw the same bodies both ways (the OpenAI SDK adds nothing we compare).
    keys = ("model", "messages", "logprobs", "top_logprobs", "max_tokens", "temperature")
    bodies = [json.dumps({k: r.get(k) for k in keys}, sort_keys=True) for r in srv.requests]
    assert sorted(bodies[:12]) == sorted(bodies[12:])  # arrival order varies
    assert all(key == "sk-test" for key in srv.api_keys)
    for a, b in zip(fast, native, strict=True):
        assert a.valid and a.method == "logprobs" and a.prompt_tokens > 0
        same = ("choice", "probabilities", "prompt_tokens", "completion_tokens", "raw")
        assert {k: getattr(a, k) for k in same} == {k: getattr(b, k) for k in same}
    for key in ("calls", "prompt_tokens", "completion_tokens", "cost_usd", "invalid"):
        assert fast_totals[key] == native_totals[key]
    assert fast_totals["prompt_tokens"] > 0


def test_cassettes_record_and_replay_the_same_either_way(openai_server, monkeypatch, tmp_path):
    openai_server(distribution=DIST)
    files = {}
    for transport in ("fast", "litellm"):
        files[transport] = tmp_path / f"{transport}.jsonl"
        decide(monkeypatch, transport, cassette=str(files[transport]), cassette_mode="record")
    assert files["fast"].read_bytes() == files["litellm"].read_bytes()
    recorded, _, _ = decide(monkeypatch, "fast")
    replayed, _, totals = decide(
        monkeypatch, "fast", cassette=str(files["litellm"]), cassette_mode="replay"
    )
    assert totals["calls"] == 0 and totals["cassette_hits"] == 12
    strip = ("latency_s", "from_cassette")
    assert [
        {k: v for k, v in dataclasses.asdict(d).items() if k not in strip} for d in replayed
    ] == [{k: v for k, v in dataclasses.asdict(d).items() if k not in strip} for d in recorded]


def test_lean_provider_maps_http_errors_to_retries(openai_server, monkeypatch):
    srv = openai_server()
    srv.inject("429")
    srv.inject("500")
    srv.inject("malformed")
    monkeypatch.setenv(_http.TRANSPORT_ENV, "fast")
    with Gateway(GatewayConfig(backoff=0.01, timeout=10.0)) as gw:
        [d] = gw.decide(asks(1), np.random.default_rng(0))
    assert d.valid and d.retries == 3 and len(srv.requests) == 4


def test_refused_connection_is_fatal_through_the_lean_provider(monkeypatch):
    with OpenAIServer() as srv:
        env = srv.env()
    for name, value in env.items():  # the server has stopped: nothing listens there
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(_http.TRANSPORT_ENV, "fast")
    monkeypatch.setattr(gateway, "_probe", lambda model, base: None)  # reach the call
    with Gateway(GatewayConfig(backoff=0.01, max_retries=1)) as gw:
        with pytest.raises(Exception, match="connection refused"):
            gw.decide(asks(1), np.random.default_rng(0))


def test_which_models_take_the_lean_provider(monkeypatch):
    monkeypatch.delenv(_http.TRANSPORT_ENV, raising=False)
    local_base = "http://127.0.0.1:8000/v1"
    assert _http.route("openai/gpt-4o-mini", "openai", "https://api.openai.com/v1", {}) is None
    assert _http.route("anthropic/claude", "anthropic", local_base, {}) is None
    assert _http.route("openai/x", "openai", None, {}) is None
    routed = _http.route("hosted_vllm/org/m", "hosted_vllm", local_base, {"api_key": "k"})
    assert routed == {"model": f"{_http.PROVIDER}/org/m", "api_base": local_base, "api_key": "k"}
    monkeypatch.setenv(_http.TRANSPORT_ENV, "litellm")
    assert _http.route("hosted_vllm/m", "hosted_vllm", local_base, {}) is None
    monkeypatch.setenv(_http.TRANSPORT_ENV, "bogus")
    with pytest.raises(ConfigError, match="WORKBENCH_TRANSPORT"):
        _http.enabled()


def test_local_threads_setting(monkeypatch):
    monkeypatch.setenv(local.THREADS_ENV, "3")
    assert local.threads() == 3
    for bad in ("0", "two", "-1", "1.5"):
        monkeypatch.setenv(local.THREADS_ENV, bad)
        with pytest.raises(ConfigError, match=local.THREADS_ENV):
            local.threads()
    monkeypatch.setenv(local.THREADS_ENV, "auto")
    monkeypatch.setattr(cores, "cores", lambda: 4)
    monkeypatch.setattr(local.os, "getloadavg", lambda: (0.2, 0.0, 0.0))
    assert local.threads() == 4
    monkeypatch.setattr(local.os, "getloadavg", lambda: (2.6, 0.0, 0.0))
    assert local.threads() == 1
    monkeypatch.setattr(local.os, "getloadavg", lambda: (9.0, 0.0, 0.0))
    assert local.threads() == 1  # never fewer than one


def test_cached_cost_equals_litellms_lookup():
    litellm = _litellm.get()
    reply = gateway._Reply(content="A", prompt_tokens=1234, completion_tokens=7)
    prompt, completion = litellm.cost_per_token(
        model="gpt-4o-mini", prompt_tokens=1234, completion_tokens=7
    )
    assert prompt + completion > 0
    for _ in range(2):  # the first call fills the cache, the second reads it
        assert gateway._cost("gpt-4o-mini", reply) == pytest.approx(prompt + completion, 1e-12)
    assert "gpt-4o-mini" in accounting._prices
    assert gateway._cost("openai/not-a-model-anyone-prices", reply) == 0.0


def test_the_lean_providers_names_are_priced_as_the_users_models(openai_server, monkeypatch):
    # litellm looks every workbench_http/NAME up after each call; the entry must carry
    # the prices the gateway accounts with (zero for a model nobody prices), so that its
    # cost for the call is ours and the lookup does not fall through to its fallbacks.
    litellm = _litellm.get()
    openai_server(distribution=DIST)
    _, _, totals = decide(monkeypatch, "fast", n=3)
    entry = litellm.model_cost[f"{_http.PROVIDER}/test-model"]
    assert (entry["input_cost_per_token"], entry["output_cost_per_token"]) == (0.0, 0.0)
    assert totals["cost_usd"] == 0.0
    priced = "openai/gpt-4o-mini"
    _http.price_as("gpt-4o-mini", "http://127.0.0.1:9/v1", priced)
    entry = litellm.model_cost[f"{_http.PROVIDER}/gpt-4o-mini"]
    assert (entry["input_cost_per_token"], entry["output_cost_per_token"]) == pytest.approx(
        accounting.price_per_token(priced)
    )
    assert entry["input_cost_per_token"] > 0
