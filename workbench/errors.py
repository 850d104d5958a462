"""Errors a user can act on.

Every error raised for bad input or an unavailable resource is a :class:`WorkbenchError`
whose message is one line saying what was wrong and what to do. Front ends (the CLI, the
Explorer panel) show that line and nothing else; the CLI exits with status 2.
"""


class WorkbenchError(Exception):
    """A problem the user can fix; the message is one actionable line."""


class ConfigError(WorkbenchError, ValueError):
    """A configuration value is invalid."""


class ModelUnavailableError(WorkbenchError):
    """A model cannot be fetched, verified or loaded."""


class CassetteMissError(WorkbenchError):
    """Replay mode met a request that the cassette does not hold."""


class RunHalted(WorkbenchError):
    """The gateway was halted (Ctrl-C, a Stop button or a run deadline): calls in flight
    were cancelled and no new call starts until it is resumed."""
