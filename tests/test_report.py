"""The HTML report in a real headless Chromium, on hostile names, on the bundled sample and on a real log:
key findings first, nothing wider than the window, no raw numbers, small, offline, printable; nothing from
the data runs, links or fetches; the CSVs beside it are safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import journeylens as jl
from journeylens.app.report import Finding, key_findings
from journeylens.viz.figures import plain_figure
from conftest import shared_file

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"
FORMULA = '=HYPERLINK("http://example.invalid","x")'
LINK = '<a href="https://evil.example/">x</a>'
STYLED = '<span style="background:url(https://evil.example/a.png)">y</span>'
EVIL = "evil.example"
#: the size limit of the sample's report
MAX_BYTES = 1_500_000

MAP = """name: hostile names
stages:
  - name: awareness
    touchpoints: [ad, newsletter]
  - name: consideration
    touchpoints: [landing, product, "{script}"]
  - name: decision
    touchpoints: [cart, order]
transitions:
  - [ad, landing]
  - [newsletter, landing]
  - [landing, product]
  - [product, cart]
  - [cart, order]
start: [ad, newsletter]
conversion: order
"""

# What the page says about itself once its figures are drawn: every fact a test below needs.
INSPECT = """() => {
  const all = [...document.querySelectorAll('*')];
  const links = all.flatMap(e => ['href', 'xlink:href', 'src', 'action', 'formaction']
      .map(a => e.getAttribute(a)).filter(v => v));
  const styles = all.map(e => { const s = getComputedStyle(e);
      return [s.backgroundImage, s.listStyleImage, s.borderImageSource, s.content, s.cursor].join(' '); })
      .filter(v => v.includes('url('));
  return {
    figures: document.documentElement.dataset.figures || null,
    sections: [...document.querySelectorAll('section')].map(s => s.id),
    plots: [...document.querySelectorAll('.js-plotly-plot')].map(d => d.id),
    drawn: document.querySelectorAll('.js-plotly-plot .main-svg').length,
    findings: [...document.querySelectorAll('#summary li')].map(li => ({
        text: li.innerText, href: li.querySelector('a') && li.querySelector('a').getAttribute('href')})),
    firstHeading: document.querySelector('main h2').innerText,
    scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
    widest: Math.max(...all.filter(e => !(e.parentElement && e.parentElement.closest('.table-wrap, .figure')))
        .map(e => e.getBoundingClientRect().right)),  // tables and figures clip what they hold
    text: document.body.innerText,
    svgText: [...document.querySelectorAll('svg text')].map(t => t.textContent).join(' | '),
    links, styles,
    styled: all.filter(e => (e.getAttribute('style') || '').includes('evil.example')).length,
    pwned: document.body.getAttribute('data-pwned'),
  };
}"""


def _browser_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Chromium is not installed: run `make install` (it installs the Debian chromium package)")
    return path


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=_browser_path(), args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _open(browser, report: Path, width: int, shots: Path | None = None, pdf: bool = False) -> dict:
    """Load ``report`` at ``width`` px, wait for its figures, and collect what the page shows and did."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    events: dict = {"console": [], "errors": [], "dialogs": [], "requests": []}
    page.on("console", lambda m: events["console"].append((m.type, m.text)))
    page.on("pageerror", lambda e: events["errors"].append(str(e)))
    page.on("dialog", lambda d: (events["dialogs"].append(d.message), d.dismiss()))
    page.on("request", lambda r: events["requests"].append(r.url))
    page.goto(report.as_uri(), wait_until="load")
    page.wait_for_function("document.documentElement.dataset.figures", timeout=120_000)
    page.wait_for_timeout(300)
    facts = {**page.evaluate(INSPECT), **events}
    if shots is not None:
        page.screenshot(path=str(shots / f"{report.stem}_{width}.png"))
    if pdf:
        facts["pdf"] = page.pdf(format="A4", print_background=True)
    page.close()
    return facts


