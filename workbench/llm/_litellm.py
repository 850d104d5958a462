"""Import litellm once, offline, with the ``local`` provider registered.

Importing litellm costs about 3 s, so it happens on the first live call, never at
``import workbench`` and never when every request is answered from a cassette.
"""

from __future__ import annotations

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

            from workbench.llm import local

            litellm.suppress_debug_info = True
            litellm.telemetry = False
            # litellm logs every failed call to stderr itself; the gateway reports what
            # a user needs in one line, so its loggers stay quiet unless a user asks
            # (litellm._turn_on_debug() lowers the level again).
            for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
                logging.getLogger(name).setLevel(logging.CRITICAL + 1)
            providers = [
                p for p in (litellm.custom_provider_map or []) if p["provider"] != local.PROVIDER
            ]
            litellm.custom_provider_map = [
                *providers,
                {"provider": local.PROVIDER, "custom_handler": local.make_provider()},
            ]
            _module = litellm
        return _module
