"""Sankey of journeys: how customers flow from their first step to their ``depth``-th."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.eventlog import EventLog

_END = "(end)"


@dataclass(frozen=True)
class JourneyFlows:
    """Flows between consecutive journey positions: ``step`` (1-based), ``source``, ``target``, ``journeys``."""

    table: pd.DataFrame
    depth: int

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def plot(self):
        """A plotly Sankey, one column per journey position; ``(end)`` where journeys stop."""
        import plotly.graph_objects as go

        t = self.table
        src = t["step"].astype(str) + ". " + t["source"]
        dst = (t["step"] + 1).astype(str) + ". " + t["target"]
        labels = pd.Index(pd.unique(pd.concat([src, dst], ignore_index=True)))
        fig = go.Figure(go.Sankey(
            arrangement="snap",
            node={"label": [label.split(". ", 1)[1] for label in labels], "pad": 12,
                  "customdata": list(labels), "hovertemplate": "%{customdata}: %{value}<extra></extra>"},
            link={"source": labels.get_indexer(src), "target": labels.get_indexer(dst), "value": t["journeys"]},
        ))
        fig.update_layout(title=f"Journeys, first {self.depth} steps")
        return fig

    def _repr_html_(self) -> str:
        return f"<div><strong>Journey flows</strong>{self.table.head(30).to_html(index=False, escape=True)}</div>"


def journey_flows(log: EventLog, depth: int = 5, per: str = "user", top_links: int = 12,
                  level: str = "event") -> JourneyFlows:
    """Count journeys moving from the event at position k to the one at k+1, for k < ``depth``.

    Per step only the ``top_links`` largest flows are kept (the rest are
    summed into no link, so the picture stays readable; the table says so by
    its totals). A journey shorter than a position flows into ``(end)``.

    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "b"], "time": ["2024-01-01", "2024-01-02", "2024-01-01"],
    ...     "event": ["home", "buy", "home"]}))
    >>> jl.journey_flows(log, depth=2).to_frame().values.tolist()
    [[1, 'home', '(end)', 1], [1, 'home', 'buy', 1]]
    """
    codes, names = log._coded(level)
    group = log._journey_codes(per)
    keep = codes >= 0
    codes, group = codes[keep], group[keep]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if len(group) else np.zeros(0, dtype=np.int64)
    position = np.arange(len(group)) - np.repeat(starts, np.diff(np.r_[starts, len(group)]))
    nxt = np.r_[codes[1:], -1]
    same = np.r_[group[1:] == group[:-1], False]
    target = np.where(same, nxt, -1)
    head = position < depth - 1
    frame = pd.DataFrame({"step": position[head] + 1, "a": codes[head], "b": target[head]})
    table = frame.groupby(["step", "a", "b"]).size().rename("journeys").reset_index()
    table = table.sort_values(["step", "journeys", "a", "b"], ascending=[True, False, True, True], kind="stable")
    table = table.groupby("step").head(top_links)
    label = np.asarray(names, dtype=object)
    table["source"] = label[table["a"].to_numpy()]
    table["target"] = np.where(table["b"].to_numpy() >= 0, label[np.maximum(table["b"].to_numpy(), 0)], _END)
    table = table[["step", "source", "target", "journeys"]].sort_values(
        ["step", "source", "target"], kind="stable").reset_index(drop=True)
    return JourneyFlows(table=table, depth=depth)
