"""The conveniences (step matrices, transition matrix, retention, segment A vs B, value, journey export)
against a small log worked out by hand, the same tables from the DuckDB-held log, and on real logs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import journeylens as jl
from journeylens.app.export import journey_export
from journeylens.compare.segments import compare_segments
from journeylens.errors import ParameterError
from journeylens.mining.steps import differential_step_matrix, step_matrix
from journeylens.mining.transitions import transition_matrix
from journeylens.outcomes.retention import retention
from journeylens.outcomes.value import value_breakdown

from conftest import shared_file

# 2024-01-01 is a Monday. u1 converts (buy, 30 on app), u2 comes back a week later, u3 is lost (quit)
# after an ad worth 5, u4 arrives in the second week.
ROWS = [
    ("u1", "2024-01-01 10:00", "home", "web", None),
    ("u1", "2024-01-01 10:05", "product", "web", None),
    ("u1", "2024-01-01 10:10", "cart", "app", None),
    ("u1", "2024-01-01 10:20", "buy", "app", 30.0),
    ("u2", "2024-01-01 12:00", "home", "web", None),
    ("u2", "2024-01-01 12:01", "product", "web", None),
    ("u2", "2024-01-09 09:00", "home", "web", None),
    ("u3", "2024-01-02 08:00", "ad", "ads", 5.0),
    ("u3", "2024-01-02 08:01", "home", "web", None),
    ("u3", "2024-01-16 18:00", "product", "web", None),
    ("u3", "2024-01-16 18:30", "quit", "web", None),
    ("u4", "2024-01-10 07:00", "home", "app", None),
]
GROUPS = {"u1": "A", "u2": "A", "u3": "B", "u4": "B"}


@pytest.fixture(scope="module")
def small() -> jl.EventLog:
    frame = pd.DataFrame(ROWS, columns=["user", "time", "event", "channel", "amount"])
    return jl.from_pandas(frame, channel="channel", value="amount")


# pyspark 4.x warns that it does not fully support pandas 3 when converting frames
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning:pyspark", "ignore::DeprecationWarning:pyspark",
                                        "ignore:The copy keyword is deprecated")


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark")
    session = jl.spark_session()
    yield session
    session.stop()


@pytest.fixture(scope="module", params=["memory", "duckdb", pytest.param("spark", marks=pytest.mark.slow)])
def log(request, small):
    """The small log in memory, held by DuckDB on disk, and held by Spark (local mode)."""
    if request.param == "spark":
        request.getfixturevalue("spark")
    return small if request.param == "memory" else small.hold(request.param)


def test_step_matrix_by_hand(log):
    m = step_matrix(log, depth=3).to_frame()
    expected = pd.DataFrame({1: [0.75, 0.25, 0, 0, 0], 2: [0.25, 0, 0.5, 0, 0.25], 3: [0.25, 0, 0.25, 0.25, 0.25]},
                            index=["home", "ad", "product", "cart", "(end)"])
    got = m.loc[expected.index, [1, 2, 3]]
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy())
    assert m.index[-1] == "(end)" and np.allclose(m.sum(axis=0), 1.0)  # every column adds up to all journeys
    assert set(m.index) == {"home", "ad", "product", "cart", "(end)"}  # buy and quit come after step 3
    assert list(m.index[:2]) == ["home", "ad"]  # rows in the order journeys meet them


def test_differential_step_matrix_by_hand(log):
    d = differential_step_matrix(log, by=GROUPS, segments=["A", "B"], depth=2).to_frame()
    # A: both start at home then product; B: u3 ad → home, u4 home → end
    assert d.loc["home", 1] == pytest.approx(1.0 - 0.5) and d.loc["ad", 1] == pytest.approx(-0.5)
    assert d.loc["product", 2] == pytest.approx(1.0) and d.loc["home", 2] == pytest.approx(-0.5)
    assert d.loc["(end)", 2] == pytest.approx(-0.5)
    np.testing.assert_allclose(d.sum(axis=0), 0.0, atol=1e-12)
    with pytest.raises(ParameterError, match="segments"):
        differential_step_matrix(log, by=GROUPS, segments=["A", "C"])


def test_transition_matrix_by_hand(log):
    m = transition_matrix(log).to_frame()
    # home occurs 5 times: 3 followed by product, 2 are the journey's last event
    assert m.loc["home", "product"] == pytest.approx(0.6) and m.loc["home", "(end)"] == pytest.approx(0.4)
    assert m.loc["product", ["cart", "home", "quit"]].tolist() == pytest.approx([1 / 3] * 3)
    assert m.loc["ad", "home"] == 1.0 and m.loc["buy", "(end)"] == 1.0
    np.testing.assert_allclose(m.sum(axis=1), 1.0)
    top = transition_matrix(log, top=2).to_frame()  # home and product kept, the rest summed in (other)
    assert list(top.index) == ["home", "product"] and top.loc["product", "(other)"] == pytest.approx(2 / 3)


def test_retention_by_hand(log):
    r = retention(log, period="week")
    t = r.to_frame()
    assert t["cohort"].tolist() == ["2024-01-01", "2024-01-08"] and t["users"].tolist() == [3, 1]
    np.testing.assert_allclose(t.loc[0, [0, 1, 2]].to_numpy(dtype=float), [1.0, 1 / 3, 1 / 3])
    assert t.loc[1, 0] == 1.0 and t.loc[1, 1] == 0.0 and np.isnan(t.loc[1, 2])  # week 3 is not observed yet
    month = retention(log, period="month").to_frame()
    assert month["cohort"].tolist() == ["2024-01"] and month["users"].tolist() == [4] and month[0].tolist() == [1.0]
    with pytest.raises(ParameterError, match="period"):
        retention(log, period="day")


def test_segments_by_hand(log):
    r = compare_segments(log, GROUPS, segments=["A", "B"], goal="buy", lost="quit")
    t = r.to_frame().set_index("metric")
    assert t.loc["users", ["a", "b"]].tolist() == [2, 2]
    assert t.loc["conversion_rate", ["a", "b"]].tolist() == [0.5, 0.0]
    assert t.loc["conversion_rate", "p_value"] == pytest.approx(stats.fisher_exact([[1, 1], [0, 2]])[1])
    assert t.loc["lost_rate", ["a", "b"]].tolist() == [0.0, 0.5]
    assert t.loc["median_events", ["a", "b"]].tolist() == [3.5, 2.5]
    assert t.loc["median_events", "p_value"] == pytest.approx(stats.mannwhitneyu([4, 3], [4, 1]).pvalue)
    assert t.loc["median_days_to_convert", "a"] == pytest.approx(20 / 1440)
    assert t.loc["mean_value_per_user", ["a", "b"]].tolist() == [15.0, 2.5]
    events = r.events.set_index("event")
    assert events.loc["product", ["share_a", "share_b"]].tolist() == [1.0, 0.5]
    assert events.loc["home", "share_difference"] == 0.0 and events.index[-1] == "home"  # largest first
    assert np.isnan(events.loc["home", "p_value"])  # everyone did it: nothing to test
    tested = events["p_value"].notna()
    assert tested.sum() == 5 and (events["q_value"][tested] >= events["p_value"][tested] - 1e-12).all()
    fig = r.plot()
    assert len(fig.data) == 2
    with pytest.raises(ParameterError, match="segments"):
        compare_segments(log, GROUPS, segments=["A", "Z"])


def test_segments_default_to_the_two_labels(log):
    r = compare_segments(log, {"u1": "x", "u2": "y"}, goal="buy")  # u3, u4 are (none)
    assert (r.a, r.b) == ("x", "y")


def test_value_by_hand(log):
    v = value_breakdown(log, by=GROUPS, depth=2).to_frame()
    row = lambda d, k: v[(v["dimension"] == d) & (v["key"] == k)].iloc[0]  # noqa: E731
    assert row("all", "all customers")[["users", "value", "value_per_user"]].tolist() == [4, 35.0, 8.75]
    assert row("all", "paying customers")[["users", "value", "value_per_user"]].tolist() == [2, 35.0, 17.5]
    assert row("path", "home > product")[["users", "value", "value_per_user"]].tolist() == [2, 30.0, 15.0]
    assert row("path", "ad > home")["value"] == 5.0 and row("path", "home")["value"] == 0.0
    assert row("segment", "A")["value"] == 30.0 and row("segment", "B")["value_per_user"] == 2.5
    assert row("channel", "app")[["users", "value"]].tolist() == [1, 30.0]
    assert row("channel", "ads")[["users", "value"]].tolist() == [1, 5.0]
    assert row("path", "home > product")["share_of_value"] == pytest.approx(30 / 35)
    with pytest.raises(ParameterError, match="value"):
        value_breakdown(jl.from_pandas(pd.DataFrame({"user": ["a"], "time": ["2024-01-01"], "event": ["x"]})))


def test_journey_export_by_hand(log, tmp_path):
    e = journey_export(log, goal="buy", lost="quit", by=GROUPS)
    t = e.to_frame().set_index("user_id")
    assert t.loc["u1", "path"] == "home > product > cart > buy" and t.loc["u1", "events"] == 4
    assert t["converted"].tolist() == [True, False, False, False]
    assert t["lost"].tolist() == [False, False, True, False]
    assert t["segment"].tolist() == ["A", "A", "B", "B"]
    assert t.loc["u1", "days_to_convert"] == pytest.approx(20 / 1440) and t["days_to_convert"].isna().sum() == 3
    assert t.loc["u3", "first_touch"] == pd.Timestamp("2024-01-02 08:00", tz="UTC")
    assert t.loc["u3", "last_touch"] == pd.Timestamp("2024-01-16 18:30", tz="UTC")
    assert journey_export(log, depth=3).to_frame()["path"].tolist() == ["home > product > cart > …",
                                                                        "home > product > home", "ad > home > product > …",
                                                                        "home"]
    written = pd.read_csv(e.write(tmp_path / "journeys.csv"))
    assert len(written) == 4 and written["path"].iloc[0] == "home > product > cart > buy"


def test_figures_show_names_as_plain_text():
    frame = pd.DataFrame({"user": ["a", "a", "b"], "time": pd.date_range("2024-01-01", periods=3, freq="D"),
                          "event": ["<b>x</b>", "y", "y"]})
    log = jl.from_pandas(frame)
    named = (step_matrix(log, depth=2).plot(), transition_matrix(log).plot(),
             compare_segments(log, {"a": "p", "b": "q"}).plot(),
             journey_export(log, goal="y", by={"a": "<i>p</i>", "b": "q"}).plot())
    for fig in named:
        text = json.dumps(fig.to_plotly_json(), default=str)
        assert "<b>x" not in text and "<i>p" not in text
    assert all("&lt;b&gt;x" in json.dumps(f.to_plotly_json(), default=str) for f in named[:3])
    assert "&lt;i&gt;p" in json.dumps(named[3].to_plotly_json(), default=str)


@pytest.fixture(scope="module")
def ecom() -> jl.EventLog:
    return jl.read_csv(shared_file("clickstream", "ecom.csv.gz"), channel="acquisition_channel")


def test_ecom_step_matrix_against_pandas(ecom):
    frame = pd.read_csv(shared_file("clickstream", "ecom.csv.gz"))
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    frame = frame.reset_index().sort_values(["user_id", "timestamp", "index"], kind="stable")
    frame["step"] = frame.groupby("user_id").cumcount() + 1
    users = frame["user_id"].nunique()
    ours = step_matrix(ecom, depth=5).to_frame()
    first = frame[frame["step"] <= 5].groupby(["event", "step"]).size().unstack(fill_value=0) / users
    np.testing.assert_allclose(ours.loc[first.index, [1, 2, 3, 4, 5]].to_numpy(),
                               first.reindex(columns=[1, 2, 3, 4, 5], fill_value=0).to_numpy())
    length = frame.groupby("user_id").size()
    np.testing.assert_allclose(ours.loc["(end)", [1, 2, 3, 4, 5]].to_numpy(),
                               [(length < k).mean() for k in range(1, 6)])


def test_ecom_differential_step_matrix_against_pandas(ecom):
    """Two acquisition channels of a real clickstream, each step's share of its own users, by plain pandas."""
    frame = pd.read_csv(shared_file("clickstream", "ecom.csv.gz"))
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    frame = frame.reset_index().sort_values(["user_id", "timestamp", "index"], kind="stable")
    frame["step"] = frame.groupby("user_id").cumcount() + 1
    channel = frame.groupby("user_id")["acquisition_channel"].first()
    a, b = channel.value_counts().index[:2]
    shares = {}
    for label in (a, b):
        rows = frame[frame["user_id"].map(channel) == label]
        shares[label] = (rows[rows["step"] <= 4].groupby(["event", "step"]).size().unstack(fill_value=0)
                         / rows["user_id"].nunique())
    expected = shares[a].sub(shares[b], fill_value=0).reindex(columns=[1, 2, 3, 4], fill_value=0).fillna(0)
    ours = differential_step_matrix(ecom, by=channel, segments=[a, b], depth=4).to_frame()  # raw labels
    np.testing.assert_allclose(ours.loc[expected.index, [1, 2, 3, 4]].to_numpy(), expected.to_numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.sum(axis=0).to_numpy(), 0, atol=1e-12)  # each column adds up to 0


