"""The gateway: every model call of the workbench goes through here, and through litellm.

:meth:`Gateway.decide` turns a batch of forced-choice requests into decisions:

1. each request becomes one litellm call asking for the top logprobs of the answer token
   (for ``local/`` models with a grammar that admits only the option labels);
2. the calls go out concurrently, bounded by ``concurrency``; identical calls in flight are
   sent once; rate limits, timeouts and server errors are retried with exponential backoff
   (honouring ``Retry-After``); a cassette answers calls it has recorded;
3. the probability of each option is read from the logprobs (renormalised over the
   options); without logprobs the answer is parsed from the text (one-hot); an answer
   with neither gets one repair retry, then an invalid decision;
4. the choice is drawn, in request order, from the caller's seeded generator, so the same
   seed and the same responses give the same decisions whatever the network timing.

The gateway runs its own event loop in a background thread, so the blocking methods are
safe in a Jupyter kernel (whose loop is already running) and from several threads at once.

For large societies the client work of remote calls (building each litellm call, parsing
its reply: milliseconds of CPU each) is spread over ``K`` worker processes
(:mod:`workbench.llm.workers`, ``GatewayConfig.workers``); everything else above stays in
this process, so the same seed gives the same decisions with any ``K``.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import math
import os
import random
import re
import socket
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from workbench.errors import ConfigError, ModelUnavailableError, RunHalted, WorkbenchError
from workbench.llm import _http, _litellm, local
from workbench.llm import workers as _workers
from workbench.llm.accounting import Accounting, CallRecord, cost_usd
from workbench.llm.cassette import MODES, Cassette, redact, request_key, treat_as_secret
from workbench.llm.types import Decision, DecisionRequest, GenerateRequest

log = logging.getLogger("workbench.llm")

DEFAULT_MODEL = "local/smollm2-135m"


@dataclass(frozen=True)
class GatewayConfig:
    """How the gateway reaches models.

    Parameters
    ----------
    concurrency : int
        Most calls in flight at once.
    cassette : str or None
        Path of the cassette file (JSON lines).
    cassette_mode : {"off", "record", "replay", "auto"}
        See :mod:`workbench.llm.cassette`.
    max_retries : int
        Retries of a call that hit a rate limit, a timeout or a server error
        (``--retries``).
    timeout : float
        Seconds before a call is abandoned (and retried) (``--timeout``).
    backoff : float
        First backoff delay in seconds; it doubles with each retry.
    top_logprobs : int
        How many alternatives to ask for per token (OpenAI allows at most 20).
    api_base : str or None
        Base URL of the server every remote (non-``local/``) model is reached at, e.g.
        ``http://127.0.0.1:8000/v1`` for vLLM or a llama.cpp server (``--api-base``).
        None: the provider's own (litellm's default, or its environment variable).
    api_key_env : str or None
        Name of the environment variable holding the key for remote models
        (``--api-key-env``); None: the provider's usual variable (``OPENAI_API_KEY``...).
        The key itself is never stored, recorded or printed.
    workers : int or None
        Processes that make the remote calls (K). 1: every call is made in this process,
        exactly as without workers. K >= 2: K worker processes, each with its own event
        loop and connection pool, build the litellm calls and parse the replies, started
        at the first remote call (or by :meth:`Gateway.start_workers`; calls are made
        here until they are ready); the cassette, deduplication, accounting, the
        ``concurrency`` bound and the seeded draws stay in this process, so the same seed
        gives the same decisions with any K. None: ``WORKBENCH_GATEWAY_WORKERS`` if set
        (a number, or ``auto``), else one per free core (the cores minus the rounded
        1-minute load average, at least 1), started only once the gateway has made
        :data:`workbench.llm.workers.AUTO_AFTER` remote calls, as a worker's start
        (importing litellm) costs about as much CPU as that many calls. Never more than
        ``concurrency``. Embedded ``local/`` models are always called in this process:
        K does not apply to them. API keys reach the workers only through the
        environment they inherit.
    """

    concurrency: int = 8
    cassette: str | None = None
    cassette_mode: str = "off"
    max_retries: int = 3
    timeout: float = 60.0
    backoff: float = 0.5
    top_logprobs: int = 20
    api_base: str | None = None
    api_key_env: str | None = None
    workers: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.concurrency, bool) or not 1 <= self.concurrency <= 1024:
            raise ConfigError(
                f"--concurrency must be at least 1 and at most 1024, got {self.concurrency}"
            )
        if self.cassette_mode not in MODES:
            raise ConfigError(
                f"cassette mode {self.cassette_mode!r} is not one of {', '.join(MODES)}"
            )
        if isinstance(self.max_retries, bool) or not 0 <= self.max_retries <= 20:
            raise ConfigError(f"--retries must be 0 to 20, got {self.max_retries}")
        if not (math.isfinite(self.timeout) and 0 < self.timeout <= 3600):
            raise ConfigError(
                f"--timeout must be more than 0 and at most 3600 s, got {self.timeout}"
            )
        if not (math.isfinite(self.backoff) and 0 <= self.backoff <= 60):
            raise ConfigError(f"backoff must be 0 to 60 s, got {self.backoff}")
        if self.api_base is not None:
            parts = urlsplit(self.api_base)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError(
                    f"--api-base must be an http(s) URL such as http://127.0.0.1:8000/v1, "
                    f"got {redact_url(self.api_base)!r}"
                )
            if parts.username or parts.password:
                raise ConfigError(
                    "--api-base must not hold credentials (user:password@); put the key in "
                    "an environment variable and name it with --api-key-env"
                )
        if self.api_key_env is not None and not re.fullmatch(
            r"[A-Za-z_][A-Za-z0-9_]*", self.api_key_env
        ):
            raise ConfigError(
                "--api-key-env takes the name of an environment variable (such as "
                "MY_API_KEY), not a value; export the key under a name and pass the name"
            )
        if self.workers is not None:
            _workers.check_workers(self.workers, "--gateway-workers")
        else:
            _workers.from_env()  # a bad WORKBENCH_GATEWAY_WORKERS fails here, in one line


@dataclass(frozen=True)
class Generation:
    """The outcome of a free-text request."""

    text: str
    request_hash: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    from_cassette: bool = False
    error: str | None = None


@dataclass
class _Reply:
    """A model response reduced to what a decision needs (the cassette stores this)."""

    content: str
    tokens: list[dict[str, Any]] = field(default_factory=list)  # {"token", "top": [[t, lp]]}
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The fields as a dict, as :func:`dataclasses.asdict` gives them but without its
        deep copy of every token (a reply is never changed once made; the copy cost a
        quarter of a millisecond a call)."""
        return {
            "content": self.content,
            "tokens": self.tokens,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
        }


@dataclass
class _Fetched:
    reply: _Reply | None
    source: str
    latency_s: float = 0.0
    retries: int = 0
    error: str | None = None


_RETRYABLE_NAMES = (
    "RateLimitError",
    "Timeout",
    "APIConnectionError",
    "InternalServerError",
    "ServiceUnavailableError",
    "BadGatewayError",
    "APIError",
)
_MAX_RETRY_AFTER = 120.0  # seconds; a server asking for longer is treated as asking this


class Gateway:
    """Forced-choice and free-text model calls, concurrent, recorded and accounted.

    Parameters
    ----------
    config : GatewayConfig, optional
        Concurrency, cassette and retry settings.

    Examples
    --------
    >>> gw = Gateway(GatewayConfig(cassette="calls.jsonl", cassette_mode="auto"))
    >>> req = DecisionRequest("local/smollm2-135m", [{"role": "user", "content": "A or B?"}],
    ...                       options=("A", "B"))
    >>> [d.probabilities for d in gw.decide([req], np.random.default_rng(0))]  # doctest: +SKIP
    """

    def __init__(self, config: GatewayConfig | None = None) -> None:
        self.config = config or GatewayConfig()
        if self.config.api_key_env is not None:
            treat_as_secret(self.config.api_key_env)
        self.cassette = (
            None
            if self.config.cassette_mode == "off"
            else Cassette(self.config.cassette, self.config.cassette_mode)
        )
        self.accounting = Accounting()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._semaphore: asyncio.Semaphore | None = None
        self._inflight: dict[str, asyncio.Future] = {}
        # Halting (Ctrl-C, Stop, a deadline) cancels these and refuses new batches.
        self._batches: set[concurrent.futures.Future] = set()
        self._batches_lock = threading.Lock()
        self._halted: str | None = None
        # The first fatal model error (bad key, unknown model, no server): every later
        # call fails with it at once, so a run ends in seconds, not after every retry.
        self._fatal: str | None = None
        # Remote models checked before their first call: model -> litellm keyword
        # arguments (api_base, api_key) for its calls.
        self._remote: dict[str, dict[str, str]] = {}
        # Remote models on an OpenAI-compatible server: model -> the litellm arguments
        # that send its calls through the lean ``workbench_http`` provider (None: litellm's
        # own client for the provider). See workbench.llm._http.
        self._routes: dict[str, dict[str, str] | None] = {}
        # ... and the same arguments for a worker process, the key replaced by the name of
        # its environment variable (None: the model's calls stay in this process).
        self._portable: dict[str, dict[str, Any] | None] = {}
        self._check_lock = threading.Lock()
        # Worker processes for remote calls (see GatewayConfig.workers); K = 1: none.
        k, self._workers_derived = _workers.resolve(self.config.workers)
        self._k = min(k, self.config.concurrency)
        self._pool: _workers.Pool | None = None
        self._remote_calls = 0
        # Every distinct call of the current run (since reset()) and its reply: a call
        # asked again in the run gets the same reply, so the run is a function of its
        # calls, and run_calls() is exactly the cassette that replays it.
        self._run_log: dict[str, dict[str, Any]] = {}
        self._log_sources: dict[str, str] = {}

    # -- public API -------------------------------------------------------------------

    def decide(
        self, requests: Sequence[DecisionRequest], rng: np.random.Generator
    ) -> list[Decision]:
        """Decisions for ``requests``, in order; choices drawn from ``rng``.

        Exactly one uniform number is drawn from ``rng`` per request, in request order.
        """
        requests = list(requests)
        if not requests:
            return []
        outcomes = self._run(self._gather(self._decide_one, requests))
        return [_draw(req, out, rng) for req, out in zip(requests, outcomes, strict=True)]

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        """Free-text completions for ``requests``, in order."""
        requests = list(requests)
        if not requests:
            return []
        return self._run(self._gather(self._generate_one, requests))

    def check(self, models: Sequence[str]) -> None:
        """Check each remote model once, before its first call.

        For every model that is not ``local/`` or ``rule:``: litellm must know its
        provider, the key it needs must be in the environment (litellm's
        ``validate_environment``, or the variable named by ``api_key_env``), and the
        server, where its address is known, must accept a connection. The gateway runs
        this itself before the first call that a cassette does not answer; call it to
        fail even earlier.

        Raises
        ------
        ModelUnavailableError
            One line naming the model, the cause and the fix.
        """
        for model in models:
            if model.startswith(("rule:", f"{local.PROVIDER}/")):
                continue
            with self._check_lock:
                if model not in self._remote:
                    extra, route, key_env = _check_remote(model, self.config)
                    try:
                        portable = _workers.portable({**extra, **(route or {})}, key_env)
                    except ValueError:
                        portable = None
                    self._remote[model], self._routes[model] = extra, route
                    self._portable[model] = portable

    @property
    def workers(self) -> int:
        """K: the processes that make this gateway's remote calls (1: this one only)."""
        return self._k

    def start_workers(self, timeout: float = 120.0) -> int:
        """Start the worker processes now and wait until they take calls.

        Until then remote calls are made in this process; call this before a timed or
        large run to have every worker in use from its first call.

        Parameters
        ----------
        timeout : float
            Seconds to wait for the workers to be ready (each imports litellm).

        Returns
        -------
        int
            Workers ready; 0 when :attr:`workers` is 1 (no worker processes).

        Raises
        ------
        WorkbenchError
            No worker became ready within ``timeout``.
        """
        if self._k == 1:
            return 0
        return self._run(self._start_workers(timeout))

    def halt(self, reason: str = "the run was stopped") -> None:
        """Cancel every call in flight and refuse new ones until :meth:`resume`.

        The blocked :meth:`decide` and :meth:`generate` calls raise
        :class:`~workbench.errors.RunHalted` within moments, whatever the server does.
        """
        with self._batches_lock:
            self._halted = reason
            batches = list(self._batches)
        for batch in batches:
            batch.cancel()

    def reset(self) -> None:
        """Start a run afresh: accept calls again, empty the embedded model's cache and
        the run's call log.

        In the embedded model's reproducible mode (the default; see
        :mod:`workbench.llm.local`) a run's numbers then depend only on its own calls.
        """
        self.resume()
        local.fresh_start()
        self._run_log, self._log_sources = {}, {}

    def run_calls(self) -> list[dict[str, Any]]:
        """The calls made since :meth:`reset` with their replies, as cassette entries.

        Sorted by key; a cassette of exactly these entries replays the run.
        """
        return [self._run_log[k] for k in sorted(self._run_log)]

    def resume(self) -> None:
        """Accept calls again after :meth:`halt` or a fatal model error."""
        with self._batches_lock:
            self._halted = None
            self._fatal = None
            loop, pool = self._loop, self._pool
        if pool is not None and loop is not None and loop.is_running():
            loop.call_soon_threadsafe(pool.resume)  # before any later batch's calls

    @property
    def failure(self) -> str | None:
        """The fatal model error that stopped this gateway's calls, if any."""
        return self._fatal

    def close(self) -> None:
        """Save the cassette and stop the background loop."""
        if self.cassette is not None:
            self.cassette.save()
        with self._start_lock:
            loop, self._loop = self._loop, None
            pool, self._pool = self._pool, None
            self._semaphore = None  # bound to the old loop
            self._inflight = {}
        if loop is not None and loop.is_running():
            if pool is not None:
                asyncio.run_coroutine_threadsafe(pool.aclose(), loop).result(timeout=15)
            # Close the lean provider's connections, and cancel what litellm left running
            # on our loop (its logging worker), so the interpreter does not warn about
            # destroyed pending tasks or unclosed sessions at exit.
            asyncio.run_coroutine_threadsafe(_http.aclose(), loop).result(timeout=5)
            asyncio.run_coroutine_threadsafe(_cancel_pending(), loop).result(timeout=5)
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(timeout=5)

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- event loop -------------------------------------------------------------------

    def _run(self, coro):
        with self._start_lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="workbench-gateway", daemon=True
                )
                self._thread.start()
                atexit.register(_close_at_exit, weakref.ref(self))
        with self._batches_lock:
            if self._halted is not None:
                coro.close()
                raise RunHalted(self._halted)
            batch = asyncio.run_coroutine_threadsafe(_settled(coro), self._loop)
            self._batches.add(batch)
        try:
            ok, value = batch.result()
            if not ok:
                raise value
            return value
        except concurrent.futures.CancelledError:
            raise RunHalted(self._halted or "the gateway was halted") from None
        finally:
            with self._batches_lock:
                self._batches.discard(batch)
            if self.cassette is not None:
                self.cassette.save()

    async def _gather(self, one, requests):
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.config.concurrency)
        if local.sequential() and any(r.model.startswith(f"{local.PROVIDER}/") for r in requests):
            # The embedded model's numbers depend on the order it computes prompts in:
            # one at a time, in request order, they are the same in every run.
            return [await one(r) for r in requests]
        # A task group cancels the rest of the batch when one call fails fatally.
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(r)) for r in requests]
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None
        return [t.result() for t in tasks]

    # -- worker processes -------------------------------------------------------------

    def _start_pool(self) -> _workers.Pool | None:
        """Start the worker processes (on the loop's thread, which outlives them)."""
        pool = _workers.Pool(self._k, self.config)
        try:
            pool.start()
        except OSError as exc:
            log.warning("gateway workers could not start (%s); calls stay in-process", exc)
            self._k = 1
            return None
        self._pool = pool
        return pool

    async def _start_workers(self, timeout: float) -> int:
        pool = self._pool or self._start_pool()
        ready = await pool.wait_ready(timeout) if pool is not None else 0
        if ready == 0:
            raise WorkbenchError(
                f"no gateway worker process started within {timeout:g} s; set "
                f"{_workers.WORKERS_ENV}=1 to make every call in this process"
            )
        return ready

    def _ready_pool(self) -> _workers.Pool | None:
        """The workers for the next remote call, or None to make it in this process."""
        if self._k == 1:
            return None
        if self._pool is None:
            self._remote_calls += 1
            if self._workers_derived and self._remote_calls <= _workers.AUTO_AFTER:
                return None
            if self._start_pool() is None:
                return None
        return self._pool if self._pool.ready else None

    # -- one request ------------------------------------------------------------------

    async def _decide_one(self, request: DecisionRequest) -> dict[str, Any]:
        messages = list(request.messages)
        fetches: list[_Fetched] = []

        def valid(reply: _Reply) -> bool:
            return _read_options(reply, request.options) is not None

        for attempt in range(2):  # the answer, then one repair retry
            fetched = await self._fetch(self._decide_call(request, messages), valid)
            fetches.append(fetched)
            reading = _read_options(fetched.reply, request.options) if fetched.reply else None
            if reading is not None or fetched.error is not None:
                break
            if attempt == 0:
                messages = [
                    *messages,
                    {"role": "assistant", "content": fetched.reply.content},
                    {
                        "role": "user",
                        "content": "Answer with exactly one of: " + ", ".join(request.options),
                    },
                ]
        self.accounting.count_decision(valid=reading is not None, repaired=len(fetches) > 1)
        probabilities, method = reading if reading is not None else (None, "invalid")
        return {
            "probabilities": probabilities,
            "method": method,
            "raw": fetches[-1].reply.content if fetches[-1].reply else "",
            "prompt_tokens": sum(f.reply.prompt_tokens for f in fetches if f.reply),
            "completion_tokens": sum(f.reply.completion_tokens for f in fetches if f.reply),
            "latency_s": sum(f.latency_s for f in fetches),
            "from_cassette": all(f.source == "cassette" for f in fetches),
            "retries": sum(f.retries for f in fetches),
            "error": fetches[-1].error,
        }

    async def _generate_one(self, request: GenerateRequest) -> Generation:
        call: dict[str, Any] = {
            "model": request.model,
            "messages": list(request.messages),
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if request.seed is not None:
            call["seed"] = request.seed
        fetched = await self._fetch(call)
        reply = fetched.reply or _Reply(content="")
        return Generation(
            text=reply.content,
            request_hash=request.hash,
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            latency_s=fetched.latency_s,
            from_cassette=fetched.source == "cassette",
            error=fetched.error,
        )

    def _decide_call(self, request: DecisionRequest, messages: list) -> dict[str, Any]:
        call: dict[str, Any] = {
            "model": request.model,
            "messages": messages,
            "logprobs": True,
            "top_logprobs": self.config.top_logprobs,
        }
        if request.model.startswith(f"{local.PROVIDER}/"):
            # The grammar forces a label as the first token; its logprobs give the
            # distribution, so the server's own sampling need not vary.
            call["grammar"] = "root ::= " + " | ".join(_gbnf(o) for o in request.options)
            call["max_tokens"] = max(len(o) for o in request.options)
            call["temperature"] = 0.0
        else:
            call["max_tokens"] = 16
            call["temperature"] = request.temperature
        if request.seed is not None:
            call["seed"] = request.seed
        return call

    # -- one call: cassette, dedup, retries -------------------------------------------

    async def _fetch(self, call: dict[str, Any], valid=None) -> _Fetched:
        """One call: from the cassette, a call in flight, or the model (then recorded).

        ``valid(reply)`` tells the cassette whether a reply was usable; an unusable one
        is recorded as invalid, so that ``auto`` mode asks the model again next time.
        """
        if self._fatal is not None:
            raise ModelUnavailableError(self._fatal)
        key = request_key(call)
        logged = self._run_log.get(key)
        if logged is not None:  # asked before in this run: the same reply
            source = "cassette" if self._log_sources.get(key) == "cassette" else "dedup"
            fetched = _Fetched(_Reply(**logged["response"]), source)
            self._account(key, call, fetched, repeat=True)
            return fetched
        if self.cassette is not None:
            recorded = self.cassette.get(key)
            if recorded is not None:
                fetched = _Fetched(_Reply(**recorded), "cassette")
                self._account(key, call, fetched)
                self._log(key, call, fetched.reply, valid)
                self._log_sources[key] = "cassette"
                return fetched
            if self.cassette.mode == "replay":
                raise self.cassette.miss(key, call)
        if key in self._inflight:
            fetched = await asyncio.shield(self._inflight[key])
            dedup = _Fetched(fetched.reply, "dedup", error=fetched.error)
            self._account(key, call, dedup)
            return dedup
        future = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._inflight[key] = future
        try:
            async with self._semaphore:
                fetched = await self._call_model(call)
            future.set_result(fetched)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            raise
        finally:
            del self._inflight[key]
        self._account(key, call, fetched)
        if fetched.reply is not None:
            usable = self._log(key, call, fetched.reply, valid)
            if self.cassette is not None:
                self.cassette.put(key, call, fetched.reply.as_dict(), valid=usable)
        return fetched

    def _log(self, key: str, call: dict[str, Any], reply: _Reply, valid) -> bool:
        """Keep ``reply`` in the run's call log; whether it was usable."""
        usable = valid is None or valid(reply)
        entry = {"key": key, "call": call, "response": reply.as_dict()}
        if not usable:
            entry["invalid"] = True
        self._run_log[key] = entry
        return usable

    async def _call_model(self, call: dict[str, Any]) -> _Fetched:
        loop = asyncio.get_running_loop()
        model = call["model"]
        extra: dict[str, str] = {}
        if model.startswith(f"{local.PROVIDER}/"):
            # Fetch and load the weights here, so a missing model is our one-line error,
            # not an exception wrapped by litellm.
            await loop.run_in_executor(None, local.server, model)
        else:
            if model not in self._remote:
                try:
                    await loop.run_in_executor(None, self.check, [model])
                except ModelUnavailableError as exc:
                    self._fatal = str(exc)
                    raise
            extra = {**self._remote[model], **(self._routes.get(model) or {})}
            pool = self._ready_pool() if self._portable.get(model) is not None else None
            if pool is not None:
                if self._fatal is not None:
                    raise ModelUnavailableError(self._fatal)
                try:
                    return await pool.call(call, self._portable[model])
                except ModelUnavailableError as exc:
                    self._fatal = str(exc)
                    raise
                except _workers.WorkerLost:
                    pass  # the worker ended: the call is made here instead
        litellm = await loop.run_in_executor(None, _litellm.get)
        retries = 0
        while True:
            if self._fatal is not None:  # another call found the model unreachable
                raise ModelUnavailableError(self._fatal)
            start = time.perf_counter()
            fatal = None
            try:
                # litellm passes the timeout to the provider's client; the outer bound
                # only catches a client that ignores it.
                response = await asyncio.wait_for(
                    litellm.acompletion(
                        **{**call, **extra},
                        timeout=self.config.timeout,
                        num_retries=0,
                        drop_params=True,
                    ),
                    self.config.timeout + 5,
                )
                reply = _reply_from(response)
                return _Fetched(reply, "model", time.perf_counter() - start, retries)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # litellm maps every provider's errors to its own types
                name = type(exc).__name__
                message = _describe(exc)
                fatal = _fatal_cause(exc, message, extra.get("api_base"))
                if fatal is None:
                    if name not in _RETRYABLE_NAMES and not isinstance(
                        exc, _MalformedReply | TimeoutError
                    ):
                        log.info("call failed, not retried: %s", message)
                        return _Fetched(
                            None, "model", time.perf_counter() - start, retries, message
                        )
                    if retries >= self.config.max_retries:
                        log.info("call failed after %d retries: %s", retries, message)
                        return _Fetched(
                            None, "model", time.perf_counter() - start, retries, message
                        )
                    retry_after = _retry_after(exc)
            if fatal is not None:
                # Raised outside the except block, so the error carries no reference to
                # litellm's exception (whose text may hold a key).
                self._fatal = f"model {model!r}: {fatal}"
                raise ModelUnavailableError(self._fatal)
            delay = (
                min(retry_after, _MAX_RETRY_AFTER)
                if retry_after is not None
                else self.config.backoff * 2**retries
            )
            retries += 1
            log.info("retry %d in %.2fs after %s", retries, delay, message)
            await asyncio.sleep(delay * (1 + 0.1 * random.random()))

    def _account(
        self, key: str, call: dict[str, Any], fetched: _Fetched, repeat: bool = False
    ) -> None:
        reply = fetched.reply or _Reply(content="")
        cost = 0.0
        if fetched.source == "model" and not call["model"].startswith(f"{local.PROVIDER}/"):
            cost = _cost(call["model"], reply)
        self.accounting.add(
            CallRecord(
                request_hash=key,
                model=call["model"],
                kind="decide" if "logprobs" in call else "generate",
                source=fetched.source,
                latency_s=fetched.latency_s,
                prompt_tokens=reply.prompt_tokens,
                completion_tokens=reply.completion_tokens,
                cost_usd=cost,
                retries=fetched.retries,
                error=fetched.error,
                repeat=repeat,
            )
        )


_PROBE_TIMEOUT_S = 5.0


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` part replaced by ``***@``."""
    return re.sub(r"(?<=://)[^/@\s]+@", "***@", url)


def _describe(exc: BaseException) -> str:
    """One redacted line: the exception's type and the first line of its message."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return redact(redact_url(f"{type(exc).__name__}: {text}"))


def _chain(exc: BaseException):
    """``exc`` and the exceptions it was raised from or during, innermost last."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen and len(seen) < 32:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _fatal_cause(exc: BaseException, message: str, api_base: str | None) -> str | None:
    """What a failed call says about the model that retrying cannot mend, or None.

    Bad or missing keys, unknown models or providers, a server that refuses
    connections or a host that does not resolve end the run; rate limits, time-outs,
    dropped connections and server errors are retried.
    """
    name = type(exc).__name__
    where = f" at {redact_url(api_base)}" if api_base else ""
    chain = list(_chain(exc))
    if name in ("AuthenticationError", "PermissionDeniedError") or any(
        "Missing credentials" in str(e) or "api_key client option must be set" in str(e)
        for e in chain
    ):
        return (
            f"the provider refused the call for want of a valid key ({message}); export the "
            "provider's key (e.g. export OPENAI_API_KEY=...) or name its variable with "
            "--api-key-env"
        )
    if name == "NotFoundError":
        return f"the server{where} does not know this model ({message}); check the model name"
    if "LLM Provider NOT provided" in str(exc):
        return (
            "litellm knows no provider for it; write it as provider/name "
            "(openai/gpt-4o-mini, ollama/llama3, hosted_vllm/NAME with --api-base URL)"
        )
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return (
            f"nothing answers{where} (connection refused); start the server, or point "
            "--api-base at it"
        )
    if any(isinstance(e, socket.gaierror) for e in chain):
        return (
            f"the server's host{where} cannot be resolved ({message}); check --api-base "
            "and the network"
        )
    if any("credentials encoded in URL" in str(e) for e in chain):
        return (
            "the server's URL holds credentials (user:password@); remove them and pass the "
            "key through --api-key-env"
        )
    return None


def _known_base(provider: str, litellm_base: str | None) -> str | None:
    """The base URL litellm will call for ``provider``, where it can be known up front."""
    if litellm_base:
        return litellm_base
    if provider == "openai":
        return (
            os.environ.get("OPENAI_BASE_URL")
            or os.environ.get("OPENAI_API_BASE")
            or "https://api.openai.com/v1"
        )
    return None


def _check_remote(
    model: str, config: GatewayConfig
) -> tuple[dict[str, str], dict[str, str] | None, str | None]:
    """Check one remote model (see :meth:`Gateway.check`).

    Returns its litellm call arguments, the arguments that route its calls through the
    lean OpenAI-compatible provider (:func:`workbench.llm._http.route`) or None, and the
    name of the environment variable the key in those arguments comes from (or None).
    """
    litellm = _litellm.get()
    try:
        _, provider, dynamic_key, litellm_base = litellm.get_llm_provider(
            model, api_base=config.api_base
        )
    except Exception:  # litellm raises its BadRequestError for an unknown provider
        raise ModelUnavailableError(
            f"model {model!r}: litellm knows no provider for it; write it as provider/name "
            "(openai/gpt-4o-mini, ollama/llama3, hosted_vllm/NAME with --api-base URL)"
        ) from None
    extra: dict[str, str] = {}
    if config.api_base is not None:
        extra["api_base"] = config.api_base
    if config.api_key_env is not None:
        key = os.environ.get(config.api_key_env)
        if not key:
            raise ModelUnavailableError(
                f"model {model!r}: --api-key-env names {config.api_key_env}, which is not "
                f"set; export {config.api_key_env}=..."
            )
        extra["api_key"] = key
    elif dynamic_key is None:
        env = litellm.validate_environment(model, api_base=config.api_base)
        missing = [
            k for k in env.get("missing_keys", []) if not k.endswith(("_API_BASE", "_BASE_URL"))
        ]
        if missing and config.api_base is not None:
            # A self-hosted OpenAI-compatible server usually takes no key, but the client
            # will not send a request without one.
            extra["api_key"] = "no-key"
        elif missing:
            raise ModelUnavailableError(
                f"model {model!r} needs {missing[0]} in the environment: export "
                f"{missing[0]}=... (or name the variable holding the key with --api-key-env)"
            )
    base = config.api_base or _known_base(provider, litellm_base)
    if base:
        _probe(model, base)
    route = _http.route(model, provider, base, extra)
    key_env = config.api_key_env
    if key_env is None and route is not None and "api_key" not in extra:
        key_env = _http._KEY_ENV.get(provider)  # where the lean provider took the key
    return extra, route, key_env


def _probe(model: str, base: str) -> None:
    """Fail unless something accepts a TCP connection at the base URL's host and port."""
    parts = urlsplit(base)
    if not parts.hostname:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    shown = redact_url(base)
    try:
        socket.create_connection((parts.hostname, port), timeout=_PROBE_TIMEOUT_S).close()
    except ConnectionRefusedError:
        raise ModelUnavailableError(
            f"model {model!r}: nothing answers at {shown} (connection refused); start the "
            "server, or point --api-base at it"
        ) from None
    except socket.gaierror:
        raise ModelUnavailableError(
            f"model {model!r}: the host of {shown} cannot be resolved; check --api-base and "
            "the network"
        ) from None
    except TimeoutError:
        raise ModelUnavailableError(
            f"model {model!r}: no answer from {shown} within {_PROBE_TIMEOUT_S:g} s; check "
            "that the server is up and reachable"
        ) from None
    except OSError as exc:
        raise ModelUnavailableError(
            f"model {model!r}: cannot connect to {shown} ({exc.strerror or exc}); check "
            "--api-base and the network"
        ) from None


async def _settled(coro) -> tuple[bool, Any]:
    """``(True, result)`` or ``(False, exception)``: the batch's task never ends in an
    exception, so a batch cancelled by :meth:`Gateway.halt` just as it failed leaves no
    "exception was never retrieved" behind; the caller's thread raises it."""
    try:
        return True, await coro
    except Exception as exc:
        return False, exc


async def _cancel_pending() -> None:
    current = asyncio.current_task()
    pending = [t for t in asyncio.all_tasks() if t is not current]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


def _close_at_exit(ref: weakref.ref) -> None:
    gateway = ref()
    if gateway is not None:
        gateway.close()


class _MalformedReply(Exception):
    """The provider answered, but not with a chat completion."""


def _gbnf(label: str) -> str:
    return '"' + label.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _reply_from(response: Any) -> _Reply:
    """Reduce a litellm ModelResponse to a :class:`_Reply`."""
    try:
        choice = response.choices[0]
        content = choice.message.content or ""
    except (AttributeError, IndexError, TypeError) as exc:
        raise _MalformedReply(f"response without a message: {exc}") from exc
    tokens = []
    logprobs = getattr(choice, "logprobs", None)
    entries = getattr(logprobs, "content", None) if logprobs is not None else None
    if entries is None and isinstance(logprobs, dict):
        entries = logprobs.get("content")
    for entry in entries or []:
        get = entry.get if isinstance(entry, dict) else lambda k, e=entry: getattr(e, k, None)
        top = []
        for alt in get("top_logprobs") or []:
            alt_get = alt.get if isinstance(alt, dict) else lambda k, a=alt: getattr(a, k, None)
            if alt_get("token") is not None and alt_get("logprob") is not None:
                top.append([alt_get("token"), float(alt_get("logprob"))])
        tokens.append({"token": get("token") or "", "top": top})
    usage = getattr(response, "usage", None)
    return _Reply(
        content=content,
        tokens=tokens,
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
    )


def _option_of(token: str, options: Sequence[str]) -> str | None:
    text = token.strip()
    if not text:
        return None
    exact = [o for o in options if o == text]
    if exact:
        return exact[0]
    prefixed = [o for o in options if o.startswith(text)]
    return prefixed[0] if len(prefixed) == 1 else None


def _read_options(reply: _Reply, options: Sequence[str]) -> tuple[tuple[float, ...], str] | None:
    """Option probabilities from logprobs, else one-hot from the text, else None."""
    position = next(
        (t for t in reply.tokens if _option_of(t["token"], options) is not None), None
    ) or next((t for t in reply.tokens if any(_option_of(a, options) for a, _ in t["top"])), None)
    if position is not None and not position["top"]:
        # The provider named the answer token but gave no alternatives: one-hot.
        answer = _option_of(position["token"], options)
        return tuple(float(o == answer) for o in options), "sample"
    if position is not None:
        mass = dict.fromkeys(options, 0.0)
        for token, logprob in position["top"]:
            option = _option_of(token, options)
            if option is not None:
                mass[option] += math.exp(logprob)
        # An option missing from the top list is less likely than every listed token:
        # give it the smallest listed probability rather than zero.
        floor = min(math.exp(lp) for _, lp in position["top"])
        values = np.array([mass[o] or floor for o in options])
        return tuple(float(v) for v in values / values.sum()), "logprobs"
    answer = _parse(reply.content, options)
    if answer is None:
        return None
    return tuple(float(o == answer) for o in options), "sample"


def _parse(text: str, options: Sequence[str]) -> str | None:
    """The option a free-text answer names first, or None."""
    stripped = text.strip().strip(".:)(*\"'").strip()
    for option in options:
        if stripped.lower() == option.lower():
            return option
    hits = []
    for option in options:
        flags = 0 if len(option) == 1 else re.IGNORECASE
        match = re.search(rf"(?<![A-Za-z0-9]){re.escape(option)}(?![A-Za-z0-9])", text, flags)
        if match:
            hits.append((match.start(), -len(option), option))
    return min(hits)[2] if hits else None


def _draw(request: DecisionRequest, outcome: dict[str, Any], rng: np.random.Generator) -> Decision:
    u = rng.random()  # always one draw per request, so the stream never depends on replies
    probabilities = outcome.pop("probabilities")
    if probabilities is None:
        return Decision(
            options=request.options,
            probabilities=tuple(0.0 for _ in request.options),
            choice=None,
            valid=False,
            request_hash=request.hash,
            error=outcome.pop("error") or "no option could be read from the answer",
            **outcome,
        )
    weights = np.asarray(probabilities, dtype=float)
    if request.temperature <= 0:
        weights = (weights == weights.max()).astype(float)
        weights[np.argmax(weights) + 1 :] = 0.0  # ties go to the first option
    else:
        weights = weights ** (1.0 / request.temperature)
    cdf = np.cumsum(weights / weights.sum())
    index = min(int(np.searchsorted(cdf, u, side="right")), len(cdf) - 1)
    return Decision(
        options=request.options,
        probabilities=probabilities,
        choice=request.options[index],
        valid=True,
        request_hash=request.hash,
        **outcome,
    )


def _retry_after(exc: Exception) -> float | None:
    for headers in (
        getattr(getattr(exc, "response", None), "headers", None),
        getattr(exc, "litellm_response_headers", None),
        getattr(exc, "headers", None),
    ):
        if headers is not None:
            value = headers.get("retry-after") or headers.get("Retry-After")
            try:
                return float(value) if value is not None else None
            except ValueError:
                return None
    return None


def _cost(model: str, reply: _Reply) -> float:
    return cost_usd(model, reply.prompt_tokens, reply.completion_tokens)
