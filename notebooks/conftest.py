"""Notebooks under test replay their cassettes: a request missing from one is an error,
never a silent model call (set WORKBENCH_CASSETTE_MODE=auto to re-record instead)."""

import os

os.environ.setdefault("WORKBENCH_CASSETTE_MODE", "replay")
