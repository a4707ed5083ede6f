"""Data labels as plotly text: drawn exactly as written, never read as markup."""

from __future__ import annotations

import html


def plain(label: str) -> str:
    """``label`` as plotly text that shows exactly its characters.

    Plotly reads a subset of HTML in every text it draws (titles, axis ticks,
    legends, hover labels, Sankey nodes): ``<b>``, ``<br>``, ``<a href>``,
    ``<span style>`` … and the entities ``&amp;``, ``&lt;``, ``&gt;`` and numeric
    ones. Escaping ``&``, ``<`` and ``>`` as entities leaves no tag to read, and
    plotly decodes the entities back to the characters of the label. Quotes are
    left alone: plotly does not decode ``&quot;``. Any value is shown as its ``str``.

    >>> plain("<b>deal</b> & <a href='x'>win</a>")
    "&lt;b&gt;deal&lt;/b&gt; &amp; &lt;a href='x'&gt;win&lt;/a&gt;"
    >>> plain("&lt;")  # an entity in the data stays as typed
    '&amp;lt;'
    """
    return html.escape(str(label), quote=False)
