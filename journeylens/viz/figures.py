"""Figures as they leave journeylens: texts with their markup neutralised, and static images.

plotly reads a subset of HTML in every text it draws. Figures that pass data
labels through :func:`journeylens.viz.text.plain` show them verbatim;
:func:`plain_figure` is the last guard for every figure that is written out (the
report, static images), whatever drew it: a ``<`` that does not open one of
plotly's bare formatting tags becomes ``&lt;``, so no text can become a link, an
image or a style.

Static images (:func:`write_images`) need the ``kaleido`` package (≥ 1, from
PyPI), which drives an installed Chrome or Chromium (it finds ``/usr/bin/chromium``;
``BROWSER_PATH`` names another); nothing is downloaded at run time. PNG, SVG and
PDF work; one browser is started for all the figures of a call.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Mapping

from ..errors import MissingDependencyError, ParameterError

#: plotly's own markup that figure texts may keep (tags without attributes cannot link or style)
_PLOTLY_TAGS = re.compile(r"<(?!(?:/?(?:b|i|em|sup|sub|extra)|br\s*/?)>)", re.IGNORECASE)

FORMATS = ("png", "svg", "pdf", "jpeg", "webp")


def plain_figure(figure: Any) -> Any:
    """A figure's JSON (``data``/``layout`` as plain Python) with every ``<`` that is not one of plotly's bare
    tags (``<br>``, ``<b>``, ``<i>``, ``<em>``, ``<sup>``, ``<sub>``, ``<extra>``) written as ``&lt;``.

    Texts already made plain (:func:`journeylens.viz.text.plain`) have no ``<`` left and stay as they are.

    >>> plain_figure({"data": [{"y": ['<a href="https://x.example/">x</a>', "a<b>b</b>"]}],
    ...               "layout": {"title": {"text": "Drop-offs<br>per step"}}})
    {'data': [{'y': ['&lt;a href="https://x.example/">x&lt;/a>', 'a<b>b</b>']}], 'layout': {'title': {'text': 'Drop-offs<br>per step'}}}
    """
    if isinstance(figure, str):
        return _PLOTLY_TAGS.sub("&lt;", figure)
    if isinstance(figure, Mapping):
        return {k: plain_figure(v) for k, v in figure.items()}
    if isinstance(figure, list):
        return [plain_figure(v) for v in figure]
    return figure


def figure_spec(fig: Any) -> dict:
    """A plotly figure as its JSON (plain Python), texts neutralised by :func:`plain_figure`."""
    return plain_figure(json.loads(fig.to_json()))


def write_images(figures: Mapping[str, Any], folder: str | Path, *, format: str = "png", scale: float = 2.0,
                 width: int = 1100) -> list[Path]:
    """Write each figure (name → plotly figure) as ``<folder>/<name>.<format>``; returns the paths.

    ``format``: png, svg, pdf, jpeg or webp; ``scale``: pixel density of raster images; ``width``: in CSS
    pixels (the height is each figure's own, else 450). Needs ``kaleido`` (module docstring).
    """
    if format not in FORMATS:
        raise ParameterError(f"format must be one of {', '.join(FORMATS)}, not {format!r}", "format")
    try:
        import kaleido  # noqa: F401
    except ImportError:
        raise MissingDependencyError("static images need kaleido: pip install 'kaleido>=1' (it uses the installed "
                                     "Chrome or Chromium)") from None
    import plotly.graph_objects as go
    import plotly.io as pio

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.{format}" for name in figures]
    specs = []
    for fig in figures.values():
        spec = figure_spec(fig)
        spec.setdefault("layout", {}).setdefault("height", 450)
        specs.append(go.Figure(spec))
    if specs:
        pio.write_images(specs, paths, format=format, scale=scale, width=width)
    return paths
