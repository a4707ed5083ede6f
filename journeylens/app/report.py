"""The analyst's report: one self-contained, offline HTML file that says what matters first.

It opens with the key findings (:func:`key_findings`): a few sentences, each
with its number, the table it comes from (a file written beside the report) and
a link to its section. Every table is shown through
:func:`journeylens.viz.format.display_frame` (durations in words, shares in %,
thousand separators, a missing value replaced by its reason), inside a box that
scrolls sideways on its own, so the page is never wider than the window.

Safety: a Content-Security-Policy forbids every network fetch; names from the
data are HTML-escaped in the markup (tables through pandas, prose through
:func:`html.escape`), and every text of every figure reaches plotly with its
markup neutralised (:func:`journeylens.viz.figures.plain_figure`), so a name like
``<a href="https://…">`` is drawn as those characters, never as a link.

Size: plotly.js and the figures travel packed (:mod:`journeylens.viz.embed`)
and are unpacked by the page itself; the text and tables are plain HTML that
reads and prints without script.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..viz import format as fmt
from ..viz.embed import UNPACK_JS, pack, packed_plotly, payload_element
from ..viz.figures import figure_spec

CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
       "img-src data: blob:; font-src data:; connect-src 'none'")

STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;background:#fafafa;
line-height:1.45}
header{background:#1f3b57;color:#fff;padding:16px 24px}header h1{margin:0;font-size:1.45em}
header p{margin:4px 0 0;opacity:.85;font-size:.9em}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid #ddd;padding:6px 24px;z-index:9;
display:flex;flex-wrap:wrap;gap:4px 16px}
nav a{color:#1f3b57;text-decoration:none;font-weight:600;font-size:.92em}
main{max-width:1040px;margin:0 auto;padding:0 24px}
section{padding:8px 0 16px;border-bottom:1px solid #e4e4e4}h2{color:#1f3b57;margin:18px 0 8px}
h3{margin:18px 0 6px;font-size:1.05em}
.findings{background:#fff;border:1px solid #c9d6e3;border-left:6px solid #1f3b57;border-radius:6px;
padding:10px 20px;margin:16px 0}
.findings ol{margin:6px 0;padding-left:1.3em}.findings li{margin:6px 0}
main p,main li,header p{overflow-wrap:anywhere}
.findings .src{color:#555;font-size:.85em;white-space:nowrap}
.table-wrap{max-width:100%;overflow-x:auto;margin:6px 0 16px;border:1px solid #e2e2e2;background:#fff}
table{border-collapse:collapse;font-size:.84em}
td,th{border:1px solid #e2e2e2;padding:3px 8px;text-align:right;vertical-align:top}
td.text,th.text{text-align:left;white-space:nowrap}
td.wrap,th.wrap{white-space:normal;min-width:14em;max-width:34em;overflow-wrap:break-word}
th{background:#f0f3f6;position:sticky;top:0}
.kpis{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0}
.kpi{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:120px}
.kpi b{display:block;font-size:1.3em}
.note{color:#555;font-size:.9em}.file{font-family:ui-monospace,monospace;color:#555;font-size:.85em;margin:10px 0 0}
.figure{width:100%;min-height:120px;margin:8px 0;background:#fff;border:1px solid #eee;overflow:hidden;break-inside:avoid;
page-break-inside:avoid}
.figure-wait{color:#888;font-size:.85em;padding:8px}
@media print{
  @page{size:A4;margin:12mm}
  body{background:#fff;zoom:.7}
  nav,.modebar,.modebar-container,.figure-wait{display:none!important}
  header{background:#fff;color:#000;border-bottom:2px solid #1f3b57}
  main{max-width:none;padding:0}
  section{break-inside:auto}
  h2,h3{break-after:avoid;page-break-after:avoid}
  .figure,.js-plotly-plot,.kpis,.findings,tr{break-inside:avoid;page-break-inside:avoid}
  .table-wrap{overflow:visible;border:none}
  td.wrap,th.wrap{max-width:24em}
  th{position:static}
}
"""

