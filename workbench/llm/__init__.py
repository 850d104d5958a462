"""The road to a model: every completion goes through litellm via :class:`Gateway`.

``local/<name>`` models run in-process on llama.cpp (see :mod:`workbench.llm.local` and
:mod:`workbench.llm.catalogue`); any other litellm model string reaches its provider.
"""

from workbench.llm.accounting import Accounting, CallRecord
from workbench.llm.cassette import Cassette
from workbench.llm.gateway import DEFAULT_MODEL, Gateway, GatewayConfig, Generation
from workbench.llm.types import Decision, DecisionRequest, GenerateRequest

__all__ = [
    "DEFAULT_MODEL",
    "Accounting",
    "CallRecord",
    "Cassette",
    "Decision",
    "DecisionRequest",
    "Gateway",
    "GatewayConfig",
    "GenerateRequest",
    "Generation",
]
