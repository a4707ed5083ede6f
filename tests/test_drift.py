"""Drift between periods: cohorts and calendar periods, equal exposure, tested appearances, empty periods,
segments, lost outcomes; simple-onlineshop against plain pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import journeylens as jl
from journeylens.compare.drift import drift, p_values
from tests.conftest import shared_file

DAY = pd.Timedelta(days=1)


def _log(rows: list[tuple[str, str, str]], **columns) -> jl.EventLog:
    """A log from ``(user, time, event)`` rows."""
    users, times, events = zip(*rows)
    frame = pd.DataFrame({"user": users, "time": pd.to_datetime(list(times), utc=True), "event": events, **columns})
    return jl.from_pandas(frame, duplicates="keep")


def _paths(prefix: str, start: str, paths: list[list[str]], hours: float = 1.0) -> list[tuple[str, str, str]]:
    rows = []
    t0 = pd.Timestamp(start, tz="UTC")
    for k, path in enumerate(paths):
        rows += [(f"{prefix}{k}", str(t0 + pd.Timedelta(hours=hours * j)), e) for j, e in enumerate(path)]
    return rows


def test_two_logs_appeared_vanished_and_shifted_paths():
    before = _paths("b", "2024-01-01", [["ad", "landing", "product"] if i % 2 else ["news", "landing", "cart"]
                                        for i in range(200)])
    after = _paths("a", "2024-02-01", [["ad", "landing", "product"] if i % 5 else ["news", "product", "order"]
                                       for i in range(200)])
    d = drift(_log(before), _log(after))
    status = d.edges.set_index(["source", "target"])["status"].to_dict()
    assert status[("landing", "cart")] == "vanished"  # 100 of 200 users → none: significant
    assert status[("product", "order")] == "appeared" and status[("news", "product")] == "appeared"
    assert status[("ad", "landing")] == "increased"  # 50% → 80% of users
    shares = d.edges.set_index(["source", "target"]).loc[("ad", "landing")]
    assert (shares["share_before"], shares["share_after"]) == (0.5, 0.8)
    assert shares["cohens_h"] == pytest.approx(2 * np.arcsin(np.sqrt(0.8)) - 2 * np.arcsin(np.sqrt(0.5)))
    assert d.periods == ("before", "after") and d.mode == "logs"
    assert d.exposure["users"].tolist() == [200, 200] and d.exposure["users_left_out"].tolist() == [0, 0]


def test_appeared_and_vanished_need_significance():
    # 9 of 300 users take x>z before, none of 30 after: a chance absence, not a vanished step
    before = _paths("b", "2024-01-01", [["x", "z"]] * 9 + [["x", "y"]] * 291)
    after = _paths("a", "2024-03-01", [["x", "y"]] * 30)
    d = drift(_log(before + after), split_at="2024-02-01")
    row = d.edges.set_index(["source", "target"]).loc[("x", "z")]
    assert (row["users_before"], row["users_after"]) == (9, 0)
    assert row["p_adjusted"] > 0.05 and row["status"] == "stable"
    # 60 of 300 against none of 300 is vanished
    after = _paths("a", "2024-03-01", [["x", "y"]] * 300)
    before = _paths("b", "2024-01-01", [["x", "z"]] * 60 + [["x", "y"]] * 240)
    row = drift(_log(before + after), split_at="2024-02-01").edges.set_index(["source", "target"]).loc[("x", "z")]
    assert row["status"] == "vanished" and row["p_adjusted"] < 0.05


def test_p_values_agree_with_scipy():
    from scipy import stats

    rng = np.random.default_rng(3)
    n1, n2 = rng.integers(5, 400, 200), rng.integers(5, 400, 200)
    x, y = rng.binomial(n1, rng.uniform(0, 0.5, 200)), rng.binomial(n2, rng.uniform(0, 0.5, 200))
    got = p_values(x, n1, y, n2)
    for k in range(200):
        table = np.array([[x[k], n1[k] - x[k]], [y[k], n2[k] - y[k]]])
        expected = stats.contingency.expected_freq(table)
        if (table.sum(axis=0) == 0).any():
            assert np.isnan(got[k])
        elif (expected < 5).any():
            assert got[k] == pytest.approx(stats.fisher_exact(table)[1], rel=1e-12)
        else:
            assert got[k] == pytest.approx(stats.chi2_contingency(table)[1], rel=1e-9)
    assert np.isnan(p_values(np.array([0]), np.array([10]), np.array([0]), np.array([10]))[0])


def test_cohorts_and_calendar_periods():
    # u1 is first seen in January and comes back in March; u2 is first seen in March
    rows = [("u1", "2024-01-01", "home"), ("u1", "2024-01-02", "cart"),
            ("u1", "2024-03-01", "home"), ("u1", "2024-03-02", "buy"),
            ("u2", "2024-03-01", "home"), ("u2", "2024-03-02", "cart")]
    log = _log(rows)
    cohort = drift(log, split_at="2024-02-01")
    e = cohort.edges.set_index(["source", "target"])
    # u1's whole history is in the first cohort, its March steps included
    assert e.loc[("home", "buy"), ["users_before", "users_after"]].tolist() == [1, 0]
    assert e.loc[("cart", "home"), ["users_before", "users_after"]].tolist() == [1, 0]
    assert cohort.periods == ("first seen before 2024-02-01", "first seen from 2024-02-01")
    calendar = drift(log, split_at="2024-02-01", mode="calendar")
    e = calendar.edges.set_index(["source", "target"])
    # the events of each period: u1 counts in both, and its January → March step belongs to neither
    assert e.loc[("home", "cart"), ["users_before", "users_after"]].tolist() == [1, 1]
    assert e.loc[("home", "buy"), ["users_before", "users_after"]].tolist() == [0, 1]
    assert ("cart", "home") not in e.index
    assert calendar.exposure["users"].tolist() == [1, 2] and calendar.mode == "calendar"


def test_equal_exposure_follows_everyone_for_the_window():
    # early users convert on day 20; late users on day 2; the log ends 30 days after the late start
    early = [(f"e{k}", "2024-01-01", "home") for k in range(10)] + [(f"e{k}", "2024-01-21", "buy") for k in range(10)]
    late = [(f"l{k}", "2024-03-01", "home") for k in range(10)] + [(f"l{k}", "2024-03-03", "buy") for k in range(4)]
    tail = [("z", "2024-03-20", "home"), ("z", "2024-03-31", "home")]  # first seen 11 days before the end
    log = _log(early + late + tail + [("e0", "2024-02-25", "unsub")])
    whole = drift(log, split_at="2024-02-01", goal="buy").outcomes.set_index("metric")
    assert whole.loc["conversion_rate", ["before", "after"]].tolist() == [1.0, 4 / 11]
    d = drift(log, split_at="2024-02-01", goal="buy", lost="unsub", window="14d")
    o = d.outcomes.set_index("metric")
    lost = o.loc["lost_rate"]  # the one unsubscribe is on day 55: outside every window
    assert (lost["before"], lost["after"]) == (0.0, 0.0) and np.isnan(lost["p_value"])
    assert lost["status"] == "stable" and lost["note"] == "no user in either period: no test"
    assert o.loc["conversion_rate", ["before", "after"]].tolist() == [0.0, 0.4]  # day 20 is outside 14 days
    assert o.loc["conversion_rate", "status"] == "stable"  # 0/10 vs 4/10: Fisher p = 0.087
    assert d.exposure.set_index("period")["users_left_out"].tolist() == [0, 1]  # z followed for 11 days only
    assert d.exposure["followed"].tolist() == ["first 14d", "first 14d"] and d.window == "14d"
    # inactive for 14 days by the end of their window (≥ 7d): every early user and 6 late ones dropped off
    assert o.loc["dropoff_rate", ["before", "after"]].tolist() == [1.0, 0.6]


def test_calendar_window_leaves_out_users_whose_window_crosses_the_cut():
    rows = [("a", "2024-01-01", "x"), ("a", "2024-01-05", "y"), ("b", "2024-01-25", "x"), ("b", "2024-01-26", "y"),
            ("c", "2024-02-02", "x"), ("c", "2024-02-03", "z"), ("c", "2024-03-01", "x")]
    d = drift(_log(rows), split_at="2024-02-01", mode="calendar", window="10d")
    assert d.exposure["users"].tolist() == [1, 1] and d.exposure["users_left_out"].tolist() == [1, 0]
    assert d.edges.set_index(["source", "target"])["users_after"].to_dict() == {("x", "y"): 0, ("x", "z"): 1}


def test_variants_of_either_period_are_counted_in_both():
    before = _paths("b", "2024-01-01", [["x", "y"]] * 30 + [["x", "z"]] * 5)
    after = _paths("a", "2024-03-01", [["x", "z"]] * 30 + [["x", "y"]] * 10)
    v = drift(_log(before + after), split_at="2024-02-01", top_variants=1).variants.set_index("variant")
    assert v.loc["x > y", ["users_before", "users_after"]].tolist() == [30, 10]  # not the top one after: still 10
    assert v.loc["x > z", ["users_before", "users_after"]].tolist() == [5, 30]


def test_outcomes_per_segment_and_lost():
    before = _paths("b", "2024-01-01", [["ad", "cart", "order"]] * 50 + [["ad", "cart", "unsub"]] * 10
                    + [["ad", "cart"]] * 40)
    after = _paths("a", "2024-03-01", [["ad", "cart", "order"]] * 20 + [["ad", "cart", "unsub"]] * 40
                   + [["ad", "cart"]] * 40)
    rows = before + after
    device = ["app" if r[0][1:].isdigit() and int(r[0][1:]) % 2 else "web" for r in rows]
    log = _log(rows, device=device)
    d = drift(log, split_at="2024-02-01", goal="order", lost="unsub", by="device", inactivity="30min")
    o = d.outcomes.set_index(["device", "metric"])
    assert set(o.index.get_level_values(0)) == {"app", "web"}
    assert o.loc[("web", "conversion_rate"), "users_before"] == 50
    total = o.xs("lost_rate", level="metric")[["count_before", "count_after"]].sum().tolist()
    assert total == [10, 40]
    overall = drift(log, split_at="2024-02-01", goal="order", lost="unsub",
                    inactivity="30min").outcomes.set_index("metric")
    assert overall.loc["conversion_rate", ["before", "after"]].tolist() == [0.5, 0.2]
    assert overall.loc["lost_rate", ["before", "after"]].tolist() == [0.1, 0.4]
    assert overall.loc["dropoff_rate", ["before", "after"]].tolist() == [0.4, 0.4]  # lost users are not drop-offs
    assert overall.loc["conversion_rate", "status"] == "decreased"


def test_a_segment_absent_from_one_period_says_why():
    rows = _paths("b", "2024-01-01", [["ad", "order"]] * 5) + _paths("a", "2024-03-01", [["ad"]] * 5)
    labels = {**{f"b{k}": "old" for k in range(5)}, **{f"a{k}": "new" for k in range(5)}}
    o = drift(_log(rows), split_at="2024-02-01", goal="order", by=labels).outcomes.set_index(["segment", "metric"])
    row = o.loc[("new", "conversion_rate")]
    assert np.isnan(row["before"]) and row["note"] == "no user of this segment in 'first seen before 2024-02-01'"


def test_empty_periods_and_bad_parameters_are_one_line_errors():
    log = _log([("a", "2024-01-01", "x"), ("a", "2024-01-02", "y"), ("b", "2024-01-03", "x")])
    with pytest.raises(jl.ParameterError, match="leaves the second period empty: the log ends 2024-01-03"):
        drift(log, split_at="2024-06-01", goal="y")
    with pytest.raises(jl.ParameterError, match="leaves the first period empty"):
        drift(log, split_at="2023-06-01")
    with pytest.raises(jl.ParameterError, match="without users"):  # every user is first seen before the cut
        drift(_log([("a", "2024-01-01", "x"), ("a", "2024-01-05", "y")]), split_at="2024-01-03")
    with pytest.raises(jl.ParameterError, match="window=.*leaves no user"):
        drift(log, split_at="2024-01-02", window="30d")
    for kwargs, name in (({"split_at": "now"}, "split_at"), ({"split_at": "2024-01-02", "window": 14}, "window"),
                         ({"split_at": "2024-01-02", "mode": "week"}, "mode"), ({}, "split_at"),
                         ({"split_at": "2024-01-02", "goal": "nope"}, "goal"),
                         ({"split_at": "2024-01-02", "alpha": 2}, "alpha")):
        with pytest.raises(jl.ParameterError) as info:
            drift(log, **kwargs)
        assert info.value.parameter == name and "\n" not in str(info.value)
    with pytest.raises(jl.ParameterError, match="mode applies to one log"):
        drift(log, log, mode="calendar")
    with pytest.raises(jl.ParameterError, match="not both"):
        drift(log, log, split_at="2024-01-02")


def test_simple_onlineshop_conversion_at_equal_exposure():
    path = shared_file("clickstream", "simple-onlineshop.csv.gz")
    log = jl.read_csv(path)
    # plain pandas: users by first event, their first 14 days, those followed for less left out
    df = pd.read_csv(path, parse_dates=["timestamp"])
    df["timestamp"] = df["timestamp"].dt.tz_localize("UTC")
    df = df.drop_duplicates()
    first = df.groupby("user_id")["timestamp"].min()
    goal = "payment_done"  # the last step of the shop's checkout in this log
    converted_at = df[df["event"] == goal].groupby("user_id")["timestamp"].min()
    users = pd.DataFrame({"first": first, "goal": converted_at.reindex(first.index)})
    users["after"] = users["first"] >= pd.Timestamp("2020-02-01", tz="UTC")
    window = pd.Timedelta(days=14)
    followed = users[users["first"] + window <= df["timestamp"].max()]
    converted = (followed["goal"] - followed["first"]) < window
    want = converted.groupby(followed["after"]).mean()
    assert want.round(3).tolist() == [0.121, 0.151]

    d = drift(log, split_at="2020-02-01", goal=goal, window="14d")
    conv = d.outcomes.set_index("metric").loc["conversion_rate"]
    assert conv["before"] == pytest.approx(want[False], rel=1e-12) and conv["after"] == pytest.approx(want[True], rel=1e-12)
    assert d.exposure["users_left_out"].sum() == len(users) - len(followed)
    biased = drift(log, split_at="2020-02-01", goal=goal).outcomes.set_index("metric").loc["conversion_rate"]
    naive = users["goal"].notna().groupby(users["after"]).mean()
    assert (biased["before"], biased["after"]) == pytest.approx((naive[False], naive[True]), rel=1e-12)
    assert biased["before"] > biased["after"] and conv["before"] < conv["after"]  # the bias reverses the sign