def test_ecom_retention_against_pandas(ecom):
    frame = pd.read_csv(shared_file("clickstream", "ecom.csv.gz"))
    month = pd.to_datetime(frame["timestamp"]).dt.to_period("M")
    first = month.groupby(frame["user_id"]).transform("min")
    since = (month - first).apply(lambda d: d.n)
    active = pd.DataFrame({"user": frame["user_id"], "cohort": first.astype(str), "since": since}).drop_duplicates()
    expected = active.groupby(["cohort", "since"]).size().unstack()
    expected = expected.div(expected[0], axis=0)
    ours = retention(ecom, period="month").to_frame().set_index("cohort")
    for cohort in expected.index:
        for k in expected.columns:
            want = expected.loc[cohort, k]
            if not np.isnan(want):
                assert ours.loc[cohort, k] == pytest.approx(want), (cohort, k)


def test_ecom_held_agrees(ecom):
    held = ecom.hold("duckdb")
    for build in (lambda g: step_matrix(g, depth=6), lambda g: transition_matrix(g, top=10),
                  lambda g: retention(g, period="week"),
                  lambda g: compare_segments(g, "device", segments=["desktop", "mobile"], goal="purchase"),
                  lambda g: journey_export(g, goal="purchase", by="device")):
        pd.testing.assert_frame_equal(build(ecom).to_frame(), build(held).to_frame(), check_exact=False, rtol=1e-12)
