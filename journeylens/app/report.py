"""The analyst's report: one self-contained, offline HTML file.

plotly.js is embedded once; a Content-Security-Policy forbids every network
fetch; every name from the data is HTML-escaped (tables through pandas'
escaping, prose through :func:`html.escape`, figure data as escaped JSON that
plotly renders as text). Each table in the report is one of the files
:meth:`Analysis.write` saves, under the same name, so its numbers can be traced.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from ..personas.model import PS_TOLERANCE

CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
       "img-src data: blob:; font-src data:; connect-src 'none'")

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1f3b57;color:#fff;padding:18px 32px}header h1{margin:0;font-size:1.5em}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid #ddd;padding:8px 32px;z-index:9}
nav a{margin-right:18px;color:#1f3b57;text-decoration:none;font-weight:600}
section{padding:12px 32px;border-bottom:1px solid #eee}h2{color:#1f3b57}
table{border-collapse:collapse;font-size:.85em;margin:8px 0 16px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f0f3f6}td:first-child,th:first-child{text-align:left}.kpis{display:flex;flex-wrap:wrap;gap:12px}
.kpi{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px 16px;min-width:130px}
.kpi b{display:block;font-size:1.4em}.note{color:#666;font-size:.9em}.file{font-family:monospace;color:#555}
"""


def _table(name: str, frame: pd.DataFrame, rows: int = 15) -> str:
    """An escaped table labelled with the file it comes from."""
    shown = frame.head(rows)
    more = f" (first {rows} of {len(frame):,} rows)" if len(frame) > rows else ""
    body = shown.to_html(index=False, escape=True, float_format=lambda v: f"{v:,.4g}", na_rep="")
    return f'<p class="file">{html.escape(name)}.csv{html.escape(more)}</p>{body}'


def _figure(fig: Any, div_id: str) -> str:
    import plotly.io as pio

    return pio.to_html(fig, full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})


def _kpis(items: list[tuple[str, Any]]) -> str:
    cells = "".join(f'<div class="kpi"><b>{html.escape(str(v))}</b>{html.escape(k)}</div>' for k, v in items)
    return f'<div class="kpis">{cells}</div>'


