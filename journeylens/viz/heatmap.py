"""Heatmaps of matrices (step, transition, retention, difference), every label shown as plain text."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .format import percent
from .text import plain


def matrix_figure(matrix: pd.DataFrame, *, title: str, x_title: str, y_title: str, diverging: bool = False,
                  colorbar: str = "share"):
    """A heatmap of ``matrix`` (rows × columns of shares): each cell written in %, empty cells left blank;
    ``diverging`` centres the colours on 0 (differences)."""
    import plotly.graph_objects as go

    z = matrix.to_numpy(dtype=np.float64)
    text = [[percent(v, missing="") for v in row] for row in z]
    peak = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
    colours = dict(colorscale="RdBu", zmid=0.0, zmin=-peak, zmax=peak) if diverging else \
        dict(colorscale="Blues", zmin=0.0, zmax=max(peak, 1e-9))
    fig = go.Figure(go.Heatmap(
        z=z, x=[plain(c) for c in matrix.columns], y=[plain(r) for r in matrix.index], text=text,
        texttemplate="%{text}", hovertemplate="%{y} · %{x}: %{text}<extra></extra>", xgap=1, ygap=1,
        colorbar={"title": {"text": colorbar}, "tickformat": ".0%"}, **colours))
    fig.update_layout(title=plain(title), xaxis={"title": x_title, "type": "category", "side": "top"},
                      yaxis={"title": y_title, "autorange": "reversed", "type": "category"},
                      height=max(320, 26 * len(matrix.index) + 140), plot_bgcolor="white")
    return fig
