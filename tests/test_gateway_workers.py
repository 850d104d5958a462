"""The gateway's worker processes (``GatewayConfig.workers``): the same table with any K.

Every test talks HTTP to :class:`support.openai_server.OpenAIServer` on loopback through
the real litellm, once with K = 1 (every call made in the test process, as without
workers) and once with K = 2 (the calls made by two worker processes, started and ready
before the first call). The cassette, deduplication, accounting and the seeded draws stay
in the parent, so the decisions, the society's table, the cassette and the totals must
not depend on K; a refusing server must fail the run as fast and with the same error.
"""

from __future__ import annotations

import secrets
import string

import numpy as np
import pandas as pd
import pytest
from support.openai_server import TEST_MODEL

from workbench.errors import ConfigError, ModelUnavailableError
from workbench.llm import _litellm, cores, workers
from workbench.llm.gateway import Gateway, GatewayConfig
from workbench.llm.types import DecisionRequest
from workbench.society import LLMPerson, Persona, Round, Situation, Society, Task, Topology

OPTIONS = ("A", "B", "C")
DIST = {"A": 0.45, "The": 0.15, "B": 0.25, "C": 0.1}
SAME = (
    "choice",
    "probabilities",
    "valid",
    "method",
    "raw",
    "prompt_tokens",
    "completion_tokens",
    "from_cassette",
    "retries",
    "error",
    "request_hash",
)
TOTALS = (
    "requests",
    "calls",
    "cassette_hits",
    "replayed_prompt_tokens",
    "dedup_hits",
    "retries",
    "repairs",
    "invalid",
    "errors",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
)


def asks(n: int) -> list[DecisionRequest]:
    """``n`` requests, the last quarter repeating earlier ones (deduplicated)."""
    distinct = n - n // 4
    return [
        DecisionRequest(
            TEST_MODEL,
            [
                {"role": "system", "content": f"You are participant {i % distinct}."},
                {"role": "user", "content": "Pick one. A) red B) blue C) green"},
            ],
            OPTIONS,
            temperature=0.7,
        )
        for i in range(n)
    ]


def config(**kwargs) -> GatewayConfig:
    return GatewayConfig(**{"backoff": 0.01, "timeout": 10.0, "concurrency": 8, **kwargs})


def table(decisions) -> list[dict]:
    return [{k: getattr(d, k) for k in SAME} for d in decisions]


def totals(gateway: Gateway) -> dict:
    return {k: gateway.accounting.totals()[k] for k in TOTALS}


@pytest.fixture(scope="module", autouse=True)
def warm_litellm():
    _litellm.get()


@pytest.fixture
def in_process_calls(monkeypatch):
    """Counts the ``litellm.acompletion`` calls made in this (the parent) process."""
    litellm = _litellm.get()
    real = litellm.acompletion
    calls: list[str] = []

    async def counted(**kwargs):
        calls.append(kwargs["model"])
        return await real(**kwargs)

    monkeypatch.setattr(litellm, "acompletion", counted)
    return calls


def run(k: int, requests, **kwargs):
    with Gateway(config(workers=k, **kwargs)) as gw:
        assert gw.workers == k
        assert gw.start_workers() == (k if k > 1 else 0)
        decisions = gw.decide(requests, np.random.default_rng(11))
    return decisions, totals(gw)


def test_same_seed_same_decisions_and_totals_with_one_and_two_workers(
    openai_server, in_process_calls
):
    srv = openai_server(distribution=DIST)
    one, one_totals = run(1, asks(40))
    assert len(in_process_calls) == 30 == len(srv.requests)
    two, two_totals = run(2, asks(40))
    assert len(in_process_calls) == 30  # K = 2: every call made by a worker
    assert len(srv.requests) == 60
    assert table(one) == table(two)
    assert one_totals == two_totals
    assert one_totals["calls"] == 30 and one_totals["dedup_hits"] == 10
    assert one_totals["prompt_tokens"] > 0 and one_totals["completion_tokens"] > 0
    assert len({d.choice for d in one}) > 1  # the draws matter


