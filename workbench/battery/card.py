"""The social-behaviour card: one model's battery scores, in four forms.

A :class:`Card` holds every score of one model (value, 95% interval, the score in each
wording, the rule baseline's value, the human or published reference) with the protocol
version, the seed, the budget and the provenance of the runs behind it. It is written as

- ``<stem>.json``: the card itself, with :data:`SCHEMA` and the protocol version;
- ``<stem>.csv``: a tidy table, one row per score;
- ``<stem>.png``: one figure, a panel per module, each score a dot with its interval,
  the reference and the baseline marked;
- ``<stem>.md``: a short summary that says in words what stands out.

:func:`load_card` reads a JSON card back and refuses, in one line, a file that is not a
card, is corrupt, or has another schema.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["SCHEMA", "Card", "load_card"]

#: Version of the card file's layout (not of the protocol, which the card also carries).
SCHEMA = 1

#: Columns of :attr:`Card.scores`, in order.
COLUMNS = (
    "module",
    "name",
    "title",
    "value",
    "low",
    "high",
    "by_wording",
    "spread",
    "flagged",
    "clusters",
    "reference",
    "source",
    "baseline",
    "baseline_model",
)


@dataclass
class Card:
    """One model's battery scores.

    Attributes
    ----------
    model : str
        The model scored.
    protocol : str
        The battery protocol version (:data:`workbench.battery.PROTOCOL`).
    budget : str
        The budget it ran with.
    seed : int
        The battery seed.
    scores : pandas.DataFrame
        One row per score, columns :data:`COLUMNS`.
    modules : dict
        Module name -> panel title, in card order.
    runs : dict
        Module name -> the run ids (in the result store) behind its scores.
    spent : dict
        What the run cost: ``decisions`` (model decisions), ``prompt_tokens`` (of the
        calls made live) and ``replayed_prompt_tokens`` (the recorded prompt tokens of
        the calls a cassette answered).
    provenance : dict
        Package versions and the wordings asked.
    """

    model: str
    protocol: str
    budget: str
    seed: int
    scores: pd.DataFrame
    modules: dict[str, str] = field(default_factory=dict)
    runs: dict[str, list[str]] = field(default_factory=dict)
    spent: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def score(self, name: str, module: str | None = None) -> pd.Series:
        """The row of the score called ``name`` (in ``module``, when names repeat)."""
        rows = self.scores[self.scores.name == name]
        if module is not None:
            rows = rows[rows.module == module]
        if rows.empty:
            raise ConfigError(f"the card of {self.model} has no score {name!r}")
        return rows.iloc[0]

    # -- the four forms -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The card as plain JSON data (NaN written as null)."""
        rows = [{k: _plain(row[k]) for k in COLUMNS} for _, row in self.scores.iterrows()]
        return {
            "schema": SCHEMA,
            "protocol": self.protocol,
            "model": self.model,
            "budget": self.budget,
            "seed": self.seed,
            "modules": self.modules,
            "scores": rows,
            "runs": self.runs,
            "spent": self.spent,
            "provenance": self.provenance,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=False)

    def tidy(self) -> pd.DataFrame:
        """All scores as a tidy table (one row per score, the card's keys repeated)."""
        table = self.scores.copy()
        table["by_wording"] = [";".join(_fmt(v, 4) for v in w) for w in table.by_wording]
        return table.assign(
            model=self.model, protocol=self.protocol, budget=self.budget, seed=self.seed
        )[["model", "protocol", "budget", "seed", *COLUMNS]]

    def summary(self) -> str:
        """A short Markdown summary: what stands out, in words."""
        lines = [
            f"# Social-behaviour card: {self.model}",
            "",
            f"Protocol {self.protocol}, budget {self.budget}, seed {self.seed}; "
            f"{self.spent.get('decisions', 0)} model decisions. Every score is over "
            f"{self.provenance.get('wordings', '?')} wordings of every prompt, with a 95% "
            "interval from a cluster bootstrap.",
            "",
        ]
        for module, title in self.modules.items():
            lines += [f"## {title}", ""]
            for s in self.scores[self.scores.module == module].itertuples(index=False):
                lines.append(f"- {_sentence(s)}")
            lines.append("")
        return "\n".join(lines)

    def plot(self) -> Figure:
        """One figure: a panel per module, each score with its interval, reference (x)
        and rule baseline (|)."""
        return _panels([self])

    def save(self, folder: str | Path, stem: str | None = None) -> dict[str, Path]:
        """Write the card's four forms into ``folder``; their paths by form."""
        import matplotlib.pyplot as plt

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        stem = stem or card_stem(self.model)
        paths = {
            "json": folder / f"{stem}.json",
            "csv": folder / f"{stem}.csv",
            "png": folder / f"{stem}.png",
            "md": folder / f"{stem}.md",
        }
        paths["json"].write_text(self.to_json() + "\n")
        self.tidy().to_csv(paths["csv"], index=False)
        paths["md"].write_text(self.summary())
        fig = self.plot()
        fig.savefig(paths["png"], dpi=150)
        plt.close(fig)
        return paths

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "card") -> Card:
        """A card from :meth:`to_dict` data; a one-line error when it is not one."""
        if not isinstance(data, dict) or "schema" not in data or "protocol" not in data:
            raise ConfigError(f"{where} is not a battery card (no schema or protocol field)")
        if data["schema"] != SCHEMA:
            raise ConfigError(
                f"{where} has card schema {data['schema']!r}; this workbench reads schema "
                f"{SCHEMA}: rebuild the card with this version"
            )
        try:
            rows = data["scores"]
            scores = pd.DataFrame(
                [{k: row[k] for k in COLUMNS} for row in rows], columns=list(COLUMNS)
            )
            for k in ("value", "low", "high", "spread", "reference", "baseline"):
                scores[k] = pd.to_numeric(scores[k], errors="raise").astype(float)
            scores["by_wording"] = [
                tuple(np.nan if v is None else float(v) for v in w) for w in scores.by_wording
            ]
            return cls(
                model=str(data["model"]),
                protocol=str(data["protocol"]),
                budget=str(data["budget"]),
                seed=int(data["seed"]),
                scores=scores,
                modules=dict(data.get("modules", {})),
                runs=dict(data.get("runs", {})),
                spent=dict(data.get("spent", {})),
                provenance=dict(data.get("provenance", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where} is a corrupt battery card ({exc!s:.80})") from None


def card_stem(model: str) -> str:
    """A file name stem for ``model``'s card (``rule:conformist:0.3`` -> ...)."""
    keep = "".join(c if c.isalnum() or c in "-._" else "_" for c in model)
    return f"card-{keep.strip('_')}"


def load_card(path: str | Path) -> Card:
    """Read a JSON card.

    Raises
    ------
    ConfigError
        One line, when the file is missing, is not JSON, is not a card or is corrupt.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"card file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"card file {path} is not readable JSON ({exc!s:.60})") from None
    return Card.from_dict(data, where=f"card file {path}")


# -- wording --------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else round(float(value), 10)
    if isinstance(value, np.integer):
        return int(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def _fmt(x: Any, digits: int = 2) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _finite(x: Any) -> bool:
    return x is not None and isinstance(x, int | float | np.floating) and math.isfinite(x)


def _sentence(s: Any) -> str:
    """One score in words: value, interval, and what it is beside."""
    text = f"**{s.title}**: {_fmt(s.value)} (95% {_fmt(s.low)} to {_fmt(s.high)})"
    notes = []
    if not _finite(s.value):
        return text + (
            ": not measured: no unit had anything to count for it (no valid answer, or no "
            "population that converged)."
        )
    if _finite(s.reference):
        inside = s.low <= s.reference <= s.high
        notes.append(
            f"{'consistent with' if inside else 'unlike'} the reference {_fmt(s.reference)}"
            f" ({s.source})"
        )
    elif s.source:
        notes.append(s.source)
    if _finite(s.baseline):
        inside = s.low <= s.baseline <= s.high
        notes.append(
            f"{'not distinguishable from' if inside else 'apart from'} the rule baseline "
            f"{s.baseline_model} ({_fmt(s.baseline)})"
        )
    if s.flagged == "flips":
        notes.append("its sign FLIPS with the wording: do not read it as the model's")
    elif s.flagged == "wording":
        notes.append(f"the wording moves it by {_fmt(s.spread)}, more than its interval is wide")
    return text + ("; " + "; ".join(notes) if notes else "") + "."


# -- figure ---------------------------------------------------------------------------


#: The marks drawn beside the cards' dots: (score field, line style, legend label).
_MARKS = (
    ("reference", {"marker": "x", "color": "black", "ms": 8, "mew": 2}, "human / published"),
    (
        "baseline",
        {"marker": "|", "color": "0.45", "ms": 14, "mew": 2},
        "rule baseline (named in the panel's title)",
    ),
)


def _panels(cards: list[Card]) -> Figure:
    """Each module a panel, each score a row; every card's dot and interval side by side,
    the reference as a black x and the first card's rule baseline as a grey bar."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook")
    modules = list(dict.fromkeys(m for c in cards for m in c.modules))
    heights = [max(1, len(cards[0].scores[cards[0].scores.module == m])) for m in modules]
    fig, axes = plt.subplots(
        len(modules),
        1,
        figsize=(8.5, 1.0 + 0.45 * sum(heights) + 0.5 * len(modules)),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    palette = sns.color_palette("deep", len(cards))
    for ax, module in zip(axes[:, 0], modules, strict=True):
        rows = cards[0].scores[cards[0].scores.module == module].reset_index(drop=True)
        for k, card in enumerate(cards):
            mine = card.scores[card.scores.module == module].set_index("name")
            offset = (k - (len(cards) - 1) / 2) * 0.18
            for y, name in enumerate(rows.name):
                if name not in mine.index:
                    continue
                s = mine.loc[name]
                if _finite(s.low) and _finite(s.high):
                    ax.plot([s.low, s.high], [y + offset] * 2, color=palette[k], lw=2)
                ax.plot(
                    s.value,
                    y + offset,
                    "o",
                    color=palette[k],
                    ms=6,
                    label=card.model if y == 0 else None,
                )
        for y, s in enumerate(rows.itertuples(index=False)):
            for attr, style, label in _MARKS:
                if _finite(getattr(s, attr)):
                    ax.plot(
                        getattr(s, attr), y, ls="none", label=label if y == 0 else None, **style
                    )
        ax.set_yticks(range(len(rows)), rows.title)
        ax.invert_yaxis()
        ax.axvline(0, color="0.6", lw=0.8)
        title = cards[0].modules.get(module, module)
        baselines = rows.baseline_model.dropna().unique() if "baseline_model" in rows else []
        if len(baselines) and baselines[0]:
            title += f"; baseline {baselines[0]}"
        ax.set_title(title, loc="left", fontsize="medium")
    handles, labels = [], []
    for ax in axes[:, 0]:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=min(3, len(labels)),
        fontsize="small",
        frameon=False,
    )
    fig.suptitle(f"Social-behaviour cards, {cards[0].protocol}", fontsize="large")
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    return fig
