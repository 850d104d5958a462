"""Fault tolerance at the society level: LLM members against a faulty OpenAI-style server.

Every test runs a synchronous :class:`~workbench.society.Society` of ``openai/test-model``
members through the real gateway and litellm to :class:`support.openai_server.OpenAIServer`
on loopback. Faults are injected at the server; the run must complete with exactly one
decision row per member and step, and every retry, repair and invalid decision must show up
in the run's accounting (its stored metadata) and in its decisions table.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from support.gate import gated_answer
from support.openai_server import (
    CONTENT,
    FAULT_KINDS,
    OFF_OPTIONS_TEXT,
    RETRYABLE,
    TEST_MODEL,
    OpenAIServer,
)

from workbench.llm import Gateway, GatewayConfig
from workbench.society import LLMPerson, Persona, Round, Situation, Society, Task, Topology
from workbench.store import ResultStore
from workbench.studies import Study, Unit

MODEL = TEST_MODEL
OPTIONS = ("A", "B", "C")
pytestmark = pytest.mark.usefixtures("warm_litellm")


@dataclass(frozen=True)
class PollConfig:
    members: int = 10
    rounds: int = 2


class Poll(Study):
    """Members on a ring answer the same question round after round, all at once."""

    name = "poll"
    Config = PollConfig

    def units(self, seed):
        return [Unit(0, {}, 0, seed)]

    def models(self):
        return [MODEL]

    def build(self, unit, gateway=None, run_id=""):
        question = "Which colour do you pick? A) red B) blue C) green"
        task = Task([Round(question, OPTIONS)], name="poll")
        persons = [  # distinct personas: no two requests are identical, so none is deduplicated
            LLMPerson(MODEL, Persona(f"p{i}", f"You are participant number {i}."))
            for i in range(self.config.members)
        ]
        situation = Situation(topology=Topology("ring", k=4), schedule="synchronous")
        return Society(persons, task, situation, seed=unit.seed, gateway=gateway, run_id=run_id)

    def run(self, gateway=None, **kwargs):
        kwargs.setdefault("workers", 1)
        return super().run(gateway, **kwargs)

    def play(self, society, unit):
        return society.run(self.config.rounds)

    def planned_rounds(self, unit, society):
        return self.config.rounds

    def summarize(self, decisions, seed):
        return decisions.groupby("step").valid.mean().reset_index()


def is_repair(request: dict) -> bool:
    return any(m.get("role") == "assistant" for m in request["messages"])


def check_run(result, srv: OpenAIServer, members: int, rounds: int, tmp_path) -> dict:
    """The invariants of a run under faults; returns its accounting."""
    decisions = result.decisions
    # nothing lost, nothing duplicated
    assert len(decisions) == members * rounds
    assert not decisions.duplicated(["step", "member"]).any()
    assert set(decisions.step) == set(range(1, rounds + 1))
    assert (decisions.groupby("step").member.nunique() == members).all()
    # every attempt the server saw is a counted call or a counted retry
    totals = result.metadata["accounting"]
    assert len(srv.requests) == totals["calls"] + totals["retries"]
    faults = [kind for _, kind in srv.faults]
    assert sum(k in RETRYABLE for k in faults) == totals["retries"] + totals["errors"]
    # an unreadable first answer was repaired; an unreadable repair is an invalid decision
    requests = srv.requests
    content = [requests[i] for i, kind in srv.faults if kind in CONTENT]
    assert totals["repairs"] == sum(not is_repair(r) for r in content)
    invalid = decisions[~decisions.valid.astype(bool)]
    assert totals["invalid"] == len(invalid) == sum(is_repair(r) for r in content)
    assert (invalid.method == "invalid").all() and invalid.choice.isna().all()
    valid = decisions[decisions.valid.astype(bool)]
    assert valid.choice.isin(OPTIONS).all()
    # the accounting travels with the run into the store
    store = ResultStore(tmp_path / "runs.sqlite")
    store.save(result.to_record())
    assert store.load(result.run_id).metadata["accounting"] == totals
    return totals


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_each_fault_kind_is_survived_and_counted(openai_server, tmp_path, kind):
    # Only a "timeout" fault should outlast the client's timeout: elsewhere the timeout is
    # far above any answer time, so a slow machine causes no unplanned retry. The hang is
    # longer still (stopping the server ends it).
    srv = openai_server(hang=60.0)
    srv.inject(kind, times=3)
    timeout = 5.0 if kind == "timeout" else 60.0
    config = GatewayConfig(concurrency=16, timeout=timeout, backoff=0.01)
    with Gateway(config) as gw:
        result = Poll(PollConfig(members=10, rounds=2), seed=1).run(gw)
    totals = check_run(result, srv, 10, 2, tmp_path)
    assert [k for _, k in srv.faults] == [kind] * 3
    if kind in RETRYABLE:  # a retry that draws a fault again is one more retry
        assert totals["retries"] == 3 and totals["repairs"] == 0
        assert totals["invalid"] == 0 and result.decisions.valid.all()
        return
    # The queued faults go to the first three requests to *arrive*. All ten first answers
    # of round 1 are sent at once, but a repair goes out as soon as its faulted answer is
    # back, so on a busy machine it can overtake first answers and draw a fault itself:
    # then that decision is invalid instead of repaired. Which happens is timing; that
    # each fault is one or the other, and the very first request is a first answer, is not.
    assert totals["retries"] == 0
    assert totals["repairs"] + totals["invalid"] == 3 and totals["repairs"] >= 1
    assert (~result.decisions.valid.astype(bool)).sum() == totals["invalid"]
    assert not is_repair(srv.requests[srv.faults[0][0]])
    repairs = [r for r in srv.requests if is_repair(r)]
    assert len(repairs) == totals["repairs"]
    assert {r["messages"][-2]["content"] for r in repairs} == {
        "" if kind == "empty" else OFF_OPTIONS_TEXT
    }


def test_twenty_percent_faults_of_every_kind_in_a_100_member_run(openai_server, tmp_path):
    # The faults are drawn per arriving request from a seeded generator, so which member
    # gets which fault is timing, but the kinds drawn and their share are not. The client
    # timeout is far above an answer's time on a busy machine (an unplanned timeout would
    # be an uncounted retry) and below the hang of a "timeout" fault.
    srv = openai_server(fault_rate=0.2, seed=7, hang=60.0)
    config = GatewayConfig(concurrency=128, timeout=8.0, backoff=0.01, max_retries=8)
    with Gateway(config) as gw:
        result = Poll(PollConfig(members=100, rounds=2), seed=2).run(gw)
    totals = check_run(result, srv, 100, 2, tmp_path)
    faults = {k for _, k in srv.faults}
    assert faults == set(FAULT_KINDS)
    assert len(srv.faults) >= 0.15 * len(srv.requests)
    assert totals["retries"] > 0 and totals["repairs"] > 0
    assert totals["errors"] == 0  # no call ran out of retries


# -- throughput paths ----------------------------------------------------------------------


def gated(openai_server, at_once: int):
    """A server whose answers wait until ``at_once`` requests are in flight together."""
    ref: list = []
    ref.append(openai_server(answer_fn=gated_answer(ref, at_once)))
    return ref[0]


def test_a_synchronous_round_goes_out_as_one_bounded_concurrent_batch(openai_server):
    srv = gated(openai_server, 16)
    with Gateway(GatewayConfig(concurrency=16, timeout=120.0)) as gw:
        Poll(PollConfig(members=40, rounds=1), seed=3).run(gw)
    assert len(srv.requests) == 40 and srv.max_in_flight == 16  # bounded by concurrency
    srv = gated(openai_server, 40)
    with Gateway(GatewayConfig(concurrency=64, timeout=120.0)) as gw:
        Poll(PollConfig(members=40, rounds=1), seed=3).run(gw)
    assert len(srv.requests) == 40 and srv.max_in_flight == 40  # the whole round at once


def test_identical_requests_of_a_round_are_sent_once(openai_server):
    # No latency needed: the gateway registers the first call as in flight before any of
    # the round's other requests is looked at, so all 29 others find it, at any speed.
    srv = openai_server()

    class Crowd(Poll):  # no personas: in round 1 nobody has seen anything, so all ask alike
        def build(self, unit, gateway=None, run_id=""):
            society = super().build(unit, gateway, run_id)
            for member in society.members:
                member.person = LLMPerson(MODEL)
            return society

    with Gateway(GatewayConfig(concurrency=64, timeout=10.0)) as gw:
        result = Crowd(PollConfig(members=30, rounds=1), seed=4).run(gw)
    totals = result.metadata["accounting"]
    assert len(srv.requests) == 1 and totals["calls"] == 1 and totals["dedup_hits"] == 29
    assert len(result.decisions) == 30 and result.decisions.valid.all()