def society(gateway: Gateway, n: int = 12) -> Society:
    task = Task([Round("Which colour do you pick? A) red B) blue C) green", OPTIONS)], name="k")
    persons = [
        LLMPerson(TEST_MODEL, Persona(f"p{i}", f"You are participant {i}.")) for i in range(n)
    ]
    situation = Situation(topology=Topology("ring", k=4), schedule="synchronous")
    return Society(persons, task, situation, seed=5, gateway=gateway, run_id="k")


def society_table(k: int, rounds: int = 3, **kwargs) -> tuple[pd.DataFrame, dict]:
    with Gateway(config(workers=k, **kwargs)) as gw:
        gw.start_workers()
        model = society(gw)
        model.run(rounds)
        frame = model.decisions
    return frame, totals(gw)


def test_a_society_gives_the_same_table_with_any_k_and_replays_across_k(
    openai_server, tmp_path, in_process_calls
):
    openai_server(distribution=DIST)
    path = tmp_path / "calls.jsonl"
    recorded, recorded_totals = society_table(2, cassette=str(path), cassette_mode="record")
    assert not in_process_calls and recorded_totals["calls"] > 0
    live, live_totals = society_table(1)
    assert len(in_process_calls) == live_totals["calls"]
    pd.testing.assert_frame_equal(recorded, live)
    assert recorded_totals == live_totals
    assert len(recorded) == 36 and recorded.valid.all() and recorded.choice.nunique() > 1

    replayed, replayed_totals = society_table(1, cassette=str(path), cassette_mode="replay")
    pd.testing.assert_frame_equal(replayed, recorded)
    assert replayed_totals["calls"] == 0
    assert replayed_totals["cassette_hits"] == recorded_totals["requests"]
    # a replay reports what the recorded calls it read had cost in tokens
    assert replayed_totals["replayed_prompt_tokens"] == recorded_totals["prompt_tokens"] > 0
    assert recorded_totals["replayed_prompt_tokens"] == 0


def test_a_cassette_is_the_same_file_whatever_k_recorded_it(openai_server, tmp_path):
    openai_server(distribution=DIST)
    texts = {}
    for k in (1, 2):
        path = tmp_path / f"k{k}.jsonl"
        run(k, asks(16), cassette=str(path), cassette_mode="record")
        texts[k] = path.read_text()
    assert texts[1] == texts[2] and len(texts[1].splitlines()) == 12


def test_a_refusing_server_fails_fast_with_the_same_error_whatever_k(openai_server):
    srv = openai_server(api_key="sk-the-right-one")  # the environment's sk-test: a 401
    seen = {}
    for k in (1, 2):
        srv.reset()
        with Gateway(config(workers=k)) as gw:
            gw.start_workers()
            with pytest.raises(ModelUnavailableError) as refused:
                gw.decide(asks(40), np.random.default_rng(0))
            sent = len(srv.requests)
            assert 1 <= sent <= 8  # the calls in flight when the first refusal came
            assert gw.failure == str(refused.value)
            with pytest.raises(ModelUnavailableError):  # later calls fail at once
                gw.decide(asks(4), np.random.default_rng(0))
            assert len(srv.requests) == sent
        seen[k] = (type(refused.value), str(refused.value))
    assert seen[1] == seen[2]
    assert "refused" in seen[2][1] and "\n" not in seen[2][1]


