"""Cassettes: recorded model requests and responses, replayed without a model.

A cassette is a JSON-lines file, one request/response pair per line, sorted by request key
so that re-recording the same requests gives the same file and diffs review well in git.
The key is a stable hash of (model, messages, sampling parameters). Only what the gateway
needs to rebuild a decision is stored: the content, the top logprobs of each generated
token and the token counts. Secrets never enter: requests hold only model, messages and
sampling parameters, and every string of every entry is passed through
:func:`redact_value` before it is written.

Modes
-----
``off``     never read or write.
``record``  call the model for every request not yet recorded in this session and write
            every response; a request repeated within the session gets the answer
            recorded for it, valid or not, so that a replay follows the recorded run
            exactly even where the model's answers to one prompt vary (batched local
            models do).
``replay``  only read; a request missing from the cassette raises :class:`CassetteMissError`.
            An entry marked invalid is answered as recorded: a replay follows the
            recorded run.
``auto``    read when recorded, otherwise call the model and write. An entry marked
            invalid counts as not recorded: the model is asked again and its new answer
            replaces the entry.

Invalid answers
---------------
``put(key, call, response, valid=False)`` records an answer the gateway could not use
(empty, or none of the options); its line carries ``"invalid": true``. Valid entries carry
no such field, so cassettes recorded before the field existed read unchanged.

Line format
-----------
Every line is checked when the cassette is read: a JSON object with ``key`` (a string),
``call`` (an object) and ``response`` (an object with ``content``, a string; ``tokens``, a
list of ``{"token": str, "top": [[str, finite number], ...]}``, missing meaning none; and
``prompt_tokens`` and ``completion_tokens``, non-negative integers, missing meaning 0),
optionally ``invalid`` (true or false). Unknown fields are ignored and dropped the next
time the cassette is written. A line that is not UTF-8, not JSON or breaks one of these
rules (an infinite or NaN logprob, a string holding a lone surrogate, ...) is a
:class:`ConfigError` naming the file and the line; blank lines are skipped.

Several writers
---------------
:meth:`Cassette.save` holds an exclusive lock (``fcntl.flock`` on the sidecar file
``.<name>.lock`` next to the cassette) while it re-reads the file, merges in this
session's entries (they win over the file's for the same key), writes a temporary file
and renames it over the cassette. Processes recording one cassette at the same time
therefore lose no entry, whatever order their saves run in, and a reader never sees a
half-written file.

Redaction
---------
A credential is the value of an environment variable whose name contains KEY, TOKEN,
SECRET, PASSWORD or PASSWD, unless it is a harmless word (``true``, ``false``, ``yes``,
``no``, ``on``, ``off``, ``0``, ``1``, ``none``, ``null``, ``empty`` or blank), so that
``TOKENIZERS_PARALLELISM=false`` never rewrites the word ``false``. A credential of 8
characters or more is replaced wherever it occurs; a shorter one only where it stands as
a whole word (not inside a longer word), so that a short key does not mangle unrelated
text. Cassette entries are redacted string by string (:func:`redact_value`), never as JSON
text, so numbers and the JSON syntax are never touched.
"""

from __future__ import annotations

import difflib
import fcntl
import functools
import json
import math
import os
import re
import threading
from pathlib import Path
from typing import Any

from workbench.errors import CassetteMissError, ConfigError
from workbench.llm.types import stable_hash

MODES = ("off", "record", "replay", "auto")

REPLY_FIELDS = ("content", "tokens", "prompt_tokens", "completion_tokens")
"""The response fields :meth:`Cassette.get` returns (those of the gateway's reply)."""

# A credential's name has one of these as a word of its own (OPENAI_API_KEY, HF_TOKEN,
# MY_APIKEY), so that e.g. litellm's TIKTOKEN_CACHE_DIR, a path, is not taken for one.
_SECRET_NAME = re.compile(
    r"(^|_)(API)?(KEY|TOKEN|SECRET|PASSWORD|PASSWD)S?(_|$)|APIKEY", re.IGNORECASE
)
_HARMLESS = frozenset(
    {"true", "false", "yes", "no", "on", "off", "0", "1", "none", "null", "empty"}
)
_WHOLE_WORD_BELOW = 8  # credentials shorter than this are redacted as whole words only
_MAX_DEPTH = 64  # deepest nesting accepted in a recorded call
_FIX = "delete the line or re-record the cassette (--cassette-mode record)"


