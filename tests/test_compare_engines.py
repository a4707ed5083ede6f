"""Engine agreement for the comparisons: compare (per user and per session, by=) and drift (cohorts with
equal exposure, calendar periods, segments, lost) give identical tables on the in-memory log, the log held
by DuckDB on disk and the log held by Spark local mode, on the seeded generator and two real logs."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pandas as pd
import pytest

import journeylens as jl
from journeylens.compare.conformance import Comparison, compare
from journeylens.compare.drift import Drift, drift
from tests.conftest import shared_file
from tests.test_compare import ECOM_MAP

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning:pyspark", "ignore::DeprecationWarning:pyspark",
                                        "ignore:The copy keyword is deprecated")

#: a designed journey for simple-onlineshop's events (written here)
SHOP_MAP = {
    "name": "designed online shop",
    "stages": [
        {"name": "browse", "touchpoints": ["main", "catalog", "product1", "product2"]},
        {"name": "cart", "touchpoints": ["cart"]},
        {"name": "delivery", "touchpoints": ["delivery_choice", "delivery_courier", "delivery_pickup"]},
        {"name": "payment", "touchpoints": ["payment_choice", "payment_card", "payment_cash", "payment_done"]},
    ],
    "transitions": [["main", "catalog"], ["catalog", "product1"], ["catalog", "product2"], ["product1", "cart"],
                    ["product2", "cart"], ["cart", "delivery_choice"], ["delivery_choice", "delivery_courier"],
                    ["delivery_choice", "delivery_pickup"], ["delivery_courier", "payment_choice"],
                    ["delivery_pickup", "payment_choice"], ["payment_choice", "payment_card"],
                    ["payment_choice", "payment_cash"], ["payment_card", "payment_done"],
                    ["payment_cash", "payment_done"]],
    "start": ["main", "catalog"],
    "conversion": "payment_done",
}

#: per data set: the map, a segment for by=, the drift cut, goal and lost events
CASES = {
    "generator": {"jmap": jl.datasets.designed_map(), "by": "device", "split_at": "2025-02-10",
                  "goal": "order_placed", "lost": None},
    "ecom": {"jmap": ECOM_MAP, "by": "acquisition_channel", "split_at": "2024-04-01", "goal": "purchase",
             "lost": "payment_error"},
    "onlineshop": {"jmap": SHOP_MAP, "by": "parity", "split_at": "2020-02-01", "goal": "payment_done",
                   "lost": None},
}


def _load(name: str) -> jl.EventLog:
    if name == "generator":
        df = jl.datasets.make_journeys(400, seed=11).drop(columns=["stage", "persona"])
        return jl.sessionize(jl.from_pandas(df), gap="30min")
    if name == "ecom":
        return jl.read_csv(shared_file("clickstream", "ecom.csv.gz"), session="session_id")
    log = jl.read_csv(shared_file("clickstream", "simple-onlineshop.csv.gz"))
    return jl.sessionize(log, gap="30min")


def _by(case: dict, log) -> object:
    if case["by"] != "parity":
        return case["by"]
    users = pd.Index(log.users.astype(str))
    return pd.Series(np.where(np.arange(len(users)) % 2, "odd", "even"), index=users, name="parity")


@pytest.fixture(scope="module", params=list(CASES))
def name(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def mem(name) -> jl.EventLog:
    return _load(name)


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark")
    from journeylens.engine.backends.spark import session

    s = session()
    yield s
    s.stop()


@pytest.fixture(scope="module", params=["duckdb", pytest.param("spark", marks=pytest.mark.slow)])
def held(request, mem):
    if request.param == "spark":
        request.getfixturevalue("spark")
    return mem.hold(request.param)


def _runs(case: dict, log) -> dict[str, object]:
    """The calls compared across engines (one spark-heavy run each)."""
    by = _by(case, log)
    return {
        "compare per user": lambda: compare(log, case["jmap"]),
        "compare per session by": lambda: compare(log, case["jmap"], per="session", by=by, lost=case["lost"]),
        "drift cohort 14d by": lambda: drift(log, split_at=case["split_at"], window="14d", goal=case["goal"],
                                             lost=case["lost"], by=by),
        "drift calendar": lambda: drift(log, split_at=case["split_at"], mode="calendar", goal=case["goal"]),
    }


@pytest.fixture(scope="module")
def expected(name, mem) -> dict[str, object]:
    return {k: run() for k, run in _runs(CASES[name], mem).items()}


def _tables(result) -> dict[str, pd.DataFrame]:
    kind = Comparison if isinstance(result, Comparison) else Drift
    return {f.name: getattr(result, f.name) for f in fields(kind) if isinstance(getattr(result, f.name), pd.DataFrame)}


def test_held_comparisons_agree_with_memory(name, held, expected):
    got = {k: run() for k, run in _runs(CASES[name], held).items()}
    for call, result in expected.items():
        for table, want in _tables(result).items():
            pd.testing.assert_frame_equal(_tables(got[call])[table], want, check_exact=True,
                                          obj=f"{name}: {call}: {table}")
        assert got[call].to_frame().shape[0] > 0


def test_the_comparisons_are_not_empty(name, expected):
    """The agreement is not between empty tables: every call found journeys, steps and outcomes."""
    per_session = expected["compare per session by"]
    assert per_session.overall["judged"].sum() > 100 and len(per_session.unexpected) > 0
    assert len(per_session.overall) >= 2  # one row per segment
    d = expected["drift cohort 14d by"]
    assert d.exposure["users"].min() > 0 and len(d.edges) > 10 and len(d.outcomes) >= 4
    calendar = expected["drift calendar"]
    assert len(calendar.edges) > 10 and calendar.edges["p_value"].notna().all() and len(calendar.variants) > 0
