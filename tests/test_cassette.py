"""Cassettes: concurrent writers, checked lines, invalid answers and redaction.

No model is called: entries are put by hand. Two or more spawned processes record into one
cassette and save repeatedly, in whatever order the OS runs them, and no entry is lost. A
hypothesis property test feeds corrupt lines to the loader: it either loads (and every
answer is well formed) or raises a one-line :class:`ConfigError`, never anything else.
"""

from __future__ import annotations

import copy
import json
import multiprocessing
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import CassetteMissError, ConfigError
from workbench.llm import cassette as cassette_module
from workbench.llm.cassette import (
    REPLY_FIELDS,
    Cassette,
    redact,
    redact_value,
    secrets_in_environment,
)


def _call(text: str = "Pick A or B.") -> dict[str, Any]:
    return {
        "model": "local/m",
        "messages": [{"role": "user", "content": text}],
        "temperature": 0.0,
        "logprobs": True,
    }


def _reply(content: str = "A", logprob: float = -0.25) -> dict[str, Any]:
    return {
        "content": content,
        "tokens": [{"token": content, "top": [[content, logprob], ["B", -1.5]]}],
        "prompt_tokens": 12,
        "completion_tokens": 1,
    }


def _entry(key: str = "k1", **response: Any) -> dict[str, Any]:
    return {"key": key, "call": _call(), "response": {**_reply(), **response}}


def _write_lines(path: Path, *lines: str | bytes) -> None:
    path.write_bytes(b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines))


def _keys_in(path: Path) -> list[str]:
    return [json.loads(line)["key"] for line in path.read_text("utf-8").splitlines()]


# -- several writers ------------------------------------------------------------------

PROCESSES = 4
ENTRIES_PER_PROCESS = 30
SAVE_EVERY = 5


def _record(path: str, writer: int, barrier: Any) -> None:
    """One spawned process: record distinct entries into ``path``, saving every few."""
    barrier.wait()
    cassette = Cassette(path, "auto")
    for i in range(ENTRIES_PER_PROCESS):
        key = f"w{writer}-{i:03d}"
        cassette.put(key, _call(key), _reply(f"answer {writer} {i}"))
        if (i + 1) % SAVE_EVERY == 0:
            cassette.save()
    cassette.save()


