"""Every mining analysis gives the same result on an in-memory log and on the same log held by DuckDB
on disk and by Spark local mode, on the seeded generator and on two real logs (a clickstream with given
sessions and a process log with long loops)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd
import pytest

import journeylens as jl
from tests.conftest import shared_file

# pyspark 4.x warns that it does not fully support pandas 3 when converting frames
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning:pyspark", "ignore::DeprecationWarning:pyspark",
                                        "ignore:The copy keyword is deprecated")


@dataclass(frozen=True)
class Data:
    """How to get a data set's log, and what to ask of it."""

    load: Callable[[], jl.EventLog]
    by: str  # a column: each user's first value is the segment
    anchor: str
    goal: str
    pers: tuple[str, ...]  # the journey units it has


def generator() -> jl.EventLog:
    return jl.sessionize(jl.from_pandas(jl.datasets.make_journeys(400, seed=11)), gap="30min")


def ecom() -> jl.EventLog:
    return jl.read(shared_file("clickstream", "ecom.csv.gz"))  # sessions as given


def hospital_billing() -> jl.EventLog:
    return jl.read(shared_file("process", "hospital_billing.csv.gz"), user="case_id", event="activity",
                   time="timestamp", sep=",", duplicates="keep")


DATA = {
    "generator": Data(generator, "device", "product_page", "order_placed", ("user", "session")),
    "ecom": Data(ecom, "device", "cart", "purchase", ("user", "session")),
    "hospital_billing": Data(hospital_billing, "casetype", "FIN", "BILLED", ("user",)),
}


def _dfg(log, d: Data, per: str) -> pd.DataFrame:
    return jl.dfg(log, per=per, by=d.by).to_frame()


def _dfg_channel(log, d: Data, per: str) -> pd.DataFrame:
    return jl.dfg(log, per=per, level="channel" if log.has("channel") else "event").to_frame()


def _variants(log, d: Data, per: str) -> pd.DataFrame:
    return jl.variants(log, per=per).to_frame()


def _loops(log, d: Data, per: str) -> pd.DataFrame:
    return jl.loops(log, per=per, max_length=5, min_support=0.001).to_frame()


def _paths_after(log, d: Data, per: str) -> pd.DataFrame:
    return jl.paths(log, d.anchor, per=per, depth=3, goal=d.goal, top=None).to_frame()


def _paths_before(log, d: Data, per: str) -> pd.DataFrame:
    return jl.paths(log, d.goal, direction="before", per=per, depth=2).to_frame()


def _decisions(log, d: Data, per: str) -> pd.DataFrame:
    result = jl.decision_points(log, by=d.by, per=per, min_count=3)
    return pd.concat({"branches": result.to_frame(), "tests": result.tests}, names=["part"])


def _flows(log, d: Data, per: str) -> pd.DataFrame:
    return jl.journey_flows(log, per=per, depth=4).to_frame()


ANALYSES = {f.__name__[1:]: f for f in (_dfg, _dfg_channel, _variants, _loops, _paths_after, _paths_before,
                                        _decisions, _flows)}


@pytest.fixture(scope="module", params=list(DATA))
def data(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def memory(data) -> jl.EventLog:
    return DATA[data].load()


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark")
    session = jl.spark_session()
    yield session
    session.stop()


@pytest.fixture(scope="module", params=["duckdb", pytest.param("spark", marks=pytest.mark.slow)])
def held(request, memory):
    """The in-memory log held by DuckDB on disk or by Spark: one per data set and engine in this module."""
    if request.param == "spark":
        request.getfixturevalue("spark")
    return memory.hold(request.param)


def assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Equal frames; only interpolated percentiles (``p90_s``) may differ in their last bits."""
    pd.testing.assert_frame_equal(got.drop(columns="p90_s", errors="ignore"),
                                  want.drop(columns="p90_s", errors="ignore"), check_exact=True)
    if "p90_s" in want:
        pd.testing.assert_series_equal(got["p90_s"], want["p90_s"], check_exact=False, rtol=1e-12)


@pytest.mark.parametrize("analysis", list(ANALYSES))
def test_mining_agrees_on_every_engine(analysis, data, memory, held):
    spec, run = DATA[data], ANALYSES[analysis]
    assert held.engine in ("duckdb", "spark") and len(held) == len(memory)
    for per in spec.pers:
        want = run(memory, spec, per)
        assert len(want) > 0, f"{analysis} per {per} on {data} found nothing to compare"
        assert_same(run(held, spec, per), want)
