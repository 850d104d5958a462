"""Moved: the sandbox study lives in :mod:`workbench.studies.sandbox` (``workbench run sandbox``).

This module only re-exports it for code that still imports it from here.
"""

from workbench.studies.sandbox import (
    QUESTIONS,
    SandboxConfig,
    SandboxStudy,
    option_palette,
    option_shares,
    parse_mix,
)

__all__ = [
    "QUESTIONS",
    "SandboxConfig",
    "SandboxStudy",
    "option_palette",
    "option_shares",
    "parse_mix",
]