def _shots(tmp_path: Path) -> Path:
    """Screenshots go to $JOURNEYLENS_SCREENSHOTS when set (to look at them), else to the test's folder."""
    folder = Path(os.environ.get("JOURNEYLENS_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# -- a log with hostile names, through the CLI --------------------------------------------------------------


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """A CSV of 400 customers whose event names include script, markup, links, styles and a formula."""
    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("report")
    hostile = [SCRIPT, IMG, FORMULA, LINK, STYLED]
    rows = []
    for u in range(400):
        t = pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=int(rng.integers(0, 24 * 60)))
        path = ["ad" if u % 2 else "newsletter", "landing", "product"]
        path += list(rng.choice(hostile + ["product", "landing"], size=int(rng.integers(0, 4))))
        if u % 3:
            path += ["cart"] + (["order"] if u % 5 else [])
        for k, event in enumerate(path):
            rows.append({"customer": f"c{u:04d}", "when": (t + pd.Timedelta(minutes=5 * k)).isoformat(),
                         "what": event, "via": ["web", "app", LINK][u % 3]})
    events = folder / "events.csv"
    pd.DataFrame(rows).to_csv(events, index=False)
    (folder / "map.yaml").write_text(MAP.format(script=SCRIPT.replace('"', '\\"')))
    out = folder / "out"
    done = subprocess.run(
        [sys.executable, "-m", "journeylens.app.cli", "analyze", str(events), "--user", "customer", "--time", "when",
         "--event", "what", "--channel", "via", "--map", str(folder / "map.yaml"), "--out", str(out), "--quiet"],
        capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return out


def test_all_outputs_are_written_and_reconciled(analysed):
    summary = json.loads((analysed / "summary.json").read_text())
    expected = {"summary.json", "quarantine.csv", "dfg.csv", "stage_graph.csv", "variants.csv", "loops.csv",
                "funnel.csv", "dropoffs.csv", "personas.csv", "persona_profiles.csv", "conformance.csv",
                "unexpected.csv", "missing.csv", "report.html", "step_matrix.csv", "transitions.csv",
                "retention.csv", "attribution.csv", "journeys.csv", "time_to_convert_medians.csv"}
    assert expected <= {p.name for p in analysed.iterdir()}
    assert set(summary["outputs"]) >= expected
    assert summary["rows_read"] == summary["rows_accepted"] + summary["rows_quarantined"]
    personas = pd.read_csv(analysed / "personas.csv")
    assert list(personas.columns) == ["user_id", "persona"] and len(personas) == summary["users"]
    journeys = pd.read_csv(analysed / "journeys.csv")
    assert len(journeys) == summary["users"] and {"path", "converted", "persona", "days_to_convert"} <= set(journeys)


def test_csv_cells_never_start_a_formula(analysed):
    for path in analysed.glob("*.csv"):
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                for cell in row:
                    assert not cell.startswith(("=", "+", "@")), (path.name, cell)
                    assert not (cell.startswith("-") and not _is_number(cell)), (path.name, cell)
    dfg = pd.read_csv(analysed / "dfg.csv")
    assert ("'" + FORMULA) in set(dfg["source"]) | set(dfg["target"])  # kept, neutralised, not dropped


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def test_hostile_names_neither_run_nor_link_nor_fetch(analysed, browser, tmp_path):
    report = analysed / "report.html"
    markup = report.read_text(encoding="utf-8")
    assert SCRIPT not in markup and IMG not in markup and LINK not in markup and STYLED not in markup
    facts = _open(browser, report, 1400, shots=_shots(tmp_path))
    assert facts["figures"] == "ready"
    assert facts["sections"] == ["overview", "journeys", "funnels", "personas", "attribution", "retention",
                                 "designed", "export"]
    assert {"fig-sankey", "fig-process-graph", "fig-step-matrix", "fig-transitions", "fig-stage-graph", "fig-funnel",
            "fig-dropoffs", "fig-time-to-convert", "fig-persona-heatmap", "fig-attribution", "fig-retention",
            "fig-designed-vs-observed"} <= set(facts["plots"])
    assert facts["drawn"] >= len(facts["plots"])  # every figure drew its SVG
    assert [m for m in facts["console"] if m[0] == "error"] == [] and facts["errors"] == []
    assert facts["dialogs"] == [] and facts["pwned"] is None  # the hostile names did not run
    assert [link for link in facts["links"] if EVIL in link] == []  # ... link nowhere
    assert [r for r in facts["requests"] if EVIL in r] == [] and facts["requests"] == [report.as_uri()]
    assert [s for s in facts["styles"] if EVIL in s] == [] and facts["styled"] == 0  # ... style nothing
    assert SCRIPT in facts["text"] and LINK in facts["text"]  # ... and are shown as text, in tables
    assert LINK in facts["svgText"] or STYLED in facts["svgText"]  # ... and in figures
    narrow = _open(browser, report, 1024, shots=_shots(tmp_path))
    assert narrow["scrollWidth"] <= 1024 and narrow["widest"] <= 1024 + 1  # long names wrap inside the page


# -- the bundled sample and a real log --------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory):
    path = tmp_path_factory.mktemp("sample") / "sample.html"
    written = jl.report(jl.datasets.load_sample(), path, journey_map=jl.datasets.sample_map_path())
    assert written == path  # the path, not the HTML
    return path


@pytest.fixture(scope="module")
def ecom_report(tmp_path_factory):
    log = jl.read_csv(shared_file("clickstream", "ecom.csv.gz"), channel="acquisition_channel")
    path = tmp_path_factory.mktemp("ecom") / "ecom.html"
    return jl.report(log, path, goal="purchase", title="ecom")


def _check_reader_view(browser, report: Path, tmp_path: Path) -> dict:
    wide = _open(browser, report, 1400, shots=_shots(tmp_path))
    narrow = _open(browser, report, 1024, shots=_shots(tmp_path), pdf=True)
    for facts in (wide, narrow):
        assert facts["figures"] == "ready" and facts["errors"] == []
        assert facts["firstHeading"] == "Key findings"  # the summary comes first
        assert 3 <= len(facts["findings"]) <= 7
        for finding in facts["findings"]:
            assert re.search(r"\d", finding["text"]) and finding["href"].lstrip("#") in facts["sections"]
        for text in (facts["text"], facts["svgText"]):
            assert "e+0" not in text and "NaN" not in text
        assert facts["requests"] == [report.as_uri()]  # offline
    assert narrow["scrollWidth"] <= 1024 and narrow["widest"] <= 1024 + 1  # nothing wider than the window
    pdf = narrow["pdf"]
    assert pdf[:5] == b"%PDF-" and pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") > 3
    return narrow


def test_sample_report_in_chromium(sample_report, browser, tmp_path):
    assert sample_report.stat().st_size <= MAX_BYTES
    facts = _check_reader_view(browser, sample_report, tmp_path)
    text = facts["findings"][0]["text"]
    assert "of 2,000 customers converted" in text  # thousand separators, shares in %
    assert any("product_page → compare_page" in f["text"] for f in facts["findings"])  # the planted detour


def test_real_log_report_in_chromium(ecom_report, browser, tmp_path):
    facts = _check_reader_view(browser, ecom_report, tmp_path)
    assert any("purchase" in s or "converted" in s for s in (f["text"] for f in facts["findings"]))


def test_process_log_report_in_chromium(browser, tmp_path):
    """A process log without goal, map or channel, with long activity names."""
    log = jl.read(shared_file("process", "receipt.csv.gz"))
    report = jl.report(log, tmp_path / "receipt.html", title="receipt")
    facts = _check_reader_view(browser, report, tmp_path)
    assert "funnels" in facts["sections"] and "No goal was given." in facts["text"]


# -- key findings from tables ---------------------------------------------------------------------------


def test_key_findings_are_the_tables_numbers():
    tables = {
        "dropoff_summary": pd.DataFrame({"users": [2000], "converted": [809], "dropped_off": [1062], "censored": [129],
                                         "conversion_rate": [0.4045], "dropoff_rate": [0.531]}),
        "time_to_convert": pd.DataFrame({"time_s": [60.0, 3600.0, 7200.0, 86_400.0 * 3],
                                         "cumulative_conversion": [0.1, 0.15, 0.3, 0.4]}),
        "time_to_convert_medians": pd.DataFrame({"users": [2000], "converted": [809], "median_s": [np.nan]}),
        "dropoffs": pd.DataFrame({"event": ["cart", "product_page"], "users": [132, 293],
                                  "share_of_dropoffs": [0.124, 0.276], "rank": [2, 1]}),
        "dropoffs_by_persona": pd.DataFrame({"persona": ["persona 1", "persona 3"], "event": ["product_page"] * 2,
                                             "users": [82, 142], "share_of_dropoffs": [0.29, 0.37], "rank": [1, 1]}),
        "unexpected": pd.DataFrame({"source": ["compare_page", "product_page"], "target": ["product_page",
                                                                                          "compare_page"],
                                    "count": [1823, 1941], "users": [662, 724]}),
        "attribution": pd.DataFrame({"channel": ["ads", "web"], "markov": [300.0, 500.0], "last": [1.0, 2.0]}),
    }
    found = key_findings(tables, {"users": 2000, "events": 22391})
    assert [f.section for f in found] == ["funnels", "funnels", "designed", "attribution"]
    assert found[0].text.startswith("40% of 2,000 customers converted (809); half of the conversions came within "
                                    "2 h of the first touch")  # 0.3 ≥ 0.4 / 2 first at 7,200 s
    assert "product_page: 293 customers (28% of all drop-offs)" in found[1].text
    assert "most of them in persona 3 (142, 37% of that persona's drop-offs)" in found[1].text
    assert "product_page → compare_page, taken 1,941 times by 724 customers" in found[2].text
    assert "web earns 62% of the 800 attributed conversions, ads 38%" in found[3].text
    assert all(isinstance(f, Finding) and f.tables for f in found)


def test_plain_figure_keeps_plotly_tags_and_neutralises_the_rest():
    spec = {"data": [{"text": [LINK, STYLED, "a<br>b", "<extra></extra>", "x < y"]}], "layout": {"title": "<b>t</b>"}}
    out = plain_figure(spec)
    assert out["data"][0]["text"] == ["&lt;a href=\"https://evil.example/\">x&lt;/a>",
                                      "&lt;span style=\"background:url(https://evil.example/a.png)\">y&lt;/span>",
                                      "a<br>b", "<extra></extra>", "x &lt; y"]
    assert out["layout"]["title"] == "<b>t</b>"


def test_static_images_of_figures(tmp_path):
    """With kaleido (optional, from PyPI) every figure is written as PNG, SVG or PDF through the installed
    Chromium; names from the data stay text in the SVG."""
    pytest.importorskip("kaleido", reason="static images need the optional kaleido package")
    from journeylens.mining.steps import step_matrix
    from journeylens.viz.figures import write_images

    log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "b"], "time": pd.date_range("2024-01-01", periods=3),
                                       "event": [LINK, "y", "y"]}))
    figures = {"steps": step_matrix(log, depth=2).plot(), "dfg": jl.dfg(log).plot()}
    for fmt, magic in (("png", b"\x89PNG"), ("svg", b"<svg"), ("pdf", b"%PDF")):
        paths = write_images(figures, tmp_path / fmt, format=fmt)
        assert [p.name for p in paths] == [f"steps.{fmt}", f"dfg.{fmt}"]
        assert all(p.read_bytes().startswith(magic) for p in paths)
    svg = (tmp_path / "svg" / "steps.svg").read_text()
    assert "<a " not in svg and "&#60;a href" in svg  # the name, as escaped text: no link element


