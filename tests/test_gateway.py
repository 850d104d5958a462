"""The gateway on the real embedded model: forced choice, cassettes, dedup, replay."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workbench.errors import CassetteMissError, ConfigError
from workbench.llm import (
    DEFAULT_MODEL,
    Decision,
    DecisionRequest,
    Gateway,
    GatewayConfig,
    GenerateRequest,
    local,
)
from workbench.llm.gateway import _parse, _read_options, _Reply


def question(i: int) -> DecisionRequest:
    return DecisionRequest(
        DEFAULT_MODEL,
        [
            {"role": "system", "content": "Answer with one letter: A, B or C."},
            {"role": "user", "content": f"Item {i}. Which is a fruit? A) car B) apple C) stone"},
        ],
        options=("A", "B", "C"),
    )


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Four real decisions of the embedded model, recorded to a cassette."""
    cassette = tmp_path_factory.mktemp("cassette") / "calls.jsonl"
    gateway = Gateway(GatewayConfig(cassette=str(cassette), cassette_mode="record"))
    requests = [question(i) for i in range(3)] + [question(0)]
    decisions = gateway.decide(requests, np.random.default_rng(7))
    gateway.close()
    return cassette, requests, decisions, gateway.accounting.totals()


def test_real_model_gives_a_distribution_over_the_options(recorded):
    _, requests, decisions, _ = recorded
    for request, decision in zip(requests, decisions, strict=True):
        assert decision.valid and decision.method == "logprobs"
        assert decision.choice in request.options
        assert sum(decision.probabilities) == pytest.approx(1.0)
        assert all(p > 0 for p in decision.probabilities)
        assert decision.request_hash == request.hash
        assert decision.prompt_tokens > 0


def test_identical_requests_in_flight_are_sent_once(recorded):
    _, _, decisions, totals = recorded
    assert totals["requests"] == 4
    assert totals["calls"] == 3
    assert totals["dedup_hits"] == 1
    assert decisions[3].probabilities == decisions[0].probabilities


def test_cassette_is_sorted_json_lines_without_duplicates(recorded):
    cassette, *_ = recorded
    lines = [json.loads(line) for line in cassette.read_text().splitlines()]
    keys = [line["key"] for line in lines]
    assert keys == sorted(keys) and len(set(keys)) == 3
    assert {"call", "response"} <= set(lines[0])
    assert lines[0]["call"]["grammar"] == 'root ::= "A" | "B" | "C"'


def test_replay_gives_the_same_decisions_fast_without_the_model(recorded, monkeypatch):
    cassette, requests, decisions, _ = recorded

    def no_model(model):
        raise AssertionError("replay must not load a model")

    monkeypatch.setattr(local, "server", no_model)
    gateway = Gateway(GatewayConfig(cassette=str(cassette), cassette_mode="replay"))
    gateway.decide(requests[:1], np.random.default_rng(0))  # starts the event loop thread
    replayed = gateway.decide(requests, np.random.default_rng(7))
    assert [d.choice for d in replayed] == [d.choice for d in decisions]
    assert [d.probabilities for d in replayed] == [d.probabilities for d in decisions]
    assert all(d.from_cassette for d in replayed)
    assert gateway.accounting.totals()["calls"] == 0


def test_replay_miss_names_the_request_and_diffs_the_closest(recorded):
    cassette, *_ = recorded
    gateway = Gateway(GatewayConfig(cassette=str(cassette), cassette_mode="replay"))
    unknown = DecisionRequest(
        DEFAULT_MODEL,
        [
            {"role": "system", "content": "Answer with one letter: A, B or C."},
            {"role": "user", "content": "Item 1. Which is a fruit? A) car B) pear C) stone"},
        ],
        options=("A", "B", "C"),
    )
    with pytest.raises(CassetteMissError) as info:
        gateway.decide([unknown], np.random.default_rng(0))
    text = str(info.value)
    first, *rest = text.splitlines()
    assert "is not in cassette" in first and "--cassette-mode auto" in first
    assert "-Item 1. Which is a fruit? A) car B) apple C) stone" in rest
    assert "+Item 1. Which is a fruit? A) car B) pear C) stone" in rest


