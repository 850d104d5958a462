"""Interactionist Workbench: LLM societies on Mesa networks, canonical studies, analysis."""

import logging

# A library's warnings go to the handlers its user configures, not to stderr by default:
# the front ends print the one line that matters.
logging.getLogger("workbench").addHandler(logging.NullHandler())