# -- redaction ------------------------------------------------------------------------


def secrets_in_environment() -> list[str]:
    """Credentials found in the environment, longest first.

    Returns
    -------
    list of str
        The (stripped) values of environment variables whose names mark them as
        credentials (KEY, TOKEN, SECRET, PASSWORD, PASSWD), of any length, except
        harmless words such as ``true``, ``false``, ``0`` or ``1``.
    """
    values = set()
    for name, value in os.environ.items():
        value = value.strip()
        secret = _SECRET_NAME.search(name) or name in _NAMED_SECRETS
        if secret and value and value.lower() not in _HARMLESS:
            values.add(value)
    return sorted(values, key=lambda v: (-len(v), v))


_NAMED_SECRETS: set[str] = set()


def treat_as_secret(name: str) -> None:
    """Redact the value of the environment variable ``name`` too, whatever its name
    (the gateway calls this for ``api_key_env``)."""
    _NAMED_SECRETS.add(name)


@functools.lru_cache(maxsize=16)
def _pattern(values: tuple[str, ...]) -> re.Pattern[str] | None:
    if not values:
        return None
    parts = []
    for value in values:  # longest first, so a longer credential wins where both match
        part = re.escape(value)
        if len(value) < _WHOLE_WORD_BELOW:
            if re.match(r"\w", value[0]):
                part = r"(?<!\w)" + part
            if re.match(r"\w", value[-1]):
                part = part + r"(?!\w)"
        parts.append(part)
    return re.compile("|".join(parts))


def _current_pattern() -> re.Pattern[str] | None:
    return _pattern(tuple(secrets_in_environment()))


def redact(text: str) -> str:
    """``text`` with every credential found in the environment replaced by ``***``.

    Parameters
    ----------
    text : str
        Plain text, such as an error message.

    Returns
    -------
    str
        The text; credentials shorter than 8 characters are replaced only where they
        stand as a whole word.
    """
    pattern = _current_pattern()
    return text if pattern is None else pattern.sub("***", text)


def redact_value(value: Any) -> Any:
    """A copy of a JSON-like value with :func:`redact` applied to every string in it.

    Parameters
    ----------
    value : object
        Dicts, lists and tuples are walked (dict keys are kept as they are); strings are
        redacted; anything else (numbers, booleans, None) is returned unchanged.

    Returns
    -------
    object
        The redacted copy (tuples become lists).
    """
    return _redact_with(_current_pattern(), value)