# Boot: unpack plotly.js and the figures, run plotly, draw every figure; the page says when it is done
# (html[data-figures] = "ready" or "failed: …") so a test or a printer can wait for it.
BOOT_JS = """
(function(){
  var root=document.documentElement;
  try{
    var s=document.createElement('script');s.textContent=journeylensUnpack('jl-plotly');document.head.appendChild(s);
    var figs=JSON.parse(journeylensUnpack('jl-figures')),ids=Object.keys(figs),jobs=[];
    ids.forEach(function(id){var el=document.getElementById(id);if(!el)return;el.textContent='';
      var f=figs[id];jobs.push(Plotly.newPlot(el,f.data,f.layout,f.config));});
    Promise.all(jobs).then(function(){root.dataset.figures='ready';},
      function(e){root.dataset.figures='failed: '+e;});
  }catch(e){root.dataset.figures='failed: '+e;}
})();
"""

#: at most this many rows of a table are shown; the file beside the report has them all
ROWS = 15


@dataclass
class _Page:
    """What the sections collect while they are rendered: the figures to draw."""

    figures: dict[str, Any]

    def figure(self, fig: Any, div_id: str, height: int | None = None) -> str:
        spec = figure_spec(fig)
        layout = spec.setdefault("layout", {})
        layout.pop("width", None)
        layout["autosize"] = True
        if height is not None:
            layout["height"] = height
        elif "height" not in layout:  # a figure that fills its box would take the box's empty height
            layout["height"] = 450
        layout.setdefault("margin", {"l": 60, "r": 30, "t": 60, "b": 50})
        spec["config"] = {"displaylogo": False, "responsive": True}
        self.figures[div_id] = spec
        # the box holds the figure's height itself, so the page keeps its layout when printed
        return (f'<div class="figure" id="{div_id}" style="height:{int(layout["height"]) + 2}px">'
                '<div class="figure-wait">drawing the figure…</div></div>')


def _table(name: str, frame: pd.DataFrame, rows: int = ROWS, reasons: Mapping[str, str] | None = None,
           file: bool = True, rows_by: str | None = None, headers: Mapping[str, str] | None = None) -> str:
    """``frame`` formatted for reading, in its own scrolling box, labelled with the file that holds it
    (``headers``: shown names of columns)."""
    shown = frame.head(rows)
    text = fmt.display_frame(shown.reset_index(drop=True), reasons, rows_by=rows_by)
    numeric = {c for c in shown.columns if c != rows_by and fmt.formatter(c, shown[c]) is not None}
    names = dict(headers or {})

    def cell(tag: str, column: Any, value: str) -> str:
        kind = "num" if column in numeric else ("text wrap" if len(value) > 40 else "text")
        return f'<{tag} class="{kind}">{html.escape(value)}</{tag}>'

    head = "".join(cell("th", c, names.get(c, str(c))) for c in text.columns)
    body = "".join("<tr>" + "".join(cell("td", c, v) for c, v in zip(text.columns, row)) + "</tr>"
                   for row in text.itertuples(index=False))
    more = f" — first {rows} of {fmt.count(len(frame))} rows" if len(frame) > rows else ""
    label = f'<p class="file">{html.escape(name)}.csv{html.escape(more)}</p>' if file else ""
    return f'{label}<div class="table-wrap"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _kpis(items: list[tuple[str, str]]) -> str:
    cells = "".join(f'<div class="kpi"><b>{html.escape(v)}</b>{html.escape(k)}</div>' for k, v in items)
    return f'<div class="kpis">{cells}</div>'


def _p(text: str, cls: str = "") -> str:
    return f'<p{f" class={chr(34)}{cls}{chr(34)}" if cls else ""}>{html.escape(text)}</p>'


def _unit(frame: pd.DataFrame) -> str:
    return "sessions" if "sessions" in frame.columns and "users" not in frame.columns else "users"


# -- key findings -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One sentence of the summary: its text, the section it links to and the tables its numbers come from."""

    text: str
    section: str
    tables: tuple[str, ...]


def _half_time(curve: pd.DataFrame) -> float | None:
    """Seconds by which half of the conversions that happen (by the curve's end) had happened."""
    if curve.empty or "cumulative_conversion" not in curve:
        return None
    final = float(curve["cumulative_conversion"].iloc[-1])
    if not final > 0:
        return None
    reached = curve.loc[curve["cumulative_conversion"] >= final / 2 - 1e-12, "time_s"]
    return float(reached.iloc[0]) if len(reached) else None


def _many(n: Any, noun: str) -> str:
    return f"{fmt.count(n)} {noun}{'' if int(n) == 1 else 's'}"