def test_processes_recording_one_cassette_lose_no_entry(tmp_path):
    path = tmp_path / "shared.jsonl"
    before = Cassette(path, "record")
    before.put("a-earlier", _call("earlier"), _reply("B"))
    before.save()

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    workers = [
        context.Process(target=_record, args=(str(path), w, barrier)) for w in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert [w.exitcode for w in workers] == [0] * PROCESSES

    keys = _keys_in(path)
    expected = {"a-earlier"} | {
        f"w{w}-{i:03d}" for w in range(PROCESSES) for i in range(ENTRIES_PER_PROCESS)
    }
    assert set(keys) == expected  # 0 lost: 1 + 4 x 30 = 121 entries
    assert keys == sorted(keys) and len(keys) == len(set(keys))
    replay = Cassette(path, "replay")
    assert replay.get("w3-029")["content"] == "answer 3 29"


def test_save_merges_what_another_writer_saved_and_this_session_wins(tmp_path):
    path = tmp_path / "c.jsonl"
    first, second = Cassette(path, "auto"), Cassette(path, "auto")
    first.put("k1", _call("one"), _reply("A"))
    first.put("shared", _call("shared"), _reply("A"))
    first.save()
    second.put("k2", _call("two"), _reply("B"))
    second.put("shared", _call("shared"), _reply("B"))
    second.save()
    assert _keys_in(path) == ["k1", "k2", "shared"]
    assert Cassette(path, "replay").get("shared")["content"] == "B"  # the later session's
    first.put("k3", _call("three"), _reply("A"))
    first.save()  # first's "shared" entry is rewritten: this session's entry wins
    assert _keys_in(path) == ["k1", "k2", "k3", "shared"]
    assert Cassette(path, "replay").get("shared")["content"] == "A"
    assert first.get("k2")["content"] == "B"  # what was merged in is readable
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


def test_save_without_new_entries_writes_nothing(tmp_path):
    path = tmp_path / "c.jsonl"
    Cassette(path, "auto").save()
    assert not path.exists()


# -- loading never tracebacks ---------------------------------------------------------

BAD_LINES = [
    ("[1, 2]", "is a list, not a recorded call"),
    ('"text"', "is a string, not a recorded call"),
    ("{not json", "is not JSON"),
    ("NaN", "is a number, not a recorded call"),
    (json.dumps({"call": {}, "response": {"content": "A"}}), "'key' is null"),
    (json.dumps({"key": 3, "call": {}, "response": {"content": "A"}}), "'key' is an integer"),
    (json.dumps({"key": "k", "response": {"content": "A"}}), "'call' is null"),
    (json.dumps({"key": "k", "call": []}), "'call' is a list"),
    (json.dumps(_entry(content=None)), "response.content is null"),
    (json.dumps(_entry(tokens="A")), "response.tokens is a string"),
    (json.dumps(_entry(tokens=[{"top": []}])), "response.tokens[0].token is null"),
    (json.dumps(_entry(tokens=[{"token": "A", "top": [["A"]]}])), "top[0] is not a [token"),
    (
        json.dumps(_entry(tokens=[{"token": "A", "top": [["A", "-0.1"]]}])),
        "logprob is a string, not a finite number",
    ),
    (json.dumps(_entry()).replace("-0.25", "1e999"), "logprob is inf, not a finite number"),
    (json.dumps(_entry()).replace("-0.25", "NaN"), "logprob is nan, not a finite number"),
    (json.dumps(_entry()).replace("-0.25", "-Infinity"), "logprob is -inf"),
    (json.dumps(_entry()).replace("-0.25", "true"), "logprob is a boolean"),
    (json.dumps(_entry(prompt_tokens=-1)), "response.prompt_tokens is an integer, not a non-neg"),
    (json.dumps(_entry(completion_tokens=1.5)), "completion_tokens is 1.5, not a non-negative"),
    (json.dumps(_entry(prompt_tokens=True)), "prompt_tokens is a boolean"),
    (json.dumps({**_entry(), "invalid": "yes"}), "'invalid' is a string, not true or false"),
    (json.dumps(_entry(content="\ud800")), "lone surrogate"),
    (json.dumps({**_entry(), "call": {"temperature": float("inf")}}), "holds the number inf"),
    ("[" * 5000 + "]" * 5000, "nested too deeply"),
    ('{"key": "k", "call": {"x": ' + "1" * 5000 + "}}", "is not usable JSON (Exceeds the limit"),
    (b"\xff\xfe{binary}\x00", "is not UTF-8 text"),
    (b'{"key": "k\xe9"}', "is not UTF-8 text"),
]


@pytest.mark.parametrize(("line", "expected"), BAD_LINES)
@pytest.mark.parametrize("mode", ["auto", "replay", "record"])
def test_a_bad_line_is_one_actionable_line_naming_file_and_line(tmp_path, line, expected, mode):
    path = tmp_path / "c.jsonl"
    _write_lines(path, json.dumps(_entry("k0")), "", line)
    with pytest.raises(ConfigError) as info:
        Cassette(path, mode)
    message = str(info.value)
    assert "\n" not in message
    assert f"cassette {path} line 3 " in message and expected in message
    assert "delete the line or re-record the cassette" in message


def test_a_line_that_turns_bad_on_disk_stops_save_with_one_line(tmp_path):
    path = tmp_path / "c.jsonl"
    cassette = Cassette(path, "auto")
    cassette.put("k1", _call(), _reply())
    cassette.save()
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("{broken\n")
    cassette.put("k2", _call("two"), _reply())
    with pytest.raises(ConfigError, match=r"line 2 is not JSON.*delete the line"):
        cassette.save()
    assert path.read_text().endswith("{broken\n")  # nothing overwritten


def test_unknown_fields_are_ignored_and_get_returns_only_reply_fields(tmp_path):
    path = tmp_path / "c.jsonl"
    entry = _entry("k1")
    entry["recorded_by"] = "a later version"
    entry["response"]["finish_reason"] = "stop"
    entry["response"]["tokens"][0]["bytes"] = [65]
    del entry["response"]["prompt_tokens"]
    _write_lines(path, json.dumps(entry), json.dumps({**_entry("k2"), "response": {"content": ""}}))
    cassette = Cassette(path, "replay")
    reply = cassette.get("k1")
    assert reply == {
        "content": "A",
        "tokens": [{"token": "A", "top": [["A", -0.25], ["B", -1.5]]}],
        "prompt_tokens": 0,
        "completion_tokens": 1,
    }
    assert cassette.get("k2") == {
        "content": "",
        "tokens": [],
        "prompt_tokens": 0,
        "completion_tokens": 0,
    }
    assert _SplatReply(**reply).content == "A"


@pytest.mark.parametrize("mode", ["auto", "replay", "record"])
def test_a_directory_is_not_a_cassette(tmp_path, mode):
    with pytest.raises(ConfigError, match="is a directory; give a file path") as info:
        Cassette(tmp_path, mode)
    assert "\n" not in str(info.value)


def test_a_cassette_below_a_file_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="lies below a file, not a folder"):
        Cassette(tmp_path / "file" / "c.jsonl", "auto")


