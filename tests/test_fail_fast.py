"""A run that cannot reach its model fails fast and loudly, and loses nothing.

Every case ends with one line on stderr and exit status 2, and what finished is stored
with its status (``incomplete`` or ``failed``) so a sweep redoes it. The fake server in
``tests/support`` stands for the provider; nothing here asserts on wall-clock time: a
case is fast because the code does not retry what cannot succeed, which the server's
request count shows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from support.cli import asch_run
from support.openai_server import OpenAIServer
from support.ports import closed_port

from workbench import cli
from workbench.store import ResultStore

_PROVIDER_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE", "OLLAMA_API_BASE")


@pytest.fixture(autouse=True)
def _no_provider_env(monkeypatch):
    for name in _PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)


def asch(tmp_path: Path, model: str, *extra: str) -> list[str]:
    return asch_run(tmp_path, model, "--majority", "0,3", *extra)


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("workbench: error:")]
    assert len(lines) == 1, err
    return lines[0]


def stored(tmp_path: Path):
    return ResultStore(tmp_path / "s.sqlite").runs()


# -- before the first call ----------------------------------------------------------------


def test_no_api_key_names_the_variable_and_calls_nothing(tmp_path, capsys):
    assert cli.main(asch(tmp_path, "openai/gpt-4o-mini")) == 2
    line = one_error_line(capsys)
    assert "OPENAI_API_KEY" in line and "export OPENAI_API_KEY=" in line
    runs = stored(tmp_path)
    assert (runs.status != "complete").all()  # the attempt is on record, never as complete


def test_closed_port_is_connection_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_API_BASE", f"http://127.0.0.1:{closed_port()}/v1")
    assert cli.main(asch(tmp_path, "openai/gpt-4o-mini")) == 2
    line = one_error_line(capsys)
    assert "connection refused" in line and "--api-base" in line


def test_ollama_without_a_server(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OLLAMA_API_BASE", f"http://127.0.0.1:{closed_port()}")
    assert cli.main(asch(tmp_path, "ollama/llama3")) == 2
    assert "connection refused" in one_error_line(capsys)


def test_unknown_provider(tmp_path, capsys):
    assert cli.main(asch(tmp_path, "nosuchprovider/model")) == 2
    assert "provider" in one_error_line(capsys)


def test_api_key_env_names_an_unset_variable(tmp_path, capsys):
    argv = asch(tmp_path, "openai/test-model", "--api-key-env", "WB_TEST_UNSET_KEY")
    assert cli.main(argv) == 2
    assert "WB_TEST_UNSET_KEY" in one_error_line(capsys)


def test_credentials_in_a_base_url_are_never_printed(tmp_path, capsys):
    argv = asch(tmp_path, "openai/m", "--api-base", "http://user:hunter2pw@127.0.0.1:1/v1")
    assert cli.main(argv) == 2
    assert "hunter2pw" not in capsys.readouterr().err


# -- reaching a server through the flags -----------------------------------------------------


def test_api_base_and_api_key_env_reach_an_openai_compatible_server(tmp_path, monkeypatch):
    monkeypatch.setenv("WB_TEST_KEY", "sk-wb-secret-1234")
    with OpenAIServer(api_key="sk-wb-secret-1234") as server:
        argv = asch(
            tmp_path,
            "openai/test-model",
            "--api-base",
            server.base_url,
            "--api-key-env",
            "WB_TEST_KEY",
            "--cassette",
            str(tmp_path / "calls.jsonl"),
        )
        assert cli.main(argv) == 0
        assert server.requests and set(server.api_keys) == {"sk-wb-secret-1234"}
    runs = stored(tmp_path)
    assert list(runs.status) == ["complete"]
    for path in [tmp_path / "s.sqlite", tmp_path / "calls.jsonl", *(tmp_path / "out").iterdir()]:
        assert b"sk-wb-secret-1234" not in path.read_bytes()


def test_api_base_without_a_key_serves_a_keyless_server(tmp_path):
    with OpenAIServer() as server:
        argv = asch(tmp_path, "openai/test-model", "--api-base", server.base_url)
        assert cli.main(argv) == 0
        assert server.requests


# -- during a run ------------------------------------------------------------------------------


def test_a_key_revoked_mid_run_stops_it_and_keeps_finished_units(tmp_path, capsys, monkeypatch):
    answered = []

    def revoke_after_first_subject(request):
        answered.append(1)
        if len(answered) == 30:  # a subject answers 18 trials; the second one is cut off
            server.api_key = "sk-rotated"
        return "A"

    with OpenAIServer(answer_fn=revoke_after_first_subject) as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        argv = asch(tmp_path, "openai/test-model", "--concurrency", "1")
        assert cli.main(argv) == 2
        requests = len(server.requests)
    line = one_error_line(capsys)
    assert "key" in line
    # Fatal: no retries, and the other units were not tried once each.
    assert requests == 31
    [run] = stored(tmp_path).itertuples()
    assert run.status == "incomplete"
    record = ResultStore(tmp_path / "s.sqlite").load(run.run_id)
    assert "key" in record.metadata["error"]
    assert 1 <= record.metadata["units_done"] < record.metadata["units"]
    assert (tmp_path / "out" / "asch_decisions.csv").exists()


def test_all_invalid_answers_mark_the_run_failed(tmp_path, capsys, monkeypatch):
    with OpenAIServer(fault_rate=1.0, fault_kinds=("off_options",)) as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        assert cli.main(asch(tmp_path, "openai/test-model")) == 2
    line = one_error_line(capsys)
    assert "invalid" in line and "--max-invalid" in line
    [run] = stored(tmp_path).itertuples()
    assert run.status == "failed"


def test_a_hung_provider_ends_by_the_run_deadline(tmp_path, capsys, monkeypatch):
    with OpenAIServer(latency=600) as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        argv = asch(tmp_path, "openai/test-model", "--deadline", "2", "--timeout", "300")
        assert cli.main(argv) == 2
        assert server.requests  # the calls were sent, then cancelled
    assert "deadline of 2 s" in one_error_line(capsys)
    [run] = stored(tmp_path).itertuples()
    assert run.status == "incomplete"


def test_ctrl_c_cancels_hung_calls(tmp_path):
    """SIGINT during calls that would hang for 10 minutes ends the run at once."""
    with OpenAIServer(latency=600) as server:
        env = {**os.environ, **server.env(), "PYTHONUNBUFFERED": "1"}
        argv = asch(tmp_path, "openai/test-model", "--timeout", "300")
        proc = subprocess.Popen(
            [sys.executable, "-m", "workbench.cli", *argv],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            arrived = threading.Event()
            poll = threading.Thread(target=_wait_for_requests, args=(server, arrived))
            poll.start()
            poll.join(timeout=120)
            assert arrived.is_set(), "the run never called the server"
            proc.send_signal(signal.SIGINT)
            # Without cancellation the run would wait out the server's 600 s latency.
            _, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert (stored(tmp_path).status == "incomplete").all()


def _wait_for_requests(server: OpenAIServer, arrived: threading.Event) -> None:
    for _ in range(1200):
        if server.requests:
            arrived.set()
            return
        threading.Event().wait(0.1)


# -- outputs ------------------------------------------------------------------------------------


def test_out_that_is_a_file_fails_before_any_work(tmp_path, capsys):
    (tmp_path / "taken").write_text("x")
    argv = asch(tmp_path, "rule:conformist:0.3")
    argv[argv.index("--out") + 1] = str(tmp_path / "taken")
    assert cli.main(argv) == 2
    assert "--out" in one_error_line(capsys)
    assert not (tmp_path / "s.sqlite").exists()


def test_a_run_is_stored_before_its_outputs_are_written(tmp_path, capsys, monkeypatch):
    from matplotlib.figure import Figure

    def disk_full(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", disk_full)
    assert cli.main(asch(tmp_path, "rule:conformist:0.3")) == 2
    line = one_error_line(capsys)
    assert "No space left" in line and "stored" in line
    [run] = stored(tmp_path).itertuples()
    assert run.status == "complete" and run.n_decisions > 0
    assert run.run_id in line


# -- logging --------------------------------------------------------------------------------


def test_litellm_log_lines_do_not_reach_the_terminal(tmp_path, capfd, monkeypatch):
    with OpenAIServer(fault_rate=1.0, fault_kinds=("500",)) as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        argv = asch(tmp_path, "openai/test-model", "--retries", "0", "--majority", "0")
        assert cli.main(argv) == 2
    err = capfd.readouterr().err
    assert [line for line in err.splitlines() if line.strip()] == [
        line for line in err.splitlines() if line.startswith("workbench:")
    ], err