def _persona(label: Any) -> str:
    text = str(label)
    return text if text.lower().startswith("persona") else f"persona {text}"


def key_findings(tables: Mapping[str, pd.DataFrame], summary: Mapping[str, Any],
                 drift: Any = None) -> list[Finding]:
    """The summary sentences, each computed from the named tables (so every number can be found in a file).

    Covers, when the tables exist: conversion and time to convert, the biggest drop-off point and the persona
    losing most there, the top roadblock, the biggest step the designed map does not expect, the largest
    persona and how it differs, attribution, and drift. At most seven.
    """
    out: list[Finding] = []
    who = "customers"
    ds = tables.get("dropoff_summary")
    if ds is not None and len(ds) == 1:
        unit = _unit(ds)
        who = "customers" if unit == "users" else "sessions"
        n, conv = int(ds[unit].iloc[0]), int(ds["converted"].iloc[0])
        text = f"{fmt.percent(conv / n if n else float('nan'))} of {fmt.count(n)} {who} converted ({fmt.count(conv)})"
        half = _half_time(tables["time_to_convert"]) if "time_to_convert" in tables else None
        if half is not None:
            text += f"; half of the conversions came within {fmt.duration(half)} of the first touch"
        medians = tables.get("time_to_convert_medians")
        if medians is not None and len(medians) == 1 and pd.notna(medians["median_s"].iloc[0]):
            text += f", and half of all {who} had converted after {fmt.duration(medians['median_s'].iloc[0])}"
        if "lost" in ds.columns and int(ds["lost"].iloc[0]):
            text += f"; {fmt.percent(int(ds['lost'].iloc[0]) / n)} were lost"
        out.append(Finding(text + ".", "funnels", ("dropoff_summary", "time_to_convert")))

    drops = tables.get("dropoffs")
    if drops is not None and len(drops):
        unit = _unit(drops)
        top = drops.sort_values([unit, "event"], ascending=[False, True]).iloc[0]
        text = (f"The biggest drop-off point is {top['event']}: {fmt.count(top[unit])} {who} "
                f"({fmt.percent(top['share_of_dropoffs'])} of all drop-offs) left after it")
        used = ("dropoffs",)
        by_persona = tables.get("dropoffs_by_persona")
        if by_persona is not None and "persona" in by_persona and len(by_persona):
            here = by_persona[by_persona["event"] == top["event"]].sort_values([unit, "persona"],
                                                                              ascending=[False, True])
            if len(here):
                p = here.iloc[0]
                text += (f", most of them in {_persona(p['persona'])} ({fmt.count(p[unit])}, "
                         f"{fmt.percent(p['share_of_dropoffs'])} of that persona's drop-offs)")
                used += ("dropoffs_by_persona",)
        out.append(Finding(text + ".", "funnels", used))

    blocks = tables.get("roadblocks")
    if blocks is not None and len(blocks) and "rank" in blocks:
        b = blocks.sort_values("rank").iloc[0]
        parts = []
        if "exit_rate" in b and pd.notna(b["exit_rate"]):
            parts.append(f"{fmt.percent(b['exit_rate'])} of its {'visits' if 'visits' in b else 'visitors'} "
                         "end the journey right after it")
        if "exit_lift" in b and pd.notna(b["exit_lift"]) and b["exit_lift"] > 1:
            parts.append(f"{fmt.lift(b['exit_lift'])} the rate elsewhere")
        if "error_follow_share" in b and pd.notna(b["error_follow_share"]) and b["error_follow_share"] > 0:
            parts.append(f"{fmt.percent(b['error_follow_share'])} are followed by an error")
        detail = f" ({', '.join(parts)})" if parts else ""
        out.append(Finding(f"The strongest roadblock is {b['event']}{detail}.", "funnels", ("roadblocks",)))

    unexpected = tables.get("unexpected")
    if unexpected is not None and len(unexpected):
        u = unexpected.sort_values(["count", "source", "target"], ascending=[False, True, True]).iloc[0]
        text = (f"The biggest step the designed map does not expect is {u['source']} → {u['target']}, "
                f"taken {fmt.count(u['count'])} times")
        if "users" in u:
            text += f" by {fmt.count(u['users'])} {who}"
        used = ("unexpected",)
        overall = tables.get("conformance_overall")
        if overall is not None and "conforming_share" in overall and len(overall):
            unit = "journeys" if "journeys" in overall else ("users" if "users" in overall else None)
            if unit is not None and overall[unit].sum() > 0:
                share = float((overall["conforming_share"] * overall[unit]).sum() / overall[unit].sum())
                text += f"; {fmt.percent(share)} of journeys follow the map exactly"
                used += ("conformance_overall",)
        out.append(Finding(text + ".", "designed", used))

    profiles = tables.get("persona_profiles")
    if profiles is not None and len(profiles) > 1:
        p = profiles.sort_values(["users", "persona"], ascending=[False, True]).iloc[0]
        text = f"The largest persona, {_persona(p['persona'])}, holds {fmt.percent(p['share'])} of {who}"
        if "conversion_rate" in p and pd.notna(p["conversion_rate"]) and ds is not None and len(ds) == 1:
            text += (f" and converts {fmt.percent(p['conversion_rate'])} "
                     f"(all {who}: {fmt.percent(ds['conversion_rate'].iloc[0])})")
        if isinstance(p.get("distinguishing"), str) and p["distinguishing"]:
            text += f"; it stands out by {p['distinguishing'].split(';')[0].strip()}"
        out.append(Finding(text + ".", "personas", ("persona_profiles",)))

    credit = tables.get("attribution")
    if credit is not None and len(credit):
        model = next((m for m in ("markov", "shapley", "linear", "last") if m in credit.columns), None)
        if model is not None and credit[model].sum() > 0:
            touch = credit.columns[0]
            ranked = credit.sort_values([model, touch], ascending=[False, True])
            first = ranked.iloc[0]
            total = float(credit[model].sum())
            text = (f"By the {model.replace('_', ' ')} attribution model, {touch} {first[touch]} earns "
                    f"{fmt.percent(first[model] / total)} of the {fmt.count(total)} attributed conversions")
            if len(ranked) > 1:
                second = ranked.iloc[1]
                text += f", {second[touch]} {fmt.percent(second[model] / total)}"
            out.append(Finding(text + ".", "attribution", ("attribution",)))

    if drift is not None:
        edges = drift.to_frame()
        changed = edges[edges["status"] != "stable"] if "status" in edges else edges.iloc[:0]
        if len(changed):
            delta = (changed["share_after"] - changed["share_before"]).abs()
            e = changed.loc[delta.idxmax()]
            before, after = drift.periods
            text = (f"From {before} to {after}, the step {e['source']} → {e['target']} changed most: "
                    f"{fmt.percent(e['share_before'])} → {fmt.percent(e['share_after'])} of users")
            if "p_adjusted" in e and pd.notna(e["p_adjusted"]):
                text += f" (adjusted p {fmt.p_value(e['p_adjusted'])})"
            out.append(Finding(text + ".", "drift", ("drift_edges",)))
        else:
            out.append(Finding(f"No step changed significantly from {drift.periods[0]} to {drift.periods[1]}.",
                               "drift", ("drift_edges",)))

    if len(out) < 3:
        events = summary.get("events")
        users = summary.get("users")
        if events is not None and users:
            out.insert(0, Finding(f"{fmt.count(users)} customers made {fmt.count(events)} events of "
                                  f"{fmt.count(summary.get('event_types', 0))} kinds, "
                                  f"{fmt.number(events / users)} per customer.", "overview", ("summary",)))
        top_path = tables.get("variants")
        if top_path is not None and len(top_path):
            v = top_path.iloc[0]
            out.append(Finding(f"The most common journey, {v['variant']}, is walked by {_many(v['count'], 'journey')} "
                               f"({fmt.percent(v['share'])}).", "journeys", ("variants",)))
        steps = tables.get("dfg")
        if steps is not None and len(steps):
            e = steps.sort_values(["count", "source", "target"], ascending=[False, True, True]).iloc[0]
            out.append(Finding(f"The most frequent step is {e['source']} → {e['target']}: {_many(e['count'], 'time')} "
                               f"by {_many(e['users'], 'customer')}, typically {fmt.duration(e['median_s'])} apart.",
                               "journeys", ("dfg",)))
    return out[:7]


