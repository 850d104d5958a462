"""Import litellm once, offline, with the workbench's providers registered.

Importing litellm costs about 3 s, so it happens on the first live call, never at
``import workbench`` and never when every request is answered from a cassette. The
``local`` provider serves the embedded model (:mod:`workbench.llm.local`), the
``workbench_http`` provider OpenAI-compatible servers (:mod:`workbench.llm._http`).

After the import, the objects alive so far (litellm's modules, cost map and tables:
hundreds of thousands) are moved out of the garbage collector's reach with
:func:`gc.freeze`: otherwise every full collection walks them again, about 250 ms once
every few hundred calls.
"""

from __future__ import annotations

import gc
import logging
import os
import threading

_lock = threading.Lock()
_module = None


def get():
    """The litellm module, configured for the workbench."""
    global _module
    with _lock:
        if _module is None:
            # Without this, importing litellm fetches its cost map from the network.
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            import litellm

            from workbench.llm import _http, local

            litellm.suppress_debug_info = True
            litellm.telemetry = False
            # litellm logs every failed call to stderr itself; the gateway reports what
            # a user needs in one line, so its loggers stay quiet unless a user asks
            # (litellm._turn_on_debug() lowers the level again).
            for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
                logging.getLogger(name).setLevel(logging.CRITICAL + 1)
            ours = (local.PROVIDER, _http.PROVIDER)
            providers = [
                p for p in (litellm.custom_provider_map or []) if p["provider"] not in ours
            ]
            litellm.custom_provider_map = [
                *providers,
                {"provider": local.PROVIDER, "custom_handler": local.make_provider()},
                {"provider": _http.PROVIDER, "custom_handler": _http.make_provider()},
            ]
            gc.collect()
            gc.freeze()
            _module = litellm
        return _module
