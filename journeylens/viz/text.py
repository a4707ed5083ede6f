"""Labels from the data, made safe for plotly figures."""

from __future__ import annotations

import html


def plain(label: str) -> str:
    """``label`` as text plotly shows as it is: HTML-escaped, so ``<b>``, ``&`` or ``<br>`` in an event
    name are not read as markup.

    >>> plain("<b>cart</b> & pay")
    '&lt;b&gt;cart&lt;/b&gt; &amp; pay'
    """
    return html.escape(str(label), quote=False)
