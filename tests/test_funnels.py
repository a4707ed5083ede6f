"""Funnels, drop-offs, time to convert and roadblocks: hand-computed cases, invariants, a real log."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import journeylens as jl
from journeylens.outcomes.dropoffs import dropoffs, roadblocks, time_to_convert
from journeylens.outcomes.funnels import funnel
from tests.conftest import minutes_log, shared_file

T0 = pd.Timestamp("2024-01-01 00:00", tz="UTC")


def _log(rows, **extra) -> jl.EventLog:
    """rows: (user, minutes after T0, event)."""
    return minutes_log(rows, **extra)


# -- funnel -------------------------------------------------------------------

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
    assert t["median_time_from_previous_s"].tolist()[1:] == [60.0, 60.0]
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
    assert t["median_time_from_previous_s"].iloc[1] == 20 * 60
    assert funnel(log, ["home", "cart"], within="1h").to_frame()["users"].tolist() == [2, 2]


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


def test_funnel_errors_are_one_line():
    log = _log([("a", 0, "home")])
    for kwargs in ({"steps": ["home", "nope"]}, {"steps": []}, {"steps": ["home"], "mode": "x"},
                   {"steps": ["home"], "within": "soon"}, {"steps": ["home"], "by": "missing"}):
        with pytest.raises(jl.JourneyLensError) as info:
            funnel(log, **kwargs)
        assert "\n" not in str(info.value)


def test_simple_onlineshop_funnels_match_the_independent_figures():
    df = pd.read_csv(shared_file("clickstream", "simple-onlineshop.csv.gz"))
    log = jl.from_pandas(df, duplicates="keep")
    assert funnel(log, ["catalog", "product1", "cart", "payment_done"]).to_frame()["users"].tolist() == [
        3611, 1122, 707, 248]
    assert funnel(log, ["catalog", ["product1", "product2"], "cart", "payment_done"]).to_frame()["users"].tolist() == [
        3611, 2010, 1257, 429]


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
        k = 0
        for ev in seq.astype(str):
            if k < 3 and ev == steps[k]:
                k += 1
        for j in range(k):
            expected[j] += 1
    assert funnel(log, steps).to_frame()["users"].tolist() == expected
    counts = funnel(log, steps).to_frame()["users"].to_numpy()
    assert (np.diff(counts) <= 0).all()


# -- drop-offs and censoring -----------------------------------------------------

DAY = 24 * 60


def _journeys():
    return _log([
        ("a", 0, "home"), ("a", 60, "cart"), ("a", 120, "buy"),            # converted
        ("b", 0, "home"), ("b", 60, "cart"),                               # left at cart 20 days before the end
        ("c", 0, "home"), ("c", DAY, "reviews"),                           # left at reviews
        ("d", 0, "home"), ("d", 18 * DAY, "cart"),                         # active 3 days before the end: censored
        ("e", 21 * DAY, "home"),                                           # the last event of the log
    ], stage=["aware", "decide", "decide", "aware", "decide", "aware", "consider", "aware", "decide", "aware"])


def test_dropoffs_never_count_censored_customers():
    d = dropoffs(_journeys(), goal="buy", inactivity="7d")
    summary = d.summary.iloc[0]
    assert (summary["users"], summary["converted"], summary["dropped_off"], summary["censored"]) == (5, 1, 2, 2)
    assert d.to_frame()[["event", "stage", "users", "rank"]].values.tolist() == [
        ["cart", "decide", 1, 1], ["reviews", "consider", 1, 2]]
    assert d.to_frame()["share_of_dropoffs"].tolist() == [0.5, 0.5]
    # with a shorter inactivity threshold d's 3 quiet days count as leaving
    assert dropoffs(_journeys(), goal="buy", inactivity="2d").summary["dropped_off"].iloc[0] == 3


def test_observation_end_hides_later_events():
    d = dropoffs(_journeys(), goal="buy", observation_end=T0 + pd.Timedelta(minutes=90), inactivity="1h")
    # at 01:30, a (cart at 01:00) has not converted yet and was active 30 min ago: censored
    s = d.summary.iloc[0]
    assert (s["users"], s["converted"], s["dropped_off"], s["censored"]) == (4, 0, 2, 2)


def test_time_to_convert_matches_a_hand_kaplan_meier():
    # conversions after 1 and 2 days, one customer censored at 1.5 days, one conversion at 3 days
    log = _log([
        ("a", 0, "home"), ("a", DAY, "buy"),
        ("b", 0, "home"), ("b", 2 * DAY, "buy"),
        ("c", 1.5 * DAY, "home"),  # first touch 1.5 days before the end (d's purchase at 3 days)
        ("d", 0, "home"), ("d", 3 * DAY, "buy"),
    ])
    r = time_to_convert(log, "buy")
    curve = r.to_frame().set_index("time_s")
    assert curve.loc[86400.0, "cumulative_conversion"] == pytest.approx(0.25)
    # c is censored at 1.5 days: at 2 days 2 remain at risk → S = 0.75 · 0.5
    assert curve.loc[2 * 86400.0, "cumulative_conversion"] == pytest.approx(1 - 0.375)
    assert curve.loc[2 * 86400.0, "at_risk"] == 2
    assert curve.loc[3 * 86400.0, "cumulative_conversion"] == pytest.approx(1.0)
    assert r.medians["median_s"].iloc[0] == 2 * 86400.0


def test_time_to_convert_median_is_nan_when_most_never_convert():
    log = _log([("a", 0, "buy"), ("b", 0, "home"), ("c", 0, "home"), ("c", 10, "home")])
    assert np.isnan(time_to_convert(log, "buy").medians["median_s"].iloc[0])


def test_roadblock_signals_on_a_hand_built_log():
    rows = []
    # 30 users pass pay (slow, often followed by an error, repeated), a third of them leave there;
    # 30 users go through browse quickly and buy
    for i in range(30):
        u = f"p{i}"
        rows += [(u, 0, "browse"), (u, 1, "pay"), (u, 31, "pay_error"), (u, 32, "pay")]
        if i % 3:
            rows.append((u, 62, "buy"))
    for i in range(30):
        rows += [(f"q{i}", 0, "browse"), (f"q{i}", 1, "buy")]
    rows.append(("z", 60 * DAY, "browse"))  # moves the end of observation far away
    r = roadblocks(_log(rows), goal="buy", min_users=10).to_frame()
    top = r.iloc[0]
    assert top["event"] == "pay" and top["rank"] == 1
    assert top["exit_rate"] == pytest.approx(10 / 30)
    assert top["attempts_per_user"] == 2.0
    assert top["error_follow_share"] == pytest.approx(0.5)
    assert "buy" not in set(r["event"])


def test_goal_must_be_an_event():
    with pytest.raises(jl.JourneyLensError, match="goal"):
        dropoffs(_journeys(), goal="purchase")
