"""The designed map with observed volumes: stages as columns, every step an arc.

Touchpoints sit in their stage's column. Every step is drawn as an arc that
bends to the right of its direction, so ``a → b`` and ``b → a`` are two arcs
side by side and a step between two touchpoints of one stage bows out of the
column instead of running along it. Designed steps are blue by use (dotted grey
when no journey takes them); the most used unexpected steps are red, with their
journey counts; touchpoints no journey reaches are hollow. Labels sit on a
white ground above the lines, so no edge runs through a name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .text import plain

if TYPE_CHECKING:
    from ..compare.conformance import Comparison

BLUE, GREY, RED = "rgba(31,119,180,0.55)", "rgba(70,70,70,0.9)", "rgba(214,39,40,0.9)"
_T = np.linspace(0.0, 1.0, 24)


def _arc(p0: tuple[float, float], p1: tuple[float, float], same_stage: bool) -> tuple[np.ndarray, np.ndarray]:
    """Points of a quadratic Bézier from ``p0`` to ``p1`` bending to the right of the direction."""
    (x0, y0), (x1, y1) = p0, p1
    dx, dy = x1 - x0, y1 - y0
    length = max(float(np.hypot(dx, dy)), 1e-9)
    # out of the column (at most 0.42 of the column spacing) for steps within a stage; gently across
    bend = min(0.25 + 0.03 * length, 0.42) if same_stage else min(0.12 * length, 0.35)
    cx, cy = (x0 + x1) / 2 + bend * dy / length, (y0 + y1) / 2 - bend * dx / length
    xs = (1 - _T) ** 2 * x0 + 2 * (1 - _T) * _T * cx + _T ** 2 * x1
    ys = (1 - _T) ** 2 * y0 + 2 * (1 - _T) * _T * cy + _T ** 2 * y1
    return xs, ys


def designed_vs_observed_figure(result: "Comparison", top_unexpected: int = 10):
    """Touchpoints laid out by stage (left to right); arc width = journeys; red = not designed."""
    import plotly.graph_objects as go

    jmap = result.journey_map
    stage_of, pos = {}, {}
    for col, stage in enumerate(jmap.stages):
        for row, tp in enumerate(stage.touchpoints):
            pos[tp], stage_of[tp] = (float(col), -float(row)), col
    observed = result.observed.set_index(["source", "target"])["journeys"].to_dict()
    unexpected = result.unexpected.head(top_unexpected)
    edges = [(a, b, "designed" if observed.get((a, b), 0) else "unused") for a, b in jmap.transitions]
    edges += [(a, b, "unexpected") for a, b in zip(unexpected["source"], unexpected["target"])]
    peak = max([observed.get((a, b), 0) for a, b, _ in edges] + [1])
    unit = "sessions" if result.per == "session" else "users"

    fig = go.Figure()
    n_rows = max(len(s.touchpoints) for s in jmap.stages)
    for col in range(len(jmap.stages)):  # a light band per stage
        fig.add_shape(type="rect", x0=col - 0.45, x1=col + 0.45, y0=-n_rows + 0.4, y1=0.75, layer="below",
                      line={"width": 0}, fillcolor="rgba(0,0,0,0.035)")
    for a, b, kind in sorted(edges, key=lambda e: e[2] != "unused"):  # used and unexpected arcs on top
        journeys = int(observed.get((a, b), 0))
        xs, ys = _arc(pos[a], pos[b], stage_of[a] == stage_of[b])
        colour = {"designed": BLUE, "unused": GREY, "unexpected": RED}[kind]
        what = {"designed": "designed", "unused": "designed, never taken", "unexpected": "not designed"}[kind]
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines", showlegend=False, hoverinfo="text",
            text=plain(f"{a} → {b}: {journeys:,} {unit} ({what})"),
            line={"width": 2.0 if kind == "unused" else 1.0 + 7.0 * np.sqrt(journeys / peak), "color": colour,
                  "dash": "dot" if kind == "unused" else "solid"}))
        fig.add_annotation(x=xs[-1], y=ys[-1], ax=xs[-4], ay=ys[-4], xref="x", yref="y", axref="x", ayref="y",
                           showarrow=True, arrowhead=2, arrowsize=1.1, arrowwidth=1.5, arrowcolor=colour,
                           standoff=9, text="")
        if kind == "unexpected":
            k = len(_T) // 2
            fig.add_annotation(x=xs[k], y=ys[k], text=f"{journeys:,}", showarrow=False,
                               font={"size": 10, "color": "rgb(180,20,20)"}, bgcolor="rgba(255,255,255,0.85)")

    reached = result.reached.set_index("touchpoint")["journeys"].to_dict()
    names = list(pos)
    volume = np.array([reached.get(n, 0) for n in names], dtype=float)
    fig.add_trace(go.Scatter(
        x=[pos[n][0] for n in names], y=[pos[n][1] for n in names], mode="markers", showlegend=False,
        hoverinfo="text", text=[plain(f"{n}: {int(v):,} {unit}") for n, v in zip(names, volume)],
        marker={"size": 10 + 14 * np.sqrt(volume / max(volume.max(), 1.0)),
                "color": ["#444" if v else "white" for v in volume],
                "line": {"width": 2, "color": "#444"}}))
    for n in names:
        fig.add_annotation(x=pos[n][0], y=pos[n][1], text=plain(n), showarrow=False, yshift=17,
                           font={"size": 11}, bgcolor="rgba(255,255,255,0.9)", borderpad=1)
    for col, stage in enumerate(jmap.stages):
        fig.add_annotation(x=col, y=0.75, text=f"<b>{plain(stage.name)}</b>", showarrow=False, yshift=8,
                           font={"size": 13})

    legend = [(f"designed, taken (width = {unit})", BLUE, "solid", "lines"),
              ("designed, never taken", GREY, "dot", "lines"),
              (f"not designed (top {len(unexpected)} of {len(result.unexpected)})", RED, "solid", "lines")]
    for name, colour, dash, mode in legend:
        fig.add_trace(go.Scatter(x=[None], y=[None], mode=mode, name=name, line={"color": colour, "dash": dash,
                                                                               "width": 3}))
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name="touchpoint never reached",
                             marker={"size": 10, "color": "white", "line": {"width": 2, "color": "#444"}}))
    unused_steps = sum(1 for *_, kind in edges if kind == "unused")
    unused_points = int((volume == 0).sum())
    fig.update_layout(
        title={"text": f"Designed vs observed: {plain(jmap.name)}<br><sup>{unused_steps} designed transitions "
                       f"never taken (dotted), {unused_points} touchpoints never reached (hollow); "
                       f"a journey is {'a session' if result.per == 'session' else 'a user'}</sup>"},
        plot_bgcolor="white", height=max(420, 95 * n_rows + 200),
        legend={"orientation": "h", "yanchor": "top", "y": -0.02, "xanchor": "left", "x": 0},
        margin={"l": 20, "r": 20, "t": 90, "b": 60})
    fig.update_xaxes(visible=False, range=[-0.6, len(jmap.stages) - 0.4])
    fig.update_yaxes(visible=False, range=[-n_rows + 0.3, 1.15])
    return fig
