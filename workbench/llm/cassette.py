"""Cassettes: recorded model requests and responses, replayed without a model.

A cassette is a JSON-lines file, one request/response pair per line, sorted by request key
so that re-recording the same requests gives the same file and diffs review well in git.
The key is a stable hash of (model, messages, sampling parameters). Only what the gateway
needs to rebuild a decision is stored: the content, the top logprobs of each generated
token and the token counts. Secrets never enter: requests hold only model, messages and
sampling parameters, and every line is passed through :func:`redact` before it is written.

Modes
-----
``off``     never read or write.
``record``  call the model for every request not yet recorded in this session and write
            every response; a request repeated within the session gets the answer
            recorded for it, so that a replay follows the recorded run exactly even
            where the model's answers to one prompt vary (batched local models do).
``replay``  only read; a request missing from the cassette raises :class:`CassetteMissError`.
``auto``    read when recorded, otherwise call the model and write.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import threading
from pathlib import Path
from typing import Any

from workbench.errors import CassetteMissError, ConfigError
from workbench.llm.types import stable_hash

MODES = ("off", "record", "replay", "auto")

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD)", re.IGNORECASE)


def secrets_in_environment() -> list[str]:
    """Values of environment variables whose names mark them as credentials."""
    return [
        value for name, value in os.environ.items() if _SECRET_NAME.search(name) and len(value) >= 8
    ]


def redact(text: str) -> str:
    """``text`` with every credential found in the environment replaced by ``***``."""
    for value in secrets_in_environment():
        text = text.replace(value, "***")
    return text


def request_key(call: dict[str, Any]) -> str:
    """Stable hash of a litellm call (model, messages, sampling parameters)."""
    return stable_hash(call)


class Cassette:
    """A JSON-lines record of model calls.

    Parameters
    ----------
    path : str or Path
        The cassette file (created on first write; parent folders too).
    mode : {"off", "record", "replay", "auto"}
        See the module docstring.
    """

    def __init__(self, path: str | os.PathLike[str] | None, mode: str = "auto") -> None:
        if mode not in MODES:
            raise ConfigError(f"cassette mode {mode!r} is not one of {', '.join(MODES)}")
        if mode != "off" and path is None:
            raise ConfigError(f"cassette mode {mode!r} needs a cassette path (--cassette PATH)")
        if mode == "replay" and not Path(path).exists():
            raise ConfigError(
                f"cassette {path} does not exist; record it first with --cassette-mode auto"
            )
        self.path = Path(path) if path is not None else None
        self.mode = mode
        self._entries: dict[str, dict[str, Any]] = {}
        self._fresh: set[str] = set()  # keys recorded in this session
        self._dirty = False
        self._lock = threading.Lock()
        if self.path is not None and self.path.exists() and mode != "off":
            self._load()

    @property
    def reads(self) -> bool:
        return self.mode in ("replay", "auto")

    @property
    def writes(self) -> bool:
        return self.mode in ("record", "auto")

    def __len__(self) -> int:
        return len(self._entries)

    def _load(self) -> None:
        with open(self.path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                    self._entries[entry["key"]] = entry
                except (json.JSONDecodeError, KeyError, TypeError) as exc:
                    raise ConfigError(
                        f"cassette {self.path} line {number} is not a recorded call ({exc}); "
                        "delete the line or re-record the cassette"
                    ) from exc

    def get(self, key: str) -> dict[str, Any] | None:
        """The recorded response for ``key``, or None."""
        if not self.reads and key not in self._fresh:
            return None
        entry = self._entries.get(key)
        return None if entry is None else entry["response"]

    def put(self, key: str, call: dict[str, Any], response: dict[str, Any]) -> None:
        """Remember a response (written by :meth:`save`)."""
        if not self.writes:
            return
        with self._lock:
            self._entries[key] = {"key": key, "call": call, "response": response}
            self._fresh.add(key)
            self._dirty = True

    def save(self) -> None:
        """Write the cassette atomically if anything new was recorded."""
        with self._lock:
            if not self._dirty or self.path is None:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            with open(tmp, "w", encoding="utf-8") as fh:
                for key in sorted(self._entries):
                    line = json.dumps(self._entries[key], sort_keys=True, ensure_ascii=False)
                    fh.write(redact(line) + "\n")
            os.replace(tmp, self.path)
            self._dirty = False

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
    lines = [f"{k}: {json.dumps(v)}" for k, v in sorted(call.items()) if k != "messages"]
    for message in call.get("messages", []):
        lines.append(f"[{message['role']}]")
        lines.extend(message["content"].splitlines())
    return "\n".join(lines)
