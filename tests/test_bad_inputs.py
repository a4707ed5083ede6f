"""The bad-input corpus (tests/bad_inputs/): a clean error or a quarantine, never a traceback.

Two parts:

* the committed files (``make_corpus.py``): each has an expectation, ``error``
  with a pattern the one-line message must match, or ``ok`` with the accepted
  count and the quarantine reasons; reconciliation holds when it loads, and the
  CLI exits 0 or 1 with one line on stderr and no traceback;
* the hostile cases (``hostile.py``), generated at test time into a temporary
  folder (bombs and big files are never committed) and run by the watchdog
  (``watchdog.py``), each in its own process, under a time limit and a memory
  limit it enforces: a case passes only with a clean one-line error of the
  expected class or a reconciled result, within its seconds and its peak RSS.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import journeylens as jl
from journeylens.app.cli import app
from journeylens.io.writers import write_table
from tests.bad_inputs.hostile import CASES as HOSTILE
from tests.bad_inputs.watchdog import Watchdog

CORPUS = Path(__file__).parent / "bad_inputs"
TOOLS = {"make_corpus.py", "hostile.py", "watchdog.py", "__pycache__"}

# file → (reader options, expectation)
CASES: dict[str, tuple[dict, tuple]] = {
    "empty.csv": ({}, ("error", r"empty")),
    "header_only.csv": ({}, ("ok", 0, {})),
    "bom_utf8.csv": ({}, ("ok", 3, {})),
    "latin1.csv": ({}, ("ok", 2, {})),  # no valid UTF-8 beside its latin-1 bytes: cp1252
    "utf16_bom.csv": ({}, ("ok", 3, {})),
    "semicolon.csv": ({"sep": ","}, ("error", r"delimiter")),
    "missing_time_column.csv": ({}, ("error", r"cannot tell which column is the time.*available columns: 'user_id', 'event'")),
    "unparsable_dates.csv": ({}, ("ok", 1, {"unparsable_time": 2})),
    "mixed_offsets.csv": ({}, ("ok", 3, {})),
    "null_ids.csv": ({}, ("ok", 2, {"missing_user": 2})),  # "NA" is an id, not a null spelling
    "missing_events.csv": ({}, ("ok", 1, {"missing_event": 1})),
    "duplicates.csv": ({}, ("ok", 2, {"duplicate": 2})),
    "ragged_rows.csv": ({}, ("ok", 2, {"malformed_row": 2})),
    "huge_field.csv.gz": ({}, ("ok", 2, {})),
    "truncated.csv.gz": ({}, ("error", r"(truncated|corrupt)")),
    "gzip_without_extension.csv": ({}, ("ok", 3, {})),
    "binary_garbage.csv": ({}, ("error", r"binary_garbage.csv")),
    "nul_bytes.csv": ({}, ("ok", 1, {})),
    "crlf_quoted_newlines.csv": ({}, ("ok", 2, {})),
    "all_rows_bad.csv": ({}, ("ok", 0, {"missing_user": 2, "unparsable_time": 1})),
    "epoch_ms.csv": ({}, ("ok", 2, {})),
    "formula_injection.csv": ({}, ("ok", 1, {"unparsable_time": 1})),
    "script_event.jsonl": ({}, ("ok", 1, {})),
    "bad_lines.jsonl": ({}, ("ok", 2, {"malformed_row": 2})),
    "empty.jsonl": ({}, ("error", r"empty")),
    "not_parquet.parquet": ({}, ("error", r"not_parquet.parquet.*(Parquet|parquet)")),
    "duplicate_header.csv": ({}, ("error", r"duplicated column name")),
    "out_of_range.csv": ({"min_time": "2000-01-01", "max_time": "2100-01-01"}, ("ok", 1, {"out_of_range_time": 2})),
    "billion_laughs.xes": ({}, ("error", r"(DOCTYPE|DTD|entit)")),
    "xxe_local_file.xes": ({}, ("error", r"(DOCTYPE|DTD|entit)")),
    "xxe_external_dtd.xes": ({}, ("error", r"(DOCTYPE|DTD|entit)")),
    "malformed.xes": ({}, ("error", r"line \d+")),
    "not_xes.xes": ({}, ("error", r"not an XES")),
    "truncated.xes.gz": ({}, ("error", r"(truncated|corrupt)")),
    "xes_missing_values.xes": ({}, ("ok", 1, {"missing_event": 1, "missing_time": 1, "unparsable_time": 1})),
}


def test_corpus_is_complete():
    files = {p.name for p in CORPUS.iterdir() if p.name not in TOOLS}
    assert files == set(CASES)
    assert len(files) >= 25


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(name):
    options, expect = CASES[name]
    path = CORPUS / name
    if expect[0] == "error":
        with pytest.raises(jl.JourneyLensError) as info:
            jl.read(path, **options)
        message = str(info.value)
        assert "\n" not in message
        assert name in message
        assert re.search(expect[1], message, flags=re.IGNORECASE), message
        return
    log = jl.read(path, **options)
    s = log.summary()
    assert s["rows_read"] == s["rows_accepted"] + s["rows_quarantined"]
    assert s["rows_accepted"] == expect[1]
    assert s["quarantine_reasons"] == expect[2]


def test_decoded_text_and_instants():
    latin = jl.read(CORPUS / "latin1.csv").to_pandas()
    assert sorted(latin["event"]) == ["café_visit", "résumé"]
    utf16 = jl.read(CORPUS / "utf16_bom.csv").to_pandas()
    assert utf16["event"].tolist() == ["home", "product_page", "home"]
    mixed = jl.read(CORPUS / "mixed_offsets.csv").to_pandas()
    # 10:00+02 = 08:00Z, 09:30Z, 04:45-05 = 09:45Z
    assert mixed["event"].tolist() == ["a", "b", "c"]
    assert mixed["timestamp"].dt.strftime("%H:%M").tolist() == ["08:00", "09:30", "09:45"]
    crlf = jl.read(CORPUS / "crlf_quoted_newlines.csv").to_pandas()
    assert "multi\r\nline" in set(crlf["event"]) or "multi\nline" in set(crlf["event"])


def test_xxe_never_leaks_file_content():
    secret = Path("/etc/passwd").read_text().splitlines()[0] if Path("/etc/passwd").exists() else "root:"
    with pytest.raises(jl.JourneyLensError) as info:
        jl.read(CORPUS / "xxe_local_file.xes")
    assert secret not in str(info.value)


def test_exports_neutralise_formulas(tmp_path):
    log = jl.read(CORPUS / "formula_injection.csv")
    assert log.to_pandas()["event"].tolist() == ['=HYPERLINK("http://x")']  # kept as data in the log
    write_table(log.quarantine, tmp_path / "q.csv")
    write_table(log.to_pandas(), tmp_path / "events.csv")
    for name in ("q.csv", "events.csv"):
        cells = pd.read_csv(tmp_path / name, dtype=str, keep_default_na=False).to_numpy().ravel()
        assert not any(str(c).startswith(("=", "+", "-", "@")) for c in cells)
    assert "'@SUM(A1)" in (tmp_path / "q.csv").read_text()


@pytest.mark.parametrize("name", sorted(CASES))
def test_cli_never_shows_a_traceback(name, tmp_path):
    options, expect = CASES[name]
    args = ["analyze", str(CORPUS / name), "--out", str(tmp_path / "out"), "--quiet"]
    if "sep" in options:
        args += ["--sep", options["sep"]]
    result = CliRunner().invoke(app, args)
    stderr = result.stderr
    assert "Traceback" not in stderr
    if expect[0] == "error" or expect[1] == 0:
        assert result.exit_code == 1, stderr
        assert len(stderr.strip().splitlines()) == 1 and stderr.startswith("journeylens: error:")
    else:
        assert result.exit_code == 0, stderr
        summary = pd.read_json(tmp_path / "out" / "summary.json", typ="series")
        assert summary["rows_read"] == summary["rows_accepted"] + summary["rows_quarantined"]


# -- hostile cases, each in its own process under the watchdog ---------------------------------------------


@pytest.fixture(scope="module")
def watchdog():
    dog = Watchdog()
    yield dog
    dog.close()


def test_hostile_cases_cover_every_category():
    categories = {c.category for c in HOSTILE.values()}
    assert categories == {1, 2, 3, 4, 5, 6, 7}
    assert len(HOSTILE) >= 40


def _run(watchdog, name, tmp_path, via="api"):
    case = HOSTILE[name]
    args = case.make(tmp_path)
    args["_stderr"] = str(tmp_path / "stderr.txt")
    result = watchdog.run(name, args, case.seconds, via=via)
    assert result["outcome"] == "passed", result
    assert result["peak_mb"] is not None and result["peak_mb"] <= case.memory_mb, result
    return result


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input(watchdog, name, tmp_path):
    _run(watchdog, name, tmp_path)


@pytest.mark.parametrize("name", sorted(n for n, c in HOSTILE.items() if c.cli))
def test_hostile_input_through_the_cli(watchdog, name, tmp_path):
    _run(watchdog, name, tmp_path, via="cli")
