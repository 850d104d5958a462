"""What one member saw and answered in one round: the Explorer's transcript view.

The decisions table keeps, for every decision, what the member heard (``saw``, its
``partner``), its answer (``choice``, ``valid``, ``method``), the option probabilities
and the hash of the request sent to the model (``request_hash``), not the prompt itself.
:class:`PromptLog` keeps the prompts: it stands in front of the run's gateway and, for
every decision request passing through it, keeps the request (the exact chat messages
the model was sent) and the model's raw reply, by request hash. It changes nothing the
model sees: the requests go on to the gateway as they came. :func:`transcript_html`
renders one decisions row with its request.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from workbench.llm.types import Decision, DecisionRequest

__all__ = ["PromptLog", "transcript_html"]


class PromptLog:
    """A gateway's stand-in that keeps every decision request it passes on.

    Parameters
    ----------
    gateway : Gateway
        The gateway the requests go to; every other attribute is the gateway's own.

    Examples
    --------
    >>> log = PromptLog(gateway)  # doctest: +SKIP
    >>> study.run(log)  # doctest: +SKIP
    >>> log.request(result.decisions.request_hash[0]).messages  # doctest: +SKIP
    """

    def __init__(self, gateway) -> None:
        self.gateway = gateway
        self._lock = threading.Lock()
        self._requests: dict[str, DecisionRequest] = {}
        self._raw: dict[str, str] = {}

    def __getattr__(self, name: str) -> Any:
        if name == "gateway":  # not set yet: no recursion
            raise AttributeError(name)
        return getattr(self.gateway, name)

    def decide(
        self, requests: Sequence[DecisionRequest], rng: np.random.Generator
    ) -> list[Decision]:
        """The gateway's decisions for ``requests``; each request and reply is kept."""
        requests = list(requests)
        decisions = self.gateway.decide(requests, rng)
        with self._lock:
            for request, decision in zip(requests, decisions, strict=True):
                self._requests[request.hash] = request
                self._raw[request.hash] = decision.raw
        return decisions

    def request(self, request_hash: str) -> DecisionRequest | None:
        """The request of that hash, if one passed through (None for rule decisions)."""
        with self._lock:
            return self._requests.get(request_hash)

    def raw(self, request_hash: str) -> str:
        """The model's reply text to that request ("" when unknown)."""
        with self._lock:
            return self._raw.get(request_hash, "")

    def __len__(self) -> int:
        with self._lock:
            return len(self._requests)

    def __bool__(self) -> bool:  # a stand-in for a gateway is never falsy
        return True


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _probabilities(row: Mapping[str, Any], texts: Mapping[str, str], palette) -> str:
    options = tuple(row.get("options") or ())
    probabilities = row.get("probabilities")
    if not options:
        return ""
    if probabilities is None or (isinstance(probabilities, float) and np.isnan(probabilities)):
        return "<i>no probabilities kept for this decision</i>"
    lines = []
    for option, p in zip(options, probabilities, strict=False):
        colour = palette.get(option, (0.6, 0.6, 0.6))
        rgb = ",".join(str(int(255 * c)) for c in colour[:3])
        bar = max(int(round(float(p) * 120)), 1)
        text = _esc(texts.get(option, ""))
        lines.append(
            f'<tr><td style="padding-right:6px"><b>{_esc(option)}</b></td>'
            f'<td style="padding-right:6px">{float(p):.3f}</td>'
            f'<td><span style="display:inline-block;width:{bar}px;height:9px;'
            f'background:rgb({rgb})"></span></td><td style="padding-left:6px">{text}</td></tr>'
        )
    return '<table class="wb-probabilities" style="font-size:90%">' + "".join(lines) + "</table>"


def transcript_html(
    row: Mapping[str, Any],
    request: DecisionRequest | None,
    raw: str = "",
    *,
    texts: Mapping[str, str] | None = None,
    neighbours: Sequence[Any] = (),
) -> str:
    """One decision as HTML: who, what it heard, the prompt, the answer, the probabilities.

    Parameters
    ----------
    row : mapping
        One row of a decisions table (``member``, ``step``, ``role``, ``model``,
        ``persona``, ``saw``, ``partner``, ``choice``, ``valid``, ``method``,
        ``options``, ``probabilities``).
    request : DecisionRequest or None
        The request the model was sent (:meth:`PromptLog.request`); None for a rule
        member, which is sent none.
    raw : str
        The model's reply text.
    texts : mapping or None
        Each option's text (:func:`~workbench.widgets.plots.option_texts`).
    neighbours : sequence
        The member's network neighbours (member ids), listed as who it can hear.

    Returns
    -------
    str
        An HTML fragment (class ``wb-transcript``).
    """
    from workbench.studies.sandbox import option_palette

    texts = dict(texts or {})
    options = tuple(row.get("options") or ())
    palette = option_palette(options) if options else {}
    member, step = row.get("member"), row.get("step")
    head = (
        f"<b>Participant {_esc(member)}</b>, round {_esc(step)}: {_esc(row.get('role'))}, "
        f"<code>{_esc(row.get('model'))}</code>, persona <code>{_esc(row.get('persona'))}</code>"
    )
    saw = row.get("saw") or ""
    heard = f"<b>heard</b>: {_esc(saw)}" if saw else "<b>heard</b>: nobody (no answers yet)"
    partner = row.get("partner")
    if partner is not None and not (isinstance(partner, float) and np.isnan(partner)):
        heard += f"; partner: Participant {_esc(int(partner))}"
    if neighbours:
        heard += "<br><b>neighbours</b>: " + ", ".join(f"{_esc(n)}" for n in neighbours)
    if request is not None:
        messages = "".join(
            f'<div class="wb-message"><b>{_esc(m["role"])}</b>'
            f'<div class="wb-content" style="white-space:pre-wrap;overflow-wrap:anywhere;'
            f'font-family:monospace;font-size:85%;line-height:1.35;margin:2px 0 6px 0">'
            f"{_esc(m['content'])}</div></div>"
            for m in request.messages
        )
        prompt = f'<div class="wb-prompt"><b>prompt</b> (sent to the model){messages}</div>'
    elif row.get("method") == "rule":
        prompt = (
            '<div class="wb-prompt"><i>a rule policy: no prompt is sent; it decides from '
            "what it heard</i></div>"
        )
    else:
        prompt = '<div class="wb-prompt"><i>the prompt of this decision was not kept</i></div>'
    choice = row.get("choice")
    if row.get("valid", True) and choice is not None:
        answer = f"<b>answer</b>: {_esc(choice)}"
        if texts.get(choice):
            answer += f" ({_esc(texts[choice])})"
    else:
        answer = "<b>answer</b>: <i>invalid (no option could be read)</i>"
    answer += f" <small>[{_esc(row.get('method'))}]</small>"
    if raw:
        answer += f'<br><b>reply text</b>: <code class="wb-raw">{_esc(raw)}</code>'
    return (
        f'<div class="wb-transcript" style="white-space:normal;line-height:1.35">{head}<br>'
        f"{answer}{_probabilities(row, texts, palette)}{heard}{prompt}</div>"
    )
