"""DFG, performance DFG and variants agree exactly with pm4py on every real process log.

pm4py is the independent reference: it reads each file itself (``pm4py.read_xes``,
or pandas + ``pm4py.format_dataframe`` for CSV) and gets a fresh sorted copy, as
ENGINE.md advises. journeylens keeps exact duplicates here (``duplicates="keep"``)
because pm4py does not de-duplicate.
"""

from __future__ import annotations

import math
import os

import pandas as pd
import pytest

import journeylens as jl
from tests.conftest import shared_file

os.environ.setdefault("PM4PY_SHOW_PROGRESS_BAR", "False")
pm4py = pytest.importorskip("pm4py")

# file → (CSV column names (case, activity, timestamp) or None for XES, separator, slow)
LOGS = {
    "running-example.xes": (None, None, False),
    "running-example.csv": (("case:concept:name", "concept:name", "time:timestamp"), ",", False),
    "roadtraffic100traces.xes": (None, None, False),
    "roadtraffic100traces.csv": (("case:concept:name", "concept:name", "time:timestamp"), ",", False),
    "08_receipt.xes.gz": (None, None, False),
    "receipt.csv.gz": (("case:concept:name", "concept:name", "time:timestamp"), ",", False),
    "helpdesk.xes.gz": (None, None, False),
    "sepsis.csv.gz": (("Case ID", "Activity", "Complete Timestamp"), ";", False),
    "hospital_billing.csv.gz": (("case_id", "activity", "timestamp"), ",", False),
    "traffic_fines.csv.gz": (("case_id", "activity", "timestamp"), ",", False),
    "07_bpic2013_incidents.xes.gz": (None, None, True),
    "hospital.csv.gz": (("case_id", "activity", "timestamp"), ",", True),
    "bpic2012.xes.gz": (None, None, True),
    "16_bpic2019_1t_per_variant.xes.gz": (None, None, True),
}


def _params():
    for name, (cols, sep, slow) in LOGS.items():
        marks = [pytest.mark.slow] if slow else []
        yield pytest.param(name, cols, sep, id=name, marks=marks)


def _pm4py_frame(path, cols, sep) -> pd.DataFrame:
    if cols is None:
        df = pm4py.read_xes(str(path))
        df = df.dropna(subset=["case:concept:name", "concept:name", "time:timestamp"])
        return pm4py.format_dataframe(df)
    # only empty fields are missing, as journeylens reads them (sepsis has a case named "NA")
    raw = pd.read_csv(path, sep=sep, dtype={cols[0]: str, cols[1]: str}, keep_default_na=False, na_values=[""])
    raw[cols[2]] = pd.to_datetime(raw[cols[2]], utc=True, format="mixed")
    return pm4py.format_dataframe(raw, case_id=cols[0], activity_key=cols[1], timestamp_key=cols[2])


def _ours(path, cols, sep):
    options = {"duplicates": "keep"} if cols is not None else {"duplicates": "keep", "lifecycle": "all"}
    if cols is not None:
        options.update(user=cols[0], event=cols[1], time=cols[2], sep=sep)
    return jl.read(path, **options)


@pytest.mark.parametrize("name, cols, sep", list(_params()))
def test_dfg_and_variants_equal_pm4py(name, cols, sep):
    path = shared_file("process", name)
    log = _ours(path, cols, sep)
    ref = _pm4py_frame(path, cols, sep)
    assert len(log) == len(ref)

    graph, starts, ends = pm4py.discover_dfg(ref.copy())
    ours = jl.dfg(log)
    edges = ours.to_frame()
    assert dict(zip(zip(edges["source"], edges["target"]), edges["count"])) == dict(graph)
    assert ours.starts.to_dict() == dict(starts)
    assert ours.ends.to_dict() == dict(ends)

    perf, _, _ = pm4py.discover_performance_dfg(ref.copy())
    for row in edges.itertuples():
        expected = perf[(row.source, row.target)]
        assert math.isclose(row.mean_s, expected["mean"], rel_tol=1e-6, abs_tol=1e-6)
        assert math.isclose(row.median_s, expected["median"], rel_tol=1e-6, abs_tol=1e-6)

    ref_variants = pm4py.get_variants(ref.copy())
    ref_variants = {tuple(k): (v if isinstance(v, int) else len(v)) for k, v in ref_variants.items()}
    assert jl.variants(log).to_dict() == ref_variants


@pytest.mark.parametrize("name", ["running-example.xes", "receipt.csv.gz", "helpdesk.xes.gz"])
def test_fitness_on_distinct_variants_equals_pm4py_token_replay_of_the_whole_log(name):
    """``discover`` replays each variant once, weighted by its journeys; pm4py replays every case."""
    cols, sep, _ = LOGS[name]
    path = shared_file("process", name)
    log = _ours(path, cols, sep)
    model = jl.discover(log, algorithm="inductive", noise=0.2, evaluate_top=None)
    ref = pm4py.fitness_token_based_replay(_pm4py_frame(path, cols, sep), model.net, model.initial_marking,
                                           model.final_marking)
    assert model.summary["log_fitness"] == pytest.approx(ref["log_fitness"], rel=1e-9)
    assert model.summary["fitness"] == pytest.approx(ref["average_trace_fitness"], rel=1e-9)
    assert model.summary["fitting_journeys_share"] == pytest.approx(ref["perc_fit_traces"] / 100, rel=1e-9)
    assert model.summary["variants_covered"] == pytest.approx(1.0)
    # the same model from the log held by DuckDB: the DFG and variants come from the engine
    held = jl.discover(log.hold("duckdb"), algorithm="inductive", noise=0.2, evaluate_top=None)
    assert held.summary == model.summary
