"""The scripted test gateway, now shipped as :mod:`workbench.testing`."""

from workbench.testing import Answer, ScriptedGateway, always, leaning, one_hot  # noqa: F401
