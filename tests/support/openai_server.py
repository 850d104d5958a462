"""A fake OpenAI-compatible chat-completions server on loopback, for tests and benchmarks.

The server speaks just enough of the OpenAI HTTP API for litellm's ``openai/`` provider
(and the ``openai`` SDK under it) to treat it as the real thing, and lets a test decide
what the "model" answers, how slowly, and how it fails. Standard library only: a
:class:`http.server.ThreadingHTTPServer` (one daemon thread per connection, a deep listen
queue, HTTP/1.1 keep-alive) running in a background thread, so hundreds of concurrent
connections are fine.

Usage
-----
>>> with OpenAIServer(latency=0.0, distribution={"A": 0.6, "B": 0.3, "C": 0.1}) as srv:
...     srv.base_url                                   # doctest: +SKIP
'http://127.0.0.1:PORT/v1'

Point litellm at it with the model string ``openai/test-model`` and either
``api_base=srv.base_url, api_key="sk-test"`` or, when the caller (like the workbench
gateway) does not pass those through, the environment: litellm 1.110 reads
``OPENAI_BASE_URL`` (then ``OPENAI_API_BASE``) and ``OPENAI_API_KEY`` for that provider.
``srv.env()`` returns those variables ready for ``monkeypatch.setenv``.

Endpoints
---------
``POST /v1/chat/completions``
    Non-streaming chat completions. The answer is ``answer_fn(request_json)`` when given,
    else the most probable token of ``distribution``, else :func:`default_answer` (the
    first option label written ``"A)"`` in the last user message, or the first label
    after ``"one of:"``, or ``"A"``). When the request has ``"logprobs": true`` the
    response carries OpenAI-style ``choices[0].logprobs.content[0].top_logprobs`` (the
    ``top_logprobs`` most probable tokens of the distribution, at most
    ``max_top_logprobs``); the distribution is ``distribution`` (a mapping token ->
    probability, or a callable of the request returning one; the mass need not sum to 1:
    the rest stands for unlisted tokens), else a default one peaked on the answer that
    also lists a non-option token.
``GET /v1/models``
    The ``models`` given to the constructor.

Faults
------
``srv.inject(kind, times=n)`` makes the next ``n`` chat requests fail that way (queued
faults are served first-in first-out); ``fault_rate=p`` makes each other request fail with
probability ``p``, the kind drawn uniformly from ``fault_kinds`` by a generator seeded
with ``seed``. Kinds (:data:`FAULT_KINDS`):

``"429"``          status 429 with ``Retry-After: <retry_after>`` (default 0.1 s);
``"500"``          status 500 with an OpenAI-style error body;
``"drop"``         the connection is closed without an answer;
``"timeout"``      nothing is sent for ``hang`` seconds (default 5; set it above the
                   client's timeout), then the connection is closed;
``"malformed"``    status 200 with a truncated, invalid JSON body;
``"empty"``        a valid completion with empty content and no logprobs;
``"off_options"``  a valid completion whose text names no option (:data:`OFF_OPTIONS_TEXT`),
                   no logprobs.

Observation
-----------
``srv.requests`` (the parsed bodies of every chat request, in arrival order, faulted ones
included), ``srv.faults`` (``(request index, kind)`` of each injected fault),
``srv.api_keys`` (the bearer token of each chat request), ``srv.arrival_times``
(:func:`time.monotonic` at each arrival), ``srv.in_flight`` and
``srv.max_in_flight`` (chat requests being handled at once, peak since start or
:meth:`OpenAIServer.reset`). All are safe to read from any thread.

Importing and running
---------------------
Import it as ``support.openai_server`` with ``tests/`` on ``sys.path`` (pytest puts it
there; the ``openai_server`` fixture of ``tests/conftest.py`` starts one and sets the
environment). Not as ``tests.support...``: a ``tests`` package installed in the
virtualenv's site-packages shadows this folder. Run ``python
tests/support/openai_server.py --port 8000`` to serve by hand, e.g. for a benchmark in
another process.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULT_KINDS = ("429", "500", "drop", "timeout", "malformed", "empty", "off_options")
"""Every fault the server can inject."""

OFF_OPTIONS_TEXT = "no comment, none of those"
"""The content of an ``off_options`` answer: no capital letter, no option label."""

RETRYABLE = frozenset({"429", "500", "drop", "timeout", "malformed"})
"""The faults a gateway retries (the request failed)."""

CONTENT = frozenset({"empty", "off_options"})
"""The faults a gateway repairs (the request succeeded, its content is not an option)."""

TEST_MODEL = "openai/test-model"
"""The model string that reaches this server through litellm's ``openai/`` provider."""