def _findings_html(findings: list[Finding]) -> str:
    items = "".join(
        f'<li>{html.escape(f.text)} <a class="src" href="#{f.section}">'
        f'{html.escape(", ".join(t + (".json" if t == "summary" else ".csv") for t in f.tables))} ›</a></li>'
        for f in findings)
    return f'<div class="findings" id="summary"><h2>Key findings</h2><ol>{items}</ol></div>'


# -- sections -------------------------------------------------------------------------------------------------


def _overview(a: Any, page: _Page) -> str:
    s, t = a.summary(), a.tables
    body = _kpis([
        ("rows read", fmt.count(s["rows_read"])), ("accepted", fmt.count(s["rows_accepted"])),
        ("quarantined", fmt.count(s["rows_quarantined"])), ("customers", fmt.count(s["users"])),
        ("sessions", fmt.count(s["sessions"]) if s.get("sessions") is not None else "not sessionized"),
        ("event types", fmt.count(s["event_types"])),
    ])
    body += _p(f"Source {s['source']}, {fmt.timestamp(s['time_start'])} to {fmt.timestamp(s['time_end'])}. "
               f"Reconciliation: {fmt.count(s['rows_read'])} read = {fmt.count(s['rows_accepted'])} accepted + "
               f"{fmt.count(s['rows_quarantined'])} quarantined: {'holds' if s['reconciled'] else 'FAILS'}.")
    reasons = pd.DataFrame(list(s["quarantine_reasons"].items()), columns=["reason", "rows"])
    if len(reasons):
        body += "<h3>Quarantined rows</h3>" + _table("quarantine_reasons", reasons, file=False)
        body += _table("quarantine", t["quarantine"].astype(str), rows=10)
    if s.get("channels"):
        channels = pd.DataFrame(list(s["channels"].items()), columns=["channel", "events"])
        channels["share"] = channels["events"] / channels["events"].sum()
        body += "<h3>Channels</h3>" + _table("channels", channels.sort_values("events", ascending=False), file=False)
    if a.skipped:
        body += "<h3>Not computed</h3><ul>" + "".join(
            f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in a.skipped.items()) + "</ul>"
    return body


