"""Funnels: hand-computed cases, a plain-Python reference, timing from the latest and the first previous
step, lost journeys, sessions that interleave in time, and real logs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import journeylens as jl
from journeylens.mining.variants import variants
from journeylens.outcomes.funnels import funnel
from tests.conftest import minutes_log, shared_file

T0 = pd.Timestamp("2024-01-01 00:00", tz="UTC")


def _log(rows, **extra) -> jl.EventLog:
    """rows: (user, minutes after T0, event)."""
    return minutes_log(rows, **extra)


def test_closed_funnel_respects_order():
    log = _log([
        ("a", 0, "home"), ("a", 1, "cart"), ("a", 2, "buy"),    # full
        ("b", 0, "cart"), ("b", 1, "home"), ("b", 2, "buy"),    # cart before home: stops at home
        ("c", 0, "home"), ("c", 1, "buy"),                       # skips cart
        ("d", 0, "buy"),                                         # never starts
    ])
    t = funnel(log, ["home", "cart", "buy"]).to_frame()
    assert t["users"].tolist() == [3, 1, 1]
    assert t["conversion_from_start"].tolist() == pytest.approx([1.0, 1 / 3, 1 / 3])
    assert t["conversion_from_previous"].tolist() == pytest.approx([1.0, 1 / 3, 1.0])
    assert t["median_s_from_latest_previous"].tolist()[1:] == [60.0, 60.0]
    assert funnel(log, ["home", "cart", "buy"], mode="open").to_frame()["users"].tolist() == [3, 2, 4]


def test_step_groups_count_any_member():
    log = _log([("a", 0, "home"), ("a", 1, "p1"), ("b", 0, "home"), ("b", 1, "p2"), ("c", 0, "home")])
    assert funnel(log, ["home", ["p1", "p2"]]).to_frame()["users"].tolist() == [3, 2]
    assert funnel(log, ["home", ["p1", "p2"]]).to_frame()["step"].tolist() == ["home", "p1 | p2"]


def test_window_uses_the_best_attempt_not_the_first():
    # a first visits home at 0 and reaches cart only 2 h later; a second home at 100 min
    # is followed by cart within 20 min: inside a 30-minute window the journey converts
    log = _log([("a", 0, "home"), ("a", 100, "home"), ("a", 120, "cart"), ("b", 0, "home"), ("b", 45, "cart")])
    t = funnel(log, ["home", "cart"], within="30min").to_frame()
    assert t["users"].tolist() == [2, 1]
    assert t["median_s_from_latest_previous"].iloc[1] == 20 * 60
    assert t["median_s_from_first_previous"].iloc[1] == 120 * 60  # from a's first home, whatever the window
    assert funnel(log, ["home", "cart"], within="1h").to_frame()["users"].tolist() == [2, 2]


def test_timing_from_the_latest_and_the_first_previous_occurrence():
    # a views at 0, 10 and 50 min, adds to cart at 55: 5 min after the latest view, 55 after the first;
    # b views at 0 and adds at 30, then buys at 40 and 100 (the first purchase counts)
    log = _log([("a", 0, "view"), ("a", 10, "view"), ("a", 50, "view"), ("a", 55, "add"),
                ("b", 0, "view"), ("b", 30, "add"), ("b", 40, "buy"), ("b", 100, "buy"),
                ("c", 5, "add"), ("c", 6, "view")])  # c adds before viewing: no arrival at add
    t = funnel(log, ["view", "add", "buy"]).to_frame()
    assert t["users"].tolist() == [3, 2, 1]
    # medians of {5, 30} min and {55, 30} min
    assert t["median_s_from_latest_previous"].tolist()[1:] == [17.5 * 60, 10 * 60]
    assert t["median_s_from_first_previous"].tolist()[1:] == [42.5 * 60, 10 * 60]
    assert np.isnan(t["median_s_from_latest_previous"].iloc[0]) and np.isnan(t["median_s_from_first_previous"].iloc[0])


def test_ties_follow_source_order_and_a_repeated_step_needs_two_occurrences():
    log = _log([("a", 0, "home"), ("a", 0, "cart"), ("b", 0, "cart"), ("b", 0, "home")])
    assert funnel(log, ["home", "cart"]).to_frame()["users"].tolist() == [2, 1]
    twice = _log([("a", 0, "x"), ("a", 1, "x"), ("b", 0, "x")])
    assert funnel(twice, ["x", "x"]).to_frame()["users"].tolist() == [2, 1]


def test_funnel_per_session_and_by_segment():
    log = _log([
        ("a", 0, "home"), ("a", 1, "cart"), ("a", 300, "home"),       # two sessions, one converts
        ("b", 0, "home"), ("b", 1, "cart"),
    ], tier=["gold", "gold", "gold", "new", "new"])
    log = jl.sessionize(log, gap="30min")
    t = funnel(log, ["home", "cart"], per="session").to_frame()
    assert t["sessions"].tolist() == [3, 2] and t["users"].tolist() == [2, 2]
    by = funnel(log, ["home", "cart"], per="session", by="tier").to_frame()
    assert by.set_index(["tier", "step"])["sessions"].to_dict() == {
        ("gold", "home"): 2, ("gold", "cart"): 1, ("new", "home"): 1, ("new", "cart"): 1}


def test_lost_ends_the_journey_and_is_reported_per_step():
    log = _log([
        ("a", 0, "home"), ("a", 1, "cart"), ("a", 2, "declined"),                 # lost after cart
        ("b", 0, "home"), ("b", 1, "declined"), ("b", 2, "cart"), ("b", 3, "buy"),  # lost first: cart, buy void
        ("c", 0, "home"), ("c", 1, "cart"), ("c", 2, "buy"),                      # converted
        ("d", 0, "declined"), ("d", 1, "home"),                                   # lost before the funnel
    ])
    t = funnel(log, ["home", "cart", "buy"], lost="declined").to_frame()
    assert t["users"].tolist() == [3, 2, 1]
    assert t["lost"].tolist() == [2, 1, 0]  # reached the step, then lost
    assert "lost" not in funnel(log, ["home", "cart", "buy"]).to_frame()
    assert funnel(log, ["home", "cart", "buy"]).to_frame()["users"].tolist() == [4, 3, 2]
    opened = funnel(log, ["home", "cart", "buy"], lost=["declined"], mode="open").to_frame()
    assert opened["users"].tolist() == [3, 2, 1] and opened["lost"].tolist() == [2, 1, 0]
    # a lost event can itself be a step: the journey ends there, the event included
    assert funnel(log, ["home", "declined"], lost="declined").to_frame()["users"].tolist() == [3, 2]


def test_funnel_errors_are_one_line_parameter_errors():
    log = _log([("a", 0, "home")])
    for kwargs, name in (({"steps": ["home", "nope"]}, "steps"), ({"steps": []}, "steps"),
                         ({"steps": "home"}, "steps"), ({"steps": ["home"], "mode": "x"}, "mode"),
                         ({"steps": ["home"], "within": "soon"}, "within"),
                         ({"steps": ["home"], "within": 30}, "within"),
                         ({"steps": ["home"], "by": "missing"}, "by"), ({"steps": ["home"], "per": "visit"}, "per"),
                         ({"steps": ["home"], "lost": "gone"}, "lost"),
                         ({"steps": ["home"], "mode": "open", "within": "1h"}, "within")):
        with pytest.raises(jl.ParameterError) as info:
            funnel(log, **kwargs)
        assert "\n" not in str(info.value) and info.value.parameter == name


# -- sessions that interleave in time ----------------------------------------------------------

def test_interleaved_sessions_keep_their_own_order():
    """The issue's example: user a has s1 home 10:00, s2 app_open 10:01, s1 cart 10:02, s2 app_close 10:03."""
    frame = pd.DataFrame({"user": ["a"] * 4, "session": ["s1", "s2", "s1", "s2"],
                          "time": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:01", "2024-01-01 10:02",
                                                  "2024-01-01 10:03"]),
                          "event": ["home", "app_open", "cart", "app_close"]})
    log = jl.from_pandas(frame)
    t = funnel(log, ["home", "cart"], per="session").to_frame()
    assert t["sessions"].tolist() == [1, 1] and t["median_s_from_latest_previous"].iloc[1] == 120.0
    assert funnel(log, ["app_open", "app_close"], per="session").to_frame()["sessions"].tolist() == [1, 1]
    assert funnel(log, ["home", "app_close"], per="session").to_frame()["sessions"].tolist() == [1, 0]


