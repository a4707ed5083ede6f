"""Designed map with observed volumes: stages as columns, designed edges by use, unexpected edges in red."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..compare.conformance import Comparison


def designed_vs_observed_figure(result: "Comparison", top_unexpected: int = 10):
    """Touchpoints laid out by stage (left to right); edge width = users; red = not designed."""
    import plotly.graph_objects as go

    jmap = result.journey_map
    pos = {}
    for col, stage in enumerate(jmap.stages):
        for row, tp in enumerate(stage.touchpoints):
            pos[tp] = (col, -row)
    observed = result.observed.set_index(["source", "target"])
    fig = go.Figure()
    peak = max(int(observed["users"].max()) if len(observed) else 1, 1)
    edges = [(a, b, True) for a, b in jmap.transitions]
    edges += [(r.source, r.target, False) for r in result.unexpected.head(top_unexpected).itertuples()]
    for a, b, designed in edges:
        users = int(observed["users"].get((a, b), 0)) if len(observed) else 0
        (x0, y0), (x1, y1) = pos[a], pos[b]
        bend = 0.15 if x1 <= x0 else 0.0  # backward or same-stage edges curve so both directions show
        xs, ys = [x0, (x0 + x1) / 2, x1], [y0, (y0 + y1) / 2 + bend, y1]
        color = ("rgba(31,119,180,0.8)" if users else "rgba(150,150,150,0.6)") if designed else "rgba(214,39,40,0.85)"
        dash = "solid" if designed and users else ("dot" if designed else "solid")
        kind = "designed" if designed else "unexpected"
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"width": 1 + 9 * np.sqrt(users / peak), "color": color,
                                                                   "dash": dash},
                                 hoverinfo="text", text=f"{a} → {b}: {users:,} users ({kind})", showlegend=False))
    names = list(pos)
    fig.add_trace(go.Scatter(x=[pos[n][0] for n in names], y=[pos[n][1] for n in names], mode="markers+text",
                             text=names, textposition="top center", marker={"size": 14, "color": "#444"},
                             hoverinfo="text", showlegend=False))
    fig.update_xaxes(tickvals=list(range(len(jmap.stages))), ticktext=[s.name for s in jmap.stages], showgrid=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(title=f"Designed vs observed: {jmap.name} (blue = designed and used, dotted = designed but "
                            f"unused, red = unexpected)", plot_bgcolor="white")
    return fig