def _journeys(a: Any, page: _Page) -> str:
    r, t = a.results, a.tables
    body = _p("How customers move from their first touchpoint on: the largest flows between consecutive steps.")
    body += page.figure(r["flows"].plot(), "fig-sankey", 520)
    body += "<h3>Process graph</h3>" + page.figure(r["dfg"].plot(), "fig-process-graph", 560) + _table("dfg", t["dfg"])
    if "step_matrix" in r:
        body += ("<h3>Step matrix</h3>" + _p("Share of journeys at each event by step number; (end) = journeys "
                                            "already over. Each column adds up to 100%.", "note")
                 + page.figure(r["step_matrix"].plot(), "fig-step-matrix"))
    if "transitions" in r:
        body += ("<h3>Transition matrix</h3>"
                 + _p("Share of each event's occurrences followed by each next event (rows add up to 100%).", "note")
                 + page.figure(r["transitions"].plot(), "fig-transitions"))
    if "stage_graph" in r:
        body += "<h3>Lifecycle stages</h3>" + _p("Backward transitions (a later stage back to an earlier one) are "
                                                "flagged.", "note")
        body += page.figure(r["stage_graph"].plot(), "fig-stage-graph", 420) + _table("stage_graph", t["stage_graph"])
    body += "<h3>Variants</h3>" + page.figure(r["variants"].plot(), "fig-variants")
    body += _table("variants", t["variants"], 10)
    body += "<h3>Loops</h3>"
    body += (page.figure(r["loops"].plot(), "fig-loops") + _table("loops", t["loops"], 10)) if len(t["loops"]) else \
        _p("No loops above the support threshold.")
    return body