def _interleaved(seed: int = 5, users: int = 60) -> pd.DataFrame:
    """Each user has 2–3 given sessions whose events are drawn in the same hours: they interleave."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(users):
        for s in range(rng.integers(2, 4)):
            for _ in range(rng.integers(1, 9)):
                rows.append((f"u{u}", f"u{u}-s{s}", int(rng.integers(0, 180)), str(rng.choice(list("abcd")))))
    frame = pd.DataFrame(rows, columns=["user", "session", "minute", "event"])
    frame["time"] = T0 + pd.to_timedelta(frame.pop("minute"), unit="min")
    return frame


def _greedy(sequence, steps) -> int:
    """Steps reached by the earliest matching of ``steps`` in order (a closed funnel without window)."""
    k = 0
    for event in sequence:
        if k < len(steps) and event == steps[k]:
            k += 1
    return k


def test_interleaved_sessions_agree_with_variants_and_with_sessions_as_users():
    frame = _interleaved()
    log = jl.from_pandas(frame, duplicates="keep")
    spans = frame.groupby("session")["time"].agg(["min", "max"]).join(frame.groupby("session")["user"].first())
    spans = spans.sort_values(["user", "min"])
    assert (spans.groupby("user")["min"].shift(-1) < spans["max"]).sum() > 30  # sessions really interleave
    steps = ["a", "b", "c"]
    got = funnel(log, steps, per="session").to_frame()
    # the variants kernel builds each session's sequence on its own: the funnel of those sequences
    reached = [0, 0, 0]
    for sequence, count in variants(log, per="session").to_dict().items():
        for k in range(_greedy(sequence, steps)):
            reached[k] += count
    assert got["sessions"].tolist() == reached
    # the same sessions as users of their own log (no interleaving left): identical counts and timings
    alone = funnel(jl.from_pandas(frame.assign(user=frame["session"]).drop(columns="session"), duplicates="keep"),
                   steps).to_frame()
    assert got["sessions"].tolist() == alone["users"].tolist()
    for column in ("median_s_from_latest_previous", "median_s_from_first_previous"):
        np.testing.assert_array_equal(got[column].to_numpy(), alone[column].to_numpy())


# -- real logs -------------------------------------------------------------------------------

def test_simple_onlineshop_funnels_match_the_independent_figures():
    df = pd.read_csv(shared_file("clickstream", "simple-onlineshop.csv.gz"))
    log = jl.from_pandas(df, duplicates="keep")
    assert funnel(log, ["catalog", "product1", "cart", "payment_done"]).to_frame()["users"].tolist() == [
        3611, 1122, 707, 248]
    assert funnel(log, ["catalog", ["product1", "product2"], "cart", "payment_done"]).to_frame()["users"].tolist() == [
        3611, 2010, 1257, 429]


def test_ecom_add_to_cart_comes_minutes_after_the_latest_view_and_weeks_after_the_first():
    path = shared_file("clickstream", "ecom.csv.gz")
    df = pd.read_csv(path, parse_dates=["timestamp"]).drop_duplicates()
    df = df.assign(row=np.arange(len(df))).sort_values(["user_id", "timestamp", "row"], kind="stable")
    view = df["timestamp"].where(df["event"] == "product_view")
    df["latest_view"] = view.groupby(df["user_id"]).transform(lambda s: s.ffill().shift())
    df["first_view"] = view.groupby(df["user_id"]).transform("min")
    arrivals = df[(df["event"] == "add_to_cart") & df["latest_view"].notna()].groupby("user_id").head(1)
    latest = (arrivals["timestamp"] - arrivals["latest_view"]).dt.total_seconds().median()
    first = (arrivals["timestamp"] - arrivals["first_view"]).dt.total_seconds().median()
    assert latest < 600 and first > 20 * 86_400  # 327 s against 21.7 days
    t = funnel(jl.read_csv(path), ["product_view", "add_to_cart"]).to_frame()
    assert t["users"].iloc[1] == len(arrivals) == 517
    assert t["median_s_from_latest_previous"].iloc[1] == latest
    assert t["median_s_from_first_previous"].iloc[1] == first


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 50), st.sampled_from("abc")), min_size=1, max_size=40))
def test_funnel_against_a_plain_python_reference(rows):
    """Closed funnel without window == greedy earliest matching of the steps in each user's sequence."""
    log = _log([(f"u{u}", m, e) for u, m, e in rows])
    steps = ["a", "b", "c"]
    present = [s for s in steps if s in set(log.event_names)]
    if len(present) < len(steps):
        return
    frame = log.to_pandas()
    expected = [0, 0, 0]
    for _, seq in frame.groupby("user_id", observed=True)["event"]:
        for j in range(_greedy(seq.astype(str), steps)):
            expected[j] += 1
    counts = funnel(log, steps).to_frame()["users"].to_numpy()
    assert counts.tolist() == expected
    assert (np.diff(counts) <= 0).all()