def test_an_unreadable_cassette_is_one_line(tmp_path, monkeypatch):
    path = tmp_path / "c.jsonl"
    _write_lines(path, json.dumps(_entry()))

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(cassette_module, "open", refuse, raising=False)
    with pytest.raises(ConfigError, match=r"cannot be read \(Permission denied\); check its"):
        Cassette(path, "replay")


def test_an_unwritable_cassette_is_one_line_at_save(tmp_path):
    cassette = Cassette(tmp_path / "c.jsonl", "record")
    cassette.put("k1", _call(), _reply())
    (tmp_path / ".c.jsonl.lock").mkdir()  # the lock cannot be taken
    with pytest.raises(ConfigError, match=r"cannot write cassette .*\(Is a directory\)") as info:
        cassette.save()
    assert "\n" not in str(info.value)


# -- the property test ----------------------------------------------------------------


@dataclass
class _SplatReply:
    """The gateway's reply shape: what ``get`` must be splattable into."""

    content: str
    tokens: list[dict[str, Any]] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0


_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([1e308, -1e308, 5e-324, 0.0, -0.0])
    | st.text(max_size=12)
    | st.sampled_from(["\ud800", "\udfff", "a\udc80b", ""])
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
_PATHS = [
    ("key",),
    ("call",),
    ("call", "messages"),
    ("call", "temperature"),
    ("response",),
    ("response", "content"),
    ("response", "tokens"),
    ("response", "tokens", 0),
    ("response", "tokens", 0, "token"),
    ("response", "tokens", 0, "top"),
    ("response", "tokens", 0, "top", 0),
    ("response", "tokens", 0, "top", 0, 0),
    ("response", "tokens", 0, "top", 0, 1),
    ("response", "prompt_tokens"),
    ("response", "completion_tokens"),
    ("invalid",),
    ("unknown",),
]


@st.composite
def _mutated_entry(draw) -> Any:
    entry: Any = _entry(draw(st.sampled_from(["k1", "k2", "\ud800", ""])))
    if draw(st.booleans()):
        entry["invalid"] = draw(st.booleans())
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_PATHS))
        parent = entry
        try:
            for step in path[:-1]:
                parent = parent[step]
            if draw(st.booleans()) and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = draw(_json)
        except (KeyError, IndexError, TypeError):
            pass  # an earlier mutation removed the way there
    return entry


def _encode(value: Any, ascii_only: bool) -> bytes:
    text = json.dumps(value, ensure_ascii=ascii_only)
    return text.encode("utf-8", errors="surrogatepass")  # non-ASCII: may be invalid UTF-8


_lines = st.one_of(
    st.builds(_encode, _json, st.booleans()),
    st.builds(_encode, _mutated_entry(), st.booleans()),
    st.builds(_encode, _mutated_entry(), st.booleans()),  # twice: near-valid lines matter most
    st.builds(_encode, st.just(_entry("good")), st.just(True)),
    st.binary(max_size=40),
    st.text(max_size=40).map(lambda t: t.encode("utf-8")),
)


def _check_reply(reply: dict[str, Any]) -> None:
    assert set(reply) <= set(REPLY_FIELDS) and isinstance(reply["content"], str)
    for token in reply.get("tokens", []):
        assert isinstance(token["token"], str)
        for alt, logprob in token["top"]:
            assert isinstance(alt, str) and isinstance(logprob, float)
            assert logprob == logprob and abs(logprob) != float("inf")
    for name in ("prompt_tokens", "completion_tokens"):
        value = reply.get(name, 0)
        assert type(value) is int and value >= 0
    _SplatReply(**reply)
    json.dumps(reply, ensure_ascii=False, allow_nan=False).encode("utf-8")


