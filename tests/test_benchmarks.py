"""The side-by-side benchmark's pipelines (benchmarks/run.py) compute the same counts on every engine and
as pm4py, on a small log of the benchmark generator: the benchmark compares like with like, and it runs."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        run = importlib.import_module("run")
        common = importlib.import_module("common")
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    path = tmp_path_factory.mktemp("bench") / "log.parquet"
    common.make_log(20_000, path)
    return run, path


@pytest.fixture(scope="module")
def expected(bench):
    """Counts by plain pandas: rows less exact copies; ties in time keep the file order, as journeylens does."""
    frame = pd.read_parquet(bench[1]).drop_duplicates().sort_values(["user_id", "timestamp"], kind="stable")
    steps = frame.assign(next=frame.groupby("user_id")["event"].shift(-1)).dropna(subset=["next"])
    return {"events": len(frame), "users": frame["user_id"].nunique(),
            "edges": len(steps.drop_duplicates(["event", "next"])),
            "variants": frame.groupby("user_id")["event"].agg(tuple).nunique()}


@pytest.mark.parametrize("kind", ["journeylens", "journeylens-duckdb", pytest.param("journeylens-spark",
                                                                                   marks=pytest.mark.slow)])
def test_benchmark_pipelines_agree_with_pandas(bench, expected, kind):
    run, path = bench
    got = run.RUNNERS[kind](str(path))
    assert {k: got[k] for k in expected} == expected
    reference = run.RUNNERS["journeylens"](str(path)) if kind != "journeylens" else got
    assert got["sessions"] == reference["sessions"] > expected["users"]
    assert run.disagreements({kind: got, "journeylens": reference}) == []


def test_benchmark_pm4py_pipeline_counts_the_same_edges_and_variants(bench, expected):
    run, path = bench
    got = run.RUNNERS["pm4py"](str(path))
    assert (got["edges"], got["variants"]) == (expected["edges"], expected["variants"])


def test_benchmark_analyze_run_reports_the_command_steps(bench, expected, monkeypatch):
    run, path = bench
    monkeypatch.setattr(sys, "argv", list(sys.argv))  # the runner sets the command line of its process
    got = run.TARGET_RUNNERS["analyze"](str(path))
    assert got["events"] == expected["events"]
    assert {"load", "journeys", "write"} <= set(got["steps"]) and all(v >= 0 for v in got["steps"].values())


def test_benchmark_targets_are_met_or_not_by_the_figures(bench):
    run, _ = bench
    ten = {"journeylens": {"total_s": 10.0, "peak_rss_mb": 1000.0}, "pm4py": {"total_s": 120.0, "peak_rss_mb": 1500.0},
           "retentioneering": {"total_s": 40.0, "peak_rss_mb": 3000.0}, "floor": {"total_s": 2.5, "peak_rss_mb": 500.0}}
    held = {"journeylens-duckdb": {"total_s": 300.0, "peak_rss_mb": 8.5 * 1024}}
    extra = {"analyze": {"process_s": 29.0, "steps": {"load": 5.0}}, "analyze-personas": {"process_s": 61.0, "steps": {}},
             "import-pandas": {"import_s": 0.6}, "import-journeylens": {"import_s": 0.9}}
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ")[1:] for line in
            run.targets({10_000_000: ten, 100_000_000: held}, extra) if line.startswith("| ") and " | " in line}
    met = {name: cells[-1].strip(" |") for name, cells in rows.items() if len(cells) == 3 and name != "target"}
    assert met == {"10M: pm4py's time ÷ journeylens's": "yes", "10M: retentioneering's time ÷ journeylens's": "no",
                   "10M: journeylens's time ÷ the floor's": "no", "10M: journeylens's peak memory ÷ pm4py's": "no",
                   "100M held by DuckDB: total s": "no", "100M held by DuckDB: peak memory": "no",
                   "`journeylens analyze` at 10M, without personas": "yes",
                   "`journeylens analyze` at 10M, with personas": "no",
                   "`import journeylens` above `import pandas`": "yes"}
    assert rows["10M: journeylens's time ÷ the floor's"][0] == "4.0×"  # 10 / 2.5, by hand


def test_repeated_runs_report_each_pipelines_run_of_median_total(bench, tmp_path):
    """measure() runs the pipelines round after round in fresh processes; a row is the run of median
    total, a pipeline in ``once`` runs one time, and one that fails is reported once and left out."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        common = importlib.import_module("common")
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    script = tmp_path / "fake.py"
    script.write_text(
        "import json, pathlib, sys\n"
        "kind, path = sys.argv[2], pathlib.Path(sys.argv[3])\n"
        "log = path.with_name(kind + '.runs')\n"
        "k = len(log.read_text().split()) if log.exists() else 0\n"
        "log.write_text((log.read_text() if log.exists() else '') + ' x')\n"
        "if kind == 'broken':\n    sys.exit(3)\n"
        "print(json.dumps({'total_s': [3.0, 1.0, 2.0][k], 'run': k}))\n")
    data = tmp_path / "log.parquet"
    data.write_bytes(b"")
    rows = common.measure(str(script), ["a", "spark", "broken"], data, repeat=3, once=("spark",))
    assert rows["a"]["runs"] == [3.0, 1.0, 2.0] and rows["a"]["total_s"] == 2.0 and rows["a"]["run"] == 2
    assert rows["spark"]["runs"] == [3.0] and "broken" not in rows
    assert [len((tmp_path / f"{k}.runs").read_text().split()) for k in ("a", "spark", "broken")] == [3, 1, 1]
