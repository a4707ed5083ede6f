"""Process-graph figure of a directly-follows graph, laid out left to right."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .text import plain

if TYPE_CHECKING:
    from ..mining.dfg import DFG

_START = "\x00start"


def _layers(graph: Any, starts: dict) -> dict:
    """Column of each node: hops from the journeys' start along the most frequent ways in."""
    import networkx as nx

    g = nx.DiGraph()
    g.add_edges_from((_START, n, {"w": 1.0}) for n in starts)
    total = max((d["count"] for _, _, d in graph.edges(data=True)), default=1)
    # Frequent edges are short, so nodes sit one column after their main predecessor.
    g.add_edges_from((a, b, {"w": 1.0 + (1.0 - d["count"] / total)}) for a, b, d in graph.edges(data=True) if a != b)
    dist = nx.single_source_dijkstra_path_length(g, _START, weight="w") if starts else {}
    return {n: int(round(dist.get(n, 1.0))) for n in graph.nodes}


def process_graph_figure(result: "DFG", top: int | None = 40):
    """Nodes sized by volume, edges by count; backward and loop edges highlighted; names shown as plain text."""
    import networkx as nx
    import plotly.graph_objects as go

    edges = result.edges.sort_values(["count", "source", "target"], ascending=[False, True, True])
    if top:
        edges = edges.head(top)
    graph = nx.DiGraph()
    graph.add_edges_from((r.source, r.target, {"count": r.count}) for r in edges.itertuples())
    starts = {n: c for n, c in result.starts.items() if n in graph}
    layer = _layers(graph, starts)
    pos: dict = {}
    for col in sorted(set(layer.values())):
        members = sorted((n for n in graph.nodes if layer[n] == col), key=str)
        for k, n in enumerate(members):
            pos[n] = (col, (k - (len(members) - 1) / 2))
    width_scale = 8.0 / max(edges["count"].max(), 1) if len(edges) else 1.0
    flagged = edges[edges["backward"]] if "backward" in edges else edges.iloc[:0]
    backward = set(zip(flagged["source"], flagged["target"]))
    fig = go.Figure()
    for r in edges.itertuples():
        (x0, y0), (x1, y1) = pos[r.source], pos[r.target]
        colour = "crimson" if (r.source, r.target) in backward or r.source == r.target or x1 < x0 else "steelblue"
        fig.add_annotation(
            x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y", showarrow=True,
            arrowhead=2, arrowwidth=max(1.0, r.count * width_scale), arrowcolor=colour, opacity=0.6,
            hovertext=f"{plain(r.source)} → {plain(r.target)}: {r.count:,}",
        )
    names = list(graph.nodes)
    volume = [int(result.starts.get(n, 0)) + sum(d["count"] for _, _, d in graph.in_edges(n, data=True)) for n in names]
    fig.add_trace(
        go.Scatter(
            x=[pos[n][0] for n in names], y=[pos[n][1] for n in names], mode="markers+text",
            text=[plain(n) for n in names], textposition="top center",
            marker={"size": [10 + 30 * v / max(max(volume), 1) for v in volume], "color": "#4c78a8"},
            hovertext=[f"{plain(n)}: {v:,}" for n, v in zip(names, volume)], hoverinfo="text",
        )
    )
    fig.update_layout(
        title=f"Process graph ({plain(result.level)} level, per {plain(result.per)}; red = backward or loop)",
        showlegend=False, xaxis={"visible": False}, yaxis={"visible": False}, plot_bgcolor="white",
    )
    return fig