def render(analysis: Any, drift: Any = None, title: str = "Journey report") -> str:
    """The report HTML of an :class:`~journeylens.app.pipeline.Analysis` (and optionally a drift result)."""
    import plotly.offline

    a, r, t = analysis, analysis.results, analysis.tables
    s = a.summary()
    sections: list[tuple[str, str, str]] = []

    reasons = pd.DataFrame(list(s["quarantine_reasons"].items()), columns=["reason", "rows"])
    overview = _kpis([
        ("rows read", f"{s['rows_read']:,}"), ("accepted", f"{s['rows_accepted']:,}"),
        ("quarantined", f"{s['rows_quarantined']:,}"), ("customers", f"{s['users']:,}"),
        ("sessions", f"{s['sessions']:,}"), ("event types", s["event_types"]),
    ])
    overview += (f"<p>Source <span class=\"file\">{html.escape(str(s['source']))}</span>, "
                 f"{html.escape(str(s['time_start']))} to {html.escape(str(s['time_end']))}. "
                 f"Reconciliation: {s['rows_read']:,} read = {s['rows_accepted']:,} accepted + "
                 f"{s['rows_quarantined']:,} quarantined: <b>{'holds' if s['reconciled'] else 'FAILS'}</b>.</p>")
    if len(reasons):
        overview += "<h3>Quarantine reasons</h3>" + reasons.to_html(index=False, escape=True)
        overview += _table("quarantine", t["quarantine"].astype(str), rows=10)
    if s.get("channels"):
        channels = pd.DataFrame(list(s["channels"].items()), columns=["channel", "events"])
        overview += "<h3>Channels</h3>" + channels.to_html(index=False, escape=True)
    if a.skipped:
        overview += "<h3>Not computed</h3><ul>" + "".join(
            f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in a.skipped.items()) + "</ul>"
    sections.append(("overview", "Overview and data quality", overview))

    journeys = "<p>How customers move from their first touchpoint on.</p>" + _figure(r["flows"].plot(), "fig-sankey")
    journeys += _figure(r["dfg"].plot(), "fig-process-graph") + _table("dfg", t["dfg"])
    if "stage_graph" in r:
        journeys += "<h3>Lifecycle stages</h3><p>Backward transitions (later stage → earlier stage) are flagged.</p>"
        journeys += _figure(r["stage_graph"].plot(), "fig-stage-graph") + _table("stage_graph", t["stage_graph"])
    journeys += "<h3>Variants</h3>" + _figure(r["variants"].plot(), "fig-variants") + _table("variants", t["variants"], 10)
    journeys += "<h3>Loops</h3>"
    journeys += (_figure(r["loops"].plot(), "fig-loops") + _table("loops", t["loops"], 10)) if len(t["loops"]) else "<p>No loops above the support threshold.</p>"
    sections.append(("journeys", "Journeys and loops", journeys))

    funnels = ""
    if "funnel" in r:
        funnels += _figure(r["funnel"].plot(), "fig-funnel") + _table("funnel", t["funnel"])
    if "dropoffs" in r:
        funnels += ("<h3>Drop-off points</h3><p class=\"note\">A customer has dropped off when they never reached the "
                    "goal and were inactive for the inactivity period before the end of observation; the others are "
                    "censored (still possibly on their way) and never counted as drop-offs.</p>")
        funnels += _table("dropoff_summary", t["dropoff_summary"]) + _figure(r["dropoffs"].plot(), "fig-dropoffs")
        funnels += _table("dropoffs", t["dropoffs"])
        funnels += "<h3>Time to convert</h3>" + _figure(r["time_to_convert"].plot(), "fig-time-to-convert")
        funnels += r["time_to_convert"].medians.to_html(index=False, escape=True)
        funnels += "<h3>Roadblocks</h3>" + _figure(r["roadblocks"].plot(), "fig-roadblocks")
        funnels += _table("roadblocks", t["roadblocks"][[c for c in t["roadblocks"].columns if not c.endswith("_pct")]])
    sections.append(("funnels", "Funnels and drop-offs", funnels or "<p>No goal was given.</p>"))

    if "personas" in r:
        model = r["personas"]
        prof = r["persona_profiles"]
        body = "<ul>" + "".join(f"<li>{html.escape(d)}</li>" for d in prof.table["description"]) + "</ul>"
        body += _figure(prof.plot(), "fig-persona-heatmap") + _table("persona_profiles", t["persona_profiles"])
        if model.scores_ is not None:
            body += ("<p class=\"note\">k chosen by prediction strength: how well the clusters of one half of "
                     "the customers are reproduced by a clustering of the other half (the weakest cluster counts). "
                     f"The largest k within {PS_TOLERANCE} of the best score is chosen; silhouette is shown for "
                     "information.</p>"
                     + _table("persona_k_scores", t["persona_k_scores"]))
        if "dropoffs_by_persona" in t:
            body += "<h3>Drop-off points per persona</h3>" + _table("dropoffs_by_persona", t["dropoffs_by_persona"], 20)
        sections.append(("personas", "Personas", body))

    if "conformance" in r:
        c = r["conformance"]
        body = _table("conformance_overall", t["conformance_overall"]) + _figure(c.plot(), "fig-designed-vs-observed")
        body += "<h3>Unexpected transitions</h3>" + _table("unexpected", t["unexpected"])
        body += "<h3>Designed transitions never or rarely taken</h3>" + _table("missing", t["missing"])
        body += "<h3>Stage order violations</h3>" + _table("stage_order_violations", t["stage_order_violations"])
        body += "<h3>Targets</h3>" + _table("targets", t["targets"])
        sections.append(("designed", "Designed vs observed", body))

    if drift is not None:
        body = _figure(drift.plot(), "fig-drift") + _table("drift_edges", drift.edges)
        body += _table("drift_variants", drift.variants, 10)
        if len(drift.outcomes):
            body += _table("drift_outcomes", drift.outcomes)
        sections.append(("drift", "Drift between periods", body))

    nav = "".join(f'<a href="#{sid}">{html.escape(name)}</a>' for sid, name, _ in sections)
    content = "".join(f'<section id="{sid}"><h2>{html.escape(name)}</h2>{body}</section>' for sid, name, body in sections)
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style>"
        f"<script>{plotly.offline.get_plotlyjs()}</script></head><body>"
        f"<header><h1>{html.escape(title)}</h1></header><nav>{nav}</nav>{content}</body></html>"
    )

