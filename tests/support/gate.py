"""A gate for the fake server: answers wait until enough requests are in flight at once.

Then the peak of requests in flight is exactly what the client sends at once, however
slowly a busy machine lets it send them (with a fixed latency instead, the first answers
could come back before the last requests go out). Should fewer ever be in flight together,
the gate gives up after a minute and the peak shows it.
"""

from __future__ import annotations

import threading

from support.openai_server import default_answer


def gated_answer(server_ref: list, at_once: int):
    """An ``answer_fn`` for the server in ``server_ref[0]`` that waits for ``at_once``."""
    opened = threading.Event()

    def answer(request: dict) -> str:
        if server_ref[0].in_flight >= at_once:  # this request's arrival is counted already
            opened.set()
        opened.wait(60)
        return default_answer(request)

    return answer