Request = dict[str, Any]
Distribution = Mapping[str, float]

_LABEL = re.compile(r"(?<![A-Za-z0-9])([A-Z])\)")
_ONE_OF = re.compile(r"one of:\s*(.+)", re.IGNORECASE)


def last_user_message(request: Request) -> str:
    """Text of the last ``user`` message of a chat request ("" when there is none)."""
    for message in reversed(request.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):  # content parts
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


def options_in(request: Request) -> list[str]:
    """Option labels offered by the last user message.

    Labels written ``"A)"`` count first; failing those, the comma-separated labels after
    ``"one of:"`` (the wording of the workbench gateway's repair prompt).
    """
    text = last_user_message(request)
    labels = list(dict.fromkeys(_LABEL.findall(text)))
    if labels:
        return labels
    match = _ONE_OF.search(text)
    if match:
        return [p.strip().rstrip(".") for p in match.group(1).split(",") if p.strip()]
    return []


def default_answer(request: Request) -> str:
    """The first option offered by the last user message, else ``"A"``."""
    options = options_in(request)
    return options[0] if options else "A"


def default_distribution(request: Request, answer: str) -> dict[str, float]:
    """0.7 on ``answer``, 0.25 shared by the other options, 0.05 on a non-option token."""
    others = [o for o in options_in(request) if o != answer]
    dist = {answer: 0.7 if others else 0.95}
    for option in others:
        dist[option] = 0.25 / len(others)
    dist["The"] = 0.05
    return dist