def _funnels(a: Any, page: _Page) -> str:
    r, t = a.results, a.tables
    body = ""
    if "funnel" in r:
        body += page.figure(r["funnel"].plot(), "fig-funnel", 380)
        table = t["funnel"]
        first = table["step_index"] == table["step_index"].min()
        table = table.assign(median_time_from_previous_s_note=np.where(first, "first step", "nobody reached the step"))
        body += _table("funnel", table, reasons={"conversion_from_previous": "no journeys at the step before"})
    if "dropoffs" in r:
        body += ("<h3>Drop-off points</h3>" + _p(
            "A journey has dropped off when it never reached the goal and was inactive for the inactivity period "
            "before the end of observation; the others are censored (maybe still on their way) and never counted "
            "as drop-offs.", "note"))
        body += _table("dropoff_summary", t["dropoff_summary"]) + page.figure(r["dropoffs"].plot(), "fig-dropoffs")
        body += _table("dropoffs", t["dropoffs"])
    if "time_to_convert" in r:
        medians = t["time_to_convert_medians"]
        body += "<h3>Time to convert</h3>" + page.figure(r["time_to_convert"].plot(), "fig-time-to-convert", 380)
        if "median_note" not in medians:  # the reason a median is missing, from the curve
            curve = t["time_to_convert"]
            final = float(curve["cumulative_conversion"].iloc[-1]) if len(curve) else float("nan")
            medians = medians.assign(median_note=f"not reached: {fmt.percent(final)} converted")
            medians.loc[medians["median_s"].notna(), "median_note"] = ""
        body += _table("time_to_convert_medians", medians.rename(columns={"median_note": "median_s_note"}))
    if "roadblocks" in r:
        body += "<h3>Roadblocks</h3>" + page.figure(r["roadblocks"].plot(), "fig-roadblocks")
        body += _table("roadblocks", t["roadblocks"][[c for c in t["roadblocks"].columns if not c.endswith("_pct")]],
                       reasons={"exit_lift": "no drop-offs to compare with", "dwell_median_s": "never followed"})
    return body or _p("No goal was given.")


def _personas(a: Any, page: _Page) -> str:
    r, t = a.results, a.tables
    prof = r["persona_profiles"]
    table = t["persona_profiles"]
    body = "<ul>" + "".join(f"<li>{html.escape(str(d))}</li>" for d in table.get("description", [])) + "</ul>"
    if "persona_sample" in a.parameters:
        body += _p(f"Fitted and described on a seeded sample of {a.parameters['persona_sample']:,} customers; "
                   "every customer is labelled by the fitted model.", "note")
    body += page.figure(prof.plot(), "fig-persona-heatmap", 460)
    body += _table("persona_profiles", table.drop(columns=["description"], errors="ignore"),
                   reasons={"main_dropoff": "none dropped off", "main_loop": "no loop", "conversion_rate": "no goal"})
    if "persona_k_scores" in t:
        body += _p("How many personas: the scores of each number tried; the chosen one is marked.", "note")
        body += _table("persona_k_scores", t["persona_k_scores"])
    if "dropoffs_by_persona" in t:
        body += "<h3>Drop-off points per persona</h3>" + _table("dropoffs_by_persona", t["dropoffs_by_persona"], 20)
    if "segments" in r:
        seg = r["segments"]
        body += (f"<h3>{html.escape(str(seg.a))} vs {html.escape(str(seg.b))}</h3>"
                 + _p("The two largest personas compared user by user: each customer counts once; p-values from "
                      "Fisher's exact test (shares) and the Mann–Whitney U test (distributions).", "note")
                 + _table("segments", t["segments"], rows_by="metric", headers={"a": str(seg.a), "b": str(seg.b)})
                 + page.figure(seg.plot(), "fig-segments")
                 + _table("segment_events", t["segment_events"], 10))
    if "step_matrix_difference" in r:
        body += ("<h3>Differential step matrix</h3>"
                 + _p("Share of journeys at each event by step, first persona minus second.", "note")
                 + page.figure(r["step_matrix_difference"].plot(), "fig-step-matrix-difference"))
    return body


def _attribution(a: Any, page: _Page) -> str:
    r, t = a.results, a.tables
    credit = r["attribution"]
    body = _p(f"{fmt.count(credit.conversions)} conversions shared among the {credit.touchpoint}s by each model "
              f"({fmt.count(credit.unattributed)} had no touch in their window).", "note")
    body += page.figure(credit.plot(), "fig-attribution", 420) + _table("attribution", t["attribution"])
    return body


def _prediction(a: Any, page: _Page) -> str:
    r, t = a.results, a.tables
    body = _p("Models fitted on the customers whose journeys started first and scored on the later third "
              "(whole customers on either side); the next steps below come from models fitted on everyone.", "note")
    body += _table("prediction_quality", t["prediction_quality"])
    body += page.figure(r["next_steps"].plot(), "fig-next-steps", 420)
    body += _p("Each active customer's three most likely next events (<end>: the journey ends) and the chance "
               "to reach the goal within 30 days. Associations learnt from the past, not effects of acting.", "note")
    return body + _table("next_steps", t["next_steps"], 15)


