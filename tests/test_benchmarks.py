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
