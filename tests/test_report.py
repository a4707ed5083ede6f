"""The HTML report in a real headless Chromium: sections and figures render, nothing runs that should not,
no network request is made; the CSVs beside it are safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"
FORMULA = '=HYPERLINK("http://example.invalid","x")'

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


def _browser():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Chromium is not installed: run `make install` (it installs the Debian chromium package)")
    return path


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """A CSV of 400 customers whose event names include script, markup and a spreadsheet formula."""
    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("report")
    names = ["ad", "newsletter", "landing", "product", SCRIPT, IMG, FORMULA, "cart", "order"]
    rows = []
    for u in range(400):
        t = pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=int(rng.integers(0, 24 * 60)))
        path = ["ad" if u % 2 else "newsletter", "landing", "product"]
        path += list(rng.choice([SCRIPT, IMG, FORMULA, "product", "landing"], size=int(rng.integers(0, 3))))
        if u % 3:
            path += ["cart"] + (["order"] if u % 5 else [])
        for k, event in enumerate(path):
            rows.append({"customer": f"c{u:04d}", "when": (t + pd.Timedelta(minutes=5 * k)).isoformat(),
                         "what": event, "via": ["web", "app", "E-mail"][u % 3]})
    events = folder / "events.csv"
    pd.DataFrame(rows).to_csv(events, index=False)
    (folder / "map.yaml").write_text(MAP.format(script=SCRIPT.replace('"', '\\"')))
    out = folder / "out"
    done = subprocess.run(
        [sys.executable, "-m", "journeylens.app.cli", "analyze", str(events), "--user", "customer", "--time", "when",
         "--event", "what", "--channel", "via", "--map", str(folder / "map.yaml"), "--out", str(out), "--quiet"],
        capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert set(names) >= {"order"}
    return out


def test_all_outputs_are_written_and_reconciled(analysed):
    summary = json.loads((analysed / "summary.json").read_text())
    expected = {"summary.json", "quarantine.csv", "dfg.csv", "stage_graph.csv", "variants.csv", "loops.csv",
                "funnel.csv", "dropoffs.csv", "personas.csv", "persona_profiles.csv", "conformance.csv",
                "unexpected.csv", "missing.csv", "report.html"}
    assert expected <= {p.name for p in analysed.iterdir()}
    assert set(summary["outputs"]) >= expected
    assert summary["rows_read"] == summary["rows_accepted"] + summary["rows_quarantined"]
    personas = pd.read_csv(analysed / "personas.csv")
    assert list(personas.columns) == ["user_id", "persona"] and len(personas) == summary["users"]


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


def test_report_in_headless_chromium(analysed):
    playwright = pytest.importorskip("playwright.sync_api")
    report = analysed / "report.html"
    text = report.read_text(encoding="utf-8")
    assert SCRIPT not in text and IMG not in text  # escaped everywhere in the markup
    console, errors, dialogs, requests = [], [], [], []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_browser(), args=["--no-sandbox"])
        page = browser.new_page()
        page.on("console", lambda m: console.append((m.type, m.text)))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(report.as_uri(), wait_until="load")
        page.wait_for_timeout(1000)
        sections = page.evaluate("[...document.querySelectorAll('section')].map(s => s.id)")
        figures = page.evaluate("[...document.querySelectorAll('.js-plotly-plot')].map(d => d.id)")
        rendered = page.evaluate("document.querySelectorAll('.js-plotly-plot .main-svg').length")
        pwned = page.evaluate("document.body.getAttribute('data-pwned')")
        visible = page.evaluate("document.body.innerText")
        browser.close()
    assert sections == ["overview", "journeys", "funnels", "personas", "designed"]
    assert {"fig-sankey", "fig-process-graph", "fig-stage-graph", "fig-funnel", "fig-dropoffs",
            "fig-time-to-convert", "fig-persona-heatmap", "fig-designed-vs-observed"} <= set(figures)
    assert rendered >= len(figures)  # every figure drew its SVG
    assert [m for m in console if m[0] == "error"] == [] and errors == []
    assert dialogs == [] and pwned is None  # the hostile names did not run
    assert SCRIPT in visible  # ... and are shown as text
    assert requests == [report.as_uri()]  # no network request at all