@settings(max_examples=500, deadline=None)
@given(lines=st.lists(_lines, min_size=1, max_size=4), mode=st.sampled_from(["auto", "replay"]))
def test_corrupt_cassettes_load_cleanly_or_raise_one_config_error(lines, mode):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.jsonl"
        path.write_bytes(b"\n".join(lines))
        try:
            cassette = Cassette(path, mode)
        except ConfigError as exc:
            message = str(exc)
            assert "\n" not in message and f"cassette {path} line " in message
            assert "delete the line or re-record the cassette" in message
            return
        for key in list(cassette._entries):
            _check_reply(cassette.get(key) or {"content": ""})
        assert isinstance(cassette.miss("nope", _call()), CassetteMissError)
        if mode == "auto":  # what loaded is written back loadable
            cassette.put("new", _call("new"), _reply())
            cassette.save()
            again = Cassette(path, "replay")
            assert set(again._entries) == set(cassette._entries)


# -- invalid answers ------------------------------------------------------------------


def _recorded_invalid(path: Path) -> None:
    old = Cassette(path, "record")
    old.put("bad", _call("bad"), _reply(""), valid=False)
    old.put("good", _call("good"), _reply("A"))
    old.save()


def test_an_invalid_answer_is_written_marked(tmp_path):
    path = tmp_path / "c.jsonl"
    _recorded_invalid(path)
    lines = {json.loads(x)["key"]: json.loads(x) for x in path.read_text().splitlines()}
    assert lines["bad"]["invalid"] is True
    assert "invalid" not in lines["good"]


def test_auto_asks_again_for_an_invalid_answer_and_a_valid_one_replaces_it(tmp_path):
    path = tmp_path / "c.jsonl"
    _recorded_invalid(path)
    cassette = Cassette(path, "auto")
    assert cassette.get("bad") is None  # treated as absent: the model is asked again
    assert cassette.get("good")["content"] == "A"
    cassette.put("bad", _call("bad"), _reply("B"))
    assert cassette.get("bad")["content"] == "B"
    cassette.save()
    line = next(json.loads(x) for x in path.read_text().splitlines() if '"bad"' in x)
    assert "invalid" not in line and line["response"]["content"] == "B"
    assert Cassette(path, "auto").get("bad")["content"] == "B"


def test_auto_keeps_asking_while_the_answer_stays_invalid(tmp_path):
    path = tmp_path / "c.jsonl"
    _recorded_invalid(path)
    cassette = Cassette(path, "auto")
    cassette.put("bad", _call("bad"), _reply("?"), valid=False)
    assert cassette.get("bad") is None


def test_replay_answers_an_invalid_entry_as_recorded(tmp_path):
    path = tmp_path / "c.jsonl"
    _recorded_invalid(path)
    cassette = Cassette(path, "replay")
    assert cassette.get("bad") == _reply("")
    cassette.put("bad", _call("bad"), _reply("B"))  # replay never writes
    assert cassette.get("bad") == _reply("")


def test_record_answers_only_this_sessions_entries_valid_or_not(tmp_path):
    path = tmp_path / "c.jsonl"
    _recorded_invalid(path)
    cassette = Cassette(path, "record")
    assert cassette.get("bad") is None and cassette.get("good") is None  # earlier session
    cassette.put("bad", _call("bad"), _reply("?"), valid=False)
    assert cassette.get("bad") == _reply("?")  # this session's, though invalid
    cassette.put("good", _call("good"), _reply("B"))
    assert cassette.get("good") == _reply("B")


def test_off_mode_never_answers_or_records(tmp_path):
    cassette = Cassette(tmp_path / "c.jsonl", "off")
    cassette.put("k1", _call(), _reply())
    assert cassette.get("k1") is None and len(cassette) == 0
    cassette.save()
    assert not (tmp_path / "c.jsonl").exists()


def test_a_non_finite_logprob_from_a_model_is_written_loadable(tmp_path):
    path = tmp_path / "c.jsonl"
    cassette = Cassette(path, "record")
    reply = _reply()
    reply["tokens"][0]["top"] += [["C", float("-inf")], ["D", float("nan")]]
    cassette.put("k1", _call(), reply)
    cassette.save()
    top = Cassette(path, "replay").get("k1")["tokens"][0]["top"]
    assert top == [["A", -0.25], ["B", -1.5], ["C", -9999.0]]


# -- redaction ------------------------------------------------------------------------


def test_a_short_key_never_reaches_a_cassette_or_a_message(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "abcd")
    assert redact("auth failed: key abcd was refused") == "auth failed: key *** was refused"
    assert redact("key=abcd;") == "key=***;"
    assert redact("abcdef and xabcd stay") == "abcdef and xabcd stay"  # not as a word
    path = tmp_path / "c.jsonl"
    cassette = Cassette(path, "record")
    cassette.put("k1", _call("my key is abcd, keep it"), _reply("abcd"))
    cassette.save()
    text = path.read_text()
    assert "abcd" not in text
    assert json.loads(text)["call"]["messages"][0]["content"] == "my key is ***, keep it"
    assert Cassette(path, "replay").get("k1")["content"] == "***"


