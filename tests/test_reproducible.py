"""The embedded model is reproducible by default: the same seed gives the same table, live,
and a packed live run replays bit for bit with no model cache."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.bundle import pack, replay
from workbench.llm import Gateway, local
from workbench.store import ResultStore
from workbench.studies.asch import AschConfig, AschStudy

CONFIG = AschConfig(model="local/smollm2-135m", subjects=1, majority=(3,), ally=())


def live_run():
    with Gateway() as gateway:
        return AschStudy(CONFIG, seed=7).run(gateway)


def test_the_same_seed_gives_the_same_table_live(monkeypatch):
    monkeypatch.delenv("WORKBENCH_LOCAL_MODE", raising=False)
    assert local.mode() == "reproducible"
    first, second = live_run(), live_run()  # one process: the second starts on a used cache
    assert not first.decisions.empty and first.metadata["accounting"]["calls"] > 0
    drop = ["run_id"]
    pd.testing.assert_frame_equal(
        first.decisions.drop(columns=drop), second.decisions.drop(columns=drop), check_exact=True
    )
    pd.testing.assert_frame_equal(first.summary, second.summary, check_exact=True)


def test_a_live_embedded_run_replays_with_an_empty_model_cache(tmp_path, monkeypatch):
    result = live_run()
    store = ResultStore(tmp_path / "s.sqlite")
    store.save(result.to_record())
    archive = pack(store, [result.run_id], tmp_path / "b.tar.gz")
    monkeypatch.setenv("WORKBENCH_MODEL_DIR", str(tmp_path / "empty"))
    monkeypatch.setattr(local, "server", lambda model: pytest.fail("replay loaded a model"))
    [comparison] = replay(archive)
    assert comparison.identical and comparison.rows == len(result.decisions)
