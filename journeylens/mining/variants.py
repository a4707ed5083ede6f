"""Variants: the distinct ordered paths journeys take, most frequent first."""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import engine
from ..core.protocol import JourneyLog, check_per
from ..core.params import positive_int
from .dfg import Level, Per


@dataclass(frozen=True)
class Variants:
    """Distinct paths with ``count``, ``share`` and ``cumulative_share`` of journeys.

    ``table`` holds the returned variants (all, or the ``top`` ones);
    ``n_variants`` and ``n_journeys`` count all of them.
    """

    table: pd.DataFrame
    n_variants: int
    n_journeys: int
    level: str
    per: str

    def to_frame(self) -> pd.DataFrame:
        """``variant`` (tuple of names), ``length``, ``count``, ``share``, ``cumulative_share``."""
        return self.table.copy()

    def to_dict(self) -> dict[tuple[str, ...], int]:
        """``{variant: count}``, the shape ``pm4py.get_variants`` returns."""
        return dict(zip(self.table["variant"], self.table["count"].astype(int)))

    def plot(self, top: int = 15):
        """Horizontal bars of the ``top`` variants' shares (plotly)."""
        import plotly.graph_objects as go

        from ..viz.text import plain

        t = self.table.head(top).iloc[::-1]
        labels = [" › ".join(map(plain, v)) if len(v) <= 8 else " › ".join(map(plain, v[:7])) + f" … ({len(v)} steps)"
                  for v in t["variant"]]
        fig = go.Figure(go.Bar(x=t["share"], y=labels, orientation="h", text=t["count"], hovertext=labels))
        fig.update_layout(title=f"Top variants ({self.n_variants:,} in all)", xaxis_tickformat=".0%", height=120 + 28 * len(t))
        return fig

    def _repr_html_(self) -> str:
        t = self.table.head(15).copy()
        t["variant"] = [" › ".join(v) for v in t["variant"]]
        body = t.to_html(index=False, escape=True)
        return f"<div><strong>{self.n_variants:,} variants</strong> over {self.n_journeys:,} journeys (per {html.escape(self.per)}){body}</div>"


def variants(log: JourneyLog, *, per: Per = "user", top: int | None = None, level: Level = "event") -> Variants:
    """The distinct journeys (ordered sequences) and how many follow each.

    Sequences are built and grouped in the engine; only the returned ``top``
    variants are decoded to names. Ties in count are ordered by the sequence.

    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "b", "b", "c"],
    ...     "time": pd.date_range("2024-01-01", periods=5, freq="h"),
    ...     "event": ["home", "cart", "home", "cart", "home"]}))
    >>> jl.variants(log).to_frame()[["variant", "count"]].values.tolist()
    [[('home', 'cart'), 2], [('home',), 1]]
    """
    check_per(per)
    top = positive_int(top, "top", allow_none=True)
    ev = log.journeys(level=level, per=per, window=False)
    names = log.names(level)
    offsets, codes, counts, total, n_journeys = engine.variants(ev, top=top)
    named = np.asarray(names, dtype=object)[codes].tolist()  # decoded once, then cut into tuples
    seqs = [tuple(named[a:b]) for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
    counts = counts.astype(np.int64)
    share = counts / n_journeys if n_journeys else counts.astype(float)
    table = pd.DataFrame(
        {
            "variant": seqs,
            "length": np.diff(offsets),
            "count": counts,
            "share": share,
            "cumulative_share": np.cumsum(share),
        }
    )
    return Variants(table=table, n_variants=total, n_journeys=n_journeys, level=level, per=per)