def _redact_with(pattern: re.Pattern[str] | None, value: Any) -> Any:
    if pattern is None:
        return value
    if isinstance(value, str):
        return pattern.sub("***", value)
    if isinstance(value, dict):
        return {k: _redact_with(pattern, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_with(pattern, v) for v in value]
    return value


def request_key(call: dict[str, Any]) -> str:
    """Stable hash of a litellm call (model, messages, sampling parameters)."""
    return stable_hash(call)


# -- reading and checking lines -------------------------------------------------------


class _BadLine(Exception):
    """What is wrong with one cassette line (the caller adds file and line number)."""


_KINDS = (
    (type(None), "null"),
    (bool, "a boolean"),  # before int: a bool is an int
    (int, "an integer"),
    (float, "a number"),
    (str, "a string"),
    (list, "a list"),
    (dict, "an object"),
)


def _kind(value: Any) -> str:
    return next((name for t, name in _KINDS if isinstance(value, t)), type(value).__name__)


def _finite(value: Any) -> float | None:
    """``value`` as a finite float, or None if it is no finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _count(response: dict[str, Any], name: str) -> int:
    value = response.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        shown = value if isinstance(value, float) else _kind(value)
        raise _BadLine(f"response.{name} is {shown}, not a non-negative integer")
    return value


def _check_tokens(tokens: Any) -> list[dict[str, Any]]:
    if not isinstance(tokens, list):
        raise _BadLine(f"response.tokens is {_kind(tokens)}, not a list")
    checked = []
    for i, token in enumerate(tokens):
        where = f"response.tokens[{i}]"
        if not isinstance(token, dict):
            raise _BadLine(f"{where} is {_kind(token)}, not an object")
        if not isinstance(token.get("token"), str):
            raise _BadLine(f"{where}.token is {_kind(token.get('token'))}, not a string")
        top = token.get("top", [])
        if not isinstance(top, list):
            raise _BadLine(f"{where}.top is {_kind(top)}, not a list")
        alternatives = []
        for j, alt in enumerate(top):
            if not (isinstance(alt, list) and len(alt) == 2 and isinstance(alt[0], str)):
                raise _BadLine(f"{where}.top[{j}] is not a [token, logprob] pair")
            logprob = _finite(alt[1])
            if logprob is None:
                shown = alt[1] if isinstance(alt[1], float) else _kind(alt[1])
                raise _BadLine(f"{where}.top[{j}] logprob is {shown}, not a finite number")
            alternatives.append([alt[0], logprob])
        checked.append({"token": token["token"], "top": alternatives})
    return checked


def _check_strings_and_numbers(value: Any) -> None:
    """Reject lone surrogates, non-finite numbers and absurd nesting anywhere in ``value``."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > _MAX_DEPTH:
            raise _BadLine(f"is nested more than {_MAX_DEPTH} levels deep")
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise _BadLine(
                    "holds a string with a lone surrogate (such as \\ud800), not text"
                ) from None
        elif isinstance(item, float) and not math.isfinite(item):
            raise _BadLine(f"holds the number {item}, which JSON cannot carry")
        elif isinstance(item, dict):
            stack.extend((k, depth + 1) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


def _check_entry(value: Any) -> dict[str, Any]:
    """The clean entry a line holds (known fields only), or :class:`_BadLine`."""
    if not isinstance(value, dict):
        raise _BadLine(f"is {_kind(value)}, not a recorded call (a JSON object)")
    key = value.get("key")
    if not isinstance(key, str) or not key:
        shown = "empty" if key == "" else _kind(key)
        raise _BadLine(f"'key' is {shown}, not the request's hash (a string)")
    call = value.get("call")
    if not isinstance(call, dict):
        raise _BadLine(f"'call' is {_kind(call)}, not the request (an object)")
    response = value.get("response")
    if not isinstance(response, dict):
        raise _BadLine(f"'response' is {_kind(response)}, not the answer (an object)")
    content = response.get("content")
    if not isinstance(content, str):
        raise _BadLine(f"response.content is {_kind(content)}, not a string")
    entry: dict[str, Any] = {
        "key": key,
        "call": call,
        "response": {
            "content": content,
            "tokens": _check_tokens(response.get("tokens", [])),
            "prompt_tokens": _count(response, "prompt_tokens"),
            "completion_tokens": _count(response, "completion_tokens"),
        },
    }
    invalid = value.get("invalid", False)
    if not isinstance(invalid, bool):
        raise _BadLine(f"'invalid' is {_kind(invalid)}, not true or false")
    if invalid:
        entry["invalid"] = True
    _check_strings_and_numbers(entry)
    return entry


def _parse_line(raw: bytes) -> dict[str, Any] | None:
    """The clean entry of one line, None for a blank line, or :class:`_BadLine`."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _BadLine(f"is not UTF-8 text (bad byte at column {exc.start + 1})") from None
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _BadLine(f"is not JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise _BadLine("is JSON nested too deeply to be a recorded call") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise _BadLine(f"is not usable JSON ({str(exc).splitlines()[0][:80]})") from None
    return _check_entry(value)


def _sanitise_reply(response: dict[str, Any]) -> dict[str, Any]:
    """A copy of a reply whose logprobs JSON can carry (-inf becomes -9999, NaN goes)."""
    tokens = response.get("tokens")
    if not isinstance(tokens, list):
        return dict(response)
    clean = []
    for token in tokens:
        if not isinstance(token, dict) or not isinstance(token.get("top"), list):
            clean.append(token)
            continue
        top = []
        for alt in token["top"]:
            if isinstance(alt, (list, tuple)) and len(alt) == 2 and isinstance(alt[1], float):
                if alt[1] == -math.inf:
                    alt = [alt[0], -9999.0]  # OpenAI's own "never": exp() is 0 either way
                elif not math.isfinite(alt[1]):
                    continue
            top.append(alt)
        clean.append({**token, "top": top})
    return {**response, "tokens": clean}


# -- the cassette ---------------------------------------------------------------------


class Cassette:
    """A JSON-lines record of model calls.

    Parameters
    ----------
    path : str or Path
        The cassette file (created on first write; parent folders too).
    mode : {"off", "record", "replay", "auto"}
        See the module docstring.

    Raises
    ------
    ConfigError
        For an unknown mode, a missing path, a directory, a replay cassette that does not
        exist, or a file that cannot be read or holds a line that is not a recorded call.
    """

    def __init__(self, path: str | os.PathLike[str] | None, mode: str = "auto") -> None:
        if mode not in MODES:
            raise ConfigError(f"cassette mode {mode!r} is not one of {', '.join(MODES)}")
        if mode != "off" and path is None:
            raise ConfigError(f"cassette mode {mode!r} needs a cassette path (--cassette PATH)")
        self.path = Path(path) if path is not None else None
        self.mode = mode
        self._entries: dict[str, dict[str, Any]] = {}
        self._fresh: set[str] = set()  # keys recorded in this session
        self._dirty = False
        self._lock = threading.Lock()
        if mode == "off":
            return
        if self.path.is_dir():
            raise ConfigError(
                f"cassette {path} is a directory; give a file path such as {path}/calls.jsonl"
            )
        if mode == "replay" and not self.path.exists():
            raise ConfigError(
                f"cassette {path} does not exist; record it first with --cassette-mode auto"
            )
        self._entries = self._read()

    @property
    def reads(self) -> bool:
        return self.mode in ("replay", "auto")

    @property
    def writes(self) -> bool:
        return self.mode in ("record", "auto")

    def __len__(self) -> int:
        return len(self._entries)

    def _read(self) -> dict[str, dict[str, Any]]:
        """The checked entries of the file on disk now ({} if there is none)."""
        try:
            with open(self.path, "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            return {}
        except NotADirectoryError:
            raise ConfigError(
                f"cassette {self.path} lies below a file, not a folder; "
                "give another --cassette path"
            ) from None
        except IsADirectoryError:
            raise ConfigError(
                f"cassette {self.path} is a directory; give a file path such as "
                f"{self.path}/calls.jsonl"
            ) from None
        except OSError as exc:
            raise ConfigError(
                f"cassette {self.path} cannot be read ({exc.strerror or exc}); "
                "check its permissions or give another --cassette path"
            ) from None
        entries: dict[str, dict[str, Any]] = {}
        for number, raw in enumerate(data.split(b"\n"), 1):
            try:
                entry = _parse_line(raw.removesuffix(b"\r"))
            except _BadLine as exc:
                problem = " ".join(str(exc).split())
                raise ConfigError(f"cassette {self.path} line {number} {problem}; {_FIX}") from None
            if entry is not None:
                entries[entry["key"]] = entry
        return entries

    def get(self, key: str) -> dict[str, Any] | None:
        """The recorded response for ``key``, or None when it is to be asked of the model.

        Parameters
        ----------
        key : str
            The request's :func:`request_key`.

        Returns
        -------
        dict or None
            The known reply fields (``content`` and, when recorded, ``tokens``,
            ``prompt_tokens``, ``completion_tokens``), ready for ``_Reply(**reply)``;
            None when the mode does not answer this key (see the module docstring:
            ``record`` answers only this session's entries, ``auto`` treats an entry
            marked invalid as absent).
        """
        entry = self._entries.get(key)
        if entry is None or self.mode == "off":
            return None
        if self.mode == "record" and key not in self._fresh:
            return None
        if self.mode == "auto" and entry.get("invalid"):
            return None
        response = entry["response"]
        return {name: response[name] for name in REPLY_FIELDS if name in response}

    def put(
        self, key: str, call: dict[str, Any], response: dict[str, Any], *, valid: bool = True
    ) -> None:
        """Remember a response (written by :meth:`save`); nothing in ``off`` or ``replay``.

        Parameters
        ----------
        key : str
            The request's :func:`request_key`.
        call : dict
            The litellm call (model, messages, sampling parameters).
        response : dict
            The reply (``content``, ``tokens``, ``prompt_tokens``, ``completion_tokens``).
        valid : bool
            False for an answer the gateway could not use (empty, or none of the
            options): written with ``"invalid": true`` so that ``auto`` asks again.
        """
        if not self.writes:
            return
        entry = {"key": key, "call": call, "response": _sanitise_reply(response)}
        if not valid:
            entry["invalid"] = True
        with self._lock:
            self._entries[key] = entry
            self._fresh.add(key)
            self._dirty = True

    def merge(self, other: Cassette) -> int:
        """Take the entries of ``other`` that this cassette lacks (written by :meth:`save`).

        Returns
        -------
        int
            How many entries were taken.
        """
        with self._lock:
            taken = [k for k in other._entries if k not in self._entries]
            for key in taken:
                self._entries[key] = other._entries[key]
                self._fresh.add(key)
            self._dirty = self._dirty or bool(taken)
        return len(taken)

    @property
    def _lock_path(self) -> Path:
        return self.path.with_name(f".{self.path.name}.lock")

    def save(self) -> None:
        """Merge this session's entries into the file on disk, atomically, under a lock.

        Nothing happens if nothing new was recorded. The file is re-read under an
        exclusive lock on ``.<name>.lock``, this session's entries replace the file's for
        the same key, and the result is written sorted by key to a temporary file that is
        renamed over the cassette.

        Raises
        ------
        ConfigError
            If the cassette cannot be written, or the file on disk now holds a line that
            is not a recorded call.
        """
        with self._lock:
            if not self._dirty or self.path is None:
                return
            fresh = {key: self._entries[key] for key in self._fresh}
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise self._unwritable(exc) from None
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX)
                merged = self._read()
                merged.update(fresh)
                self._write(merged)
            finally:
                os.close(lock_fd)  # releases the lock
            self._entries = merged
            self._dirty = False

    def _write(self, entries: dict[str, dict[str, Any]]) -> None:
        pattern = _current_pattern()
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with open(tmp, "w", encoding="utf-8", errors="replace") as fh:
                for key in sorted(entries):
                    entry = entries[key]
                    redacted = {
                        name: (value if name == "key" else _redact_with(pattern, value))
                        for name, value in entry.items()
                    }
                    fh.write(json.dumps(redacted, sort_keys=True, ensure_ascii=False) + "\n")
            os.replace(tmp, self.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise self._unwritable(exc) from None

    def _unwritable(self, exc: OSError) -> ConfigError:
        return ConfigError(
            f"cannot write cassette {self.path} ({exc.strerror or exc}); "
            "check the folder exists and is writable, or give another --cassette path"
        )

    def miss(self, key: str, call: dict[str, Any]) -> CassetteMissError:
        """The error for a replay miss: names the request, diffs it against the closest."""
        last = call["messages"][-1]["content"] if call.get("messages") else ""
        summary = f"request {key[:12]} (model {call.get('model')}, asking {last[:60]!r})"
        head = (
            f"{summary} is not in cassette {self.path}; "
            "re-record with --cassette-mode auto (or record) to add it"
        )
        closest = self._closest(call)
        if closest is None:
            return CassetteMissError(head + " (the cassette is empty)")
        diff = difflib.unified_diff(
            _render(closest["call"]).splitlines(),
            _render(call).splitlines(),
            fromfile=f"recorded {closest['key'][:12]}",
            tofile=f"requested {key[:12]}",
            lineterm="",
            n=1,
        )
        return CassetteMissError(head + "\nclosest recorded request differs:\n" + "\n".join(diff))

    def _closest(self, call: dict[str, Any]) -> dict[str, Any] | None:
        if not self._entries:
            return None
        target = _render(call)
        candidates = sorted(
            self._entries.values(),
            key=lambda e: difflib.SequenceMatcher(None, _render(e["call"]), target).quick_ratio(),
            reverse=True,
        )[:5]
        return max(
            candidates,
            key=lambda e: difflib.SequenceMatcher(None, _render(e["call"]), target).ratio(),
        )


def _render(call: dict[str, Any]) -> str:
    """A call as diffable lines; tolerant of recorded calls of any shape."""
    lines = [f"{k}: {json.dumps(v)}" for k, v in sorted(call.items()) if k != "messages"]
    messages = call.get("messages", [])
    for message in messages if isinstance(messages, list) else [messages]:
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            lines.append(f"[{message.get('role')}]")
            lines.extend(message["content"].splitlines())
        else:
            lines.append(f"messages: {json.dumps(message)}")
    return "\n".join(lines)