def test_value_section_when_the_log_has_value(tmp_path):
    """A log read with value= gets the value section: per customer, path, persona and channel."""
    from journeylens.app.report import render

    frame = pd.read_csv(jl.datasets.sample_path())
    frame["revenue"] = np.where(frame["Touchpoint"] == "order_placed", 40.0 + (np.arange(len(frame)) % 7), np.nan)
    path = tmp_path / "sample_with_revenue.csv"
    frame.to_csv(path, index=False)
    log = jl.read(path, **jl.datasets.SAMPLE_MAPPING, value="revenue")
    analysis = jl.run_analysis(log, journey_map=jl.datasets.sample_map_path())
    value = analysis.tables["value"]
    assert set(value["dimension"]) == {"all", "path", "persona", "channel"}
    total = value[(value["dimension"] == "all") & (value["key"] == "all customers")]["value"].iloc[0]
    assert total == pytest.approx(log.to_pandas()["value"].sum())
    per_persona = value[value["dimension"] == "persona"]
    assert per_persona["value"].sum() == pytest.approx(total) and per_persona["users"].sum() == 2000
    html = render(analysis)
    assert '<section id="value">' in html and 'id="fig-value"' in html and "value.csv" in html


def test_drift_has_its_finding_and_section():
    from journeylens.app.report import render

    log = jl.datasets.load_sample()
    analysis = jl.run_analysis(log, journey_map=jl.datasets.sample_map_path(), personas=None)
    change = jl.drift(log, split_at="2025-02-15")
    found = key_findings(analysis.tables, analysis.summary(), change)
    edges = change.to_frame()
    moved = edges[edges["status"] != "stable"]
    drift = [f for f in found if f.section == "drift"]
    assert len(drift) == 1 and drift[0].tables == ("drift_edges",)
    if len(moved):
        top = moved.loc[(moved["share_after"] - moved["share_before"]).abs().idxmax()]
        assert f"{top['source']} → {top['target']} changed most" in drift[0].text
    else:
        assert drift[0].text.startswith("No step changed significantly")
    page = render(analysis, drift=change)
    assert '<section id="drift">' in page and 'href="#drift"' in page
