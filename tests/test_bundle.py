"""Replication bundles: pack a stored run, rebuild its tables offline, bit for bit."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
from support.openai_server import OpenAIServer

from workbench import cli
from workbench.bundle import BUNDLE_VERSION, pack, replay
from workbench.errors import WorkbenchError
from workbench.llm import local
from workbench.store import ResultStore

_PROVIDER_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE")
CANARY = "sk-canary-5f1e0c9d2b7a4e63"


def run_asch(tmp_path, model, *extra) -> str:
    store = tmp_path / "s.sqlite"
    argv = [
        "run", "asch", "--model", model, "--subjects", "1", "--majority", "0,3",
        "--seed", "3", "--store", str(store), "--out", str(tmp_path / "out"), "--no-progress",
        *extra,
    ]  # fmt: skip
    assert cli.main(argv) == 0
    [run_id] = ResultStore(store).runs().run_id
    return run_id


def members(archive) -> dict[str, bytes]:
    with tarfile.open(archive, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def rewrite(archive, out, change) -> None:
    """A copy of the bundle with ``change(name, data) -> data`` applied to each member."""
    with tarfile.open(out, "w:gz") as tar:
        for name, data in members(archive).items():
            data = change(name, data)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_a_rule_run_packs_and_replays_bit_for_bit(tmp_path, capsys):
    run_id = run_asch(tmp_path, "rule:conformist:0.3")
    archive = tmp_path / "run.tar.gz"
    argv = ["results", "pack", run_id, "--out", str(archive), "--store", str(tmp_path / "s.sqlite")]
    assert cli.main(argv) == 0
    assert set(members(archive)) == {"manifest.json", "runs.json", "store.sqlite", "calls.jsonl"}
    assert cli.main(["results", "replay", str(archive)]) == 0
    assert f"{run_id}: identical" in capsys.readouterr().out


def test_a_model_run_replays_with_no_key_no_server_and_no_model_cache(
    tmp_path, monkeypatch, capsys
):
    for name in _PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    with OpenAIServer(api_key=CANARY) as server:
        monkeypatch.setenv("WBCANARYVAR", CANARY)
        run_id = run_asch(
            tmp_path, "openai/test-model", "--api-base", server.base_url,
            "--api-key-env", "WBCANARYVAR",
        )  # fmt: skip
        assert set(server.api_keys) == {CANARY}
    archive = pack(ResultStore(tmp_path / "s.sqlite"), [run_id], tmp_path / "b.tar.gz")
    for name, data in members(archive).items():
        assert CANARY.encode() not in data, name
    calls = members(archive)["calls.jsonl"].decode().splitlines()
    stored = ResultStore(tmp_path / "s.sqlite").load(run_id)
    assert len(calls) == len(stored.calls) == stored.metadata["accounting"]["calls"]
    # Offline: no key, the server gone, an empty model cache, and no model may load.
    monkeypatch.delenv("WBCANARYVAR")
    monkeypatch.setenv("WORKBENCH_MODEL_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(local, "server", lambda model: pytest.fail("replay loaded a model"))
    [comparison] = replay(archive)
    assert comparison.identical and comparison.rows == len(stored.decisions)


def test_a_changed_row_is_named(tmp_path, capsys):
    run_id = run_asch(tmp_path, "rule:conformist:0.3")
    store = ResultStore(tmp_path / "s.sqlite")
    record = store.load(run_id)
    decisions = record.decisions.copy()
    row = int(decisions.index[decisions.role == "subject"][4])
    decisions.loc[row, "choice"] = "Z"
    store.save(
        type(record)(run_id, record.study, record.created, record.metadata, decisions,
                     record.summary, record.calls),
        overwrite=True,
    )  # fmt: skip
    archive = pack(store, [run_id], tmp_path / "b.tar.gz")
    assert cli.main(["results", "replay", str(archive)]) == 2
    out = capsys.readouterr()
    assert f"decisions row {row} column 'choice': 'Z' recorded" in out.out
    assert out.err.count("\n") == 1 and out.err.startswith("workbench: error:")


def test_a_newer_or_tampered_bundle_is_refused_in_one_line(tmp_path, capsys):
    run_id = run_asch(tmp_path, "rule:conformist:0.3")
    archive = pack(ResultStore(tmp_path / "s.sqlite"), [run_id], tmp_path / "b.tar.gz")

    def newer(name, data):
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        manifest["version"] = BUNDLE_VERSION + 1
        return json.dumps(manifest).encode()

    rewrite(archive, tmp_path / "newer.tar.gz", newer)
    with pytest.raises(WorkbenchError, match="newer than this workbench reads"):
        replay(tmp_path / "newer.tar.gz")

    def tampered(name, data):
        return data.replace(b"conformist", b"CONFORMIST") if name == "runs.json" else data

    rewrite(archive, tmp_path / "tampered.tar.gz", tampered)
    assert cli.main(["results", "replay", str(tmp_path / "tampered.tar.gz")]) == 2
    err = capsys.readouterr().err
    assert "does not match its sha256" in err and err.count("\n") == 1
    (tmp_path / "junk.tar.gz").write_bytes(b"not a tar file")
    assert cli.main(["results", "replay", str(tmp_path / "junk.tar.gz")]) == 2
    assert "not a workbench bundle" in capsys.readouterr().err


def test_an_incomplete_run_is_not_packed(tmp_path):
    run_id = run_asch(tmp_path, "rule:conformist:0.3")
    store = ResultStore(tmp_path / "s.sqlite")
    record = store.load(run_id)
    metadata = {**record.metadata, "status": "incomplete", "error": "interrupted"}
    store.save(
        type(record)(run_id, record.study, record.created, metadata, record.decisions),
        overwrite=True,
    )
    with pytest.raises(WorkbenchError, match="incomplete"):
        pack(store, [run_id], tmp_path / "b.tar.gz")
