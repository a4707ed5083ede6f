"""Sankey figure of journey flows: one column per journey position."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from .text import plain

if TYPE_CHECKING:
    from ..mining.flows import JourneyFlows


def sankey_figure(result: "JourneyFlows"):
    """Nodes are (position, name) pairs, links the journeys between them; labels shown as plain text."""
    import plotly.graph_objects as go

    t = result.table
    src = list(zip(t["step"], t["source"]))
    dst = list(zip(t["step"] + 1, t["target"]))
    nodes = pd.Index(pd.unique(pd.Series(src + dst, dtype=object)))  # one node per position and name
    position = [int(p) for p, _ in nodes]
    names = [plain(n) for _, n in nodes]
    fig = go.Figure(go.Sankey(
        arrangement="snap",
        node={"label": names, "pad": 12, "customdata": [f"{p}. {n}" for p, n in zip(position, names)],
              "hovertemplate": "%{customdata}: %{value}<extra></extra>"},
        link={"source": nodes.get_indexer(src), "target": nodes.get_indexer(dst), "value": t["journeys"].to_numpy()},
    ))
    fig.update_layout(title=f"Journeys, first {result.depth} steps (per {plain(result.per)})")
    return fig
