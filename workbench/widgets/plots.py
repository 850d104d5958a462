"""Figures the Explorer and the teaching notebooks show.

Every function returns a :class:`matplotlib.figure.Figure` made without pyplot, so it can
be drawn in a worker thread and never lingers in pyplot's list of open figures (which the
inline backend would show again at the end of the next cell); it still shows itself as
PNG when it ends a notebook cell. :func:`png` turns any figure into PNG bytes and closes
it if pyplot made it.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import networkx as nx
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from workbench.society import Society

__all__ = [
    "choice_shares_figure",
    "draw_network",
    "network_figure",
    "option_label",
    "option_texts",
    "png",
    "society_figure",
]

_NO_ANSWER = (0.78, 0.78, 0.78)
#: Longest option text a figure legend shows (longer ones end in "...").
LEGEND_TEXT = 34


def option_texts(question: str, options: tuple[str, ...]) -> dict[str, str]:
    """The text of each option, read from the question's option lines (``"A: Sydney"``).

    Parameters
    ----------
    question : str
        A round's question, its options listed one a line as ``LABEL: text`` (or
        ``LABEL) text``, ``LABEL. text``).
    options : tuple of str
        The option labels.

    Returns
    -------
    dict of str to str
        Label -> text, for the labels the question lists (others are left out).

    Examples
    --------
    >>> option_texts("Capital?\\nA: Sydney\\nB: Canberra", ("A", "B"))
    {'A': 'Sydney', 'B': 'Canberra'}
    """
    import re

    found: dict[str, str] = {}
    for line in question.splitlines():
        for label in options:
            match = re.match(rf"\s*{re.escape(label)}\s*[:.)]\s+(.+\S)\s*$", line)
            if match and label not in found:
                found[label] = match.group(1)
    return found


def option_label(option: str, texts: dict[str, str] | None, width: int = LEGEND_TEXT) -> str:
    """``"A: the kilogram of feathers"`` (the label alone when its text is unknown)."""
    text = (texts or {}).get(option)
    if not text:
        return option
    if len(text) > width:
        text = text[: width - 3].rstrip() + "..."
    return f"{option}: {text}"


def png(fig: Figure, dpi: int = 90) -> bytes:
    """The figure as PNG bytes; a pyplot figure is closed afterwards."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    import matplotlib.pyplot as plt

    plt.close(fig)  # a no-op for figures pyplot does not manage
    return buffer.getvalue()


def _new_figure(size: tuple[float, float]) -> Figure:
    from matplotlib.figure import Figure

    class NotebookFigure(Figure):
        """A figure that shows itself in a notebook without pyplot's inline backend."""

        def _repr_png_(self) -> bytes:
            buffer = io.BytesIO()
            self.savefig(buffer, format="png", dpi=90)
            return buffer.getvalue()

    return NotebookFigure(figsize=size, layout="tight")


def layout(graph: nx.Graph, seed: int = 1) -> dict:
    """Node positions: a circle for regular graphs, a seeded spring layout otherwise."""
    degrees = {d for _, d in graph.degree}
    if graph.number_of_nodes() <= 2 or len(degrees) == 1:
        return nx.circular_layout(graph)
    return nx.spring_layout(graph, seed=seed)


def draw_network(
    ax,
    graph: nx.Graph,
    states: pd.DataFrame,
    options: tuple[str, ...],
    *,
    pos: dict | None = None,
    title: str = "",
    texts: dict[str, str] | None = None,
) -> None:
    """Draw ``graph`` on ``ax`` with each member coloured by its answer.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    graph : networkx.Graph
    states : pandas.DataFrame
        One row per member at the chosen step, with columns ``node``, ``choice`` and
        ``model`` (rule members, whose model starts with ``rule:``, are drawn as squares).
    options : tuple of str
        The options, in order (their colours come from the seaborn ``deep`` palette).
    pos : dict or None
        Node positions (:func:`layout` by default).
    title : str
        Axes title.
    texts : dict of str to str or None
        Each option's text (:func:`option_texts`), shown in the legend beside its label.
    """
    from matplotlib.lines import Line2D

    from workbench.society.persons import is_rule
    from workbench.studies.sandbox import option_palette

    pos = layout(graph) if pos is None else pos
    palette = option_palette(options)
    by_node = states.set_index("node") if len(states) else pd.DataFrame(columns=["choice"])
    nx.draw_networkx_edges(graph, pos, ax=ax, alpha=0.35, width=1.0)
    for shape, rules in (("o", False), ("s", True)):
        nodes, colours = [], []
        for node in graph.nodes:
            model = by_node.model.get(node, "") if "model" in by_node else ""
            if is_rule(str(model)) != rules:
                continue
            choice = by_node.choice.get(node) if "choice" in by_node else None
            nodes.append(node)
            colours.append(palette.get(choice, _NO_ANSWER))
        if nodes:
            nx.draw_networkx_nodes(
                graph,
                pos,
                nodelist=nodes,
                node_color=colours,
                node_shape=shape,
                node_size=260 if graph.number_of_nodes() <= 40 else 90,
                edgecolors="black",
                linewidths=0.6,
                ax=ax,
            )
    handles = [
        Line2D(
            [],
            [],
            marker="o",
            ls="",
            color=c,
            markeredgecolor="black",
            label=option_label(o, texts),
        )
        for o, c in palette.items()
        if o in options
    ]
    handles.append(Line2D([], [], marker="s", ls="", color="white", mec="black", label="rule"))
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=1 if texts else len(handles),
        fontsize="small",
        frameon=False,
    )
    ax.set_title(title, fontsize="medium")
    ax.set_axis_off()


