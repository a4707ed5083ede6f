"""The ``journeylens analyze`` command: outputs, reconciliation, exit codes, quiet mode."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

CSV = """Cust,At,What,Via
u1,2024-03-01T10:00:00+01:00,landing_page,Web
u1,2024-03-01T10:05:00+01:00,product_page,web
u1,2024-03-01T12:00:00+01:00,order_placed,App
u2,2024-03-02 09:00:00,newsletter_open,E-mail
u2,not a time,landing_page,web
,2024-03-02 09:10:00,landing_page,web
u2,2024-03-02 09:00:00,newsletter_open,E-mail
"""

MAP = """name: tiny
stages:
  - name: awareness
    touchpoints: [newsletter_open, landing_page]
  - name: decision
    touchpoints: [product_page, order_placed]
transitions:
  - [newsletter_open, landing_page]
  - [landing_page, product_page]
  - [product_page, order_placed]
start: [newsletter_open, landing_page]
conversion: order_placed
"""

ROLES = ["--user", "Cust", "--time", "At", "--event", "What", "--channel", "Via"]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "journeylens.app.cli", *args], capture_output=True, text=True)


@pytest.fixture
def events(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(CSV)
    (tmp_path / "map.yaml").write_text(MAP)
    return path


def test_analyze_writes_reconciled_summary_and_quarantine(events, tmp_path):
    out = tmp_path / "out"
    done = _run("analyze", str(events), *ROLES, "--map", str(tmp_path / "map.yaml"), "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # quiet means quiet
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["rows_read"], summary["rows_accepted"], summary["rows_quarantined"]) == (7, 4, 3)
    assert summary["reconciled"] is True
    assert summary["quarantine_reasons"] == {"duplicate": 1, "missing_user": 1, "unparsable_time": 1}
    assert summary["users"] == 2 and summary["sessions"] == 3  # u1: 10:00-10:05, 12:00; u2: one
    assert summary["channels"] == {"app": 1, "email": 1, "web": 2}
    assert summary["goal"] == ["order_placed"]
    quarantine = pd.read_csv(out / "quarantine.csv")
    assert sorted(quarantine["source_row"]) == [5, 6, 7]
    assert dict(zip(quarantine["source_row"], quarantine["reason"])) == {
        5: "unparsable_time", 6: "missing_user", 7: "duplicate"}


def test_progress_and_result_line_go_to_stderr(events, tmp_path):
    done = _run("analyze", str(events), *ROLES, "--out", str(tmp_path / "o"))
    assert done.returncode == 0
    assert "7 rows read, 4 accepted, 3 quarantined" in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["--user", "Nope"], 1, ["Nope", "Cust"]),  # unknown column: names the available ones
        (["--gap", "soon"], 1, ["gap"]),
        (["--map", "missing.yaml"], 1, ["missing.yaml"]),
        (["--no-such-option"], 2, ["no-such-option"]),
    ],
)
def test_bad_requests_exit_non_zero_with_one_line(events, tmp_path, args, code, words):
    done = _run("analyze", str(events), *ROLES, *args, "--out", str(tmp_path / "o"), "--quiet")
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    if code == 1:
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    for word in words:
        assert word in done.stderr


def test_missing_file_and_empty_result(tmp_path):
    done = _run("analyze", str(tmp_path / "nothing.csv"), "--quiet")
    assert done.returncode == 1 and "nothing.csv" in done.stderr
    bad = tmp_path / "allbad.csv"
    bad.write_text("user_id,timestamp,event\n,2024-01-01,a\nu,never,b\n")
    done = _run("analyze", str(bad), "--quiet", "--out", str(tmp_path / "o"))
    assert done.returncode == 1 and "no events accepted" in done.stderr
