"""The embedded model: llama.cpp in-process, served to litellm as the ``local`` provider.

``local/<name>`` resolves a catalogue model (fetched on first use), ``local/<path>.gguf``
any GGUF file. One :class:`xllamacpp.Server` per model file is loaded on first use and
shared by every caller in the process; it runs with as many threads as the machine has
cores and several parallel slots, so concurrent requests are batched by llama.cpp's
continuous batching and a shared prompt prefix stays cached.

Settings (environment): ``WORKBENCH_LOCAL_SLOTS`` (parallel slots, default 4),
``WORKBENCH_LOCAL_CTX`` (context tokens per slot, default 2048) and
``WORKBENCH_LOCAL_EXACT`` (``1``: one slot and no prompt cache).

Exactness. With the prompt cache or several slots, the tokens of a prompt are computed in
batches whose make-up depends on what else was asked before and at the same time, and
llama.cpp's kernels round differently for different batch shapes. Measured with
Qwen2.5-Coder-1.5B on Asch prompts, the same prompt's option log-probabilities then differ
by up to 0.07 between runs, enough to flip near-tied answers (14 of 432 in two runs of
``workbench run asch``). ``WORKBENCH_LOCAL_EXACT=1`` computes every prompt alone and from
scratch, so the same prompt always gives the same bits, at about 1.7 times the time.
Replaying a cassette is exact in every mode.
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

from workbench.errors import ModelUnavailableError

PROVIDER = "local"

_servers: dict[Path, Any] = {}
_servers_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


def exact() -> bool:
    """Whether local servers compute every prompt alone, without the prompt cache."""
    return os.environ.get("WORKBENCH_LOCAL_EXACT", "0").strip() not in ("", "0", "false")


def slots() -> int:
    """Number of parallel slots each local server runs."""
    if exact():
        return 1
    return max(1, int(os.environ.get("WORKBENCH_LOCAL_SLOTS", "4")))


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
    threads = os.cpu_count() or 1
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.cont_batching = True
    params.cache_prompt = not exact()
    params.verbosity = -1
    try:
        return xllamacpp.Server(params)
    except Exception as exc:  # llama.cpp reports load failures with bare exceptions
        raise ModelUnavailableError(
            f"llama.cpp could not load {path}: {exc}; is it a valid GGUF file?"
        ) from exc


def _request_body(messages: list, optional_params: dict) -> dict:
    body: dict[str, Any] = {"messages": [dict(m) for m in messages]}
    for key in ("max_tokens", "temperature", "seed", "grammar", "logprobs", "top_logprobs", "stop"):
        if optional_params.get(key) is not None:
            body[key] = optional_params[key]
    if exact():
        body["cache_prompt"] = False
    return body


def _complete(model: str, messages: list, optional_params: dict) -> dict:
    start = time.perf_counter()
    reply = server(f"{PROVIDER}/{model}").handle_chat_completions(
        _request_body(messages, optional_params)
    )
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
