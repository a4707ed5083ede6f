"""A newcomer's first hour on the bundled sample, checked against plain pandas (tests/sample_reference.py).

These tests are also the core of the minimum-versions lane (``make test-min``):
load → sessionize → dfg → variants → funnel → drop-offs → report, and
``journeylens analyze`` on the sample.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pandas as pd
import pytest

import journeylens as jl
from tests import sample_reference as ref


@pytest.fixture(scope="module")
def log():
    return jl.datasets.load_sample()


def test_sample_loads_and_reconciles(log):
    s = log.summary()
    want = ref.counts()
    assert {k: s[k] for k in ("rows_read", "rows_accepted", "rows_quarantined", "users")} == {
        k: want[k] for k in ("rows_read", "rows_accepted", "rows_quarantined", "users")}
    assert s["quarantine_reasons"] == {"duplicate": 6, "missing_user": 4, "unparsable_time": 4}


def test_sessionize_matches_pandas(log):
    sessions = jl.sessionize(log, gap="30min").to_pandas()["session_id"]
    assert sessions.nunique() == ref.counts()["sessions"]


def test_dfg_matches_pandas(log):
    table = jl.dfg(log).to_frame()
    got = {(a, b): int(c) for a, b, c in table[["source", "target", "count"]].itertuples(index=False)}
    assert got == ref.dfg()


def test_variants_match_pandas(log):
    table = jl.variants(log, top=10).to_frame()
    assert [(tuple(v), int(c)) for v, c in table[["variant", "count"]].itertuples(index=False)] == ref.variants(10)


def test_funnel_matches_pandas(log):
    assert jl.funnel(log, ref.FUNNEL).to_frame()["users"].tolist() == ref.funnel()


def test_dropoffs_match_pandas(log):
    table = jl.dropoffs(log, ref.GOAL, inactivity="7d").to_frame()
    assert dict(zip(table["event"], table["users"].astype(int))) == ref.dropoffs()


def test_report_on_the_sample(log, tmp_path):
    path = tmp_path / "report.html"
    written = jl.report(log, path, journey_map=jl.datasets.sample_map_path(), title="Sample report")
    assert written == path
    text = path.read_text(encoding="utf-8")
    want = ref.counts()
    sections = re.findall(r'<section id="([a-z]+)">', text)
    assert {"overview", "journeys", "funnels", "personas", "designed"} <= set(sections)
    assert f"{want['rows_read']:,} read = {want['rows_accepted']:,} accepted + {want['rows_quarantined']:,}" in text
    for figure in ("fig-process-graph", "fig-funnel", "fig-dropoffs", "fig-designed-vs-observed"):
        assert f'id="{figure}"' in text


def test_cli_analyze_on_the_sample(tmp_path):
    out = tmp_path / "out"
    mapping = [arg for role, column in jl.datasets.SAMPLE_MAPPING.items() for arg in (f"--{role}", column)]
    done = subprocess.run(
        [sys.executable, "-m", "journeylens.app.cli", "analyze", str(jl.datasets.sample_path()), *mapping,
         "--map", str(jl.datasets.sample_map_path()), "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=300)
    assert (done.returncode, done.stderr) == (0, "")
    summary = json.loads((out / "summary.json").read_text())
    want = ref.counts()
    assert {k: summary[k] for k in want} == want
    assert summary["reconciled"] is True
    dfg = pd.read_csv(out / "dfg.csv")
    assert {(a, b): int(c) for a, b, c in dfg[["source", "target", "count"]].itertuples(index=False)} == ref.dfg()
    assert (out / "report.html").stat().st_size > 100_000