def _value(a: Any, page: _Page) -> str:
    r, t = a.results, a.tables
    return page.figure(r["value"].plot(), "fig-value", 460) + _table("value", t["value"], 40)


def _retention(a: Any, page: _Page) -> str:
    r, t = a.results, a.tables
    ret = r["retention"]
    body = _p(f"Share of each first-touch {ret.period}'s customers active again k {ret.period}s later; \"not yet\": "
              f"that {ret.period} is after the end of the log.", "note")
    body += page.figure(ret.plot(), "fig-retention", 460)
    not_yet = {c: "not yet" for c in map(str, t["retention"].columns)}
    return body + _table("retention", t["retention"], 20, reasons=not_yet)


def _designed(a: Any, page: _Page) -> str:
    r, t = a.results, a.tables
    c = r["conformance"]
    body = _table("conformance_overall", t["conformance_overall"])
    body += page.figure(c.plot(), "fig-designed-vs-observed", 620)
    body += "<h3>Unexpected transitions</h3>" + _table("unexpected", t["unexpected"])
    body += "<h3>Designed transitions never or rarely taken</h3>" + _table("missing", t["missing"])
    body += "<h3>Stage order violations</h3>" + _table("stage_order_violations", t["stage_order_violations"])
    body += "<h3>Targets</h3>" + _table("targets", t["targets"])
    return body


def _drift(drift: Any, page: _Page) -> str:
    body = page.figure(drift.plot(), "fig-drift") + _table("drift_edges", drift.to_frame())
    body += _table("drift_variants", drift.variants, 10)
    if len(drift.outcomes):
        body += _table("drift_outcomes", drift.outcomes)
    return body


def _export(a: Any, page: _Page) -> str:
    t = a.tables["journeys"]
    return (_p("One row per customer: the path, how the journey ended, the persona, first and last touch.", "note")
            + _table("journeys", t, 10))


def render(analysis: Any, drift: Any = None, title: str = "Journey report") -> str:
    """The report HTML of an :class:`~journeylens.app.pipeline.Analysis` (and optionally a drift result)."""
    a, r = analysis, analysis.results
    page = _Page(figures={})
    sections: list[tuple[str, str, str]] = []

    def add(sid: str, name: str, build: Any, *args: Any) -> None:
        sections.append((sid, name, build(*args)))

    add("overview", "Data and quality", _overview, a, page)
    add("journeys", "Journeys and loops", _journeys, a, page)
    add("funnels", "Funnels and drop-offs", _funnels, a, page)
    if "persona_profiles" in r:
        add("personas", "Personas", _personas, a, page)
    if "attribution" in r:
        add("attribution", "Attribution", _attribution, a, page)
    if "value" in r:
        add("value", "Value", _value, a, page)
    if "next_steps" in r:
        add("prediction", "Next steps and conversion chances", _prediction, a, page)
    if "retention" in r:
        add("retention", "Retention", _retention, a, page)
    if "conformance" in r:
        add("designed", "Designed vs observed", _designed, a, page)
    if drift is not None:
        add("drift", "Drift between periods", _drift, drift, page)
    if "journeys" in a.tables:
        add("export", "Per-customer journeys", _export, a, page)

    findings = key_findings(a.tables, a.summary(), drift)
    nav = '<a href="#summary">Key findings</a>' + "".join(
        f'<a href="#{sid}">{html.escape(name)}</a>' for sid, name, _ in sections)
    content = "".join(f'<section id="{sid}"><h2>{html.escape(name)}</h2>{body}</section>'
                      for sid, name, body in sections)
    s = a.summary()
    subtitle = (f"{fmt.count(s['users'])} customers, {fmt.count(s['events'])} events, "
                f"{fmt.timestamp(s['time_start'])} to {fmt.timestamp(s['time_end'])}")
    plotly_stream, plotly_size = packed_plotly()
    figures = json.dumps(page.figures, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    scripts = (payload_element("jl-plotly", plotly_stream, plotly_size)
               + payload_element("jl-figures", pack(figures), len(figures))
               + f"<script>{UNPACK_JS}</script><script>{BOOT_JS}</script>")
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p></header><nav>{nav}</nav>"
        f"<main>{_findings_html(findings)}{content}</main>{scripts}</body></html>"
    )
