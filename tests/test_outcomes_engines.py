"""Engine agreement of the outcome analyses: funnels (closed, open, within, per session, by, lost),
drop-offs, roadblocks and time to convert give identical ``to_frame()`` (and summaries) on the in-memory
log, the same log held by DuckDB on disk and by Spark local mode, on the seeded generator and two real logs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd
import pytest

import journeylens as jl
from journeylens.outcomes.dropoffs import dropoffs
from journeylens.outcomes.funnels import funnel
from journeylens.outcomes.roadblocks import roadblocks
from journeylens.outcomes.survival import time_to_convert
from tests.conftest import shared_file

# pyspark 4.x warns that it does not fully support pandas 3 when converting frames
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning:pyspark", "ignore::DeprecationWarning:pyspark",
                                        "ignore:The copy keyword is deprecated")


@dataclass(frozen=True)
class Case:
    log: Any
    goal: str
    lost: list[str] | None
    steps: list[str]
    by: str
    sessions: bool  # the log has sessions (given or made here)
    observation_end: str


def _generator() -> Case:
    df = jl.datasets.make_journeys(500, seed=11)
    frame = pd.DataFrame({"user": df["user_id"].astype(str), "time": df["timestamp"], "event": df["event"].astype(str),
                          "channel": df["channel"].astype(str), "stage": df["stage"].astype(str)})
    log = jl.sessionize(jl.from_pandas(frame.sample(frac=1.0, random_state=3), duplicates="keep"), gap="30min")
    return Case(log, "order_placed", ["payment_error"], ["landing_page", "product_page", "cart", "order_placed"],
                "channel", True, "2025-03-01")


def _ecom() -> Case:
    log = jl.read_csv(shared_file("clickstream", "ecom.csv.gz"))  # sessions given, and they are the journeys
    return Case(log, "purchase", None, ["product_view", "add_to_cart", "payment_details", "purchase"],
                "acquisition_channel", True, "2024-05-15")


def _traffic_fines() -> Case:
    df = pd.read_csv(shared_file("process", "traffic_fines.csv.gz"))
    log = jl.from_pandas(df[["case_id", "activity", "timestamp", "vehicleclass"]], user="case_id", event="activity",
                         time="timestamp", duplicates="keep")
    return Case(log, "Payment", ["Send for Credit Collection"],
                ["Create Fine", "Send Fine", "Insert Fine Notification", "Add penalty", "Payment"], "vehicleclass",
                False, "2010-01-01")


BUILD = {"generator": _generator, "ecom": _ecom, "traffic_fines": _traffic_fines}


@pytest.fixture(scope="module", params=list(BUILD))
def case(request) -> Case:
    return BUILD[request.param]()


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark")
    from journeylens.engine.backends.spark import session

    s = session()
    yield s
    s.stop()


@pytest.fixture(scope="module", params=["duckdb", pytest.param("spark", marks=pytest.mark.slow)])
def held(request, case):
    if request.param == "spark":
        request.getfixturevalue("spark")
    return case.log.hold(request.param)


def _same(run: Callable[[Any], Any], held, log, *parts: str) -> None:
    a, b = run(held), run(log)
    for part in parts or ("to_frame",):
        got = getattr(a, part)() if part == "to_frame" else getattr(a, part)
        want = getattr(b, part)() if part == "to_frame" else getattr(b, part)
        pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_funnels_agree(held, case):
    log, steps = case.log, case.steps
    for kwargs in ({}, {"mode": "open"}, {"within": "1d"}, {"by": case.by}, {"lost": case.lost or [steps[-2]]},
                   {"within": "7d", "by": case.by, "lost": case.lost}):
        _same(lambda x, kw=kwargs: funnel(x, steps, **kw), held, log)
    if case.sessions:
        for kwargs in ({}, {"by": case.by}, {"mode": "open", "lost": case.lost}):
            _same(lambda x, kw=kwargs: funnel(x, steps, per="session", **kw), held, log)


def test_dropoffs_agree(held, case):
    log = case.log
    for kwargs in ({}, {"lost": case.lost}, {"by": case.by, "inactivity": "2d"},
                   {"observation_end": case.observation_end, "lost": case.lost}):
        _same(lambda x, kw=kwargs: dropoffs(x, case.goal, **kw), held, log, "to_frame", "summary")
    if case.sessions:
        _same(lambda x: dropoffs(x, case.goal, per="session", by=case.by), held, log, "to_frame", "summary")


def test_roadblocks_agree(held, case):
    log = case.log
    for kwargs in ({"lost": case.lost}, {"by": case.by, "min_journeys": 5},
                   {"observation_end": case.observation_end}):
        _same(lambda x, kw=kwargs: roadblocks(x, case.goal, **kw), held, log)
    if case.sessions:
        _same(lambda x: roadblocks(x, case.goal, per="session", lost=case.lost), held, log)


def test_time_to_convert_agrees(held, case):
    log = case.log
    for kwargs in ({}, {"lost": case.lost, "by": case.by}, {"observation_end": case.observation_end}):
        _same(lambda x, kw=kwargs: time_to_convert(x, case.goal, **kw), held, log, "to_frame", "medians")
    if case.sessions:
        _same(lambda x: time_to_convert(x, case.goal, per="session", lost=case.lost), held, log, "to_frame",
              "medians")


def test_the_cases_exercise_what_they_should(case):
    """Guards against an agreement that holds because there is nothing to compare."""
    d = dropoffs(case.log, case.goal, lost=case.lost).summary.iloc[0]
    assert d["converted"] > 50 and d["dropped_off"] > 10 and (case.lost is None or d["lost"] > 20)
    assert len(roadblocks(case.log, case.goal, lost=case.lost).to_frame()) >= 3
    assert funnel(case.log, case.steps).to_frame()["users"].iloc[-1] > 0
    if case.log.has("stage"):
        assert roadblocks(case.log, case.goal).baseline == "stage"
