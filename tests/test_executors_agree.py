"""The same sweep gives the same tables through the serial, process and Dask executors:
for rule members and for model runs replayed from a cassette."""

from __future__ import annotations

import pandas as pd
import pytest
from support.openai_server import OpenAIServer

from workbench.llm import GatewayConfig
from workbench.store import ResultStore
from workbench.studies.asch import AschConfig
from workbench.sweep import Sweep, executor


def tables(store: ResultStore) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    out = {}
    for run_id in store.runs().run_id:
        record = store.load(run_id)
        out[run_id] = (record.decisions, record.summary)
    return out


def sweep(model: str, gateway=None) -> Sweep:
    config = AschConfig(model=model, subjects=2, majority=(0, 3), ally=())
    return Sweep("asch", {"temperature": [0.0, 1.0]}, seeds=2, config=config, gateway=gateway)


def assert_same(first: dict, second: dict) -> None:
    assert set(first) == set(second) and len(first) == 4
    for run_id, (decisions, summary) in first.items():
        pd.testing.assert_frame_equal(decisions, second[run_id][0], check_exact=True)
        pd.testing.assert_frame_equal(summary, second[run_id][1], check_exact=True)


@pytest.mark.parametrize("kind", ["process", "dask"])
def test_rule_sweeps_agree_across_executors(tmp_path, kind):
    serial = ResultStore(tmp_path / "serial.sqlite")
    sweep("rule:conformist:0.3").run(store=serial, progress=False)
    other = ResultStore(tmp_path / f"{kind}.sqlite")
    with executor(kind, workers=2) as pool:
        sweep("rule:conformist:0.3").run(pool, other, progress=False)
    assert_same(tables(serial), tables(other))


@pytest.mark.parametrize("kind", ["serial", "process", "dask"])
def test_cassette_replays_agree_across_executors(tmp_path, kind, monkeypatch):
    cassette = tmp_path / "calls.jsonl"
    recorded = ResultStore(tmp_path / "recorded.sqlite")
    with OpenAIServer(distribution=lambda r: {"A": 0.5, "B": 0.3, "C": 0.2}) as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        record = GatewayConfig(cassette=str(cassette), cassette_mode="auto")
        sweep("openai/test-model", record).run(store=recorded, progress=False)
    for name in ("OPENAI_BASE_URL", "OPENAI_API_BASE", "OPENAI_API_KEY"):
        monkeypatch.delenv(name)  # replays need no server and no key
    replayed = ResultStore(tmp_path / f"{kind}.sqlite")
    replay = GatewayConfig(cassette=str(cassette), cassette_mode="replay")
    with executor(kind, workers=2) as pool:
        sweep("openai/test-model", replay).run(pool, replayed, progress=False)
    assert_same(tables(recorded), tables(replayed))


def test_live_sweeps_agree_across_executors_and_gateway_workers(tmp_path, monkeypatch):
    # Live calls, not a replay: serial with every call in this process against a process
    # pool whose runs each spread their calls over two gateway worker processes.
    config = AschConfig(model="openai/test-model", subjects=4, majority=(0, 3), ally=())

    def run(gateway: GatewayConfig, store: ResultStore, pool=None) -> None:
        Sweep("asch", {"temperature": [1.0]}, seeds=1, config=config, gateway=gateway).run(
            pool, store, progress=False
        )

    with OpenAIServer(distribution=lambda r: {"A": 0.5, "B": 0.3, "C": 0.2}) as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        serial = ResultStore(tmp_path / "serial.sqlite")
        run(GatewayConfig(workers=1), serial)
        spread = ResultStore(tmp_path / "spread.sqlite")
        with executor("process", workers=1) as pool:
            run(GatewayConfig(workers=2), spread, pool)
    first, second = tables(serial), tables(spread)
    assert set(first) == set(second) and len(first) == 1
    for run_id, (decisions, summary) in first.items():
        assert decisions.valid.all() and decisions.choice.nunique() > 1
        pd.testing.assert_frame_equal(decisions, second[run_id][0], check_exact=True)
        pd.testing.assert_frame_equal(summary, second[run_id][1], check_exact=True)