class OpenAIServer:
    """An OpenAI-compatible chat-completions server on ``127.0.0.1``, with fault injection.

    Parameters
    ----------
    latency : float
        Seconds every chat request waits before it is answered (or fails).
    answer_fn : callable, optional
        ``answer_fn(request_json) -> str``: the content of the answer.
    distribution : mapping or callable, optional
        Token probabilities reported as logprobs of the first answer token; a callable
        gets the request. Without ``answer_fn`` the answer is its most probable token.
    fault_rate : float
        Probability that a request (beyond the injected ones) fails.
    fault_kinds : iterable of str
        The kinds drawn when ``fault_rate`` fires.
    seed : int
        Seed of the fault generator.
    retry_after : float
        ``Retry-After`` header of a 429, in seconds.
    hang : float
        Seconds a ``"timeout"`` fault keeps the client waiting.
    models : iterable of str
        Model ids listed by ``GET /v1/models``.
    api_key : str, optional
        When given, chat requests with another bearer token get a 401 whose message
        quotes the presented token (as OpenAI once did), to test secret redaction.
    max_top_logprobs : int
        Most alternatives listed per token, whatever the request asks (OpenAI: 20); 0
        mimics a provider that reports the token's logprob but no alternatives.
    port : int
        0 picks a free port.
    """

    def __init__(
        self,
        *,
        latency: float = 0.0,
        answer_fn: Callable[[Request], str] | None = None,
        distribution: Distribution | Callable[[Request], Distribution] | None = None,
        fault_rate: float = 0.0,
        fault_kinds: Iterable[str] = FAULT_KINDS,
        seed: int = 0,
        retry_after: float = 0.1,
        hang: float = 5.0,
        models: Iterable[str] = ("test-model",),
        api_key: str | None = None,
        max_top_logprobs: int = 20,
        port: int = 0,
    ) -> None:
        self.fault_kinds = tuple(fault_kinds)
        for kind in self.fault_kinds:
            _check_kind(kind)
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be in [0, 1], got {fault_rate}")
        if fault_rate > 0 and not self.fault_kinds:
            raise ValueError("fault_rate needs at least one fault kind")
        self.latency = latency
        self.answer_fn = answer_fn
        self.distribution = distribution
        self.fault_rate = fault_rate
        self.retry_after = retry_after
        self.hang = hang
        self.models = tuple(models)
        self.api_key = api_key
        self.max_top_logprobs = max_top_logprobs
        self._port = port
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._queued: deque[str] = deque()
        self._requests: list[Any] = []
        self._faults: list[tuple[int, str]] = []
        self._api_keys: list[str | None] = []
        self._arrivals: list[float] = []
        self._in_flight = 0
        self._max_in_flight = 0
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> OpenAIServer:
        """Bind and serve in a background thread (idempotent)."""
        if self._httpd is not None:
            return self
        self._stop.clear()
        self._httpd = _HTTPServer(("127.0.0.1", self._port), _Handler)
        self._httpd.app = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"openai-server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake sleeping handlers and close every open connection."""
        if self._httpd is None:
            return
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the server is not running; use it as a context manager")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def env(self, api_key: str = "sk-test") -> dict[str, str]:
        """Environment variables that point litellm's ``openai/`` provider here."""
        return {
            "OPENAI_BASE_URL": self.base_url,
            "OPENAI_API_BASE": self.base_url,
            "OPENAI_API_KEY": api_key,
        }

    # -- faults and observation ------------------------------------------------------------

    def inject(self, kind: str, times: int = 1) -> None:
        """Make the next ``times`` chat requests fail with ``kind`` (after queued faults)."""
        _check_kind(kind)
        with self._lock:
            self._queued.extend([kind] * times)

    def reset(self) -> None:
        """Forget recorded requests, faults, queued faults and the in-flight peak."""
        with self._lock:
            self._queued.clear()
            self._requests.clear()
            self._faults.clear()
            self._api_keys.clear()
            self._arrivals.clear()
            self._max_in_flight = self._in_flight

    @property
    def requests(self) -> list[Any]:
        """Bodies of the chat requests received so far (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def faults(self) -> list[tuple[int, str]]:
        """``(request index, kind)`` of each fault served so far (a copy)."""
        with self._lock:
            return list(self._faults)

    @property
    def api_keys(self) -> list[str | None]:
        """Bearer token of each chat request (None when absent), in arrival order."""
        with self._lock:
            return list(self._api_keys)

    @property
    def arrival_times(self) -> list[float]:
        """:func:`time.monotonic` at the arrival of each chat request, in arrival order."""
        with self._lock:
            return list(self._arrivals)

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    @property
    def max_in_flight(self) -> int:
        with self._lock:
            return self._max_in_flight

    # -- request handling (called from handler threads) ------------------------------------

    def _arrive(self, body: Any, api_key: str | None) -> str | None:
        """Record a chat request; the fault it gets, if any."""
        with self._lock:
            index = len(self._requests)
            self._requests.append(body)
            self._api_keys.append(api_key)
            self._arrivals.append(time.monotonic())
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            if self._queued:
                fault = self._queued.popleft()
            elif self.fault_rate > 0 and self._rng.random() < self.fault_rate:
                fault = self._rng.choice(self.fault_kinds)
            else:
                fault = None
            if fault is not None:
                self._faults.append((index, fault))
            return fault

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stop.wait(seconds)

    def completion(self, request: Request, content: str | None = None, logprobs: bool = True):
        """The chat-completion body answering ``request`` (``content`` overrides the answer)."""
        distribution = self.distribution
        if callable(distribution):
            distribution = distribution(request)
        if content is not None:
            answer = content
        elif self.answer_fn is not None:
            answer = str(self.answer_fn(request))
        elif distribution:
            answer = max(distribution, key=lambda t: distribution[t])
        else:
            answer = default_answer(request)
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": answer},
            "logprobs": None,
            "finish_reason": "stop",
        }
        if logprobs and request.get("logprobs") and answer:
            dist = dict(distribution) if distribution else default_distribution(request, answer)
            top_n = min(int(request.get("top_logprobs") or 0), self.max_top_logprobs)
            choice["logprobs"] = {"content": [_token_logprobs(answer, dist, top_n)]}
        prompt_tokens = sum(
            len(str(m.get("content", "")).split())
            for m in request.get("messages") or []
            if isinstance(m, dict)
        )
        completion_tokens = max(1, len(answer.split())) if answer else 0
        return {
            "id": f"chatcmpl-test-{time.monotonic_ns()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(request.get("model", "test-model")),
            "system_fingerprint": "fp_test",
            "choices": [choice],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


def _check_kind(kind: str) -> None:
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")


def _token_logprobs(answer: str, dist: dict[str, float], top_n: int) -> dict[str, Any]:
    """OpenAI's logprobs entry for the first token: the answer and the top alternatives."""
    ranked = sorted(((t, p) for t, p in dist.items() if p > 0), key=lambda tp: -tp[1])

    def entry(token: str, p: float) -> dict[str, Any]:
        return {"token": token, "logprob": math.log(p), "bytes": list(token.encode("utf-8"))}

    p_answer = dist.get(answer, 0.0) or 1e-9
    return {
        **entry(answer, p_answer),
        "top_logprobs": [entry(t, p) for t, p in ranked[:top_n]],
    }


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 1024
    app: OpenAIServer

    def handle_error(self, request, client_address) -> None:
        pass  # a client that went away is not news


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAI/1.0"
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.app._lock:
            self.server.app._connections.add(self.connection)

    def finish(self) -> None:
        with self.server.app._lock:
            self.server.app._connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- responses ---------------------------------------------------------------------

    def _send(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def _error(self, status: int, message: str, kind: str, code: str | None = None, **headers):
        error = {"message": message, "type": kind, "param": None, "code": code}
        self._send(status, {"error": error}, headers)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- routes ------------------------------------------------------------------------

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path in ("/v1/models", "/models"):
            data = [
                {"id": m, "object": "model", "created": 0, "owned_by": "workbench-tests"}
                for m in self.server.app.models
            ]
            self._send(200, {"object": "list", "data": data})
        else:
            self._error(404, f"no route GET {path}", "invalid_request_error", "not_found")

    def do_POST(self) -> None:
        app = self.server.app
        path = self.path.split("?", 1)[0].rstrip("/")
        length = self.headers.get("Content-Length")
        if length is None:
            self.close_connection = True
            self._error(411, "Content-Length required", "invalid_request_error")
            return
        try:
            raw = self.rfile.read(int(length))
        except (OSError, ValueError):
            self.close_connection = True
            return
        if path not in ("/v1/chat/completions", "/chat/completions"):
            self._error(404, f"no route POST {path}", "invalid_request_error", "not_found")
            return
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = raw.decode("utf-8", "replace")
        auth = self.headers.get("Authorization", "")
        api_key = auth[7:] if auth.startswith("Bearer ") else None
        fault = app._arrive(body, api_key)
        try:
            app._sleep(app.latency)
            self._answer(app, body, api_key, fault)
        finally:
            app._leave()

    def _answer(self, app: OpenAIServer, body: Any, api_key: str | None, fault: str | None):
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._error(
                400, "the body must be a JSON object with messages", "invalid_request_error"
            )
            return
        if app.api_key is not None and api_key != app.api_key:
            self._error(
                401,
                f"Incorrect API key provided: {api_key}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                "invalid_api_key",
            )
            return
        if body.get("stream"):
            self._error(
                400, "streaming is not supported by this test server", "invalid_request_error"
            )
            return
        if fault == "429":
            self._error(
                429,
                "Rate limit reached for test-model (injected).",
                "requests",
                "rate_limit_exceeded",
                **{"Retry-After": f"{app.retry_after:g}"},
            )
        elif fault == "500":
            self._error(500, "The server had an error (injected).", "server_error")
        elif fault == "drop":
            self._drop()
        elif fault == "timeout":
            app._sleep(app.hang)
            self._drop()
        elif fault == "malformed":
            self._send(200, b'{"id": "chatcmpl-broken", "object": "chat.completion", "choices": [{')
        elif fault == "empty":
            self._send(200, app.completion(body, content="", logprobs=False))
        elif fault == "off_options":
            self._send(200, app.completion(body, content=OFF_OPTIONS_TEXT, logprobs=False))
        else:
            self._send(200, app.completion(body))


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted: ``python tests/support/openai_server.py --port 8000``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--fault-kinds", default=",".join(FAULT_KINDS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hang", type=float, default=5.0)
    args = parser.parse_args(argv)
    server = OpenAIServer(
        latency=args.latency,
        fault_rate=args.fault_rate,
        fault_kinds=[k for k in args.fault_kinds.split(",") if k],
        seed=args.seed,
        hang=args.hang,
        port=args.port,
    )
    with server:
        print(f"serving {server.base_url} (Ctrl-C to stop)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
