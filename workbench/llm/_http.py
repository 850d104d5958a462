"""A lean litellm provider for OpenAI-compatible servers: one aiohttp POST per call.

Self-hosted OpenAI-compatible servers (vLLM, a llama.cpp server, Ollama's ``/v1``, any
``--api-base``) are reached through this provider, registered with litellm as
``workbench_http``; every call still goes through ``litellm.acompletion``. litellm's
``openai/`` path builds each request and parses each reply through the OpenAI SDK
(httpx, pydantic objects for every logprob), which costs several milliseconds of client
CPU per call; this provider sends the same JSON body with one POST over a shared
connection pool and hands litellm the reply, token usage included. HTTP failures become
litellm's own exception types (``RateLimitError`` with the server's ``Retry-After``,
``InternalServerError``, ``Timeout``, ``APIConnectionError``...), so the gateway retries
them exactly as before. Hosted providers keep litellm's native clients.

``WORKBENCH_TRANSPORT=litellm`` turns this provider off (every call takes litellm's own
client for its provider).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
import weakref
from typing import Any
from urllib.parse import urlsplit

from workbench.errors import ConfigError

PROVIDER = "workbench_http"
TRANSPORT_ENV = "WORKBENCH_TRANSPORT"

#: litellm providers whose API is OpenAI's chat completions at the base URL.
OPENAI_COMPATIBLE = ("openai", "hosted_vllm", "custom_openai")

#: Request fields passed through to the server (litellm hands the rest to no one).
_FIELDS = (
    "max_tokens",
    "temperature",
    "seed",
    "logprobs",
    "top_logprobs",
    "stop",
    "top_p",
    "n",
    "response_format",
    "grammar",
)

#: Hosts of hosted providers: their calls keep litellm's native client.
_HOSTED = ("api.openai.com",)

#: The key variable litellm's own client reads for each provider, when none is given.
_KEY_ENV = {"openai": "OPENAI_API_KEY", "hosted_vllm": "HOSTED_VLLM_API_KEY"}

_priced_as: dict[tuple[str, str], str] = {}  # (name, base URL) -> the user's model string
_registered: set[str] = set()  # workbench_http/NAME entries put in litellm's cost map
_sessions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> session


def enabled() -> bool:
    """Whether OpenAI-compatible servers are reached through this provider.

    Raises
    ------
    ConfigError
        For a value of ``WORKBENCH_TRANSPORT`` other than ``fast`` or ``litellm``.
    """
    value = os.environ.get(TRANSPORT_ENV, "").strip().lower() or "fast"
    if value not in ("fast", "litellm"):
        raise ConfigError(f"{TRANSPORT_ENV}={value!r}: use fast (the default) or litellm")
    return value == "fast"


def route(model: str, provider: str, base: str | None, extra: dict[str, str]) -> dict | None:
    """litellm arguments that send ``model``'s calls through this provider, or None.

    Parameters
    ----------
    model : str
        The model string as the user wrote it (``openai/NAME``, ``hosted_vllm/NAME``).
    provider : str
        litellm's provider for it.
    base : str or None
        The base URL its calls go to, where known.
    extra : dict
        The arguments the gateway passes litellm for it (``api_base``, ``api_key``).

    Returns
    -------
    dict or None
        ``model``, ``api_base`` and ``api_key`` for ``litellm.acompletion``; None when the
        model is a hosted provider's, its base URL is unknown, or the provider is off.
    """
    if not enabled() or provider not in OPENAI_COMPATIBLE or not base:
        return None
    if (urlsplit(base).hostname or "").lower() in _HOSTED:
        return None
    name = model.split("/", 1)[1] if model.startswith(f"{provider}/") else model
    key = extra.get("api_key") or os.environ.get(_KEY_ENV.get(provider, ""), "")
    price_as(name, base, model)
    return {"model": f"{PROVIDER}/{name}", "api_base": base, "api_key": key or "no-key"}


def price_as(name: str, base: str, model: str) -> None:
    """Price the calls of ``workbench_http/name`` at ``base`` as the user's ``model``.

    Our responses carry their cost (:func:`_model_response`), but litellm still looks
    ``workbench_http/name`` up in its cost map after each call, for its zero-cost
    diagnostic and its logging payload; a name it does not know sends it through every
    fallback (about 1 ms of CPU a call). So the name gets an entry with the per-token
    prices the gateway accounts with: zero for a model missing from the cost map, which
    litellm reads as free. Tiered prices get no entry (litellm then prices as before).
    """
    from workbench.llm import _litellm
    from workbench.llm.accounting import price_per_token

    _priced_as[name, base] = model
    key = f"{PROVIDER}/{name}"
    litellm = _litellm.get()
    if key in _registered or key in litellm.model_cost:
        return
    prices = price_per_token(model)
    if prices is not None:
        litellm.register_model(
            {
                key: {
                    "input_cost_per_token": prices[0],
                    "output_cost_per_token": prices[1],
                    "litellm_provider": PROVIDER,
                    "mode": "chat",
                }
            }
        )
    _registered.add(key)


def _session(loop: asyncio.AbstractEventLoop):
    import aiohttp

    session = _sessions.get(loop)
    if session is None or session.closed:
        # The gateway bounds the calls in flight; the pool keeps connections alive.
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
        session = _sessions[loop] = aiohttp.ClientSession(connector=connector)
    return session


async def aclose() -> None:
    """Close the connection pool of the running event loop (the gateway's, at close)."""
    session = _sessions.pop(asyncio.get_running_loop(), None)
    if session is not None:
        await session.close()


def _status_error(status: int, text: str, headers: Any, url: str, model: str) -> Exception:
    """litellm's exception for an HTTP error status, with the response's headers."""
    import httpx
    import litellm

    response = httpx.Response(
        status, headers=dict(headers), request=httpx.Request("POST", url), text=text
    )
    message = f"{status}: {text[:300]}"
    kinds = {
        400: litellm.BadRequestError,
        401: litellm.AuthenticationError,
        403: litellm.PermissionDeniedError,
        404: litellm.NotFoundError,
        422: litellm.UnprocessableEntityError,
        429: litellm.RateLimitError,
        502: litellm.BadGatewayError,
        503: litellm.ServiceUnavailableError,
    }
    if status == 408:
        return litellm.Timeout(message=message, model=model, llm_provider=PROVIDER)
    kind = kinds.get(status)
    if kind is None and status >= 500:
        kind = litellm.InternalServerError
    if kind is None:
        return litellm.APIError(
            status_code=status, message=message, llm_provider=PROVIDER, model=model
        )
    return kind(message=message, llm_provider=PROVIDER, model=model, response=response)


async def _post(url: str, body: dict, api_key: str, timeout: float | None, model: str) -> dict:
    import aiohttp
    import litellm

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    session = _session(asyncio.get_running_loop())
    try:
        async with session.post(
            url, json=body, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as response:
            text = await response.text()
            status, reply_headers = response.status, response.headers
    except TimeoutError as exc:
        raise litellm.Timeout(
            message=f"no answer within {timeout} s", model=model, llm_provider=PROVIDER
        ) from exc
    except aiohttp.ClientError as exc:  # refused, reset, dropped, DNS: retried or fatal
        raise litellm.APIConnectionError(
            message=f"{type(exc).__name__}: {exc}", llm_provider=PROVIDER, model=model
        ) from exc
    if status >= 400:
        raise _status_error(status, text, reply_headers, url, model)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise litellm.InternalServerError(
            message=f"the server answered with invalid JSON: {exc}",
            llm_provider=PROVIDER,
            model=model,
        ) from exc
    if not isinstance(data, dict) or not data.get("choices"):
        raise litellm.InternalServerError(
            message=f"the server's answer has no choices: {text[:200]}",
            llm_provider=PROVIDER,
            model=model,
        )
    return data


def _model_response(data: dict, model: str, priced_as: str | None = None):
    import litellm

    from workbench.llm.accounting import cost_usd

    usage = data.get("usage") or {}
    response = litellm.ModelResponse(
        id=data.get("id") or f"chatcmpl-{uuid.uuid4().hex}",
        choices=data["choices"],
        usage=litellm.Usage(
            prompt_tokens=usage.get("prompt_tokens") or 0,
            completion_tokens=usage.get("completion_tokens") or 0,
            total_tokens=usage.get("total_tokens") or 0,
        ),
        created=int(data.get("created") or time.time()),
        model=data.get("model") or model,
    )
    if priced_as is not None:
        # litellm takes a cost stamped on the response instead of computing its own (its
        # lookup for a name it does not know costs milliseconds): the same cached
        # per-token prices the gateway accounts with, under the user's model string.
        response._hidden_params["response_cost"] = cost_usd(
            priced_as, usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0
        )
    return response


def make_provider():
    """The ``litellm.CustomLLM`` serving ``workbench_http/NAME`` (imported lazily)."""
    import litellm

    class OpenAIHTTP(litellm.CustomLLM):
        async def acompletion(
            self,
            model,
            messages,
            *args,
            api_base=None,
            api_key=None,
            optional_params=None,
            timeout=None,
            **kwargs,
        ):
            if not api_base:
                raise litellm.BadRequestError(
                    message="the workbench_http provider needs an api_base",
                    model=model,
                    llm_provider=PROVIDER,
                )
            params = optional_params or {}
            body = {"model": model, "messages": messages}
            body.update((k, params[k]) for k in _FIELDS if params.get(k) is not None)
            seconds = timeout if isinstance(timeout, int | float) else None
            url = api_base.rstrip("/") + "/chat/completions"
            data = await _post(url, body, api_key or "", seconds, model)
            return _model_response(data, model, _priced_as.get((model, api_base)))

    return OpenAIHTTP()
