"""The gateway against a fake OpenAI server, through the real litellm.

Every test talks HTTP to :class:`support.openai_server.OpenAIServer` on loopback with the
model string ``openai/test-model``; litellm finds the server through ``OPENAI_BASE_URL``
and ``OPENAI_API_KEY`` (set by the ``openai_server`` fixture). Faults are injected at the
server, so retries, repairs, invalid decisions, concurrency, deduplication and secret
handling are checked end to end.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import string
import threading
import urllib.request

import numpy as np
import pytest
from support.gate import gated_answer
from support.openai_server import FAULT_KINDS, OFF_OPTIONS_TEXT, OpenAIServer

from workbench.errors import ModelUnavailableError
from workbench.llm import _litellm
from workbench.llm.gateway import Gateway, GatewayConfig
from workbench.llm.types import DecisionRequest

MODEL = "openai/test-model"
OPTIONS = ("A", "B", "C")
RETRYABLE = {"429", "500", "drop", "timeout", "malformed"}
CONTENT = {"empty", "off_options"}


def ask(i: int, **kwargs) -> DecisionRequest:
    text = f"Question {i}: which do you pick? A) yes B) no C) maybe"
    return DecisionRequest(MODEL, [{"role": "user", "content": text}], OPTIONS, **kwargs)


def config(**kwargs) -> GatewayConfig:
    return GatewayConfig(**{"backoff": 0.01, "timeout": 5.0, **kwargs})


def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def question_of(request: dict) -> int:
    first = next(m["content"] for m in request["messages"] if m["role"] == "user")
    return int(re.search(r"Question (\d+)", first).group(1))


@pytest.fixture(scope="module", autouse=True)
def warm_litellm():
    """Import litellm and make one call, so no test times the ~5 s of first use."""
    _litellm.get()
    with OpenAIServer() as srv, pytest.MonkeyPatch.context() as mp:
        for name, value in srv.env().items():
            mp.setenv(name, value)
        with Gateway(config()) as gw:
            assert gw.decide([ask(0)], rng())[0].valid


# -- the server itself ---------------------------------------------------------------------


def test_server_serves_models_and_many_concurrent_connections():
    ref: list = []
    with OpenAIServer(answer_fn=gated_answer(ref, 256)) as srv:
        ref.append(srv)
        with urllib.request.urlopen(srv.base_url + "/models", timeout=5) as resp:
            assert [m["id"] for m in json.load(resp)["data"]] == ["test-model"]
        body = json.dumps(
            {"model": "test-model", "messages": [{"role": "user", "content": "A) x B) y"}]}
        ).encode()
        answers: list[str] = []

        def post() -> None:
            req = urllib.request.Request(
                srv.base_url + "/chat/completions", body, {"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(req, timeout=120) as resp:
                answers.append(json.load(resp)["choices"][0]["message"]["content"])

        threads = [threading.Thread(target=post) for _ in range(256)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert answers == ["A"] * 256
    assert srv.max_in_flight == 256  # all served at once, none waiting for another


# -- (a) probabilities from logprobs -------------------------------------------------------


def test_probabilities_come_from_logprobs(openai_server):
    dist = {"A": 0.5, "The": 0.2, "B": 0.2, "C": 0.1}  # "The" is not an option
    srv = openai_server(distribution=dist)
    with Gateway(config()) as gw:
        decisions = gw.decide([ask(i) for i in range(20)], rng())
    expected = np.array([0.5, 0.2, 0.1]) / 0.8
    assert len(srv.requests) == 20
    assert all(r["logprobs"] is True and r["top_logprobs"] == 20 for r in srv.requests)
    for d in decisions:
        assert d.valid and d.method == "logprobs" and d.choice in OPTIONS
        np.testing.assert_allclose(d.probabilities, expected, rtol=1e-9)
        assert sum(d.probabilities) == pytest.approx(1.0)
    assert gw.accounting.totals()["calls"] == 20


# -- (b)-(f) retried faults ------------------------------------------------------------------


def test_429_is_retried_after_retry_after(openai_server):
    srv = openai_server(retry_after=0.1)
    srv.inject("429")
    with Gateway(config()) as gw:
        [d] = gw.decide([ask(1)], rng())
    totals = gw.accounting.totals()
    assert d.valid and d.retries == 1
    assert totals["retries"] == 1 and totals["calls"] == 1 and totals["errors"] == 0
    first, second = srv.arrival_times
    assert second - first >= 0.1  # Retry-After, not the 0.01 s backoff


def test_500_is_retried_with_backoff(openai_server):
    srv = openai_server()
    srv.inject("500", times=2)
    with Gateway(config(backoff=0.05)) as gw:
        [d] = gw.decide([ask(2)], rng())
    assert d.valid and d.retries == 2
    assert gw.accounting.totals()["retries"] == 2
    t0, t1, t2 = srv.arrival_times
    assert t1 - t0 >= 0.05 and t2 - t1 >= 0.1  # the delay doubles


def test_dropped_connection_is_retried(openai_server):
    srv = openai_server()
    srv.inject("drop")
    with Gateway(config()) as gw:
        [d] = gw.decide([ask(3)], rng())
    assert d.valid and d.retries == 1 and len(srv.requests) == 2
    assert gw.accounting.totals()["retries"] == 1


def test_timeout_is_retried(openai_server):
    # The fault hangs far longer than the client waits; a normal answer never comes close.
    srv = openai_server(hang=60.0)
    srv.inject("timeout")
    with Gateway(config(timeout=3.0)) as gw:
        [d] = gw.decide([ask(4)], rng())
    assert d.valid and d.retries == 1 and len(srv.requests) == 2
    assert gw.accounting.totals()["retries"] == 1


def test_malformed_json_is_retried(openai_server):
    srv = openai_server()
    srv.inject("malformed")
    with Gateway(config()) as gw:
        [d] = gw.decide([ask(5)], rng())
    assert d.valid and d.retries == 1 and len(srv.requests) == 2
    assert gw.accounting.totals()["retries"] == 1


def test_malformed_json_beyond_max_retries_is_an_invalid_decision(openai_server):
    srv = openai_server()
    srv.inject("malformed", times=2)
    with Gateway(config(max_retries=1)) as gw:
        [d] = gw.decide([ask(6)], rng())
    totals = gw.accounting.totals()
    assert not d.valid and d.choice is None and d.probabilities == (0.0, 0.0, 0.0)
    assert d.error and "InternalServerError" in d.error
    assert len(srv.requests) == 2  # no repair retry after a failed call
    assert totals["retries"] == 1 and totals["errors"] == 1 and totals["invalid"] == 1
    assert totals["repairs"] == 0


# -- (g)-(h) unreadable answers ------------------------------------------------------------


def test_empty_answer_gets_one_repair(openai_server):
    srv = openai_server()
    srv.inject("empty")
    with Gateway(config()) as gw:
        [d] = gw.decide([ask(7)], rng())
    totals = gw.accounting.totals()
    assert d.valid and d.method == "logprobs" and d.choice in OPTIONS
    assert totals["repairs"] == 1 and totals["invalid"] == 0 and totals["retries"] == 0
    assert totals["calls"] == 2
    repair = srv.requests[1]["messages"]
    assert [m["role"] for m in repair] == ["user", "assistant", "user"]
    assert repair[-1]["content"] == "Answer with exactly one of: A, B, C"


def test_off_options_twice_is_invalid(openai_server):
    srv = openai_server()
    srv.inject("off_options", times=2)
    with Gateway(config()) as gw:
        [d] = gw.decide([ask(8)], rng())
    totals = gw.accounting.totals()
    assert not d.valid and d.choice is None and d.method == "invalid"
    assert d.raw == OFF_OPTIONS_TEXT and d.error
    assert totals["invalid"] == 1 and totals["repairs"] == 1 and totals["calls"] == 2
    assert len(srv.requests) == 2


# -- (i)-(j) concurrency and deduplication -------------------------------------------------


def test_concurrency_is_bounded(openai_server):
    ref: list = []
    ref.append(openai_server(answer_fn=gated_answer(ref, 4)))
    srv = ref[0]
    with Gateway(config(concurrency=4)) as gw:
        decisions = gw.decide([ask(i) for i in range(16)], rng())
    assert all(d.valid for d in decisions) and len(srv.requests) == 16
    assert srv.max_in_flight == 4  # four at once (the gate waits for them), never more


def test_identical_requests_in_flight_are_sent_once(openai_server):
    srv = openai_server(latency=0.1)
    with Gateway(config()) as gw:
        decisions = gw.decide([ask(9)] * 10, rng())
    totals = gw.accounting.totals()
    assert len(srv.requests) == 1
    assert totals["dedup_hits"] == 9 and totals["calls"] == 1 and totals["requests"] == 10
    assert len({d.probabilities for d in decisions}) == 1 and all(d.valid for d in decisions)


# -- (k) secrets ---------------------------------------------------------------------------


@pytest.fixture
def all_logs(caplog):
    """caplog at DEBUG for every logger, including those that do not propagate."""
    caplog.set_level(logging.DEBUG)
    attached = []
    for name in list(logging.Logger.manager.loggerDict):
        logger = logging.getLogger(name)
        caplog.set_level(logging.DEBUG, logger=name)
        if not logger.propagate:
            logger.addHandler(caplog.handler)
            attached.append(logger)
    yield caplog
    for logger in attached:
        logger.removeHandler(caplog.handler)


def _secret() -> str:
    return "sk-" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40))


def test_api_key_never_recorded_or_logged(openai_server, monkeypatch, tmp_path, all_logs, capsys):
    key = _secret()
    srv = openai_server(api_key=key)  # answers only requests that carry the key
    monkeypatch.setenv("OPENAI_API_KEY", key)
    srv.inject("500")
    srv.inject("empty")
    cassette = tmp_path / "calls.jsonl"
    with Gateway(config(cassette=str(cassette), cassette_mode="record")) as gw:
        decisions = gw.decide([ask(i) for i in range(3)], rng())
    assert all(d.valid for d in decisions)
    assert set(srv.api_keys) == {key}  # the key really went over the wire
    assert gw.accounting.totals()["retries"] == 1 and gw.accounting.totals()["repairs"] == 1
    frame = gw.accounting.frame()
    captured = capsys.readouterr()
    assert all_logs.records  # the capture works
    places = {
        "cassette": cassette.read_text(),
        "decisions": repr(decisions),
        "accounting": frame.to_csv() + repr(frame.to_dict()),
        "log": all_logs.text + "\n".join(repr(r.__dict__) for r in all_logs.records),
        "output": captured.out + captured.err,
    }
    assert len(places["cassette"].splitlines()) == 4  # 3 answers and 1 repair
    for place, text in places.items():
        assert key not in text, f"the API key leaked into the {place}"
        assert key[3:20] not in text, f"part of the API key leaked into the {place}"


def test_api_key_not_in_refusal(openai_server, monkeypatch, all_logs):
    key = _secret()
    srv = openai_server(api_key="sk-the-right-one")  # a 401 quoting the presented key
    monkeypatch.setenv("OPENAI_API_KEY", key)
    with Gateway(config()) as gw, pytest.raises(ModelUnavailableError) as refused:
        gw.decide([ask(10)], rng())
    assert srv.api_keys == [key]
    assert "refused" in str(refused.value)
    assert key not in str(refused.value)
    assert key not in all_logs.text


# -- (l) a mix of faults -------------------------------------------------------------------


def test_mixed_faults_lose_nothing_and_count_everything(openai_server):
    def distribution(request: dict) -> dict[str, float]:
        answer = OPTIONS[question_of(request) % 3]
        return {o: 0.8 if o == answer else 0.1 for o in OPTIONS}

    # A timeout fault hangs far past the client's timeout, which no normal answer nears
    # even on a busy machine: every retry the client makes is for a fault.
    srv = openai_server(distribution=distribution, fault_rate=0.2, seed=3, hang=60.0)
    requests = [ask(i) for i in range(100)]
    with Gateway(config(timeout=5.0, concurrency=16)) as gw:
        decisions = gw.decide(requests, rng())
    totals = gw.accounting.totals()
    faults = [kind for _, kind in srv.faults]
    assert set(faults) == set(FAULT_KINDS)

    # nothing lost, nothing duplicated, order kept
    assert [d.request_hash for d in decisions] == [r.hash for r in requests]
    assert len({d.request_hash for d in decisions}) == 100
    for i, d in enumerate(decisions):
        if d.valid:
            assert d.method == "logprobs" and sum(d.probabilities) == pytest.approx(1.0)
            assert OPTIONS[int(np.argmax(d.probabilities))] == OPTIONS[i % 3]
        else:
            assert d.choice is None and (d.error or d.raw in ("", OFF_OPTIONS_TEXT))

    # every attempt the server saw is a counted call or a counted retry
    assert len(srv.requests) == totals["calls"] + totals["retries"]
    assert sum(d.retries for d in decisions) == totals["retries"]
    # every retryable fault led to a retry, or ended a call as an error
    assert sum(k in RETRYABLE for k in faults) == totals["retries"] + totals["errors"]
    # every unreadable answer led to a repair, or (for a repair) to an invalid decision
    repaired = {question_of(r) for r in srv.requests if len(r["messages"]) > 1}
    assert totals["repairs"] == len(repaired) == totals["calls"] - 100
    unreadable = [d for d in decisions if not d.valid and d.raw in ("", OFF_OPTIONS_TEXT)]
    content_invalid = sum(d.error == "no option could be read from the answer" for d in unreadable)
    assert sum(k in CONTENT for k in faults) == totals["repairs"] + content_invalid
    assert totals["invalid"] == sum(not d.valid for d in decisions)
    assert totals["retries"] > 0 and totals["repairs"] > 0


# -- regressions ---------------------------------------------------------------------------


def test_logprobs_without_alternatives_do_not_crash(openai_server):
    openai_server(max_top_logprobs=0)  # token logprob given, no top_logprobs
    with Gateway(config()) as gw:
        [d] = gw.decide([ask(11)], rng())
    assert d.valid and d.choice == "A"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_gateway_usable_after_close(openai_server):
    openai_server(latency=0.05)
    gw = Gateway(config(concurrency=2))
    assert all(d.valid for d in gw.decide([ask(i) for i in range(4)], rng()))
    gw.close()
    try:
        assert all(d.valid for d in gw.decide([ask(i) for i in range(20, 24)], rng()))
    finally:
        gw.close()
