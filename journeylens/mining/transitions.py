"""Transition matrix: how often each event is followed by each other one, as a heatmap."""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import engine
from ..core.params import choice, positive_int
from ..core.protocol import JourneyLog, check_per

END = "(end)"
OTHER = "(other)"


@dataclass(frozen=True)
class TransitionMatrix:
    """``matrix``: sources × next (``(end)``: the journey stops; ``(other)``: names beyond ``top``), each row
    the shares of the source's occurrences, adding up to 1; ``counts``: ``source, target, count, share``."""

    matrix: pd.DataFrame
    counts: pd.DataFrame
    level: str
    per: str

    def to_frame(self) -> pd.DataFrame:
        """The matrix: index = source, columns = next name, values = share of the source's occurrences."""
        return self.matrix.copy()

    def plot(self):
        """A heatmap of the matrix (rows: from, columns: to)."""
        from ..viz.heatmap import matrix_figure

        return matrix_figure(self.matrix, title=f"Transition matrix ({self.level} level, per {self.per}): "
                                                "share of each row's occurrences followed by each column",
                             x_title="next", y_title="from")

    def _repr_html_(self) -> str:
        return (f"<div><strong>Transition matrix</strong> ({html.escape(self.level)}, per {html.escape(self.per)})"
                f"{self.matrix.to_html(escape=True, float_format=lambda v: f'{v:.0%}')}</div>")


def transition_matrix(log: JourneyLog, *, level: str = "event", per: str = "user",
                      top: int | None = None) -> TransitionMatrix:
    """The share of each name's occurrences that are directly followed by each name, or end the journey.

    ``top``: keep the ``top`` names with the most occurrences as rows and columns (the rest of the next
    names are summed in ``(other)``). Counted in the engine (the directly-follows kernel), on every engine.

    >>> import pandas as pd, journeylens as jl
    >>> from journeylens.mining.transitions import transition_matrix
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "a", "b", "b"],
    ...     "time": pd.date_range("2024-01-01", periods=5, freq="h"),
    ...     "event": ["home", "cart", "home", "home", "buy"]}))
    >>> transition_matrix(log).to_frame().round(2)  # doctest: +NORMALIZE_WHITESPACE
             buy  cart  home  (end)
    source
    buy     0.00  0.00   0.0   1.00
    cart    0.00  0.00   1.0   0.00
    home    0.33  0.33   0.0   0.33
    """
    per = check_per(per)
    level = choice(level, "level", ("event", "stage", "channel"))
    top = positive_int(top, "top", allow_none=True)
    ev = log.journeys(level=level, per=per)
    pairs = engine.directly_follows_table(ev)
    ends = engine.endpoints_table(ev)
    names = np.asarray(log.names(level).astype(str), dtype=object)
    steps = pd.DataFrame({"source": names[pairs["a"].astype(np.int64)], "target": names[pairs["b"].astype(np.int64)],
                          "count": pairs["n"].astype(np.int64)})
    stops = pd.DataFrame({"source": names[ends["e"].astype(np.int64)], "target": END,
                          "count": ends["ends"].astype(np.int64)})
    counts = pd.concat([steps, stops[stops["count"] > 0]], ignore_index=True)
    occurrences = counts.groupby("source")["count"].sum()
    if top is not None:
        kept = occurrences.sort_values(ascending=False, kind="stable").head(top).index
        counts = counts[counts["source"].isin(kept)].copy()
        counts.loc[~counts["target"].isin([*kept, END]), "target"] = OTHER
        counts = counts.groupby(["source", "target"], as_index=False, sort=False)["count"].sum()
    counts["share"] = counts["count"] / counts.groupby("source")["count"].transform("sum")
    counts = counts.sort_values(["source", "target"], kind="stable").reset_index(drop=True)
    rows = sorted(counts["source"].unique())
    columns = sorted(set(counts["target"]) - {END, OTHER}) + [c for c in (OTHER, END) if c in set(counts["target"])]
    matrix = counts.pivot(index="source", columns="target", values="share").reindex(index=rows, columns=columns)
    matrix = matrix.fillna(0.0)
    matrix.columns.name = None
    return TransitionMatrix(matrix=matrix, counts=counts, level=level, per=per)