def test_same_seed_same_choices_and_one_draw_per_request(recorded):
    cassette, requests, decisions, _ = recorded
    gateway = Gateway(GatewayConfig(cassette=str(cassette), cassette_mode="replay"))
    rng = np.random.default_rng(7)
    again = gateway.decide(requests, rng)
    assert [d.choice for d in again] == [d.choice for d in decisions]
    reference = np.random.default_rng(7)
    reference.random(len(requests))
    assert rng.random() == reference.random()


def test_generate_returns_text_from_the_embedded_model():
    gateway = Gateway()
    (generation,) = gateway.generate(
        [GenerateRequest(DEFAULT_MODEL, [{"role": "user", "content": "Say hello."}], 8)]
    )
    assert generation.text.strip() and generation.completion_tokens > 0


def test_temperature_zero_takes_the_most_likely_option():
    reply = _Reply(
        content="B", tokens=[{"token": "B", "top": [["B", -0.2], ["A", -1.9], ["So", -3.0]]}]
    )
    probabilities, method = _read_options(reply, ("A", "B", "C"))
    assert method == "logprobs"
    assert probabilities[1] > probabilities[0] > probabilities[2] > 0
    from workbench.llm.gateway import _draw

    outcome = {"probabilities": probabilities, "method": method}
    for seed in range(20):
        request = DecisionRequest("x", [{"role": "user", "content": "?"}], ("A", "B", "C"), 0.0)
        assert _draw(request, dict(outcome), np.random.default_rng(seed)).choice == "B"


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("B", "B"),
        (" b.", "B"),
        ("The answer is C.", "C"),
        ("(A) because it matches", "A"),
        ("I cannot tell", None),
        ("", None),
    ],
)
def test_parse_reads_the_first_named_option(text, answer):
    assert _parse(text, ("A", "B", "C")) == answer


def test_rule_decision_and_config_errors():
    decision = Decision.from_rule(("A", "B"), (0.0, 1.0), "B")
    assert decision.valid and decision.probability("B") == 1.0 and decision.method == "rule"
    with pytest.raises(ConfigError):
        GatewayConfig(concurrency=0)
    with pytest.raises(ConfigError):
        GatewayConfig(cassette_mode="sometimes")
    with pytest.raises(ConfigError, match="does not exist"):
        Gateway(GatewayConfig(cassette="/nonexistent/c.jsonl", cassette_mode="replay"))


_EXACT_SCRIPT = """
import json, sys
import numpy as np
from workbench.llm import DEFAULT_MODEL, DecisionRequest, Gateway, GatewayConfig

def ask(order):
    gateway = Gateway(GatewayConfig(concurrency=4))
    requests = [
        DecisionRequest(
            DEFAULT_MODEL,
            [{"role": "user", "content": f"Person {i} says {'ABC'[i % 3]}. Pick A, B or C."}],
            options=("A", "B", "C"),
        )
        for i in order
    ]
    decisions = gateway.decide(requests, np.random.default_rng(0))
    gateway.close()
    return {i: d.probabilities for i, d in zip(order, decisions)}

first, second = ask(range(8)), ask([5, 2, 7, 0, 3, 6, 1, 4])
print(json.dumps([first[i] == second[i] for i in range(8)]))
"""


def test_exact_mode_gives_the_same_probabilities_whatever_the_batching():
    """WORKBENCH_LOCAL_EXACT=1: the same prompt, asked in another order and company, gives
    bit-identical option probabilities (a fresh process, as the setting is read at load)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "WORKBENCH_LOCAL_EXACT": "1"}
    out = subprocess.run(
        [sys.executable, "-c", _EXACT_SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [True] * 8


def test_record_mode_rerecords_old_entries_but_repeats_answers_within_the_session(tmp_path):
    from workbench.llm.cassette import Cassette

    path = tmp_path / "c.jsonl"
    old = Cassette(path, "record")
    old.put("k1", {"model": "m"}, {"content": "old"})
    old.save()
    cassette = Cassette(path, "record")
    assert cassette.get("k1") is None  # recorded in an earlier session: ask the model again
    cassette.put("k1", {"model": "m"}, {"content": "new"})
    assert cassette.get("k1") == {"content": "new"}  # asked again in this session: same answer
    assert cassette.get("k2") is None