def test_the_key_reaches_workers_only_through_the_environment(
    openai_server, monkeypatch, in_process_calls
):
    key = "sk-" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40))
    srv = openai_server(api_key=key)
    monkeypatch.setenv("WB_WORKERS_TEST_KEY", key)
    sent: list[bytes] = []
    frame = workers._frame
    monkeypatch.setattr(workers, "_frame", lambda message: sent.append(frame(message)) or sent[-1])
    decisions, _ = run(2, asks(8), api_key_env="WB_WORKERS_TEST_KEY")
    assert all(d.valid for d in decisions)
    assert set(srv.api_keys) == {key} and not in_process_calls
    wire = b"".join(sent)
    assert b"WB_WORKERS_TEST_KEY" in wire  # the name went to the workers ...
    assert key.encode() not in wire and key[3:20].encode() not in wire  # ... not the key


def test_a_dead_worker_loses_no_call_and_close_stops_the_rest(openai_server):
    openai_server(distribution=DIST)
    reference, _ = run(1, asks(24))
    with Gateway(config(workers=2)) as gw:
        assert gw.start_workers() == 2
        processes = [w.process for w in gw._pool._workers]
        processes[0].kill()
        processes[0].wait()
        decisions = gw.decide(asks(24), np.random.default_rng(11))
        again = gw.decide(asks(24), np.random.default_rng(11))
    assert table(decisions) == table(reference)
    assert [d.choice for d in again] == [d.choice for d in reference]
    assert all(p.poll() is not None for p in processes)


def test_worker_count_is_checked_and_derived_from_free_cores(monkeypatch):
    for bad in (0, -1, 257, True, 1.5, "2"):
        with pytest.raises(ConfigError) as info:
            GatewayConfig(workers=bad)
        assert "workers" in str(info.value) and "\n" not in str(info.value)
    monkeypatch.setenv(workers.WORKERS_ENV, "lots")
    with pytest.raises(ConfigError, match=workers.WORKERS_ENV) as info:
        GatewayConfig()
    assert "\n" not in str(info.value)
    monkeypatch.setenv(workers.WORKERS_ENV, "3")
    assert Gateway(GatewayConfig()).workers == 3
    assert Gateway(GatewayConfig(concurrency=2)).workers == 2  # never more than in flight
    assert Gateway(GatewayConfig(workers=1)).workers == 1  # the config's own value wins
    monkeypatch.setenv(workers.WORKERS_ENV, "auto")
    monkeypatch.setattr(cores, "cores", lambda: 8)
    for load, k in ((0.4, 8), (2.6, 5), (7.6, 1), (30.0, 1)):
        monkeypatch.setattr(workers.os, "getloadavg", lambda load=load: (load, 0.0, 0.0))
        assert Gateway(GatewayConfig()).workers == k
    single = Gateway(GatewayConfig(workers=1))
    assert single.start_workers() == 0 and single._pool is None


def test_the_gateway_workers_flag_reaches_the_config():
    import argparse

    from workbench.commands.run import add_model_arguments, gateway_config_from_args

    parser = argparse.ArgumentParser()
    add_model_arguments(parser)
    for given, k in (
        (["--gateway-workers", "2"], 2),
        (["--gateway-workers", "auto"], None),
        ([], None),
    ):
        assert gateway_config_from_args(parser.parse_args(given)).workers == k


def test_a_derived_k_starts_its_workers_only_after_many_calls(
    openai_server, monkeypatch, in_process_calls
):
    openai_server(distribution=DIST)
    monkeypatch.delenv(workers.WORKERS_ENV, raising=False)
    monkeypatch.setattr(workers, "free_cores", lambda: 2)
    monkeypatch.setattr(workers, "AUTO_AFTER", 20)
    reference, _ = run(1, asks(40))
    with Gateway(config()) as gw:
        assert gw.workers == 2
        first = gw.decide(asks(16), np.random.default_rng(11))  # 12 calls
        assert gw._pool is None and len(in_process_calls) == 30 + 12
        second = gw.decide(asks(40), np.random.default_rng(11))  # 18 more: the 9th starts them
        assert gw._pool is not None
        assert gw.start_workers() == 2
    assert all(d.valid for d in first)
    assert table(second) == table(reference)  # made here or by the workers, the same