def test_a_short_numeric_key_leaves_numbers_and_json_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("SERVICE_TOKEN", "12")
    path = tmp_path / "c.jsonl"
    cassette = Cassette(path, "record")
    reply = {**_reply("A"), "prompt_tokens": 12, "completion_tokens": 12}
    cassette.put("k1", _call("token 12 please"), reply)
    cassette.save()
    line = json.loads(path.read_text())
    assert line["response"]["prompt_tokens"] == 12 and line["response"]["completion_tokens"] == 12
    assert line["call"]["messages"][0]["content"] == "token *** please"


def test_harmless_values_are_not_secrets(tmp_path, monkeypatch):
    for name, value in [
        ("TOKENIZERS_PARALLELISM", "false"),
        ("MY_TOKEN", "1"),
        ("KEYTIMEOUT", "0"),
        ("USE_KEY", "Yes"),
        ("BLANK_SECRET", "  "),
    ]:
        monkeypatch.setenv(name, value)
    assert not {"false", "1", "0", "Yes", "", "  "} & set(secrets_in_environment())
    plain = tmp_path / "plain.jsonl"
    cassette = Cassette(plain, "record")
    cassette.put("k1", {**_call("true or false? 1 or 0?"), "logprobs": False}, _reply("false"))
    cassette.save()
    text = plain.read_text()
    assert '"logprobs": false' in text and '"content": "false"' in text
    assert "true or false? 1 or 0?" in text
    monkeypatch.delenv("TOKENIZERS_PARALLELISM")
    monkeypatch.delenv("MY_TOKEN")
    again = tmp_path / "again.jsonl"
    cassette = Cassette(again, "record")
    cassette.put("k1", {**_call("true or false? 1 or 0?"), "logprobs": False}, _reply("false"))
    cassette.save()
    assert again.read_text() == text


def test_the_longest_credential_wins_and_short_ones_match_whole_words(monkeypatch):
    monkeypatch.setenv("LONG_KEY", "abc12345")
    monkeypatch.setenv("SHORT_KEY", "abc1")
    monkeypatch.setenv("SYMBOL_PASSWORD", "p@ss!")
    assert secrets_in_environment()[:3] == ["abc12345", "p@ss!", "abc1"]
    assert redact("abc12345 abc1 abc1x xabc12345y") == "*** *** abc1x x***y"
    assert redact("pw: p@ss! (p@ss!)") == "pw: *** (***)"


def test_redact_value_walks_strings_only(monkeypatch):
    monkeypatch.setenv("API_KEY", "s3cr")
    value = {"s3cr": ["s3cr", 3, 1.5, None, True, {"x": "a s3cr b"}], "n": ("s3cr",)}
    original = copy.deepcopy(value)
    assert redact_value(value) == {
        "s3cr": ["***", 3, 1.5, None, True, {"x": "a *** b"}],
        "n": ["***"],
    }
    assert value == original  # a copy; the input is untouched


def test_the_notebook_scratch_copy_merges_the_committed_cassette(tmp_path):
    from workbench.widgets.notebook import _merge

    committed, scratch = tmp_path / "committed.jsonl", tmp_path / "scratch" / "c.jsonl"
    for path, entries in ((committed, {"a": "1", "b": "2"}), (scratch, {"b": "3", "c": "4"})):
        cassette = Cassette(path, "record")
        for key, content in entries.items():
            cassette.put(key, {"model": "m", "messages": []}, {"content": content})
        cassette.save()
    _merge(committed, scratch)
    merged = Cassette(scratch, "replay")
    assert {k: merged.get(k)["content"] for k in "abc"} == {"a": "1", "b": "3", "c": "4"}
    assert Cassette(committed, "replay").get("c") is None  # the committed file is untouched


def test_a_path_in_a_variable_named_like_tiktoken_is_not_a_credential(monkeypatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "/some/cache/dir")
    monkeypatch.setenv("HF_TOKEN", "hf-abcdefgh")
    monkeypatch.setenv("MYSERVICE_APIKEY", "zzz-123456")
    found = secrets_in_environment()
    assert "/some/cache/dir" not in found
    assert {"hf-abcdefgh", "zzz-123456"} <= set(found)