def network_figure(
    graph: nx.Graph,
    decisions: pd.DataFrame,
    step: int,
    *,
    pos: dict | None = None,
    title: str = "",
    texts: dict[str, str] | None = None,
    size: tuple[float, float] = (5.2, 3.8),
) -> Figure:
    """A figure of one society's network with members coloured by their answer at ``step``.

    Parameters
    ----------
    graph : networkx.Graph
        The society's network.
    decisions : pandas.DataFrame
        The society's decisions table (``step``, ``node``, ``choice``, ``options``,
        ``model``).
    step : int
        The step to show (1-based).
    pos : dict or None
        Node positions.
    title : str
        Figure title (the step is added).
    texts : dict of str to str or None
        Each option's text, for the legend (:func:`option_texts`).
    size : tuple of float
        Figure size in inches.
    """
    fig = _new_figure(size)
    ax = fig.subplots()
    rows = decisions[decisions.step == step].drop_duplicates("node", keep="last")
    options = tuple(decisions.options.iloc[0]) if len(decisions) else ()
    counts = rows.choice.value_counts()
    tally = ", ".join(f"{o}: {counts.get(o, 0)}" for o in options)
    draw_network(
        ax,
        graph,
        rows,
        options,
        pos=pos,
        title=f"{title} step {step} ({tally})".strip(),
        texts=texts,
    )
    return fig


def society_figure(society: Society, step: int | None = None) -> Figure:
    """A society's network coloured by the members' answers at ``step`` (the last by default).

    Examples
    --------
    >>> society.run(3)  # doctest: +SKIP
    >>> society_figure(society)  # doctest: +SKIP
    """
    decisions = society.decisions
    step = int(decisions.step.max()) if step is None and len(decisions) else (step or 0)
    return network_figure(society.network.G, decisions, step)


def choice_shares_figure(
    decisions: pd.DataFrame,
    title: str = "",
    *,
    texts: dict[str, str] | None = None,
    size: tuple[float, float] = (6.0, 3.8),
    steps: int | None = None,
) -> Figure:
    """Share of valid answers on each option over steps (a band over societies if several).

    The fallback plot of a study without its own, the Explorer's live plot and the first
    look at a society.

    Parameters
    ----------
    decisions : pandas.DataFrame
        A decisions table (``step``, ``choice``, ``valid``, ``options``; ``replicate``
        for a band over societies).
    title : str
        Axes title.
    texts : dict of str to str or None
        Each option's text, shown in the legend beside its label (:func:`option_texts`).
    size : tuple of float
        Figure size in inches.
    steps : int or None
        Steps the x axis spans (at least those in ``decisions``), so that a live plot
        keeps its axis while rows arrive.
    """
    import seaborn as sns
    from matplotlib.ticker import MaxNLocator

    from workbench.studies.sandbox import option_palette, option_shares

    options = tuple(decisions.options.iloc[0]) if len(decisions) else ("A", "B")
    shares = option_shares(decisions, options)
    fig = _new_figure(size)
    ax = fig.subplots()
    with sns.axes_style("whitegrid"):
        sns.lineplot(
            shares,
            x="step",
            y="share",
            hue="option",
            hue_order=list(options),
            palette=option_palette(options),
            errorbar=("pi", 100) if shares.replicate.nunique() > 1 else None,
            marker="o",
            ax=ax,
        )
    ax.set(xlabel="step", ylabel="share of answers", ylim=(-0.02, 1.02))
    ax.set_title(title, fontsize="medium")
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(
            handles,
            [option_label(o, texts) for o in labels],
            fontsize="small",
            loc="upper center",
            bbox_to_anchor=(0.5, -0.18),
            ncol=1 if texts else len(handles),
            frameon=False,
        )
    ax.grid(True, alpha=0.4)
    last = max(int(decisions.step.max()) if len(decisions) else 1, steps or 1)
    ax.set_xlim(0.7, last + 0.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig
