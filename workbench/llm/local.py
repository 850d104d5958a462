"""The embedded model: llama.cpp in-process, served to litellm as the ``local`` provider.

``local/<name>`` resolves a catalogue model (fetched on first use), ``local/<path>.gguf``
any GGUF file. One :class:`xllamacpp.Server` per model file is loaded on first use and
shared by every caller in the process; it runs with :func:`threads` threads (one per
free core by default) and, in ``throughput`` mode, several parallel slots, so concurrent
requests are batched by llama.cpp's continuous batching and a shared prompt prefix stays
cached.

Modes (environment ``WORKBENCH_LOCAL_MODE``):

``reproducible`` (default)
    One slot with the prompt cache, and the gateway sends local calls one at a time in a
    fixed order (the order of the requests; a study runs its units one after another),
    with the cache emptied at the start of every run (:func:`fresh_start`). llama.cpp's
    kernels round differently for different batch shapes, so the same prompt's
    log-probabilities depend on what was computed before it in the same slot; with the
    order fixed and the cache starting empty, that history is the same in every run, and
    the same seed gives the same decisions, bit for bit, on the same model file and
    machine.
``throughput``
    ``WORKBENCH_LOCAL_SLOTS`` parallel slots (default 4) with continuous batching, and
    units run side by side: faster on bigger machines, but **not reproducible**: the
    batches depend on thread timing, and the option probabilities of one prompt moved by
    up to 0.07 between runs (Qwen2.5-Coder-1.5B on Asch prompts; 14 of 432 answers
    flipped in two runs of ``workbench run asch``).
``exact``
    One slot and no prompt cache: every prompt computed alone and from scratch, so the
    same prompt gives the same bits whatever was asked before (about 1.7 times the
    time of ``throughput``). ``WORKBENCH_LOCAL_EXACT=1`` is the same.

``WORKBENCH_LOCAL_THREADS`` sets llama.cpp's threads (default ``auto``: one per core
not already busy, see :func:`threads`); ``WORKBENCH_LOCAL_CTX`` sets the context tokens
per slot (default 2048). Replaying a
cassette is exact in every mode. The cost of each mode is measured in
``benchmarks/b7_reproducible.py`` (results in ``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError, ModelUnavailableError
from workbench.llm.cores import count_from_env, free_cores

PROVIDER = "local"

_servers: dict[Path, Any] = {}
_servers_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


MODES = ("reproducible", "throughput", "exact")
MODE_ENV = "WORKBENCH_LOCAL_MODE"


def mode() -> str:
    """The embedded model's mode: ``reproducible`` (default), ``throughput`` or ``exact``.

    Raises
    ------
    ConfigError
        For a value of ``WORKBENCH_LOCAL_MODE`` that is not a mode.
    """
    legacy = os.environ.get("WORKBENCH_LOCAL_EXACT", "0").strip() not in ("", "0", "false")
    value = os.environ.get(MODE_ENV, "").strip().lower() or ("exact" if legacy else MODES[0])
    if value not in MODES:
        raise ConfigError(f"{MODE_ENV}={value!r} is not a mode; use one of {', '.join(MODES)}")
    return value


def exact() -> bool:
    """Whether local servers compute every prompt alone, without the prompt cache."""
    return mode() == "exact"


def sequential() -> bool:
    """Whether local calls must go one at a time, in request order (not ``throughput``)."""
    return mode() != "throughput"


def slots() -> int:
    """Number of parallel slots each local server runs."""
    if mode() != "throughput":
        return 1
    try:
        return max(1, int(os.environ.get("WORKBENCH_LOCAL_SLOTS", "4")))
    except ValueError:
        raise ConfigError("WORKBENCH_LOCAL_SLOTS must be a whole number of slots") from None


THREADS_ENV = "WORKBENCH_LOCAL_THREADS"


def threads() -> int:
    """Threads each local server computes with (read when a model is loaded).

    ``WORKBENCH_LOCAL_THREADS`` is a whole number, or ``auto`` (the default): one thread
    per core that the 1-minute load average does not already keep busy, at least one.
    llama.cpp's threads wait for each other at every layer, so a thread on a core that
    another process holds stalls them all: on a busy 2-core machine one thread evaluated
    prompts several times faster than two (``benchmarks/b4_local.py``). The thread count
    does not change the answers beyond floating-point noise.

    Raises
    ------
    ConfigError
        For a value that is neither ``auto`` nor a whole number from 1 to 1024.
    """
    count = count_from_env(THREADS_ENV, 1024, "a thread count")
    return free_cores() if count is None else count


_fresh: set[int] = set()  # ids of servers whose next call must start with an empty cache


def fresh_start() -> None:
    """Let the next call to every loaded server start from an empty prompt cache.

    Called at the start of each run, so that a run's numbers depend only on its own
    calls, not on what the process asked before.
    """
    with _servers_lock:
        _fresh.update(id(s) for s in _servers.values())


def resolve_path(model: str) -> Path:
    """Path of the GGUF file behind ``local/<name>`` or ``local/<path>.gguf``."""
    from workbench.llm import catalogue

    name = model.split("/", 1)[1] if model.startswith(f"{PROVIDER}/") else model
    return catalogue.resolve(name)


def is_loaded(model: str) -> bool:
    """Whether the server for ``model`` is already in memory (never loads it)."""
    name = model.split("/", 1)[1] if model.startswith(f"{PROVIDER}/") else model
    return any(p.name == Path(name).name or name in str(p) for p in _servers)


def server(model: str) -> Any:
    """The shared llama.cpp server for ``model``, loading it on first use."""
    path = resolve_path(model)
    with _servers_lock:
        if path not in _servers:
            _servers[path] = _load(path)
        return _servers[path]


def _load(path: Path) -> Any:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.n_parallel = slots()
    params.n_ctx = slots() * int(os.environ.get("WORKBENCH_LOCAL_CTX", "2048"))
    count = threads()
    params.cpuparams.n_threads = count
    params.cpuparams_batch.n_threads = count
    params.cont_batching = True
    params.cache_prompt = not exact()
    if sequential():
        # The slot's own cache only: a prompt cache in host memory would restore older
        # prompts into the slot, so its state would depend on more than the last call.
        params.cache_ram_mib = 0
    params.verbosity = -1
    try:
        return xllamacpp.Server(params)
    except Exception as exc:  # llama.cpp reports load failures with bare exceptions
        raise ModelUnavailableError(
            f"llama.cpp could not load {path}: {exc}; is it a valid GGUF file?"
        ) from exc


def _request_body(messages: list, optional_params: dict, fresh: bool = False) -> dict:
    body: dict[str, Any] = {"messages": [dict(m) for m in messages]}
    for key in ("max_tokens", "temperature", "seed", "grammar", "logprobs", "top_logprobs", "stop"):
        if optional_params.get(key) is not None:
            body[key] = optional_params[key]
    if exact() or fresh:
        body["cache_prompt"] = False
    return body


def _complete(model: str, messages: list, optional_params: dict) -> dict:
    start = time.perf_counter()
    llama = server(f"{PROVIDER}/{model}")
    with _servers_lock:
        fresh = id(llama) in _fresh
        _fresh.discard(id(llama))
    reply = llama.handle_chat_completions(_request_body(messages, optional_params, fresh))
    if not isinstance(reply, dict) or "choices" not in reply:
        raise RuntimeError(f"llama.cpp returned no choices: {str(reply)[:200]}")
    reply.setdefault("_latency", time.perf_counter() - start)
    return reply


def _to_model_response(reply: dict, model: str):
    import litellm

    usage = reply.get("usage") or {}
    return litellm.ModelResponse(
        id=reply.get("id") or f"local-{uuid.uuid4().hex}",
        choices=reply["choices"],
        usage=litellm.Usage(
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
            total_tokens=usage.get("total_tokens", 0),
        ),
        created=int(reply.get("created") or time.time()),
        model=f"{PROVIDER}/{model}",
    )


def _pool() -> ThreadPoolExecutor:
    # llama.cpp releases the GIL: more threads than slots keeps every slot busy, which
    # asyncio's default executor (cpu_count + 4 threads) would not on a small machine.
    global _executor
    with _servers_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=2 * slots(), thread_name_prefix="llama")
        return _executor


def make_provider():
    """A ``litellm.CustomLLM`` serving ``local/...`` models (imported lazily)."""
    import litellm

    class LocalLLM(litellm.CustomLLM):
        def completion(self, model, messages, *args, optional_params=None, **kwargs):
            return _to_model_response(_complete(model, messages, optional_params or {}), model)

        async def acompletion(self, model, messages, *args, optional_params=None, **kwargs):
            loop = asyncio.get_running_loop()
            reply = await loop.run_in_executor(
                _pool(), _complete, model, messages, optional_params or {}
            )
            return _to_model_response(reply, model)

    return LocalLLM()
